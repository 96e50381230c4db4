//! privacyIDEA (the open-source MFA server): codes through
//! `/validate/check`, push approval through its challenge-response flow
//! with a poll-only PUSH token. Wire facts: shared/PRIVACYIDEA.md.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Answer, Context, MfaError, MfaProvider, ProviderSettings};

/// Builds the provider from `[mfa.NAME]` and `[mfa.NAME.privacyidea]`.
pub fn build(
    settings: &ProviderSettings,
    _table: &serde_json::Value,
) -> Result<Arc<dyn MfaProvider>, String> {
    Ok(Arc::new(PrivacyIdea {
        name: settings.name.clone(),
    }))
}

struct PrivacyIdea {
    name: String,
}

#[async_trait]
impl MfaProvider for PrivacyIdea {
    fn kind(&self) -> &'static str {
        "privacyidea"
    }

    async fn push_authenticate(
        &self,
        _: &Context<'_>,
        _: &str,
        _: Duration,
    ) -> Result<Answer, MfaError> {
        Err(MfaError::Communication(format!(
            "MFA provider '{}': push is not implemented yet",
            self.name
        )))
    }

    async fn otp_authenticate(
        &self,
        _: &Context<'_>,
        _: &str,
        _: &str,
    ) -> Result<Answer, MfaError> {
        Err(MfaError::Communication(format!(
            "MFA provider '{}': OTP checks are not implemented yet",
            self.name
        )))
    }
}
