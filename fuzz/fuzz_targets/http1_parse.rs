//! The call loop's HTTP/1.1 framing (`src/http1.rs`) on any bytes: it
//! never panics, and a call or partial head it finds is what httparse,
//! hyper's parser, finds in the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa::http1::parse_agrees_with_httparse;

fuzz_target!(|request: &[u8]| {
    assert!(
        parse_agrees_with_httparse(request),
        "framed otherwise than httparse reads it"
    );
});
