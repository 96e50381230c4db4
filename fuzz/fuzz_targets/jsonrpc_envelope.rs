//! The JSON-RPC request envelope and its params read by hand
//! (`src/jsonrpc/envelope.rs`, `src/jsonrpc/plain_params.rs`) on any
//! bytes: they never panic, and whatever they read, serde reads the same
//! (they leave everything else to serde).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa::jsonrpc::{envelope_read_as_serde_reads, params_read_as_serde_reads};

fuzz_target!(|body: &[u8]| {
    assert!(
        envelope_read_as_serde_reads(body),
        "read by hand otherwise than serde reads it"
    );
    // The params reader on its own, where any bytes reach it (inside an
    // envelope only bodies of the common shape do).
    assert!(
        params_read_as_serde_reads(body),
        "params read by hand otherwise than serde reads them"
    );
});
