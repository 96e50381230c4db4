//! The providers a server is configured with, by name, and the checks a
//! keyword passes before one is used: the provider's allow list (through
//! the gate's [`Access`]) and the identities the caller may reach.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{kinds, MfaProvider, ProviderConfig, ProviderSettings};
use crate::access::{Access, ResourceKind};
use crate::vault::Vaults;
use crate::KeywordError;

/// One configured provider: its settings and the client built for it.
pub struct Provider {
    pub settings: ProviderSettings,
    pub client: Arc<dyn MfaProvider>,
}

/// The providers by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Providers {
    by_name: Arc<BTreeMap<String, Arc<Provider>>>,
}

impl Providers {
    /// Checks and builds every `[mfa.NAME]` table; the error names the
    /// provider and the field.
    pub fn from_config(configs: &BTreeMap<String, ProviderConfig>) -> Result<Providers, String> {
        let names = kinds::names();
        let mut by_name = BTreeMap::new();
        for (name, config) in configs {
            let (settings, table) = ProviderSettings::from_config(name, config, &names)?;
            let build = kinds::KINDS
                .iter()
                .find(|(kind, _)| *kind == settings.kind)
                .map(|(_, build)| build)
                .expect("from_config accepts only registered kinds");
            let client =
                build(&settings, &table).map_err(|e| format!("MFA provider '{name}': {e}"))?;
            by_name.insert(name.clone(), Arc::new(Provider { settings, client }));
        }
        Ok(Providers {
            by_name: Arc::new(by_name),
        })
    }

    /// Providers built elsewhere (tests).
    pub fn new(providers: impl IntoIterator<Item = Provider>) -> Providers {
        Providers {
            by_name: Arc::new(
                providers
                    .into_iter()
                    .map(|p| (p.settings.name.clone(), Arc::new(p)))
                    .collect(),
            ),
        }
    }

    /// Checks at start-up that every token reference names a configured
    /// vault, so a typo stops the server instead of the first call.
    pub fn check(&self, vaults: &Vaults) -> Result<(), String> {
        for provider in self.iter() {
            if let Some(token) = &provider.settings.token {
                vaults.get(token.vault.as_deref()).map_err(|e| {
                    format!(
                        "MFA provider '{}': token '{token}': {e}",
                        provider.settings.name
                    )
                })?;
            }
            provider
                .client
                .check(vaults)
                .map_err(|e| format!("MFA provider '{}': {e}", provider.settings.name))?;
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.by_name.values()
    }

    /// The provider `name` (None: the only one configured) if `access` may
    /// use it and reach `identity` through it.
    pub fn for_call(
        &self,
        access: &Access,
        name: Option<&str>,
        identity: &str,
    ) -> Result<Arc<Provider>, KeywordError> {
        let known = || self.by_name.keys().cloned().collect::<Vec<_>>().join(", ");
        let provider = match name {
            Some(name) => self.by_name.get(name).cloned().ok_or_else(|| {
                KeywordError::value_error(if self.by_name.is_empty() {
                    format!("No MFA provider '{name}': the server has none (add [mfa.{name}] to its --config file).")
                } else {
                    format!("No MFA provider '{name}'; the server has: {}.", known())
                })
            })?,
            None => match self.by_name.len() {
                1 => self.by_name.values().next().cloned().expect("one provider"),
                0 => {
                    return Err(KeywordError::value_error(
                        "The server has no MFA provider (add [mfa.NAME] to its --config file).",
                    ))
                }
                _ => {
                    return Err(KeywordError::value_error(format!(
                        "Name the MFA provider with provider=; the server has: {}.",
                        known()
                    )))
                }
            },
        };
        let name = provider.settings.name.as_str();
        access.check(ResourceKind::MfaProvider, name)?;
        if let Some(identities) = &provider.settings.identities {
            if !may_reach(access, identities, identity) {
                return Err(KeywordError::new(
                    "PermissionError",
                    format!(
                        "User '{}' may not reach identity '{identity}' through MFA provider '{name}'.",
                        access.user().unwrap_or("(anonymous)")
                    ),
                ));
            }
        }
        Ok(provider)
    }
}

/// Whether a user or namespace the caller is known by lists `identity`.
/// An anonymous caller (authentication off) is listed nowhere.
fn may_reach(access: &Access, identities: &BTreeMap<String, Vec<String>>, identity: &str) -> bool {
    let Some(caller) = access.identity() else {
        return false;
    };
    identities
        .iter()
        .filter(|(who, _)| caller.is_named_by(who))
        .any(|(_, reachable)| reachable.iter().any(|i| i == identity))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::access::{Identity, Policy};
    use crate::state::Namespaces;

    fn providers() -> Providers {
        let config: BTreeMap<String, ProviderConfig> = serde_json::from_str(
            r#"{"pi": {"kind": "privacyidea", "url": "http://127.0.0.1:1",
                       "allow": ["alice", "teamA"],
                       "identities": {"alice": ["alice", "PIPU1"], "teamA": ["bot"]}},
                "open": {"kind": "privacyidea", "url": "http://127.0.0.1:1"}}"#,
        )
        .unwrap();
        Providers::from_config(&config).unwrap()
    }

    async fn access(user: &str, pinned: Option<&str>) -> Access {
        let policy = Arc::new(Policy::default().allow(
            ResourceKind::MfaProvider,
            "pi",
            vec!["alice".into(), "teamA".into()],
        ));
        let identity = Identity {
            user: user.into(),
            pinned: pinned.map(Into::into),
        };
        let ns = pinned.unwrap_or("").to_owned();
        Access::open(&Namespaces::in_memory(), &policy, Some(&identity), &ns)
            .await
            .unwrap()
    }

    fn refusal(result: Result<Arc<Provider>, KeywordError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_caller_reaches_only_the_identities_listed_for_them() {
        let providers = providers();
        let alice = access("Alice", None).await;
        assert!(providers.for_call(&alice, Some("pi"), "PIPU1").is_ok());
        assert_eq!(
            refusal(providers.for_call(&alice, Some("pi"), "bot")),
            "PermissionError: User 'Alice' may not reach identity 'bot' through MFA provider 'pi'."
        );
        let bot = access("bot7", Some("teamA")).await;
        assert!(providers.for_call(&bot, Some("pi"), "bot").is_ok());
        assert!(providers.for_call(&bot, Some("pi"), "alice").is_err());
    }

    #[tokio::test]
    async fn a_provider_outside_the_allow_list_is_refused() {
        let providers = providers();
        let dash = access("dash", None).await;
        assert_eq!(
            refusal(providers.for_call(&dash, Some("pi"), "alice")),
            "PermissionError: User 'dash' may not use MFA provider 'pi'."
        );
        assert!(providers.for_call(&dash, Some("open"), "anyone").is_ok());
        let bot = access("bot7", Some("teamA")).await;
        assert!(
            providers.for_call(&bot, Some("open"), "bot").is_err(),
            "no list: pinned users may not"
        );
    }

    #[tokio::test]
    async fn the_provider_may_be_left_out_only_when_there_is_one() {
        let alice = access("alice", None).await;
        assert!(
            refusal(providers().for_call(&alice, None, "alice")).starts_with(
                "ValueError: Name the MFA provider with provider=; the server has: open, pi."
            )
        );
        assert_eq!(
            refusal(providers().for_call(&alice, Some("duo"), "alice")),
            "ValueError: No MFA provider 'duo'; the server has: open, pi."
        );
        let none = Providers::default();
        assert!(refusal(none.for_call(&alice, None, "alice")).contains("has no MFA provider"));
    }
}
