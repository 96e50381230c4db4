//! Password login with MFA, the Auth0 way: the password grant answers
//! `mfa_required` with an `mfa_token`; the robot picks an OTP
//! authenticator, asks for an OTP challenge and answers it with the code
//! of the namespace's TOTP secret. No person involved.
//!
//! Auth0's documented API: "Authenticate Using the Resource Owner Password
//! Flow with MFA" and "Challenge with One-Time Passwords"
//! (`/mfa/authenticators`, `/mfa/challenge`, grant type
//! `http://auth0.com/oauth/grant-type/mfa-otp`).

use serde_json::{json, Value as Json};
use url::Url;

use super::error::{from_error_body, protocol_error};
use super::grants::{extra_params, required};
use super::http::ClientAuth;
use super::session::Session;
use super::token::Token;
use super::{parse_url, redact_query};
use crate::library::{Call, KeywordError, KeywordResult};
use crate::otp::keywords::{current_key, unique_code};
use crate::otp::Kind;

const MFA_OTP_GRANT: &str = "http://auth0.com/oauth/grant-type/mfa-otp";

pub async fn password_with_mfa(call: Call) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = call.args.str("issuer");
    let token_url = oauth.token_endpoint(&call.args, issuer).await?;
    let mfa_base = match call.args.str("mfa_url") {
        Some(url) => parse_url("mfa_url", url)?,
        // Auth0 serves the MFA API beside /oauth/token: https://TENANT/mfa/.
        None => token_url
            .join("/mfa/")
            .map_err(|_| KeywordError::value_error("token_url has no origin"))?,
    };
    oauth.require_secure(&mfa_base)?;
    let client_id = required(&call.args, "client_id")?;
    let client_secret = call.args.str("client_secret");
    // Auth0 takes client credentials in the body by default.
    let auth = || ClientAuth::choose(client_id, client_secret, true);
    let now = || call.services.clock.now();

    let mut form = vec![
        (
            "username".to_owned(),
            call.args.str("username").unwrap_or_default().to_owned(),
        ),
        (
            "password".to_owned(),
            call.args.str("password").unwrap_or_default().to_owned(),
        ),
    ];
    match call.args.str("realm") {
        Some(realm) => {
            form.push((
                "grant_type".into(),
                "http://auth0.com/oauth/grant-type/password-realm".into(),
            ));
            form.push(("realm".into(), realm.into()));
        }
        None => form.push(("grant_type".into(), "password".into())),
    }
    for name in ["scope", "audience"] {
        if let Some(v) = call.args.str(name) {
            form.push((name.into(), v.into()));
        }
    }
    form.extend(extra_params(&call.args)?);
    let answer = oauth.http.post_form(&token_url, form, Some(auth())).await?;
    let mfa_token = match answer.body.get("error").and_then(Json::as_str) {
        Some("mfa_required") => answer
            .body
            .get("mfa_token")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| protocol_error("mfa_required came without an mfa_token"))?,
        // No MFA asked for: the password alone was enough (or failed).
        _ => {
            let token = Token::from_response(answer, redact_query(token_url.as_str()), now())?;
            return finish(&call, client_id, token).await;
        }
    };

    let authenticator = pick_authenticator(&call, &mfa_base, &mfa_token).await?;
    let mut challenge = json!({
        "client_id": client_id,
        "challenge_type": "otp",
        "mfa_token": mfa_token,
        "authenticator_id": authenticator,
    });
    if let Some(secret) = client_secret {
        challenge["client_secret"] = Json::from(secret);
    }
    let url = mfa_base.join("challenge").expect("a relative path joins");
    let answer = oauth.http.post_json(&url, &challenge, None).await?;
    if let Some(error) = from_error_body(&answer.body) {
        return Err(error);
    }
    if answer.body.get("challenge_type").and_then(Json::as_str) != Some("otp") {
        return Err(protocol_error(format!(
            "{url} did not start an OTP challenge"
        )));
    }

    let otp = fresh_code(&call).await?;
    let form = vec![
        ("grant_type".to_owned(), MFA_OTP_GRANT.to_owned()),
        ("mfa_token".to_owned(), mfa_token),
        ("otp".to_owned(), otp),
    ];
    let answer = oauth.http.post_form(&token_url, form, Some(auth())).await?;
    let token = Token::from_response(answer, redact_query(token_url.as_str()), now())?;
    finish(&call, client_id, token).await
}

async fn finish(call: &Call, client_id: &str, token: Token) -> KeywordResult {
    let value = token.to_value();
    Session::edit(call.ns(), |session| {
        session.start_flow(client_id, call.args.str("issuer"));
        session.token = Some(token.clone());
    })
    .await?;
    Ok(value)
}

/// The authenticator to challenge: the one named, else the first active
/// OTP authenticator of the user.
async fn pick_authenticator(
    call: &Call,
    base: &Url,
    mfa_token: &str,
) -> Result<String, KeywordError> {
    let url = base.join("authenticators").expect("a relative path joins");
    let answer = call
        .services
        .oauth
        .http
        .get_json(&url, Some(mfa_token))
        .await?;
    if let Some(error) = from_error_body(&answer.body) {
        return Err(error);
    }
    let Some(list) = answer.body.as_array().filter(|_| answer.is_success()) else {
        return Err(protocol_error(format!(
            "{url} answered HTTP {} without a list",
            answer.status
        )));
    };
    let field = |a: &Json, name: &str| a.get(name).and_then(Json::as_str).map(str::to_owned);
    if let Some(wanted) = call.args.str("authenticator_id") {
        return list
            .iter()
            .find(|a| field(a, "id").as_deref() == Some(wanted))
            .and(Some(wanted.to_owned()))
            .ok_or_else(|| {
                KeywordError::value_error(format!("The user has no authenticator '{wanted}'."))
            });
    }
    list.iter()
        .find(|a| {
            field(a, "authenticator_type").as_deref() == Some("otp")
                && a.get("active").and_then(Json::as_bool) != Some(false)
        })
        .and_then(|a| field(a, "id"))
        .ok_or_else(|| {
            let kinds: Vec<String> = list
                .iter()
                .filter_map(|a| field(a, "authenticator_type"))
                .collect();
            KeywordError::new(
                "MFARequiredError",
                format!(
                    "The user has no active OTP authenticator to answer with (found: {}).",
                    kinds.join(", ")
                ),
            )
        })
}

/// The current code of the namespace's TOTP secret, but never a code
/// already handed out for it: services refuse a code used twice, so a
/// second login in the same period (from any robot on any server sharing
/// the store) waits for the next. The mark is `unique=True`'s.
async fn fresh_code(call: &Call) -> Result<String, KeywordError> {
    let key = current_key(call.ns(), Kind::Totp).await?;
    unique_code(call, &key, 0.0).await
}
