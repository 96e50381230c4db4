//! Device authorization (RFC 8628): start a login a person approves on
//! another device, then poll until it is approved, denied or expired.

use std::time::Duration;

use serde_json::Value as Json;

use super::client::{request_token, Client, Grant};
use super::error::{from_error_body, oauth_error, protocol_error};
use super::grants::{extra_params, issuer, required};
use super::http::ClientAuth;
use super::session::{DeviceLogin, Session};
use super::{redact_query, OAuth};
use crate::library::{Call, KeywordError, KeywordResult};
use crate::value::Value;
use url::Url;

/// What a device authorization endpoint answered (RFC 8628 3.2).
pub(super) struct DeviceAnswer {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: f64,
    pub interval: f64,
}

impl DeviceAnswer {
    /// What a person needs, as the keyword returns it (no device code).
    pub fn to_value(&self) -> Value {
        let mut result = vec![
            ("user_code", Value::str(&self.user_code)),
            ("verification_uri", Value::str(&self.verification_uri)),
            ("expires_in", Value::Int(self.expires_in as i128)),
            ("interval", Value::Int(self.interval as i128)),
        ];
        if let Some(complete) = &self.verification_uri_complete {
            result.push(("verification_uri_complete", Value::str(complete)));
        }
        Value::dict(result)
    }
}

/// Starts a device authorization at `url`: one request, its answer checked.
pub(super) async fn device_authorization(
    oauth: &OAuth,
    url: &Url,
    form: Vec<(String, String)>,
    auth: ClientAuth<'_>,
) -> Result<DeviceAnswer, KeywordError> {
    let answer = oauth.http.post_form(url, form, Some(auth)).await?;
    if let Some(error) = from_error_body(&answer.body) {
        return Err(error);
    }
    let text = |field: &str| {
        answer
            .body
            .get(field)
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let number = |field: &str| answer.body.get(field).and_then(Json::as_f64);
    let (Some(device_code), Some(user_code), Some(verification_uri), Some(expires_in)) = (
        text("device_code"),
        text("user_code"),
        text("verification_uri"),
        number("expires_in"),
    ) else {
        return Err(protocol_error(format!(
            "{} answered HTTP {} without device_code, user_code, verification_uri and expires_in",
            redact_query(url.as_str()),
            answer.status
        )));
    };
    Ok(DeviceAnswer {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in,
        // RFC 8628 3.2: five seconds when the server does not say.
        interval: number("interval").unwrap_or(5.0).max(1.0),
    })
}

pub async fn start_device_login(call: Call) -> KeywordResult {
    if let Some(profile) = call.args.str("profile") {
        let profile = profile.to_owned();
        return super::profile::keywords::start_device_login(&call, &profile).await;
    }
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let url = oauth
        .endpoint(
            &call.args,
            "device_authorization_url",
            issuer,
            "device_authorization_endpoint",
        )
        .await?;
    let client_id = required(&call.args, "client_id")?;
    let client_secret = call.args.str("client_secret");
    let include_client_id = call.args.bool("include_client_id");
    let mut form = Vec::new();
    if let Some(scope) = call.args.str("scope") {
        form.push(("scope".to_owned(), scope.to_owned()));
    }
    form.extend(extra_params(&call.args)?);
    let auth = ClientAuth::choose(client_id, client_secret, include_client_id);
    let answer = device_authorization(oauth, &url, form, auth).await?;
    let now = call.services.clock.now();
    call.output.info(&format!(
        "To log in, open {} and enter the code {}.",
        answer.verification_uri, answer.user_code
    ));
    let device = DeviceLogin {
        client_id: client_id.to_owned(),
        client_secret: client_secret.map(str::to_owned),
        include_client_id,
        device_code: answer.device_code.clone(),
        interval: answer.interval,
        expires_at: now + answer.expires_in,
        last_poll: None,
    };
    Session::edit(call.ns(), |session| {
        session.start_flow(client_id, issuer);
        session.device = Some(device.clone());
    })
    .await?;
    Ok(answer.to_value())
}

/// Polls the token endpoint until the device login is approved, denied or
/// expired, waiting `interval` between polls and 5 s more at each
/// `slow_down` (RFC 8628 3.4-3.5). `timeout=0` polls once.
pub async fn wait_device_login(call: Call) -> KeywordResult {
    // Without a timeout the wait still ends by the server's --max-wait.
    let timeout = call
        .timeout("timeout")?
        .unwrap_or(call.services.max_wait)
        .as_secs_f64();
    let oauth = &call.services.oauth;
    let issuer = issuer(&call).await?;
    let token_url = oauth.token_endpoint(&call.args, issuer.as_deref()).await?;
    let clock = &call.services.clock;
    let started = clock.now();
    loop {
        let Some((client_id, secret, in_body, device_code, interval, expires_at, last_poll)) =
            Session::of(call.ns()).await?.device.as_ref().map(|d| {
                (
                    d.client_id.clone(),
                    d.client_secret.clone(),
                    d.include_client_id,
                    d.device_code.clone(),
                    d.interval,
                    d.expires_at,
                    d.last_poll,
                )
            })
        else {
            return Err(KeywordError::new(
                "OAuth2NotSetError",
                "No device login in progress, please call the `Start OAuth Device Login` keyword first.",
            ));
        };
        let now = clock.now();
        if now >= expires_at {
            Session::edit(call.ns(), |session| session.device = None).await?;
            return Err(oauth_error(
                "expired_token",
                Some("The device code expired before the login was approved."),
            ));
        }
        let polling_once = timeout == 0.0;
        if !polling_once {
            let due = last_poll.map_or(now, |t| t + interval);
            if due > started + timeout {
                return Err(KeywordError::new(
                    "TimeoutError",
                    format!("The device login was not approved within {timeout} s; it stays valid until it expires."),
                ));
            }
            if due > now {
                call.wait(tokio::time::sleep(Duration::from_secs_f64(due - now)))
                    .await?;
            }
        }
        let client = Client {
            token_url: &token_url,
            auth: ClientAuth::choose(&client_id, secret.as_deref(), in_body),
        };
        let polled_at = clock.now();
        let grant = Grant::DeviceCode {
            device_code: &device_code,
        };
        let result = request_token(oauth, &client, grant, None, Vec::new(), polled_at).await;
        let slow_down = matches!(&result, Err(e) if e.name == "SlowDownError");
        let finished = match &result {
            Ok(_) => true,
            Err(e) => !slow_down && e.name != "AuthorizationPendingError",
        };
        let mut new_interval = None;
        Session::edit(call.ns(), |session| {
            if let Some(device) = session.device.as_mut() {
                device.last_poll = Some(polled_at);
                if slow_down {
                    device.interval = interval + 5.0;
                    new_interval = Some(device.interval);
                }
            }
            if finished {
                session.device = None;
            }
            if let Ok(token) = &result {
                session.token = Some(token.clone());
            }
        })
        .await?;
        if let Some(interval) = new_interval {
            call.output.info(&format!(
                "The server asked to slow down (slow_down); polling every {interval} s now."
            ));
        }
        match result {
            Ok(token) => return Ok(token.to_value()),
            Err(e) if e.name == "AuthorizationPendingError" && !polling_once => {}
            Err(e) if slow_down && !polling_once => drop(e),
            Err(e) => return Err(e),
        }
    }
}
