//! OpenID discovery: endpoints and signing keys looked up from an
//! `issuer`, so keywords can take one URL instead of five.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value as Json;
use url::Url;

use super::cache::TimedCache;
use super::error::protocol_error;
use super::{parse_url, OAuth};
use crate::library::{Args, KeywordError};

/// Discovery documents and key sets, each trusted for its lifetime
/// (`--oauth-cache`, shortened by the provider's `Cache-Control`). A key
/// set is also fetched again, at most every few seconds, when a token
/// names a key it lacks (key rotation).
pub struct Discovery {
    documents: TimedCache<Json>,
    key_sets: TimedCache<JwkSet>,
}

impl Discovery {
    pub fn new(lifetime: Duration) -> Discovery {
        Discovery {
            documents: TimedCache::new(lifetime),
            key_sets: TimedCache::new(lifetime),
        }
    }
}

impl OAuth {
    /// The issuer's `/.well-known/openid-configuration`.
    pub(super) async fn provider(&self, issuer: &str) -> Result<Arc<Json>, KeywordError> {
        let issuer = issuer.trim_end_matches('/');
        if let Some(doc) = self.discovery.documents.fresh(issuer) {
            return Ok(doc);
        }
        let url = parse_url(
            "issuer",
            &format!("{issuer}/.well-known/openid-configuration"),
        )?;
        self.require_secure(&url)?;
        let answer = self.http.get_json(&url, None).await?;
        if !answer.is_success() || !answer.body.is_object() {
            return Err(protocol_error(format!(
                "{url} answered HTTP {} without a discovery document",
                answer.status
            )));
        }
        // OpenID Connect Discovery 1.0, 4.3: the document must name the
        // issuer it was fetched for, or someone else's keys would be used.
        let named = answer
            .body
            .get("issuer")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if named.trim_end_matches('/') != issuer {
            return Err(protocol_error(format!(
                "{url} describes issuer '{named}', not '{issuer}'"
            )));
        }
        let doc = Arc::new(answer.body);
        self.discovery
            .documents
            .insert(issuer, doc.clone(), answer.max_age);
        Ok(doc)
    }

    /// The endpoint a keyword's argument `arg` names, else the one the
    /// issuer's discovery document names `field`.
    pub(super) async fn endpoint(
        &self,
        args: &Args,
        arg: &str,
        issuer: Option<&str>,
        field: &str,
    ) -> Result<Url, KeywordError> {
        let url = match (args.str(arg), issuer) {
            (Some(url), _) => parse_url(arg, url)?,
            (None, Some(issuer)) => {
                let doc = self.provider(issuer).await?;
                let Some(url) = doc.get(field).and_then(Json::as_str) else {
                    return Err(KeywordError::value_error(format!(
                        "The discovery document of '{issuer}' has no {field}; give {arg} instead."
                    )));
                };
                parse_url(field, url)?
            }
            (None, None) => {
                return Err(KeywordError::value_error(format!(
                    "Either {arg} or issuer is required."
                )))
            }
        };
        self.require_secure(&url)?;
        Ok(url)
    }

    /// The token endpoint: `token_url`, else the issuer's.
    pub(super) async fn token_endpoint(
        &self,
        args: &Args,
        issuer: Option<&str>,
    ) -> Result<Url, KeywordError> {
        self.endpoint(args, "token_url", issuer, "token_endpoint")
            .await
    }

    /// The key set at `jwks_uri` while its lifetime lasts, else fetched.
    /// `refresh` (a token names a key the set lacks) fetches it again
    /// unless an unknown key did so moments ago: None then.
    pub(super) async fn key_set(
        &self,
        jwks_uri: &Url,
        refresh: bool,
    ) -> Result<Option<Arc<JwkSet>>, KeywordError> {
        let cached = &self.discovery.key_sets;
        if refresh && !cached.claim_refetch(jwks_uri.as_str()) {
            return Ok(None);
        }
        if !refresh {
            if let Some(keys) = cached.fresh(jwks_uri.as_str()) {
                return Ok(Some(keys));
            }
        }
        self.require_secure(jwks_uri)?;
        let answer = self.http.get_json(jwks_uri, None).await?;
        let keys: JwkSet = serde_json::from_value(answer.body)
            .ok()
            .filter(|_| answer.status == 200)
            .ok_or_else(|| {
                protocol_error(format!("{jwks_uri} answered without a JSON Web Key Set"))
            })?;
        let keys = Arc::new(keys);
        cached.insert(jwks_uri.as_str(), keys.clone(), answer.max_age);
        Ok(Some(keys))
    }
}
