//! The `StateStore` seam: the few atomic operations keywords need from
//! wherever state lives (`memory:`, `sqlite:PATH`, `redis://`).
//!
//! A store keeps opaque bytes; what they mean (and sealing the secrets in
//! them) is the business of the layer above. Every key lives in a
//! [`Space`], so one feature's marks never collide with another's.
//! Operations are whole and atomic on their own, so that several servers
//! sharing one store never hand out a counter twice or use a code twice.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

/// Separate key spaces. A key is unique only within its space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// A namespace's OTP settings (secrets sealed), keyed by namespace name.
    Namespace,
    /// A namespace's OAuth session (sealed), keyed by namespace name.
    Session,
    /// HOTP counters, keyed by a keyed fingerprint of the secret.
    Counter,
    /// "This TOTP code was handed out" marks (`unique=True`, MFA logins).
    Handed,
    /// "This code was accepted" marks of `Verify ... OTP` (otp/verify.rs).
    Replay,
    /// Messages already consumed from an inbox (a later issue).
    Consumed,
    /// Leases (single-flight locks).
    Lock,
    /// Cached tokens (a later issue).
    Token,
    /// OAuth redirects on their way from the server that received them to
    /// the flow waiting for them (sealed: they carry the code), keyed by a
    /// keyed fingerprint of the flow's `state`.
    Callback,
    /// Queues of text messages received for an SMS number (sealed: they
    /// carry codes), keyed by a keyed fingerprint of the number.
    Sms,
}

impl Space {
    pub const ALL: [Space; 10] = [
        Space::Namespace,
        Space::Session,
        Space::Counter,
        Space::Handed,
        Space::Replay,
        Space::Consumed,
        Space::Lock,
        Space::Token,
        Space::Callback,
        Space::Sms,
    ];

    /// A short stable name, for key prefixes, tables and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Space::Namespace => "ns",
            Space::Session => "session",
            Space::Counter => "counter",
            Space::Handed => "handed",
            Space::Replay => "replay",
            Space::Consumed => "consumed",
            Space::Lock => "lock",
            Space::Token => "token",
            Space::Callback => "callback",
            Space::Sms => "sms",
        }
    }

    /// The space a name from [`Space::as_str`] stands for.
    pub fn parse(name: &str) -> Option<Space> {
        Space::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the records of this space belong to a namespace and go when
    /// it expires.
    pub fn is_per_namespace(self) -> bool {
        matches!(self, Space::Namespace | Space::Session)
    }
}

/// A stored record and its version, for compare-and-swap.
#[derive(Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    /// Starts at 1 and grows with every write of the key.
    pub version: u64,
}

/// Records may hold sealed secrets: Debug shows only the size.
impl fmt::Debug for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Versioned({} bytes, v{})",
            self.value.len(),
            self.version
        )
    }
}

/// What a `put` expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there (a plain write).
    Any,
    /// Nothing (or an expired record).
    Absent,
    /// Exactly this version.
    Version(u64),
}

/// What `set_counter` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterSet {
    /// The counter now holds the value.
    Set,
    /// Refused: the stored counter is higher and `force` was not given.
    Below { current: u64 },
}

/// What `touch_namespace` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// The namespace existed (and its idle clock restarted).
    Existing,
    /// The namespace is new (an expired one counts as new, its records gone).
    Created,
    /// The namespace is new, but the store already holds `cap` namespaces.
    Full,
}

/// A change seen by a store: a key written or deleted, or (when a backend
/// cannot tell which key) possibly anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Key(Space, String),
    Any,
}

/// Takes the oldest item of the queue at `key` that `wanted` accepts,
/// removing it for this caller only: one that another caller removed
/// first is passed over for the next match.
pub async fn queue_take_first(
    store: &dyn StateStore,
    space: Space,
    key: &str,
    wanted: impl Fn(&[u8]) -> bool,
) -> StateResult<Option<Vec<u8>>> {
    loop {
        let items = store.queue_items(space, key).await?;
        let Some(item) = items.into_iter().find(|item| wanted(item)) else {
            return Ok(None);
        };
        if store.queue_remove(space, key, &item).await? {
            return Ok(Some(item));
        }
    }
}

/// A store failure, shown to robots as `StateError: ...`. Messages name the
/// store and what went wrong, never a key or a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl StateError {
    pub fn new(message: impl Into<String>) -> StateError {
        StateError(message.into())
    }
}

pub type StateResult<T> = Result<T, StateError>;

/// Where keyword state lives. Every method is atomic on its own; none
/// blocks the async runtime for more than a moment. Expired records behave
/// as absent everywhere.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// What this store is, for logs and `/health` (no credentials).
    fn describe(&self) -> String;

    /// Whether other processes may share this store (SQLite, Redis): then
    /// what one server hands to another must go through it. `memory:` is
    /// this process's alone.
    fn is_shared(&self) -> bool {
        true
    }

    /// The record at `key`, if any.
    async fn get(&self, space: Space, key: &str) -> StateResult<Option<Versioned>>;

    /// Writes `value` if the record is as `expect`ed; returns the new
    /// version, or None when the expectation failed (nothing written).
    /// `ttl` None keeps the record until deleted.
    async fn put(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        expect: Expect,
        ttl: Option<Duration>,
    ) -> StateResult<Option<u64>>;

    /// Writes `value` with an expiry only if nothing is there; true if
    /// written. Used-code marks and the like.
    async fn set_if_absent(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> StateResult<bool> {
        Ok(self
            .put(space, key, value, Expect::Absent, Some(ttl))
            .await?
            .is_some())
    }

    /// Removes a record; true if there was one.
    async fn delete(&self, space: Space, key: &str) -> StateResult<bool>;

    /// Atomically hands out the counter at `key` (0 when new) and advances
    /// it by one. Durable before it returns: no value is handed out twice,
    /// even across a crash.
    async fn next_counter(&self, key: &str) -> StateResult<u64>;

    /// The value `next_counter` would hand out next, if the counter exists.
    async fn peek_counter(&self, key: &str) -> StateResult<Option<u64>>;

    /// Makes `value` the next value handed out. Refused when the stored
    /// counter is higher, unless `force`.
    async fn set_counter(&self, key: &str, value: u64, force: bool) -> StateResult<CounterSet>;

    /// Takes the lease `name` for `owner` until `ttl` passes; false if
    /// someone else holds it. The holder may take it again to extend it.
    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StateResult<bool>;

    /// Releases the lease only if `owner` still holds it (a lease that
    /// expired and was taken by another is left alone); true if released.
    async fn unlock(&self, name: &str, owner: &str) -> StateResult<bool>;

    /// Marks namespace `name` used now. A namespace unused for `idle` has
    /// expired: its records are gone and it counts as new (None: it never
    /// expires). A new namespace is refused when `cap` (if any) namespaces
    /// that expire already live; those that never expire (the default one,
    /// pinned ones) do not count.
    async fn touch_namespace(
        &self,
        name: &str,
        idle: Option<Duration>,
        cap: Option<usize>,
    ) -> StateResult<Admit>;

    /// How many namespaces live (not expired).
    async fn namespace_count(&self) -> StateResult<usize>;

    /// Appends `item` to the queue at `key` and drops its oldest items
    /// beyond `cap`, returning how many were dropped. The whole queue
    /// expires `ttl` after its last push. Items must be unique (a sealed
    /// item is: its nonce is random), as [`StateStore::queue_remove`]
    /// removes by value.
    async fn queue_push(
        &self,
        space: Space,
        key: &str,
        item: &[u8],
        cap: usize,
        ttl: Duration,
    ) -> StateResult<usize>;

    /// The items of the queue at `key`, oldest first.
    async fn queue_items(&self, space: Space, key: &str) -> StateResult<Vec<Vec<u8>>>;

    /// Removes `item` from the queue at `key`; true for the one caller
    /// that removed it, so an item is consumed once however many servers
    /// try at the same moment.
    async fn queue_remove(&self, space: Space, key: &str, item: &[u8]) -> StateResult<bool>;

    /// A number that changes whenever anything in the store may have
    /// changed, cheap enough to check on every call, so readers can keep
    /// an in-process cache. None: no such number; read the store each time.
    fn stamp(&self) -> StateResult<Option<u64>>;

    /// Changes as they happen (from this process and, where the backend
    /// can tell, from others sharing the store).
    fn subscribe(&self) -> broadcast::Receiver<Change>;

    /// Whether the store answers now.
    async fn ping(&self) -> StateResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_space_is_listed_at_its_own_place() {
        // A namespace's record cache keeps a slot per space, at
        // `space as usize`, and has `Space::ALL.len()` of them.
        for (i, space) in Space::ALL.into_iter().enumerate() {
            assert_eq!(space as usize, i, "{space:?}");
        }
    }
}
