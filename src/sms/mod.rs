//! The SMS webhooks: `POST /sms/twilio` (Twilio's inbound-message
//! webhook, signed with the account's auth token) and `POST /sms/webhook`
//! (a JSON body from any other gateway, with a shared secret in
//! `X-Webhook-Secret`). They carry their own authentication, like the
//! OAuth callback, so they sit outside the server's user authentication;
//! a call without a valid signature or secret is refused with 403 and
//! logged without its body. A message for a configured number is queued
//! in the state store for `Wait For OTP In SMS`.

pub mod twilio;

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rpa_mfa_keywords::sms::{Delivery, Message};
use rpa_mfa_keywords::Services;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::server::{read_body, BodyLimits};

/// A webhook body may not be larger: a text message is at most 1600
/// characters, and Twilio's form has a few dozen short fields.
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;

/// The header the generic webhook's shared secret comes in.
pub const SECRET_HEADER: &str = "x-webhook-secret";

/// What the webhooks need: the queues, their secrets, the public URL.
pub struct SmsWebhooks {
    services: Arc<Services>,
    twilio_token: Option<Zeroizing<String>>,
    webhook_secret: Option<Zeroizing<String>>,
    /// `--public-url`, or the address the server listens on once bound.
    base_url: OnceLock<String>,
    body: BodyLimits,
}

impl SmsWebhooks {
    pub(crate) fn new(
        services: Arc<Services>,
        twilio_token: Option<Zeroizing<String>>,
        webhook_secret: Option<Zeroizing<String>>,
        public_url: Option<String>,
        body: BodyLimits,
    ) -> SmsWebhooks {
        let base_url = OnceLock::new();
        if let Some(url) = public_url {
            let _ = base_url.set(url);
        }
        SmsWebhooks {
            services,
            twilio_token,
            webhook_secret,
            base_url,
            body: BodyLimits {
                max_bytes: body.max_bytes.min(MAX_WEBHOOK_BODY),
                ..body
            },
        }
    }

    /// The server's own address, used when no `--public-url` was given.
    pub fn listening_at(&self, base_url: String) {
        let _ = self.base_url.set(base_url);
    }
}

/// Twilio's "no reply" answer.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// `POST /sms/twilio`.
pub async fn twilio(State(hooks): State<Arc<SmsWebhooks>>, request: Request) -> Response {
    const GATEWAY: &str = "twilio";
    let (parts, body) = request.into_parts();
    let Some(token) = hooks.twilio_token.as_deref() else {
        return refuse(GATEWAY, "not configured", "set --sms-twilio-token");
    };
    let Some(signature) = parts
        .headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return refuse(GATEWAY, "no signature", "no X-Twilio-Signature header");
    };
    let body = match read_body(body, &hooks.body).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let base = hooks.base_url.get().map_or("", String::as_str);
    let url = match parts.uri.query() {
        Some(query) => format!("{base}/sms/twilio?{query}"),
        None => format!("{base}/sms/twilio"),
    };
    if !twilio::is_valid(token.as_bytes(), &url, &params, signature) {
        return refuse(
            GATEWAY,
            "bad signature",
            "X-Twilio-Signature does not match (check --public-url and the auth token)",
        );
    }
    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(from), Some(to), Some(text)) = (field("From"), field("To"), field("Body")) else {
        return bad_request(GATEWAY, "From, To and Body are required");
    };
    let message = Message::received(from, to, text, field("MessageSid").unwrap_or_default());
    match queue(&hooks, GATEWAY, &message).await {
        Ok(()) => ([(CONTENT_TYPE, "text/xml; charset=utf-8")], EMPTY_TWIML).into_response(),
        Err(response) => response,
    }
}

/// The generic webhook's body.
#[derive(Deserialize)]
struct GenericMessage {
    from: String,
    to: String,
    body: String,
    #[serde(default)]
    id: String,
}

/// `POST /sms/webhook`.
pub async fn generic(State(hooks): State<Arc<SmsWebhooks>>, request: Request) -> Response {
    const GATEWAY: &str = "webhook";
    let (parts, body) = request.into_parts();
    let Some(secret) = hooks.webhook_secret.as_deref() else {
        return refuse(GATEWAY, "not configured", "set --sms-webhook-secret");
    };
    let given = parts
        .headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.as_bytes())) {
        let why = if given.is_empty() {
            "no X-Webhook-Secret header"
        } else {
            "X-Webhook-Secret does not match"
        };
        return refuse(GATEWAY, "bad secret", why);
    }
    let body = match read_body(body, &hooks.body).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let Ok(sent) = serde_json::from_slice::<GenericMessage>(&body) else {
        return bad_request(
            GATEWAY,
            "the body must be a JSON object with string fields from, to and body (and id)",
        );
    };
    let message = Message::received(&sent.from, &sent.to, &sent.body, &sent.id);
    match queue(&hooks, GATEWAY, &message).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

/// Queues a message that passed its webhook's check.
async fn queue(
    hooks: &SmsWebhooks,
    gateway: &'static str,
    message: &Message,
) -> Result<(), Response> {
    match hooks.services.sms.deliver(message).await {
        Ok(Delivery::Queued { dropped }) => {
            crate::metrics::sms_received(gateway, dropped);
            if dropped > 0 {
                tracing::warn!(gateway, to = %message.to, dropped, "SMS queue full: dropped the oldest");
            }
            tracing::info!(gateway, to = %message.to, from = %message.from, "SMS queued");
            Ok(())
        }
        Ok(Delivery::UnknownNumber) => {
            crate::metrics::sms_refused(gateway, "unknown number");
            tracing::warn!(gateway, to = %message.to.escape_debug(), "SMS for a number that is not configured");
            Err((StatusCode::NOT_FOUND, "No such SMS number here.\n").into_response())
        }
        Err(e) => {
            tracing::warn!(gateway, error = %e, "SMS not queued: the state store");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "The state store does not answer; try again.\n",
            )
                .into_response())
        }
    }
}

/// A call without valid credentials: 403, logged and counted, its body
/// unread and unlogged.
fn refuse(gateway: &'static str, reason: &'static str, detail: &str) -> Response {
    crate::metrics::sms_refused(gateway, reason);
    tracing::warn!(gateway, reason, "SMS webhook refused: {detail}");
    (StatusCode::FORBIDDEN, "Forbidden.\n").into_response()
}

fn bad_request(gateway: &'static str, why: &'static str) -> Response {
    crate::metrics::sms_refused(gateway, "bad request");
    tracing::warn!(gateway, "SMS webhook: {why}");
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}
