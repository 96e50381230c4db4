//! JSON-RPC over WebSocket as the server's own transport serves it
//! (src/jsonrpc/ws/), against the built binary over real sockets: the
//! answers are jsonrpsee's (the HTTP side still runs jsonrpsee, so it is
//! the oracle), and the limits hold — the subscription cap, the message
//! size cap, and a client that stops reading neither grows the server's
//! memory nor stays open.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jsonrpsee::types::error::{
    OVERSIZED_REQUEST_CODE, OVERSIZED_REQUEST_MSG, TOO_MANY_SUBSCRIPTIONS_CODE,
    TOO_MANY_SUBSCRIPTIONS_MSG,
};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::{ws_call, Server, Spawn, WsSocket};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// Every wait gives up after this long: a bound on the test, not a timing
/// asserted about the server.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(server: &Server) -> WsSocket {
    let url = format!("ws://{}/jsonrpc", server.addr());
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next message's text; None when the server closed.
async fn next_text(socket: &mut WsSocket) -> Option<String> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message within the patience")?
            .ok()?;
        match message {
            Message::Text(text) => return Some(text.as_str().to_owned()),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

async fn http(server: &Server, body: &str) -> String {
    reqwest::Client::new()
        .post(server.url("/jsonrpc"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn answers_are_byte_for_byte_jsonrpsees() {
    let server = Spawn::serve().start();
    let mut socket = connect(&server).await;
    let counter_call = format!(
        r#"{{"jsonrpc":"2.0","id":"a","method":"run_keyword","params":["Get Counter Based OTP",["0","{SECRET}"]]}}"#
    );
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"get_keyword_names"}"#,
        counter_call.as_str(),
        r#"{"jsonrpc":"2.0","id":2,"method":"run_keyword","params":{"name":"K","bogus":1}}"#,
        r#"  {"jsonrpc":"2.0","id":3,"method":"no_such_method"}"#,
        r#"{"jsonrpc":"1.0","id":4,"method":"get_keyword_names"}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"get_keyword_names""#,
        r#"[{"jsonrpc":"2.0","id":6,"method":"get_keyword_names"},{"jsonrpc":"2.0","id":7,"method":"nope"},{"id":8},5]"#,
        "[]",
        r#""a string""#,
    ];
    for request in requests {
        socket.send(Message::text(request)).await.unwrap();
        let over_ws = next_text(&mut socket).await.expect("an answer");
        assert_eq!(over_ws, http(&server, request).await, "for {request}");
    }
    // The HOTP code is RFC 4226's for this secret at 0 (pyotp's 702218).
    assert!(http(&server, &counter_call).await.contains("702218"));
    // Subscriptions are requests of their own, not batch entries.
    socket
        .send(Message::text(
            r#"[{"jsonrpc":"2.0","id":10,"method":"subscribe_totp","params":[]}]"#,
        ))
        .await
        .unwrap();
    let batch: Json = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    assert_eq!(batch[0]["id"], json!(10));
    assert_eq!(batch[0]["error"]["code"], json!(-32600), "{batch}");
    // A notification gets no answer: the next message answers the call.
    socket
        .send(Message::text(
            r#"{"jsonrpc":"2.0","method":"get_keyword_names"}"#,
        ))
        .await
        .unwrap();
    let answer = ws_call(&mut socket, 9, "get_keyword_names", json!([])).await;
    assert!(answer["result"].as_array().is_some_and(|n| !n.is_empty()));
}

#[tokio::test]
async fn subscriptions_past_the_cap_are_refused_until_one_ends() {
    let server = Spawn::serve().args(["--max-subscriptions", "2"]).start();
    server
        .run_keyword_ok("live", "Set Time Based OTP", json!([SECRET]), json!({}))
        .await;
    let mut socket = connect(&server).await;
    let first = ws_call(&mut socket, 1, "subscribe_totp", json!(["live"])).await;
    let first_id = first["result"].as_u64().expect("a numeric subscription id");
    ws_call(&mut socket, 2, "subscribe_totp", json!(["live"])).await["result"]
        .as_u64()
        .expect("a second subscription");
    let refused = ws_call(&mut socket, 3, "subscribe_totp", json!(["live"])).await;
    assert_eq!(refused["error"]["code"], json!(TOO_MANY_SUBSCRIPTIONS_CODE));
    assert_eq!(
        refused["error"]["message"],
        json!(TOO_MANY_SUBSCRIPTIONS_MSG)
    );
    let ended = ws_call(&mut socket, 4, "unsubscribe_totp", json!([first_id])).await;
    assert_eq!(ended["result"], json!(true));
    let again = ws_call(&mut socket, 5, "unsubscribe_totp", json!([first_id])).await;
    assert_eq!(again["result"], json!(false));
    let third = ws_call(&mut socket, 6, "subscribe_totp", json!(["live"])).await;
    assert!(third["result"].is_u64(), "{third}");
}

#[tokio::test]
async fn an_oversized_message_gets_jsonrpsees_error_then_a_close() {
    let server = Spawn::serve().args(["--max-body-size", "1024"]).start();
    let mut socket = connect(&server).await;
    let padding = "x".repeat(2000);
    let request =
        json!({"jsonrpc": "2.0", "id": 1, "method": "get_keyword_names", "params": [padding]});
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    let refusal: Json = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    assert_eq!(refusal["id"], Json::Null);
    assert_eq!(refusal["error"]["code"], json!(OVERSIZED_REQUEST_CODE));
    assert_eq!(refusal["error"]["message"], json!(OVERSIZED_REQUEST_MSG));
    let closed = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap();
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }
    // The server goes on serving.
    let mut socket = connect(&server).await;
    let answer = ws_call(&mut socket, 2, "get_keyword_names", json!([])).await;
    assert!(answer["result"].is_array());
}

/// The server's VmRSS, or its peak VmHWM, in MiB.
fn rss_mib(server: &Server, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// A raw socket that has asked for a WebSocket on `/jsonrpc` (the answer
/// is left unread): a client that answers nothing by itself.
async fn raw_upgrade(server: &Server) -> TcpStream {
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
    let handshake = format!(
        "GET /jsonrpc HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr()
    );
    socket.write_all(handshake.as_bytes()).await.unwrap();
    socket
}

/// A client frame: text, masked (with a zero key, which RFC 6455 allows).
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn a_client_that_stops_reading_grows_no_memory_and_is_closed() {
    let server = Spawn::serve()
        .args(["--ws-ping-interval", "3", "--max-websockets", "2"])
        .start();
    let mut socket = raw_upgrade(&server).await;
    let mut head = [0u8; 12];
    socket.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let before = rss_mib(&server, "VmRSS:");

    // Each answer is the whole library's description, tens of kilobytes:
    // 2,000 of them unread would be over a hundred megabytes.
    let request = text_frame(br#"{"jsonrpc":"2.0","id":1,"method":"get_library_information"}"#);
    let mut sent = 0;
    while sent < 2000 {
        match tokio::time::timeout(Duration::from_secs(2), socket.write_all(&request)).await {
            Ok(Ok(())) => sent += 1,
            // The server stopped reading, and the kernel's buffers are full.
            _ => break,
        }
    }
    // Time for the server to answer whatever it read (a few seconds for
    // 2,000 in a debug build, had it read them all), within the three
    // ping intervals after which it closes the socket.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let grown = rss_mib(&server, "VmHWM:") - before;
    println!("MEASURE sent={sent} rss_mib_before={before:.1} grown_mib={grown:.1}");
    assert!(grown < 16.0, "the server grew by {grown:.1} MiB");

    // Others are served meanwhile, under the WebSocket cap of 2.
    let mut other = connect(&server).await;
    assert!(ws_call(&mut other, 1, "get_keyword_names", json!([])).await["result"].is_array());
    drop(other);

    // Silent for three ping intervals, the reader is closed: then two
    // WebSockets fit under the cap at once. (Reading its answers now
    // would let it go on: the server reads again once they are out.)
    let both_open = tokio::time::timeout(PATIENCE, async {
        loop {
            let url = format!("ws://{}/jsonrpc", server.addr());
            let first = tokio_tungstenite::connect_async(&url).await;
            let second = tokio_tungstenite::connect_async(&url).await;
            if first.is_ok() && second.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(both_open.is_ok(), "the reader that stopped is still open");
    drop(socket);
}

/// Even at trace level (where tungstenite logs every frame it reads and
/// writes) the log holds no secret and no code sent over a WebSocket.
#[tokio::test]
async fn trace_logs_hold_no_secret_or_code_sent_over_a_websocket() {
    let mut server = Spawn::serve()
        .args(["--log", "trace"])
        .log(common::Log::Piped)
        .start();
    let mut socket = connect(&server).await;
    // pyotp's HOTP code for SECRET at counter 1.
    let args = json!({"name": "Get Counter Based OTP", "args": ["1", SECRET]});
    let answer = ws_call(&mut socket, 1, "run_keyword", args).await;
    assert_eq!(answer["result"]["return"], json!("503347"));
    let set = json!({"name": "Set Time Based OTP", "args": [SECRET], "namespace": "live"});
    assert_eq!(
        ws_call(&mut socket, 2, "run_keyword", set).await["result"]["status"],
        "PASS"
    );
    ws_call(&mut socket, 3, "subscribe_totp", json!(["live"])).await;
    let note: Json = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    let code = note["params"]["result"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(socket);
    server.sigterm();
    server.wait_stopped();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("live TOTP codes: subscribed"), "{log}");
    for secret in [SECRET, "503347", code.as_str()] {
        assert!(!log.contains(secret), "{secret} is in the trace log");
    }
}

/// A client whose calls are at the per-socket cap (64 running) is not
/// read until one ends, so the server does not hear its pongs: that is
/// not silence, and it is not closed for it.
#[tokio::test]
async fn a_client_with_64_waiting_calls_is_not_taken_for_silent() {
    let server = Spawn::serve().args(["--ws-ping-interval", "1"]).start();
    let uri = format!("otpauth://totp/x?secret={SECRET}&period=10");
    server
        .run_keyword_ok("waits", "Set Time Based OTP", json!([uri]), json!({}))
        .await;
    // Each call waits for the next period (min_validity 9 of 10 s): start
    // 8.5 s before it, longer than three ping intervals.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let left = 10.0 - now % 10.0;
    tokio::time::sleep(Duration::from_secs_f64((left - 8.5).rem_euclid(10.0))).await;
    let mut socket = connect(&server).await;
    for id in 1..=65 {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "run_keyword",
            "params": {"name": "Get Time Based OTP", "kwargs": {"min_validity": 9},
                       "namespace": "waits"}});
        socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
    }
    for _ in 1..=65 {
        let text = next_text(&mut socket).await.expect("every call answered");
        let answer: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["result"]["status"], json!("PASS"), "{answer}");
    }
}

/// Pings put off behind a code still come: a subscriber to a 1-second
/// period (a code every second, so pings keep falling just after codes)
/// that reads everything but answers no ping is closed as silent.
#[tokio::test]
async fn a_subscriber_answering_no_ping_is_closed_while_codes_flow() {
    let server = Spawn::serve()
        .args(["--ws-ping-interval", "1", "--log", "debug"])
        .log(common::Log::File)
        .start();
    let uri = format!("otpauth://totp/x?secret={SECRET}&period=1");
    server
        .run_keyword_ok("fast", "Set Time Based OTP", json!([uri]), json!({}))
        .await;
    // A raw socket: unlike tungstenite, it never answers a ping.
    let mut socket = raw_upgrade(&server).await;
    let subscribe = br#"{"jsonrpc":"2.0","id":1,"method":"subscribe_totp","params":["fast"]}"#;
    socket.write_all(&text_frame(subscribe)).await.unwrap();
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = socket.read(&mut buffer).await {
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    assert!(closed.is_ok(), "a client answering no ping was kept open");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // Codes came meanwhile, each followed by a put-off ping or none.
    let codes = text.matches(r#""method":"totp""#).count();
    assert!(codes >= 3, "{codes} codes before the close: {text}");
    // Closed for its silence, not for anything else.
    let log = server.log();
    assert!(
        log.contains("WebSocket closed: nothing heard for three ping intervals"),
        "{log}"
    );
}

/// The subscription a `totp` notification is for.
fn subscription_of(text: &str) -> Option<u64> {
    let message: Json = serde_json::from_str(text).unwrap();
    (message["method"] == "totp").then(|| message["params"]["subscription"].as_u64().unwrap())
}

/// On plain TCP the timer's task writes the codes into the socket itself:
/// once `unsubscribe_totp` is answered none of that subscription's codes
/// follows, while another subscription of the socket, on the same secret
/// and timer, gets its codes at each boundary (the ended one's would come
/// just before them: the timer serves its followers in the order they
/// came).
#[tokio::test]
async fn no_code_follows_the_unsubscribe_answer() {
    let server = Spawn::serve().start();
    let uri = format!("otpauth://totp/x?secret={SECRET}&period=1");
    server
        .run_keyword_ok("fast", "Set Time Based OTP", json!([uri]), json!({}))
        .await;
    let mut socket = connect(&server).await;
    let mut subscribe = async |id| {
        ws_call(&mut socket, id, "subscribe_totp", json!(["fast"])).await["result"]
            .as_u64()
            .unwrap()
    };
    let (first, second) = (subscribe(1).await, subscribe(2).await);
    // Codes of both, until one of the first's from a boundary.
    let mut seen = [0, 0];
    while seen[0] < 2 {
        let text = next_text(&mut socket).await.unwrap();
        match subscription_of(&text) {
            Some(id) if id == first => seen[0] += 1,
            Some(id) if id == second => seen[1] += 1,
            _ => panic!("{text}"),
        }
    }
    let ended = ws_call(&mut socket, 3, "unsubscribe_totp", json!([first])).await;
    assert_eq!(ended["result"], json!(true));
    // The second's codes of two boundaries, and nothing of the first's.
    for _ in 0..2 {
        let text = next_text(&mut socket).await.unwrap();
        assert_eq!(subscription_of(&text), Some(second), "{text}");
    }
}

/// A client that sends its first message in the same packet as the
/// handshake: hyper has read it already, and the socket taken back from
/// hyper reads it first (the subscription is answered, its code comes).
#[tokio::test]
async fn a_message_sent_with_the_handshake_is_read() {
    use tokio_tungstenite::tungstenite::protocol::Role;
    let server = Spawn::serve().start();
    server
        .run_keyword_ok("live", "Set Time Based OTP", json!([SECRET]), json!({}))
        .await;
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
    let mut first_packet = format!(
        "GET /jsonrpc HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr()
    )
    .into_bytes();
    let subscribe = br#"{"jsonrpc":"2.0","id":1,"method":"subscribe_totp","params":["live"]}"#;
    first_packet.extend_from_slice(&text_frame(subscribe));
    socket.write_all(&first_packet).await.unwrap();
    // The answer's head, a byte at a time so that no frame is read with it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(socket.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let socket = tokio_tungstenite::MaybeTlsStream::Plain(socket);
    let mut socket =
        tokio_tungstenite::WebSocketStream::from_raw_socket(socket, Role::Client, None).await;
    let answer: Json = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    let id = answer["result"].as_u64().expect("the subscription's id");
    let code = next_text(&mut socket).await.unwrap();
    assert_eq!(subscription_of(&code), Some(id), "{code}");
}
