//! The built binary on the wire: XML-RPC and JSON-RPC requests against a
//! real `rpa-mfa serve`, started on a free port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use serde_json::{json, Value as Json};

mod common;
use common::remote_text::{member, run_keyword_xml, xml_string};
use common::{post_jsonrpc, post_xml, rpa_mfa, run_with_stdin, Log, Server, Spawn};

/// pyotp 2.12's codes for this secret: counter 0, 1 (shared vectors).
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const HOTP_0: &str = "702218";
const HOTP_1: &str = "503347";

/// `rpa-mfa serve` with a vault holding `mfa.otp = SECRET`, logging at
/// info into a pipe; checks the exact ready line.
fn start(extra: &[&str]) -> Server {
    let server = Spawn::serve()
        .vault(json!({"mfa": {"otp": SECRET}}))
        .args(extra)
        .env("RPA_MFA_LOG", "info")
        .log(Log::Piped)
        .start();
    assert_eq!(
        server.ready_line,
        format!(
            "Robot Framework remote server at 127.0.0.1:{} started.",
            server.port
        )
    );
    server
}

/// Checks that a normal call still gets the right code.
async fn assert_still_serving(server: &Server) {
    let answer = server
        .run_keyword_xml("/RPC2", "Get Counter Based OTP", &["0", SECRET])
        .await;
    assert_eq!(member(&answer, "return").as_deref(), Some(HOTP_0));
}

/// A `run_keyword` call with named arguments only.
fn run_keyword_xml_kwargs(name: &str, kwargs: &[(&str, &str)]) -> String {
    let members: String = kwargs
        .iter()
        .map(|(k, v)| format!("<member><name>{k}</name>{}</member>", xml_string(v)))
        .collect();
    format!(
        "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>\
         <param>{}</param><param><value><array><data></data></array></value></param>\
         <param><value><struct>{members}</struct></value></param></params></methodCall>",
        xml_string(name)
    )
}

async fn jsonrpc(client: &reqwest::Client, server: &Server, method: &str, params: Json) -> Json {
    post_jsonrpc(client, &server.url("/jsonrpc"), method, params).await
}

#[tokio::test]
async fn xmlrpc_on_root_and_rpc2_and_namespaces() {
    let server = start(&[]);
    for path in ["/", "/RPC2"] {
        let answer = server
            .run_keyword_xml(path, "Get Counter Based OTP", &["0", SECRET])
            .await;
        assert_eq!(
            member(&answer, "status").as_deref(),
            Some("PASS"),
            "{answer}"
        );
        assert_eq!(member(&answer, "return").as_deref(), Some(HOTP_0));
    }
    // The default namespace now has a secret; a fresh namespace does not.
    let answer = server
        .run_keyword_xml("/ns/suite%20a", "Get Counter Based OTP", &["1"])
        .await;
    assert_eq!(member(&answer, "status").as_deref(), Some("FAIL"));
    assert!(member(&answer, "error")
        .unwrap()
        .starts_with("HOTPNotSetError: "));
    let answer = server
        .run_keyword_xml("/RPC2", "Get Counter Based OTP", &["1"])
        .await;
    assert_eq!(member(&answer, "return").as_deref(), Some(HOTP_1));
}

/// `GET /` is the keyword page; `POST /` stays XML-RPC (checked above).
#[tokio::test]
async fn get_root_is_the_keyword_page() {
    let server = start(&[]);
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    let page = response.text().await.unwrap();
    for name in [
        "Use MFA Secret From Vault",
        "Set Time Based OTP",
        "Set Counter Based OTP",
        "Get Time Based OTP",
        "Get Counter Based OTP",
        "Stop Remote Server",
    ] {
        assert!(page.contains(&format!("data-name=\"{name}\"")), "{name}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn library_information_has_dunders_types_and_defaults() {
    let server = start(&[]);
    let client = reqwest::Client::new();
    let body = "<?xml version='1.0'?><methodCall><methodName>get_library_information</methodName><params></params></methodCall>";
    let answer = post_xml(&client, &server.url("/RPC2"), body.into()).await;
    for needle in [
        "<name>__intro__</name>",
        "<name>__init__</name>",
        "<name>Get Time Based OTP</name>",
        "<name>otp_passcode</name><value><string>str | None</string>",
        "<value><string>min_validity</string></value><value><int>0</int></value>",
        "<name>return</name><value><string>str</string>",
    ] {
        assert!(answer.contains(needle), "missing {needle}");
    }
}

#[tokio::test]
async fn bad_requests_get_faults_and_the_server_keeps_serving() {
    let server = start(&[]);
    let client = reqwest::Client::new();
    let cases = [
        ("<methodCall><methodName>", "-32700"),
        ("\u{0}garbage", "-32700"),
        (
            "<methodCall><methodName>no_such</methodName></methodCall>",
            "-32601",
        ),
        (
            "<methodCall><methodName>run_keyword</methodName></methodCall>",
            "-32602",
        ),
    ];
    for (body, code) in cases {
        let answer = post_xml(&client, &server.url("/RPC2"), body.into()).await;
        assert!(
            answer.contains("<fault>") && answer.contains(&format!("<int>{code}</int>")),
            "{answer}"
        );
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn oversized_requests_are_refused_before_parsing() {
    let server = start(&[]);
    let huge = run_keyword_xml("Set Time Based OTP", &[&"A".repeat(5 * 1024 * 1024)]);
    let response = reqwest::Client::new()
        .post(server.url("/RPC2"))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn keyword_failures_never_echo_the_secret() {
    let server = start(&[]);
    let bad = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&digits=12";
    let answer = server
        .run_keyword_xml("/RPC2", "Set Time Based OTP", &[bad])
        .await;
    assert_eq!(member(&answer, "status").as_deref(), Some("FAIL"));
    assert_eq!(
        member(&answer, "error").as_deref(),
        Some("ValueError: digits must be 6, 7 or 8, got 12.")
    );
    assert!(!answer.contains("JBSWY3DP"));
}

#[tokio::test]
async fn jsonrpc_positional_and_named_with_namespace() {
    let server = start(&[]);
    let client = reqwest::Client::new();
    let positional = jsonrpc(
        &client,
        &server,
        "run_keyword",
        json!(["Get Counter Based OTP", ["0", SECRET]]),
    )
    .await;
    assert_eq!(positional["result"]["status"], "PASS", "{positional}");
    assert_eq!(positional["result"]["return"], HOTP_0);

    let set = json!({"name": "Set Counter Based OTP", "args": [SECRET], "namespace": "bot-1"});
    assert_eq!(
        jsonrpc(&client, &server, "run_keyword", set).await["result"]["status"],
        "PASS"
    );
    // A counter beyond 2^31 as a JSON number.
    let get =
        json!({"name": "Get Counter Based OTP", "kwargs": {"counter": 1}, "namespace": "bot-1"});
    assert_eq!(
        jsonrpc(&client, &server, "run_keyword", get).await["result"]["return"],
        HOTP_1
    );
    let other = json!({"name": "Get Counter Based OTP", "args": [1], "namespace": "bot-2"});
    let failed = jsonrpc(&client, &server, "run_keyword", other).await;
    assert_eq!(failed["result"]["status"], "FAIL");

    let names = jsonrpc(&client, &server, "get_keyword_names", json!([])).await;
    assert!(names["result"]
        .as_array()
        .unwrap()
        .contains(&json!("Use MFA Secret From Vault")));
    let unknown = jsonrpc(&client, &server, "no_such_method", json!([])).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let bad = jsonrpc(
        &client,
        &server,
        "run_keyword",
        json!({"name": "X", "bogus": 1}),
    )
    .await;
    assert_eq!(bad["error"]["code"], -32602);

    // Binding happens on the server, with Robot's messages.
    let unexpected = json!(["Get Counter Based OTP", [1], {"digits": 8}]);
    let failed = jsonrpc(&client, &server, "run_keyword", unexpected).await;
    assert_eq!(
        failed["result"]["error"],
        "ValueError: Keyword 'Get Counter Based OTP' got unexpected named argument 'digits'."
    );
    let missing = jsonrpc(
        &client,
        &server,
        "run_keyword",
        json!(["Get Counter Based OTP"]),
    )
    .await;
    assert_eq!(
        missing["result"]["error"],
        "ValueError: Keyword 'Get Counter Based OTP' expected 1 to 2 arguments, got 0."
    );

    // Malformed JSON gets a JSON-RPC parse error, and the server keeps serving.
    let response = client
        .post(server.url("/jsonrpc"))
        .header("Content-Type", "application/json")
        .body("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")
        .send()
        .await
        .unwrap();
    let parsed: Json = response.json().await.unwrap();
    assert_eq!(parsed["error"]["code"], -32700, "{parsed}");
    let names = jsonrpc(&client, &server, "get_keyword_names", json!([])).await;
    assert!(names["result"].is_array());
}

/// Reference codes from pyotp 2.12 and the RFCs (keywords/tests/vectors,
/// copied from the shared vectors), never from rpa-mfa itself.
fn vectors(name: &str) -> Json {
    let path = format!(
        "{}/keywords/tests/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Two namespaces with different secrets, many concurrent calls that do
/// not pass the secret: each must answer with its own secret's codes (a
/// secret leaking from one namespace to the other would give the other's).
#[tokio::test]
async fn namespaces_keep_their_secrets_under_concurrent_calls() {
    let pyotp = vectors("pyotp_golden.json");
    let rfc = vectors("rfc_vectors.json");
    let strings = |list: &Json| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let rfc4226 = &rfc["hotp_rfc4226"];
    let rfc_hotp: Vec<String> = rfc4226["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["otp_6"].as_str().unwrap().to_owned())
        .collect();
    // RFC 6238's SHA1 vector at T = 1111111109, and pyotp's code then.
    let rfc_totp = rfc["totp_rfc6238"]["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["unix_time"] == 1111111109 && v["algorithm"] == "SHA1")
        .unwrap()["otp_6_derived"]
        .as_str()
        .unwrap()
        .to_owned();
    let namespaces = [
        (
            "/ns/team-a",
            pyotp["secret"].as_str().unwrap().to_owned(),
            strings(&pyotp["hotp_counter_0_19"]),
            pyotp["totp_at"]["1111111109"].as_str().unwrap().to_owned(),
        ),
        (
            "/ns/team-b",
            rfc4226["secret_base32"].as_str().unwrap().to_owned(),
            rfc_hotp,
            rfc_totp,
        ),
    ];
    let server = start(&[]);
    for (path, secret, _, _) in &namespaces {
        for keyword in ["Set Counter Based OTP", "Set Time Based OTP"] {
            let answer = server.run_keyword_xml(path, keyword, &[secret]).await;
            assert_eq!(member(&answer, "status").as_deref(), Some("PASS"));
        }
    }
    let client = reqwest::Client::new();
    let calls = (0..80).map(|i| {
        let (path, _, hotp, totp) = &namespaces[i % 2];
        let client = client.clone();
        let url = server.url(path);
        // Alternating HOTP and TOTP, over the counters both lists hold.
        let (body, expected) = if i % 4 < 2 {
            let counter = (i / 4) % 10;
            let body = run_keyword_xml("Get Counter Based OTP", &[&counter.to_string()]);
            (body, hotp[counter].clone())
        } else {
            let body = run_keyword_xml_kwargs("Get Time Based OTP", &[("at", "1111111109")]);
            (body, totp.clone())
        };
        async move {
            let answer = post_xml(&client, &url, body).await;
            assert_eq!(member(&answer, "return"), Some(expected), "{url}: {answer}");
            String::new()
        }
    });
    futures_join_all(calls).await;
    // The default namespace was never given a secret.
    let answer = server
        .run_keyword_xml("/RPC2", "Get Counter Based OTP", &["0"])
        .await;
    assert!(member(&answer, "error")
        .unwrap()
        .starts_with("HOTPNotSetError: "));
}

async fn futures_join_all<F: std::future::Future<Output = String> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<String> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[test]
fn sigterm_lets_a_call_in_flight_finish() {
    let server = start(&[]);
    let body = run_keyword_xml("Get Counter Based OTP", &["0", SECRET]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // "100 Continue" means the server has accepted the connection and its
    // handler is reading the body: the call is in flight.
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 100"), "{status}");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    // Now the server is told to stop...
    let port_file = server.port_file();
    let mut server = server;
    let mut stderr = BufReader::new(server.child.stderr.take().unwrap());
    server.sigterm();
    let mut line = String::new();
    while !line.contains("stopping") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server logs that it is stopping"
        );
    }
    // ...and once the rest arrives it still gets its answer.
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    reader.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(member(&answer, "return").as_deref(), Some(HOTP_0));
    let (last, status) = server.wait_stopped();
    assert!(status.success());
    assert_eq!(
        last,
        format!(
            "Robot Framework remote server at 127.0.0.1:{} stopped.",
            server.port
        )
    );
    assert!(!port_file.exists(), "the port file is removed on stop");
}

/// A keyword runs to the end even when its client hangs up mid-call (as
/// Robot's Remote does at its timeout): `Use MFA Secret From Vault` reads a
/// vault that answers only after the client is gone and the server has
/// closed its connection, and the secret it sets is there afterwards. Were
/// the keyword not run in its own task, closing the connection would drop
/// it before the vault answered and the secret would never be set.
#[test]
fn a_keyword_whose_client_hung_up_still_completes() {
    let server = start(&[]);
    // The vault file becomes a FIFO: reading it waits for this test.
    let vault = server.dir().join("secrets.json");
    std::fs::remove_file(&vault).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&vault)
        .status()
        .unwrap()
        .success());

    let body = run_keyword_xml("Use MFA Secret From Vault", &["mfa", "otp", "COUNTER"]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /ns/hung-up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Opening the FIFO returns once the server opened it to read: the
    // keyword is in flight, waiting for the vault.
    let (opened, writer) = std::sync::mpsc::channel();
    let fifo = vault.clone();
    std::thread::spawn(move || {
        let _ = opened.send(std::fs::OpenOptions::new().write(true).open(fifo));
    });
    let mut writer = writer
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the keyword reads the vault")
        .unwrap();
    // The client hangs up; the server closes the connection without an answer.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer); // EOF or a reset: closed either way
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // Only now does the vault answer.
    writer
        .write_all(json!({"mfa": {"otp": SECRET}}).to_string().as_bytes())
        .unwrap();
    drop(writer);

    // The secret the abandoned call set is there (the write follows the
    // vault read by microseconds; a bounded retry covers them).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let answer = loop {
        let answer = runtime.block_on(server.run_keyword_xml(
            "/ns/hung-up",
            "Get Counter Based OTP",
            &["0"],
        ));
        if member(&answer, "status").as_deref() == Some("PASS")
            || std::time::Instant::now() > deadline
        {
            break answer;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(
        member(&answer, "return").as_deref(),
        Some(HOTP_0),
        "the keyword was cancelled with its connection: {answer}"
    );
    // Clients that hang up right after sending do not disturb the server.
    for _ in 0..20 {
        let body = run_keyword_xml("Get Counter Based OTP", &["1"]);
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(
            stream,
            "POST /ns/hung-up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        stream.shutdown(std::net::Shutdown::Both).unwrap();
    }
    let answer =
        runtime.block_on(server.run_keyword_xml("/ns/hung-up", "Get Counter Based OTP", &["1"]));
    assert_eq!(
        member(&answer, "return").as_deref(),
        Some(HOTP_1),
        "{answer}"
    );
}

#[tokio::test]
async fn stop_remote_server_needs_allow_stop() {
    let client = reqwest::Client::new();
    let stop = "<methodCall><methodName>stop_remote_server</methodName></methodCall>".to_owned();

    let refusing = start(&[]);
    let answer = post_xml(&client, &refusing.url("/RPC2"), stop.clone()).await;
    assert!(answer.contains("<boolean>0</boolean>"), "{answer}");
    let answer = refusing
        .run_keyword_xml("/RPC2", "Stop Remote Server", &[])
        .await;
    assert!(member(&answer, "output").unwrap().starts_with("*WARN* "));
    let (last, status) = refusing.terminate();
    assert!(status.success() && last.ends_with("stopped."));

    let mut allowing = start(&["--allow-stop"]);
    let answer = post_xml(&client, &allowing.url("/RPC2"), stop).await;
    assert!(answer.contains("<boolean>1</boolean>"), "{answer}");
    let (last, status) = allowing.wait_stopped();
    assert!(status.success() && last.ends_with("stopped."), "{last}");
}

#[test]
fn secret_flag_preloads_every_namespace_and_bad_ones_refuse_to_start() {
    let server = start(&["--secret", "mfa:otp", "--mode", "counter"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let answer = server
            .run_keyword_xml("/ns/x", "Get Counter Based OTP", &["1"])
            .await;
        assert_eq!(member(&answer, "return").as_deref(), Some(HOTP_1));
    });
    drop(server);

    let output = rpa_mfa()
        .args([
            "serve", "--port", "0", "--vault", "env:", "--secret", "nope:key",
        ])
        .env("RPA_MFA_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("KeyError: 'Undefined secret: nope'"),
        "{stderr}"
    );
}

/// Runs the command line with `stdin` as its input; returns stdout and stderr.
fn cli(args: &[&str], stdin: &str) -> (String, String) {
    let output = run_with_stdin(rpa_mfa().args(args), stdin);
    assert!(output.status.success(), "rpa-mfa {args:?} failed");
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim().to_owned();
    (text(output.stdout), text(output.stderr))
}

#[test]
fn otp_command_matches_oathtool_reference() {
    // oathtool --totp -b -N '2020-01-01 00:00:00 UTC' JBSWY3DPEHPK3PXP prints 646738.
    let args = [
        "otp",
        "JBSWY3DPEHPK3PXP",
        "--time",
        "2020-01-01 00:00:00 UTC",
    ];
    assert_eq!(cli(&args, "").0, "646738");
    // RFC 4226 counter 5, secret from standard input.
    let from_stdin = cli(
        &["otp", "-", "--counter", "5"],
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
    );
    assert_eq!(from_stdin.0, "254676");
}

#[test]
fn vault_command_writes_atomically_readable_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("file:{}", dir.path().join("s.yaml").display());
    let (_, stderr) = cli(&["vault", "--vault", &spec, "set", "mfa", "otp"], SECRET);
    assert!(!stderr.contains(SECRET));
    assert_eq!(
        cli(&["vault", "--vault", &spec, "get", "mfa", "otp"], "").0,
        SECRET
    );
    let otp = [
        "otp",
        "--vault",
        &spec,
        "--from-vault",
        "mfa:otp",
        "--counter",
        "0",
    ];
    assert_eq!(cli(&otp, "").0, HOTP_0);
}

/// Even at trace level (where jsonrpsee would log whole requests) the log
/// holds no secret, no code and no credential header.
#[tokio::test]
async fn trace_logs_hold_no_secret_code_or_credentials() {
    let mut server = start(&["--log", "trace"]);
    let answer: serde_json::Value = reqwest::Client::new()
        .post(server.url("/jsonrpc"))
        .header("Authorization", "Bearer token-that-must-not-be-logged")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "run_keyword",
                      "params": {"name": "Get Counter Based OTP", "args": ["1", SECRET]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["result"]["return"], HOTP_1);
    assert_still_serving(&server).await;
    server.sigterm();
    server.wait_stopped();
    let mut log = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    // jsonrpsee still logs, at debug: its trace lines dump whole requests.
    assert!(log.contains("DEBUG jsonrpsee"), "{log}");
    for secret in [SECRET, HOTP_0, HOTP_1, "token-that-must-not-be-logged"] {
        assert!(!log.contains(secret), "{secret} is in the trace log");
    }
}
