//! What one namespace's OAuth flow remembers between keywords, like
//! requests-oauthlib's `OAuth2Session` inside RPA.MFA.

use oauth2::PkceCodeVerifier;

use super::token::Token;

/// A namespace's OAuth session. Holds secrets: it has no `Debug`.
#[derive(Default)]
pub struct Session {
    pub client_id: Option<String>,
    /// The issuer when endpoints came from discovery; checked in ID tokens.
    pub issuer: Option<String>,
    pub authorization: Option<Authorization>,
    pub token: Option<Token>,
    pub device: Option<DeviceLogin>,
    /// The TOTP time step and code last answered to an MFA challenge, so
    /// a second login in the same period waits instead of reusing the code.
    pub last_mfa_code: Option<(u64, String)>,
}

impl Session {
    /// A new flow replaces what the last one left, as a new
    /// `OAuth2Session` does in RPA.MFA; only the used-code mark stays.
    pub fn start_flow(&mut self, client_id: &str, issuer: Option<&str>) {
        *self = Session {
            client_id: Some(client_id.to_owned()),
            issuer: issuer.map(str::to_owned),
            last_mfa_code: self.last_mfa_code.take(),
            ..Session::default()
        };
    }
}

/// A started authorization-code flow (`Generate OAuth URL`).
pub struct Authorization {
    pub redirect_uri: String,
    pub state: String,
    pub pkce_verifier: Option<PkceCodeVerifier>,
    pub nonce: Option<String>,
}

/// A started device authorization (`Start OAuth Device Login`).
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
