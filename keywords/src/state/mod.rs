//! What keywords remember between calls (OTP settings, OAuth sessions,
//! HOTP counters, used-code marks), kept in a [`StateStore`] so that it
//! survives restarts and is shared by every server using the same store.
//!
//! RPA.MFA keeps one current secret per library instance. One server is
//! shared by many robots, so each namespace gets its own records and robot
//! A's `Set Time Based OTP` never changes robot B's codes. A namespace is
//! made on first use, starting from the state the server was configured
//! with. Records are plain data, sealed under the state key before they
//! reach the store, and decoded once into an in-process cache that is
//! checked against the store's stamp on every call.

#[cfg(test)]
pub(crate) mod conformance;
pub mod memory;
mod recent;
pub mod redis;
pub mod seal;
pub mod spec;
pub mod sqlite;
pub mod store;

pub use memory::MemoryStore;
pub use redis::{RedisOptions, RedisStore};
pub use seal::StateKey;
pub use store::{
    queue_take_first, Admit, Change, CounterSet, Expect, Space, StateError, StateResult,
    StateStore, Versioned,
};

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::error::KeywordError;

/// The default namespace, served at `/` and `/RPC2`.
pub const DEFAULT_NAMESPACE: &str = "";

/// How often a server tells the store a namespace is still in use; idle
/// expiry is counted in hours, so a minute's lag does not matter, and
/// calls in between cost no write.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Attempts at a compare-and-swap update before giving up: only other
/// writers of the very same record make one fail.
const UPDATE_ATTEMPTS: usize = 16;

/// A kind of per-namespace record: plain data in one [`Space`], turned into
/// bytes (then sealed) and back.
pub trait Record: Sized + Send + Sync + 'static {
    const SPACE: Space;
    /// The record from its bytes; an empty namespace has none and gets
    /// `Default` (or the server's configured start).
    fn from_bytes(bytes: &[u8]) -> Result<Self, KeywordError>;
    fn to_bytes(&self) -> Zeroizing<Vec<u8>>;
}

/// How many namespaces a store may hold and when an unused one goes.
#[derive(Clone, Debug, PartialEq)]
pub struct NamespaceLimits {
    /// A namespace unused this long is removed with its records.
    pub idle: Duration,
    /// At most this many namespaces; the exempt ones do not count against it.
    pub max_count: usize,
    /// Namespaces that never expire and pass the cap: those users are
    /// pinned to. The default namespace always is.
    pub exempt: HashSet<String>,
}

impl Default for NamespaceLimits {
    fn default() -> NamespaceLimits {
        NamespaceLimits {
            idle: Duration::from_secs(24 * 3600),
            max_count: 10_000,
            exempt: HashSet::new(),
        }
    }
}

/// A new namespace refused because the cap is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceLimit {
    pub max_count: usize,
    pub name: String,
}

impl fmt::Display for NamespaceLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Namespace limit ({}) reached; '{}' not created.",
            self.max_count, self.name
        )
    }
}

impl std::error::Error for NamespaceLimit {}

impl From<NamespaceLimit> for KeywordError {
    fn from(e: NamespaceLimit) -> KeywordError {
        KeywordError::plain(e.to_string())
    }
}

/// What every namespace of a server shares.
struct Shared {
    store: Arc<dyn StateStore>,
    key: StateKey,
    /// Records a namespace starts with (the server's `--secret`), as bytes.
    initial: HashMap<Space, Zeroizing<Vec<u8>>>,
    /// What [`Namespace::touched`] counts from.
    epoch: Instant,
}

/// A decoded record and what it was decoded from.
struct Cached {
    /// The store's stamp when the record was last checked (None: check
    /// again next time).
    stamp: Option<u64>,
    /// 0: no record in the store (the initial or default value).
    version: u64,
    value: Arc<dyn Any + Send + Sync>,
}

/// One namespace: a handle on its records in the store.
pub struct Namespace {
    name: String,
    shared: Arc<Shared>,
    /// One slot per `Space`, at `space as usize` (`Space::ALL` is in
    /// declaration order): read on every call, without hashing.
    cache: Mutex<[Option<Cached>; Space::ALL.len()]>,
    /// When the store was last told this namespace is used: nanoseconds
    /// since [`Shared::epoch`] + 1, 0 before. An atomic, not a lock: it is
    /// read on every call from every thread, and written once a minute.
    touched: AtomicU64,
}

impl Namespace {
    fn touched(&self) -> Option<Instant> {
        match self.touched.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(self.shared.epoch + Duration::from_nanos(nanos - 1)),
        }
    }

    fn set_touched(&self, at: Instant) {
        let nanos = at.saturating_duration_since(self.shared.epoch).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
        self.touched.store(nanos, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Namespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store this namespace lives in, for the store-wide key spaces
    /// (counters, used-code marks).
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.shared.store
    }

    /// The state key, to fingerprint secrets.
    pub fn state_key(&self) -> &StateKey {
        &self.shared.key
    }

    fn record_key(&self, space: Space) -> Vec<u8> {
        format!("{}/{}", space.as_str(), self.name).into_bytes()
    }

    /// The namespace's record of type `R`, from the cache when the store
    /// has not changed since, else from the store.
    pub async fn read<R: Record>(&self) -> Result<Arc<R>, KeywordError> {
        self.read_versioned::<R>().await.map(|(value, _)| value)
    }

    async fn read_versioned<R: Record>(&self) -> Result<(Arc<R>, u64), KeywordError> {
        let store = &self.shared.store;
        let stamp = store.stamp()?;
        if stamp.is_some() {
            if let Some(hit) = self.cached::<R>(|c| c.stamp == stamp) {
                return Ok(hit);
            }
        }
        let stored = store.get(R::SPACE, &self.name).await?;
        let version = stored.as_ref().map_or(0, |s| s.version);
        if let Some(hit) = self.cached::<R>(|c| c.version == version) {
            self.remember(R::SPACE, stamp, version, hit.0.clone());
            return Ok(hit);
        }
        let value = Arc::new(match stored {
            Some(stored) => {
                let plain = self
                    .shared
                    .key
                    .open(&self.record_key(R::SPACE), &stored.value)?;
                R::from_bytes(&plain)?
            }
            None => match self.shared.initial.get(&R::SPACE) {
                Some(bytes) => R::from_bytes(bytes)?,
                None => R::from_bytes(&[])?,
            },
        });
        self.remember(R::SPACE, stamp, version, value.clone());
        Ok((value, version))
    }

    fn cached<R: Record>(&self, valid: impl Fn(&Cached) -> bool) -> Option<(Arc<R>, u64)> {
        let cache = lock(&self.cache);
        let entry = cache[R::SPACE as usize].as_ref().filter(|c| valid(c))?;
        let value = entry.value.clone().downcast::<R>().ok()?;
        Some((value, entry.version))
    }

    fn remember<R: Record>(&self, space: Space, stamp: Option<u64>, version: u64, value: Arc<R>) {
        lock(&self.cache)[space as usize] = Some(Cached {
            stamp,
            version,
            value,
        });
    }

    /// Changes the record of type `R`: `change` gets the current record and
    /// returns the new one, or None to leave it as it is (no write at all).
    /// A concurrent writer makes it start over with the newer record.
    pub async fn update<R: Record>(
        &self,
        mut change: impl FnMut(&R) -> Option<R>,
    ) -> Result<Arc<R>, KeywordError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let (current, version) = self.read_versioned::<R>().await?;
            let Some(new) = change(&current) else {
                return Ok(current);
            };
            let sealed = self
                .shared
                .key
                .seal(&self.record_key(R::SPACE), &new.to_bytes());
            let expect = match version {
                0 => Expect::Absent,
                v => Expect::Version(v),
            };
            let written = self
                .shared
                .store
                .put(R::SPACE, &self.name, &sealed, expect, None)
                .await?;
            if let Some(version) = written {
                let new = Arc::new(new);
                // The stamp moved with this write: check it next time.
                self.remember(R::SPACE, None, version, new.clone());
                return Ok(new);
            }
        }
        Err(StateError::new(format!(
            "the {} record of namespace '{}' kept changing under this update; try again",
            R::SPACE.as_str(),
            self.name
        ))
        .into())
    }

    /// Changes in the store, to pass to [`Namespace::changed`].
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.shared.store.subscribe()
    }

    /// Waits until a change that may concern this namespace's `space`
    /// record arrives on `changes`. Missed changes count as one.
    pub async fn changed(&self, changes: &mut broadcast::Receiver<Change>, space: Space) {
        loop {
            match changes.recv().await {
                Ok(Change::Key(s, key)) if s == space && key == self.name => return,
                Ok(Change::Any) | Err(broadcast::error::RecvError::Lagged(_)) => return,
                Ok(_) => {}
                // The store is gone: nothing will change any more.
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

/// All namespaces of a server: handles on the store, opened on first use.
pub struct Namespaces {
    shared: Arc<Shared>,
    limits: NamespaceLimits,
    /// foldhash, seeded per map: read on every call (SipHash was 150
    /// instructions of it), and its names are capped by the namespace
    /// limit.
    open: Mutex<foldhash::HashMap<String, Arc<Namespace>>>,
    /// Moves on whenever a namespace leaves `open`: what threads remember
    /// of it ([`recent`]) from before is not used again.
    generation: AtomicU64,
}

impl Namespaces {
    pub fn new(store: Arc<dyn StateStore>, key: StateKey, limits: NamespaceLimits) -> Namespaces {
        Namespaces {
            shared: Arc::new(Shared {
                store,
                key,
                initial: HashMap::new(),
                epoch: Instant::now(),
            }),
            limits,
            open: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Throwaway namespaces in memory, for tests and listings.
    pub fn in_memory() -> Namespaces {
        Namespaces::new(
            Arc::new(MemoryStore::new()),
            StateKey::generate().0,
            NamespaceLimits::default(),
        )
    }

    /// Every namespace without a record of `R`'s kind starts with `initial`.
    pub fn with_initial<R: Record>(mut self, initial: &R) -> Namespaces {
        let shared = Arc::get_mut(&mut self.shared).expect("set before any namespace opens");
        shared.initial.insert(R::SPACE, initial.to_bytes());
        self
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.shared.store
    }

    /// The state key, to seal what passes through the store outside any
    /// namespace (OAuth redirects on their way to their flow).
    pub fn state_key(&self) -> &StateKey {
        &self.shared.key
    }

    /// The namespace `name`, made on first use unless the store already
    /// holds as many namespaces as allowed. A store that does not answer
    /// does not stop the call: keywords that need no state still work, and
    /// those that do fail with the store's error. Only [`Access::open`]
    /// calls it, so every way into a namespace passes the gate.
    ///
    /// [`Access::open`]: crate::access::Access::open
    pub(crate) async fn get(&self, name: &str) -> Result<Arc<Namespace>, NamespaceLimit> {
        // Acquire: pairs with the bump after a removal, so a namespace
        // remembered before it is not found.
        let generation = self.generation.load(Ordering::Acquire);
        let ns = match recent::find(&self.shared, name, generation) {
            Some(ns) => ns,
            None => {
                let ns = self.open_or_make(name);
                recent::remember(&ns, generation);
                ns
            }
        };
        let now = Instant::now();
        let due = ns
            .touched()
            .is_none_or(|t| now.duration_since(t) >= TOUCH_EVERY);
        if due {
            self.touch(&ns, now).await?;
        }
        Ok(ns)
    }

    fn open_or_make(&self, name: &str) -> Arc<Namespace> {
        let mut open = lock(&self.open);
        if let Some(ns) = open.get(name) {
            return ns.clone();
        }
        let ns = Arc::new(Namespace {
            name: name.to_owned(),
            shared: self.shared.clone(),
            cache: Mutex::default(),
            touched: AtomicU64::new(0),
        });
        open.insert(name.to_owned(), ns.clone());
        ns
    }

    /// After namespaces left `open`: what threads remember of them from
    /// before is not found again (see [`Namespaces::generation`]).
    fn left_open(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    async fn touch(&self, ns: &Namespace, now: Instant) -> Result<(), NamespaceLimit> {
        let exempt = ns.name == DEFAULT_NAMESPACE || self.limits.exempt.contains(&ns.name);
        let (idle, cap) = if exempt {
            (None, None)
        } else {
            (Some(self.limits.idle), Some(self.limits.max_count))
        };
        match self.shared.store.touch_namespace(&ns.name, idle, cap).await {
            Ok(Admit::Full) => {
                if lock(&self.open).remove(&ns.name).is_some() {
                    self.left_open();
                }
                Err(NamespaceLimit {
                    max_count: self.limits.max_count,
                    name: ns.name.clone(),
                })
            }
            Ok(admit) => {
                if admit == Admit::Created {
                    // It may have expired with its records: decode afresh.
                    *lock(&ns.cache) = Default::default();
                }
                ns.set_touched(now);
                self.forget_idle(now);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(store = self.shared.store.describe(), error = %e, "state store");
                Ok(())
            }
        }
    }

    /// Drops handles on namespaces this server has not used for the idle
    /// time, so the in-process map stays as small as the store's.
    fn forget_idle(&self, now: Instant) {
        let mut open = lock(&self.open);
        if open.len() <= self.limits.max_count {
            return;
        }
        let before = open.len();
        open.retain(|_, ns| {
            ns.touched()
                .is_none_or(|t| now.duration_since(t) < self.limits.idle)
        });
        if open.len() < before {
            self.left_open();
        }
    }

    /// How many namespaces this server has open.
    pub fn len(&self) -> usize {
        lock(&self.open).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `name` may name a namespace: a suite name such as
/// `Robot Tests.Login` (spaces and dots included), without control
/// characters, and short, since each namespace costs memory.
pub fn valid_namespace_name(name: &str) -> bool {
    (1..=200).contains(&name.chars().count()) && !name.chars().any(|c| c.is_control())
}
