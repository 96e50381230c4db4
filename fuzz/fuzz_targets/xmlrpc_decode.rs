//! The XML-RPC decoder on any bytes, as a hostile client could send them:
//! it never panics, it answers exactly as quick_xml alone would (the
//! streaming reader of plain calls changes no answer, value or error), and
//! every value it decodes survives the encoder and the decoder again (what
//! the server answers, Python's client can send back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpa_mfa::remote::xmlrpc::{
    decode_call, decode_call_with_quick_xml, encode_fault, encode_response,
};
use rpa_mfa_keywords::Value;

fuzz_target!(|body: &[u8]| {
    let decoded = decode_call(body);
    // Debug text, so that a NaN compares equal to itself.
    assert_eq!(
        format!("{decoded:?}"),
        format!("{:?}", decode_call_with_quick_xml(body)),
        "the streaming reader and quick_xml differ"
    );
    let Ok(call) = decoded else {
        return;
    };
    // Faults repeat the method name; any name must encode.
    let fault = encode_fault(-32601, &call.method);
    assert!(decode_response(&fault).is_some(), "fault does not decode");
    for value in &call.params {
        let again = decode_response(&encode_response(value)).expect("response decodes");
        if survives_xml(value) {
            assert_eq!(&again, value);
        }
    }
});

/// Reads a `methodResponse` with the request decoder: the value inside is
/// encoded exactly as a request's parameter would be.
fn decode_response(xml: &str) -> Option<Value> {
    let as_call = xml
        .replacen(
            "<methodResponse>",
            "<methodCall><methodName>x</methodName>",
            1,
        )
        .replacen("</methodResponse>", "</methodCall>", 1)
        .replacen("<fault>", "<params><param>", 1)
        .replacen("</fault>", "</param></params>", 1);
    decode_call(as_call.as_bytes()).ok()?.params.pop()
}

/// Whether a value comes back equal: NaN never equals itself, strings
/// holding characters XML cannot carry go as base64 (and come back as
/// bytes), and such characters in member names are replaced.
fn survives_xml(value: &Value) -> bool {
    let xml_text = |s: &str| s.chars().all(xml_char);
    match value {
        Value::Float(x) => !x.is_nan(),
        Value::Str(s) => xml_text(s),
        Value::List(items) => items.iter().all(survives_xml),
        Value::Dict(map) => map.iter().all(|(k, v)| xml_text(k) && survives_xml(v)),
        _ => true,
    }
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
