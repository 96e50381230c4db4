//! Token endpoint answers: the dict RPA.MFA returns, every field as the
//! server sent it, `scope` as a list and `expires_at` added.

use serde_json::{Map, Value as Json};

use super::error::{from_error_body, protocol_error};
use super::http::JsonResponse;
use crate::library::KeywordError;
use crate::value::Value;

/// A token response. Its fields are secrets: it has no `Debug`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Token {
    fields: Map<String, Json>,
}

impl Token {
    /// A successful answer with an `access_token`, else the server's OAuth
    /// error (`InvalidGrantError: (invalid_grant) ...`) or a protocol error.
    pub fn from_response(
        response: JsonResponse,
        endpoint: &str,
        now: f64,
    ) -> Result<Token, KeywordError> {
        if let Some(error) = from_error_body(&response.body) {
            return Err(error);
        }
        if !response.is_success() {
            return Err(protocol_error(format!(
                "{endpoint} answered HTTP {} without an OAuth error code",
                response.status
            )));
        }
        let Json::Object(mut fields) = response.body else {
            return Err(protocol_error(format!(
                "{endpoint} answered JSON that is not an object"
            )));
        };
        if !fields.get("access_token").is_some_and(Json::is_string) {
            return Err(protocol_error(format!(
                "{endpoint} answered without an access_token"
            )));
        }
        // oauthlib: expires_at = time.time() + int(expires_in).
        let expires_in = match fields.get("expires_in") {
            Some(Json::Number(n)) => n.as_f64(),
            Some(Json::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        if let Some(seconds) = expires_in {
            fields.insert("expires_at".into(), Json::from(now + seconds));
        }
        Ok(Token { fields })
    }

    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Json::as_str)
    }

    /// When the token expires (Unix seconds), if the server said.
    pub fn expires_at(&self) -> Option<f64> {
        self.fields.get("expires_at").and_then(Json::as_f64)
    }

    pub fn access_token(&self) -> &str {
        self.get_str("access_token").unwrap_or_default()
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.get_str("refresh_token").filter(|t| !t.is_empty())
    }

    pub fn id_token(&self) -> Option<&str> {
        self.get_str("id_token").filter(|t| !t.is_empty())
    }

    /// Keeps `refresh_token` when a refresh answer has none (RFC 6749 6:
    /// the server may keep the old one valid).
    pub fn keep_refresh_token(&mut self, old: &str) {
        if self.refresh_token().is_none() {
            self.fields.insert("refresh_token".into(), Json::from(old));
        }
    }

    /// The dict a keyword returns, `scope` split into a list as oauthlib does.
    pub fn to_value(&self) -> Value {
        let mut dict = Value::from_json(&Json::Object(self.fields.clone()));
        if let (Value::Dict(map), Some(Json::String(scope))) = (&mut dict, self.fields.get("scope"))
        {
            map.insert(
                "scope".into(),
                Value::list(scope.split_whitespace().map(Value::str)),
            );
        }
        dict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Json) -> JsonResponse {
        JsonResponse {
            status,
            body,
            max_age: None,
        }
    }

    #[test]
    fn the_dict_keeps_every_field_and_splits_scope() {
        let body = json!({"access_token": "a", "token_type": "Bearer", "expires_in": 3600,
                          "scope": "openid offline_access", "vendor": {"x": 1}});
        let token = Token::from_response(answer(200, body), "t", 1000.5).unwrap();
        let Value::Dict(d) = token.to_value() else {
            panic!()
        };
        assert_eq!(d["token_type"], Value::str("Bearer"));
        assert_eq!(d["expires_in"], Value::Int(3600));
        assert_eq!(d["expires_at"], Value::Float(4600.5));
        assert_eq!(
            d["scope"],
            Value::list(["openid", "offline_access"].map(Value::str))
        );
        assert!(matches!(&d["vendor"], Value::Dict(v) if v["x"] == Value::Int(1)));
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let body = json!({"access_token": "new", "token_type": "Bearer"});
        let mut token = Token::from_response(answer(200, body), "t", 0.0).unwrap();
        token.keep_refresh_token("old-refresh");
        assert_eq!(token.refresh_token(), Some("old-refresh"));
        let body = json!({"access_token": "new", "refresh_token": "rotated"});
        let mut token = Token::from_response(answer(200, body), "t", 0.0).unwrap();
        token.keep_refresh_token("old-refresh");
        assert_eq!(token.refresh_token(), Some("rotated"));
    }

    #[test]
    fn failures_name_what_went_wrong() {
        let err = |status, body| {
            Token::from_response(answer(status, body), "http://h/token", 0.0)
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            err(
                400,
                json!({"error": "invalid_client", "error_description": "client authentication failed"})
            ),
            "InvalidClientError: (invalid_client) client authentication failed"
        );
        assert_eq!(
            err(500, json!({"oops": 1})),
            "OAuth2Error: http://h/token answered HTTP 500 without an OAuth error code"
        );
        assert_eq!(
            err(200, json!({"token_type": "Bearer"})),
            "OAuth2Error: http://h/token answered without an access_token"
        );
        assert_eq!(
            err(200, json!(["x"])),
            "OAuth2Error: http://h/token answered JSON that is not an object"
        );
    }
}
