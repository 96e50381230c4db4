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

    /// Checks at start-up that every reference names a configured vault
    /// and that a `ca` file can be read.
    pub fn check(&self, vaults: &Vaults) -> Result<(), String> {
        for platform in self.by_name.values() {
            if let Some(ca) = &platform.ca {
                crate::http_clients::client(Some(ca))
                    .map_err(|e| format!("identity '{}': ca: {e}", platform.name))?;
            }
            for (field, reference) in platform.references() {
                vaults.get(reference.vault.as_deref()).map_err(|e| {
                    format!("identity '{}': {field} '{reference}': {e}", platform.name)
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_names_an_unknown_vault_and_an_unreadable_ca() {
        let vaults: Vaults =
            (Arc::new(crate::vault::EnvStore::new()) as Arc<dyn crate::vault::SecretStore>).into();
        let platform = |extra: serde_json::Value| {
            let mut json = serde_json::json!({"tenant_url": "https://t.example", "user": "u"});
            json.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let config: IdentityConfig = serde_json::from_value(json).unwrap();
            Identities::new([IdentityPlatform::from_config("corp", &config).unwrap()])
        };
        let err = platform(serde_json::json!({"password": "bao/idp:pw"}))
            .check(&vaults)
            .unwrap_err();
        assert!(
            err.starts_with("identity 'corp': password 'bao/idp:pw': "),
            "{err}"
        );
        let err = platform(serde_json::json!({"ca": "/nonexistent/ca.pem"}))
            .check(&vaults)
            .unwrap_err();
        assert!(
            err.starts_with("identity 'corp': ca: CA file '/nonexistent/ca.pem': cannot read it"),
            "{err}"
        );
        assert!(platform(serde_json::json!({"password": "idp:pw"}))
            .check(&vaults)
            .is_ok());
    }
}
