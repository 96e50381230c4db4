//! The HTTP client every OAuth call goes through: timeouts, no redirects,
//! JSON answers only, and failures named the way `requests` names them.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value as Json;
use url::Url;

use super::error::protocol_error;
use super::redact_query;
use crate::library::KeywordError;

/// Answers larger than this are not token responses.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// RFC 7523 2.2's `client_assertion_type`.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A JSON answer with its HTTP status.
pub struct JsonResponse {
    pub status: u16,
    /// `Null` for an empty body (revocation answers 200 with nothing).
    pub body: Json,
    /// How long the answer may be kept, as its `Cache-Control` says.
    pub max_age: Option<Duration>,
}

impl JsonResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How the client proves who it is at the token endpoint (RFC 6749 2.3.1).
#[derive(Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `Authorization: Basic`, id and secret form-encoded first.
    Basic { id: &'a str, secret: &'a str },
    /// `client_id` and `client_secret` in the form body.
    Body { id: &'a str, secret: &'a str },
    /// A public client: only `client_id` in the body.
    IdOnly { id: &'a str },
    /// A signed JWT proving the client (RFC 7523 2.2, `private_key_jwt`).
    Assertion { id: &'a str, assertion: &'a str },
}

impl<'a> ClientAuth<'a> {
    /// Basic unless `in_body`, as requests-oauthlib's `include_client_id`.
    pub fn choose(id: &'a str, secret: Option<&'a str>, in_body: bool) -> ClientAuth<'a> {
        match secret {
            None => ClientAuth::IdOnly { id },
            Some(secret) if in_body => ClientAuth::Body { id, secret },
            Some(secret) => ClientAuth::Basic { id, secret },
        }
    }
}

pub struct Http {
    /// Built on first use: loading the system's trust store costs start-up
    /// time and memory a server that never calls OAuth should not pay.
    client: OnceLock<Result<reqwest::Client, String>>,
    timeout: Duration,
}

impl Http {
    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn new(timeout: Duration) -> Http {
        Http {
            client: OnceLock::new(),
            timeout,
        }
    }

    fn client(&self) -> Result<&reqwest::Client, KeywordError> {
        self.client
            .get_or_init(|| crate::http_clients::client(None))
            .as_ref()
            .map_err(|e| KeywordError::new("SSLError", format!("cannot set up TLS: {e}")))
    }

    pub async fn get_json(
        &self,
        url: &Url,
        bearer: Option<&str>,
    ) -> Result<JsonResponse, KeywordError> {
        let mut request = self
            .client()?
            .get(url.clone())
            .timeout(self.timeout)
            .header("Accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request, url).await
    }

    /// POSTs a form, authenticating the client as `auth` says.
    pub async fn post_form(
        &self,
        url: &Url,
        mut form: Vec<(String, String)>,
        auth: Option<ClientAuth<'_>>,
    ) -> Result<JsonResponse, KeywordError> {
        let mut request = self
            .client()?
            .post(url.clone())
            .timeout(self.timeout)
            .header("Accept", "application/json");
        match auth {
            Some(ClientAuth::Basic { id, secret }) => {
                let pair = format!("{}:{}", form_encode(id), form_encode(secret));
                let encoded = data_encoding::BASE64.encode(pair.as_bytes());
                request = request.header("Authorization", format!("Basic {encoded}"));
            }
            Some(ClientAuth::Body { id, secret }) => {
                form.push(("client_id".into(), id.into()));
                form.push(("client_secret".into(), secret.into()));
            }
            Some(ClientAuth::IdOnly { id }) => form.push(("client_id".into(), id.into())),
            Some(ClientAuth::Assertion { id, assertion }) => {
                form.push(("client_id".into(), id.into()));
                form.push(("client_assertion_type".into(), JWT_BEARER.into()));
                form.push(("client_assertion".into(), assertion.into()));
            }
            None => {}
        }
        self.send(request.form(&form), url).await
    }

    /// POSTs a JSON body (Auth0's MFA API speaks JSON, not forms).
    pub async fn post_json(
        &self,
        url: &Url,
        body: &Json,
        bearer: Option<&str>,
    ) -> Result<JsonResponse, KeywordError> {
        let mut request = self
            .client()?
            .post(url.clone())
            .timeout(self.timeout)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request, url).await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<JsonResponse, KeywordError> {
        let shown = redact_query(url.as_str());
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(shown, &e))?;
        let status = response.status();
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(super::cache::max_age);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(shown, &e))?
        {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(protocol_error(format!(
                    "{shown} answered HTTP {} with more than {MAX_BODY_BYTES} bytes",
                    status.as_u16()
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonResponse {
                status: status.as_u16(),
                body: Json::Null,
                max_age,
            });
        }
        // Never quote the body: it may hold a token.
        let body = serde_json::from_slice(&bytes).map_err(|_| {
            protocol_error(format!(
                "{shown} answered HTTP {} with {content_type}, not JSON",
                status.as_u16()
            ))
        })?;
        Ok(JsonResponse {
            status: status.as_u16(),
            body,
            max_age,
        })
    }

    fn transport_error(&self, url: &str, error: &reqwest::Error) -> KeywordError {
        if error.is_timeout() {
            return KeywordError::new(
                "TimeoutError",
                format!(
                    "{url} did not answer within {} s",
                    self.timeout.as_secs_f64()
                ),
            );
        }
        let (cause, tls) = crate::http_clients::request_cause(error, "request failed");
        if tls {
            KeywordError::new("SSLError", format!("{url}: TLS failed: {cause}"))
        } else {
            KeywordError::new("ConnectionError", format!("{url}: cannot connect: {cause}"))
        }
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
