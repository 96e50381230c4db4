//! One WebSocket's life, in its connection's task: reads messages, runs
//! their calls, polls its subscriptions, pings, and writes, until the
//! client leaves, goes silent, or the connection is told to close.

use std::future::{poll_fn, Future};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use jsonrpsee::server::{IdProvider, RandomIntegerIdProvider};
use jsonrpsee::types::error::reject_too_big_request;
use jsonrpsee::types::{Id, SubscriptionId};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;
use tokio::time::{sleep, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{error::CapacityError, Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::dispatch::{self, Done, Incoming, Pending, Sender};
use super::feeds::{CodeSink, Delivery, Feeds};
use super::outlet::SocketIo;
use super::{Permit, WsServer};
use crate::auth::Identity;
use crate::listen::{Activity, Busy};

/// Calls one WebSocket may have running; past it its next message is not
/// read until one ends (a bound on what a client that sends without
/// reading can make the server hold).
const MAX_CALLS: usize = 64;

/// How long after a code a ping waits (at most a quarter of the ping
/// interval): the rush of codes at a period boundary lasts about this long
/// with 10,000 subscribers (`bench/subscribers.sh`).
const PING_QUIET: Duration = Duration::from_millis(500);

/// A WebSocket accepted by the handshake, waiting for its connection's
/// task to serve it.
pub struct Session {
    server: Arc<WsServer>,
    identity: Option<Identity>,
    activity: Activity,
    upgrade: OnUpgrade,
    _permit: Permit,
}

/// What woke the session.
enum Event {
    Message(Message),
    Done(Done),
    Delivery(Delivery),
    /// Time for a ping, or to see whether the client went silent.
    Ping,
    /// The connection was told to close.
    Close,
    /// Every call running at the close has answered.
    Finished,
    /// The socket failed or the client left.
    Gone(Option<WsError>),
}

impl Session {
    pub(super) fn new(
        server: Arc<WsServer>,
        identity: Option<Identity>,
        activity: Activity,
        upgrade: OnUpgrade,
        permit: Permit,
    ) -> Session {
        Session {
            server,
            identity,
            activity,
            upgrade,
            _permit: permit,
        }
    }

    /// Serves the WebSocket until the client leaves or goes silent, or
    /// `close` is notified: then running calls answer, subscriptions end,
    /// and the close handshake is sent.
    pub async fn serve(self, close: &Notify) {
        let io = match self.upgrade.await {
            Ok(upgraded) => SocketIo::new(upgraded),
            Err(e) => {
                tracing::debug!("WebSocket upgrade failed: {e}");
                return;
            }
        };
        let server = self.server;
        let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(server.config)).await;
        // Plain TCP: codes are written by the timers' tasks (see `outlet`).
        let outlet = ws.get_ref().outlet().cloned();
        let sender = Sender {
            server: server.clone(),
            identity: self.identity,
        };
        let interval = server.ping_interval;
        let mut feeds = Feeds::default();
        let mut calls: Vec<Pending> = Vec::new();
        let mut subscribing = 0;
        let mut busy: Option<Busy> = None;
        let mut unflushed = false;
        let mut closing = false;
        let mut last_heard = Instant::now();
        // When the last code was written (by this task; on plain TCP the
        // timers' tasks write them, and the outlet knows), and whether the
        // ping due now was already put off once because of it.
        let mut last_code: Option<Instant> = None;
        let mut ping_put_off = false;
        // The first ping at once, as jsonrpsee sent it.
        let ping = sleep(Duration::ZERO);
        let closed = close.notified();
        tokio::pin!(ping, closed);
        loop {
            let event = poll_fn(|cx| {
                if !closing && closed.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Close);
                }
                // Codes waiting for the socket: written by the flush, and
                // a backlog like tungstenite's own.
                if outlet.as_ref().is_some_and(|o| o.has_waiting(cx)) {
                    unflushed = true;
                }
                if unflushed {
                    match ws.poll_flush_unpin(cx) {
                        Poll::Ready(Ok(())) => unflushed = false,
                        Poll::Ready(Err(e)) => return Poll::Ready(Event::Gone(Some(e))),
                        Poll::Pending => {}
                    }
                }
                if ping.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Ping);
                }
                // A client not reading gets nothing new until its backlog
                // is written.
                if unflushed {
                    return Poll::Pending;
                }
                for at in 0..calls.len() {
                    if let Poll::Ready(done) = calls[at].as_mut().poll(cx) {
                        drop(calls.swap_remove(at));
                        return Poll::Ready(Event::Done(done));
                    }
                }
                if closing && calls.is_empty() {
                    return Poll::Ready(Event::Finished);
                }
                if closing {
                    return Poll::Pending;
                }
                if let Poll::Ready(delivery) = feeds.poll_next(cx) {
                    return Poll::Ready(Event::Delivery(delivery));
                }
                if calls.len() < MAX_CALLS {
                    return match ws.poll_next_unpin(cx) {
                        Poll::Ready(Some(Ok(message))) => Poll::Ready(Event::Message(message)),
                        Poll::Ready(Some(Err(e))) => Poll::Ready(Event::Gone(Some(e))),
                        Poll::Ready(None) => Poll::Ready(Event::Gone(None)),
                        Poll::Pending => Poll::Pending,
                    };
                }
                Poll::Pending
            })
            .await;
            let mut out = None;
            match event {
                Event::Message(message) => {
                    last_heard = Instant::now();
                    let data = match &message {
                        Message::Text(text) => text.as_bytes(),
                        Message::Binary(data) => &data[..],
                        // tungstenite answers pings and closes itself;
                        // its answer is written with the next flush, and
                        // no code follows a close.
                        Message::Close(_) => {
                            feeds.clear();
                            unflushed = true;
                            continue;
                        }
                        _ => {
                            unflushed = true;
                            continue;
                        }
                    };
                    match sender.read(data) {
                        Incoming::Answer(text) => out = Some(text),
                        Incoming::Start(work) => start(&mut calls, work),
                        Incoming::Subscribe(id, work) => {
                            if feeds.len() + subscribing >= server.max_subscriptions {
                                let max = server.max_subscriptions as u32;
                                let refusal =
                                    jsonrpsee::types::error::reject_too_many_subscriptions(max);
                                out = Some(dispatch::error(id, refusal));
                            } else {
                                subscribing += 1;
                                start(&mut calls, work);
                            }
                        }
                        Incoming::Unsubscribe(id, subscription) => {
                            let ended = subscription.is_some_and(|s| feeds.remove(s));
                            if let (Some(outlet), Some(s)) = (&outlet, subscription) {
                                outlet.forget(s);
                            }
                            out = Some(dispatch::unsubscribed(id, ended));
                        }
                        Incoming::Nothing => {}
                    }
                }
                Event::Done(Done::Answer(text)) => out = Some(text),
                Event::Done(Done::Subscribed {
                    id,
                    namespace,
                    mut feed,
                }) => {
                    subscribing -= 1;
                    let subscription = new_subscription_id();
                    if let Some(outlet) = &outlet {
                        feed.deliver_to(Arc::new(CodeSink {
                            server: server.clone(),
                            outlet: outlet.clone(),
                            subscription,
                        }));
                    }
                    feeds.add(subscription, &namespace, feed);
                    out = Some(dispatch::subscribed(id, subscription));
                }
                Event::Delivery(Delivery::Code(subscription, tick)) => {
                    last_code = Some(Instant::now());
                    out = Some(server.ticks.notification(subscription, &tick));
                }
                Event::Delivery(Delivery::Ended) => {}
                Event::Ping => {
                    // Codes go out at a period boundary to every socket
                    // following the secret at once: a ping (and the pong
                    // read back) due in that rush waits until it is over.
                    // Once only, so pings never starve.
                    let quiet = PING_QUIET.min(interval / 4);
                    let last_code = last_code.or_else(|| outlet.as_ref()?.last_code());
                    if let Some(at) = last_code.filter(|at| !ping_put_off && at.elapsed() < quiet) {
                        ping_put_off = true;
                        ping.as_mut().reset(at + quiet.mul_f64(1.0 + random_unit()));
                        continue;
                    }
                    ping_put_off = false;
                    // Not reading because its calls are at the cap, the
                    // server cannot hear the client: that is no silence.
                    if calls.len() >= MAX_CALLS {
                        last_heard = Instant::now();
                    }
                    if last_heard.elapsed() > interval * 3 {
                        tracing::debug!("WebSocket closed: nothing heard for three ping intervals");
                        return;
                    }
                    ping.as_mut().reset(next_ping(interval));
                    if !unflushed {
                        if ws
                            .start_send_unpin(Message::Ping(Default::default()))
                            .is_err()
                        {
                            return;
                        }
                        unflushed = true;
                    }
                }
                Event::Close => {
                    closing = true;
                    feeds.clear();
                }
                Event::Finished => {
                    drop(busy);
                    // Boxed, as below: kept inline, the wait would be part
                    // of every socket's future for its whole life.
                    let _ = Box::pin(ws.close(None)).await;
                    return;
                }
                Event::Gone(Some(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    let max = u32::try_from(server.config.max_message_size.unwrap_or(0))
                        .unwrap_or(u32::MAX);
                    Box::pin(refuse_too_big(ws, max)).await;
                    return;
                }
                Event::Gone(e) => {
                    if let Some(e) = e {
                        tracing::debug!("WebSocket ended: {e}");
                    }
                    return;
                }
            }
            if let Some(text) = out.filter(|t| !t.is_empty()) {
                if ws.start_send_unpin(Message::text(text)).is_err() {
                    return;
                }
                unflushed = true;
            }
            // Busy (never closed as idle or to make room) while a call runs
            // or a subscription is open.
            let active = !calls.is_empty() || feeds.len() > 0;
            match (active, busy.is_some()) {
                (true, false) => busy = Some(self.activity.busy()),
                (false, true) => busy = None,
                _ => {}
            }
        }
    }
}

/// Adds work a message started. The first keeps room for one only: a
/// subscriber's socket runs one call in its life (its `subscribe_totp`),
/// and `push` would keep room for four for as long as the socket lives.
fn start(calls: &mut Vec<Pending>, work: Pending) {
    if calls.capacity() == 0 {
        calls.reserve_exact(1);
    }
    calls.push(work);
}

/// Answers a message over `--max-body-size` as jsonrpsee did: the error
/// with a null id, then the close, as the rest of the message cannot be
/// skipped. A future of its own (boxed by the caller): its 1 KiB drain
/// buffer and timer would otherwise be part of every socket's future,
/// 1.1 KB of its 2.2 KB (`tests::a_socket_future_stays_small`).
async fn refuse_too_big(mut ws: WebSocketStream<SocketIo>, max: u32) {
    let refusal = dispatch::error(Id::Null, reject_too_big_request(max));
    let _ = ws.feed(Message::text(refusal)).await;
    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: "message too big".into(),
    };
    let _ = ws.close(Some(frame)).await;
    // Dropping a socket with the rest of the message still unread makes
    // the kernel answer with a RST, which can destroy the error before the
    // client reads it: what it still sends is read and dropped for a
    // bounded moment.
    let mut io = ws.into_inner();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut sink = [0u8; 1024];
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// When to ping next: between half and all of `interval` from now, at
/// random. Sockets opened together would otherwise ping together for
/// ever, and such a wave (a ping written and a pong read per socket)
/// landing on a period boundary delays every live code behind it.
/// Silence is still judged against the whole interval.
fn next_ping(interval: Duration) -> Instant {
    Instant::now() + interval.mul_f64(0.5 + 0.5 * random_unit())
}

/// A random number in [0, 1).
fn random_unit() -> f64 {
    // A fresh RandomState has fresh keys: its hash of anything is random.
    let random = RandomState::new().hash_one(0u8);
    (random >> 11) as f64 / (1u64 << 53) as f64
}

/// A subscription id as jsonrpsee makes them: a random integer below 2^53.
fn new_subscription_id() -> u64 {
    match RandomIntegerIdProvider.next_id() {
        SubscriptionId::Num(n) => n,
        // Not reached: the integer provider.
        SubscriptionId::Str(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `f` returns, without calling it.
    fn returned_size<F, R>(_: &F) -> usize
    where
        F: Fn(Session, &'static Notify) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// Every WebSocket holds its `serve` future (boxed, in its connection's
    /// task) for its whole life: 10,000 subscribers hold 10,000 of them.
    /// A rare path's buffer or timer kept inline (the too-big refusal's
    /// 1 KiB drain: 2,216 bytes in a release build, 1,360 without) costs
    /// every socket; such paths are futures of their own.
    #[test]
    fn a_socket_future_stays_small() {
        let size = returned_size(&Session::serve);
        eprintln!("Session::serve's future: {size} bytes");
        assert!(size <= MAX_SERVE_FUTURE, "{size} bytes");
    }

    /// 1,432 bytes measured in a debug build (1,360 before a plain-TCP
    /// socket kept its outlet, `outlet.rs`).
    const MAX_SERVE_FUTURE: usize = 1536;
}
