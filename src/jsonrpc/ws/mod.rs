//! JSON-RPC over WebSocket on `/jsonrpc`, served by the connection's own
//! task: the same messages jsonrpsee's WebSocket server sent and took
//! (calls, batches, `subscribe_totp` / `unsubscribe_totp` and the `totp`
//! notifications), without its cost per socket.
//!
//! Why not jsonrpsee here (measured with `bench/subscribers.sh`): its
//! server puts an 8 KiB read and an 8 KiB write buffer around every
//! WebSocket (not configurable in 0.26), and runs two tasks per socket and
//! one per subscription with channels between them: 28.7 KiB per
//! subscriber. Here a socket is one task (the connection's, see
//! [`crate::listen`]), tungstenite with a small read buffer and writes
//! going straight to the socket, and subscriptions polled in place.
//!
//! Limits are those of the jsonrpsee server it replaces: `--max-websockets`
//! (429 past it), `--max-subscriptions` per socket, `--max-body-size` per
//! message, a ping at least every `--ws-ping-interval` (at random from half
//! of it, so sockets opened together do not ping in step) and a socket that says
//! nothing for three intervals closed. A slow reader gets nothing new
//! (no answer, no request read) until what it was sent is written, so it
//! holds at most the answers of the calls it has running, and the latest
//! code of each subscription.
//!
//! On plain TCP the live codes are written into the socket by the timer's
//! task, not the socket's (`outlet.rs`): at a period boundary no
//! subscriber's task is woken, unless its socket would block. TLS sockets
//! get their codes through their own task, as every other message.

mod dispatch;
mod feeds;
mod outlet;
mod session;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonrpsee::server::Methods;
use rpa_mfa_keywords::otp::live::LiveCodes;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use self::session::Session;
use crate::auth::Identity;
use crate::config::Limits;
use crate::listen::Activity;
use crate::remote::RemoteApi;

/// Bytes read from a socket at a time (tungstenite allocates them up
/// front): a call of a keyword fits; a longer message grows the buffer.
const READ_BUFFER: usize = 256;

/// What every WebSocket of a server shares.
pub struct WsServer {
    api: Arc<RemoteApi>,
    /// jsonrpsee's method table, for what is not answered directly.
    methods: Methods,
    /// One timer per secret and period for every subscription.
    live: Arc<LiveCodes>,
    ticks: feeds::TickTexts,
    open: AtomicU32,
    max_websockets: u32,
    max_subscriptions: usize,
    ping_interval: Duration,
    config: WebSocketConfig,
}

impl WsServer {
    pub fn new(api: Arc<RemoteApi>, methods: Methods, limits: &Limits) -> Arc<WsServer> {
        let live = LiveCodes::new(api.gate().services().clock.clone());
        Arc::new(WsServer {
            api,
            methods,
            live,
            ticks: feeds::TickTexts::default(),
            open: AtomicU32::new(0),
            max_websockets: limits.max_websockets,
            max_subscriptions: limits.max_subscriptions as usize,
            ping_interval: limits.ws_ping_interval,
            config: WebSocketConfig::default()
                .read_buffer_size(READ_BUFFER)
                // Every message goes to the socket at once.
                .write_buffer_size(0)
                .max_message_size(Some(limits.max_body_size))
                .max_frame_size(Some(limits.max_body_size)),
        })
    }

    /// Answers a WebSocket handshake on `/jsonrpc`: 101, with the socket
    /// handed to the connection's task to serve, or a refusal.
    pub fn upgrade(self: &Arc<Self>, mut request: Request) -> Response {
        let Some(activity) = request.extensions().get::<Activity>().cloned() else {
            // Only a router served outside `crate::listen` gets here.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "WebSockets are not served here",
            )
                .into_response();
        };
        let headers = request.headers();
        let version_13 = headers.get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) == Some(b"13");
        let key = match headers.get(SEC_WEBSOCKET_KEY) {
            Some(key) if version_13 && request.method() == Method::GET => {
                derive_accept_key(key.as_bytes())
            }
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    "WS upgrade handshake failed: a GET with Sec-WebSocket-Version 13 and a \
Sec-WebSocket-Key is needed",
                )
                    .into_response()
            }
        };
        let Some(permit) = Permit::take(self) else {
            return jsonrpsee::server::http::response::too_many_requests().map(Body::new);
        };
        let upgrade = hyper::upgrade::on(&mut request);
        let identity = request.extensions().get::<Identity>().cloned();
        activity.hand_over(Box::new(Session::new(
            self.clone(),
            identity,
            activity.clone(),
            upgrade,
            permit,
        )));
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&key) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// One place under `--max-websockets`, given back when dropped.
struct Permit(Arc<WsServer>);

impl Permit {
    fn take(server: &Arc<WsServer>) -> Option<Permit> {
        server
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < server.max_websockets).then_some(open + 1)
            })
            .ok()
            .map(|_| Permit(server.clone()))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}
