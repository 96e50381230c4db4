//! The JSON-RPC request envelope read by hand (`src/jsonrpc/envelope.rs`)
//! on any bytes: it never panics, and whatever it reads, serde reads the
//! same (it leaves everything else to serde).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa::jsonrpc::envelope_read_as_serde_reads;

fuzz_target!(|body: &[u8]| {
    assert!(
        envelope_read_as_serde_reads(body),
        "read by hand otherwise than serde reads it"
    );
});
