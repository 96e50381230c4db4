//! What one WebSocket message asks for, answered as jsonrpsee's WebSocket
//! server answered it (the same rules as its `handle_rpc_call`): a single
//! call of a remote method is read and answered directly, as over HTTP;
//! the subscription methods go to the session; everything else (batches,
//! notifications, invalid requests, unknown methods) through jsonrpsee's
//! own request types, method table and responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jsonrpsee::server::{
    prepare_error, BatchResponseBuilder, ConnectionId, MethodCallback, MethodResponse,
};
use jsonrpsee::types::{
    ErrorCode, ErrorObject, Extensions, Id, InvalidRequest, Notification, Params, Request,
    Response as RpcResponse, ResponsePayload, SubscriptionId,
};
use rpa_mfa_keywords::otp::live::TotpFeed;
use serde_json::value::RawValue;

use super::WsServer;
use crate::auth::Identity;
use crate::jsonrpc::http::Call;
use crate::jsonrpc::{
    call_with, error_object, parse, subscription_namespace, Answer, Params as CallParams,
    LIBRARY_ERROR, SUBSCRIBE_TOTP, UNSUBSCRIBE_TOTP,
};
use crate::remote::{Protocol, METHODS};

/// jsonrpsee's default largest response (its server was built without
/// another): 10 MiB.
const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// Work a message started, finished later by the connection's task.
pub(super) type Pending = Pin<Box<dyn Future<Output = Done> + Send>>;

/// What a finished piece of work gives the session.
pub(super) enum Done {
    /// Text to send back.
    Answer(String),
    /// A subscription the gate and the library accepted; the session gives
    /// it its id and answers.
    Subscribed {
        id: Id<'static>,
        namespace: String,
        feed: TotpFeed,
    },
}

/// What the session does with one incoming message.
pub(super) enum Incoming {
    Answer(String),
    Start(Pending),
    /// `subscribe_totp`, to be counted against the subscription cap first.
    Subscribe(Id<'static>, Pending),
    Unsubscribe(Id<'static>, Option<u64>),
    /// A notification: nothing to answer.
    Nothing,
}

/// Who sent the messages of one WebSocket.
#[derive(Clone)]
pub(super) struct Sender {
    pub server: Arc<WsServer>,
    pub identity: Option<Identity>,
}

impl Sender {
    /// Reads one message.
    pub fn read(&self, data: &[u8]) -> Incoming {
        // As jsonrpsee: the first non-blank byte within 128 tells a single
        // request from a batch.
        let start = data.iter().take(128).position(|b| !b.is_ascii_whitespace());
        let data = match start {
            Some(at) if data[at] == b'{' => &data[at..],
            Some(at) if data[at] == b'[' => {
                let sender = self.clone();
                let batch = data[at..].to_vec();
                return Incoming::Start(Box::pin(async move {
                    Done::Answer(text(sender.batch(&batch).await))
                }));
            }
            _ => return Incoming::Answer(error(Id::Null, ErrorCode::ParseError.into())),
        };
        if let Ok(call) = serde_json::from_slice::<Call<'_>>(data) {
            if let Some(&method) = METHODS.iter().find(|m| **m == call.method) {
                if call.jsonrpc == "2.0" {
                    return Incoming::Start(self.remote_call(method, call));
                }
            }
        }
        match serde_json::from_slice::<Request<'_>>(data) {
            Ok(request) if request.method == SUBSCRIBE_TOTP => {
                let id = request.id.into_owned();
                let params = Params::new(request.params.as_deref().map(RawValue::get));
                Incoming::Subscribe(id.clone(), self.subscribe(id, params))
            }
            Ok(request) if request.method == UNSUBSCRIBE_TOTP => {
                let params = Params::new(request.params.as_deref().map(RawValue::get));
                Incoming::Unsubscribe(request.id.into_owned(), subscription_id(&params))
            }
            Ok(request) => {
                let sender = self.clone();
                let request = request.into_owned_request();
                Incoming::Start(Box::pin(async move {
                    Done::Answer(text(sender.call(request).await))
                }))
            }
            Err(_) if is_notification(data) => Incoming::Nothing,
            Err(_) => {
                let (id, code) = prepare_error(data);
                Incoming::Answer(error(id, code.into()))
            }
        }
    }

    /// One call of a remote method, read without jsonrpsee's request type
    /// (as over HTTP: [`crate::jsonrpc::http`]).
    fn remote_call(&self, method: &'static str, call: Call<'_>) -> Pending {
        let id = call.id.0.into_owned();
        let params = call.params.unwrap_or(CallParams::Null);
        let sender = self.clone();
        Box::pin(async move {
            let payload =
                match call_with(&sender.server.api, method, params, sender.identity.as_ref()).await
                {
                    Ok(value) => ResponsePayload::success(Answer(value)),
                    Err(error) => ResponsePayload::error(error),
                };
            Done::Answer(serde_json::to_string(&RpcResponse::new(payload, id)).unwrap_or_default())
        })
    }

    /// `subscribe_totp`: the namespace named, through the gate, then the
    /// namespace's feed (`TOTPNotSetError` without a secret).
    fn subscribe(&self, id: Id<'static>, params: Params<'_>) -> Pending {
        let namespace = parse(&params).and_then(subscription_namespace);
        let sender = self.clone();
        Box::pin(async move {
            let namespace = match namespace {
                Ok(namespace) => namespace,
                Err(e) => return Done::Answer(error(id, e)),
            };
            let gate = sender.server.api.gate();
            let access = match gate
                .admit(
                    Protocol::JsonRpc,
                    sender.identity.as_ref(),
                    &namespace,
                    SUBSCRIBE_TOTP,
                )
                .await
            {
                Ok(access) => access,
                Err(fault) => return Done::Answer(error(id, error_object(&fault))),
            };
            match TotpFeed::new(access.namespace().clone(), &sender.server.live).await {
                Ok(feed) => Done::Subscribed {
                    id,
                    namespace,
                    feed,
                },
                Err(e) => Done::Answer(error(
                    id,
                    ErrorObject::owned(LIBRARY_ERROR, e.to_string(), None::<()>),
                )),
            }
        })
    }

    /// Any other request, through jsonrpsee's method table.
    async fn call(&self, request: Request<'static>) -> MethodResponse {
        let Request {
            id, method, params, ..
        } = request;
        let params = Params::new(params.as_deref().map(RawValue::get)).into_owned();
        let mut extensions = Extensions::new();
        if let Some(identity) = &self.identity {
            extensions.insert(identity.clone());
        }
        match self.server.methods.method_with_name(&method) {
            None => MethodResponse::error(id, ErrorObject::from(ErrorCode::MethodNotFound)),
            Some((_, MethodCallback::Async(callback))) => {
                // The remote methods do not look at the connection id.
                callback(id, params, ConnectionId(0), MAX_RESPONSE, extensions).await
            }
            Some((_, MethodCallback::Sync(callback))) => {
                callback(id, params, MAX_RESPONSE, extensions)
            }
            // The subscription methods, inside a batch.
            Some(_) => MethodResponse::error(
                id,
                ErrorObject::owned(
                    ErrorCode::InvalidRequest.code(),
                    format!(
                        "'{method}' is not taken inside a batch: send it as a request of its own."
                    ),
                    None::<()>,
                ),
            ),
        }
    }

    /// A batch, entry by entry, as jsonrpsee's `batch` (no batch limit:
    /// its default).
    async fn batch(&self, data: &[u8]) -> MethodResponse {
        let Ok(entries) = serde_json::from_slice::<Vec<&RawValue>>(data) else {
            return MethodResponse::error(Id::Null, ErrorObject::from(ErrorCode::ParseError));
        };
        let mut answers = BatchResponseBuilder::new_with_limit(MAX_RESPONSE);
        let mut notified = false;
        for entry in entries {
            let answer = if let Ok(request) = serde_json::from_str::<Request<'_>>(entry.get()) {
                self.call(request.into_owned_request()).await
            } else if is_notification(entry.get().as_bytes()) {
                notified = true;
                continue;
            } else {
                let id = serde_json::from_str::<InvalidRequest<'_>>(entry.get())
                    .map_or(Id::Null, |e| e.id.into_owned());
                MethodResponse::error(id, ErrorObject::from(ErrorCode::InvalidRequest))
            };
            if let Err(too_big) = answers.append(answer) {
                return too_big;
            }
        }
        if answers.is_empty() && notified {
            MethodResponse::notification()
        } else {
            MethodResponse::from_batch(answers.finish())
        }
    }
}

/// An owned copy of a request (its work outlives the message).
trait IntoOwned {
    fn into_owned_request(self) -> Request<'static>;
}

impl IntoOwned for Request<'_> {
    fn into_owned_request(self) -> Request<'static> {
        Request {
            jsonrpc: self.jsonrpc,
            id: self.id.into_owned(),
            method: self.method.into_owned().into(),
            params: self.params.map(|p| std::borrow::Cow::Owned(p.into_owned())),
            extensions: self.extensions,
        }
    }
}

fn is_notification(data: &[u8]) -> bool {
    serde_json::from_slice::<Notification<'_, Option<&RawValue>>>(data).is_ok()
}

/// The subscription an `unsubscribe_totp` names; None when it names none
/// of ours (jsonrpsee then answers `false`).
fn subscription_id(params: &Params<'_>) -> Option<u64> {
    match params.one::<SubscriptionId<'_>>() {
        Ok(SubscriptionId::Num(n)) => Some(n),
        _ => None,
    }
}

/// A response's text; empty for a notification (nothing is sent).
fn text(response: MethodResponse) -> String {
    if response.is_notification() {
        return String::new();
    }
    response.into_json().get().to_owned()
}

/// An error response's text.
pub(super) fn error(id: Id<'_>, error: ErrorObject<'_>) -> String {
    text(MethodResponse::error(id, error))
}

/// The answer to `unsubscribe_totp`: whether a subscription ended.
pub(super) fn unsubscribed(id: Id<'_>, ended: bool) -> String {
    serde_json::to_string(&RpcResponse::new(ResponsePayload::success(ended), id))
        .unwrap_or_default()
}

/// The answer to an accepted subscription: its id.
pub(super) fn subscribed(id: Id<'_>, subscription: u64) -> String {
    serde_json::to_string(&RpcResponse::new(
        ResponsePayload::success(subscription),
        id,
    ))
    .unwrap_or_default()
}
