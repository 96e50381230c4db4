//! The identity platform's HTTP calls (see `IDENTITY_LOGIN.md` in the
//! project's notes): JSON bodies with the headers CyberArk's own client
//! sends, answers checked for `success`, and failures named as refusal,
//! protocol breach or unreachable. Bodies are never quoted in an error:
//! they carry passwords, codes and tokens.

use std::path::Path;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value as Json;
use url::Url;

use super::errors::{malformed, refused, unreachable};
use crate::library::KeywordError;

/// Answers larger than this are not login answers.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the platform's own web client calls itself; some tenants treat
/// clients without a browser-like agent differently.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/120.0 Safari/537.36 rpa-mfa";

/// An HTTP answer: status, headers, body bytes.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One platform's HTTP client, with its timeout.
pub struct Wire {
    client: reqwest::Client,
    timeout: Duration,
}

impl Wire {
    pub fn new(timeout: Duration, ca: Option<&Path>) -> Result<Wire, KeywordError> {
        let client = crate::http_clients::client(ca).map_err(malformed)?;
        Ok(Wire { client, timeout })
    }

    /// POSTs `body` to `url` (a `/Security/...` call) and returns the
    /// answer's `Result` when `success` is true.
    pub async fn call(&self, url: &Url, body: &Json) -> Result<Json, KeywordError> {
        let request = self
            .client
            .post(url.clone())
            .header("Content-Type", "application/json")
            .header("X-IDAP-NATIVE-CLIENT", "true")
            .header("OobIdPAuth", "true")
            .header("User-Agent", USER_AGENT)
            .header("Accept", "application/json")
            .body(body.to_string());
        let answer = self.send(request, url).await?;
        result_of(url, &answer)
    }

    /// Sends `request`, reading at most [`MAX_BODY_BYTES`].
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<Answer, KeywordError> {
        let shown = shown(url);
        let mut response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(&shown, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&shown, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(malformed(format!(
                    "{shown} answered HTTP {status} with more than {MAX_BODY_BYTES} bytes."
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn transport_error(&self, url: &str, error: &reqwest::Error) -> KeywordError {
        if error.is_timeout() {
            return unreachable(format!(
                "{url} did not answer within {} s.",
                self.timeout.as_secs_f64()
            ));
        }
        let (cause, tls) = crate::http_clients::request_cause(error, "request failed");
        // A certificate not trusted, or plain HTTP where TLS was expected,
        // is a setup mismatch, not a platform that is down.
        if tls {
            malformed(format!("{url}: TLS failed: {cause}."))
        } else if error.is_connect() {
            unreachable(format!("{url}: cannot connect: {cause}."))
        } else {
            malformed(format!("{url}: the exchange failed: {cause}."))
        }
    }
}

/// A URL as errors show it: without query or fragment.
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The `Result` of a platform answer, or why there is none.
fn result_of(url: &Url, answer: &Answer) -> Result<Json, KeywordError> {
    let shown = shown(url);
    if (502..=504).contains(&answer.status) {
        return Err(unreachable(format!(
            "{shown} answered HTTP {}: a gateway could not reach the platform.",
            answer.status
        )));
    }
    let body: Json = serde_json::from_slice(&answer.body).map_err(|_| {
        malformed(format!(
            "{shown} answered HTTP {} with something that is not JSON.",
            answer.status
        ))
    })?;
    match body.get("success").and_then(Json::as_bool) {
        Some(true) => {}
        Some(false) => {
            let message = body
                .get("Message")
                .and_then(Json::as_str)
                .filter(|m| !m.is_empty())
                .unwrap_or("the platform gave no reason");
            let code = body
                .get("ErrorCode")
                .and_then(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .or_else(|| Some(c.to_string()))
                })
                .filter(|c| c != "null" && !c.is_empty())
                .map(|c| format!(" (ErrorCode {c})"))
                .unwrap_or_default();
            return Err(refused(format!("{shown}: {message}{code}")));
        }
        None => {
            return Err(malformed(format!(
                "{shown} answered HTTP {} without a boolean 'success'.",
                answer.status
            )))
        }
    }
    match body.get("Result") {
        Some(result @ Json::Object(_)) => Ok(result.clone()),
        _ => Err(malformed(format!(
            "{shown} answered success without a 'Result' object."
        ))),
    }
}

/// The `name=value` pairs of the `Set-Cookie` headers.
pub fn set_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: 200,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_are_sorted_into_result_refusal_and_breach() {
        let url = Url::parse("https://t.example/Security/StartAuthentication?x=1").unwrap();
        let ok = result_of(
            &url,
            &answer(r#"{"success":true,"Result":{"SessionId":"s"}}"#),
        );
        assert_eq!(ok.unwrap()["SessionId"], "s");
        let no = result_of(
            &url,
            &answer(r#"{"success":false,"Message":"Authentication failed","ErrorCode":"E1"}"#),
        )
        .unwrap_err();
        assert_eq!(no.name, "MFAAuthenticationFailure");
        assert_eq!(
            no.message,
            "https://t.example/Security/StartAuthentication: Authentication failed (ErrorCode E1)"
        );
        for bad in ["<html>", r#"{"Result":{}}"#, r#"{"success":true}"#] {
            let e = result_of(&url, &answer(bad)).unwrap_err();
            assert_eq!(e.name, "MFACommunicationError", "{bad}");
        }
        let mut gateway = answer("<html>Bad Gateway</html>");
        gateway.status = 503;
        assert_eq!(
            result_of(&url, &gateway).unwrap_err().name,
            "MFAServiceUnreachable"
        );
    }
}
