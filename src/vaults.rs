//! Opens the configured vaults ([`VaultConfig`]) into the [`Vaults`]
//! registry the server and the command-line tools read through.
//!
//! A spec that cannot be used (unknown, malformed, no credentials) or a
//! named secrets file that is missing stops the start-up: those are typos.
//! A vault that cannot serve *now* (unreachable, sealed, refusing the
//! token) only warns: the server starts, keywords needing that vault fail
//! with its error, and work again once the vault is back.

use rpa_mfa_keywords::vault::{self, VaultError, Vaults};

use crate::config::VaultConfig;

/// Opens and checks every vault, the default first.
pub async fn open(configs: &[VaultConfig]) -> Result<Vaults, String> {
    let mut vaults: Option<Vaults> = None;
    for config in configs {
        let flag = match &config.spec {
            Some(spec) if config.name != rpa_mfa_keywords::access::DEFAULT_VAULT => {
                format!("--vault {}={spec}", config.name)
            }
            _ => "--vault".to_owned(),
        };
        let store = vault::open(config.spec.as_deref()).map_err(|e| format!("{flag}: {e}"))?;
        match store.check().await {
            Ok(()) => {}
            Err(VaultError::Unavailable(why)) => tracing::warn!(
                vault = config.name,
                "vault not usable now, keywords needing it fail until it is: {why}"
            ),
            Err(e) => return Err(format!("{flag}: {e}")),
        }
        tracing::info!(vault = config.name, spec = store.describe(), "secrets");
        vaults = Some(match vaults {
            // The default vault comes first (`config::vault_configs`).
            None => Vaults::single(store),
            Some(v) => v.with(&config.name, store),
        });
    }
    vaults.ok_or_else(|| "no vault configured".to_owned())
}

/// The vaults `--vault [NAME=]SPEC` flags name, opened without a check,
/// for the command-line tools (they report a vault's error at its use);
/// whether the default vault was named.
pub fn open_unchecked(specs: &[String]) -> Result<(Vaults, bool), String> {
    let mut default_spec = None;
    let mut named = Vec::new();
    for spec in specs {
        let (name, spec) = crate::config::parse_vault(spec).map_err(|e| format!("--vault: {e}"))?;
        if name == rpa_mfa_keywords::access::DEFAULT_VAULT {
            default_spec = Some(spec);
        } else {
            named.push((name, spec));
        }
    }
    let mut vaults =
        Vaults::single(vault::open(default_spec.as_deref()).map_err(|e| e.to_string())?);
    for (name, spec) in named {
        let store = vault::open(Some(&spec)).map_err(|e| format!("--vault {name}=...: {e}"))?;
        vaults = vaults.with(&name, store);
    }
    Ok((vaults, default_spec.is_some()))
}
