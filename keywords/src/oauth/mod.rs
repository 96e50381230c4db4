//! OAuth2 and OpenID Connect client flows.
//!
//! RPA.MFA's three authorization-code keywords with its arguments and error
//! texts, then what a robot needs to log in unattended: PKCE, OpenID
//! discovery, client credentials, password (plain and with Auth0-style MFA
//! answered from the namespace's TOTP secret), device authorization, ID
//! token validation, introspection, revocation, and a loopback redirect
//! target on the server itself ([`callback`]).
//!
//! Errors carry requests-oauthlib's names (`InvalidGrantError:
//! (invalid_grant) ...`) so RPA.MFA users recognise them. Tokens, codes
//! and client secrets never go into an error text or a log line.

mod cache;
pub mod callback;
mod callback_store;
pub mod client;
mod device;
mod discovery;
mod error;
mod grants;
mod http;
mod id_token;
pub mod keywords;
mod mfa;
pub mod profile;
mod session;
mod token;
mod tokens;

use std::sync::OnceLock;
use std::time::Duration;

pub(crate) use callback::CallbackInbox;
pub use grants::code_from_response;
pub use session::Session;

use crate::library::KeywordError;
use discovery::Discovery;
use http::Http;

/// How the server lets OAuth keywords reach authorization servers.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Plain `http://` allowed for non-loopback hosts
    /// (`OAUTHLIB_INSECURE_TRANSPORT` or the server's flag).
    pub insecure_transport: bool,
    /// How long one HTTP call to an authorization server may take.
    pub timeout: Duration,
    /// How long a discovery document or key set is trusted at most.
    pub cache_lifetime: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            insecure_transport: false,
            timeout: Duration::from_secs(30),
            cache_lifetime: Duration::from_secs(300),
        }
    }
}

/// What the OAuth keywords share across calls and namespaces.
pub struct OAuth {
    http: Http,
    discovery: Discovery,
    /// Redirects that arrived at `GET /oauth/callback`, by `state`: in
    /// process by default, through the shared store once
    /// [`Services::new`](crate::Services::new) sets it.
    pub(crate) callbacks: CallbackInbox,
    insecure_transport: bool,
    /// `http://host:port/oauth/callback` once the server listens.
    callback_url: OnceLock<String>,
}

impl OAuth {
    pub fn new(settings: Settings) -> OAuth {
        OAuth {
            http: Http::new(settings.timeout),
            discovery: Discovery::new(settings.cache_lifetime),
            callbacks: CallbackInbox::default(),
            insecure_transport: settings.insecure_transport,
            callback_url: OnceLock::new(),
        }
    }

    /// The server tells where `GET /oauth/callback` can be reached.
    pub fn set_callback_url(&self, url: String) {
        let _ = self.callback_url.set(url);
    }

    pub fn callback_url(&self) -> Option<&str> {
        self.callback_url.get().map(String::as_str)
    }

    /// A redirect arrived at the server's `GET /oauth/callback` with this
    /// full URL: handed to the flow waiting for its `state`, here or on
    /// another server sharing the store.
    pub async fn deliver_redirect(&self, url: &str) -> callback::Delivery {
        self.callbacks.deliver(url).await
    }

    /// Refuses plain-text OAuth except to this machine, as oauthlib does
    /// (it allows no exception at all; loopback never leaves the host).
    fn require_secure(&self, url: &url::Url) -> Result<(), KeywordError> {
        if url.scheme() == "https" || self.insecure_transport || is_loopback(url) {
            return Ok(());
        }
        Err(KeywordError::new(
            "InsecureTransportError",
            "(insecure_transport) OAuth 2 MUST utilize https.",
        ))
    }
}

pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses a URL argument, naming the argument when it is not one.
fn parse_url(arg: &str, value: &str) -> Result<url::Url, KeywordError> {
    url::Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            KeywordError::value_error(format!(
                "{arg} is not an http(s) URL: '{}'",
                redact_query(value)
            ))
        })
}

/// A URL fit for an error text: no query or fragment, which may carry a
/// code, a state or a token.
fn redact_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_need_no_tls() {
        let oauth = OAuth::new(Settings::default());
        for ok in [
            "https://idp.example.com/token",
            "http://127.0.0.1:9000/token",
            "http://127.8.9.10/token",
            "http://[::1]:80/token",
            "http://LOCALHOST/token",
        ] {
            assert!(
                oauth.require_secure(&url::Url::parse(ok).unwrap()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://idp.example.com/token",
            "http://10.0.0.1/token",
            "http://localhost.evil.com/",
        ] {
            let err = oauth
                .require_secure(&url::Url::parse(bad).unwrap())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "InsecureTransportError: (insecure_transport) OAuth 2 MUST utilize https."
            );
        }
        let relaxed = OAuth::new(Settings {
            insecure_transport: true,
            ..Settings::default()
        });
        assert!(relaxed
            .require_secure(&url::Url::parse("http://idp.example.com/token").unwrap())
            .is_ok());
    }

    #[test]
    fn bad_urls_are_named_without_their_query() {
        let err = parse_url("token_url", "ftp://x/y?code=SECRET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ValueError: token_url is not an http(s) URL: 'ftp://x/y'"
        );
    }
}
