//! Who may call: HTTP Basic (what Robot's `Remote` sends for
//! `http://user:pass@host:port`) and bearer tokens (JSON-RPC clients),
//! checked against credentials read from a vault at start-up.
//!
//! [`require_auth`] is an axum middleware: the server layers it on the
//! protected routes only (the calls answered before the router ask
//! [`Auth::authenticate`] themselves), so routes that carry no credentials (`/health`,
//! a browser's OAuth redirect) simply live outside it. A caller that
//! passes gets an [`Identity`] in the request's extensions; the gate
//! ([`crate::gate`]) uses it to keep pinned users in their namespace.
//!
//! What a client sent is never logged: a failed login names the user only
//! when the name is one of the configured users, else [`UNKNOWN_USER`]
//! (clients put tokens where the user name goes).

mod limiter;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
pub use rpa_mfa_keywords::access::Identity;
use rpa_mfa_keywords::vault::{self, SecretStore, Vaults};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

pub use limiter::{LoginLimiter, LoginLimits};

use crate::config::AuthConfig;

/// What failed logins log instead of a user name that is not configured.
pub const UNKNOWN_USER: &str = "(unknown)";

/// The client's address, for rate limiting and logs; the connect info of
/// both the plain and the TLS listener.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// One user's secret: a password or a token.
struct Entry {
    user: String,
    secret: Zeroizing<String>,
}

/// A configured user's secret with the identity it proves, built once so
/// a login allocates nothing.
struct Credential {
    identity: Identity,
    secret: Zeroizing<String>,
}

/// The credentials every request is checked against, and the limiter of
/// failed attempts.
pub struct Auth {
    passwords: Vec<Credential>,
    tokens: Vec<Credential>,
    limiter: LoginLimiter,
}

impl Auth {
    /// Reads the credentials the config names; `None` when authentication
    /// is off. An unreadable or empty secret stops the start-up.
    /// Each secret is `[VAULT/]NAME` in `vaults`, or a plain NAME in the
    /// vault `--auth-vault` names.
    pub async fn load(config: &AuthConfig, vaults: &Vaults) -> Result<Option<Auth>, String> {
        if !config.enabled() {
            return Ok(None);
        }
        let own = match config.vault.as_deref() {
            Some(spec) => Some(vault::open(Some(spec)).map_err(|e| format!("auth vault: {e}"))?),
            None => None,
        };
        let passwords = read_secret(
            vaults,
            own.as_ref(),
            config.users_secret.as_deref(),
            "users",
        )
        .await?;
        let tokens = read_secret(
            vaults,
            own.as_ref(),
            config.tokens_secret.as_deref(),
            "tokens",
        )
        .await?;
        tracing::info!(
            users = passwords.len(),
            tokens = tokens.len(),
            pinned = config.pins.len(),
            "authentication required"
        );
        let limits = config.login;
        Ok(Some(Auth::new(passwords, tokens, &config.pins, limits)))
    }

    fn new(
        passwords: Vec<Entry>,
        tokens: Vec<Entry>,
        pins: &std::collections::BTreeMap<String, String>,
        limits: LoginLimits,
    ) -> Auth {
        let credential = |entry: Entry| Credential {
            identity: Identity {
                pinned: pins
                    .get(&entry.user.to_lowercase())
                    .map(|ns| ns.as_str().into()),
                user: entry.user.into(),
            },
            secret: entry.secret,
        };
        Auth {
            passwords: passwords.into_iter().map(credential).collect(),
            tokens: tokens.into_iter().map(credential).collect(),
            limiter: LoginLimiter::new(limits),
        }
    }

    /// Checks a user name and password. Every stored password is compared
    /// in constant time, so timing tells neither the password nor whether
    /// the user exists.
    fn check_password(&self, user: &str, password: &str) -> Option<&Identity> {
        let mut found = None;
        for entry in &self.passwords {
            let same_user = Choice::from(u8::from(entry.identity.user.eq_ignore_ascii_case(user)));
            let matched = same_user & entry.secret.as_bytes().ct_eq(password.as_bytes());
            if bool::from(matched) {
                found = Some(&entry.identity);
            }
        }
        found
    }

    /// Checks a bearer token against every stored token.
    fn check_token(&self, token: &str) -> Option<&Identity> {
        let mut found = None;
        for entry in &self.tokens {
            if bool::from(entry.secret.as_bytes().ct_eq(token.as_bytes())) {
                found = Some(&entry.identity);
            }
        }
        found
    }

    /// The configured spelling of `user` if it is a configured user (of
    /// passwords or tokens), for logs; None for anything else a client
    /// sent, which may be a token in the user name's place. Looks at every
    /// user, as the checks do, so its time does not depend on where (or
    /// whether) the name is found.
    fn known_user(&self, user: &str) -> Option<&str> {
        let mut known = None;
        for configured in self.passwords.iter().chain(&self.tokens) {
            if configured.identity.user.eq_ignore_ascii_case(user) {
                known = Some(&*configured.identity.user);
            }
        }
        known
    }

    /// What the credentials prove.
    fn check(&self, credentials: &Credentials) -> Option<&Identity> {
        match credentials {
            Credentials::Basic(decoded) => {
                let (user, password) = split_basic(decoded);
                self.check_password(user, password)
            }
            Credentials::Bearer(token) => self.check_token(token),
            Credentials::Unusable(_) => None,
        }
    }
}

/// What an `Authorization` header holds, decoded; dropped zeroized.
enum Credentials<'a> {
    /// `user:password`, base64-decoded.
    Basic(Zeroizing<String>),
    Bearer(&'a str),
    /// A scheme this server does not take, or Basic that does not decode.
    Unusable(&'static str),
}

impl<'a> Credentials<'a> {
    fn from_header(header: &'a str) -> Credentials<'a> {
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map_or(Credentials::Unusable("basic"), |decoded| {
                    Credentials::Basic(Zeroizing::new(decoded))
                })
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Credentials::Bearer(rest)
        } else {
            Credentials::Unusable("unknown")
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Credentials::Basic(_) => "basic",
            Credentials::Bearer(_) => "bearer",
            Credentials::Unusable(scheme) => scheme,
        }
    }

    /// The user name the client claims, which the limiter counts by: ""
    /// for a bearer token, which names no user.
    fn claimed_user(&self) -> &str {
        match self {
            Credentials::Basic(decoded) => split_basic(decoded).0,
            Credentials::Bearer(_) | Credentials::Unusable(_) => "",
        }
    }
}

/// `user:password`; with no colon all of it is the user name (clients
/// that send a token as `auth=(token, "")` may put it there).
fn split_basic(decoded: &str) -> (&str, &str) {
    decoded.split_once(':').unwrap_or((decoded, ""))
}

/// The users in `secret` (`[VAULT/]NAME`, or a NAME in `own`, the
/// `--auth-vault`); none when it is not set.
async fn read_secret(
    vaults: &Vaults,
    own: Option<&Arc<dyn SecretStore>>,
    secret: Option<&str>,
    what: &str,
) -> Result<Vec<Entry>, String> {
    let Some(secret) = secret else {
        return Ok(Vec::new());
    };
    let (store, name) = match own {
        Some(store) => (store, secret),
        None => {
            let (vault, name) = vault::split_vault(secret);
            let store = vaults
                .get(vault)
                .map_err(|e| format!("{what} secret '{secret}': {e}"))?;
            (store, name)
        }
    };
    read_entries(&**store, name, what).await
}

async fn read_entries(
    store: &dyn SecretStore,
    name: &str,
    what: &str,
) -> Result<Vec<Entry>, String> {
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
/// [`Identity`]; answers as [`Auth::authenticate`] refuses otherwise.
pub async fn require_auth(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    match auth.authenticate(client.ip(), request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(refused) => refused.into_response(),
    }
}

/// Why a request was not let in.
pub enum Refused {
    /// No credentials, or wrong ones: 401.
    Unauthorized,
    /// Too many failed logins of that user from that address: 429, with
    /// the wait.
    TooManyFailures(std::time::Duration),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized => unauthorized(),
            Refused::TooManyFailures(wait) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed logins; try again later.\n",
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
                response
            }
        }
    }
}

impl Auth {
    /// Who sent a request with these headers from `ip`, or why it is
    /// refused. The middleware and the calls answered before the router
    /// ([`crate::direct`]) both ask here.
    pub fn authenticate(&self, ip: IpAddr, headers: &HeaderMap) -> Result<Identity, Refused> {
        self.authenticate_value(ip, headers.get(AUTHORIZATION))
    }

    /// [`Auth::authenticate`] given the first `Authorization` header, the
    /// only one it reads: the call loop ([`crate::listen`]) asks here.
    pub fn authenticate_value(
        &self,
        ip: IpAddr,
        authorization: Option<&HeaderValue>,
    ) -> Result<Identity, Refused> {
        let Some(header) = authorization.and_then(|h| h.to_str().ok()) else {
            return Err(Refused::Unauthorized);
        };
        let credentials = Credentials::from_header(header);
        let claimed = credentials.claimed_user();
        // Only a configured user's name is logged: clients put tokens there.
        let user = || self.known_user(claimed).unwrap_or(UNKNOWN_USER);
        if let Some(wait) = self.limiter.blocked(ip, claimed) {
            tracing::warn!(client = %ip, user = %user(), "login refused: too many failed attempts");
            crate::metrics::auth_failure("rate_limited");
            return Err(Refused::TooManyFailures(wait));
        }
        match self.check(&credentials) {
            Some(identity) => {
                let identity = identity.clone();
                self.limiter.succeeded(ip, claimed);
                Ok(identity)
            }
            None => {
                self.limiter.failed(ip, claimed);
                let scheme = credentials.scheme();
                tracing::warn!(client = %ip, scheme, user = %user(), "login failed");
                crate::metrics::auth_failure("bad_credentials");
                Err(Refused::Unauthorized)
            }
        }
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
            &BTreeMap::from([("bot7".to_owned(), "bot-7".to_owned())]),
            LoginLimits::default(),
        )
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    /// What a header proves.
    fn passed(auth: &Auth, header: &str) -> Option<Identity> {
        auth.check(&Credentials::from_header(header)).cloned()
    }

    #[test]
    fn basic_credentials() {
        let auth = auth();
        assert_eq!(
            passed(&auth, &basic("alice:wonder-land")),
            Some(Identity {
                user: "alice".into(),
                pinned: None
            })
        );
        assert_eq!(
            passed(&auth, &basic("ALICE:wonder-land")).map(|p| p.user),
            Some("alice".into()),
            "user names ignore ASCII case"
        );
        assert_eq!(passed(&auth, &basic("alice:wonder-lan")), None);
        assert_eq!(
            passed(&auth, &basic("alice:beep")),
            None,
            "another user's password"
        );
        assert_eq!(passed(&auth, &basic("mallory:beep")), None);
        assert_eq!(passed(&auth, "Basic !!!"), None);
        assert_eq!(
            passed(&auth, &basic("bot7:beep")).and_then(|p| p.pinned),
            Some("bot-7".into())
        );
    }

    #[test]
    fn only_configured_user_names_are_known() {
        let auth = auth();
        assert_eq!(auth.known_user("ALICE"), Some("alice"));
        assert_eq!(auth.known_user("dash"), Some("dash"), "a token's user");
        assert_eq!(auth.known_user("tok-123"), None);
        assert_eq!(auth.known_user(""), None);
        let header = basic("tok-SECRET");
        let no_colon = Credentials::from_header(&header);
        assert_eq!(no_colon.claimed_user(), "tok-SECRET");
        assert_eq!(
            Credentials::from_header("Bearer tok-123").claimed_user(),
            ""
        );
    }

    /// A router like the server's: `/secret` behind the layer, `/open` not.
    fn app() -> axum::Router {
        use axum::routing::get;
        let protected = axum::Router::new()
            .route(
                "/secret",
                get(|p: axum::Extension<Identity>| async move { p.0.user.to_string() }),
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
    async fn the_layer_answers_401_then_429_and_passes_the_identity() {
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

        let limits = LoginLimits::default();
        for _ in 0..limits.max_failures {
            let wrong = get(&app, "/secret", Some(&basic("alice:guess"))).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        }
        let limited = get(&app, "/secret", Some(&basic("alice:wonder-land"))).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[RETRY_AFTER], "60");
        assert_eq!(get(&app, "/open", None).await.status(), StatusCode::OK);
        let other = get(&app, "/secret", Some(&basic("bot7:beep"))).await;
        assert_eq!(
            other.status(),
            StatusCode::OK,
            "another user at that address"
        );

        tokio::time::advance(limits.window).await;
        let again = get(&app, "/secret", Some(&basic("alice:wonder-land"))).await;
        assert_eq!(again.status(), StatusCode::OK, "the window is over");
    }

    #[test]
    fn bearer_tokens() {
        let auth = auth();
        assert_eq!(
            passed(&auth, "Bearer tok-123").map(|p| p.user),
            Some("dash".into())
        );
        assert_eq!(
            passed(&auth, "bearer tok-123").map(|p| p.user),
            Some("dash".into())
        );
        assert_eq!(passed(&auth, "Bearer tok-12"), None);
        assert_eq!(
            passed(&auth, "Bearer wonder-land"),
            None,
            "a password is no token"
        );
        assert_eq!(passed(&auth, "Digest x"), None);
    }
}
