//! `kind = "rest"`: an in-house MFA service reached over JSON/HTTP, whose
//! endpoints, methods, field names and status values are configured in
//! `[mfa.NAME.rest]` (every key has a default, listed in docs/mfa.md):
//!
//! - OTP check: `otp_method otp_path` with `otp_identity_field` and
//!   `otp_code_field`; the answer's `status_field` is approved or denied.
//! - Push: `push_method push_path` with `push_identity_field`; the answer's
//!   `push_id_field` names the push, then `poll_method poll_path` (with
//!   `{id}`) every `poll_interval` seconds until `status_field` is
//!   approved or denied, or the wait ends (a refusal: nobody approved).
//!
//! The token (a vault reference) goes in `token_header` after
//! `token_prefix`. A POST/PUT/PATCH sends its fields as a JSON body
//! (dotted fields nest), a GET or DELETE as query parameters. An answer
//! that is not JSON, lacks a field or carries a status none of the lists
//! name is an `MFACommunicationError`: the two sides disagree.

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::rest_fields::{scalar_text, FieldPath, PathTemplate, Statuses, Verdict};
use super::{kinds, Answer, Context, MfaError, MfaProvider, ProviderSettings};
use crate::value::Value;

/// Answers larger than this are not an MFA service's.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Bounds of `poll_interval`, in seconds.
const POLL_INTERVAL_RANGE: (f64, f64) = (0.05, 60.0);

/// `[mfa.NAME.rest]` as written; see [`Rest::new`] for the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindTable {
    token_header: Option<String>,
    token_prefix: Option<String>,
    otp_method: Option<String>,
    otp_path: Option<String>,
    otp_identity_field: Option<String>,
    otp_code_field: Option<String>,
    push_method: Option<String>,
    push_path: Option<String>,
    push_identity_field: Option<String>,
    push_id_field: Option<String>,
    poll_method: Option<String>,
    poll_path: Option<String>,
    poll_interval: Option<f64>,
    status_field: Option<String>,
    message_field: Option<String>,
    approved: Option<Vec<String>>,
    denied: Option<Vec<String>>,
    pending: Option<Vec<String>>,
}

/// One configured request: method, path and the field the identity goes in.
#[derive(Debug)]
struct Endpoint {
    method: Method,
    path: PathTemplate,
}

pub struct Rest {
    settings: ProviderSettings,
    token_header: HeaderName,
    token_prefix: String,
    otp: Endpoint,
    otp_identity_field: FieldPath,
    otp_code_field: FieldPath,
    push: Endpoint,
    push_identity_field: FieldPath,
    push_id_field: FieldPath,
    poll: Endpoint,
    poll_interval: Duration,
    status_field: FieldPath,
    message_field: FieldPath,
    statuses: Statuses,
    client: reqwest::Client,
}

fn values(given: Option<Vec<String>>, default: &str) -> Vec<String> {
    given.unwrap_or_else(|| vec![default.to_owned()])
}

impl Rest {
    /// Reads `[mfa.NAME.rest]`, with these defaults: `Authorization:
    /// Bearer TOKEN`; `POST otp/verify {"user", "otp"}`; `POST push
    /// {"user"}` answering `id`; `GET push/{id}`, polled every second;
    /// `status` approved/denied/pending, reason in `message`.
    /// Errors name the field; the registry puts the provider's name first.
    pub fn new(settings: &ProviderSettings, table: &Json) -> Result<Rest, String> {
        let fail = |field: &str, why: String| format!("{field}: {why}");
        let t: KindTable = kinds::kind_table(settings, table)?;
        let field = |key: &str, given: &Option<String>, default: &str| {
            FieldPath::parse(given.as_deref().unwrap_or(default)).map_err(|e| fail(key, e))
        };
        let endpoint = |key: &str,
                        method: &Option<String>,
                        default_method: &str,
                        path: &Option<String>,
                        default_path: &str| {
            let method_text = method
                .as_deref()
                .unwrap_or(default_method)
                .to_ascii_uppercase();
            let method = match method_text.as_str() {
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
                    Method::from_bytes(method_text.as_bytes())
                        .map_err(|e| fail(key, e.to_string()))?
                }
                other => {
                    return Err(fail(
                        &format!("{key}_method"),
                        format!("'{other}' is not GET, POST, PUT, PATCH or DELETE"),
                    ))
                }
            };
            let path = PathTemplate::parse(path.as_deref().unwrap_or(default_path))
                .map_err(|e| fail(&format!("{key}_path"), e))?;
            Ok::<_, String>(Endpoint { method, path })
        };
        let token_header = HeaderName::from_bytes(
            t.token_header
                .as_deref()
                .unwrap_or("Authorization")
                .as_bytes(),
        )
        .map_err(|e| fail("token_header", e.to_string()))?;
        let poll = endpoint("poll", &t.poll_method, "GET", &t.poll_path, "push/{id}")?;
        if !poll.path.has_id() {
            return Err(fail(
                "poll_path",
                "must contain {id}, where the push's id goes".into(),
            ));
        }
        let interval = t.poll_interval.unwrap_or(1.0);
        if !(POLL_INTERVAL_RANGE.0..=POLL_INTERVAL_RANGE.1).contains(&interval) {
            return Err(fail(
                "poll_interval",
                format!(
                    "must be {} to {} seconds, got {interval}",
                    POLL_INTERVAL_RANGE.0, POLL_INTERVAL_RANGE.1
                ),
            ));
        }
        let statuses = Statuses {
            approved: values(t.approved, "approved"),
            denied: values(t.denied, "denied"),
            pending: values(t.pending, "pending"),
        };
        statuses
            .check()
            .map_err(|e| fail("approved/denied/pending", e))?;
        let client = crate::http_clients::client(settings.ca.as_deref())?;
        Ok(Rest {
            token_header,
            token_prefix: t.token_prefix.unwrap_or_else(|| "Bearer ".into()),
            otp: endpoint("otp", &t.otp_method, "POST", &t.otp_path, "otp/verify")?,
            otp_identity_field: field("otp_identity_field", &t.otp_identity_field, "user")?,
            otp_code_field: field("otp_code_field", &t.otp_code_field, "otp")?,
            push: endpoint("push", &t.push_method, "POST", &t.push_path, "push")?,
            push_identity_field: field("push_identity_field", &t.push_identity_field, "user")?,
            push_id_field: field("push_id_field", &t.push_id_field, "id")?,
            poll,
            poll_interval: Duration::from_secs_f64(interval),
            status_field: field("status_field", &t.status_field, "status")?,
            message_field: field("message_field", &t.message_field, "message")?,
            statuses,
            client,
            settings: settings.clone(),
        })
    }

    fn name(&self) -> &str {
        &self.settings.name
    }

    /// The request of `endpoint` with `fields` as its JSON body (POST,
    /// PUT, PATCH) or query (GET, DELETE), and the token header.
    fn request(
        &self,
        endpoint: &Endpoint,
        identity: &str,
        id: &str,
        fields: &[(&FieldPath, &str)],
        token: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, MfaError> {
        let mut url = endpoint.path.url(&self.settings.url, identity, id);
        let with_body = !matches!(endpoint.method, Method::GET | Method::DELETE);
        let mut body = Map::new();
        if with_body {
            for (path, value) in fields {
                path.set(&mut body, Json::String((*value).to_owned()));
            }
        } else if !fields.is_empty() {
            let mut query = url.query_pairs_mut();
            for (path, value) in fields {
                query.append_pair(&path.shown(), value);
            }
        }
        let mut request = self
            .client
            .request(endpoint.method.clone(), url)
            .timeout(self.settings.timeout)
            .header("Accept", "application/json");
        if with_body {
            request = request
                .header("Content-Type", "application/json")
                .body(Json::Object(body).to_string());
        }
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("{}{token}", self.token_prefix))
                .map_err(|_| {
                    MfaError::Communication(format!(
                        "MFA provider '{}': the token cannot go in an HTTP header \
                         (it holds a line break or another control character)",
                        self.name()
                    ))
                })?;
            value.set_sensitive(true);
            request = request.header(self.token_header.clone(), value);
        }
        Ok(request)
    }

    /// Sends `request` and reads its JSON answer. A 2xx or 4xx answer is
    /// returned with its status for the caller to judge; anything else,
    /// and an answer that is not JSON, is judged here.
    async fn exchange(
        &self,
        ctx: &Context<'_>,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, Json), MfaError> {
        let name = self.name();
        let read = async {
            let response = request.send().await?;
            let status = response.status();
            let too_big = response
                .content_length()
                .is_some_and(|n| n > MAX_ANSWER_BYTES as u64);
            let bytes = if too_big {
                Default::default()
            } else {
                response.bytes().await?
            };
            Ok::<_, reqwest::Error>((status, too_big, bytes))
        };
        let (status, too_big, bytes) = ctx
            .bounded(read)
            .await?
            .map_err(|e| MfaError::from_http(name, e))?;
        if too_big || bytes.len() > MAX_ANSWER_BYTES {
            return Err(MfaError::Communication(format!(
                "MFA provider '{name}': the {what} answer is over {MAX_ANSWER_BYTES} bytes"
            )));
        }
        if !(status.is_success() || status.is_client_error()) {
            return Err(MfaError::from_status(name, status));
        }
        match serde_json::from_slice::<Json>(&bytes) {
            Ok(json) => Ok((status.as_u16(), json)),
            Err(_) if status.is_client_error() => Err(MfaError::from_status(name, status)),
            Err(e) => Err(MfaError::Communication(format!(
                "MFA provider '{name}': the {what} answer (HTTP {status}) is not JSON: {e}"
            ))),
        }
    }

    /// The verdict of an OTP or poll answer: its status field, sorted by
    /// the configured values. A 4xx without a known status is a protocol
    /// failure (a refused token, a wrong path), not a refusal.
    fn verdict(
        &self,
        status: u16,
        answer: &Json,
        what: &str,
    ) -> Result<(Verdict, String), MfaError> {
        let name = self.name();
        let field = self.status_field.shown();
        let text = self.status_field.get(answer).and_then(scalar_text);
        let found = text.as_deref().and_then(|t| self.statuses.verdict(t));
        match (found, text) {
            (Some(verdict), Some(text)) => Ok((verdict, text)),
            _ if status >= 400 => Err(MfaError::Communication(format!(
                "MFA provider '{name}' answered the {what} with HTTP {status}{}",
                self.reason(answer)
            ))),
            (_, None) => Err(MfaError::Communication(format!(
                "MFA provider '{name}': the {what} answer has no '{field}' (a string, number or boolean)"
            ))),
            (None, Some(text)) => Err(MfaError::Communication(format!(
                "MFA provider '{name}': the {what} answer's {field} '{}' is none of the configured values ({})",
                clip(&text),
                self.statuses.known()
            ))),
        }
    }

    /// `: <message>` when the answer carries one.
    fn reason(&self, answer: &Json) -> String {
        self.message_field
            .get(answer)
            .and_then(scalar_text)
            .map(|m| format!(": {}", clip(&m)))
            .unwrap_or_default()
    }

    async fn token(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<zeroize::Zeroizing<String>>, MfaError> {
        match &self.settings.token {
            Some(reference) => Ok(Some(ctx.secret(reference).await?)),
            None => Ok(None),
        }
    }

    /// The OTP check as the service answers it.
    async fn check_otp(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        otp: &str,
    ) -> Result<Answer, MfaError> {
        let token = self.token(ctx).await?;
        let fields = [
            (&self.otp_identity_field, identity),
            (&self.otp_code_field, otp),
        ];
        let request = self.request(
            &self.otp,
            identity,
            "",
            &fields,
            token.as_deref().map(|t| t.as_str()),
        )?;
        let (status, answer) = self.exchange(ctx, request, "OTP check").await?;
        match self.verdict(status, &answer, "OTP check")? {
            (Verdict::Approved, text) => Ok(self.approved(text, &answer, None)),
            (Verdict::Denied, text) => Err(MfaError::AuthenticationFailure(format!(
                "MFA provider '{}' refused the code for '{identity}' (status '{}'){}",
                self.name(),
                clip(&text),
                self.reason(&answer)
            ))),
            (Verdict::Pending, text) => Err(MfaError::Communication(format!(
                "MFA provider '{}': the OTP check answered '{}', a pending status; an OTP check \
                 must be approved or denied",
                self.name(),
                clip(&text)
            ))),
        }
    }

    fn approved(
        &self,
        status: String,
        answer: &Json,
        extra: Option<(&'static str, Value)>,
    ) -> Answer {
        let mut fields = vec![
            ("result", Value::str("ACCEPT")),
            ("status", Value::Str(status)),
        ];
        if let Some(message) = self.message_field.get(answer).and_then(scalar_text) {
            fields.push(("message", Value::Str(clip(&message))));
        }
        fields.extend(extra);
        fields
    }
}

/// The registry's builder for `kind = "rest"`.
pub fn build(
    settings: &ProviderSettings,
    table: &Json,
) -> Result<std::sync::Arc<dyn MfaProvider>, String> {
    Ok(std::sync::Arc::new(Rest::new(settings, table)?))
}

/// `outcome` with `otp` masked in every text the service could have put
/// it in (a reason that echoes the code must not carry it to Robot's log).
fn without_code(outcome: Result<Answer, MfaError>, otp: &str) -> Result<Answer, MfaError> {
    if otp.is_empty() {
        return outcome;
    }
    let mask = |text: String| text.replace(otp, "***");
    match outcome {
        Ok(answer) => Ok(answer
            .into_iter()
            .map(|(key, value)| match value {
                Value::Str(text) => (key, Value::Str(mask(text))),
                other => (key, other),
            })
            .collect()),
        Err(MfaError::AuthenticationFailure(m)) => Err(MfaError::AuthenticationFailure(mask(m))),
        Err(MfaError::Communication(m)) => Err(MfaError::Communication(mask(m))),
        Err(MfaError::Unreachable(m)) => Err(MfaError::Unreachable(mask(m))),
        Err(other) => Err(other),
    }
}

/// A service's text as a message shows it: at most 200 characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[async_trait::async_trait]
impl MfaProvider for Rest {
    fn kind(&self) -> &'static str {
        "rest"
    }

    async fn otp_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        otp: &str,
    ) -> Result<Answer, MfaError> {
        let outcome = self.check_otp(ctx, identity, otp).await;
        without_code(outcome, otp)
    }

    async fn push_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        wait: Duration,
    ) -> Result<Answer, MfaError> {
        let name = self.name();
        let until = tokio::time::Instant::now() + wait;
        let token = self.token(ctx).await?;
        let token = token.as_deref().map(|t| t.as_str());
        let fields = [(&self.push_identity_field, identity)];
        let request = self.request(&self.push, identity, "", &fields, token)?;
        let (status, answer) = self.exchange(ctx, request, "push").await?;
        if status >= 400 {
            return Err(MfaError::Communication(format!(
                "MFA provider '{name}' answered the push with HTTP {status}{}",
                self.reason(&answer)
            )));
        }
        let id = self
            .push_id_field
            .get(&answer)
            .and_then(scalar_text)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                MfaError::Communication(format!(
                    "MFA provider '{name}': the push answer has no '{}' (the push's id)",
                    self.push_id_field.shown()
                ))
            })?;
        loop {
            let request = self.request(&self.poll, identity, &id, &[], token)?;
            let (status, answer) = self.exchange(ctx, request, "push poll").await?;
            match self.verdict(status, &answer, "push poll")? {
                (Verdict::Approved, text) => {
                    return Ok(self.approved(
                        text,
                        &answer,
                        Some(("transaction_id", Value::Str(id))),
                    ))
                }
                (Verdict::Denied, text) => {
                    return Err(MfaError::AuthenticationFailure(format!(
                        "MFA provider '{name}': '{identity}' declined the push (status '{}'){}",
                        clip(&text),
                        self.reason(&answer)
                    )))
                }
                (Verdict::Pending, _) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Err(MfaError::AuthenticationFailure(format!(
                    "MFA provider '{name}': '{identity}' did not answer the push within {:.1} s",
                    wait.as_secs_f64()
                )));
            }
            ctx.pause(self.poll_interval.min(until - now)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rest(table: Json) -> Result<Rest, String> {
        let settings = super::super::config::settings_from_json(
            "inhouse",
            json!({"kind": "rest", "url": "https://mfa.example/api", "token": "mfa:token"}),
        );
        Rest::new(&settings, &table)
    }

    fn body_of(request: reqwest::RequestBuilder) -> (reqwest::Request, Json) {
        let request = request.build().unwrap();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(|b| serde_json::from_slice(b).unwrap())
            .unwrap_or(Json::Null);
        (request, body)
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let p = rest(Json::Null).unwrap();
        let fields = [
            (&p.otp_identity_field, "alice"),
            (&p.otp_code_field, "123456"),
        ];
        let (request, body) = body_of(
            p.request(&p.otp, "alice", "", &fields, Some("t0k"))
                .unwrap(),
        );
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.url().as_str(), "https://mfa.example/api/otp/verify");
        assert_eq!(body, json!({"user": "alice", "otp": "123456"}));
        let auth = request.headers().get("authorization").unwrap();
        assert_eq!(auth, "Bearer t0k");
        assert!(auth.is_sensitive(), "kept out of reqwest's Debug output");
        let (poll, _) = body_of(p.request(&p.poll, "alice", "tx9", &[], None).unwrap());
        assert_eq!(poll.method(), Method::GET);
        assert_eq!(poll.url().as_str(), "https://mfa.example/api/push/tx9");
        assert!(poll.headers().get("authorization").is_none());
        assert_eq!(p.poll_interval, Duration::from_secs(1));
    }

    #[test]
    fn configured_fields_methods_and_headers_are_used() {
        let p = rest(json!({
            "token_header": "X-Api-Key", "token_prefix": "",
            "otp_method": "get", "otp_path": "users/{identity}/check",
            "otp_identity_field": "u", "otp_code_field": "auth.code",
            "push_method": "PUT", "push_path": "users/{identity}/push",
            "push_identity_field": "who.name",
        }))
        .unwrap();
        let fields = [
            (&p.otp_identity_field, "bob smith"),
            (&p.otp_code_field, "000111"),
        ];
        let (request, body) = body_of(
            p.request(&p.otp, "bob smith", "", &fields, Some("k"))
                .unwrap(),
        );
        assert_eq!(request.method(), Method::GET);
        assert_eq!(
            request.url().as_str(),
            "https://mfa.example/api/users/bob%20smith/check?u=bob+smith&auth.code=000111"
        );
        assert_eq!(body, Json::Null, "a GET sends no body");
        assert_eq!(request.headers().get("x-api-key").unwrap(), "k");
        let fields = [(&p.push_identity_field, "bob")];
        let (request, body) = body_of(p.request(&p.push, "bob", "", &fields, None).unwrap());
        assert_eq!(request.method(), Method::PUT);
        assert_eq!(body, json!({"who": {"name": "bob"}}));
    }

    #[test]
    fn answers_are_judged_by_the_configured_status_field_and_values() {
        let p = rest(json!({
            "status_field": "result.state", "message_field": "result.why",
            "approved": ["OK", "true"], "denied": ["REJECTED", "false"], "pending": ["WAIT"]
        }))
        .unwrap();
        let judge = |status, answer: Json| p.verdict(status, &answer, "OTP check");
        assert_eq!(
            judge(200, json!({"result": {"state": "OK"}})).unwrap().0,
            Verdict::Approved
        );
        assert_eq!(
            judge(200, json!({"result": {"state": true}})).unwrap().0,
            Verdict::Approved
        );
        assert_eq!(
            judge(401, json!({"result": {"state": "REJECTED"}}))
                .unwrap()
                .0,
            Verdict::Denied
        );
        assert_eq!(
            judge(200, json!({"result": {"state": "WAIT"}})).unwrap().0,
            Verdict::Pending
        );
        let err = judge(200, json!({"result": {"state": "maybe"}})).unwrap_err();
        assert_eq!(err.name(), "MFACommunicationError");
        assert!(format!("{err:?}").contains("'maybe' is none of the configured values"));
        let err = judge(200, json!({"status": "OK"})).unwrap_err();
        assert!(
            format!("{err:?}").contains("has no 'result.state'"),
            "{err:?}"
        );
        let err = judge(403, json!({"result": {"why": "bad api key"}})).unwrap_err();
        assert_eq!(err.name(), "MFACommunicationError");
        assert!(
            format!("{err:?}").contains("HTTP 403: bad api key"),
            "{err:?}"
        );
    }

    #[test]
    fn a_code_the_service_echoes_is_masked() {
        let refused = Err(MfaError::AuthenticationFailure(
            "refused: code 654321 is wrong".into(),
        ));
        let text = format!("{:?}", without_code(refused, "654321"));
        assert!(text.contains("code *** is wrong"), "{text}");
        let accepted = Ok(vec![("message", Value::str("654321 ok"))]);
        let text = format!("{:?}", without_code(accepted, "654321"));
        assert!(!text.contains("654321"), "{text}");
    }

    #[test]
    fn bad_settings_name_their_field() {
        for (table, expected) in [
            (
                json!({"otp_method": "TRACE"}),
                "otp_method: 'TRACE' is not GET",
            ),
            (
                json!({"poll_path": "push/status"}),
                "poll_path: must contain {id}",
            ),
            (json!({"poll_interval": 0}), "poll_interval: must be"),
            (
                json!({"status_field": "a..b"}),
                "status_field: 'a..b' is not a field path",
            ),
            (
                json!({"pending": ["approved"]}),
                "listed as approved and as pending",
            ),
            (json!({"token_header": "Bad Header"}), "token_header"),
            (json!({"otp_pth": "x"}), "unknown field `otp_pth`"),
        ] {
            let err = rest(table.clone()).err().unwrap();
            assert!(err.contains(expected), "{table}: {err}");
        }
    }
}
