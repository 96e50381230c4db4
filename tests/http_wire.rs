//! What an HTTP/1.1 client sees of the call path (`POST /RPC2`, `POST /`,
//! `POST /jsonrpc`), over raw sockets: pipelining, requests split at any
//! byte, keep-alive connections mixing calls with other routes, chunked
//! bodies, `Expect: 100-continue`, closing, `date` headers, limits,
//! malformed requests, WebSocket upgrades, authentication and a graceful
//! stop. Black-box: it pins down today's behaviour (hyper) so that a
//! hand-written HTTP/1.1 loop in front of hyper can be checked against it.
//!
//! Expected codes are RFC 4226 Appendix D's (in /work/shared/vectors,
//! where pyotp and oathtool agree), never the server's own.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

mod common;
use common::remote_text::{member, run_keyword_xml, GENERATE_OAUTH_URL_XML};
use common::{Log, Server, Spawn};

/// RFC 4226's secret, base32 of "12345678901234567890".
const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// RFC 4226 Appendix D: the 6-digit HOTP codes at counters 0 to 9.
const RFC4226: [&str; 10] = [
    "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
    "520489",
];
/// Every wait gives up after this long: a bound on the test, not a
/// timing asserted about the server.
const PATIENCE: Duration = Duration::from_secs(20);
/// The content type of every XML-RPC answer.
const XML_TYPE: &str = "text/xml; charset=utf-8";

fn start(extra: &[&str]) -> Server {
    Spawn::serve().args(extra).start()
}

/// One HTTP answer as read off the wire.
struct Answer {
    /// `HTTP/1.1` or `HTTP/1.0`.
    version: String,
    status: u16,
    /// Names lower-cased, in the order sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {:?} {:?}",
            self.version,
            self.status,
            self.headers,
            self.text()
        )
    }
}

impl Answer {
    /// Every value of header `name` (any case), in order.
    fn headers(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name` (any case), or `None`; two values
    /// fail the test.
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "two {name} headers: {self:?}");
        first
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// A client connection with a read buffer: answers are taken from it one
/// at a time, however the bytes arrived (several answers in one read, or
/// one answer over many).
struct Wire {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Wire {
    async fn connect(server: &Server) -> Wire {
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        // Each write goes out as written (the byte-at-a-time test).
        stream.set_nodelay(true).unwrap();
        Wire {
            stream,
            buffer: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Reads more into the buffer; false at the end of the stream (or a
    /// reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("nothing within {PATIENCE:?}; have {:?}", self.lossy()));
        match read {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.buffer).into_owned()
    }

    /// The next whole answer: head, then a body framed by Content-Length
    /// or chunked (none for 1xx, 204, 304); fails if the connection ends
    /// first.
    async fn answer(&mut self) -> Answer {
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            assert!(
                self.fill().await,
                "closed before a head: {:?}",
                self.lossy()
            );
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("an ASCII head");
        self.buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap().to_owned();
        assert!(version.starts_with("HTTP/1."), "{status_line:?}");
        let status: u16 = parts.next().unwrap().parse().expect("a status code");
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a header line");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let mut answer = Answer {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        if status < 200 || status == 204 || status == 304 {
            return answer;
        }
        if let Some(length) = answer.header("content-length") {
            let length: usize = length.parse().expect("a numeric content-length");
            while self.buffer.len() < length {
                assert!(self.fill().await, "closed mid-body: {answer:?}");
            }
            answer.body = self.buffer.drain(..length).collect();
        } else if answer
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            answer.body = self.chunked_body().await;
        } else {
            // Framed by the end of the connection.
            while self.fill().await {}
            answer.body = std::mem::take(&mut self.buffer);
        }
        answer
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
                self.buffer.drain(..end + 2);
                return line;
            }
            assert!(self.fill().await, "closed mid-chunk");
        }
    }

    async fn chunked_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let size = self.line().await;
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
            if size == 0 {
                while !self.line().await.is_empty() {}
                return body;
            }
            while self.buffer.len() < size + 2 {
                assert!(self.fill().await, "closed mid-chunk");
            }
            body.extend(self.buffer.drain(..size));
            assert_eq!(self.buffer.drain(..2).collect::<Vec<_>>(), b"\r\n");
        }
    }

    /// Whether the server closes the connection (within PATIENCE) with
    /// nothing more sent: no stray bytes after the last answer.
    async fn closed_by_server(&mut self) -> bool {
        assert!(self.buffer.is_empty(), "stray bytes: {:?}", self.lossy());
        let mut byte = [0u8; 1];
        match tokio::time::timeout(PATIENCE, self.stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => panic!("more bytes after the last answer: {byte:?}"),
            Err(_) => false,
        }
    }

    /// Asserts that nothing is left over after the answers read so far.
    fn assert_drained(&self) {
        assert!(self.buffer.is_empty(), "stray bytes: {:?}", self.lossy());
    }
}

/// `POST path` with `body` and the given content type, HTTP/1.1.
fn post(path: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An XML-RPC `Get Counter Based OTP` call at `counter` on `/RPC2`.
fn xml_call(counter: usize) -> Vec<u8> {
    xml_call_at("/RPC2", counter)
}

fn xml_call_at(path: &str, counter: usize) -> Vec<u8> {
    post(path, "text/xml", &xml_body(counter))
}

fn xml_body(counter: usize) -> String {
    run_keyword_xml("Get Counter Based OTP", &[&counter.to_string(), SECRET])
}

/// A JSON-RPC `run_keyword` of `Get Counter Based OTP` at `counter`, with
/// id `id`.
fn json_body(id: u64, counter: usize) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "run_keyword",
        "params": ["Get Counter Based OTP", [counter.to_string(), SECRET]]})
    .to_string()
}

fn json_call(id: u64, counter: usize) -> Vec<u8> {
    post("/jsonrpc", "application/json", &json_body(id, counter))
}

/// Asserts an XML-RPC answer: 200, its content type, a whole response
/// framed exactly by its Content-Length, PASS with RFC 4226's code.
fn assert_xml_code(answer: &Answer, counter: usize) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some(XML_TYPE), "{answer:?}");
    let text = answer.text();
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.trim_end().ends_with("</methodResponse>"), "{text}");
    assert_eq!(member(&text, "status").as_deref(), Some("PASS"), "{text}");
    assert_eq!(
        member(&text, "return").as_deref(),
        Some(RFC4226[counter]),
        "counter {counter}: {text}"
    );
}

/// Asserts a JSON-RPC answer: 200, JSON, framed by its Content-Length,
/// with id `id` and RFC 4226's code.
fn assert_json_code(answer: &Answer, id: u64, counter: usize) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );
    let json = answer.json();
    assert_eq!(json["jsonrpc"], "2.0", "{json}");
    assert_eq!(json["id"], id, "{json}");
    assert_eq!(json["result"]["status"], "PASS", "{json}");
    assert_eq!(json["result"]["return"], RFC4226[counter], "{json}");
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

/// Asserts a `/health` answer: 200 and its JSON saying ok.
fn assert_health(answer: &Answer) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["status"], "ok", "{answer:?}");
}

/// A fresh connection still gets a call answered.
async fn assert_still_serving(server: &Server) {
    let mut wire = Wire::connect(server).await;
    wire.send(&xml_call(9)).await;
    assert_xml_code(&wire.answer().await, 9);
}

#[tokio::test]
async fn pipelined_xmlrpc_calls_in_one_write_are_answered_in_order() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&[xml_call(1), xml_call(2)].concat()).await;
    assert_xml_code(&wire.answer().await, 1);
    assert_xml_code(&wire.answer().await, 2);
    wire.assert_drained();
    // Ten, alternating paths, on the same connection.
    let calls: Vec<u8> = (0..10)
        .flat_map(|c| xml_call_at(if c % 2 == 0 { "/RPC2" } else { "/" }, (c * 3) % 10))
        .collect();
    wire.send(&calls).await;
    for c in 0..10 {
        assert_xml_code(&wire.answer().await, (c * 3) % 10);
    }
    wire.assert_drained();
    // Fifty in one write: more than any one read buffer, so some call is
    // cut by a read's end.
    let calls: Vec<u8> = (0..50).flat_map(|c| xml_call(c % 10)).collect();
    wire.send(&calls).await;
    for c in 0..50 {
        assert_xml_code(&wire.answer().await, c % 10);
    }
    wire.assert_drained();
    // A 30 KiB body (whitespace after the XML declaration) between two
    // small calls, on a fresh connection.
    let mut wire = Wire::connect(&server).await;
    let padded = xml_body(5).replacen("?>", &format!("?>{}", " ".repeat(30 * 1024)), 1);
    wire.send(&[xml_call(4), post("/RPC2", "text/xml", &padded), xml_call(6)].concat())
        .await;
    for counter in [4, 5, 6] {
        assert_xml_code(&wire.answer().await, counter);
    }
    wire.assert_drained();
    // A body far larger than one read (256 KiB of whitespace after the
    // XML declaration) between two small calls.
    let big = xml_body(8).replacen("?>", &format!("?>{}", " ".repeat(256 * 1024)), 1);
    wire.send(&[xml_call(7), post("/RPC2", "text/xml", &big), xml_call(9)].concat())
        .await;
    for counter in [7, 8, 9] {
        assert_xml_code(&wire.answer().await, counter);
    }
    wire.assert_drained();
}

#[tokio::test]
async fn pipelined_xmlrpc_jsonrpc_xmlrpc_are_answered_in_order() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&[xml_call(4), json_call(17, 5), xml_call(6)].concat())
        .await;
    assert_xml_code(&wire.answer().await, 4);
    assert_json_code(&wire.answer().await, 17, 5);
    assert_xml_code(&wire.answer().await, 6);
    wire.assert_drained();
}

#[tokio::test]
async fn a_request_written_a_byte_at_a_time_is_answered() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    for byte in xml_call(7) {
        wire.send(&[byte]).await;
    }
    assert_xml_code(&wire.answer().await, 7);
    wire.assert_drained();
    // A JSON-RPC call too, on a fresh connection (the first request of a
    // connection may be read by another reader than the later ones).
    let mut wire = Wire::connect(&server).await;
    for byte in json_call(3, 8) {
        wire.send(&[byte]).await;
    }
    assert_json_code(&wire.answer().await, 3, 8);
    wire.assert_drained();
}

#[tokio::test]
async fn head_and_body_in_two_writes_are_answered() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    for (call, id, counter) in [
        (xml_call(2), None, 2),
        (json_call(9, 3), Some(9), 3),
        (xml_call_at("/", 4), None, 4),
    ] {
        let head_end = call.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        wire.send(&call[..head_end]).await;
        // The head alone gets no answer: the server waits for the body.
        let mut byte = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(200), wire.stream.peek(&mut byte))
                .await
                .is_err(),
            "an answer before the body was sent"
        );
        wire.send(&call[head_end..]).await;
        let answer = wire.answer().await;
        match id {
            None => assert_xml_code(&answer, counter),
            Some(id) => assert_json_code(&answer, id, counter),
        }
    }
    wire.assert_drained();
}

#[tokio::test]
async fn one_keep_alive_connection_mixes_calls_health_and_metrics() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&xml_call(0)).await;
    assert_xml_code(&wire.answer().await, 0);
    wire.send(HEALTH).await;
    assert_health(&wire.answer().await);
    wire.send(&json_call(2, 1)).await;
    assert_json_code(&wire.answer().await, 2, 1);
    wire.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let metrics = wire.answer().await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    // The two calls before it are counted.
    assert!(
        metrics
            .text()
            .contains("rpa_mfa_method_calls_total{protocol=\"xmlrpc\",method=\"run_keyword\"} 1"),
        "{}",
        metrics.text()
    );
    wire.send(&xml_call(2)).await;
    assert_xml_code(&wire.answer().await, 2);
    // And the same five pipelined in one write.
    // And the same pipelined in one write, with the keyword page (a
    // large answer, over 100 KB) and a namespace's call (the router's).
    let seven = [
        xml_call(3),
        HEALTH.to_vec(),
        json_call(4, 4),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        xml_call_at("/ns/team", 6),
        xml_call(5),
    ]
    .concat();
    wire.send(&seven).await;
    assert_xml_code(&wire.answer().await, 3);
    assert_health(&wire.answer().await);
    assert_json_code(&wire.answer().await, 4, 4);
    let metrics = wire.answer().await;
    assert!(
        metrics.text().contains("rpa_mfa_method_calls_total"),
        "{metrics:?}"
    );
    let page = wire.answer().await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Get Counter Based OTP"), "{page:?}");
    assert_xml_code(&wire.answer().await, 6);
    assert_xml_code(&wire.answer().await, 5);
    wire.assert_drained();
}

/// `body` in chunked framing, cut in pieces of `piece` bytes.
fn chunked(body: &str, piece: usize) -> Vec<u8> {
    let mut framed = Vec::new();
    for part in body.as_bytes().chunks(piece) {
        framed.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        framed.extend_from_slice(part);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(b"0\r\n\r\n");
    framed
}

#[tokio::test]
async fn a_chunked_call_after_a_plain_one_is_answered() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&xml_call(1)).await;
    assert_xml_code(&wire.answer().await, 1);
    let head = "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    wire.send(&[head.as_bytes(), &chunked(&xml_body(2), 50)].concat())
        .await;
    assert_xml_code(&wire.answer().await, 2);
    let head = "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    // Chunked JSON-RPC, pipelined with a plain call after it.
    wire.send(&[head.as_bytes(), &chunked(&json_body(5, 3), 7), &xml_call(4)].concat())
        .await;
    assert_json_code(&wire.answer().await, 5, 3);
    assert_xml_code(&wire.answer().await, 4);
    wire.assert_drained();
}

#[tokio::test]
async fn expect_100_continue_gets_continue_before_the_body_then_the_answer() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    for (path, content_type, body, id) in [
        ("/RPC2", "text/xml", xml_body(6), None),
        ("/jsonrpc", "application/json", json_body(8, 7), Some(8)),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        wire.send(head.as_bytes()).await;
        let interim = wire.answer().await;
        assert_eq!(interim.version, "HTTP/1.1");
        assert_eq!(interim.status, 100, "{interim:?}");
        wire.assert_drained();
        wire.send(body.as_bytes()).await;
        let answer = wire.answer().await;
        match id {
            None => assert_xml_code(&answer, 6),
            Some(id) => assert_json_code(&answer, id, 7),
        }
    }
    wire.assert_drained();
}

#[tokio::test]
async fn connection_close_is_answered_then_closed() {
    let server = start(&[]);
    let body = xml_body(3);
    let mut wire = Wire::connect(&server).await;
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    wire.send(request.as_bytes()).await;
    let answer = wire.answer().await;
    assert_xml_code(&answer, 3);
    assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
    assert!(
        wire.closed_by_server().await,
        "left open after Connection: close"
    );

    // A call pipelined after a `Connection: close` one is not answered.
    let mut wire = Wire::connect(&server).await;
    wire.send(&[request.as_bytes(), &xml_call(4)].concat())
        .await;
    assert_xml_code(&wire.answer().await, 3);
    assert!(wire.closed_by_server().await);
}

#[tokio::test]
async fn an_http_1_0_call_without_keep_alive_is_answered_then_closed() {
    let server = start(&[]);
    let body = xml_body(5);
    let mut wire = Wire::connect(&server).await;
    let request = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: x\r\nContent-Type: text/xml\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    wire.send(request.as_bytes()).await;
    let answer = wire.answer().await;
    assert_eq!(answer.version, "HTTP/1.0", "{answer:?}");
    assert_xml_code(&answer, 5);
    assert!(wire.closed_by_server().await, "HTTP/1.0 left open");

    // HTTP/1.0 asking for keep-alive is kept open.
    let mut wire = Wire::connect(&server).await;
    let keep = request.replace("Host: x\r\n", "Host: x\r\nConnection: keep-alive\r\n");
    wire.send(keep.as_bytes()).await;
    let answer = wire.answer().await;
    assert_xml_code(&answer, 5);
    assert_eq!(
        answer.header("connection").map(str::to_ascii_lowercase),
        Some("keep-alive".to_owned()),
        "{answer:?}"
    );
    wire.send(keep.as_bytes()).await;
    assert_xml_code(&wire.answer().await, 5);
}

/// Asserts that `answer` has a `date` header in IMF-fixdate form within
/// 5 s of this machine's clock.
fn assert_fresh_imf_fixdate(answer: &Answer) {
    let date = answer
        .header("date")
        .unwrap_or_else(|| panic!("no date: {answer:?}"));
    let parsed = httpdate::parse_http_date(date).unwrap_or_else(|e| panic!("{date:?}: {e}"));
    // httpdate also reads the obsolete forms; it writes only IMF-fixdate,
    // so a round trip that gives the same text proves the form.
    assert_eq!(httpdate::fmt_http_date(parsed), date, "not an IMF-fixdate");
    assert_eq!(date.len(), "Sun, 06 Nov 1994 08:49:37 GMT".len(), "{date}");
    let now = SystemTime::now();
    let off = match now.duration_since(parsed) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(off <= Duration::from_secs(5), "{date} is {off:?} off");
}

#[tokio::test]
async fn every_answer_has_a_current_imf_fixdate() {
    let server = start(&["--max-body-size", "1000"]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&[xml_call(1), json_call(1, 2)].concat()).await;
    let mut answers = vec![wire.answer().await, wire.answer().await];
    for request in [
        &b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\nnot-rpc",
    ] {
        wire.send(request).await;
        answers.push(wire.answer().await);
    }
    let mut big = Wire::connect(&server).await;
    big.send(&post("/RPC2", "text/xml", &" ".repeat(1001)))
        .await;
    let refused = big.answer().await;
    assert_eq!(refused.status, 413);
    answers.push(refused);
    let mut expect = Wire::connect(&server).await;
    expect
        .send(
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await;
    // Only the final answer is checked: a 1xx needs no date (RFC 9110 6.6.1).
    assert_eq!(expect.answer().await.status, 100);
    expect.send(b"<x/>\n").await;
    answers.push(expect.answer().await);
    for answer in &answers {
        assert_fresh_imf_fixdate(answer);
    }
    assert_eq!(answers.len(), 8);
}

/// The refusal comes once more than the limit has arrived: today a head
/// announcing a Content-Length over the limit is not refused by itself
/// (the server reads up to the limit first), so each request here sends
/// its whole body.
#[tokio::test]
async fn a_content_length_over_max_body_size_is_refused_in_each_shape() {
    let server = start(&["--max-body-size", "1000"]);
    let padding = " ".repeat(2000);
    for path in ["/RPC2", "/"] {
        let mut wire = Wire::connect(&server).await;
        wire.send(&post(
            path,
            "text/xml",
            &format!("{}{padding}", xml_body(1)),
        ))
        .await;
        let answer = wire.answer().await;
        assert_eq!(answer.status, 413, "{answer:?}");
        assert_eq!(answer.header("content-type"), Some(XML_TYPE));
        let text = answer.text();
        assert!(
            text.contains("<fault>") && text.contains("<int>-32007</int>"),
            "{path}: not an XML-RPC fault: {text}"
        );
        assert!(
            text.contains("Request is too big: the limit is 1000 bytes."),
            "{text}"
        );
    }
    let mut wire = Wire::connect(&server).await;
    wire.send(&post(
        "/jsonrpc",
        "application/json",
        &format!("{}{padding}", json_body(1, 1)),
    ))
    .await;
    let answer = wire.answer().await;
    assert_eq!(answer.status, 413, "{answer:?}");
    let error = answer.json();
    assert_eq!(error["error"]["code"], -32007, "{error}");
    assert_eq!(
        error["error"]["message"],
        "Request is too big: the limit is 1000 bytes."
    );
    assert_eq!(error["id"], Json::Null);
    // A call pipelined after an over-limit body: the rest of that body is
    // never taken for a request. Today hyper reads and drops it, and
    // answers the call; closing after the 413 would also be right.
    let mut wire = Wire::connect(&server).await;
    let over = post("/RPC2", "text/xml", &format!("{}{padding}", xml_body(1)));
    wire.send(&[over, xml_call(7)].concat()).await;
    assert_eq!(wire.answer().await.status, 413);
    if !wire.buffer.is_empty() || wire.fill().await {
        assert_xml_code(&wire.answer().await, 7);
    }
    // Just under the limit is answered.
    let call = xml_body(8);
    assert!(call.len() < 1000);
    let mut wire = Wire::connect(&server).await;
    wire.send(&xml_call(8)).await;
    assert_xml_code(&wire.answer().await, 8);
}

/// Asserts that what comes next on `wire` is a refusal (a 4xx, as hyper
/// answers today: `400`, `connection: close`) followed by the end of the
/// connection, or the end of the connection alone: never an answer to a
/// request the client did not mean.
async fn assert_refused_then_closed(wire: &mut Wire, what: &str) {
    if wire.buffer.is_empty() && !wire.fill().await {
        return;
    }
    let refusal = wire.answer().await;
    assert!((400..500).contains(&refusal.status), "{what}: {refusal:?}");
    assert!(wire.closed_by_server().await, "{what}: left open");
}

#[tokio::test]
async fn malformed_requests_get_a_4xx_or_a_close_and_the_server_keeps_serving() {
    let server = start(&[]);
    let body = xml_body(0);
    let cases: [(&str, Vec<u8>); 4] = [
        ("a bad request line", b"GARBAGE\r\n\r\n".to_vec()),
        (
            "a request line with no version",
            format!("POST /RPC2\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes(),
        ),
        (
            "a non-numeric Content-Length",
            format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n{body}")
                .into_bytes(),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len(),
                body.len() - 1
            )
            .into_bytes(),
        ),
    ];
    for (what, request) in cases {
        let mut wire = Wire::connect(&server).await;
        wire.send(&request).await;
        assert_refused_then_closed(&mut wire, what).await;
        assert_still_serving(&server).await;
        // The same after a good call on a keep-alive connection,
        // pipelined with it.
        let mut wire = Wire::connect(&server).await;
        wire.send(&[xml_call(1), request].concat()).await;
        assert_xml_code(&wire.answer().await, 1);
        assert_refused_then_closed(&mut wire, what).await;
        assert_still_serving(&server).await;
    }
}

/// Content-Length and Transfer-Encoding together (RFC 9112 6.1: chunked
/// wins, and the server should close after answering): the body is read
/// as chunked, never by the Content-Length, so nothing of it is taken
/// for a next request. Today hyper answers the call, with `connection:
/// close`, and closes.
#[tokio::test]
async fn content_length_with_chunked_is_read_as_chunked_then_closed() {
    let server = start(&[]);
    let head = "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    let mut wire = Wire::connect(&server).await;
    wire.send(&[head.as_bytes(), &chunked(&xml_body(2), 64)].concat())
        .await;
    let answer = wire.answer().await;
    if (400..500).contains(&answer.status) {
        assert!(wire.closed_by_server().await, "left open: {answer:?}");
        return;
    }
    assert_xml_code(&answer, 2);
    assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
    assert!(wire.closed_by_server().await, "left open after CL + TE");
}

/// A POST without a body (`Content-Length: 0`, or no length at all: RFC
/// 9112 6.3, no body) is a call with an empty document: today an XML-RPC
/// parse fault with status 200, and the connection goes on.
#[tokio::test]
async fn a_post_without_a_body_gets_a_parse_fault_and_the_connection_goes_on() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    let empty = [
        &b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"[..],
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n",
        &xml_call(3),
    ]
    .concat();
    wire.send(&empty).await;
    for _ in 0..2 {
        let answer = wire.answer().await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("content-type"), Some(XML_TYPE));
        let text = answer.text();
        assert!(
            text.contains("<int>-32700</int>") && text.contains("Parse error: empty document"),
            "{text}"
        );
    }
    assert_xml_code(&wire.answer().await, 3);
    wire.assert_drained();
}

/// Header names in any case, values with spaces around them, the head's
/// lines in any order: read as hyper reads them.
#[tokio::test]
async fn header_names_in_any_case_and_padded_values_are_read() {
    let server = start(&[]);
    let body = xml_body(5);
    let mut wire = Wire::connect(&server).await;
    for head in [
        format!(
            "POST /RPC2 HTTP/1.1\r\ncontent-length: {}\r\nhost: x\r\n\r\n",
            body.len()
        ),
        format!(
            "POST /RPC2 HTTP/1.1\r\nCONTENT-LENGTH:{}\r\nHOST: x\r\n\r\n",
            body.len()
        ),
        format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Padding: a\r\ncOnTeNt-LeNgTh:   {}  \r\n\
             Content-Type:  text/xml \r\n\r\n",
            body.len()
        ),
    ] {
        wire.send(&[head.as_bytes(), body.as_bytes()].concat())
            .await;
        assert_xml_code(&wire.answer().await, 5);
    }
    // `Connection: CLOSE` in capitals is still a close.
    let head = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nconnection: CLOSE\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    wire.send(&[head.as_bytes(), body.as_bytes()].concat())
        .await;
    assert_xml_code(&wire.answer().await, 5);
    assert!(wire.closed_by_server().await);
}

/// A second request cut at every byte: the first call and the start of
/// the second in one write, the rest of the second after the first's
/// answer. Whatever the server read past the first request is kept for
/// the second.
#[tokio::test]
async fn a_pipelined_request_cut_at_any_byte_is_answered() {
    let server = start(&[]);
    let first = xml_call(0);
    let seconds = [
        (Second::Xml(1), xml_call(1)),
        (Second::Json(42, 2), json_call(42, 2)),
        (Second::Health, HEALTH.to_vec()),
        (Second::Xml(3), xml_call_at("/ns/cut", 3)),
    ];
    for (expect, second) in seconds {
        for cut in 1..second.len() {
            // A fresh connection each time: a server may hand a connection
            // over to another reader at the first request it does not
            // finish reading, and every cut must meet the first reader.
            let mut wire = Wire::connect(&server).await;
            wire.send(&[&first[..], &second[..cut]].concat()).await;
            assert_xml_code(&wire.answer().await, 0);
            wire.assert_drained();
            wire.send(&second[cut..]).await;
            let answer = wire.answer().await;
            match expect {
                Second::Xml(counter) => assert_xml_code(&answer, counter),
                Second::Json(id, counter) => assert_json_code(&answer, id, counter),
                Second::Health => assert_health(&answer),
            }
            wire.assert_drained();
        }
    }
}

/// What the second request of [`a_pipelined_request_cut_at_any_byte_is_answered`]
/// is answered with.
enum Second {
    Xml(usize),
    Json(u64, usize),
    Health,
}

/// A WebSocket handshake for `/jsonrpc`, as a request (for the client
/// that writes it by hand).
const UPGRADE: &[u8] = b"GET /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A `Get Counter Based OTP` call at `counter` over `socket`; its answer.
async fn ws_code<S>(socket: &mut WebSocketStream<S>, id: u64, counter: usize) -> Json
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let params = json!(["Get Counter Based OTP", [counter.to_string(), SECRET]]);
    common::ws_call(socket, id, "run_keyword", params).await
}

#[tokio::test]
async fn a_websocket_upgrade_after_a_call_on_the_same_connection_works() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&xml_call(2)).await;
    assert_xml_code(&wire.answer().await, 2);
    wire.assert_drained();
    // A real client's handshake on the connection the call used.
    let (mut socket, response) =
        tokio_tungstenite::client_async(format!("ws://{}/jsonrpc", server.addr()), wire.stream)
            .await
            .expect("the upgrade is accepted");
    assert_eq!(response.status(), 101);
    let answer = ws_code(&mut socket, 11, 6).await;
    assert_eq!(answer["result"]["return"], RFC4226[6], "{answer}");
    let answer = ws_code(&mut socket, 12, 7).await;
    assert_eq!(answer["result"]["return"], RFC4226[7], "{answer}");
}

#[tokio::test]
async fn a_websocket_upgrade_pipelined_after_a_call_works() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    wire.send(&[json_call(1, 0), UPGRADE.to_vec()].concat())
        .await;
    assert_json_code(&wire.answer().await, 1, 0);
    let switching = wire.answer().await;
    assert_eq!(switching.status, 101, "{switching:?}");
    assert_eq!(
        switching.header("upgrade").map(str::to_ascii_lowercase),
        Some("websocket".to_owned())
    );
    // RFC 6455 1.3's example key and its accept value.
    assert_eq!(
        switching.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let mut socket = WebSocketStream::from_partially_read(
        wire.stream,
        std::mem::take(&mut wire.buffer),
        Role::Client,
        None,
    )
    .await;
    let answer = ws_code(&mut socket, 2, 9).await;
    assert_eq!(answer["result"]["return"], RFC4226[9], "{answer}");
}

#[tokio::test]
async fn with_auth_a_wrong_authorization_gets_401_and_a_right_one_an_answer_on_one_connection() {
    use base64::Engine as _;
    let user = ("robot", "robot-pw-Wq3nT8xB");
    let server = Spawn::serve()
        .vault(json!({"rpa-users": {user.0: user.1}}))
        .args(["--users-secret", "rpa-users"])
        .start();
    let basic = |text: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };
    let right = basic(&format!("{}:{}", user.0, user.1));
    let wrong = basic(&format!("{}:not-the-password", user.0));
    let with = |request: Vec<u8>, authorization: &str| {
        let text = String::from_utf8(request).unwrap();
        text.replacen(
            "\r\n",
            &format!("\r\nAuthorization: {authorization}\r\n"),
            1,
        )
        .into_bytes()
    };
    let mut wire = Wire::connect(&server).await;
    wire.send(&with(xml_call(1), &wrong)).await;
    let refused = wire.answer().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_fresh_imf_fixdate(&refused);
    // Both schemes offered (the server takes Basic and Bearer).
    assert_eq!(
        refused.headers("www-authenticate"),
        [
            "Basic realm=\"rpa-mfa\", charset=\"UTF-8\"",
            "Bearer realm=\"rpa-mfa\""
        ],
        "{refused:?}"
    );
    wire.send(&with(xml_call(1), &right)).await;
    assert_xml_code(&wire.answer().await, 1);
    // No Authorization at all, then JSON-RPC with the right one, pipelined.
    wire.send(
        &[
            xml_call(2),
            with(json_call(4, 3), &right),
            with(json_call(5, 3), &wrong),
        ]
        .concat(),
    )
    .await;
    assert_eq!(wire.answer().await.status, 401);
    assert_json_code(&wire.answer().await, 4, 3);
    assert_eq!(wire.answer().await.status, 401);
    wire.send(&with(xml_call(4), &right)).await;
    assert_xml_code(&wire.answer().await, 4);
    wire.assert_drained();
}

#[tokio::test]
async fn a_query_string_and_a_text_plain_jsonrpc_get_todays_answers() {
    let server = start(&[]);
    let mut wire = Wire::connect(&server).await;
    // The route is the path alone (`Direct::route` reads `uri().path()`,
    // axum's router matches paths): a query string changes nothing.
    wire.send(&xml_call_at("/RPC2?x=1", 3)).await;
    assert_xml_code(&wire.answer().await, 3);
    wire.send(&xml_call_at("/?x=1&y", 4)).await;
    assert_xml_code(&wire.answer().await, 4);
    // JSON-RPC over HTTP needs a JSON content type: the direct path passes
    // anything else to jsonrpsee (`answer_text` returns None), which
    // refuses it with 415 Unsupported Media Type.
    wire.send(&post("/jsonrpc?x=1", "application/json", &json_body(6, 5)))
        .await;
    assert_json_code(&wire.answer().await, 6, 5);
    wire.send(&post("/jsonrpc", "text/plain", &json_body(7, 5)))
        .await;
    let refused = wire.answer().await;
    assert_eq!(refused.status, 415, "{refused:?}");
    assert_eq!(refused.header("content-type"), Some("text/plain"));
    assert_eq!(
        refused.text(),
        "Supplied content type is not allowed. Content-Type: application/json is required\n"
    );
    // A JSON type with parameters, in any case, is JSON.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        wire.send(&post("/jsonrpc", content_type, &json_body(9, 4)))
            .await;
        assert_json_code(&wire.answer().await, 9, 4);
    }
    // The connection goes on.
    wire.send(&json_call(8, 6)).await;
    assert_json_code(&wire.answer().await, 8, 6);
    wire.assert_drained();
}

/// Starts an authorization-code flow at `path`'s namespace (so that
/// `Wait For OAuth Callback` has one to wait for) on `wire`.
async fn start_oauth_flow(wire: &mut Wire, path: &str) {
    let body = GENERATE_OAUTH_URL_XML;
    wire.send(&post(path, "text/xml", body)).await;
    let answer = wire.answer().await;
    assert_eq!(member(&answer.text(), "status").as_deref(), Some("PASS"));
}

/// The `rpa_mfa_method_calls_total` of XML-RPC `run_keyword` calls, read
/// on `wire`: a call is counted when it starts.
async fn run_keyword_calls(wire: &mut Wire) -> u64 {
    wire.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let metrics = wire.answer().await.text();
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "rpa_mfa_method_calls_total{protocol=\"xmlrpc\",method=\"run_keyword\"} ",
            )
        })
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn sigterm_during_a_call_on_a_keep_alive_connection_answers_it_whole_then_closes() {
    let mut server = Spawn::serve()
        // Longer than PATIENCE: a connection left open after the answer
        // is not closed by the grace's end within the test's wait.
        .args(["--shutdown-grace", "60"])
        .log(Log::File)
        .env("RPA_MFA_LOG", "info")
        .start();
    let mut wire = Wire::connect(&server).await;
    // A call first: the connection is a used keep-alive one.
    wire.send(&xml_call(1)).await;
    assert_xml_code(&wire.answer().await, 1);
    // In the default namespace, on /RPC2: the calls a robot makes.
    start_oauth_flow(&mut wire, "/RPC2").await;
    // A wait that ends by itself (no redirect comes) three seconds after
    // it starts: SIGTERM comes while it waits (were the machine so slow
    // that it came later, the test would still pass, proving less).
    let wait = post(
        "/RPC2",
        "text/xml",
        &run_keyword_xml("Wait For OAuth Callback", &["3"]),
    );
    let mut watcher = Wire::connect(&server).await;
    let before = run_keyword_calls(&mut watcher).await;
    let sent = SystemTime::now();
    wire.send(&wait).await;
    // The wait is in flight once counted (a call is counted as it starts).
    let deadline = std::time::Instant::now() + PATIENCE;
    while run_keyword_calls(&mut watcher).await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the wait never started"
        );
    }
    drop(watcher);
    server.sigterm();
    let log = server.log_with("stopping").await;
    assert!(
        log.contains("stopping: calls in flight finish first"),
        "{log}"
    );
    let answer = wire.answer().await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let text = answer.text();
    assert!(text.trim_end().ends_with("</methodResponse>"), "{text}");
    assert_eq!(member(&text, "status").as_deref(), Some("FAIL"), "{text}");
    assert!(text.contains("TimeoutError: No redirect"), "{text}");
    // Dated when written, 3 s or more after the call was sent: not a date
    // kept from an earlier answer.
    assert_fresh_imf_fixdate(&answer);
    let dated = httpdate::parse_http_date(answer.header("date").unwrap()).unwrap();
    let sent_second = sent
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let dated_second = dated
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        dated_second >= sent_second + 3,
        "dated {dated_second}, sent at {sent_second}"
    );
    // Then the server closes the keep-alive connection and exits.
    assert!(wire.closed_by_server().await, "left open after the answer");
    let (_, status) = server.wait_stopped();
    assert!(status.success(), "{status}");
}

/// The header and idle deadlines hold on a connection that made a call:
/// idle after it, it is closed; a next head that stops half-way is closed
/// without an answer; a next body that stops half-way gets today's 408
/// (an XML-RPC fault) and a close.
#[tokio::test]
async fn deadlines_hold_on_a_connection_after_a_call() {
    let server = start(&["--idle-timeout", "1", "--header-read-timeout", "1"]);
    let mut idle = Wire::connect(&server).await;
    idle.send(&xml_call(1)).await;
    assert_xml_code(&idle.answer().await, 1);
    assert!(idle.closed_by_server().await, "idle, left open");

    let mut half_head = Wire::connect(&server).await;
    half_head
        .send(&[xml_call(2), b"POST /RPC2 HTTP/1.1\r\nHost".to_vec()].concat())
        .await;
    assert_xml_code(&half_head.answer().await, 2);
    assert!(half_head.closed_by_server().await, "half a head, left open");

    let mut half_body = Wire::connect(&server).await;
    let cut = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<?xml";
    half_body.send(&[xml_call(3), cut.to_vec()].concat()).await;
    assert_xml_code(&half_body.answer().await, 3);
    let late = half_body.answer().await;
    assert_eq!(late.status, 408, "{late:?}");
    assert!(
        late.text()
            .contains("The request body did not arrive within 1 s."),
        "{late:?}"
    );
    assert!(half_body.closed_by_server().await, "after a 408, left open");
    assert_still_serving(&server).await;
}
