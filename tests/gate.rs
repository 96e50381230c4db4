//! The authorization gate on the wire: a pinned user tried on every entry
//! point (XML-RPC, JSON-RPC over HTTP, JSON-RPC over a real WebSocket,
//! the live-code subscription), vaults behind `--vault-allow`, the
//! server's own secrets out of reach, credentials kept out of the log,
//! the failed-login limiter and the smaller protocol findings of issue 8.
//! Every case runs against the built binary on a free port.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod common;
use common::remote_text::{member, run_keyword_xml};
use common::{post_jsonrpc, post_xml, ws_call, Log, Server, Spawn, WsSocket};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// pyotp 2.12: `pyotp.HOTP(SECRET).at(0)`.
const HOTP_0: &str = "702218";
const ALICE: (&str, &str) = ("alice", "alice-pw-Q7vX2kRm");
/// Pinned to `teamA`.
const BOT: (&str, &str) = ("bot7", "bot7-pw-Lp4wZc9T");
/// Pinned to `teamC`.
const CAROL: (&str, &str) = ("carol", "carol-pw-Zr5mKx2N");
/// A bearer token of the unpinned user `dash`.
const DASH_TOKEN: &str = "dash-token-Vb6yTj1Rk0";

/// Starts `rpa-mfa serve` with authentication on (alice; bot7 pinned
/// to teamA; carol pinned to teamC; dash with a token) and `extra`.
fn start(extra: &[&str]) -> Server {
    let secrets = json!({
        "mfa": {"otp": SECRET},
        "rpa-users": {ALICE.0: ALICE.1, BOT.0: BOT.1, CAROL.0: CAROL.1},
        "rpa-tokens": {"dash": DASH_TOKEN},
    });
    let auth = [
        "--users-secret",
        "rpa-users",
        "--tokens-secret",
        "rpa-tokens",
        "--pin",
        "bot7=teamA",
        "--pin",
        "carol=teamC",
    ];
    spawn(secrets, auth.iter().chain(extra))
}

/// Starts `rpa-mfa serve` without authentication.
fn start_open() -> Server {
    spawn(json!({"mfa": {"otp": SECRET}}), [].iter())
}

/// The server's log goes to a file, at the default level whatever the
/// environment says.
fn spawn<'a>(secrets: Json, args: impl Iterator<Item = &'a &'a str>) -> Server {
    Spawn::serve()
        .vault(secrets)
        .args(args)
        .env_remove("RPA_MFA_LOG")
        .log(Log::File)
        .start()
}

/// A client that sends `authorization` with every request.
fn client_as(authorization: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("Authorization", authorization.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

fn basic((user, password): (&str, &str)) -> String {
    basic_raw(&format!("{user}:{password}"))
}

fn basic_raw(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Posts XML-RPC as `authorization` and returns the response text.
async fn xmlrpc(server: &Server, path: &str, authorization: &str, body: String) -> String {
    post_xml(&client_as(authorization), &server.url(path), body).await
}

/// A JSON-RPC request over HTTP as `authorization`; the parsed answer.
async fn jsonrpc(server: &Server, authorization: &str, method: &str, params: Json) -> Json {
    post_jsonrpc(
        &client_as(authorization),
        &server.url("/jsonrpc"),
        method,
        params,
    )
    .await
}

/// A real WebSocket to `/jsonrpc`, authenticated in the handshake.
async fn websocket(server: &Server, authorization: &str) -> WsSocket {
    let mut request = format!("ws://127.0.0.1:{}/jsonrpc", server.port)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", authorization.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Sets the TOTP secret of `namespace` as alice, who is not pinned.
async fn alice_sets_totp(server: &Server, namespace: &str) {
    let answer = jsonrpc(
        server,
        &basic(ALICE),
        "run_keyword",
        json!({"name": "Set Time Based OTP", "args": [SECRET], "namespace": namespace}),
    )
    .await;
    assert_eq!(answer["result"]["status"], "PASS", "{answer}");
}

const REFUSED_B: &str = "User 'bot7' may only call namespace 'teamA', not 'teamB'.";

#[tokio::test]
async fn a_pinned_user_is_refused_on_every_entry_point() {
    let server = start(&[]);
    alice_sets_totp(&server, "teamB").await;
    alice_sets_totp(&server, "teamA").await;
    let bot = basic(BOT);

    // XML-RPC: the namespace path, and the default namespace at / and /RPC2.
    let get_totp = || run_keyword_xml("Get Time Based OTP", &[]);
    let answer = xmlrpc(&server, "/ns/teamB", &bot, get_totp()).await;
    assert!(answer.contains("<int>-32001</int>"), "{answer}");
    assert_eq!(member(&answer, "faultString").as_deref(), Some(REFUSED_B));
    for path in ["/", "/RPC2"] {
        let answer = xmlrpc(&server, path, &bot, get_totp()).await;
        assert!(answer.contains("<int>-32001</int>"), "{path}: {answer}");
    }
    let own = xmlrpc(&server, "/ns/teamA", &bot, get_totp()).await;
    assert_eq!(member(&own, "status").as_deref(), Some("PASS"), "{own}");

    // JSON-RPC over HTTP.
    let params = |ns: &str| json!({"name": "Get Time Based OTP", "namespace": ns});
    let answer = jsonrpc(&server, &bot, "run_keyword", params("teamB")).await;
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    assert_eq!(answer["error"]["message"], REFUSED_B);
    let own = jsonrpc(&server, &bot, "run_keyword", params("teamA")).await;
    assert_eq!(own["result"]["status"], "PASS", "{own}");

    // JSON-RPC over a WebSocket: run_keyword, then the subscription.
    let mut socket = websocket(&server, &bot).await;
    let answer = ws_call(&mut socket, 1, "run_keyword", params("teamB")).await;
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    assert_eq!(answer["error"]["message"], REFUSED_B);
    let answer = ws_call(
        &mut socket,
        2,
        "subscribe_totp",
        json!({"namespace": "teamB"}),
    )
    .await;
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    assert_eq!(answer["error"]["message"], REFUSED_B);
    let answer = ws_call(&mut socket, 3, "subscribe_totp", json!([])).await;
    assert_eq!(
        answer["error"]["code"], -32001,
        "the default namespace: {answer}"
    );
    let own = ws_call(
        &mut socket,
        4,
        "subscribe_totp",
        json!({"namespace": "teamA"}),
    )
    .await;
    assert!(
        own["result"].is_string() || own["result"].is_number(),
        "{own}"
    );
    let log = server.log();
    assert!(
        log.contains("refused: outside the user's namespace"),
        "{log}"
    );
}

#[tokio::test]
async fn vaults_are_for_unpinned_users_unless_listed() {
    let use_vault = |ns: &str| json!({"name": "Use MFA Secret From Vault", "args": ["mfa", "otp"], "namespace": ns});
    let server = start(&[]);
    let alice = jsonrpc(&server, &basic(ALICE), "run_keyword", use_vault("any")).await;
    assert_eq!(alice["result"]["status"], "PASS", "{alice}");
    let bot = jsonrpc(&server, &basic(BOT), "run_keyword", use_vault("teamA")).await;
    assert_eq!(bot["result"]["status"], "FAIL", "{bot}");
    assert_eq!(
        bot["result"]["error"],
        "PermissionError: User 'bot7' may not use vault 'default'."
    );
    // The same over XML-RPC, as Robot's Remote sends it.
    let answer = xmlrpc(
        &server,
        "/ns/teamA",
        &basic(BOT),
        run_keyword_xml("Use MFA Secret From Vault", &["mfa", "otp"]),
    )
    .await;
    assert_eq!(
        member(&answer, "error").as_deref(),
        Some("PermissionError: User 'bot7' may not use vault 'default'.")
    );
    drop(server);

    // An allow list names users or namespaces; everyone else is refused.
    let server = start(&["--vault-allow", "alice", "--vault-allow", "teamC"]);
    let run = |who: String, ns: &'static str| {
        let server = &server;
        async move { jsonrpc(server, &who, "run_keyword", use_vault(ns)).await }
    };
    let alice = run(basic(ALICE), "x").await;
    assert_eq!(alice["result"]["status"], "PASS", "{alice}");
    let carol = run(basic(CAROL), "teamC").await;
    assert_eq!(
        carol["result"]["status"], "PASS",
        "pinned to a listed namespace: {carol}"
    );
    let bot = run(basic(BOT), "teamA").await;
    assert_eq!(
        bot["result"]["error"],
        "PermissionError: User 'bot7' may not use vault 'default'."
    );
    let dash = run(format!("Bearer {DASH_TOKEN}"), "teamC").await;
    assert_eq!(
        dash["result"]["error"], "PermissionError: User 'dash' may not use vault 'default'.",
        "an unlisted user, even in a listed namespace"
    );
}

#[tokio::test]
async fn the_servers_own_credentials_are_out_of_every_keywords_reach() {
    let server = start(&[]);
    for secret in ["rpa-users", "rpa-tokens"] {
        let key = if secret == "rpa-users" {
            "alice"
        } else {
            "dash"
        };
        let answer = jsonrpc(
            &server,
            &basic(ALICE),
            "run_keyword",
            json!({"name": "Use MFA Secret From Vault", "args": [secret, key]}),
        )
        .await;
        assert_eq!(
            answer["result"]["error"],
            format!(
                "PermissionError: Secret '{secret}' holds the server's own credentials; \
                 no keyword may read or write it."
            ),
            "{answer}"
        );
        assert!(!answer.to_string().contains(ALICE.1) && !answer.to_string().contains(DASH_TOKEN));
    }
}

#[tokio::test]
async fn credentials_of_unknown_users_never_reach_the_log() {
    let server = start(&[]);
    let client = reqwest::Client::new();
    // What `requests` sends for auth=(token, ""): no colon at all.
    for authorization in [
        basic_raw("tok-SECRET-4711"),
        basic_raw("tok-SECRET-4711:"),
        basic_raw("mallory:tok-SECRET-4711"),
        "Bearer tok-SECRET-4711".to_owned(),
    ] {
        let response = client
            .get(server.url("/metrics"))
            .header("Authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let wrong = client
        .get(server.url("/metrics"))
        .header("Authorization", basic((ALICE.0, "tok-SECRET-4711")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let log = server.log();
    let failed: Vec<&str> = log.lines().filter(|l| l.contains("login failed")).collect();
    assert_eq!(failed.len(), 5, "{log}");
    assert!(
        !log.contains("tok-SECRET") && !log.contains("mallory"),
        "{log}"
    );
    assert_eq!(
        failed
            .iter()
            .filter(|l| l.contains("user=(unknown)"))
            .count(),
        4,
        "{log}"
    );
    assert!(
        failed[4].ends_with("user=alice"),
        "a known user is named: {log}"
    );
}

async fn status(server: &Server, authorization: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/metrics"))
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn one_users_failed_logins_do_not_lock_out_another() {
    let server = start(&["--login-max-users", "4"]);
    for _ in 0..5 {
        assert_eq!(status(&server, &basic((CAROL.0, "guess"))).await, 401);
    }
    assert_eq!(status(&server, &basic(CAROL)).await, 429, "carol is locked");
    assert_eq!(status(&server, &basic(ALICE)).await, 200, "alice is not");
    assert_eq!(status(&server, &basic(BOT)).await, 200);

    // Guessing user names is limited per address too: carol and three
    // more names reach the cap of 4, and a fifth name is refused.
    for name in ["x1", "x2", "x3"] {
        assert_eq!(status(&server, &basic((name, "guess"))).await, 401);
    }
    assert_eq!(status(&server, &basic(("x4", "guess"))).await, 429);
    let log = server.log();
    assert!(log.contains("too many failed attempts"), "{log}");
}

#[tokio::test]
async fn long_names_are_not_echoed_whole() {
    let server = start_open();
    let huge = "K".repeat(3 * 1024 * 1024);
    let call = format!(
        "<?xml version='1.0'?><methodCall><methodName>{huge}</methodName><params></params></methodCall>"
    );
    let answer = xmlrpc(&server, "/RPC2", "", call).await;
    assert!(
        answer.contains("<int>-32601</int>"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    assert!(answer.len() < 1000, "{} bytes", answer.len());
    let fault = member(&answer, "faultString").unwrap();
    assert!(
        fault.starts_with(&format!("Method '{}", "K".repeat(40)))
            && fault.contains("(3145728 bytes, cut)"),
        "{fault}"
    );

    let answer = xmlrpc(&server, "/RPC2", "", run_keyword_xml(&huge, &[])).await;
    let error = member(&answer, "error").unwrap();
    assert!(
        error.len() < 300 && error.contains("(3145728 bytes, cut)"),
        "{error}"
    );

    let answer = jsonrpc(&server, "", "run_keyword", json!([huge, []])).await;
    let error = answer["result"]["error"].as_str().unwrap();
    assert!(
        error.len() < 300 && error.contains("(3145728 bytes, cut)"),
        "{error}"
    );
    // jsonrpsee answers unknown methods itself, without the name.
    let answer = jsonrpc(&server, "", &huge, json!([])).await;
    assert_eq!(answer["error"]["code"], -32601);
    assert!(answer.to_string().len() < 300, "{answer}");
}

#[tokio::test]
async fn jsonrpc_errors_say_what_was_wrong() {
    let server = start_open();
    let client = reqwest::Client::new();
    let raw = |body: &'static str| {
        let client = client.clone();
        let url = server.url("/jsonrpc");
        async move {
            let response = client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            serde_json::from_str::<Json>(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        }
    };
    for bad_id in [
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"get_keyword_names"}"#,
        r#"{"jsonrpc":"2.0","id":[1],"method":"get_keyword_names"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"get_keyword_names"}"#,
        r#"{"jsonrpc":"2.0","id":-1,"method":"get_keyword_names"}"#,
    ] {
        let answer = raw(bad_id).await;
        assert_eq!(answer["error"]["code"], -32600, "{bad_id}: {answer}");
        assert_eq!(answer["id"], Json::Null);
        assert!(answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request: 'id' must be a string"));
    }
    // A number serde cannot hold: the message says so, not "needs 'name'".
    let answer = raw(r#"{"jsonrpc":"2.0","id":7,"method":"run_keyword","params":["Get Time Based OTP",[1e999]]}"#).await;
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["error"]["code"], -32602);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("params are not valid JSON: "),
        "{message}"
    );
}

#[tokio::test]
async fn the_default_log_has_one_integer_time_field_and_no_library_debug_lines() {
    let server = start_open();
    let answer = jsonrpc(
        &server,
        "",
        "run_keyword",
        json!(["Get Counter Based OTP", ["0", SECRET]]),
    )
    .await;
    assert_eq!(answer["result"]["return"], HOTP_0);
    let log = server.log_with("keyword=\"Get Counter Based OTP\"").await;
    assert!(
        !log.contains("jsonrpsee") && !log.contains("DEBUG"),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("keyword=\"Get Counter Based OTP\""))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(!line.contains("duration_ms"), "{line}");
    let value = line
        .split("duration_us=")
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"));
    let value = value.split_whitespace().next().unwrap();
    assert!(
        !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
}

/// Workers keep keyword lines until they are idle (`logging::keyword_line`):
/// after many calls at once on several connections and a graceful stop,
/// every call has its line, whole, and no line is mixed with another.
#[tokio::test]
async fn every_call_of_a_burst_has_one_whole_keyword_line() {
    const CONNECTIONS: usize = 8;
    const CALLS: usize = 150;
    let mut server = start_open();
    let url = server.url("/RPC2");
    let body = run_keyword_xml("Get Counter Based OTP", &["0", SECRET]);
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let (url, body) = (url.clone(), body.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..CALLS {
                let answer = post_xml(&client, &url, body.clone()).await;
                assert!(answer.contains(HOTP_0), "{answer}");
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    server.sigterm();
    server.wait_stopped();
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("keyword=\"")).collect();
    assert_eq!(lines.len(), CONNECTIONS * CALLS, "{log}");
    for line in lines {
        let (_, fields) = line
            .split_once("  INFO rpa_mfa::remote: keyword ")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            fields.starts_with("protocol=\"xmlrpc\" namespace=\"\" keyword=\"Get Counter Based OTP\" status=\"PASS\" duration_us="),
            "{line}"
        );
        assert_eq!(line.matches("keyword=").count(), 1, "{line}");
    }
}

/// A keyword that blocks on the disk (`Set Secret` on a file vault) has
/// its line written as soon as the server is idle, like any other: a
/// thread that blocked must not keep its lines until it is reused or
/// stopped (tokio keeps an idle blocking thread for 10 s).
#[tokio::test]
async fn a_file_vault_write_has_its_keyword_line_at_once() {
    let server = start_open();
    let answer = jsonrpc(
        &server,
        "",
        "run_keyword",
        json!(["Set Secret", ["login", {"user": "robot"}]]),
    )
    .await;
    assert_eq!(answer["result"]["status"], "PASS", "{answer}");
    let log = server
        .log_within("keyword=\"Set Secret\"", Duration::from_secs(5))
        .await;
    assert!(
        log.contains("keyword=\"Set Secret\" status=\"PASS\""),
        "{log}"
    );
}
