//! Secrets from environment variables, read-only:
//! `RPA_MFA_SECRET_<NAME>_<KEY>`, with NAME and KEY upper-cased and every
//! character that is not a letter or digit turned into `_`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{Secret, SecretStore, VaultError};

const PREFIX: &str = "RPA_MFA_SECRET_";

#[derive(Default)]
pub struct EnvStore;

impl EnvStore {
    pub fn new() -> EnvStore {
        EnvStore
    }
}

/// The variable-name form of a secret or key name.
pub fn env_name(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[async_trait]
impl SecretStore for EnvStore {
    async fn get(&self, name: &str) -> Result<Secret, VaultError> {
        let prefix = format!("{PREFIX}{}_", env_name(name));
        let values: BTreeMap<String, Zeroizing<String>> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let key = k.to_str()?.strip_prefix(&prefix)?.to_owned();
                Some((key, Zeroizing::new(v.into_string().ok()?)))
            })
            .collect();
        if values.is_empty() {
            return Err(VaultError::UndefinedSecret(name.to_owned()));
        }
        Ok(Secret::new(values))
    }

    /// Looks the key up by its variable name, so `otpsecret` finds
    /// `RPA_MFA_SECRET_MFA_OTPSECRET`.
    async fn get_value(&self, name: &str, key: &str) -> Result<Zeroizing<String>, VaultError> {
        let secret = self.get(name).await?;
        secret
            .value(&env_name(key))
            .map_err(|_| VaultError::MissingKey(key.to_owned()))
    }

    async fn set(&self, _: &str, _: &str, _: &str) -> Result<(), VaultError> {
        Err(VaultError::ReadOnly("env:"))
    }

    async fn list(&self) -> Result<Vec<String>, VaultError> {
        // Names cannot be split from keys unambiguously; list NAME_KEY pairs.
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| Some(k.to_str()?.strip_prefix(PREFIX)?.to_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("env: ({PREFIX}<NAME>_<KEY>)")
    }
}
