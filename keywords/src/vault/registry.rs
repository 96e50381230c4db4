//! Every vault a server is configured with, by name: the default one
//! (`--vault SPEC`) and named ones (`--vault NAME=SPEC`).

use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{SecretRef, SecretStore, VaultError};
use crate::access::DEFAULT_VAULT;

/// The configured vaults. Cheap to clone.
#[derive(Clone)]
pub struct Vaults {
    default: Arc<dyn SecretStore>,
    named: BTreeMap<String, Arc<dyn SecretStore>>,
}

impl From<Arc<dyn SecretStore>> for Vaults {
    fn from(default: Arc<dyn SecretStore>) -> Vaults {
        Vaults::single(default)
    }
}

impl<S: SecretStore + 'static> From<Arc<S>> for Vaults {
    fn from(default: Arc<S>) -> Vaults {
        Vaults::single(default)
    }
}

impl Vaults {
    /// Only a default vault.
    pub fn single(default: Arc<dyn SecretStore>) -> Vaults {
        Vaults {
            default,
            named: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the vault called `name`; `default` replaces the
    /// default vault.
    pub fn with(mut self, name: &str, store: Arc<dyn SecretStore>) -> Vaults {
        if name == DEFAULT_VAULT {
            self.default = store;
        } else {
            self.named.insert(name.to_owned(), store);
        }
        self
    }

    /// The default vault.
    pub fn default_vault(&self) -> &Arc<dyn SecretStore> {
        &self.default
    }

    /// The vault called `name` (`None` or `default`: the default vault).
    pub fn get(&self, name: Option<&str>) -> Result<&Arc<dyn SecretStore>, VaultError> {
        match name {
            None | Some(DEFAULT_VAULT) => Ok(&self.default),
            Some(name) => self
                .named
                .get(name)
                .ok_or_else(|| VaultError::UnknownVault(name.to_owned())),
        }
    }

    /// Every vault's name, the default first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(DEFAULT_VAULT).chain(self.named.keys().map(String::as_str))
    }

    /// The value a reference names. Callers that act for a keyword go
    /// through [`Access::vault_value`](crate::access::Access::vault_value)
    /// instead, which checks the caller's allow list first.
    pub async fn value(&self, reference: &SecretRef) -> Result<Zeroizing<String>, VaultError> {
        self.get(reference.vault.as_deref())?
            .get_value(&reference.name, &reference.key)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::EnvStore;

    #[test]
    fn unknown_vault_is_named() {
        let vaults = Vaults::single(Arc::new(EnvStore::new()));
        assert!(vaults.get(None).is_ok());
        assert!(vaults.get(Some("default")).is_ok());
        let err = vaults.get(Some("bao")).err().unwrap();
        assert_eq!(
            err.to_string(),
            "VaultError: no vault named 'bao' is configured; add --vault bao=SPEC"
        );
        let vaults = vaults.with("bao", Arc::new(EnvStore::new()));
        assert!(vaults.get(Some("bao")).is_ok());
        assert_eq!(vaults.names().collect::<Vec<_>>(), ["default", "bao"]);
    }
}
