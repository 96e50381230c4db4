//! The token a KV v2 backend sends: a fixed one (`VAULT_TOKEN`), or one
//! from an AppRole login, kept valid by a background task that renews it
//! (`auth/token/renew-self`) at two thirds of its lease and logs in again
//! when renewal is refused. The task holds only a weak reference, so it
//! ends when the backend is dropped (at shutdown at the latest), and a
//! newer login's task replaces an older one's.

use std::sync::atomic::{AtomicU64, Ordering};
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

/// Leases shorter than this are not renewed but replaced by a new login.
const MIN_LEASE: Duration = Duration::from_secs(2);

pub struct Credentials {
    login: Login,
    api: Api,
    current: RwLock<Option<Token>>,
    /// One login at a time; the others wait and use its token.
    logging_in: tokio::sync::Mutex<()>,
    /// Counts logins; a renewal task ends once its login is not the last.
    generation: AtomicU64,
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

/// Renews the token of login `generation` at two thirds of each lease;
/// when renewal is refused or the lease runs short, logs in again (whose
/// own task then takes over) and ends.
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
                lease = renewed;
                continue;
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
