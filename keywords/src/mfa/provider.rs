//! The one trait every MFA service speaks through, and what a provider
//! gets to do its work: the vaults (for its service token) and waits that
//! end with the call's deadline or the server's stop.

use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::MfaError;
use crate::stopping::Stopping;
use crate::value::Value;
use crate::vault::{SecretRef, Vaults};

/// What the service said, as the keyword returns it: a few named fields
/// (`result`, `message`, `serial`, `transaction_id`...), never a code or
/// a token.
pub type Answer = Vec<(&'static str, Value)>;

/// An MFA service: it checks a code a person typed, or pushes a request to
/// their phone and waits for the answer. Identities are the service's own
/// user names or token serials; a provider never sees who the caller is
/// (the keyword checked that already).
#[async_trait]
pub trait MfaProvider: Send + Sync {
    /// The `kind` it is configured as (`privacyidea`, `openbao-totp`,
    /// `rest`).
    fn kind(&self) -> &'static str;

    /// Checks at start-up what the provider needs from the server's other
    /// settings (a vault it borrows a login from), so a typo stops the
    /// server instead of failing the first call. Errors name the field.
    fn check(&self, _vaults: &Vaults) -> Result<(), String> {
        Ok(())
    }

    /// Asks the service to push an approval request to `identity` and
    /// waits at most `wait` for the answer: Ok when approved,
    /// `AuthenticationFailure` when declined or left unanswered.
    async fn push_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        wait: Duration,
    ) -> Result<Answer, MfaError>;

    /// Asks the service whether `otp` is `identity`'s valid (and unused)
    /// code: Ok when accepted, `AuthenticationFailure` when refused.
    async fn otp_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        otp: &str,
    ) -> Result<Answer, MfaError>;
}

/// What a provider may use while it works for one call.
pub struct Context<'a> {
    pub vaults: &'a Vaults,
    pub stopping: &'a Stopping,
    /// When every wait of the call ends at the latest.
    pub deadline: tokio::time::Instant,
}

impl Context<'_> {
    /// A value from a vault (a service token, a password); a failure is
    /// the vault's error, not the service's.
    pub async fn secret(&self, reference: &SecretRef) -> Result<Zeroizing<String>, MfaError> {
        self.vaults
            .value(reference)
            .await
            .map_err(|e| MfaError::Other(e.into()))
    }

    /// Waits `pause` between polls; fails when the server stops or the
    /// call reaches its deadline meanwhile.
    pub async fn pause(&self, pause: Duration) -> Result<(), MfaError> {
        self.bounded(tokio::time::sleep(pause)).await
    }

    /// Runs `work` (a request) until it ends, the server stops or the
    /// call's deadline passes.
    pub async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, MfaError> {
        Ok(crate::stopping::bounded(self.stopping, self.deadline, work).await?)
    }
}
