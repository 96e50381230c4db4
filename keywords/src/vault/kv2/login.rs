//! The token a KV v2 backend sends: a given one (`VAULT_TOKEN`,
//! `BAO_TOKEN`, `token_file=`), or one from an AppRole login. Both are kept
//! valid by a background task that renews the token
//! (`auth/token/renew-self`) at two thirds of its lease: an AppRole token
//! from its login's lease, a given one from what `lookup-self` says on
//! first use (a root or non-renewable token is left alone). When renewal
//! is refused or the token reaches its maximum lifetime, AppRole logs in
//! again; a given token cannot be replaced, so the task warns (without the
//! token) and ends. The task holds only a weak reference, so it ends when
//! the backend is dropped (at shutdown at the latest), and a newer login's
//! task replaces an older one's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::json;
use zeroize::Zeroizing;

use super::api::Api;
use super::spec::Login;
use crate::vault::VaultError;

/// A token, shared by the requests using it; compared by identity to tell
/// whether the one a request used is still the current one.
pub type Token = Arc<Zeroizing<String>>;

/// A renewal giving a lease shorter than this means the token is at its
/// maximum lifetime: AppRole logs in again, a given token is warned about.
const MIN_LEASE: Duration = Duration::from_secs(2);

pub struct Credentials {
    login: Login,
    api: Api,
    current: RwLock<Option<Token>>,
    /// One login at a time; the others wait and use its token.
    logging_in: tokio::sync::Mutex<()>,
    /// Counts logins; a renewal task ends once its login is not the last.
    generation: AtomicU64,
    /// Whether a given token's lease is known (looked up, or being looked
    /// up), so its renewal task is started once.
    given_looked_up: AtomicBool,
}

impl Credentials {
    pub fn new(login: Login, api: Api) -> Result<Arc<Credentials>, String> {
        let current = match &login {
            Login::Token(value) => Some(Arc::new(value.read("token")?)),
            Login::AppRole { .. } => None,
        };
        Ok(Arc::new(Credentials {
            login,
            api,
            current: RwLock::new(current),
            logging_in: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            given_looked_up: AtomicBool::new(false),
        }))
    }

    fn current(&self) -> Option<Token> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a refused token can be replaced by logging in again.
    pub fn can_log_in(&self) -> bool {
        matches!(self.login, Login::AppRole { .. })
    }

    /// The token to send, logging in first when there is none.
    pub async fn token(self: &Arc<Self>) -> Result<Token, VaultError> {
        if let Some(token) = self.current() {
            if !self.given_looked_up.load(Ordering::Relaxed) && !self.can_log_in() {
                self.look_up_given();
            }
            return Ok(token);
        }
        let _one_login = self.logging_in.lock().await;
        if let Some(token) = self.current() {
            return Ok(token);
        }
        self.log_in().await
    }

    /// Drops `used` if it is still the current token (the vault refused
    /// it), so the next [`token`](Self::token) logs in again.
    pub fn forget(&self, used: &Token) {
        if !self.can_log_in() {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, used)) {
            *current = None;
        }
    }

    /// An AppRole login; starts the task keeping the new token renewed.
    /// Boxed: the task it starts may call it again.
    fn log_in(self: &Arc<Self>) -> BoxFuture<'_, Result<Token, VaultError>> {
        Box::pin(self.log_in_now())
    }

    async fn log_in_now(self: &Arc<Self>) -> Result<Token, VaultError> {
        let Login::AppRole {
            mount,
            role_id,
            secret_id,
        } = &self.login
        else {
            return self.current().ok_or_else(|| {
                VaultError::Backend(format!("no token for the vault at {}", self.api.shown))
            });
        };
        let bad_file = |e: String| VaultError::Backend(format!("AppRole login: {e}"));
        let role_id = role_id.read("role id").map_err(bad_file)?;
        let secret_id = secret_id.read("secret id").map_err(bad_file)?;
        let body = json!({"role_id": role_id.as_str(), "secret_id": secret_id.as_str()});
        let url = self.api.url(["auth", mount.as_str(), "login"]);
        let answer = self
            .api
            .send(reqwest::Method::POST, url, None, Some(&body))
            .await?;
        if answer.status != 200 {
            let why = match answer.status {
                400 | 403 => VaultError::Unavailable(format!(
                    "the vault at {} refused the AppRole login ({}: {}); check the role id and secret id",
                    self.api.shown,
                    answer.status,
                    super::api::errors(&answer.body)
                )),
                _ => self.api.failure(&answer, None).await,
            };
            return Err(why);
        }
        let auth = &answer.body["auth"];
        let Some(token) = auth["client_token"].as_str() else {
            return Err(VaultError::Backend(format!(
                "the vault at {} answered the AppRole login without a token",
                self.api.shown
            )));
        };
        let token: Token = Arc::new(Zeroizing::new(token.to_owned()));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let lease = Duration::from_secs(auth["lease_duration"].as_u64().unwrap_or(0));
        tracing::info!(
            vault = self.api.shown,
            lease_seconds = lease.as_secs(),
            "vault AppRole login"
        );
        if auth["renewable"].as_bool() == Some(true) && !lease.is_zero() {
            tokio::spawn(keep_renewed(Arc::downgrade(self), generation, lease));
        }
        Ok(token)
    }

    /// Starts (once) the task that asks the vault about a given token and
    /// keeps it renewed when it is renewable.
    fn look_up_given(self: &Arc<Self>) {
        if self.given_looked_up.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(renew_given(Arc::downgrade(self)));
    }

    /// `lookup-self` of the given token: whether it is renewable and its
    /// remaining lease. `None` when the vault did not answer (or is
    /// sealed): the next request asks again.
    async fn look_up(&self) -> Option<(bool, Duration)> {
        let token = self.current()?;
        let url = self.api.url(["auth", "token", "lookup-self"]);
        let answer = self
            .api
            .send(reqwest::Method::GET, url, Some(&token), None)
            .await
            .ok()?;
        match answer.status {
            200 => {
                let data = &answer.body["data"];
                Some((
                    data["renewable"].as_bool() == Some(true),
                    Duration::from_secs(data["ttl"].as_u64().unwrap_or(0)),
                ))
            }
            // A refused token is reported by the requests using it.
            403 => Some((false, Duration::ZERO)),
            _ => None,
        }
    }

    /// Renews the current token; its new lease.
    async fn renew(&self) -> Result<Duration, VaultError> {
        let token = self
            .current()
            .ok_or_else(|| VaultError::Backend("no token to renew".into()))?;
        let url = self.api.url(["auth", "token", "renew-self"]);
        let answer = self
            .api
            .send(reqwest::Method::POST, url, Some(&token), Some(&json!({})))
            .await?;
        if answer.status != 200 {
            return Err(self.api.failure(&answer, None).await);
        }
        Ok(Duration::from_secs(
            answer.body["auth"]["lease_duration"].as_u64().unwrap_or(0),
        ))
    }
}

/// Looks the given token up and, when it is renewable with a lease,
/// keeps it renewed.
async fn renew_given(credentials: Weak<Credentials>) {
    let Some(strong) = credentials.upgrade() else {
        return;
    };
    match strong.look_up().await {
        None => strong.given_looked_up.store(false, Ordering::SeqCst),
        Some((true, lease)) if !lease.is_zero() => {
            tracing::info!(
                vault = strong.api.shown,
                lease_seconds = lease.as_secs(),
                "vault token is renewable; renewing it before its lease ends"
            );
            drop(strong);
            keep_renewed(credentials, 0, lease).await;
        }
        Some(_) => {}
    }
}

/// Renews the token of login `generation` (0: the given token) at two
/// thirds of each lease. When renewal is refused or the lease runs short,
/// an AppRole login is made again (whose own task then takes over); a
/// given token is warned about. Either way this task ends.
async fn keep_renewed(credentials: Weak<Credentials>, generation: u64, mut lease: Duration) {
    loop {
        tokio::time::sleep(lease * 2 / 3).await;
        let Some(credentials) = credentials.upgrade() else {
            return;
        };
        if credentials.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        match credentials.renew().await {
            Ok(renewed) if renewed >= MIN_LEASE => {
                tracing::info!(
                    vault = credentials.api.shown,
                    lease_seconds = renewed.as_secs(),
                    "vault token renewed"
                );
                if renewed < lease && !credentials.can_log_in() {
                    tracing::warn!(
                        vault = credentials.api.shown,
                        lease_seconds = renewed.as_secs(),
                        "vault token nears its maximum lifetime; give the server a new token"
                    );
                }
                lease = renewed;
                continue;
            }
            Ok(_) if !credentials.can_log_in() => {
                tracing::warn!(
                    vault = credentials.api.shown,
                    "vault token at its maximum lifetime; it expires soon, give the server a new token"
                );
                return;
            }
            Err(e) if !credentials.can_log_in() => {
                tracing::warn!(
                    vault = credentials.api.shown,
                    error = %e,
                    "vault token renewal refused; the token expires at the end of its lease"
                );
                return;
            }
            Ok(_) => tracing::info!(
                vault = credentials.api.shown,
                "vault token at its maximum lifetime; logging in again"
            ),
            Err(e) => tracing::warn!(
                vault = credentials.api.shown,
                error = %e,
                "vault token renewal refused; logging in again"
            ),
        }
        let _one_login = credentials.logging_in.lock().await;
        if credentials.generation.load(Ordering::SeqCst) != generation {
            return; // a request logged in meanwhile
        }
        *credentials
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = None;
        if let Err(e) = credentials.log_in().await {
            // The next request tries again.
            tracing::warn!(vault = credentials.api.shown, error = %e, "vault login failed");
        }
        return;
    }
}
