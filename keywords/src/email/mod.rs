//! Codes that arrive by e-mail: mailboxes from the config file
//! (`[mailboxes.NAME]`, [`config`]), reached over IMAP with a password
//! from a vault or an auth profile's token ([`connect`]), looked into
//! and waited on with IDLE ([`inbox`]), messages decoded and matched
//! ([`message`]) and taken once fleet-wide ([`claim`]); the keywords are
//! in [`keywords`].

mod claim;
mod config;
mod connect;
mod inbox;
pub mod keywords;
mod message;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use config::{After, Login, Mailbox, MailboxConfig, Security, DEFAULT_POLL};

use crate::access::ResourceKind;
use crate::library::{Call, KeywordError};
use crate::oauth::profile::Profiles;
use crate::vault::Vaults;

/// The mailboxes a server is configured with, by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Mailboxes {
    by_name: Arc<BTreeMap<String, Arc<Mailbox>>>,
}

impl Mailboxes {
    pub fn new(mailboxes: impl IntoIterator<Item = Mailbox>) -> Mailboxes {
        Mailboxes {
            by_name: Arc::new(
                mailboxes
                    .into_iter()
                    .map(|m| (m.name.clone(), Arc::new(m)))
                    .collect(),
            ),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Mailbox>> {
        self.by_name.values()
    }

    /// The mailbox the call's `mailbox` argument names, if the caller may
    /// use it.
    pub fn for_call(&self, call: &Call) -> Result<Arc<Mailbox>, KeywordError> {
        let name = call
            .args
            .str("mailbox")
            .ok_or_else(|| KeywordError::value_error("mailbox must not be empty."))?;
        let mailbox = self.by_name.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            KeywordError::value_error(if known.is_empty() {
                format!("No mailbox '{name}': the server has none (add [mailboxes.{name}] to its --config file).")
            } else {
                format!("No mailbox '{name}'; the server has: {}.", known.join(", "))
            })
        })?;
        call.access.check(ResourceKind::Mailbox, name)?;
        Ok(mailbox)
    }

    /// Checks at start-up that every password names a configured vault
    /// and every token an auth profile.
    pub fn check(&self, vaults: &Vaults, profiles: &Profiles) -> Result<(), String> {
        for mailbox in self.iter() {
            match &mailbox.login {
                Login::Password(reference) => {
                    vaults.get(reference.vault.as_deref()).map_err(|e| {
                        format!("mailbox '{}': password '{reference}': {e}", mailbox.name)
                    })?;
                }
                Login::XOAuth2 { profile } | Login::OAuthBearer { profile } => {
                    if !profiles.iter().any(|p| p.name == *profile) {
                        return Err(format!(
                            "mailbox '{}': no auth profile '{profile}' (add [profiles.{profile}])",
                            mailbox.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
