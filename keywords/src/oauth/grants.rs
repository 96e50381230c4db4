//! The grants behind the OAuth keywords: the authorization-code flow with
//! its callback, refresh, client credentials and password. Each public
//! function is one keyword's work, reading its bound arguments and the
//! namespace's session; `device`, `tokens` and `mfa` hold the other flows.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge};
use url::Url;

use super::client::{request_token, Client, Grant};
use super::error::{oauth_error, protocol_error};
use super::http::ClientAuth;
use super::session::{Authorization, Session};
use super::token::Token;
use super::{parse_url, redact_query, OAuth};
use crate::library::{Args, Call, KeywordError, KeywordResult};
use crate::value::{display_plain, Value};

const NOT_SET: &str = "OAuth2 session required but not initialized, please call the \
`Generate OAuth URL` keyword first.";

/// How long a redirect is waited for when the call gives no `timeout`
/// (or `--max-wait`, when that is shorter).
const DEFAULT_CALLBACK_WAIT: Duration = Duration::from_secs(300);

pub(super) fn not_set() -> KeywordError {
    KeywordError::new("OAuth2NotSetError", NOT_SET)
}

/// `**kwargs` as request parameters; None values are left out. Only
/// scalars have one obvious text on the wire: a list or dict is refused,
/// naming the argument, rather than sent as some rendering of it.
pub fn extra_params(args: &Args) -> Result<Vec<(String, String)>, KeywordError> {
    args.extra()
        .iter()
        .filter(|(_, v)| !v.is_none())
        .map(|(k, v)| {
            let text = match v {
                Value::Str(s) => s.clone(),
                // Python's str(), as requests-oauthlib would send it.
                Value::Bool(_) | Value::Int(_) | Value::Float(_) => display_plain(v),
                other => {
                    return Err(KeywordError::value_error(format!(
                        "Argument '{k}' must be text, a number or a boolean to be sent to the \
authorization server, got {}.",
                        other.type_name()
                    )))
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

pub(super) fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, KeywordError> {
    args.str(name)
        .ok_or_else(|| KeywordError::value_error(format!("{name} must not be empty.")))
}

/// A random value for `state` or `nonce`: 30 URL-safe characters, as long
/// as oauthlib's.
fn random_token() -> String {
    CsrfToken::new_random_len(22).secret().clone()
}

impl OAuth {
    pub(super) async fn token_request(
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

/// How the client authenticates, from the keyword's `client_secret` and
/// `include_client_id` (RPA.MFA's switch between Basic and the body).
pub(super) fn client_auth<'a>(args: &'a Args, client_id: &'a str) -> ClientAuth<'a> {
    ClientAuth::choose(
        client_id,
        args.str("client_secret"),
        args.bool("include_client_id"),
    )
}

/// The client a call names, else the one its session's flow used.
pub(super) async fn client_id(call: &Call) -> Result<String, KeywordError> {
    if let Some(id) = call.args.str("client_id") {
        return Ok(id.to_owned());
    }
    Session::of(call.ns())
        .await?
        .client_id
        .clone()
        .ok_or_else(|| {
            KeywordError::value_error("client_id is required: no flow in this namespace named one.")
        })
}

/// The issuer a call names, else the one its session's flow used.
pub(super) async fn issuer(call: &Call) -> Result<Option<String>, KeywordError> {
    if let Some(issuer) = call.args.str("issuer") {
        return Ok(Some(issuer.to_owned()));
    }
    Ok(Session::of(call.ns()).await?.issuer.clone())
}

pub async fn generate_url(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let auth_url = oauth
        .endpoint(&call.args, "auth_url", issuer, "authorization_endpoint")
        .await?;
    let client_id = required(&call.args, "client_id")?;
    let redirect_uri = required(&call.args, "redirect_uri")?;
    parse_url("redirect_uri", redirect_uri)?;
    let extra = extra_params(&call.args)?;
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
        for (k, v) in &extra {
            query.append_pair(k, v);
        }
    }
    oauth.callbacks.expect(&state).await?;
    let authorization = Authorization {
        redirect_uri: redirect_uri.to_owned(),
        state,
        pkce_verifier: pkce.map(|(_, verifier)| verifier.secret().clone()),
        nonce,
    };
    Session::edit(call.ns(), |session| {
        session.start_flow(client_id, issuer);
        session.authorization = Some(authorization.clone());
    })
    .await?;
    Ok(Value::Str(url.into()))
}

/// The code in a response URL, after the checks oauthlib makes, in its
/// order: transport, state, error, code. Public (through [`super`]) only so
/// the fuzz target `fuzz/fuzz_targets/oauth_response_url.rs` can reach it.
pub fn code_from_response(
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

/// A call's `timeout` for the redirect, checked before anything else.
fn callback_timeout(call: &Call) -> Result<Duration, KeywordError> {
    Ok(call
        .timeout("timeout")?
        .unwrap_or(DEFAULT_CALLBACK_WAIT.min(call.services.max_wait)))
}

/// Waits for the redirect of the session's flow at the server's callback.
async fn wait_for_callback(call: &Call, timeout: Duration) -> Result<String, KeywordError> {
    let oauth = &call.services.oauth;
    let state = Session::of(call.ns())
        .await?
        .authorization
        .as_ref()
        .map(|a| a.state.clone())
        .ok_or_else(not_set)?;
    let seconds = timeout.as_secs_f64();
    call.wait(oauth.callbacks.wait(&state, timeout))
        .await??
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
    let timeout = callback_timeout(&call)?;
    wait_for_callback(&call, timeout).await.map(Value::Str)
}

pub async fn get_token(call: Call) -> KeywordResult {
    let timeout = callback_timeout(&call)?;
    let oauth = &call.services.oauth;
    let issuer = issuer(&call).await?;
    let token_url = oauth.token_endpoint(&call.args, issuer.as_deref()).await?;
    let (client_id, state, redirect_uri, verifier) = {
        let session = Session::of(call.ns()).await?;
        let auth = session.authorization.as_ref().ok_or_else(not_set)?;
        (
            session.client_id.clone().ok_or_else(not_set)?,
            auth.state.clone(),
            auth.redirect_uri.clone(),
            auth.pkce_verifier.clone(),
        )
    };
    let response_url = match call.args.str("response_url") {
        Some(url) => url.to_owned(),
        None => wait_for_callback(&call, timeout).await?,
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
    form.extend(extra_params(&call.args)?);
    let auth = client_auth(&call.args, &client_id);
    let token = oauth
        .token_request(&token_url, form, Some(auth), call.services.clock.now())
        .await?;
    let value = token.to_value();
    Session::edit(call.ns(), |session| session.token = Some(token.clone())).await?;
    Ok(value)
}

pub async fn refresh_token(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call).await?;
    let token_url = oauth.token_endpoint(&call.args, issuer.as_deref()).await?;
    let client_id = client_id(&call).await?;
    let refresh = match call.args.str("refresh_token") {
        Some(refresh) => Some(refresh.to_owned()),
        None => Session::of(call.ns())
            .await?
            .token
            .as_ref()
            .and_then(|t| t.refresh_token().map(str::to_owned)),
    };
    let refresh = refresh.ok_or_else(|| {
        KeywordError::value_error(
            "refresh_token is required: no token with a refresh_token was received in this namespace.",
        )
    })?;
    let client = Client {
        token_url: &token_url,
        auth: client_auth(&call.args, &client_id),
    };
    let grant = Grant::RefreshToken {
        refresh_token: &refresh,
    };
    let token = request_token(
        oauth,
        &client,
        grant,
        call.args.str("scope"),
        extra_params(&call.args)?,
        call.services.clock.now(),
    )
    .await?;
    let value = token.to_value();
    Session::edit(call.ns(), |session| {
        session.client_id.get_or_insert_with(|| client_id.clone());
        session.token = Some(token.clone());
    })
    .await?;
    Ok(value)
}

/// Client credentials (RFC 6749 4.4) and resource-owner password (4.3):
/// one request, no browser.
pub async fn direct_grant(call: Call, grant_type: &'static str) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let token_url = oauth.token_endpoint(&call.args, issuer).await?;
    let client_id = required(&call.args, "client_id")?;
    let grant = match grant_type {
        "password" => Grant::Password {
            username: required(&call.args, "username")?,
            password: required(&call.args, "password")?,
        },
        _ => Grant::ClientCredentials,
    };
    let client = Client {
        token_url: &token_url,
        auth: client_auth(&call.args, client_id),
    };
    let token = request_token(
        oauth,
        &client,
        grant,
        call.args.str("scope"),
        extra_params(&call.args)?,
        call.services.clock.now(),
    )
    .await?;
    let value = token.to_value();
    Session::edit(call.ns(), |session| {
        session.start_flow(client_id, issuer);
        session.token = Some(token.clone());
    })
    .await?;
    Ok(value)
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
