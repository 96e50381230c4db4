//! Where secrets come from: one [`SecretStore`] trait, several backends,
//! chosen by a spec such as `file:secrets.json` or `env:`.
//!
//! A secret is a named map of keys to values, as in Robocorp's vault:
//! `Use MFA Secret From Vault    mfa    otpsecret` reads key `otpsecret` of
//! secret `mfa`. Values never appear in errors or Debug output.

mod env;
mod file;
mod keyring;
pub mod keywords;
pub mod kv2;
mod reference;
mod registry;
mod robocorp;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroizing;

pub use env::EnvStore;
pub use file::FileStore;
pub use keyring::KeyringStore;
pub use kv2::Kv2Store;
pub use reference::{split_vault, BadSecretRef, SecretRef};
pub use registry::Vaults;
pub use robocorp::RobocorpStore;

use crate::KeywordError;

/// Why a vault call failed. The texts of the first two are RPA.MFA's.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("KeyError: 'Undefined secret: {0}'")]
    UndefinedSecret(String),
    #[error("KeyError: '{0}'")]
    MissingKey(String),
    #[error("VaultError: {0}")]
    Backend(String),
    /// The vault cannot serve now (unreachable, sealed, refusing the
    /// token) but may later: a server warns at start-up and keeps going.
    #[error("VaultError: {0}")]
    Unavailable(String),
    #[error("VaultError: the {0} vault is read-only")]
    ReadOnly(&'static str),
    #[error(
        "VaultError: unknown vault spec '{0}'; use file:PATH, env:, vault+http(s)://HOST:PORT/MOUNT, keyring:[SERVICE] or robocorp:"
    )]
    UnknownSpec(String),
    #[error("VaultError: no vault named '{0}' is configured; add --vault {0}=SPEC")]
    UnknownVault(String),
    /// A check-and-set write found another value than the one expected.
    #[error("VaultError: secret '{0}' changed since it was read; not overwritten")]
    Conflict(String),
}

impl From<VaultError> for KeywordError {
    fn from(e: VaultError) -> KeywordError {
        // The Display form already carries the error name.
        let text = e.to_string();
        let (name, message) = text.split_once(": ").unwrap_or(("", &text));
        let name = match name {
            "KeyError" => "KeyError",
            _ => "VaultError",
        };
        KeywordError::new(name, message)
    }
}

/// One secret: keys and their values.
#[derive(Clone, Default)]
pub struct Secret(BTreeMap<String, Zeroizing<String>>);

impl Secret {
    pub fn new(values: BTreeMap<String, Zeroizing<String>>) -> Secret {
        Secret(values)
    }

    /// The value under `key`, or RPA.MFA's `KeyError: 'key'`.
    pub fn value(&self, key: &str) -> Result<Zeroizing<String>, VaultError> {
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| VaultError::MissingKey(key.to_owned()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A secret's keys and values from a JSON object, as Robocorp's clients
/// read one: strings as they are, other values (numbers, booleans) as
/// their JSON text.
fn values_from_json(
    map: serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, Zeroizing<String>> {
    map.into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (key, Zeroizing::new(text))
        })
        .collect()
}

/// A place secrets are kept.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret `name`, or `VaultError::UndefinedSecret`.
    async fn get(&self, name: &str) -> Result<Secret, VaultError>;

    /// One value of a secret.
    async fn get_value(&self, name: &str, key: &str) -> Result<Zeroizing<String>, VaultError> {
        self.get(name).await?.value(key)
    }

    /// Stores one value, creating the secret if needed.
    async fn set(&self, name: &str, key: &str, value: &str) -> Result<(), VaultError>;

    /// Stores several values of one secret, keeping its other keys
    /// (`Set Secret`). Backends with versions write them as one version;
    /// this default writes them one by one.
    async fn set_values(&self, name: &str, values: &[(&str, &str)]) -> Result<(), VaultError> {
        for (key, value) in values {
            self.set(name, key, value).await?;
        }
        Ok(())
    }

    /// Check-and-set: stores `new` under `key` only if the value there is
    /// still `expected` (`None`: absent), else `VaultError::Conflict`. Used
    /// to write back a rotated refresh token without losing a concurrent
    /// writer's. Backends that can do this atomically (KV v2's `cas`, the
    /// file store under its lock) override it; this default is a plain
    /// read-then-write, which is all a backend without versions offers.
    async fn replace(
        &self,
        name: &str,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<(), VaultError> {
        let current = match self.get(name).await {
            Ok(secret) => secret.value(key).ok(),
            Err(VaultError::UndefinedSecret(_)) => None,
            Err(e) => return Err(e),
        };
        if current.as_deref().map(String::as_str) != expected {
            return Err(VaultError::Conflict(name.to_owned()));
        }
        self.set(name, key, new).await
    }

    /// The names of all secrets.
    async fn list(&self) -> Result<Vec<String>, VaultError>;

    /// Fails when the store cannot be read at all (a named file that is
    /// missing or unreadable), so a server reports it at start-up rather
    /// than as an undefined secret at the first lookup.
    async fn check(&self) -> Result<(), VaultError> {
        Ok(())
    }

    /// Whether `set` and `replace` always fail (`env:`): a profile whose
    /// provider rotates refresh tokens cannot keep one here.
    fn is_read_only(&self) -> bool {
        false
    }

    /// Where this store keeps secrets, for logs and `--help` (no values).
    fn describe(&self) -> String;

    /// A Vault/OpenBao backend's server and login, for services of that
    /// server (the `openbao-totp` MFA provider); `None` for other stores.
    fn vault_session(&self) -> Option<kv2::VaultSession> {
        None
    }
}

/// Opens the store a spec names. With no spec: `RPA_SECRET_FILE` if set,
/// else `secrets.json` in the user's data directory (created on first
/// write). A file the user named (`file:PATH`, `RPA_SECRET_FILE`) must
/// exist to be read; only the default file may be missing.
pub fn open(spec: Option<&str>) -> Result<Arc<dyn SecretStore>, VaultError> {
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    match spec {
        None => Ok(Arc::new(default_file()?)),
        Some(s) if s == "env:" || s == "env" => Ok(Arc::new(EnvStore::new())),
        Some(s) if s.starts_with("file:") => {
            let path = &s["file:".len()..];
            if path.is_empty() {
                Ok(Arc::new(default_file()?))
            } else {
                Ok(Arc::new(FileStore::named(PathBuf::from(path))))
            }
        }
        Some(s) if s.starts_with("vault+") => Ok(Arc::new(Kv2Store::open(s)?)),
        Some(s) if s == "keyring:" || s == "keyring" => {
            Ok(Arc::new(KeyringStore::new(keyring::DEFAULT_SERVICE)?))
        }
        Some(s) if s.starts_with("keyring:") => {
            Ok(Arc::new(KeyringStore::new(&s["keyring:".len()..])?))
        }
        Some("robocorp:" | "robocorp") => Ok(Arc::new(RobocorpStore::from_env()?)),
        Some(other) => Err(VaultError::UnknownSpec(other.to_owned())),
    }
}

/// Robocorp's `RPA_SECRET_FILE`, else the embedded default location.
fn default_file() -> Result<FileStore, VaultError> {
    if let Some(path) = std::env::var_os("RPA_SECRET_FILE").filter(|p| !p.is_empty()) {
        return Ok(FileStore::named(PathBuf::from(path)));
    }
    dirs::data_dir()
        .map(|d| FileStore::new(d.join("rpa-mfa").join("secrets.json")))
        .ok_or_else(|| VaultError::Backend("no user data directory; pass --vault file:PATH".into()))
}
