//! Hostile clients against the built binary, over real sockets, real
//! WebSockets and real signals (issue 8: findings 3, 4, the body part of 5
//! and the XML-RPC 413 of 9): header and idle deadlines, the connection
//! and WebSocket caps, one body limit answered in each protocol's shape,
//! and a SIGTERM that ends within the grace period whatever clients do.
//!
//! Lines starting with `MEASURE` (run with `--nocapture`) report memory
//! and shutdown times; they are measurements, not assertions. Set
//! `RPA_MFA_BIN` to measure another build (e.g. target/release/rpa-mfa).

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use soketto::handshake::{Client as WsClient, ServerResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

mod common;
use common::{Log, Server, Spawn};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// Every wait in these tests gives up after this long: a bound on the
/// test, not a timing asserted about the server.
const PATIENCE: Duration = Duration::from_secs(20);

type WsSender = soketto::connection::Sender<Compat<TcpStream>>;
/// A WebSocket's incoming messages, read by a task of its own (so pings
/// are answered all along, and no read is cut short); an error ends it.
type WsReceiver = tokio::sync::mpsc::UnboundedReceiver<Result<Vec<u8>, soketto::connection::Error>>;

/// `rpa-mfa serve` with a vault holding the secret and `extra`; logs at
/// `HOSTILE_LOG` (default warn), shown when `HOSTILE_SHOW_LOG` is set.
fn start(extra: &[&str]) -> Server {
    Spawn::serve()
        .vault(json!({"mfa": {"otp": SECRET}}))
        .args(extra)
        .env(
            "RPA_MFA_LOG",
            std::env::var("HOSTILE_LOG").unwrap_or("warn".into()),
        )
        .log(if std::env::var_os("HOSTILE_SHOW_LOG").is_some() {
            Log::Inherit
        } else {
            Log::Null
        })
        .start()
}

/// The server's VmRSS in MiB.
fn rss_mib(server: &Server) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Sends SIGTERM and waits (at most PATIENCE) for a successful exit;
/// returns how long it took.
async fn terminate(server: &mut Server) -> Duration {
    let sent = Instant::now();
    server.sigterm();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return sent.elapsed();
        }
        assert!(sent.elapsed() < PATIENCE, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Raises this process's open-file limit to `needed` (the soft limit up
/// to the hard one), as a test opening many sockets needs.
fn allow_open_files(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < needed as libc::rlim_t {
            assert!(
                limit.rlim_max >= needed as libc::rlim_t,
                "this test needs {needed} open files; the hard limit is {} (ulimit -Hn)",
                limit.rlim_max
            );
            limit.rlim_cur = needed as libc::rlim_t;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// Whether the server has closed `stream` (EOF or reset); never blocks.
fn is_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 64];
    match stream.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// Waits (at most PATIENCE) until the server closes `stream`.
async fn closed_by_server(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_to_end).await.is_ok()
}

/// One HTTP/1.1 exchange on `stream`: the status and the body (the
/// response must carry a Content-Length, as every answer here does).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, Vec<u8>) {
    stream.write_all(request).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("a content-length");
            if data.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return (status, data[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before a whole answer: {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

fn xml_call(name: &str, args: &[&str]) -> String {
    let args: String = args
        .iter()
        .map(|a| format!("<value><string>{a}</string></value>"))
        .collect();
    format!(
        "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>\
<param><value><string>{name}</string></value></param>\
<param><value><array><data>{args}</data></array></value></param></params></methodCall>"
    )
}

fn xml_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A WebSocket to `/jsonrpc`, or the HTTP status it was refused with.
async fn ws_connect(server: &Server) -> Result<(WsSender, WsReceiver), u16> {
    let socket = TcpStream::connect(server.addr()).await.unwrap();
    let host = server.addr();
    let mut client = WsClient::new(socket.compat(), &host, "/jsonrpc");
    match client.handshake().await.unwrap() {
        ServerResponse::Accepted { .. } => {
            let (tx, mut rx) = client.into_builder().finish();
            let (forward, messages) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                loop {
                    let mut message = Vec::new();
                    let received = rx.receive_data(&mut message).await.map(|_| message);
                    let failed = received.is_err();
                    if forward.send(received).is_err() || failed {
                        return;
                    }
                }
            });
            Ok((tx, messages))
        }
        ServerResponse::Rejected { status_code } => Err(status_code),
        ServerResponse::Redirect { status_code, .. } => Err(status_code),
    }
}

/// Sends a JSON-RPC request on a WebSocket and returns its answer,
/// skipping notifications.
async fn ws_call(
    tx: &mut WsSender,
    rx: &mut WsReceiver,
    id: u64,
    method: &str,
    params: Json,
) -> Json {
    let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    tx.send_text(request.to_string()).await.unwrap();
    tx.flush().await.unwrap();
    loop {
        let message = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("an answer on the WebSocket")
            .expect("the WebSocket open")
            .unwrap();
        let answer: Json = serde_json::from_slice(&message).unwrap();
        if answer["id"] == json!(id) {
            return answer;
        }
    }
}

async fn http_jsonrpc(server: &Server) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/jsonrpc"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "run_keyword",
            "params": ["Get Counter Based OTP", ["0", SECRET]]}))
        .send()
        .await
        .unwrap()
}

/// pyotp 2.12's HOTP code for SECRET at counter 0.
const HOTP_0: &str = "702218";

async fn assert_http_jsonrpc_works(server: &Server) {
    let response = http_jsonrpc(server).await;
    assert_eq!(response.status(), 200);
    let answer: Json = response.json().await.unwrap();
    assert_eq!(answer["result"]["return"], json!(HOTP_0), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_closed_after_the_header_timeout() {
    allow_open_files(2048);
    let server = start(&["--header-read-timeout", "1", "--idle-timeout", "60"]);
    // Connected but silent: idle, not a slow request (60 s deadline).
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let mut slow = Vec::new();
    for _ in 0..500 {
        slow.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let head = b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n";
    let started = Instant::now();
    let mut sent = 0;
    // One byte a second to each socket still open, until all are closed.
    while !slow.is_empty() && started.elapsed() < PATIENCE {
        for stream in &slow {
            let _ = stream.try_write(&head[sent % head.len()..][..1]);
        }
        sent += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        slow.retain(|s| !is_closed(s));
    }
    assert!(
        slow.is_empty(),
        "{} of 500 slow sockets still open after {:?}",
        slow.len(),
        started.elapsed()
    );
    // The silent connection outlived the header deadline and still works.
    assert!(!is_closed(&silent));
    let (status, body) = exchange(&mut silent, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let server = start(&["--idle-timeout", "1"]);
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let (status, _) = exchange(&mut stream, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200);
    assert!(
        closed_by_server(stream).await,
        "kept open past the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_cap_do_not_starve_health() {
    allow_open_files(4096);
    // The default cap (1024) and idle timeout (60 s): 1,100 idle sockets.
    let server = start(&[]);
    let mut idle = Vec::new();
    for _ in 0..1100 {
        idle.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let health = reqwest::Client::new()
        .get(server.url("/health"))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("/health answers with 1,100 idle connections open");
    assert_eq!(health.status(), 200);
    // Room was made by closing the connections idle the longest.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = idle.iter().filter(|s| is_closed(s)).count();
    assert!(
        closed >= 1100 - 1024,
        "only {closed} idle connections closed"
    );
    assert!(!is_closed(idle.last().unwrap()), "the newest was closed");
    eprintln!(
        "MEASURE rss_mib_1100_idle_connections={:.1}",
        rss_mib(&server)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websockets_never_shut_out_http_jsonrpc() {
    allow_open_files(4096);
    let server = start(&[]);
    let rss_before = rss_mib(&server);
    let mut sockets = Vec::new();
    for _ in 0..1000 {
        sockets.push(
            ws_connect(&server)
                .await
                .expect("a WebSocket under the cap"),
        );
    }
    for _ in 0..20 {
        assert_http_jsonrpc_works(&server).await;
    }
    eprintln!(
        "MEASURE rss_mib_start={rss_before:.1} rss_mib_1000_idle_websockets={:.1}",
        rss_mib(&server)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_cap_refuses_the_next_while_http_jsonrpc_works() {
    let server = start(&["--max-websockets", "5"]);
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(ws_connect(&server).await.expect("under the cap"));
    }
    assert_eq!(ws_connect(&server).await.err(), Some(429));
    assert_http_jsonrpc_works(&server).await;
    // A closed WebSocket frees its place.
    let (mut tx, _rx) = open.pop().unwrap();
    tx.close().await.unwrap();
    drop(tx);
    let started = Instant::now();
    while ws_connect(&server).await.is_err() {
        assert!(started.elapsed() < PATIENCE, "the place was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_websocket_is_kept_alive_an_idle_one_is_closed() {
    let server = start(&[
        "--secret",
        "mfa:otp",
        "--idle-timeout",
        "1",
        "--ws-ping-interval",
        "0.3",
    ]);
    let (mut sub_tx, mut sub_rx) = ws_connect(&server).await.unwrap();
    let (_idle_tx, mut idle_rx) = ws_connect(&server).await.unwrap();
    let subscribed = ws_call(&mut sub_tx, &mut sub_rx, 1, "subscribe_totp", json!([])).await;
    assert!(!subscribed["result"].is_null(), "{subscribed}");
    // The idle one is closed after the idle timeout...
    let idle_end = tokio::time::timeout(PATIENCE, idle_rx.recv()).await;
    assert!(
        matches!(idle_end, Ok(Some(Err(_)) | None)),
        "the idle WebSocket was not closed: {idle_end:?}"
    );
    // ...while the subscribed one, answering pings, outlives it threefold.
    tokio::time::sleep(Duration::from_secs(3)).await;
    while let Ok(received) = sub_rx.try_recv() {
        received.expect("the subscribed WebSocket stays open");
    }
    let answer = ws_call(
        &mut sub_tx,
        &mut sub_rx,
        2,
        "run_keyword",
        json!(["Get Counter Based OTP", ["0", SECRET]]),
    )
    .await;
    assert_eq!(answer["result"]["return"], json!(HOTP_0), "{answer}");
}

/// A WebSocket is looked at only at its idle deadline (no request head to
/// time): one that had a subscription is still closed an idle timeout
/// after it unsubscribed, its deadline having moved since the last look.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_unsubscribed_is_closed_when_idle() {
    let server = start(&["--secret", "mfa:otp", "--idle-timeout", "1"]);
    let (mut tx, mut rx) = ws_connect(&server).await.unwrap();
    let subscribed = ws_call(&mut tx, &mut rx, 1, "subscribe_totp", json!([])).await;
    let id = subscribed["result"].clone();
    assert!(!id.is_null(), "{subscribed}");
    // Held past one idle timeout: the look then finds it busy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let unsubscribed = ws_call(&mut tx, &mut rx, 2, "unsubscribe_totp", json!([id])).await;
    assert_eq!(unsubscribed["result"], json!(true), "{unsubscribed}");
    let end = tokio::time::timeout(PATIENCE, async {
        loop {
            match rx.recv().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(
        matches!(end, Ok(Some(Err(_)) | None)),
        "the WebSocket was not closed after unsubscribing: {end:?}"
    );
}

/// Sends a 50 MB chunked body to `path` and returns the answer.
async fn post_chunked_50mb(server: &Server, path: &str, content_type: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b' '; 1 << 20];
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        for _ in 0..50 {
            if write.write_all(&framed).await.is_err() {
                return;
            }
        }
        let _ = write.write_all(b"0\r\n\r\n").await;
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, read.read_to_end(&mut answer)).await;
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_50mb_body_gets_413_in_each_protocols_shape() {
    let server = start(&[]);
    for path in ["/RPC2", "/", "/ns/big"] {
        let (status, body) = post_chunked_50mb(&server, path, "text/xml").await;
        assert_eq!(status, 413, "{path}: {body}");
        assert!(
            body.contains("<fault>") && body.contains("<int>-32007</int>"),
            "{path}: not an XML-RPC fault: {body}"
        );
        assert!(body.contains("4194304 bytes"), "{body}");
    }
    let (status, body) = post_chunked_50mb(&server, "/jsonrpc", "application/json").await;
    assert_eq!(status, 413, "{body}");
    let error: Json = serde_json::from_str(&body).expect("a JSON-RPC error object");
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["error"]["code"], -32007);
    assert_eq!(error["id"], Json::Null);
    assert_http_jsonrpc_works(&server).await;
}

/// Writes `request` one byte every `pause` while reading what the server
/// answers; returns the answer and how many bytes were written when it
/// came (all of them if it came only after the last).
async fn trickle(stream: TcpStream, request: &[u8], pause: Duration) -> (u16, String, usize) {
    let (mut read, mut write) = stream.into_split();
    // Until a whole answer (head and Content-Length bytes) or the end.
    let answer = tokio::spawn(async move {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let whole = |data: &[u8]| {
            let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))?
                .trim()
                .parse()
                .ok()?;
            (data.len() >= end + 4 + length).then_some(())
        };
        while whole(&data).is_none() {
            match tokio::time::timeout(PATIENCE, read.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => data.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        data
    });
    let mut written = 0;
    for byte in request {
        if answer.is_finished() || write.write_all(&[*byte]).await.is_err() {
            break;
        }
        written += 1;
        tokio::time::sleep(pause).await;
    }
    let data = answer.await.unwrap();
    let text = String::from_utf8_lossy(&data).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text, written)
}

/// A slow-loris body: the head arrives whole, the body a byte at a time,
/// forever within any per-read timeout. The read timeout (here the header
/// timeout, 1 s) runs from when the body is first waited for, so the
/// server answers 408 long before the body could be complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_after_the_read_timeout() {
    let server = start(&["--header-read-timeout", "1"]);
    let body = xml_call("Get Time Based OTP", &[SECRET]);
    // The head and the body's first bytes together, then a byte every
    // 100 ms: the whole body would take about 30 s.
    let request = xml_post("/RPC2", &body);
    let head_end = request.len() - body.len() + 10;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(&request[..head_end]).await.unwrap();
    let (status, answer, written) =
        trickle(stream, &request[head_end..], Duration::from_millis(100)).await;
    assert_eq!(status, 408, "{answer}");
    assert!(
        answer.contains("The request body did not arrive within 1 s."),
        "{answer}"
    );
    assert!(
        written < body.len() - 10,
        "answered only after the whole body"
    );
    assert_http_jsonrpc_works(&server).await;
}

/// A body in many small pieces, all within the read timeout, is read
/// whole: the call passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_many_pieces_is_read_whole() {
    let server = start(&[]);
    let body = xml_call("Get Time Based OTP", &[SECRET]);
    let request = xml_post("/RPC2", &body);
    let head_end = request.len() - body.len();
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(&request[..head_end]).await.unwrap();
    for piece in request[head_end..].chunks(body.len() / 8 + 1) {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, answer) = exchange(&mut stream, b"").await;
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("<string>PASS</string>"), "{answer}");
}

/// Starts an authorization-code flow in `namespace` so that `Wait For
/// OAuth Callback` has something to wait for.
async fn start_oauth_flow(server: &Server, namespace: &str) {
    let body = common::remote_text::GENERATE_OAUTH_URL_XML;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let (status, answer) =
        exchange(&mut stream, &xml_post(&format!("/ns/{namespace}"), body)).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&answer).contains("PASS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stalled_clients_ends_waits_and_exits_within_the_grace() {
    let grace = Duration::from_secs(2);
    let mut server = start(&["--shutdown-grace", "2", "--secret", "mfa:otp"]);
    start_oauth_flow(&server, "waiting").await;
    let mut waiting = TcpStream::connect(server.addr()).await.unwrap();
    let wait_call = xml_post(
        "/ns/waiting",
        &xml_call("Wait For OAuth Callback", &["600"]),
    );
    let waiter = tokio::spawn(async move { exchange(&mut waiting, &wait_call).await });
    // Half a request, never finished.
    let mut half = TcpStream::connect(server.addr()).await.unwrap();
    half.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<?xml")
        .await
        .unwrap();
    // A reader that never reads: pipelined requests for the keyword page.
    let mut stalled = TcpStream::connect(server.addr()).await.unwrap();
    let page_requests = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
    let _ = tokio::time::timeout(Duration::from_secs(2), stalled.write_all(&page_requests)).await;
    // Open WebSockets, one with a subscription.
    let (mut sub_tx, mut sub_rx) = ws_connect(&server).await.unwrap();
    let subscribed = ws_call(&mut sub_tx, &mut sub_rx, 1, "subscribe_totp", json!([])).await;
    assert!(!subscribed["result"].is_null(), "{subscribed}");
    let _idle_ws = ws_connect(&server).await.unwrap();

    let took = terminate(&mut server).await;
    eprintln!(
        "MEASURE sigterm_to_exit_ms={} grace_ms={}",
        took.as_millis(),
        grace.as_millis()
    );
    assert!(
        took <= grace + Duration::from_secs(1),
        "SIGTERM to exit took {took:?}, more than the grace + 1 s"
    );
    let (status, answer) = waiter.await.unwrap();
    assert_eq!(status, 200);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("<string>FAIL</string>")
            && answer.contains("ServerStoppingError: server is stopping"),
        "{answer}"
    );
    drop((half, stalled));
}

/// The bytes of one HTTP answer: up to the end its Content-Length gives,
/// or whatever arrived before the connection closed.
async fn read_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|length| data.len() >= end + 4 + length) {
                return data;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether an XML-RPC answer is a whole PASS with a 6-digit code.
fn is_complete_pass(answer: &str) -> bool {
    answer.trim_end().ends_with("</methodResponse>")
        && answer.contains("<string>PASS</string>")
        && answer
            .split("<name>return</name><value><string>")
            .nth(1)
            .and_then(|rest| rest.get(..6))
            .is_some_and(|code| code.bytes().all(|b| b.is_ascii_digit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_under_load_loses_no_answered_call() {
    let mut server = start(&["--shutdown-grace", "5"]);
    let call = xml_post("/RPC2", &xml_call("Get Time Based OTP", &[SECRET]));
    // A call still waiting at SIGTERM finishes within the grace.
    start_oauth_flow(&server, "slow").await;
    let mut slow = TcpStream::connect(server.addr()).await.unwrap();
    let slow_call = xml_post("/ns/slow", &xml_call("Wait For OAuth Callback", &["1.5"]));
    let slow_task = tokio::spawn(async move { exchange(&mut slow, &slow_call).await });
    let mut clients = Vec::new();
    for _ in 0..8 {
        let addr = server.addr();
        let call = call.clone();
        clients.push(tokio::spawn(async move {
            let (mut answered, mut complete) = (0u32, 0u32);
            let Ok(mut stream) = TcpStream::connect(&addr).await else {
                return (answered, complete);
            };
            for _ in 0..100_000 {
                if stream.write_all(&call).await.is_err() {
                    break;
                }
                // Any bytes of an answer count as answered: they must
                // then be a whole, valid answer.
                let data = read_answer(&mut stream).await;
                if data.is_empty() {
                    break;
                }
                answered += 1;
                let text = String::from_utf8_lossy(&data);
                if text.starts_with("HTTP/1.1 200") && is_complete_pass(&text) {
                    complete += 1;
                } else {
                    eprintln!("incomplete answer: {text}");
                    break;
                }
            }
            (answered, complete)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = terminate(&mut server).await;
    let (mut answered, mut complete) = (0, 0);
    for client in clients {
        let (a, c) = client.await.unwrap();
        answered += a;
        complete += c;
    }
    eprintln!(
        "MEASURE under_load answered={answered} sigterm_to_exit_ms={}",
        took.as_millis()
    );
    assert!(answered > 0);
    assert_eq!(answered, complete, "an answered call got a partial answer");
    let (status, answer) = slow_task.await.unwrap();
    assert_eq!(status, 200);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("TimeoutError: No redirect"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_are_all_answered() {
    allow_open_files(4096);
    let server = start(&[]);
    let call = xml_post("/RPC2", &xml_call("Get Time Based OTP", &[SECRET]));
    let mut streams = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream.write_all(&call).await.unwrap();
        streams.push(stream);
    }
    let answers: Vec<_> = streams
        .into_iter()
        .map(|mut s| tokio::spawn(async move { exchange(&mut s, b"").await }))
        .collect();
    for answer in answers {
        let (status, body) = answer.await.unwrap();
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&body).contains("PASS"));
    }
    eprintln!(
        "MEASURE rss_mib_after_1000_concurrent_calls={:.1}",
        rss_mib(&server)
    );
}
