//! A KV v2 vault's server and login, lent to a service of the same server
//! (OpenBao's TOTP engine), so the service authenticates exactly as the
//! vault backend does: the same token or AppRole login (renewed by the
//! same task), the same CA and namespace, and no second token to keep.

use std::sync::Arc;

use url::Url;

use super::api::Api;
use super::login::{Credentials, Token};
use crate::vault::VaultError;

/// The server and login of one `vault+http(s)://` vault. Cheap to clone.
#[derive(Clone)]
pub struct VaultSession {
    pub(super) api: Api,
    pub(super) credentials: Arc<Credentials>,
}

impl VaultSession {
    /// `BASE/v1/` + the segments, each percent-encoded on its own.
    pub fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        self.api.url(segments)
    }

    /// The shared client trusting the vault's CA.
    pub fn client(&self) -> &reqwest::Client {
        &self.api.client
    }

    /// The `X-Vault-Namespace` to send, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.api.namespace.as_deref()
    }

    /// The vault as errors show it (never with a token).
    pub fn shown(&self) -> &str {
        &self.api.shown
    }

    /// The token to send, logging in first when there is none.
    pub async fn token(&self) -> Result<Token, VaultError> {
        self.credentials.token().await
    }

    /// Whether a refused token can be replaced by logging in again (then
    /// [`forget`](Self::forget) it and ask for [`token`](Self::token)).
    pub fn can_log_in(&self) -> bool {
        self.credentials.can_log_in()
    }

    /// Drops `used` if it is still the current token.
    pub fn forget(&self, used: &Token) {
        self.credentials.forget(used)
    }
}
