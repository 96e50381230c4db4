//! privacyIDEA (the open-source MFA server): codes through
//! `/validate/check`, push approval through its challenge-response flow
//! with a poll-only PUSH token: trigger, poll `/validate/polltransaction`
//! until the phone answered, then finalize with `/validate/check` and the
//! transaction id. Wire facts: shared/PRIVACYIDEA.md.
//!
//! The push is triggered with the service account's token
//! (`/validate/triggerchallenge`, no PIN needed) when one is configured,
//! else with `/validate/check` and the token PIN (`pin`, or none).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::kinds::{kind_table, table_name};
use super::{Answer, Context, MfaError, MfaProvider, ProviderSettings};
use crate::value::Value;
use crate::vault::SecretRef;

/// How often the transaction is polled when the sub-table says nothing:
/// a person answers in seconds, and each poll is one cheap request.
const DEFAULT_POLL_INTERVAL: f64 = 1.0;

/// `[mfa.NAME.privacyidea]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    /// `user` (default): identities are user names; `serial`: token serials.
    identity: Option<String>,
    /// The users' realm; default: privacyIDEA's default realm.
    realm: Option<String>,
    /// The token PIN sent before the code (and alone to trigger a push
    /// without a service token), as a vault reference.
    pin: Option<String>,
    /// The service account, when no ready `token` is configured: its JWT
    /// is fetched from `/auth` for each push.
    username: Option<String>,
    password: Option<String>,
    /// Seconds between two polls of a push transaction (default 1).
    poll_interval: Option<f64>,
}

/// Builds the provider from `[mfa.NAME]` and `[mfa.NAME.privacyidea]`.
pub fn build(
    settings: &ProviderSettings,
    table: &serde_json::Value,
) -> Result<Arc<dyn MfaProvider>, String> {
    let table: Table = kind_table(settings, table)?;
    let at = table_name(settings);
    let reference = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| {
                v.parse::<SecretRef>()
                    .map_err(|e| format!("{at} {field}: {e}"))
            })
            .transpose()
    };
    let by_serial = match table.identity.as_deref() {
        None | Some("user") => false,
        Some("serial") => true,
        Some(other) => return Err(format!("{at} identity '{other}': use user or serial")),
    };
    if by_serial && table.realm.is_some() {
        return Err(format!("{at} realm: only with identity = \"user\""));
    }
    let account = match (
        reference("username", &table.username)?,
        reference("password", &table.password)?,
    ) {
        (Some(username), Some(password)) => Some((username, password)),
        (None, None) => None,
        _ => return Err(format!("{at} username and password: give both or neither")),
    };
    if account.is_some() && settings.token.is_some() {
        return Err(format!(
            "{at} username: give the service account or a token, not both"
        ));
    }
    let poll_interval = table.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    if !(0.05..=60.0).contains(&poll_interval) {
        return Err(format!(
            "{at} poll_interval must be between 0.05 and 60 seconds, got {poll_interval}"
        ));
    }
    let client =
        crate::http_clients::client(settings.ca.as_deref()).map_err(|e| format!("ca: {e}"))?;
    Ok(Arc::new(PrivacyIdea {
        name: settings.name.clone(),
        base: settings.url.as_str().trim_end_matches('/').to_owned(),
        timeout: settings.timeout,
        token: settings.token.clone(),
        account,
        by_serial,
        realm: table.realm,
        pin: reference("pin", &table.pin)?,
        poll_interval: Duration::from_secs_f64(poll_interval),
        client,
    }))
}

struct PrivacyIdea {
    name: String,
    /// The base URL without a trailing `/`.
    base: String,
    timeout: Duration,
    token: Option<SecretRef>,
    account: Option<(SecretRef, SecretRef)>,
    by_serial: bool,
    realm: Option<String>,
    pin: Option<SecretRef>,
    poll_interval: Duration,
    client: reqwest::Client,
}

/// privacyIDEA's answer: `result` (`status`, `value`, `authentication`,
/// `error`) and `detail`.
struct Reply {
    result: Json,
    detail: Json,
}

impl Reply {
    fn value(&self) -> &Json {
        &self.result["value"]
    }

    fn authentication(&self) -> &str {
        self.result["authentication"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.detail["message"].as_str().unwrap_or("")
    }
}

impl PrivacyIdea {
    fn communication(&self, why: impl std::fmt::Display) -> MfaError {
        MfaError::Communication(format!("MFA provider '{}': {why}", self.name))
    }

    fn refused(&self, why: impl std::fmt::Display) -> MfaError {
        MfaError::AuthenticationFailure(format!("MFA provider '{}': {why}", self.name))
    }

    /// Sends one request and reads privacyIDEA's JSON answer; an error
    /// answer (`result.status` false) is a protocol mismatch.
    async fn send(
        &self,
        ctx: &Context<'_>,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply, MfaError> {
        let exchange = async {
            let response = request.timeout(self.timeout).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        let (status, body) = ctx
            .bounded(exchange)
            .await?
            .map_err(|e| MfaError::from_http(&self.name, e))?;
        let json: Json = match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(_) if !status.is_success() => {
                return Err(MfaError::from_status(&self.name, status))
            }
            Err(e) => return Err(self.communication(format!("the answer is not JSON: {e}"))),
        };
        let result = json.get("result").cloned().unwrap_or(Json::Null);
        match result["status"].as_bool() {
            Some(true) => Ok(Reply {
                result,
                detail: json.get("detail").cloned().unwrap_or(Json::Null),
            }),
            Some(false) => Err(self.communication(format!(
                "privacyIDEA error {}: {}",
                result["error"]["code"],
                result["error"]["message"]
                    .as_str()
                    .unwrap_or("(no message)")
            ))),
            None if !status.is_success() => Err(MfaError::from_status(&self.name, status)),
            None => Err(self.communication("the answer has no result.status")),
        }
    }

    /// The form fields naming `identity`: `user` (and `realm`) or `serial`.
    fn who<'a>(&'a self, identity: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut form = vec![(if self.by_serial { "serial" } else { "user" }, identity)];
        if let Some(realm) = &self.realm {
            form.push(("realm", realm));
        }
        form
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Authorization` value for admin calls, if the provider has a
    /// service token or account.
    async fn authorization(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Zeroizing<String>>, MfaError> {
        if let Some(token) = &self.token {
            return Ok(Some(ctx.secret(token).await?));
        }
        let Some((username, password)) = &self.account else {
            return Ok(None);
        };
        let username = ctx.secret(username).await?;
        let password = ctx.secret(password).await?;
        let form = [
            ("username", username.as_str()),
            ("password", password.as_str()),
        ];
        let reply = self
            .send(ctx, self.client.post(self.url("/auth")).form(&form))
            .await?;
        let token = reply.value()["token"]
            .as_str()
            .ok_or_else(|| self.communication("/auth gave no token"))?;
        Ok(Some(Zeroizing::new(token.to_owned())))
    }

    async fn pin(&self, ctx: &Context<'_>) -> Result<Zeroizing<String>, MfaError> {
        match &self.pin {
            Some(pin) => ctx.secret(pin).await,
            None => Ok(Zeroizing::new(String::new())),
        }
    }

    /// Starts a push: the transaction id and the PUSH token's serial.
    async fn trigger(
        &self,
        ctx: &Context<'_>,
        identity: &str,
    ) -> Result<(String, String), MfaError> {
        let reply = match self.authorization(ctx).await? {
            Some(token) => {
                let request = self
                    .client
                    .post(self.url("/validate/triggerchallenge"))
                    .header("Authorization", token.as_str())
                    .form(&self.who(identity));
                self.send(ctx, request).await?
            }
            None => {
                let pin = self.pin(ctx).await?;
                let mut form = self.who(identity);
                form.push(("pass", &pin));
                self.send(
                    ctx,
                    self.client.post(self.url("/validate/check")).form(&form),
                )
                .await?
            }
        };
        if reply.authentication() == "REJECT" {
            return Err(self.refused(format!("the push was not started: {}", reply.message())));
        }
        let push = reply.detail["multi_challenge"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "push");
        let Some(push) = push else {
            return Err(self.communication(format!(
                "identity '{identity}' has no PUSH token to push to (privacyIDEA said: {})",
                reply.message()
            )));
        };
        let transaction = push["transaction_id"]
            .as_str()
            .or(reply.detail["transaction_id"].as_str())
            .ok_or_else(|| self.communication("the challenge has no transaction_id"))?;
        let serial = push["serial"].as_str().unwrap_or_default();
        Ok((transaction.to_owned(), serial.to_owned()))
    }

    /// Polls the transaction until the phone answered or `wait` is over:
    /// true when accepted.
    async fn poll(
        &self,
        ctx: &Context<'_>,
        transaction: &str,
        wait: Duration,
    ) -> Result<bool, MfaError> {
        let until = tokio::time::Instant::now() + wait;
        let mut poll_url = url::Url::parse(&self.url("/validate/polltransaction"))
            .map_err(|e| self.communication(e))?;
        poll_url
            .query_pairs_mut()
            .append_pair("transaction_id", transaction);
        loop {
            let request = self.client.get(poll_url.clone());
            let reply = self.send(ctx, request).await?;
            match reply.detail["challenge_status"].as_str() {
                Some("accept") => return Ok(true),
                Some("declined") | Some("cancelled") => return Ok(false),
                Some("pending") | None if reply.value() == &Json::Bool(true) => return Ok(true),
                Some("pending") | None => {}
                Some(other) => {
                    return Err(self.communication(format!("unknown challenge_status '{other}'")))
                }
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Err(self.refused(format!(
                    "no answer to the push within {} s",
                    wait.as_secs_f64()
                )));
            }
            ctx.pause(self.poll_interval.min(until - now)).await?;
        }
    }
}

#[async_trait]
impl MfaProvider for PrivacyIdea {
    fn kind(&self) -> &'static str {
        "privacyidea"
    }

    async fn push_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        wait: Duration,
    ) -> Result<Answer, MfaError> {
        let (transaction, serial) = self.trigger(ctx, identity).await?;
        if !self.poll(ctx, &transaction, wait).await? {
            return Err(self.refused("the push was declined"));
        }
        let mut form = self.who(identity);
        form.push(("transaction_id", &transaction));
        form.push(("pass", ""));
        let reply = self
            .send(
                ctx,
                self.client.post(self.url("/validate/check")).form(&form),
            )
            .await?;
        if reply.value() != &Json::Bool(true) {
            return Err(self.refused(format!(
                "the approved push was not accepted: {}",
                reply.message()
            )));
        }
        Ok(vec![
            ("result", Value::str(reply.authentication())),
            ("message", Value::str(reply.message())),
            ("serial", Value::Str(serial)),
            ("transaction_id", Value::Str(transaction)),
        ])
    }

    async fn otp_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        otp: &str,
    ) -> Result<Answer, MfaError> {
        let mut pass = self.pin(ctx).await?;
        pass.push_str(otp);
        let mut form = self.who(identity);
        form.push(("pass", &pass));
        let reply = self
            .send(
                ctx,
                self.client.post(self.url("/validate/check")).form(&form),
            )
            .await?;
        match (reply.value(), reply.authentication()) {
            (Json::Bool(true), _) => {}
            (Json::Bool(false), "CHALLENGE") => {
                return Err(self.refused(
                    "privacyIDEA asked for a challenge response instead of accepting the code",
                ))
            }
            (Json::Bool(false), _) => return Err(self.refused(reply.message())),
            _ => return Err(self.communication("result.value is not true or false")),
        }
        let serial = reply.detail["serial"].as_str().unwrap_or_default();
        Ok(vec![
            ("result", Value::str(reply.authentication())),
            ("message", Value::str(reply.message())),
            ("serial", Value::str(serial)),
        ])
    }
}

#[cfg(test)]
mod tests {
    //! The answers a real privacyIDEA does not give on demand (a gateway's
    //! page, a broken body), injected by a one-request HTTP listener. The
    //! flows themselves run against the real server in
    //! robot-tests/mfa_privacyidea.robot.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::stopping::Stopping;
    use crate::vault::Vaults;

    /// Serves `status` and `body` once on a free loopback port.
    async fn answer_once(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let _ = socket.read(&mut request).await;
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
        });
        url
    }

    async fn check_code(url: &str) -> Result<Answer, MfaError> {
        let settings = ProviderSettings {
            name: "pi".into(),
            kind: "privacyidea".into(),
            url: url.parse().unwrap(),
            token: None,
            timeout: Duration::from_secs(5),
            ca: None,
            ignore_connection_error: true,
            allow: vec![],
            identities: None,
        };
        let provider = build(&settings, &Json::Null).unwrap();
        let vaults = Vaults::single(Arc::new(crate::vault::EnvStore::new()));
        let stopping = Stopping::default();
        let ctx = Context {
            vaults: &vaults,
            stopping: &stopping,
            deadline: tokio::time::Instant::now() + Duration::from_secs(10),
        };
        provider.otp_authenticate(&ctx, "alice", "123456").await
    }

    #[tokio::test]
    async fn a_gateway_page_is_unreachable() {
        let url = answer_once("503 Service Unavailable", "<html>down</html>").await;
        let err = check_code(&url).await.unwrap_err();
        assert_eq!(
            err,
            MfaError::Unreachable("MFA provider 'pi' answered HTTP 503 Service Unavailable".into())
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_privacyideas_json_is_a_communication_error() {
        for (status, body, expected) in [
            ("200 OK", "<html>hello</html>", "the answer is not JSON"),
            (
                "200 OK",
                r#"{"jsonrpc": "2.0"}"#,
                "the answer has no result.status",
            ),
            (
                "200 OK",
                r#"{"result": {"status": true, "value": "yes"}}"#,
                "result.value is not true or false",
            ),
            (
                "400 BAD REQUEST",
                r#"{"result": {"status": false, "error": {"code": 905, "message": "ERR905: Missing parameter: 'pass'"}}}"#,
                "privacyIDEA error 905: ERR905: Missing parameter: 'pass'",
            ),
        ] {
            let url = answer_once(status, body).await;
            match check_code(&url).await {
                Err(MfaError::Communication(message)) => {
                    assert!(message.contains(expected), "{body}: {message}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_refusal_carries_privacyideas_message() {
        let url = answer_once(
            "200 OK",
            r#"{"result": {"status": true, "value": false, "authentication": "REJECT"},
                "detail": {"message": "wrong otp value"}}"#,
        )
        .await;
        assert_eq!(
            check_code(&url).await.unwrap_err(),
            MfaError::AuthenticationFailure("MFA provider 'pi': wrong otp value".into())
        );
    }

    #[test]
    fn the_sub_table_is_checked() {
        let settings = ProviderSettings {
            name: "pi".into(),
            kind: "privacyidea".into(),
            url: "http://127.0.0.1:1".parse().unwrap(),
            token: None,
            timeout: Duration::from_secs(5),
            ca: None,
            ignore_connection_error: false,
            allow: vec![],
            identities: None,
        };
        let err = |table: Json| build(&settings, &table).err().unwrap();
        assert!(err(serde_json::json!({"relm": "x"}))
            .starts_with("[mfa.pi.privacyidea]: unknown field `relm`"));
        assert_eq!(
            err(serde_json::json!({"identity": "serial", "realm": "x"})),
            "[mfa.pi.privacyidea] realm: only with identity = \"user\""
        );
        assert_eq!(
            err(serde_json::json!({"username": "pi:user"})),
            "[mfa.pi.privacyidea] username and password: give both or neither"
        );
        assert!(
            err(serde_json::json!({"poll_interval": 0})).contains("poll_interval must be between")
        );
        assert!(err(serde_json::json!({"pin": "nokey"}))
            .starts_with("[mfa.pi.privacyidea] pin: expected a secret reference"));
    }
}
