//! The OAuth client operations as plain functions: a client (token
//! endpoint and authentication) and a grant in, a token out. The OAuth
//! keywords and the auth profiles both call them, so a request is built
//! one way whoever asks.

use url::Url;

use super::http::ClientAuth;
use super::token::Token;
use super::OAuth;
use crate::library::KeywordError;

/// What a token request trades for a token (RFC 6749 4.1.3, 4.3, 4.4, 6;
/// RFC 8628 3.4).
pub enum Grant<'a> {
    ClientCredentials,
    Password {
        username: &'a str,
        password: &'a str,
    },
    RefreshToken {
        refresh_token: &'a str,
    },
    DeviceCode {
        device_code: &'a str,
    },
}

impl Grant<'_> {
    fn form(&self) -> Vec<(String, String)> {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        match self {
            Grant::ClientCredentials => vec![pair("grant_type", "client_credentials")],
            Grant::Password { username, password } => vec![
                pair("grant_type", "password"),
                pair("username", username),
                pair("password", password),
            ],
            Grant::RefreshToken { refresh_token } => vec![
                pair("grant_type", "refresh_token"),
                pair("refresh_token", refresh_token),
            ],
            Grant::DeviceCode { device_code } => vec![
                pair("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                pair("device_code", device_code),
            ],
        }
    }
}

/// Who asks and where: the token endpoint and the client's proof.
pub struct Client<'a> {
    pub token_url: &'a Url,
    pub auth: ClientAuth<'a>,
}

/// One token request: `grant` with `scope` and `extra` parameters
/// (`resource`, `audience`, a keyword's `**kwargs`). A refresh answer
/// without a `refresh_token` keeps the one sent (RFC 6749 6).
pub async fn request_token(
    oauth: &OAuth,
    client: &Client<'_>,
    grant: Grant<'_>,
    scope: Option<&str>,
    extra: Vec<(String, String)>,
    now: f64,
) -> Result<Token, KeywordError> {
    let mut form = grant.form();
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        form.push(("scope".into(), scope.into()));
    }
    form.extend(extra);
    let mut token = oauth
        .token_request(client.token_url, form, Some(client.auth), now)
        .await?;
    if let Grant::RefreshToken { refresh_token } = grant {
        token.keep_refresh_token(refresh_token);
    }
    Ok(token)
}
