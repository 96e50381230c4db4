//! What keywords remember between calls (OTP secrets, OAuth sessions),
//! kept per namespace.
//!
//! RPA.MFA keeps one current secret per library instance. One server is
//! shared by many robots, so each namespace gets its own state and robot A's
//! `Set Time Based OTP` never changes robot B's codes. A namespace is made
//! on first use, starting from the state the server was configured with.
//!
//! Names come from clients, so the map is bounded: a namespace unused for
//! a day (a setting) is dropped, and past a cap (a setting) new ones are
//! refused while existing ones keep working. The default namespace and
//! pinned users' namespaces are exempt from both.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::library::KeywordError;
use crate::oauth::Session;
use crate::otp::{Kind, OtpKey};

/// The default namespace, served at `/` and `/RPC2`.
pub const DEFAULT_NAMESPACE: &str = "";

/// The current OTP secrets of one namespace.
#[derive(Clone, Default)]
pub struct OtpState {
    pub totp: Option<Arc<OtpKey>>,
    pub hotp: Option<Arc<OtpKey>>,
}

/// One namespace's state.
pub struct Namespace {
    pub name: String,
    otp: Mutex<OtpState>,
    oauth: Mutex<Session>,
    /// Ticks whenever the TOTP secret is replaced, so live code feeds
    /// switch to the new secret at once.
    totp_changes: watch::Sender<()>,
}

impl Namespace {
    fn new(name: &str, otp: OtpState) -> Namespace {
        Namespace {
            name: name.to_owned(),
            otp: Mutex::new(otp),
            oauth: Mutex::new(Session::default()),
            totp_changes: watch::channel(()).0,
        }
    }

    /// The OTP state, for reading; held only briefly and never across an await.
    pub fn otp(&self) -> MutexGuard<'_, OtpState> {
        self.otp.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The OAuth session; held only briefly and never across an await.
    pub fn oauth(&self) -> MutexGuard<'_, Session> {
        self.oauth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the current secret of one kind and tells whoever watches.
    pub fn set_key(&self, kind: Kind, key: Arc<OtpKey>) {
        let mut otp = self.otp();
        match kind {
            Kind::Totp => otp.totp = Some(key),
            Kind::Hotp => otp.hotp = Some(key),
        }
        drop(otp);
        if kind == Kind::Totp {
            self.totp_changes.send_replace(());
        }
    }

    /// Resolves on each later change of the TOTP secret.
    pub fn watch_totp(&self) -> watch::Receiver<()> {
        self.totp_changes.subscribe()
    }
}

/// How many namespaces a server keeps, and for how long. The policy is
/// plain data so that a shared state store can apply the same one.
#[derive(Clone, Debug, PartialEq)]
pub struct NamespaceLimits {
    /// A namespace unused this long is dropped with its state, unless a
    /// call or a subscription still holds it.
    pub idle: Duration,
    /// Most namespaces kept at once, not counting exempt ones.
    pub max_count: usize,
    /// Namespaces never dropped nor counted: the pinned users' ones. The
    /// default namespace always is.
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

/// How often a full cap is swept for idle namespaces at most.
const SWEEP_AT_CAP: Duration = Duration::from_secs(1);

/// One namespace in the map, with when it was last handed out.
struct Entry {
    ns: Arc<Namespace>,
    last_used: Instant,
    /// Exempt from expiry and the cap.
    exempt: bool,
}

/// All namespaces of a server: made on first use, dropped after
/// [`NamespaceLimits::idle`], at most [`NamespaceLimits::max_count`].
pub struct Namespaces {
    map: Mutex<Map>,
    initial: OtpState,
    limits: NamespaceLimits,
}

struct Map {
    entries: HashMap<String, Entry>,
    /// Entries that count against the cap.
    counted: usize,
    last_sweep: Instant,
}

impl Namespaces {
    /// Namespaces that each start with `initial` (the server's `--secret`),
    /// kept within `limits`.
    pub fn new(initial: OtpState, limits: NamespaceLimits) -> Namespaces {
        Namespaces {
            map: Mutex::new(Map {
                entries: HashMap::new(),
                counted: 0,
                last_sweep: Instant::now(),
            }),
            initial,
            limits,
        }
    }

    /// The namespace `name`, made if new; refused when new and the cap is
    /// reached even after dropping the idle ones. Only [`Access::open`]
    /// calls it, so every way into a namespace passes the gate.
    ///
    /// [`Access::open`]: crate::access::Access::open
    pub(crate) fn get(&self, name: &str) -> Result<Arc<Namespace>, NamespaceLimit> {
        let now = Instant::now();
        let mut map = self.lock();
        // At most every tenth of the idle time, so the cost stays
        // proportional to the calls, however many namespaces there are.
        if now.duration_since(map.last_sweep) >= self.limits.idle / 10 {
            self.sweep(&mut map, now);
        }
        if let Some(entry) = map.entries.get_mut(name) {
            entry.last_used = now;
            return Ok(entry.ns.clone());
        }
        let exempt = name == DEFAULT_NAMESPACE || self.limits.exempt.contains(name);
        if !exempt && map.counted >= self.limits.max_count {
            // Refusals can come by the thousand: sweep for them at most
            // once a second.
            if now.duration_since(map.last_sweep) >= SWEEP_AT_CAP.min(self.limits.idle / 10) {
                self.sweep(&mut map, now);
            }
            if map.counted >= self.limits.max_count {
                return Err(NamespaceLimit {
                    max_count: self.limits.max_count,
                    name: name.to_owned(),
                });
            }
        }
        let ns = Arc::new(Namespace::new(name, self.initial.clone()));
        map.counted += usize::from(!exempt);
        map.entries.insert(
            name.to_owned(),
            Entry {
                ns: ns.clone(),
                last_used: now,
                exempt,
            },
        );
        Ok(ns)
    }

    /// Drops the namespaces idle for longer than the limit. One still held
    /// elsewhere (a call in flight, a live subscription) is in use: it is
    /// kept and counts as used now. The map's lock is held, so nobody can
    /// take a new hold on an entry seen unshared here.
    fn sweep(&self, map: &mut Map, now: Instant) {
        let idle = self.limits.idle;
        let mut dropped = 0;
        map.entries.retain(|_, entry| {
            if entry.exempt {
                return true;
            }
            if Arc::strong_count(&entry.ns) > 1 {
                entry.last_used = now;
                return true;
            }
            let keep = now.duration_since(entry.last_used) < idle;
            dropped += usize::from(!keep);
            keep
        });
        map.counted -= dropped;
        map.last_sweep = now;
        // Give memory back after a burst of short-lived namespaces.
        if map.entries.capacity() > 2 * map.entries.len() + 64 {
            map.entries.shrink_to_fit();
        }
    }

    /// How many namespaces exist now, exempt ones included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `name` may name a namespace: a suite name such as
/// `Robot Tests.Login` (spaces and dots included), without control
/// characters, and short, since each namespace costs memory.
pub fn valid_namespace_name(name: &str) -> bool {
    (1..=200).contains(&name.chars().count()) && !name.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_count: usize, exempt: &[&str]) -> NamespaceLimits {
        NamespaceLimits {
            idle: Duration::from_secs(3600),
            max_count,
            exempt: exempt.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_cap_new_names_are_refused_and_old_ones_keep_working() {
        let namespaces = Namespaces::new(OtpState::default(), limits(2, &["pinned"]));
        let a = namespaces.get("a").unwrap();
        namespaces.get("b").unwrap();
        let Err(refused) = namespaces.get("c") else {
            panic!("a third namespace was made past a cap of 2");
        };
        assert_eq!(
            refused.to_string(),
            "Namespace limit (2) reached; 'c' not created."
        );
        // Existing ones are the same state as before; exempt ones are made.
        assert!(Arc::ptr_eq(&a, &namespaces.get("a").unwrap()));
        namespaces.get(DEFAULT_NAMESPACE).unwrap();
        namespaces.get("pinned").unwrap();
        assert_eq!(namespaces.len(), 4);
        assert!(namespaces.get("c").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_namespaces_expire_but_not_while_in_use_nor_exempt_ones() {
        let namespaces = Namespaces::new(OtpState::default(), limits(3, &["pinned"]));
        let held = namespaces.get("subscribed").unwrap();
        namespaces.get("idle").unwrap();
        namespaces.get("pinned").unwrap();
        namespaces.get(DEFAULT_NAMESPACE).unwrap();
        tokio::time::advance(Duration::from_secs(3000)).await;
        namespaces.get("fresh").unwrap();
        assert_eq!(namespaces.len(), 5, "nothing is idle for an hour yet");
        tokio::time::advance(Duration::from_secs(700)).await;
        namespaces.get("fresh").unwrap();
        // "idle" went; the held one, the pinned one and the default stayed.
        assert_eq!(namespaces.len(), 4);
        assert!(Arc::ptr_eq(&held, &namespaces.get("subscribed").unwrap()));
        // Once let go, it expires an idle time after its last use.
        drop(held);
        tokio::time::advance(Duration::from_secs(3601)).await;
        namespaces.get("fresh").unwrap();
        assert_eq!(namespaces.len(), 3, "pinned, default and fresh");
    }

    #[tokio::test(start_paused = true)]
    async fn expired_namespaces_make_room_under_the_cap() {
        let namespaces = Namespaces::new(OtpState::default(), limits(1, &[]));
        namespaces.get("old").unwrap();
        assert!(namespaces.get("new").is_err());
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert!(namespaces.get("new").is_ok());
        assert_eq!(namespaces.len(), 1);
    }
}
