//! An auth profile as the config file writes it (`[profiles.NAME]`), and
//! checked: the grant, the client's authentication, where tokens come
//! from, and vault references for every credential. A profile holds no
//! secret itself, only where to read each one.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::vault::SecretRef;

/// A profile's `expiry_gap` when it gives none: a token handed out is
/// valid for at least this long.
pub const DEFAULT_EXPIRY_GAP: Duration = Duration::from_secs(60);

/// The largest `expiry_gap`: a day.
const MAX_EXPIRY_GAP: u64 = 86_400;

/// `[profiles.NAME]` as written. Unknown keys are errors, so typos show.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// `client_credentials`, `refresh_token`, `password` or `device_code`.
    pub grant: Option<String>,
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt`;
    /// default: private_key_jwt with a `private_key`, Basic with a
    /// `client_secret`, else none (a public client).
    pub client_auth: Option<String>,
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub device_authorization_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub private_key: Option<String>,
    /// The `kid` put in the assertion's header.
    pub key_id: Option<String>,
    /// `RS256` or `ES256`; default: as the key is RSA or EC.
    pub signing_alg: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    pub api_key: Option<String>,
    /// Seconds a handed-out token stays valid at least (default 60).
    pub expiry_gap: Option<u64>,
    #[serde(default)]
    pub allow: Vec<String>,
    /// The provider hands out a new refresh token at every refresh.
    #[serde(default)]
    pub rotates_refresh_token: bool,
}

/// What a profile trades for its tokens.
#[derive(Clone, Debug, PartialEq)]
pub enum ProfileGrant {
    ClientCredentials,
    /// The refresh token's home: rotated ones are written back there.
    RefreshToken(SecretRef),
    Password {
        username: SecretRef,
        password: SecretRef,
    },
    /// One interactive login (`Start OAuth Device Login    profile=`),
    /// then refreshes.
    DeviceCode,
}

impl ProfileGrant {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProfileGrant::ClientCredentials => "client_credentials",
            ProfileGrant::RefreshToken(_) => "refresh_token",
            ProfileGrant::Password { .. } => "password",
            ProfileGrant::DeviceCode => "device_code",
        }
    }
}

/// How the client proves who it is at the token endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum ProfileAuth {
    /// A public client: its id only.
    None,
    Basic(SecretRef),
    Post(SecretRef),
    /// RFC 7523 2.2: a JWT signed with a PEM key from the vault.
    PrivateKeyJwt {
        key: SecretRef,
        key_id: Option<String>,
        alg: Option<Algorithm>,
    },
}

/// A checked profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub grant: ProfileGrant,
    pub auth: ProfileAuth,
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub device_authorization_url: Option<String>,
    pub client_id: String,
    /// `scopes` space-separated, None when there are none.
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    pub api_key: Option<SecretRef>,
    pub expiry_gap: Duration,
    pub allow: Vec<String>,
    pub rotates_refresh_token: bool,
}

impl Profile {
    /// Checks `config`; the error names the profile and what is wrong.
    pub fn from_config(name: &str, config: &ProfileConfig) -> Result<Profile, String> {
        let fail = |why: String| format!("profile '{name}': {why}");
        let reference =
            |field: &str, value: &Option<String>| -> Result<Option<SecretRef>, String> {
                value
                    .as_deref()
                    .map(|v| {
                        v.parse::<SecretRef>()
                            .map_err(|e| fail(format!("{field}: {e}")))
                    })
                    .transpose()
            };
        let needed = |field: &str, value: Option<SecretRef>, grant: &str| {
            value.ok_or_else(|| {
                fail(format!(
                    "grant {grant} needs {field} (a vault reference NAME:KEY)"
                ))
            })
        };
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(fail("the name must be printable text".into()));
        }
        let grant_name = config.grant.as_deref().ok_or_else(|| {
            fail(
                "grant is missing; use client_credentials, refresh_token, password or device_code"
                    .into(),
            )
        })?;
        let grant = match grant_name {
            "client_credentials" => ProfileGrant::ClientCredentials,
            "refresh_token" => ProfileGrant::RefreshToken(needed(
                "refresh_token",
                reference("refresh_token", &config.refresh_token)?,
                grant_name,
            )?),
            "password" => ProfileGrant::Password {
                username: needed(
                    "username",
                    reference("username", &config.username)?,
                    grant_name,
                )?,
                password: needed(
                    "password",
                    reference("password", &config.password)?,
                    grant_name,
                )?,
            },
            "device_code" => ProfileGrant::DeviceCode,
            other => {
                return Err(fail(format!(
                    "unknown grant '{other}'; use client_credentials, refresh_token, password or device_code"
                )))
            }
        };
        let client_id = config
            .client_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| fail("client_id is missing".into()))?;
        let secret = reference("client_secret", &config.client_secret)?;
        let key = reference("private_key", &config.private_key)?;
        let method = config
            .client_auth
            .as_deref()
            .unwrap_or(match (&key, &secret) {
                (Some(_), _) => "private_key_jwt",
                (None, Some(_)) => "client_secret_basic",
                (None, None) => "none",
            });
        let alg = match config.signing_alg.as_deref() {
            None => None,
            Some("RS256") => Some(Algorithm::RS256),
            Some("ES256") => Some(Algorithm::ES256),
            Some(other) => {
                return Err(fail(format!(
                    "signing_alg '{other}' is not supported; use RS256 or ES256"
                )))
            }
        };
        let needs = |field: &str, value: Option<SecretRef>| {
            value.ok_or_else(|| {
                fail(format!(
                    "client_auth {method} needs {field} (a vault reference NAME:KEY)"
                ))
            })
        };
        let auth = match method {
            "client_secret_basic" => ProfileAuth::Basic(needs("client_secret", secret)?),
            "client_secret_post" => ProfileAuth::Post(needs("client_secret", secret)?),
            "private_key_jwt" => ProfileAuth::PrivateKeyJwt {
                key: needs("private_key", key)?,
                key_id: config.key_id.clone(),
                alg,
            },
            "none" => ProfileAuth::None,
            other => {
                return Err(fail(format!(
                    "unknown client_auth '{other}'; use client_secret_basic, client_secret_post, private_key_jwt or none"
                )))
            }
        };
        let url = |field: &str, value: &Option<String>| -> Result<Option<String>, String> {
            value
                .as_deref()
                .map(|v| {
                    url::Url::parse(v)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                        .map(|_| v.trim_end_matches('/').to_owned())
                        .ok_or_else(|| fail(format!("{field} is not an http(s) URL: '{v}'")))
                })
                .transpose()
        };
        let issuer = url("issuer", &config.issuer)?;
        let token_url = url("token_url", &config.token_url)?;
        if issuer.is_none() && token_url.is_none() {
            return Err(fail("give issuer (discovery) or token_url".into()));
        }
        let gap = config.expiry_gap.unwrap_or(DEFAULT_EXPIRY_GAP.as_secs());
        if gap > MAX_EXPIRY_GAP {
            return Err(fail(format!(
                "expiry_gap must be 0 to {MAX_EXPIRY_GAP} seconds, got {gap}"
            )));
        }
        let scope = config.scopes.join(" ");
        Ok(Profile {
            name: name.to_owned(),
            grant,
            auth,
            issuer,
            token_url,
            device_authorization_url: url(
                "device_authorization_url",
                &config.device_authorization_url,
            )?,
            client_id,
            scope: (!scope.is_empty()).then_some(scope),
            audience: config.audience.clone(),
            resource: config.resource.clone(),
            api_key: reference("api_key", &config.api_key)?,
            expiry_gap: Duration::from_secs(gap),
            allow: config.allow.clone(),
            rotates_refresh_token: config.rotates_refresh_token,
        })
    }

    /// Every vault reference the profile reads, with the field naming it.
    pub fn references(&self) -> Vec<(&'static str, &SecretRef)> {
        let mut refs = Vec::new();
        match &self.grant {
            ProfileGrant::RefreshToken(r) => refs.push(("refresh_token", r)),
            ProfileGrant::Password { username, password } => {
                refs.push(("username", username));
                refs.push(("password", password));
            }
            ProfileGrant::ClientCredentials | ProfileGrant::DeviceCode => {}
        }
        match &self.auth {
            ProfileAuth::Basic(r) | ProfileAuth::Post(r) => refs.push(("client_secret", r)),
            ProfileAuth::PrivateKeyJwt { key, .. } => refs.push(("private_key", key)),
            ProfileAuth::None => {}
        }
        if let Some(r) = &self.api_key {
            refs.push(("api_key", r));
        }
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Profile, String> {
        let config: ProfileConfig =
            serde_json::from_value(serde_json::to_value(toml_like(toml_text)).unwrap())
                .map_err(|e| e.to_string())?;
        Profile::from_config("api", &config)
    }

    /// `key = "value"` lines as a JSON object (enough for these tests;
    /// the server reads the real TOML).
    fn toml_like(text: &str) -> serde_json::Map<String, serde_json::Value> {
        text.lines()
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| {
                let v = v.trim();
                let value = if v.starts_with('[') || v.parse::<u64>().is_ok() || v == "true" {
                    serde_json::from_str(v).unwrap()
                } else {
                    serde_json::Value::String(v.trim_matches('"').to_owned())
                };
                (k.trim().to_owned(), value)
            })
            .collect()
    }

    #[test]
    fn a_client_credentials_profile_with_defaults() {
        let p = parse(
            "grant = client_credentials\nissuer = https://idp.example/\nclient_id = c\n\
client_secret = oauth:secret\nscopes = [\"a\", \"b\"]",
        )
        .unwrap();
        assert_eq!(p.grant, ProfileGrant::ClientCredentials);
        assert_eq!(p.auth, ProfileAuth::Basic("oauth:secret".parse().unwrap()));
        assert_eq!(p.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(p.scope.as_deref(), Some("a b"));
        assert_eq!(p.expiry_gap, Duration::from_secs(60));
    }

    #[test]
    fn a_private_key_means_private_key_jwt() {
        let p = parse(
            "grant = client_credentials\ntoken_url = https://idp.example/token\nclient_id = c\n\
private_key = keys/jwt:pem\nkey_id = k1\nsigning_alg = ES256",
        )
        .unwrap();
        assert_eq!(
            p.auth,
            ProfileAuth::PrivateKeyJwt {
                key: "keys/jwt:pem".parse().unwrap(),
                key_id: Some("k1".into()),
                alg: Some(Algorithm::ES256)
            }
        );
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| parse(text).unwrap_err();
        let base = "issuer = https://idp.example\nclient_id = c\n";
        assert!(err(&format!("{base}grant = implicit")).contains(
            "profile 'api': unknown grant 'implicit'; use client_credentials, refresh_token, password or device_code"
        ));
        assert!(err(&format!("{base}grant = refresh_token"))
            .contains("grant refresh_token needs refresh_token"));
        assert!(err(&format!(
            "{base}grant = refresh_token\nrefresh_token = nokey"
        ))
        .contains("refresh_token: expected a secret reference"));
        assert!(err(&format!(
            "{base}grant = client_credentials\nclient_auth = client_secret_post"
        ))
        .contains("client_auth client_secret_post needs client_secret"));
        assert!(err("grant = client_credentials\nclient_id = c")
            .contains("give issuer (discovery) or token_url"));
        assert!(err(&format!(
            "{base}grant = client_credentials\nsigning_alg = HS256"
        ))
        .contains("signing_alg 'HS256' is not supported"));
        assert!(
            err("grant = client_credentials\nissuer = https://x").contains("client_id is missing")
        );
        assert!(err(&format!("{base}grant = client_credentials\nbogus = 1"))
            .contains("unknown field `bogus`"));
    }
}
