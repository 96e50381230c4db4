//! What keywords remember between calls (OTP secrets, OAuth sessions),
//! kept per namespace.
//!
//! RPA.MFA keeps one current secret per library instance. One server is
//! shared by many robots, so each namespace gets its own state and robot A's
//! `Set Time Based OTP` never changes robot B's codes. A namespace is made
//! on first use, starting from the state the server was configured with.

#[cfg(test)]
pub(crate) mod conformance;
pub mod memory;
pub mod redis;
pub mod store;

pub use memory::MemoryStore;
pub use redis::{RedisOptions, RedisStore};
pub use store::{
    Admit, Change, CounterSet, Expect, Space, StateError, StateResult, StateStore, Versioned,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

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

/// All namespaces of a server.
pub struct Namespaces {
    map: Mutex<HashMap<String, Arc<Namespace>>>,
    initial: OtpState,
}

impl Namespaces {
    /// Namespaces that each start with `initial` (the server's `--secret`).
    pub fn new(initial: OtpState) -> Namespaces {
        Namespaces {
            map: Mutex::new(HashMap::new()),
            initial,
        }
    }

    pub fn get(&self, name: &str) -> Arc<Namespace> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_owned())
            .or_insert_with(|| Arc::new(Namespace::new(name, self.initial.clone())))
            .clone()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
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
