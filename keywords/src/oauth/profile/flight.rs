//! A profile's token in the state store, and single flight: however many
//! callers on however many servers sharing the store ask at once, one
//! takes the store's lease and makes the one token request; the others
//! wait for the token it stores (told by the store's change feed,
//! bounded by the call's wait limit) and hand out that same token.
//!
//! The record is sealed under the state key (the token and its refresh
//! token are secrets) at a key that is a keyed fingerprint of the
//! profile's client, so a profile whose client or scopes change starts
//! afresh, and the key says nothing without the state key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::config::Profile;
use super::fetch::fetch;
use crate::library::{Args, Call, KeywordError};
use crate::oauth::token::Token;
use crate::state::{Change, Expect, Space, StateKey, StateStore};

/// A waiter looks at the store again this often even when no change
/// arrives: a Redis change feed subscribed a moment too late misses the
/// one message it waits for.
const RECHECK: Duration = Duration::from_millis(500);

/// How much longer than one HTTP call the lease lasts: if its holder dies
/// the lease expires and another caller takes over.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// How long a failed token request is the answer for every caller of the
/// profile: fifty robots asking a provider that refuses the client make
/// one request, not fifty, and a provider that is down is not hammered.
const FAILURE_HOLD: Duration = Duration::from_secs(5);

/// Attempts at a compare-and-swap change of the record.
const UPDATE_ATTEMPTS: usize = 8;

/// A device login started for a profile and not yet approved.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingDevice {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_at: f64,
}

/// The last token request's failure, as its caller saw it (the texts
/// never hold a secret).
#[derive(Clone, Serialize, Deserialize)]
pub struct Failure {
    name: String,
    message: String,
    at: f64,
}

impl Failure {
    /// Failures that say "not yet" rather than "no": a device login
    /// waiting for its person is asked again at the next call.
    fn of(error: &KeywordError, at: f64) -> Option<Failure> {
        let waiting = matches!(
            error.name,
            "AuthorizationPendingError" | "SlowDownError" | "OAuth2NotSetError"
        );
        (!waiting).then(|| Failure {
            name: error.name.to_owned(),
            message: error.message.clone(),
            at,
        })
    }

    fn to_error(&self) -> KeywordError {
        KeywordError::new(error_name(&self.name), self.message.clone())
    }
}

/// The `&'static` name of a stored error's name; one not known here
/// reads as `OAuth2Error`.
fn error_name(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "InvalidClientIdError",
        "InvalidClientError",
        "InvalidGrantError",
        "UnauthorizedClientError",
        "UnsupportedGrantTypeError",
        "InvalidScopeError",
        "AccessDeniedError",
        "ServerError",
        "TemporarilyUnavailableError",
        "InvalidTokenError",
        "ExpiredTokenError",
        "CustomOAuth2Error",
        "InsecureTransportError",
        "ConnectionError",
        "TimeoutError",
        "SSLError",
        "KeyError",
        "VaultError",
        "ValueError",
        "StateError",
    ];
    KNOWN
        .iter()
        .find(|known| **known == name)
        .copied()
        .unwrap_or("OAuth2Error")
}

/// What the store keeps for a profile. No `Debug`: it holds tokens.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Cached {
    pub token: Option<Token>,
    /// Set by `Invalidate Access Token`: hand it out no more (its refresh
    /// token stays usable).
    #[serde(default)]
    pub invalid: bool,
    #[serde(default)]
    pub device: Option<PendingDevice>,
    #[serde(default)]
    pub failure: Option<Failure>,
}

impl Cached {
    pub fn new(token: Token) -> Cached {
        Cached {
            token: Some(token),
            invalid: false,
            device: None,
            failure: None,
        }
    }

    /// The failure of a token request made less than [`FAILURE_HOLD`] ago.
    fn recent_failure(&self, now: f64) -> Option<KeywordError> {
        self.failure
            .as_ref()
            .filter(|f| now - f.at < FAILURE_HOLD.as_secs_f64())
            .map(Failure::to_error)
    }

    /// The token, if it stays valid for `gap` after `now`. One without
    /// `expires_in` is valid until invalidated.
    pub fn valid_token(&self, gap: Duration, now: f64) -> Option<&Token> {
        let token = self.token.as_ref().filter(|_| !self.invalid)?;
        match token.expires_at() {
            Some(at) if at - now < gap.as_secs_f64() => None,
            _ => Some(token),
        }
    }

    /// How long the store keeps the record: for good while it holds a
    /// refresh token (or a device login), else until the token expires.
    fn ttl(&self, now: f64) -> Option<Duration> {
        if self.device.is_some() {
            return None;
        }
        let Some(token) = self.token.as_ref() else {
            return Some(FAILURE_HOLD);
        };
        if token.refresh_token().is_some() {
            return None;
        }
        token
            .expires_at()
            .map(|at| Duration::from_secs_f64((at - now).max(1.0)))
    }
}

/// Decoded records by key, with the store's stamp they were read at: a
/// token handed out again costs no read, unsealing or parsing while the
/// store (SQLite, memory) says nothing changed. Redis has no stamp and is
/// read every time. One entry per configured profile.
#[derive(Default)]
pub struct Memo(Mutex<HashMap<String, Memoed>>);

/// A decoded record: the stamp it was read at, its version, the record.
type Memoed = (u64, u64, Arc<Cached>);

impl Memo {
    fn get(&self, key: &str, stamp: u64) -> Option<(Arc<Cached>, u64)> {
        let memo = self.0.lock().unwrap_or_else(|e| e.into_inner());
        memo.get(key)
            .filter(|(s, _, _)| *s == stamp)
            .map(|(_, version, cached)| (cached.clone(), *version))
    }

    fn put(&self, key: &str, stamp: u64, version: u64, cached: Arc<Cached>) {
        let mut memo = self.0.lock().unwrap_or_else(|e| e.into_inner());
        memo.insert(key.to_owned(), (stamp, version, cached));
    }
}

/// Where a profile's record and lease live in the store.
pub struct Slot<'a> {
    store: &'a dyn StateStore,
    memo: &'a Memo,
    state_key: &'a StateKey,
    /// The record's key in [`Space::Token`] (a fingerprint).
    key: String,
    /// The lease's name in [`Space::Lock`].
    lease: String,
}

impl<'a> Slot<'a> {
    pub fn new(call: &'a Call, profile: &Profile) -> Slot<'a> {
        let state_key = call.ns().state_key();
        let parts: [&[u8]; 9] = [
            b"auth profile v1",
            profile.name.as_bytes(),
            profile.grant.as_str().as_bytes(),
            profile.client_id.as_bytes(),
            profile.issuer.as_deref().unwrap_or_default().as_bytes(),
            profile.token_url.as_deref().unwrap_or_default().as_bytes(),
            profile.scope.as_deref().unwrap_or_default().as_bytes(),
            profile.audience.as_deref().unwrap_or_default().as_bytes(),
            profile.resource.as_deref().unwrap_or_default().as_bytes(),
        ];
        let key = state_key.fingerprint(&parts);
        Slot {
            store: call.ns().store().as_ref(),
            memo: call.services.profiles.memo(),
            state_key,
            lease: format!("profile/{key}"),
            key,
        }
    }

    fn record_key(&self) -> Vec<u8> {
        format!("{}/{}", Space::Token.as_str(), self.key).into_bytes()
    }

    /// The record and its version, if any.
    pub async fn read(&self) -> Result<Option<(Arc<Cached>, u64)>, KeywordError> {
        // Taken before the read: a write in between makes the next call
        // read again, never keep a stale record.
        let stamp = self.store.stamp()?;
        if let Some(hit) = stamp.and_then(|s| self.memo.get(&self.key, s)) {
            return Ok(Some(hit));
        }
        let Some(stored) = self.store.get(Space::Token, &self.key).await? else {
            return Ok(None);
        };
        let plain = self.state_key.open(&self.record_key(), &stored.value)?;
        let cached: Cached = serde_json::from_slice(&plain).map_err(|_| {
            KeywordError::new(
                "StateError",
                "A stored profile token could not be read; it was written by another version.",
            )
        })?;
        let cached = Arc::new(cached);
        if let Some(stamp) = stamp {
            self.memo
                .put(&self.key, stamp, stored.version, cached.clone());
        }
        Ok(Some((cached, stored.version)))
    }

    /// Writes the record if the store still holds `expect`; false if not.
    async fn write(&self, cached: &Cached, expect: Expect, now: f64) -> Result<bool, KeywordError> {
        let plain =
            zeroize::Zeroizing::new(serde_json::to_vec(cached).expect("a token record serialises"));
        let sealed = self.state_key.seal(&self.record_key(), &plain);
        Ok(self
            .store
            .put(Space::Token, &self.key, &sealed, expect, cached.ttl(now))
            .await?
            .is_some())
    }

    /// Changes the record with `change` (None: leave it), retrying when
    /// another writer got there first.
    pub async fn update(
        &self,
        now: f64,
        mut change: impl FnMut(Option<Cached>) -> Option<Cached>,
    ) -> Result<(), KeywordError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let (current, expect) = match self.read().await? {
                Some((cached, version)) => (Some((*cached).clone()), Expect::Version(version)),
                None => (None, Expect::Absent),
            };
            let Some(new) = change(current) else {
                return Ok(());
            };
            if self.write(&new, expect, now).await? {
                return Ok(());
            }
        }
        Err(KeywordError::new(
            "StateError",
            "The profile's token record kept changing under this update; try again.",
        ))
    }

    /// Whether `change` may concern this slot.
    fn concerns(&self, change: &Change) -> bool {
        match change {
            Change::Key(Space::Token, key) => *key == self.key,
            Change::Key(Space::Lock, name) => *name == self.lease,
            Change::Key(..) => false,
            Change::Any => true,
        }
    }

    /// Waits until the record or the lease may have changed, or [`RECHECK`].
    async fn changed(&self, changes: &mut broadcast::Receiver<Change>) {
        let heard = async {
            loop {
                match changes.recv().await {
                    Ok(change) if self.concerns(&change) => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        let _ = tokio::time::timeout(RECHECK, heard).await;
    }
}

/// A token valid for the profile's gap: the stored one, else the one
/// request made by whoever holds the lease. Bounded by the call's wait.
pub async fn valid_token(call: &Call, profile: &Arc<Profile>) -> Result<Token, KeywordError> {
    call.wait(single_flight(call, profile)).await?
}

async fn single_flight(call: &Call, profile: &Arc<Profile>) -> Result<Token, KeywordError> {
    let slot = Slot::new(call, profile);
    let clock = &call.services.clock;
    // A holder makes up to three HTTP calls (discovery, a refresh with the
    // stored token, one with the vault's).
    let lease_ttl = call.services.oauth.http.timeout() * 3 + LEASE_MARGIN;
    let owner = oauth2::CsrfToken::new_random_len(16).secret().clone();
    // Subscribed before the first look, so no change after it is missed.
    let mut changes = slot.store.subscribe();
    loop {
        let stored = slot.read().await?;
        if let Some((cached, _)) = &stored {
            if let Some(token) = cached.valid_token(profile.expiry_gap, clock.now()) {
                return Ok(token.clone());
            }
            if let Some(error) = cached.recent_failure(clock.now()) {
                return Err(error);
            }
        }
        if slot.store.lock(&slot.lease, &owner, lease_ttl).await? {
            return hold(call, profile.clone(), owner).await;
        }
        slot.changed(&mut changes).await;
    }
}

/// Runs the holder's work in a task of its own and releases the lease:
/// a caller that hangs up (Robot's Remote `timeout=`) must not cancel a
/// request half-way, which would lose a rotated refresh token and leave
/// the lease held until it expires.
async fn hold(call: &Call, profile: Arc<Profile>, owner: String) -> Result<Token, KeywordError> {
    let own = Call {
        args: Args::default(),
        access: call.access.clone(),
        services: call.services.clone(),
        output: call.output.clone(),
        deadline: call.deadline,
    };
    let task = tokio::spawn(async move {
        let slot = Slot::new(&own, &profile);
        let result = holder(&own, &profile, &slot).await;
        if let Err(e) = slot.store.unlock(&slot.lease, &owner).await {
            tracing::warn!(profile = %profile.name, error = %e, "token lease release");
        }
        result
    });
    task.await.map_err(|_| {
        KeywordError::new(
            "StateError",
            "The token request stopped before it finished (the server is stopping).",
        )
    })?
}

/// The lease holder's work: look once more (another holder may have just
/// stored a token), else fetch and store.
async fn holder(call: &Call, profile: &Profile, slot: &Slot<'_>) -> Result<Token, KeywordError> {
    let clock = &call.services.clock;
    let (previous, expect) = match slot.read().await? {
        Some((cached, version)) => {
            if let Some(token) = cached.valid_token(profile.expiry_gap, clock.now()) {
                return Ok(token.clone());
            }
            if let Some(error) = cached.recent_failure(clock.now()) {
                return Err(error);
            }
            (Some(cached), Expect::Version(version))
        }
        None => (None, Expect::Absent),
    };
    let fresh = match fetch(call, profile, previous.as_deref()).await {
        Ok(fresh) => fresh,
        Err(error) => {
            if let Some(failure) = Failure::of(&error, clock.now()) {
                // The others waiting for this request get its answer.
                slot.update(clock.now(), |current| {
                    let mut cached = current.unwrap_or_default();
                    cached.failure = Some(failure.clone());
                    Some(cached)
                })
                .await?;
            }
            return Err(error);
        }
    };
    let token = fresh.token.clone().expect("a fetched record holds a token");
    if !slot.write(&fresh, expect, clock.now()).await? {
        // Someone wrote meanwhile (an invalidation, a device login): the
        // token in hand is new, so it wins.
        slot.write(&fresh, Expect::Any, clock.now()).await?;
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::http::JsonResponse;
    use serde_json::json;

    fn token(body: serde_json::Value, now: f64) -> Token {
        let answer = JsonResponse {
            status: 200,
            body,
            max_age: None,
        };
        Token::from_response(answer, "t", now).unwrap()
    }

    #[test]
    fn a_token_is_handed_out_while_it_lasts_the_gap() {
        let gap = Duration::from_secs(60);
        let cached = Cached::new(token(
            json!({"access_token": "a", "expires_in": 100}),
            1000.0,
        ));
        assert!(cached.valid_token(gap, 1000.0).is_some());
        assert!(cached.valid_token(gap, 1040.0).is_some(), "60 s left");
        assert!(
            cached.valid_token(gap, 1040.5).is_none(),
            "less than the gap left"
        );
        assert_eq!(cached.ttl(1000.0), Some(Duration::from_secs(100)));
        let mut invalid = cached.clone();
        invalid.invalid = true;
        assert!(invalid.valid_token(gap, 1000.0).is_none());
        // No expiry said: valid until invalidated, kept for good when it
        // can be refreshed.
        let forever = Cached::new(token(
            json!({"access_token": "a", "refresh_token": "r"}),
            0.0,
        ));
        assert!(forever.valid_token(gap, 1e12).is_some());
        assert_eq!(forever.ttl(0.0), None);
    }
}
