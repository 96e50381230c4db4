//! One HTTP exchange with a Vault/OpenBao server, and what its failures
//! mean: each of forbidden, missing, sealed and unreachable gets its own
//! text, and no text ever holds the token.

use std::time::Duration;

use serde_json::Value as Json;
use url::Url;

use super::super::VaultError;

/// How long one call to the vault may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers larger than this are not KV answers.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A Vault server: where it is, its namespace, the shared client.
#[derive(Clone)]
pub struct Api {
    pub base: Url,
    pub namespace: Option<String>,
    pub client: reqwest::Client,
    /// The spec as errors show it.
    pub shown: String,
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Json,
}

impl Api {
    /// `base` + `v1/` + the segments, each percent-encoded on its own.
    pub fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }

    /// Sends one request with `token` (if any) and reads the JSON answer.
    /// Only failures to get an answer at all are errors here.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        token: Option<&str>,
        body: Option<&Json>,
    ) -> Result<Answer, VaultError> {
        let mut request = self
            .client
            .request(method, url)
            .timeout(REQUEST_TIMEOUT)
            .header("Accept", "application/json");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(namespace) = &self.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(VaultError::Backend(format!(
                "the vault at {} sent an answer over {MAX_BODY_BYTES} bytes",
                self.shown
            )));
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        Ok(Answer { status, body })
    }

    /// No answer: refused, timed out, TLS failed... The reqwest error's
    /// root cause says which; it carries the URL at most, never a header.
    fn unreachable(&self, error: &reqwest::Error) -> VaultError {
        let mut cause: &dyn std::error::Error = error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let why = if error.is_timeout() {
            format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
        } else {
            cause.to_string()
        };
        VaultError::Unavailable(format!("cannot reach the vault at {}: {why}", self.shown))
    }

    /// What a failed answer means, for secret `name` (None: not about a
    /// secret). 404 is not handled here: only the caller knows whether a
    /// missing path is an undefined secret or an empty list.
    pub async fn failure(&self, answer: &Answer, name: Option<&str>) -> VaultError {
        let about = name
            .map(|n| format!(" for secret '{n}'"))
            .unwrap_or_default();
        match answer.status {
            403 => VaultError::Unavailable(format!(
                "the vault at {} refused the token{about} (403 permission denied: \
                 the token is wrong or expired, or its policy does not cover this path)",
                self.shown
            )),
            503 if self.is_sealed(answer).await => VaultError::Unavailable(format!(
                "the vault at {} is sealed; unseal it (bao operator unseal / vault operator unseal)",
                self.shown
            )),
            status => VaultError::Backend(format!(
                "the vault at {} answered HTTP {status}{about}: {}",
                self.shown,
                errors(&answer.body)
            )),
        }
    }

    /// Whether a 503 means sealed: the answer says so, or
    /// `sys/seal-status` does.
    async fn is_sealed(&self, answer: &Answer) -> bool {
        if errors(&answer.body).contains("sealed") {
            return true;
        }
        let url = self.url(["sys", "seal-status"]);
        match self.send(reqwest::Method::GET, url, None, None).await {
            Ok(status) => status.body["sealed"].as_bool() == Some(true),
            Err(_) => false,
        }
    }
}

/// The `errors` list of a Vault answer, joined; Vault's messages name
/// paths and reasons, never a token.
pub fn errors(body: &Json) -> String {
    match body["errors"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|e| e.as_str().unwrap_or("?").to_owned())
            .collect::<Vec<_>>()
            .join("; "),
        _ => "no error message".into(),
    }
}
