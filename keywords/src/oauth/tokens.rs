//! What a robot does with a token it holds: introspect it (RFC 7662),
//! revoke it (RFC 7009), validate an ID token, and look up an issuer.

use serde_json::Value as Json;

use super::error::{from_error_body, protocol_error};
use super::grants::{client_auth, client_id, issuer, required};
use super::id_token::Expected;
use super::redact_query;
use super::session::Session;
use crate::library::{Call, KeywordError, KeywordResult};
use crate::otp::parse_at;
use crate::value::Value;

/// The most clock difference `Validate ID Token` tolerates: an hour.
/// A larger one would accept tokens long expired; checking an old token
/// is what `at` is for.
const MAX_LEEWAY: f64 = 3600.0;

/// Token introspection (RFC 7662) and revocation (RFC 7009).
pub async fn token_endpoint_call(call: Call, revoke: bool) -> KeywordResult {
    let oauth = &call.services.oauth;
    let issuer = issuer(&call).await?;
    let (arg, field) = if revoke {
        ("revocation_url", "revocation_endpoint")
    } else {
        ("introspection_url", "introspection_endpoint")
    };
    let url = oauth
        .endpoint(&call.args, arg, issuer.as_deref(), field)
        .await?;
    let token = match call.args.str("token") {
        Some(t) => t.to_owned(),
        None => Session::of(call.ns())
            .await?
            .token
            .as_ref()
            .map(|t| t.access_token().to_owned())
            .ok_or_else(|| {
                KeywordError::value_error(
                    "token is required: no token was received in this namespace.",
                )
            })?,
    };
    let client_id = client_id(&call).await?;
    let mut form = vec![("token".to_owned(), token)];
    if let Some(hint) = call.args.str("token_type_hint") {
        form.push(("token_type_hint".into(), hint.into()));
    }
    let auth = client_auth(&call.args, &client_id);
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
    // Numbers first: a bad one fails before any lookup.
    let now = match call.args.str("at") {
        Some(at) => parse_at(at)? as f64,
        None => call.services.clock.now(),
    };
    let leeway = call.args.seconds("leeway", MAX_LEEWAY)?.unwrap_or(60.0);
    let oauth = &call.services.oauth;
    let (session_token, session_client, session_issuer, session_nonce) = {
        let session = Session::of(call.ns()).await?;
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
        .endpoint(&call.args, "jwks_url", Some(&issuer), "jwks_uri")
        .await?;
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
