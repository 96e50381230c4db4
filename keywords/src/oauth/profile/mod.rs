//! Auth profiles: named OAuth clients from the config file that own their
//! tokens. `Get Access Token    profile` hands out a token valid for at
//! least the profile's expiry gap, fetching or refreshing only when
//! needed; the token is kept sealed in the state store (so a restarted
//! server or another server of the fleet reuses it), and one request is
//! made however many callers and servers ask at once ([`flight`]).
//! A rotated refresh token is written back to the vault it came from.

mod assertion;
mod config;
mod fetch;
mod flight;
pub mod keywords;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use config::{Profile, ProfileAuth, ProfileConfig, ProfileGrant, DEFAULT_EXPIRY_GAP};

use crate::access::ResourceKind;
use crate::library::{Call, KeywordError};
use crate::vault::Vaults;

/// The profiles a server is configured with, by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Profiles {
    by_name: Arc<BTreeMap<String, Arc<Profile>>>,
    memo: Arc<flight::Memo>,
}

impl Profiles {
    pub fn new(profiles: impl IntoIterator<Item = Profile>) -> Profiles {
        Profiles {
            by_name: Arc::new(
                profiles
                    .into_iter()
                    .map(|p| (p.name.clone(), Arc::new(p)))
                    .collect(),
            ),
            memo: Default::default(),
        }
    }

    /// The profiles' decoded token records.
    fn memo(&self) -> &flight::Memo {
        &self.memo
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.by_name.values()
    }

    /// The profile `name`, if the caller may use it.
    pub fn for_call(&self, call: &Call, name: &str) -> Result<Arc<Profile>, KeywordError> {
        let profile = self.by_name.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            KeywordError::value_error(if known.is_empty() {
                format!("No auth profile '{name}': the server has none (add [profiles.{name}] to its --config file).")
            } else {
                format!("No auth profile '{name}'; the server has: {}.", known.join(", "))
            })
        })?;
        call.access.check(ResourceKind::Profile, name)?;
        Ok(profile)
    }

    /// The profile `name`, for the server's own use (a mailbox's token):
    /// the caller's allow list is the mailbox's, checked already.
    fn get(&self, name: &str) -> Option<Arc<Profile>> {
        self.by_name.get(name).cloned()
    }

    /// Checks at start-up that every reference names a configured vault,
    /// and that a rotating refresh token can be written back: a profile
    /// whose refresh token lives in a read-only vault (`env:`) would use a
    /// dead token at the next run.
    pub fn check(&self, vaults: &Vaults) -> Result<(), String> {
        for profile in self.iter() {
            for (field, reference) in profile.references() {
                let vault = vaults.get(reference.vault.as_deref()).map_err(|e| {
                    format!("profile '{}': {field} '{reference}': {e}", profile.name)
                })?;
                let rotating = field == "refresh_token" && profile.rotates_refresh_token;
                if rotating && vault.is_read_only() {
                    return Err(format!(
                        "profile '{}': its provider rotates refresh tokens (rotates_refresh_token = true), \
but refresh_token '{reference}' lives in the read-only vault {}: a rotated token could not be written back \
and the next run would start from a dead one. Keep it in a writable vault (file:, OpenBao).",
                        profile.name,
                        vault.describe()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A valid access token of profile `name`, which a mailbox of the server
/// logs in with: the token never leaves the server.
pub(crate) async fn server_token(
    call: &Call,
    name: &str,
) -> Result<zeroize::Zeroizing<String>, KeywordError> {
    let profile = call
        .services
        .profiles
        .get(name)
        .ok_or_else(|| KeywordError::value_error(format!("No auth profile '{name}'.")))?;
    let token = flight::valid_token(call, &profile).await?;
    Ok(zeroize::Zeroizing::new(token.access_token().to_owned()))
}
