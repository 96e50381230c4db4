//! What one namespace's OAuth flow remembers between keywords, like
//! requests-oauthlib's `OAuth2Session` inside RPA.MFA: plain data, kept
//! (sealed) in the state store, so a flow started through one server can
//! finish through another.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::token::Token;
use crate::error::KeywordError;
use crate::state::{Namespace, Record, Space};

/// A namespace's OAuth session. Holds secrets: it has no `Debug`.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Session {
    pub client_id: Option<String>,
    /// The issuer when endpoints came from discovery; checked in ID tokens.
    pub issuer: Option<String>,
    pub authorization: Option<Authorization>,
    pub token: Option<Token>,
    pub device: Option<DeviceLogin>,
}

impl Session {
    /// A new flow replaces what the last one left, as a new
    /// `OAuth2Session` does in RPA.MFA.
    pub fn start_flow(&mut self, client_id: &str, issuer: Option<&str>) {
        *self = Session {
            client_id: Some(client_id.to_owned()),
            issuer: issuer.map(str::to_owned),
            ..Session::default()
        };
    }

    /// The namespace's session.
    pub async fn of(ns: &Namespace) -> Result<std::sync::Arc<Session>, KeywordError> {
        ns.read::<Session>().await
    }

    /// Changes the namespace's session with `change`, atomically in the store.
    pub async fn edit(
        ns: &Namespace,
        mut change: impl FnMut(&mut Session),
    ) -> Result<(), KeywordError> {
        ns.update(|current: &Session| {
            let mut session = current.clone();
            change(&mut session);
            Some(session)
        })
        .await
        .map(drop)
    }
}

impl Record for Session {
    const SPACE: Space = Space::Session;

    fn from_bytes(bytes: &[u8]) -> Result<Session, KeywordError> {
        if bytes.is_empty() {
            return Ok(Session::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|_| KeywordError::new("StateError", "A stored OAuth session is unreadable."))
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(self).expect("plain data serialises"))
    }
}

/// A started authorization-code flow (`Generate OAuth URL`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Authorization {
    pub redirect_uri: String,
    pub state: String,
    /// The PKCE code verifier (RFC 7636), sent with the code.
    pub pkce_verifier: Option<String>,
    pub nonce: Option<String>,
}

/// A started device authorization (`Start OAuth Device Login`).
#[derive(Clone, Serialize, Deserialize)]
pub struct DeviceLogin {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub include_client_id: bool,
    pub device_code: String,
    /// Seconds between polls; grows by 5 at each `slow_down` (RFC 8628 3.5).
    pub interval: f64,
    /// Unix seconds after which the device code is dead.
    pub expires_at: f64,
    pub last_poll: Option<f64>,
}
