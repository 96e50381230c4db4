//! ID token validation (OpenID Connect Core 1.0, 3.1.3.7): the signature
//! against the issuer's published keys, then `iss`, `aud`/`azp`, `exp`,
//! `iat` with a clock tolerance, and `nonce`.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};
use url::Url;

use super::OAuth;
use crate::library::KeywordError;
use crate::value::Value;

/// What an ID token is checked against.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    /// Seconds of clock difference tolerated for `exp` and `iat`.
    pub leeway: f64,
    /// The time to check at, Unix seconds.
    pub now: f64,
}

fn invalid(message: impl Into<String>) -> KeywordError {
    KeywordError::new("IdTokenError", message)
}

impl OAuth {
    /// The token's claims once every check passed. Errors never quote the
    /// token, only the claims that failed.
    pub(super) async fn validate_id_token(
        &self,
        token: &str,
        jwks_uri: &Url,
        expected: &Expected<'_>,
    ) -> Result<Value, KeywordError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("The ID token is not a signed JWT (three base64url parts)."))?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(invalid(format!(
                "The ID token is signed with {:?}, a shared-secret algorithm; only the issuer's public keys are trusted.",
                header.alg
            )));
        }
        let keys = self.key_set(jwks_uri, false).await?;
        let find = |keys: Option<&jsonwebtoken::jwk::JwkSet>| match (keys, &header.kid) {
            (None, _) => None,
            (Some(keys), Some(kid)) => keys.find(kid).cloned(),
            (Some(keys), None) if keys.keys.len() == 1 => keys.keys.first().cloned(),
            (Some(_), None) => None,
        };
        let jwk = match find(keys.as_deref()) {
            Some(jwk) => jwk,
            None => {
                // A key the set lacks: perhaps rotated in since it was fetched.
                let refreshed = self.key_set(jwks_uri, true).await?;
                find(refreshed.as_deref()).ok_or_else(|| {
                    invalid(format!(
                        "The issuer's key set ({jwks_uri}) has no key '{}' for the ID token.",
                        header.kid.as_deref().unwrap_or("(none named)")
                    ))
                })?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| {
            invalid(format!(
                "The issuer's key '{}' is unusable: {e}",
                header.kid.as_deref().unwrap_or("")
            ))
        })?;
        // The signature only: the claims are checked below against our own
        // clock and with messages that say which claim failed.
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let data = jsonwebtoken::decode::<Map<String, Json>>(token, &key, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    invalid("The ID token's signature does not verify against the issuer's keys.")
                }
                kind => invalid(format!("The ID token cannot be decoded: {kind:?}")),
            },
        )?;
        check_claims(&data.claims, expected)?;
        Ok(Value::from_json(&Json::Object(data.claims)))
    }
}

fn check_claims(claims: &Map<String, Json>, expected: &Expected<'_>) -> Result<(), KeywordError> {
    let text = |name: &str| claims.get(name).and_then(Json::as_str);
    let number = |name: &str| claims.get(name).and_then(Json::as_f64);
    let iss = text("iss").unwrap_or_default();
    if iss.trim_end_matches('/') != expected.issuer.trim_end_matches('/') {
        return Err(invalid(format!(
            "The ID token's issuer is '{iss}', expected '{}'.",
            expected.issuer
        )));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Json::String(a)) => vec![a],
        Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&expected.client_id) {
        let named: Vec<String> = audiences.iter().map(|a| format!("'{a}'")).collect();
        return Err(invalid(format!(
            "The ID token is for audience {}, not client '{}'.",
            named.join(", "),
            expected.client_id
        )));
    }
    if audiences.len() > 1 && text("azp") != Some(expected.client_id) {
        return Err(invalid(format!(
            "The ID token has several audiences and its azp is not client '{}'.",
            expected.client_id
        )));
    }
    let Some(exp) = number("exp") else {
        return Err(invalid("The ID token has no exp claim."));
    };
    if expected.now > exp + expected.leeway {
        return Err(invalid(format!(
            "The ID token expired at {exp} (Unix seconds); it is now {:.0}, and {} s of clock difference are tolerated.",
            expected.now, expected.leeway
        )));
    }
    let Some(iat) = number("iat") else {
        return Err(invalid("The ID token has no iat claim."));
    };
    if iat > expected.now + expected.leeway {
        return Err(invalid(format!(
            "The ID token was issued at {iat}, in the future (it is now {:.0}, {} s tolerated).",
            expected.now, expected.leeway
        )));
    }
    if let Some(nonce) = expected.nonce {
        // The nonce is ours, not a secret, but say only that it differs.
        if text("nonce") != Some(nonce) {
            return Err(invalid(
                "The ID token's nonce does not match the one sent in the authorization request.",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected(now: f64) -> Expected<'static> {
        Expected {
            issuer: "https://idp",
            client_id: "app",
            nonce: Some("n1"),
            leeway: 60.0,
            now,
        }
    }

    fn claims(v: Json) -> Map<String, Json> {
        let Json::Object(m) = v else { panic!() };
        m
    }

    #[test]
    fn each_claim_is_checked_with_a_message_naming_it() {
        let good =
            json!({"iss": "https://idp", "aud": "app", "exp": 2000, "iat": 1000, "nonce": "n1"});
        assert!(check_claims(&claims(good.clone()), &expected(1500.0)).is_ok());
        // Within the leeway after exp, then beyond it.
        assert!(check_claims(&claims(good.clone()), &expected(2059.0)).is_ok());
        let err = check_claims(&claims(good.clone()), &expected(2061.0))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("IdTokenError: The ID token expired at 2000"),
            "{err}"
        );
        let mut bad = good.clone();
        bad["iss"] = json!("https://evil");
        assert!(check_claims(&claims(bad), &expected(1500.0))
            .unwrap_err()
            .message
            .contains("issuer is 'https://evil'"));
        let mut bad = good.clone();
        bad["aud"] = json!(["other", "app"]);
        assert!(check_claims(&claims(bad.clone()), &expected(1500.0))
            .unwrap_err()
            .message
            .contains("azp"));
        bad["azp"] = json!("app");
        assert!(check_claims(&claims(bad), &expected(1500.0)).is_ok());
        let mut bad = good.clone();
        bad["nonce"] = json!("n2");
        assert!(check_claims(&claims(bad), &expected(1500.0))
            .unwrap_err()
            .message
            .contains("nonce"));
        assert!(check_claims(&claims(good), &expected(900.0))
            .unwrap_err()
            .message
            .contains("in the future"));
    }
}
