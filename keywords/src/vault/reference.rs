//! The one way a setting or a keyword names a value in a vault.
//!
//! `NAME:KEY` is key `KEY` of secret `NAME` in the default vault;
//! `VAULT/NAME:KEY` is the same in the vault configured as `VAULT`
//! (`--vault VAULT=SPEC`). The text before the first `/` is always the
//! vault, so a nested path in the default vault is written with the
//! default vault's own name: `default/team/mfa:otpsecret`. The key is the
//! text after the last `:`, so secret names may contain `:` but keys not.

use std::fmt;
use std::str::FromStr;

use crate::access::DEFAULT_VAULT;

/// A reference to one value in one vault: `[VAULT/]NAME:KEY`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    /// The vault's configured name; `None` is the default vault.
    pub vault: Option<String>,
    /// The secret (a path in KV v2, an entry in the keyring...).
    pub name: String,
    /// The key within the secret.
    pub key: String,
}

impl SecretRef {
    /// The vault's name as the policy and the registry know it.
    pub fn vault_name(&self) -> &str {
        self.vault.as_deref().unwrap_or(DEFAULT_VAULT)
    }
}

/// Why a reference could not be read. Names what was wrong, never a value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a secret reference NAME:KEY or VAULT/NAME:KEY (e.g. mfa:otpsecret), not '{0}'")]
pub struct BadSecretRef(pub String);

/// Splits `[VAULT/]NAME` (a whole secret, as `--users-secret` names one)
/// the way references are split: the text before the first `/` is the
/// vault, and `default` is the default vault.
pub fn split_vault(path: &str) -> (Option<&str>, &str) {
    match path.split_once('/') {
        Some((DEFAULT_VAULT, name)) => (None, name),
        Some((vault, name)) => (Some(vault), name),
        None => (None, path),
    }
}

impl FromStr for SecretRef {
    type Err = BadSecretRef;

    fn from_str(text: &str) -> Result<SecretRef, BadSecretRef> {
        let bad = || BadSecretRef(text.to_owned());
        let (path, key) = text.trim().rsplit_once(':').ok_or_else(bad)?;
        let (vault, name) = match path.split_once('/') {
            Some((vault, name)) => (Some(vault), name),
            None => (None, path),
        };
        if key.is_empty() || name.is_empty() || vault.is_some_and(str::is_empty) {
            return Err(bad());
        }
        Ok(SecretRef {
            vault: vault.filter(|v| *v != DEFAULT_VAULT).map(str::to_owned),
            name: name.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vault {
            Some(vault) => write!(f, "{vault}/{}:{}", self.name, self.key),
            None if self.name.contains('/') => {
                write!(f, "{DEFAULT_VAULT}/{}:{}", self.name, self.key)
            }
            None => write!(f, "{}:{}", self.name, self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(vault: Option<&str>, name: &str, key: &str) -> SecretRef {
        SecretRef {
            vault: vault.map(Into::into),
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn default_and_named_vaults() {
        assert_eq!("mfa:otpsecret".parse(), Ok(r(None, "mfa", "otpsecret")));
        assert_eq!("bao/mfa:otp".parse(), Ok(r(Some("bao"), "mfa", "otp")));
        assert_eq!(
            "bao/team/mfa:otp".parse(),
            Ok(r(Some("bao"), "team/mfa", "otp"))
        );
        assert_eq!(
            "default/team/mfa:otp".parse(),
            Ok(r(None, "team/mfa", "otp")),
            "the default vault by its name"
        );
        assert_eq!(
            "a:b:c".parse(),
            Ok(r(None, "a:b", "c")),
            "key after the last ':'"
        );
    }

    #[test]
    fn malformed_references_name_the_text() {
        for bad in ["mfa", "mfa:", ":key", "/mfa:key", "bao/:key", ""] {
            let err = bad.parse::<SecretRef>().unwrap_err();
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["mfa:otpsecret", "bao/team/mfa:otp", "default/team/mfa:otp"] {
            let parsed: SecretRef = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.to_string().parse::<SecretRef>().unwrap(), parsed);
        }
    }
}
