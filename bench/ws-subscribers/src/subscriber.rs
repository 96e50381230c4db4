//! One WebSocket subscriber: connects, subscribes to a namespace's live
//! TOTP codes, and reports when each new period's code arrives.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::arrival::TimedStream;

/// Unix time now, in seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What a subscriber tells the main task.
pub enum Event {
    /// Subscribed: the first code has arrived.
    Subscribed,
    /// A code of a later period: when its bytes reached the client's
    /// socket (the kernel's stamp) and when the client had read it (Unix
    /// seconds).
    Code {
        period_start: u64,
        arrived: f64,
        read: f64,
    },
    /// The connection or subscription failed.
    Failed(String),
}

/// A JSON-RPC call over an open WebSocket, answered before anything else.
pub async fn call<S>(socket: &mut S, method: &str, params: Value) -> Result<Value, String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    socket
        .send(Message::text(request.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| e.to_string())?;
        if let Message::Text(text) = message {
            let answer: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if answer.get("id") == Some(&json!(1)) {
                return match answer.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(answer["result"].clone()),
                };
            }
        }
    }
    Err(format!("{method}: the connection closed"))
}

/// Subscribes to `namespace` over `url` and reports each code until the
/// connection ends or the main task stops listening.
pub async fn run(url: String, namespace: String, events: mpsc::UnboundedSender<Event>) {
    if let Err(e) = follow(&url, &namespace, &events).await {
        let _ = events.send(Event::Failed(e));
    }
}

async fn follow(
    url: &str,
    namespace: &str,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(), String> {
    // ws://HOST:PORT/PATH: the socket is opened here to stamp its reads.
    let address = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default();
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let timed = TimedStream::new(tcp).map_err(|e| format!("SO_TIMESTAMPNS: {e}"))?;
    let (mut socket, _) = tokio_tungstenite::client_async(url, timed)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    call(
        &mut socket,
        "subscribe_totp",
        json!({"namespace": namespace}),
    )
    .await?;
    let mut first = true;
    while let Some(message) = socket.next().await {
        let read = now();
        let arrived = socket.get_ref().arrived();
        let Message::Text(text) = message.map_err(|e| e.to_string())? else {
            continue;
        };
        let Some(period_start) = period_start(&text) else {
            continue;
        };
        let event = if first {
            first = false;
            Event::Subscribed
        } else {
            Event::Code {
                period_start,
                arrived,
                read,
            }
        };
        if events.send(event).is_err() {
            return Ok(());
        }
    }
    Err("the connection closed".into())
}

/// The `period_start` of a `totp` notification, found without parsing the
/// whole JSON into a tree: the client shares the cores with the server,
/// so reading 10,000 codes must cost it little.
fn period_start(text: &str) -> Option<u64> {
    let key = "\"period_start\":";
    let at = text.find(key)? + key.len();
    let digits = text[at..].trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}
