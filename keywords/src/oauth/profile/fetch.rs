//! One token request for a profile: its credentials read from the vault,
//! its client authenticated as configured, then the cheapest grant that
//! works — a refresh when a refresh token is at hand, else the profile's
//! grant. A rotated refresh token goes back to its vault.

use serde_json::Value as Json;
use url::Url;
use zeroize::Zeroizing;

use super::assertion::client_assertion;
use super::config::{Profile, ProfileAuth, ProfileGrant};
use super::flight::{Cached, PendingDevice};
use crate::library::{Call, KeywordError, Output};
use crate::oauth::client::{request_token, Client, Grant};
use crate::oauth::device::{device_authorization, DeviceAnswer};
use crate::oauth::error::protocol_error;
use crate::oauth::http::ClientAuth;
use crate::oauth::token::Token;
use crate::oauth::{parse_url, OAuth};
use crate::vault::{SecretRef, VaultError, Vaults};
use crate::Services;

impl OAuth {
    /// A profile's endpoint: configured, else from the issuer's discovery.
    pub(super) async fn profile_endpoint(
        &self,
        configured: Option<&str>,
        issuer: Option<&str>,
        field: &str,
    ) -> Result<Url, KeywordError> {
        let url = match (configured, issuer) {
            (Some(url), _) => parse_url(field, url)?,
            (None, Some(issuer)) => {
                let doc = self.provider(issuer).await?;
                let url = doc.get(field).and_then(Json::as_str).ok_or_else(|| {
                    protocol_error(format!(
                        "The discovery document of '{issuer}' has no {field}."
                    ))
                })?;
                parse_url(field, url)?
            }
            (None, None) => {
                return Err(KeywordError::value_error(format!(
                    "The profile names neither {field} nor an issuer."
                )))
            }
        };
        self.require_secure(&url)?;
        Ok(url)
    }
}

async fn secret(vaults: &Vaults, reference: &SecretRef) -> Result<Zeroizing<String>, KeywordError> {
    Ok(vaults.value(reference).await?)
}

/// The client's proof, with what it borrows kept alive by the caller.
struct Proof {
    auth: ProfileAuthValue,
}

enum ProfileAuthValue {
    None,
    Basic(Zeroizing<String>),
    Post(Zeroizing<String>),
    Assertion(Zeroizing<String>),
}

impl Proof {
    async fn new(
        services: &Services,
        profile: &Profile,
        audience: &Url,
    ) -> Result<Proof, KeywordError> {
        let vaults = services.vaults();
        let auth = match &profile.auth {
            ProfileAuth::None => ProfileAuthValue::None,
            ProfileAuth::Basic(r) => ProfileAuthValue::Basic(secret(vaults, r).await?),
            ProfileAuth::Post(r) => ProfileAuthValue::Post(secret(vaults, r).await?),
            ProfileAuth::PrivateKeyJwt { key, key_id, alg } => {
                let pem = secret(vaults, key).await?;
                ProfileAuthValue::Assertion(Zeroizing::new(client_assertion(
                    &pem,
                    *alg,
                    key_id.as_deref(),
                    &profile.client_id,
                    audience.as_str(),
                    services.clock.now(),
                )?))
            }
        };
        Ok(Proof { auth })
    }

    fn client_auth<'a>(&'a self, id: &'a str) -> ClientAuth<'a> {
        match &self.auth {
            ProfileAuthValue::None => ClientAuth::IdOnly { id },
            ProfileAuthValue::Basic(secret) => ClientAuth::Basic { id, secret },
            ProfileAuthValue::Post(secret) => ClientAuth::Body { id, secret },
            ProfileAuthValue::Assertion(assertion) => ClientAuth::Assertion { id, assertion },
        }
    }
}

/// `audience` and `resource`, as the profile sets them.
fn extra(profile: &Profile) -> Vec<(String, String)> {
    let mut extra = Vec::new();
    if let Some(audience) = &profile.audience {
        extra.push(("audience".into(), audience.clone()));
    }
    if let Some(resource) = &profile.resource {
        extra.push(("resource".into(), resource.clone()));
    }
    extra
}

/// A token for `profile`, `previous` being what the store holds (an
/// expired or invalidated token, maybe with a refresh token, or a device
/// login waiting for approval).
pub(super) async fn fetch(
    call: &Call,
    profile: &Profile,
    previous: Option<&Cached>,
) -> Result<Cached, KeywordError> {
    let services = &call.services;
    let oauth = &services.oauth;
    let token_url = oauth
        .profile_endpoint(
            profile.token_url.as_deref(),
            profile.issuer.as_deref(),
            "token_endpoint",
        )
        .await?;
    let request = |grant| request(call, profile, &token_url, grant);
    let cached_refresh =
        previous.and_then(|c| c.token.as_ref()?.refresh_token().map(str::to_owned));
    let vaults = services.vaults();
    match &profile.grant {
        ProfileGrant::ClientCredentials => {
            Ok(Cached::new(request(Grant::ClientCredentials).await?))
        }
        ProfileGrant::Password { username, password } => {
            if let Some(refresh) = &cached_refresh {
                match request(Grant::RefreshToken {
                    refresh_token: refresh,
                })
                .await
                {
                    Ok(token) => return Ok(Cached::new(token)),
                    Err(e) if e.name == "InvalidGrantError" => {}
                    Err(e) => return Err(e),
                }
            }
            let username = secret(vaults, username).await?;
            let password = secret(vaults, password).await?;
            let grant = Grant::Password {
                username: &username,
                password: &password,
            };
            Ok(Cached::new(request(grant).await?))
        }
        ProfileGrant::RefreshToken(home) => {
            let stored = secret(vaults, home).await?;
            // The newest one known first: a rotated token this store kept,
            // then the vault's (an operator may have put a new one there).
            let mut tries: Vec<Zeroizing<String>> = Vec::new();
            if let Some(cached) = cached_refresh {
                tries.push(Zeroizing::new(cached));
            }
            if tries.first().is_none_or(|t| **t != *stored) {
                tries.push(stored.clone());
            }
            let mut last = None;
            for used in &tries {
                match request(Grant::RefreshToken {
                    refresh_token: used,
                })
                .await
                {
                    Ok(token) => {
                        write_back(vaults, profile, home, &stored, &token, &call.output).await;
                        return Ok(Cached::new(token));
                    }
                    Err(e) if e.name == "InvalidGrantError" => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(last.expect("at least the vault's refresh token was tried"))
        }
        ProfileGrant::DeviceCode => {
            if let Some(refresh) = &cached_refresh {
                return Ok(Cached::new(
                    request(Grant::RefreshToken {
                        refresh_token: refresh,
                    })
                    .await?,
                ));
            }
            let Some(device) = previous.and_then(|c| c.device.as_ref()) else {
                return Err(no_device_login(profile));
            };
            if services.clock.now() >= device.expires_at {
                return Err(KeywordError::new(
                    "ExpiredTokenError",
                    format!(
                        "(expired_token) The device login of profile '{}' expired before it was approved; \
run `Start OAuth Device Login    profile={}` again.",
                        profile.name, profile.name
                    ),
                ));
            }
            match request(Grant::DeviceCode {
                device_code: &device.device_code,
            })
            .await
            {
                Ok(token) => Ok(Cached::new(token)),
                Err(e) if matches!(e.name, "AuthorizationPendingError" | "SlowDownError") => {
                    Err(pending(profile, device))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// One token request with a fresh client proof: providers refuse an
/// assertion whose `jti` they saw before.
async fn request(
    call: &Call,
    profile: &Profile,
    token_url: &Url,
    grant: Grant<'_>,
) -> Result<Token, KeywordError> {
    let services = &call.services;
    let proof = Proof::new(services, profile, token_url).await?;
    let client = Client {
        token_url,
        auth: proof.client_auth(&profile.client_id),
    };
    let now = services.clock.now();
    let extra = extra(profile);
    request_token(
        &services.oauth,
        &client,
        grant,
        profile.scope.as_deref(),
        extra,
        now,
    )
    .await
}

fn no_device_login(profile: &Profile) -> KeywordError {
    KeywordError::new(
        "OAuth2NotSetError",
        format!(
            "Profile '{}' has no valid grant: a person must log in once. Run `Start OAuth Device Login    \
profile={}` and open the verification URL it gives.",
            profile.name, profile.name
        ),
    )
}

/// `Get Access Token` never waits for a person: it says where to go.
fn pending(profile: &Profile, device: &PendingDevice) -> KeywordError {
    KeywordError::new(
        "AuthorizationPendingError",
        format!(
            "(authorization_pending) The device login of profile '{}' is not approved yet: open {} and enter the code {}.",
            profile.name, device.verification_uri, device.user_code
        ),
    )
}

/// Writes a rotated refresh token back where it came from, only if the
/// vault still holds the one this run started from (check-and-set), so a
/// newer one written meanwhile is never overwritten. A failure is a
/// warning: the token in hand is still good.
async fn write_back(
    vaults: &Vaults,
    profile: &Profile,
    home: &SecretRef,
    stored: &str,
    token: &Token,
    output: &Output,
) {
    let Some(new) = token.refresh_token().filter(|new| *new != stored) else {
        return;
    };
    let result = match vaults.get(home.vault.as_deref()) {
        Ok(vault) => {
            vault
                .replace(&home.name, &home.key, Some(stored), new)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => output.info(&format!(
            "Profile '{}': the provider rotated the refresh token; the new one is stored in {home}.",
            profile.name
        )),
        Err(VaultError::Conflict(_)) => output.warn(&format!(
            "Profile '{}': {home} changed while the refresh token was rotated; the vault's value was kept.",
            profile.name
        )),
        Err(e) => {
            tracing::warn!(profile = %profile.name, error = %e, "refresh token write-back");
            output.warn(&format!(
                "Profile '{}': the rotated refresh token could not be written to {home}: {e}",
                profile.name
            ))
        }
    }
}

/// Starts a device login with the profile's client (RFC 8628 3.1).
pub(super) async fn start_device(
    call: &Call,
    profile: &Profile,
) -> Result<DeviceAnswer, KeywordError> {
    let services = &call.services;
    let oauth = &services.oauth;
    let url = oauth
        .profile_endpoint(
            profile.device_authorization_url.as_deref(),
            profile.issuer.as_deref(),
            "device_authorization_endpoint",
        )
        .await?;
    let proof = Proof::new(services, profile, &url).await?;
    let mut form = extra(profile);
    if let Some(scope) = &profile.scope {
        form.push(("scope".into(), scope.clone()));
    }
    device_authorization(oauth, &url, form, proof.client_auth(&profile.client_id)).await
}
