//! The flows behind the OAuth keywords: each function is one keyword's
//! work, reading its bound arguments and the namespace's session.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde_json::Value as Json;
use url::Url;

use super::error::{from_error_body, oauth_error, protocol_error};
use super::http::ClientAuth;
use super::id_token::Expected;
use super::session::{Authorization, DeviceLogin};
use super::token::Token;
use super::{parse_url, redact_query, OAuth};
use crate::library::{Args, Call, KeywordError, KeywordResult};
use crate::otp::parse_unix_time;
use crate::value::Value;

const NOT_SET: &str = "OAuth2 session required but not initialized, please call the \
`Generate OAuth URL` keyword first.";

fn not_set() -> KeywordError {
    KeywordError::new("OAuth2NotSetError", NOT_SET)
}

/// `**kwargs` as request parameters; None values are left out.
pub fn extra_params(args: &Args) -> Vec<(String, String)> {
    args.extra()
        .iter()
        .filter(|(_, v)| !v.is_none())
        .map(|(k, v)| {
            let text = match v {
                Value::Str(s) => s.clone(),
                // Python's str(True), as requests-oauthlib would send it.
                Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
                Value::Int(i) => i.to_string(),
                Value::Float(x) => x.to_string(),
                other => format!("{other:?}"),
            };
            (k.clone(), text)
        })
        .collect()
}

fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, KeywordError> {
    args.str(name)
        .ok_or_else(|| KeywordError::value_error(format!("{name} must not be empty.")))
}

/// A random value for `state` or `nonce`: 30 URL-safe characters, as long
/// as oauthlib's.
fn random_token() -> String {
    CsrfToken::new_random_len(22).secret().clone()
}

impl OAuth {
    async fn token_request(
        &self,
        url: &Url,
        form: Vec<(String, String)>,
        auth: Option<ClientAuth<'_>>,
        now: f64,
    ) -> Result<Token, KeywordError> {
        let answer = self.http.post_form(url, form, auth).await?;
        Token::from_response(answer, redact_query(url.as_str()), now)
    }
}

/// The issuer a call names, else the one its session's flow used.
fn issuer(call: &Call) -> Option<String> {
    call.args
        .str("issuer")
        .map(str::to_owned)
        .or_else(|| call.ns.oauth().issuer.clone())
}

pub async fn generate_url(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let auth_url = oauth
        .endpoint(
            "auth_url",
            call.args.str("auth_url"),
            issuer,
            "authorization_endpoint",
        )
        .await?;
    let client_id = required(&call.args, "client_id")?;
    let redirect_uri = required(&call.args, "redirect_uri")?;
    parse_url("redirect_uri", redirect_uri)?;
    let scope = call.args.str("scope").unwrap_or_default();
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let state = random_token();
    let pkce = call
        .args
        .bool("pkce")
        .then(PkceCodeChallenge::new_random_sha256);
    // A nonce binds the ID token to this request (OIDC Core 3.1.2.1).
    let nonce = scopes.contains(&"openid").then(random_token);

    let mut url = auth_url;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state);
        if let Some((challenge, _)) = &pkce {
            query
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", challenge.method().as_str());
        }
        if let Some(nonce) = &nonce {
            query.append_pair("nonce", nonce);
        }
        for (k, v) in extra_params(&call.args) {
            query.append_pair(&k, &v);
        }
    }
    oauth.callbacks.expect(&state);
    let mut session = call.ns.oauth();
    session.start_flow(client_id, issuer);
    session.authorization = Some(Authorization {
        redirect_uri: redirect_uri.to_owned(),
        state,
        pkce_verifier: pkce.map(|(_, verifier)| verifier),
        nonce,
    });
    Ok(Value::Str(url.into()))
}

/// The code in a response URL, after the checks oauthlib makes, in its
/// order: transport, state, error, code.
fn code_from_response(
    oauth: &OAuth,
    response_url: &str,
    state: &str,
    issuer: Option<&str>,
) -> Result<String, KeywordError> {
    let url = parse_url("response_url", response_url)?;
    oauth.require_secure(&url)?;
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("state") != Some(state) {
        return Err(KeywordError::new(
            "MismatchingStateError",
            "(mismatching_state) CSRF Warning! State not equal in request and response.",
        ));
    }
    if let Some(error) = param("error") {
        return Err(oauth_error(error, param("error_description")));
    }
    // RFC 9207: a response naming another issuer is a mix-up attack.
    if let (Some(iss), Some(expected)) = (param("iss"), issuer) {
        if iss.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(protocol_error(format!(
                "The response comes from issuer '{iss}', not '{expected}'."
            )));
        }
    }
    param("code").map(str::to_owned).ok_or_else(|| {
        KeywordError::new(
            "MissingCodeError",
            "(missing_code) Missing code parameter in response.",
        )
    })
}

/// Waits for the redirect of the session's flow at the server's callback.
async fn wait_for_callback(call: &Call) -> Result<String, KeywordError> {
    let oauth = &call.services.oauth;
    let state = call
        .ns
        .oauth()
        .authorization
        .as_ref()
        .map(|a| a.state.clone())
        .ok_or_else(not_set)?;
    let seconds = call.args.seconds("timeout").unwrap_or(300.0).max(0.0);
    oauth
        .callbacks
        .wait(&state, Duration::from_secs_f64(seconds))
        .await
        .ok_or_else(|| {
            KeywordError::new(
                "TimeoutError",
                format!(
                    "No redirect reached {} within {seconds} s. Open the authorization URL in a \
browser, or pass response_url.",
                    oauth
                        .callback_url()
                        .unwrap_or("the server's /oauth/callback")
                ),
            )
        })
}

pub async fn wait_callback(call: Call) -> KeywordResult {
    wait_for_callback(&call).await.map(Value::Str)
}

pub async fn get_token(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call);
    let token_url = oauth
        .endpoint(
            "token_url",
            call.args.str("token_url"),
            issuer.as_deref(),
            "token_endpoint",
        )
        .await?;
    let (client_id, state, redirect_uri, verifier) = {
        let session = call.ns.oauth();
        let auth = session.authorization.as_ref().ok_or_else(not_set)?;
        (
            session.client_id.clone().ok_or_else(not_set)?,
            auth.state.clone(),
            auth.redirect_uri.clone(),
            auth.pkce_verifier.as_ref().map(|v| v.secret().clone()),
        )
    };
    let response_url = match call.args.str("response_url") {
        Some(url) => url.to_owned(),
        None => wait_for_callback(&call).await?,
    };
    let code = code_from_response(oauth, &response_url, &state, issuer.as_deref())?;
    let mut form = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), code),
        ("redirect_uri".to_owned(), redirect_uri),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier".into(), verifier));
    }
    form.extend(extra_params(&call.args));
    let auth = ClientAuth::choose(
        &client_id,
        call.args.str("client_secret"),
        call.args.bool("include_client_id"),
    );
    let token = oauth
        .token_request(&token_url, form, Some(auth), call.services.clock.now())
        .await?;
    let value = token.to_value();
    call.ns.oauth().token = Some(token);
    Ok(value)
}

pub async fn refresh_token(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call);
    let token_url = oauth
        .endpoint(
            "token_url",
            call.args.str("token_url"),
            issuer.as_deref(),
            "token_endpoint",
        )
        .await?;
    let (client_id, refresh) = {
        let session = call.ns.oauth();
        let client_id = call
            .args
            .str("client_id")
            .map(str::to_owned)
            .or_else(|| session.client_id.clone());
        let refresh = call
            .args
            .str("refresh_token")
            .map(str::to_owned)
            .or_else(|| {
                session
                    .token
                    .as_ref()
                    .and_then(|t| t.refresh_token().map(str::to_owned))
            });
        (client_id, refresh)
    };
    let client_id = client_id.ok_or_else(|| {
        KeywordError::value_error("client_id is required: no flow in this namespace named one.")
    })?;
    let refresh = refresh.ok_or_else(|| {
        KeywordError::value_error(
            "refresh_token is required: no token with a refresh_token was received in this namespace.",
        )
    })?;
    let mut form = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), refresh.clone()),
    ];
    if let Some(scope) = call.args.str("scope") {
        form.push(("scope".into(), scope.into()));
    }
    form.extend(extra_params(&call.args));
    let auth = ClientAuth::choose(
        &client_id,
        call.args.str("client_secret"),
        call.args.bool("include_client_id"),
    );
    let mut token = oauth
        .token_request(&token_url, form, Some(auth), call.services.clock.now())
        .await?;
    token.keep_refresh_token(&refresh);
    let value = token.to_value();
    let mut session = call.ns.oauth();
    session.client_id.get_or_insert(client_id);
    session.token = Some(token);
    Ok(value)
}

/// Client credentials (RFC 6749 4.4) and resource-owner password (4.3):
/// one request, no browser.
pub async fn direct_grant(call: Call, grant_type: &'static str) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let token_url = oauth
        .endpoint(
            "token_url",
            call.args.str("token_url"),
            issuer,
            "token_endpoint",
        )
        .await?;
    let client_id = required(&call.args, "client_id")?;
    let mut form = vec![("grant_type".to_owned(), grant_type.to_owned())];
    if grant_type == "password" {
        form.push(("username".into(), required(&call.args, "username")?.into()));
        form.push(("password".into(), required(&call.args, "password")?.into()));
    }
    if let Some(scope) = call.args.str("scope") {
        form.push(("scope".into(), scope.into()));
    }
    form.extend(extra_params(&call.args));
    let auth = ClientAuth::choose(
        client_id,
        call.args.str("client_secret"),
        call.args.bool("include_client_id"),
    );
    let token = oauth
        .token_request(&token_url, form, Some(auth), call.services.clock.now())
        .await?;
    let value = token.to_value();
    let mut session = call.ns.oauth();
    session.start_flow(client_id, issuer);
    session.token = Some(token);
    Ok(value)
}

pub async fn start_device_login(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let url = oauth
        .endpoint(
            "device_authorization_url",
            call.args.str("device_authorization_url"),
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
    form.extend(extra_params(&call.args));
    let auth = ClientAuth::choose(client_id, client_secret, include_client_id);
    let answer = oauth.http.post_form(&url, form, Some(auth)).await?;
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
    // RFC 8628 3.2: five seconds when the server does not say.
    let interval = number("interval").unwrap_or(5.0).max(1.0);
    let now = call.services.clock.now();
    let complete = text("verification_uri_complete");
    call.output.info(&format!(
        "To log in, open {} and enter the code {user_code}.",
        verification_uri
    ));
    let mut result = vec![
        ("user_code", Value::str(user_code)),
        ("verification_uri", Value::str(verification_uri)),
        ("expires_in", Value::Int(expires_in as i128)),
        ("interval", Value::Int(interval as i128)),
    ];
    if let Some(complete) = complete {
        result.push(("verification_uri_complete", Value::Str(complete)));
    }
    let mut session = call.ns.oauth();
    session.start_flow(client_id, issuer);
    session.device = Some(DeviceLogin {
        client_id: client_id.to_owned(),
        client_secret: client_secret.map(str::to_owned),
        include_client_id,
        device_code,
        interval,
        expires_at: now + expires_in,
        last_poll: None,
    });
    Ok(Value::dict(result))
}

/// Polls the token endpoint until the device login is approved, denied or
/// expired, waiting `interval` between polls and 5 s more at each
/// `slow_down` (RFC 8628 3.4-3.5). `timeout=0` polls once.
pub async fn wait_device_login(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call);
    let token_url = oauth
        .endpoint(
            "token_url",
            call.args.str("token_url"),
            issuer.as_deref(),
            "token_endpoint",
        )
        .await?;
    let clock = &call.services.clock;
    let started = clock.now();
    let timeout = call.args.seconds("timeout");
    loop {
        let Some((client_id, secret, in_body, device_code, interval, expires_at, last_poll)) =
            call.ns.oauth().device.as_ref().map(|d| {
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
            call.ns.oauth().device = None;
            return Err(oauth_error(
                "expired_token",
                Some("The device code expired before the login was approved."),
            ));
        }
        let polling_once = timeout == Some(0.0);
        if !polling_once {
            let due = last_poll.map_or(now, |t| t + interval);
            if let Some(limit) = timeout {
                if due > started + limit {
                    return Err(KeywordError::new(
                        "TimeoutError",
                        format!("The device login was not approved within {limit} s; it stays valid until it expires."),
                    ));
                }
            }
            if due > now {
                tokio::time::sleep(Duration::from_secs_f64(due - now)).await;
            }
        }
        let form = vec![
            (
                "grant_type".to_owned(),
                "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
            ),
            ("device_code".to_owned(), device_code),
        ];
        let auth = ClientAuth::choose(&client_id, secret.as_deref(), in_body);
        let polled_at = clock.now();
        let result = oauth
            .token_request(&token_url, form, Some(auth), polled_at)
            .await;
        let mut session = call.ns.oauth();
        if let Some(device) = session.device.as_mut() {
            device.last_poll = Some(polled_at);
        }
        match result {
            Ok(token) => {
                let value = token.to_value();
                session.device = None;
                session.token = Some(token);
                return Ok(value);
            }
            Err(e) if e.name == "SlowDownError" => {
                if let Some(device) = session.device.as_mut() {
                    device.interval += 5.0;
                    call.output.info(&format!(
                        "The server asked to slow down (slow_down); polling every {} s now.",
                        device.interval
                    ));
                }
                if polling_once {
                    return Err(e);
                }
            }
            Err(e) if e.name == "AuthorizationPendingError" && !polling_once => {}
            Err(e) => {
                if e.name != "AuthorizationPendingError" {
                    session.device = None;
                }
                return Err(e);
            }
        }
    }
}

/// Token introspection (RFC 7662) and revocation (RFC 7009).
pub async fn token_endpoint_call(call: Call, revoke: bool) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call);
    let (arg, field) = if revoke {
        ("revocation_url", "revocation_endpoint")
    } else {
        ("introspection_url", "introspection_endpoint")
    };
    let url = oauth
        .endpoint(arg, call.args.str(arg), issuer.as_deref(), field)
        .await?;
    let token = match call.args.str("token") {
        Some(t) => t.to_owned(),
        None => call
            .ns
            .oauth()
            .token
            .as_ref()
            .map(|t| t.access_token().to_owned())
            .ok_or_else(|| {
                KeywordError::value_error(
                    "token is required: no token was received in this namespace.",
                )
            })?,
    };
    let client_id = call
        .args
        .str("client_id")
        .map(str::to_owned)
        .or_else(|| call.ns.oauth().client_id.clone())
        .ok_or_else(|| {
            KeywordError::value_error("client_id is required: no flow in this namespace named one.")
        })?;
    let mut form = vec![("token".to_owned(), token)];
    if let Some(hint) = call.args.str("token_type_hint") {
        form.push(("token_type_hint".into(), hint.into()));
    }
    let auth = ClientAuth::choose(
        &client_id,
        call.args.str("client_secret"),
        call.args.bool("include_client_id"),
    );
    let answer = oauth.http.post_form(&url, form, Some(auth)).await?;
    if let Some(error) = from_error_body(&answer.body) {
        return Err(error);
    }
    if !answer.is_success() {
        return Err(protocol_error(format!(
            "{} answered HTTP {}",
            redact_query(url.as_str()),
            answer.status
        )));
    }
    if revoke {
        return Ok(Value::None);
    }
    if !answer.body.get("active").is_some_and(Json::is_boolean) {
        return Err(protocol_error(format!(
            "{} answered without the boolean 'active'",
            redact_query(url.as_str())
        )));
    }
    Ok(Value::from_json(&answer.body))
}

pub async fn validate_id_token(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let (session_token, session_client, session_issuer, session_nonce) = {
        let session = call.ns.oauth();
        (
            session
                .token
                .as_ref()
                .and_then(|t| t.id_token().map(str::to_owned)),
            session.client_id.clone(),
            session.issuer.clone(),
            session.authorization.as_ref().and_then(|a| a.nonce.clone()),
        )
    };
    let (token, nonce) = match call.args.str("id_token") {
        Some(t) => (t.to_owned(), call.args.str("nonce").map(str::to_owned)),
        // The session's token comes with the session's nonce.
        None => (
            session_token.ok_or_else(|| {
                KeywordError::value_error("id_token is required: no token with an id_token was received in this namespace.")
            })?,
            call.args.str("nonce").map(str::to_owned).or(session_nonce),
        ),
    };
    let issuer = call
        .args
        .str("issuer")
        .map(str::to_owned)
        .or(session_issuer)
        .ok_or_else(|| KeywordError::value_error("issuer is required to validate an ID token."))?;
    let client_id = call
        .args
        .str("client_id")
        .map(str::to_owned)
        .or(session_client)
        .ok_or_else(|| {
            KeywordError::value_error("client_id is required to validate an ID token.")
        })?;
    let jwks_uri = oauth
        .endpoint(
            "jwks_url",
            call.args.str("jwks_url"),
            Some(&issuer),
            "jwks_uri",
        )
        .await?;
    let now = match call.args.str("at") {
        Some(at) => parse_unix_time(at).ok_or_else(|| {
            KeywordError::value_error(format!(
                "at must be Unix seconds or an ISO 8601 time such as 2020-01-01T00:00:00, got '{at}'."
            ))
        })? as f64,
        None => call.services.clock.now(),
    };
    let leeway = call.args.seconds("leeway").unwrap_or(60.0);
    let expected = Expected {
        issuer: &issuer,
        client_id: &client_id,
        nonce: nonce.as_deref(),
        leeway,
        now,
    };
    oauth.validate_id_token(&token, &jwks_uri, &expected).await
}

pub async fn openid_configuration(call: Call) -> KeywordResult {
    let issuer = required(&call.args, "issuer")?;
    let doc = call.services.oauth.provider(issuer).await?;
    Ok(Value::from_json(&doc))
}

pub async fn callback_url(call: Call) -> KeywordResult {
    call.services
        .oauth
        .callback_url()
        .map(Value::str)
        .ok_or_else(|| {
            KeywordError::value_error("This server has no OAuth callback (it is not listening).")
        })
}
