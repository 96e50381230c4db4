//! A WebSocket's live-code subscriptions, polled by the connection's own
//! task (no task, channel or buffer per subscription), and the `totp`
//! notifications they send, each tick's JSON written once for all
//! subscribers of its secret.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures_util::stream::{self, Stream};
use rpa_mfa_keywords::otp::live::{TickSink, TotpFeed, TotpTick};
use rpa_mfa_keywords::KeywordError;

use super::outlet::Outlet;
use super::WsServer;
use crate::jsonrpc::TOTP_NOTIFICATION;

/// A feed's codes as a stream: one allocation for the subscription's
/// life (a boxed future per code was an allocation and a free per
/// subscriber at every boundary).
type Codes = Pin<Box<dyn Stream<Item = Result<Arc<TotpTick>, KeywordError>> + Send>>;

fn codes(feed: TotpFeed) -> Codes {
    Box::pin(stream::unfold(feed, |mut feed| async move {
        let tick = feed.next().await;
        Some((tick, feed))
    }))
}

/// One open subscription.
struct Feed {
    /// The subscription id the client was given (jsonrpsee's kind: a
    /// random integer below 2^53).
    id: u64,
    namespace: Box<str>,
    codes: Codes,
}

/// The subscriptions of one WebSocket.
#[derive(Default)]
pub(super) struct Feeds {
    open: Vec<Feed>,
}

/// A code for a subscription, or the end of it.
pub(super) enum Delivery {
    Code(u64, Arc<TotpTick>),
    Ended,
}

impl Feeds {
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn add(&mut self, id: u64, namespace: &str, feed: TotpFeed) {
        tracing::info!(namespace, "live TOTP codes: subscribed");
        // Room for this one only: a socket most often has one subscription,
        // and `push` would keep room for four (120 bytes per subscriber).
        self.open.reserve_exact(1);
        self.open.push(Feed {
            id,
            namespace: namespace.into(),
            codes: codes(feed),
        });
    }

    /// Ends a subscription; false when this WebSocket has none by that id.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(at) = self.open.iter().position(|f| f.id == id) else {
            return false;
        };
        let feed = self.open.swap_remove(at);
        tracing::info!(
            namespace = &*feed.namespace,
            "live TOTP codes: unsubscribed"
        );
        true
    }

    /// The next code of any subscription. Polls each: a WebSocket holds at
    /// most `--max-subscriptions` (16), most often one.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Delivery> {
        for at in 0..self.open.len() {
            let feed = &mut self.open[at];
            if let Poll::Ready(tick) = feed.codes.as_mut().poll_next(cx) {
                let id = feed.id;
                return Poll::Ready(match tick {
                    Some(Ok(tick)) => Delivery::Code(id, tick),
                    // The secret was removed or the store failed: the
                    // subscription ends, as it did under jsonrpsee.
                    Some(Err(_)) | None => {
                        self.remove(id);
                        Delivery::Ended
                    }
                });
            }
        }
        Poll::Pending
    }

    /// Ends every subscription (the WebSocket is closing).
    pub fn clear(&mut self) {
        while let Some(feed) = self.open.first() {
            let id = feed.id;
            self.remove(id);
        }
    }
}

/// However the WebSocket ends, each subscription's end is logged.
impl Drop for Feeds {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The JSON of the ticks being sent, shared by every WebSocket: a timer's
/// tick reaches all subscribers of its secret as one `Arc`, and is written
/// as JSON once. Entries go when their tick is dropped.
#[derive(Default)]
pub(super) struct TickTexts {
    texts: Mutex<Vec<(Weak<TotpTick>, Arc<str>)>>,
}

impl TickTexts {
    fn text(&self, tick: &Arc<TotpTick>) -> Arc<str> {
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, text)) = texts
            .iter()
            .find(|(t, _)| std::ptr::eq(t.as_ptr(), Arc::as_ptr(tick)))
        {
            return text.clone();
        }
        texts.retain(|(t, _)| t.strong_count() > 0);
        // Not reached: a tick is plain numbers and text.
        let text: Arc<str> = serde_json::to_string(&**tick)
            .unwrap_or_else(|_| "null".into())
            .into();
        texts.push((Arc::downgrade(tick), text.clone()));
        text
    }

    /// The `totp` notification of `tick` for subscription `id`, as
    /// jsonrpsee writes it: `{"jsonrpc":"2.0","method":"totp","params":
    /// {"subscription":ID,"result":TICK}}`.
    pub fn notification(&self, id: u64, tick: &Arc<TotpTick>) -> String {
        let result = self.text(tick);
        // Exactly its length: a frame's text becomes `Bytes`, which takes
        // a string with spare room only with an allocation of its own.
        let mut text = Vec::with_capacity(notification_len(id, &result));
        push_notification(&mut text, id, &result);
        // Not reached: the parts are UTF-8.
        String::from_utf8(text).unwrap_or_default()
    }

    /// The notification as a whole WebSocket text frame from a server
    /// (RFC 6455 5.2: FIN and opcode 1, the length, no mask), to be
    /// written to the socket as it is.
    pub fn frame(&self, id: u64, tick: &Arc<TotpTick>) -> Vec<u8> {
        let result = self.text(tick);
        let len = notification_len(id, &result);
        let mut frame = Vec::with_capacity(len + 10);
        frame.push(0x81);
        match len {
            0..=125 => frame.push(len as u8),
            126..=0xFFFF => {
                frame.push(126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        push_notification(&mut frame, id, &result);
        frame
    }
}

const HEAD: &str = "{\"jsonrpc\":\"2.0\",\"method\":\"";
const PARAMS: &str = "\",\"params\":{\"subscription\":";
const RESULT: &str = ",\"result\":";

fn notification_len(id: u64, result: &str) -> usize {
    let digits = id.checked_ilog10().unwrap_or(0) as usize + 1;
    HEAD.len() + TOTP_NOTIFICATION.len() + PARAMS.len() + digits + RESULT.len() + result.len() + 2
}

fn push_notification(out: &mut Vec<u8>, id: u64, result: &str) {
    out.extend_from_slice(HEAD.as_bytes());
    out.extend_from_slice(TOTP_NOTIFICATION.as_bytes());
    out.extend_from_slice(PARAMS.as_bytes());
    let _ = write!(out, "{id}");
    out.extend_from_slice(RESULT.as_bytes());
    out.extend_from_slice(result.as_bytes());
    out.extend_from_slice(b"}}");
}

/// One subscription's codes, written by whichever task has them (the
/// timer's at a boundary) straight into a plain-TCP socket.
pub(super) struct CodeSink {
    pub server: Arc<WsServer>,
    pub outlet: Arc<Outlet>,
    pub subscription: u64,
}

impl TickSink for CodeSink {
    fn deliver(&self, tick: &Arc<TotpTick>) {
        let frame = self.server.ticks.frame(self.subscription, tick);
        self.outlet.send(self.subscription, frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonrpsee::types::response::{SubscriptionPayload, SubscriptionResponse};
    use jsonrpsee::types::SubscriptionId;

    fn tick(seconds_left: f64) -> Arc<TotpTick> {
        Arc::new(TotpTick {
            code: "07081804".into(),
            period: 30,
            period_start: 1_111_111_080,
            period_end: 1_111_111_110,
            seconds_left,
        })
    }

    /// Byte for byte what jsonrpsee sent for the same tick.
    #[test]
    fn notifications_are_jsonrpsees() {
        let texts = TickTexts::default();
        for (id, tick) in [
            (0, tick(9.5)),
            (7, tick(9.5)),
            (10, tick(0.001)),
            (9_007_199_254_740_991, tick(30.0)),
        ] {
            let jsonrpsee = serde_json::to_string(&SubscriptionResponse::new(
                TOTP_NOTIFICATION.into(),
                SubscriptionPayload {
                    subscription: SubscriptionId::Num(id),
                    result: &*tick,
                },
            ))
            .unwrap();
            let text = texts.notification(id, &tick);
            assert_eq!(text, jsonrpsee);
            assert_eq!(text.capacity(), text.len());
        }
    }

    #[test]
    fn a_tick_is_written_once_and_forgotten_when_dropped() {
        let texts = TickTexts::default();
        let shared = tick(30.0);
        let first = texts.text(&shared);
        assert!(Arc::ptr_eq(&first, &texts.text(&shared)));
        // Another tick with equal fields is another entry.
        let other = tick(30.0);
        assert!(!Arc::ptr_eq(&first, &texts.text(&other)));
        drop((shared, other));
        texts.text(&tick(1.0));
        assert_eq!(texts.texts.lock().unwrap().len(), 1);
    }
}
