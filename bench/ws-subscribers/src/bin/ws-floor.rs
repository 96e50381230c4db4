//! The floor under `ws-subscribers`' figures: a bare server that speaks
//! just enough WebSocket and JSON-RPC for the client (the handshake, a
//! `PASS` for `run_keyword`, an id for `subscribe_totp` and a first code),
//! and at each period boundary writes one canned `totp` notification, the
//! size rpa-mfa's is, to every socket from two threads: no runtime, no
//! task or timer per subscriber, no code computed.
//!
//! Why: the delay after the boundary is mostly the kernel's cost of one
//! loopback send per subscriber (and the client's receive, on the same
//! cores). What this server's subscribers wait is what any server on this
//! machine would make them wait at least. Run by `bench/subscribers.sh
//! --floor`.
//!
//! Usage: ws-floor PORT_FILE [PERIOD]
//!
//! Binds 127.0.0.1 on a free port, writes it to PORT_FILE; runs until
//! killed.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Threads writing at a boundary: the machine's two cores.
const WRITERS: usize = 2;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port_file = args.next().expect("usage: ws-floor PORT_FILE [PERIOD]");
    let period: u64 = args.next().map_or(30, |p| p.parse().expect("PERIOD"));
    let listener = TcpListener::bind("127.0.0.1:0")?;
    std::fs::write(&port_file, listener.local_addr()?.port().to_string())?;
    let subscribers: Arc<RwLock<Vec<TcpStream>>> = Arc::default();
    for writer in 0..WRITERS {
        let boundaries = subscribers.clone();
        std::thread::spawn(move || boundary_writer(&boundaries, period, writer));
    }
    for stream in listener.incoming() {
        let subscribers = subscribers.clone();
        // Handshakes on their own threads: the client opens a few hundred
        // at a time and waits for each.
        std::thread::spawn(move || {
            if let Ok(Some(stream)) = stream.and_then(|s| serve(s, period)) {
                subscribers.write().unwrap().push(stream);
            }
        });
    }
    Ok(())
}

/// Handshake and calls until `subscribe_totp`; then the subscriber's
/// socket, its first code sent.
fn serve(mut stream: TcpStream, period: u64) -> io::Result<Option<TcpStream>> {
    stream.set_nodelay(true)?;
    let head = read_head(&mut stream)?;
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or_else(|| io::Error::other("no Sec-WebSocket-Key"))?;
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )?;
    loop {
        let Some(request) = read_frame(&mut stream)? else {
            return Ok(None);
        };
        if request.contains("\"subscribe_totp\"") {
            stream.write_all(&frame(
                br#"{"jsonrpc":"2.0","id":1,"result":8368420614467600}"#,
            ))?;
            let now = unix_now();
            let start = now as u64 / period * period;
            stream.write_all(&frame(notification(start, period, now).as_bytes()))?;
            return Ok(Some(stream));
        }
        stream.write_all(&frame(
            br#"{"jsonrpc":"2.0","id":1,"result":{"output":"","return":null,"status":"PASS"}}"#,
        ))?;
    }
}

/// At each boundary, the new period's notification to every `WRITERS`th
/// subscriber from `writer` on. The writers live as long as the server, so
/// the client's reading of the server's CPU time counts them.
fn boundary_writer(subscribers: &RwLock<Vec<TcpStream>>, period: u64, writer: usize) {
    loop {
        let now = unix_now();
        let boundary = (now as u64 / period + 1) * period;
        std::thread::sleep(Duration::from_secs_f64(boundary as f64 - now));
        let bytes = frame(notification(boundary, period, boundary as f64).as_bytes());
        let subscribers = subscribers.read().unwrap();
        for mut socket in subscribers.iter().skip(writer).step_by(WRITERS) {
            let _ = socket.write_all(&bytes);
        }
    }
}

/// rpa-mfa's `totp` notification, with a fixed code.
fn notification(start: u64, period: u64, now: f64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"totp","params":{{"subscription":8368420614467600,"result":{{"code":"553799","period":{period},"period_start":{start},"period_end":{},"seconds_left":{:.3}}}}}}}"#,
        start + period,
        (start + period) as f64 - now
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The request head, up to its blank line.
fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 || head.len() > 8192 {
            return Err(io::Error::other("no request head"));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// One masked client frame's payload as text; `None` at close or EOF.
fn read_frame(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut start = [0u8; 2];
    if stream.read_exact(&mut start).is_err() || start[0] & 0x0f == 0x8 {
        return Ok(None);
    }
    let len = match start[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext)?;
            u16::from_be_bytes(ext) as usize
        }
        127 => return Err(io::Error::other("frame too long")),
        n => n as usize,
    };
    let mut mask = [0u8; 4];
    stream.read_exact(&mut mask)?;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(String::from_utf8_lossy(&payload).into_owned()))
}

/// An unmasked text frame.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}
