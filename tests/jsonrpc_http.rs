//! JSON-RPC over plain HTTP: one call of a remote method is answered by
//! the server's direct path, everything else by jsonrpsee. The direct
//! answers are checked against jsonrpsee's own, byte for byte: the same
//! call sent as a one-element batch is answered by jsonrpsee.

mod common;

use common::{Log, Spawn};
use reqwest::header::CONTENT_TYPE;

/// RFC 4226 Appendix D: "12345678901234567890" in base32, and its HOTP
/// codes for counters 0 and 1.
const RFC4226_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC4226_HOTP_1: &str = "287082";

/// POSTs `body` to `/jsonrpc`; returns the status, content type and text.
async fn post(port: u16, body: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/jsonrpc"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn direct_answers_are_jsonrpsees_byte_for_byte() {
    let server = Spawn::serve().start();
    let calls = [
        r#"{"jsonrpc":"2.0","id":1,"method":"get_keyword_names"}"#.to_owned(),
        // Escapes (in the id: direct; in the method: jsonrpsee), unknown members.
        r#"{"jsonrpc":"2.0","id":"\u0041\n","method":"get_keyword_names","x":[1]}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":"\u0041","method":"get_keyword_name\u0073"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":"a \"quoted\" id","method":"get_keyword_names","params":[]}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","id":null,"method":"get_keyword_documentation","params":["__intro__"]}"#
            .to_owned(),
        r#"{"method":"get_keyword_arguments","params":{"name":"Get Counter Based OTP"},"id":18446744073709551615,"jsonrpc":"2.0"}"#
            .to_owned(),
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"run_keyword","params":["Get Counter Based OTP",["1","{RFC4226_SECRET}"]]}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"run_keyword","params":{{"name":"Get Counter Based OTP","kwargs":{{"counter":1,"otp_passcode":"{RFC4226_SECRET}"}},"namespace":"bot-a"}}}}"#
        ),
        // A keyword failing is a result; bad params are errors.
        r#"{"jsonrpc":"2.0","id":4,"method":"run_keyword","params":["Get Time Based OTP",["not base32!"]]}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","id":5,"method":"run_keyword","params":{"bogus":1}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":6,"method":"run_keyword","params":["Get Time Based OTP",[1e999]]}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"run_keyword","params":"text"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":8,"method":"run_keyword","params":{"name":"K","namespace":"a\u0000b"}}"#
            .to_owned(),
    ];
    for call in &calls {
        let (status, kind, direct) = post(server.port, call).await;
        let (batch_status, batch_kind, batch) = post(server.port, &format!("[{call}]")).await;
        assert_eq!((status, &kind), (batch_status, &batch_kind), "{call}");
        assert_eq!(format!("[{direct}]"), batch, "{call}");
    }
    // The codes themselves, from RFC 4226 (not from the server).
    let (_, _, answer) = post(server.port, &calls[6]).await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["result"]["return"], RFC4226_HOTP_1, "{answer}");
    let (_, _, answer) = post(server.port, &calls[7]).await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["result"]["return"], RFC4226_HOTP_1, "{answer}");
}

/// What the direct path does not take still gets jsonrpsee's answers.
#[tokio::test]
async fn everything_else_is_still_jsonrpsees() {
    let server = Spawn::serve().start();
    let error_code = |text: &str| -> i64 {
        let answer: serde_json::Value = serde_json::from_str(text).unwrap();
        answer["error"]["code"].as_i64().unwrap()
    };
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"no_such_method"}"#,
            -32601,
        ),
        // jsonrpsee's answer to a subscription over plain HTTP.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"subscribe_totp"}"#,
            -32603,
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":"#, -32700),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"get_keyword_names"}"#,
            -32600,
        ),
        // An id that is not a string, integer or null: our own -32600.
        (
            r#"{"jsonrpc":"2.0","id":[1],"method":"get_keyword_names"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":-1,"method":"get_keyword_names"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"get_keyword_names"}"#,
            -32600,
        ),
    ];
    for (body, code) in cases {
        let (status, _, answer) = post(server.port, body).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(error_code(&answer), code, "{body}: {answer}");
    }
    // A batch of two: both answered.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"get_keyword_names"}"#;
    let (_, _, answer) = post(server.port, &format!("[{call},{call}]")).await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer.as_array().unwrap().len(), 2, "{answer}");
    // Not JSON's content type: jsonrpsee's 415, as before.
    let response = reqwest::Client::new()
        .post(server.url("/jsonrpc"))
        .header(CONTENT_TYPE, "text/plain")
        .body(call)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

/// The direct path is the one taken: jsonrpsee logs each request it
/// handles at debug level; a single call leaves no such line, a batch does.
#[tokio::test]
async fn a_single_call_does_not_go_through_jsonrpsee() {
    let server = Spawn::serve()
        .env("RPA_MFA_LOG", "debug")
        .log(Log::File)
        .start();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"get_keyword_names"}"#;
    let (status, _, _) = post(server.port, call).await;
    assert_eq!(status, 200);
    assert!(!server.log().contains("jsonrpsee"), "{}", server.log());
    post(server.port, &format!("[{call}]")).await;
    assert!(server.log().contains("jsonrpsee"), "{}", server.log());
}
