//! Challenge-driven identity logins, the CyberArk Identity way: an
//! identity platform configured in the config file (`[identities.NAME]`,
//! docs/identity.md) logs its user in through a series of challenges
//! (password from the vault, TOTP code, push or other out-of-band
//! mechanisms polled until answered), or logs a service user in with
//! client credentials. The session token is kept sealed in the state
//! store's token cache and reused until it expires.
//!
//! [`config`] checks the settings, [`wire`] makes the HTTP calls,
//! [`challenges`] drives a user login, [`service_user`] a service
//! user's, [`refresh`] renews a session, [`session`] caches it with
//! single flight, [`keywords`] exposes it all, [`errors`] names failures.

mod challenges;
mod config;
pub mod errors;
pub mod keywords;
mod refresh;
mod service_user;
mod session;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use config::{IdentityConfig, IdentityPlatform, Login};

use crate::access::ResourceKind;
use crate::library::{Call, KeywordError};
use crate::vault::Vaults;

/// The identity platforms a server is configured with, by name.
#[derive(Clone, Default)]
pub struct Identities {
    by_name: Arc<BTreeMap<String, Arc<IdentityPlatform>>>,
}

impl Identities {
    pub fn new(platforms: impl IntoIterator<Item = IdentityPlatform>) -> Identities {
        Identities {
            by_name: Arc::new(
                platforms
                    .into_iter()
                    .map(|p| (p.name.clone(), Arc::new(p)))
                    .collect(),
            ),
        }
    }

    /// The identity `name`, if the caller may use it.
    pub fn for_call(&self, call: &Call, name: &str) -> Result<Arc<IdentityPlatform>, KeywordError> {
        let platform = self.by_name.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            KeywordError::value_error(if known.is_empty() {
                format!("No identity '{name}': the server has none (add [identities.{name}] to its --config file).")
            } else {
                format!("No identity '{name}'; the server has: {}.", known.join(", "))
            })
        })?;
        call.access.check(ResourceKind::Identity, name)?;
        Ok(platform)
    }

    /// Checks at start-up that every reference names a configured vault.
    pub fn check(&self, vaults: &Vaults) -> Result<(), String> {
        for platform in self.by_name.values() {
            for (field, reference) in platform.references() {
                vaults.get(reference.vault.as_deref()).map_err(|e| {
                    format!("identity '{}': {field} '{reference}': {e}", platform.name)
                })?;
            }
        }
        Ok(())
    }
}
