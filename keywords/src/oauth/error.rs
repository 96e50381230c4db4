//! OAuth error responses as Robot failures, named as requests-oauthlib
//! names them so RPA.MFA users see the texts they know.

use crate::library::KeywordError;

/// oauthlib's exception name for an error code, as its `raise_from_error`
/// picks it (the first class with that code, hence `InvalidClientIdError`
/// for `invalid_request`); device-flow codes, which oauthlib leaves to
/// `CustomOAuth2Error`, get names of their own.
fn error_name(code: &str) -> &'static str {
    match code {
        "invalid_request" => "InvalidClientIdError",
        "invalid_client" => "InvalidClientError",
        "invalid_grant" => "InvalidGrantError",
        "unauthorized_client" => "UnauthorizedClientError",
        "unsupported_grant_type" => "UnsupportedGrantTypeError",
        "unsupported_response_type" => "UnsupportedResponseTypeError",
        "invalid_scope" => "InvalidScopeError",
        "access_denied" => "AccessDeniedError",
        "server_error" => "ServerError",
        "temporarily_unavailable" => "TemporarilyUnavailableError",
        "invalid_token" => "InvalidTokenError",
        "insufficient_scope" => "InsufficientScopeError",
        "consent_required" => "ConsentRequired",
        "login_required" => "LoginRequired",
        "authorization_pending" => "AuthorizationPendingError",
        "slow_down" => "SlowDownError",
        "expired_token" => "ExpiredTokenError",
        "mfa_required" => "MFARequiredError",
        _ => "CustomOAuth2Error",
    }
}

/// `InvalidGrantError: (invalid_grant) description`, as oauthlib words it.
pub fn oauth_error(code: &str, description: Option<&str>) -> KeywordError {
    // The code comes from the server; keep the text short and printable.
    let code: String = code.chars().take(64).collect();
    let message = match description.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => format!("({code}) {}", d.chars().take(500).collect::<String>()),
        None => format!("({code})"),
    };
    KeywordError::new(error_name(&code), message)
}

/// An `error` object from a JSON body, if the body is one (RFC 6749 5.2).
pub fn from_error_body(body: &serde_json::Value) -> Option<KeywordError> {
    let code = body.get("error")?.as_str()?;
    Some(oauth_error(
        code,
        body.get("error_description").and_then(|d| d.as_str()),
    ))
}

/// A failure that is not the server's OAuth error: no JSON, a missing
/// field, a bad status.
pub fn protocol_error(message: impl Into<String>) -> KeywordError {
    KeywordError::new("OAuth2Error", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_read_like_oauthlibs() {
        let e = from_error_body(
            &json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
        );
        assert_eq!(
            e.unwrap().to_string(),
            "InvalidGrantError: (invalid_grant) grant request is invalid"
        );
        let e = from_error_body(&json!({"error": "made_up"})).unwrap();
        assert_eq!(e.to_string(), "CustomOAuth2Error: (made_up)");
        assert!(from_error_body(&json!({"access_token": "x"})).is_none());
    }
}
