//! An identity platform's session: the token a login or refresh gave,
//! kept sealed in the state store's token space (so a restarted server
//! and every server sharing the store reuse it until it expires), and
//! single flight: however many callers ask at once, one logs in (one
//! push to the user's phone, not fifty) and the others take its session.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use url::Url;
use zeroize::Zeroizing;

use super::config::{IdentityPlatform, Login};
use super::errors::malformed;
use super::{challenges, refresh, service_user, wire::Wire};
use crate::library::{Args, Call, KeywordError};
use crate::state::{Expect, Space};

/// A waiter looks at the store again this often even when no change
/// arrives (a Redis change feed may miss the one message it waits for).
const RECHECK: Duration = Duration::from_millis(500);

/// How long a failed login is every waiting caller's answer: fifty
/// robots whose push was denied do not each push again.
const FAILURE_HOLD: f64 = 5.0;

/// Beyond the longest login, how long the lease lasts: if its holder
/// dies the lease expires and another caller takes over.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// HTTP calls a login makes besides polling: redirects, starts, answers.
const LOGIN_CALLS: u32 = 12;

/// A session. No `Debug`: it holds tokens.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    token: Zeroizing<String>,
    #[serde(default)]
    refresh_token: Option<Zeroizing<String>>,
    /// The tenant whose refresh cookies carry the tokens.
    #[serde(default)]
    tenant_id: Option<String>,
    /// Where the session lives (the pod after a tenant redirect).
    pub pod: String,
    pub expires_at: f64,
}

impl Session {
    pub fn new(
        token: Zeroizing<String>,
        refresh_token: Option<Zeroizing<String>>,
        tenant_id: Option<String>,
        pod: &Url,
        lifetime: f64,
        call: &Call,
    ) -> Session {
        Session {
            token,
            refresh_token,
            tenant_id,
            pod: pod.as_str().trim_end_matches('/').to_owned(),
            expires_at: call.services.clock.now() + lifetime,
        }
    }

    /// The session a `LoginSuccess` result describes: its `Token` (the
    /// platform token, a JWT) or else `Auth`, `RefreshToken`,
    /// `TokenLifetime` (else the identity's `session_lifetime`).
    pub fn from_login(
        result: &Json,
        pod: &Url,
        start_tenant: Option<&str>,
        platform: &IdentityPlatform,
        call: &Call,
    ) -> Result<Session, KeywordError> {
        let field = |name: &str| {
            result
                .get(name)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| Zeroizing::new(s.to_owned()))
        };
        let token = field("Token")
            .or_else(|| field("Auth"))
            .ok_or_else(|| malformed("LoginSuccess came without 'Auth' or 'Token'."))?;
        let lifetime = result
            .get("TokenLifetime")
            .and_then(Json::as_f64)
            .filter(|l| *l > 0.0)
            .unwrap_or(platform.session_lifetime.as_secs_f64());
        let tenant_id = tenant_claim(&token)
            .or_else(|| start_tenant.map(str::to_owned))
            .or_else(|| {
                result
                    .get("CustomerID")
                    .and_then(Json::as_str)
                    .map(str::to_owned)
            });
        Ok(Session::new(
            token,
            field("RefreshToken"),
            tenant_id,
            pod,
            lifetime,
            call,
        ))
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref().map(String::as_str)
    }

    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The same session with a refreshed pair of tokens.
    pub fn refreshed(
        &self,
        token: Zeroizing<String>,
        refresh_token: Zeroizing<String>,
        lifetime: f64,
        now: f64,
    ) -> Session {
        Session {
            token,
            refresh_token: Some(refresh_token),
            tenant_id: self.tenant_id.clone(),
            pod: self.pod.clone(),
            expires_at: now + lifetime,
        }
    }
}

/// The `tenant_id` claim of a JWT, read without checking its signature
/// (the platform checks it; rpa-mfa only needs the cookie names).
fn tenant_claim(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .ok()?;
    let claims: Json = serde_json::from_slice(&bytes).ok()?;
    claims.get("tenant_id")?.as_str().map(str::to_owned)
}

/// What the store keeps for an identity.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Record {
    session: Option<Session>,
    /// The last login's failure (its text holds no secret) and when.
    #[serde(default)]
    failure: Option<(String, String, f64)>,
}

/// What a caller wants.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Want {
    /// A session valid for the identity's gap: the stored one if it is.
    Valid,
    /// A new login, whatever is stored.
    Login,
    /// The stored session refreshed (a new login if it has no refresh
    /// token or none is stored).
    Refresh,
}

/// Where an identity's record and lease live.
struct Slot {
    key: String,
    lease: String,
}

impl Slot {
    fn new(call: &Call, platform: &IdentityPlatform) -> Slot {
        let kind: &[u8] = match platform.login {
            Login::User { .. } => b"user",
            Login::Service { .. } => b"service",
        };
        let key = call.ns().state_key().fingerprint(&[
            b"identity session v1",
            platform.name.as_bytes(),
            platform.tenant_url.as_str().as_bytes(),
            kind,
            platform.user().as_bytes(),
        ]);
        Slot {
            lease: format!("identity/{key}"),
            key,
        }
    }

    fn record_key(&self) -> Vec<u8> {
        format!("{}/{}", Space::Token.as_str(), self.key).into_bytes()
    }

    async fn read(&self, call: &Call) -> Result<Option<(Record, u64)>, KeywordError> {
        let Some(stored) = call.ns().store().get(Space::Token, &self.key).await? else {
            return Ok(None);
        };
        let plain = call
            .ns()
            .state_key()
            .open(&self.record_key(), &stored.value)?;
        let record = serde_json::from_slice(&plain).map_err(|_| {
            KeywordError::new(
                "StateError",
                "A stored identity session could not be read; it was written by another version.",
            )
        })?;
        Ok(Some((record, stored.version)))
    }

    /// Writes the record whatever is there: the holder of the lease is
    /// the only writer.
    async fn write(&self, call: &Call, record: &Record) -> Result<(), KeywordError> {
        let plain =
            Zeroizing::new(serde_json::to_vec(record).expect("a session record serialises"));
        let sealed = call.ns().state_key().seal(&self.record_key(), &plain);
        let now = call.services.clock.now();
        let ttl = match &record.session {
            Some(s) if s.refresh_token.is_none() => {
                Some(Duration::from_secs_f64((s.expires_at - now).max(1.0)))
            }
            Some(_) => None,
            None => Some(Duration::from_secs_f64(FAILURE_HOLD)),
        };
        call.ns()
            .store()
            .put(Space::Token, &self.key, &sealed, Expect::Any, ttl)
            .await?;
        Ok(())
    }
}

impl Record {
    fn valid(&self, gap: Duration, now: f64) -> Option<&Session> {
        self.session
            .as_ref()
            .filter(|s| s.expires_at - now >= gap.as_secs_f64())
    }

    fn recent_failure(&self, now: f64) -> Option<KeywordError> {
        let (name, message, at) = self.failure.as_ref()?;
        (now - at < FAILURE_HOLD).then(|| KeywordError::new(error_name(name), message.clone()))
    }
}

/// The `&'static` name of a stored failure's name.
fn error_name(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "MFAAuthenticationFailure",
        "MFACommunicationError",
        "MFAServiceUnreachable",
        "TOTPNotSetError",
        "VaultError",
        "KeyError",
        "ValueError",
        "TimeoutError",
    ];
    KNOWN
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("MFACommunicationError")
}

/// A session as `want` asks, bounded by the call's wait.
pub async fn obtain(
    call: &Call,
    platform: &Arc<IdentityPlatform>,
    want: Want,
) -> Result<Session, KeywordError> {
    call.wait(single_flight(call, platform, want)).await?
}

async fn single_flight(
    call: &Call,
    platform: &Arc<IdentityPlatform>,
    want: Want,
) -> Result<Session, KeywordError> {
    let slot = Slot::new(call, platform);
    let store = call.ns().store();
    let clock = &call.services.clock;
    let lease_ttl = platform.timeout * LOGIN_CALLS + platform.poll_timeout * 3 + LEASE_MARGIN;
    let owner = oauth2::CsrfToken::new_random_len(16).secret().clone();
    let mut changes = store.subscribe();
    loop {
        if want == Want::Valid {
            if let Some((record, _)) = slot.read(call).await? {
                if let Some(session) = record.valid(platform.expiry_gap, clock.now()) {
                    return Ok(session.clone());
                }
                if let Some(error) = record.recent_failure(clock.now()) {
                    return Err(error);
                }
            }
        }
        if store.lock(&slot.lease, &owner, lease_ttl).await? {
            return hold(call, platform.clone(), owner, want).await;
        }
        let heard = async {
            loop {
                match changes.recv().await {
                    Ok(crate::state::Change::Key(Space::Token, key)) if key == slot.key => return,
                    Ok(crate::state::Change::Key(Space::Lock, name)) if name == slot.lease => {
                        return
                    }
                    Ok(crate::state::Change::Any) => return,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        std::future::pending().await
                    }
                }
            }
        };
        let _ = tokio::time::timeout(RECHECK, heard).await;
    }
}

/// Runs the holder's work in a task of its own, so a caller that hangs
/// up does not cancel a login half-way, and releases the lease.
async fn hold(
    call: &Call,
    platform: Arc<IdentityPlatform>,
    owner: String,
    want: Want,
) -> Result<Session, KeywordError> {
    let own = Call {
        args: Args::default(),
        access: call.access.clone(),
        services: call.services.clone(),
        output: call.output.clone(),
        deadline: call.deadline,
    };
    let task = tokio::spawn(async move {
        let slot = Slot::new(&own, &platform);
        let result = holder(&own, &platform, &slot, want).await;
        if let Err(e) = own.ns().store().unlock(&slot.lease, &owner).await {
            tracing::warn!(identity = %platform.name, error = %e, "identity lease release");
        }
        result
    });
    task.await.map_err(|_| {
        KeywordError::new(
            "StateError",
            "The login stopped before it finished (the server is stopping).",
        )
    })?
}

/// The lease holder's work: look once more (another holder may have just
/// stored a session), else log in or refresh, and store the outcome.
async fn holder(
    call: &Call,
    platform: &IdentityPlatform,
    slot: &Slot,
    want: Want,
) -> Result<Session, KeywordError> {
    let now = call.services.clock.now();
    let stored = slot.read(call).await?.map(|(record, _)| record);
    if want == Want::Valid {
        if let Some(record) = &stored {
            if let Some(session) = record.valid(platform.expiry_gap, now) {
                return Ok(session.clone());
            }
            if let Some(error) = record.recent_failure(now) {
                return Err(error);
            }
        }
    }
    let wire = Wire::new(platform.timeout, platform.ca.as_deref())?;
    let previous = stored.and_then(|r| r.session);
    let outcome = match (want, &previous) {
        (Want::Refresh, Some(session)) if session.refresh_token.is_some() => {
            refresh::refresh(call, platform, &wire, session).await
        }
        (want, _) => {
            if want == Want::Refresh {
                call.output.info(&format!(
                    "Identity '{}': no session with a refresh token is stored; logging in.",
                    platform.name
                ));
            }
            match platform.login {
                Login::User { .. } => challenges::log_in(call, platform, &wire).await,
                Login::Service { .. } => service_user::log_in(call, platform, &wire).await,
            }
        }
    };
    match outcome {
        Ok(session) => {
            let record = Record {
                session: Some(session.clone()),
                failure: None,
            };
            slot.write(call, &record).await?;
            Ok(session)
        }
        // A server stopping says nothing about the platform: the next
        // caller (on another server of the fleet) tries afresh.
        Err(error) if error.name == "ServerStoppingError" => Err(error),
        Err(error) => {
            // A session still valid stays usable; the failure answers the
            // callers waiting for this login.
            let record = Record {
                session: previous,
                failure: Some((
                    error.name.to_owned(),
                    error.message.clone(),
                    call.services.clock.now(),
                )),
            };
            slot.write(call, &record).await?;
            Err(error)
        }
    }
}

/// Forgets the stored session of `platform`.
pub async fn forget(call: &Call, platform: &IdentityPlatform) -> Result<bool, KeywordError> {
    let slot = Slot::new(call, platform);
    Ok(call.ns().store().delete(Space::Token, &slot.key).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_the_platform_tokens_claim() {
        let payload = data_encoding::BASE64URL_NOPAD.encode(br#"{"tenant_id":"ABC123","sub":"u"}"#);
        assert_eq!(
            tenant_claim(&format!("e30.{payload}.sig")).as_deref(),
            Some("ABC123")
        );
        assert_eq!(tenant_claim("opaque-token"), None);
    }
}
