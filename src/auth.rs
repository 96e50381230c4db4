//! Who may call: HTTP Basic (what Robot's `Remote` sends for
//! `http://user:pass@host:port`) and bearer tokens (JSON-RPC clients),
//! checked against credentials read from a vault at start-up.
//!
//! [`require_auth`] is an axum middleware: the server layers it on the
//! protected routes only, so routes that carry no credentials (`/health`,
//! a browser's OAuth redirect) simply live outside it. A caller that
//! passes gets a [`Principal`] in the request's extensions; the remote API
//! uses it to keep pinned users in their namespace.

mod limiter;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rpa_mfa_keywords::vault::{self, SecretStore};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

pub use limiter::LoginLimiter;

use crate::config::AuthConfig;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user: String,
    /// The only namespace this user may call in, if pinned.
    pub namespace: Option<String>,
}

/// The client's address, for rate limiting and logs; the connect info of
/// both the plain and the TLS listener.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// One user's secret: a password or a token.
struct Entry {
    user: String,
    secret: Zeroizing<String>,
}

/// The credentials every request is checked against, and the limiter of
/// failed attempts.
pub struct Auth {
    passwords: Vec<Entry>,
    tokens: Vec<Entry>,
    pins: std::collections::BTreeMap<String, String>,
    limiter: LoginLimiter,
}

impl Auth {
    /// Reads the credentials the config names; `None` when authentication
    /// is off. An unreadable or empty secret stops the start-up.
    pub async fn load(config: &AuthConfig, vault: Option<&str>) -> Result<Option<Auth>, String> {
        if !config.enabled() {
            return Ok(None);
        }
        let spec = config.vault.as_deref().or(vault);
        let store = vault::open(spec).map_err(|e| format!("auth vault: {e}"))?;
        let passwords = read_entries(&*store, config.users_secret.as_deref(), "users").await?;
        let tokens = read_entries(&*store, config.tokens_secret.as_deref(), "tokens").await?;
        tracing::info!(
            vault = store.describe(),
            users = passwords.len(),
            tokens = tokens.len(),
            pinned = config.pins.len(),
            "authentication required"
        );
        Ok(Some(Auth::new(passwords, tokens, config.pins.clone())))
    }

    fn new(
        passwords: Vec<Entry>,
        tokens: Vec<Entry>,
        pins: std::collections::BTreeMap<String, String>,
    ) -> Auth {
        Auth {
            passwords,
            tokens,
            pins,
            limiter: LoginLimiter::default(),
        }
    }

    fn principal(&self, user: &str) -> Principal {
        Principal {
            user: user.to_owned(),
            namespace: self.pins.get(&user.to_lowercase()).cloned(),
        }
    }

    /// Checks a user name and password. Every stored password is compared
    /// in constant time, so timing tells neither the password nor whether
    /// the user exists.
    fn check_password(&self, user: &str, password: &str) -> Option<Principal> {
        let mut found: Option<&str> = None;
        for entry in &self.passwords {
            let same_user = Choice::from(u8::from(entry.user.eq_ignore_ascii_case(user)));
            let matched = same_user & entry.secret.as_bytes().ct_eq(password.as_bytes());
            if bool::from(matched) {
                found = Some(&entry.user);
            }
        }
        found.map(|user| self.principal(user))
    }

    /// Checks a bearer token against every stored token.
    fn check_token(&self, token: &str) -> Option<Principal> {
        let mut found: Option<&str> = None;
        for entry in &self.tokens {
            if bool::from(entry.secret.as_bytes().ct_eq(token.as_bytes())) {
                found = Some(&entry.user);
            }
        }
        found.map(|user| self.principal(user))
    }

    /// What an `Authorization` header proves.
    fn check(&self, header: &str) -> Attempt {
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(Zeroizing::new);
            let Some(decoded) = decoded else {
                return Attempt::Failed("basic", String::new());
            };
            let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
            match self.check_password(user, password) {
                Some(p) => Attempt::Passed(p),
                None => Attempt::Failed("basic", user.to_owned()),
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            match self.check_token(rest) {
                Some(p) => Attempt::Passed(p),
                None => Attempt::Failed("bearer", String::new()),
            }
        } else {
            Attempt::Failed("unknown", String::new())
        }
    }
}

enum Attempt {
    Passed(Principal),
    /// The scheme and the user name tried (never the password or token).
    Failed(&'static str, String),
}

async fn read_entries(
    store: &dyn SecretStore,
    secret: Option<&str>,
    what: &str,
) -> Result<Vec<Entry>, String> {
    let Some(name) = secret else {
        return Ok(Vec::new());
    };
    let stored = store
        .get(name)
        .await
        .map_err(|e| format!("{what} secret '{name}': {e}"))?;
    let mut entries = Vec::new();
    for user in stored.keys() {
        let secret = stored.value(user).map_err(|e| e.to_string())?;
        if secret.is_empty() {
            return Err(format!(
                "{what} secret '{name}': user '{user}' has an empty value"
            ));
        }
        entries.push(Entry {
            user: user.to_owned(),
            secret,
        });
    }
    if entries.is_empty() {
        return Err(format!("{what} secret '{name}' has no users"));
    }
    Ok(entries)
}

/// The middleware: lets authenticated requests through with their
/// [`Principal`]; answers 401 (or 429 after too many failures) otherwise.
pub async fn require_auth(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = client.ip();
    if let Some(wait) = auth.limiter.blocked(ip) {
        tracing::warn!(client = %ip, "login refused: too many failed attempts");
        crate::metrics::auth_failure("rate_limited");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins; try again later.\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    match header.map(|h| auth.check(h)) {
        Some(Attempt::Passed(principal)) => {
            auth.limiter.succeeded(ip);
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Some(Attempt::Failed(scheme, user)) => {
            auth.limiter.failed(ip);
            let user: String = user.chars().take(64).collect();
            tracing::warn!(client = %ip, scheme, user = %user.escape_debug(), "login failed");
            crate::metrics::auth_failure("bad_credentials");
            unauthorized()
        }
        None => unauthorized(),
    }
}

fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "Authentication required.\n").into_response();
    response.headers_mut().append(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"rpa-mfa\", charset=\"UTF-8\""),
    );
    response.headers_mut().append(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"rpa-mfa\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(user: &str, secret: &str) -> Entry {
        Entry {
            user: user.into(),
            secret: Zeroizing::new(secret.into()),
        }
    }

    fn auth() -> Auth {
        Auth::new(
            vec![entry("alice", "wonder-land"), entry("bot7", "beep")],
            vec![entry("dash", "tok-123")],
            BTreeMap::from([("bot7".to_owned(), "bot-7".to_owned())]),
        )
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    fn passed(attempt: Attempt) -> Option<Principal> {
        match attempt {
            Attempt::Passed(p) => Some(p),
            Attempt::Failed(..) => None,
        }
    }

    #[test]
    fn basic_credentials() {
        let auth = auth();
        assert_eq!(
            passed(auth.check(&basic("alice:wonder-land"))),
            Some(Principal {
                user: "alice".into(),
                namespace: None
            })
        );
        assert_eq!(
            passed(auth.check(&basic("ALICE:wonder-land"))).map(|p| p.user),
            Some("alice".into()),
            "user names ignore ASCII case"
        );
        assert_eq!(passed(auth.check(&basic("alice:wonder-lan"))), None);
        assert_eq!(
            passed(auth.check(&basic("alice:beep"))),
            None,
            "another user's password"
        );
        assert_eq!(passed(auth.check(&basic("mallory:beep"))), None);
        assert_eq!(passed(auth.check("Basic !!!")), None);
        assert_eq!(
            passed(auth.check(&basic("bot7:beep"))).and_then(|p| p.namespace),
            Some("bot-7".into())
        );
    }

    /// A router like the server's: `/secret` behind the layer, `/open` not.
    fn app() -> axum::Router {
        use axum::routing::get;
        let protected = axum::Router::new()
            .route(
                "/secret",
                get(|p: axum::Extension<Principal>| async move { p.0.user }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(auth()),
                require_auth,
            ));
        axum::Router::new()
            .route("/open", get(|| async { "open" }))
            .merge(protected)
    }

    async fn get(app: &axum::Router, path: &str, authorization: Option<&str>) -> Response {
        use tower::ServiceExt;
        let mut request = axum::http::Request::get(path);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        let client = ClientAddr("192.0.2.7:50000".parse().unwrap());
        request.extensions_mut().insert(ConnectInfo(client));
        app.clone().oneshot(request).await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_answers_401_then_429_and_passes_the_principal() {
        let app = app();
        assert_eq!(get(&app, "/open", None).await.status(), StatusCode::OK);
        let refused = get(&app, "/secret", None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<_> = refused.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(challenges.len(), 2, "Basic and Bearer challenges");

        let ok = get(&app, "/secret", Some(&basic("alice:wonder-land"))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let body = axum::body::to_bytes(ok.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"alice");

        for _ in 0..limiter::MAX_FAILURES {
            let wrong = get(&app, "/secret", Some(&basic("alice:guess"))).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        }
        let limited = get(&app, "/secret", Some(&basic("alice:wonder-land"))).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[RETRY_AFTER], "60");
        assert_eq!(get(&app, "/open", None).await.status(), StatusCode::OK);

        tokio::time::advance(limiter::WINDOW).await;
        let again = get(&app, "/secret", Some(&basic("alice:wonder-land"))).await;
        assert_eq!(again.status(), StatusCode::OK, "the window is over");
    }

    #[test]
    fn bearer_tokens() {
        let auth = auth();
        assert_eq!(
            passed(auth.check("Bearer tok-123")).map(|p| p.user),
            Some("dash".into())
        );
        assert_eq!(
            passed(auth.check("bearer tok-123")).map(|p| p.user),
            Some("dash".into())
        );
        assert_eq!(passed(auth.check("Bearer tok-12")), None);
        assert_eq!(
            passed(auth.check("Bearer wonder-land")),
            None,
            "a password is no token"
        );
        assert_eq!(passed(auth.check("Digest x")), None);
    }
}
