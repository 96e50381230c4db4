//! `private_key_jwt` (RFC 7523 2.2, OpenID Connect Core 9): the client
//! proves itself with a short-lived JWT signed by its own key, so no
//! shared secret travels. The key is a PEM (RSA or EC P-256) read from
//! the vault on each use, never kept.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::library::KeywordError;

/// How long an assertion is valid: long enough for one request, short
/// enough that a captured one is soon useless.
const LIFETIME_SECONDS: u64 = 60;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

/// A signed assertion for `client_id` at `audience` (the token endpoint).
/// `alg` None: RS256 for an RSA key, ES256 for an EC one. Errors name the
/// profile's setting, never the key.
pub fn client_assertion(
    pem: &str,
    alg: Option<Algorithm>,
    key_id: Option<&str>,
    client_id: &str,
    audience: &str,
    now: f64,
) -> Result<String, KeywordError> {
    let bad_key = |why: &str| {
        KeywordError::value_error(format!("private_key is not {why} (PEM, RSA or EC P-256)"))
    };
    let is_ec = pem.contains("BEGIN EC PRIVATE KEY")
        || (pem.contains("BEGIN PRIVATE KEY") && EncodingKey::from_ec_pem(pem.as_bytes()).is_ok());
    let alg = alg.unwrap_or(if is_ec {
        Algorithm::ES256
    } else {
        Algorithm::RS256
    });
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes())
            .map_err(|_| bad_key("an EC P-256 private key for ES256"))?,
        _ => EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| bad_key("an RSA private key for RS256"))?,
    };
    let mut header = Header::new(alg);
    header.kid = key_id.map(str::to_owned);
    let iat = now as u64;
    let claims = Claims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        // Unique per assertion: providers refuse a replayed jti.
        jti: oauth2::CsrfToken::new_random_len(16).secret().clone(),
        iat,
        exp: iat + LIFETIME_SECONDS,
    };
    encode(&header, &claims, &key)
        .map_err(|_| bad_key("a key that can sign with the chosen signing_alg"))
}
