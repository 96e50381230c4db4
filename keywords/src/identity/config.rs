//! An identity platform as the config file writes it
//! (`[identities.NAME]`), and checked. It holds no secret itself, only
//! vault references to read each one from.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::vault::SecretRef;

/// The mechanisms tried first when a challenge offers several: a
/// password, then a code the robot computes, then out-of-band ones that
/// are polled (a push or call approved on a phone, an SMS or e-mail link).
pub const DEFAULT_MECHANISMS: [&str; 6] = ["UP", "OATH", "OTP", "PF", "SMS", "EMAIL"];

/// The service user's redirect target when none is configured: the one
/// CyberArk's own SDK sends; the platform only has to accept it.
pub const DEFAULT_REDIRECT_URI: &str = "https://cyberark.cloud/redirect";

/// Whether passwords may go to `url`: https, or http on loopback (tests).
pub fn is_secure(url: &Url) -> bool {
    url.scheme() == "https" || crate::oauth::is_loopback(url)
}

/// `[identities.NAME]` as written. Unknown keys are errors, so typos show.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// `https://TENANT.id.cyberark.cloud` (the login may move to a pod).
    pub tenant_url: Option<String>,
    /// The login name of an interactive (MFA) user.
    pub user: Option<String>,
    /// Vault reference of the user's password (mechanism `UP`).
    pub password: Option<String>,
    /// Vault reference of the TOTP secret answering `OATH`/`OTP` codes;
    /// default: the calling namespace's stored secret.
    pub totp_secret: Option<String>,
    /// Mechanism names in the order they are preferred.
    pub mechanisms: Option<Vec<String>>,
    /// A service user (no MFA): its name, instead of `user`.
    pub service_user: Option<String>,
    /// Vault reference of the service user's secret.
    pub service_secret: Option<String>,
    /// The OAuth2 application the service user logs in through.
    pub service_app: Option<String>,
    /// Where the authorize call redirects (never visited).
    pub redirect_uri: Option<String>,
    /// Seconds one HTTP call may take (default 30).
    pub timeout: Option<f64>,
    /// PEM file of the CAs to trust instead of the system roots.
    pub ca: Option<PathBuf>,
    /// Seconds between polls of an out-of-band mechanism (default 2).
    pub poll_interval: Option<f64>,
    /// Seconds an out-of-band mechanism may take in all (default 120).
    pub poll_timeout: Option<f64>,
    /// A session's lifetime when the platform names none (default 4 h).
    pub session_lifetime: Option<u64>,
    /// Seconds a handed-out token stays valid at least (default 60).
    pub expiry_gap: Option<u64>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// Who logs in.
#[derive(Clone, Debug, PartialEq)]
pub enum Login {
    /// An interactive user answering challenges.
    User {
        user: String,
        password: Option<SecretRef>,
        /// None: the namespace's stored TOTP secret.
        totp_secret: Option<SecretRef>,
        mechanisms: Vec<String>,
    },
    /// A service user: client credentials, then an authorize call.
    Service {
        user: String,
        secret: SecretRef,
        app: String,
        redirect_uri: String,
    },
}

/// A checked identity platform.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityPlatform {
    pub name: String,
    /// Without a trailing slash.
    pub tenant_url: Url,
    pub login: Login,
    pub timeout: Duration,
    /// The CA file trusted instead of the system roots.
    pub ca: Option<PathBuf>,
    pub poll_interval: Duration,
    pub poll_timeout: Duration,
    pub session_lifetime: Duration,
    pub expiry_gap: Duration,
    pub allow: Vec<String>,
}

impl IdentityPlatform {
    /// Checks `config`; the error names the identity and what is wrong.
    pub fn from_config(name: &str, config: &IdentityConfig) -> Result<IdentityPlatform, String> {
        let fail = |why: String| format!("identity '{name}': {why}");
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(fail("the name must be printable text".into()));
        }
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
        let tenant = config
            .tenant_url
            .as_deref()
            .ok_or_else(|| fail("tenant_url is missing".into()))?;
        let tenant_url = Url::parse(tenant.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| fail(format!("tenant_url is not an http(s) URL: '{tenant}'")))?;
        if !is_secure(&tenant_url) {
            return Err(fail(format!(
                "tenant_url must be https (http only on loopback): '{tenant}'"
            )));
        }
        let seconds = |field: &str, value: Option<f64>, default: f64, max: f64| {
            let s = value.unwrap_or(default);
            if s.is_finite() && s > 0.0 && s <= max {
                Ok(Duration::from_secs_f64(s))
            } else {
                Err(fail(format!(
                    "{field} must be more than 0 and at most {max} seconds, got {s}"
                )))
            }
        };
        let login = match (&config.user, &config.service_user) {
            (Some(user), None) => {
                let mechanisms = config
                    .mechanisms
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MECHANISMS.map(str::to_owned).to_vec());
                if mechanisms.is_empty() {
                    return Err(fail("mechanisms must name at least one mechanism".into()));
                }
                if config.service_secret.is_some() || config.service_app.is_some() {
                    return Err(fail(
                        "service_secret and service_app belong to a service_user".into(),
                    ));
                }
                Login::User {
                    user: user.clone(),
                    password: reference("password", &config.password)?,
                    totp_secret: reference("totp_secret", &config.totp_secret)?,
                    mechanisms: mechanisms.iter().map(|m| m.to_ascii_uppercase()).collect(),
                }
            }
            (None, Some(user)) => {
                if config.password.is_some() || config.totp_secret.is_some() {
                    return Err(fail(
                        "a service_user logs in with service_secret, not password or totp_secret"
                            .into(),
                    ));
                }
                let app = config
                    .service_app
                    .clone()
                    .filter(|a| !a.is_empty() && !a.contains(['/', '?', '#']))
                    .ok_or_else(|| {
                        fail(
                            "a service_user needs service_app (the OAuth2 application's id)".into(),
                        )
                    })?;
                Login::Service {
                    user: user.clone(),
                    secret: reference("service_secret", &config.service_secret)?.ok_or_else(
                        || {
                            fail(
                                "a service_user needs service_secret (a vault reference NAME:KEY)"
                                    .into(),
                            )
                        },
                    )?,
                    app,
                    redirect_uri: config
                        .redirect_uri
                        .clone()
                        .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned()),
                }
            }
            (Some(_), Some(_)) => return Err(fail("give user or service_user, not both".into())),
            (None, None) => return Err(fail("give user (with password) or service_user".into())),
        };
        Ok(IdentityPlatform {
            name: name.to_owned(),
            tenant_url,
            login,
            timeout: seconds("timeout", config.timeout, 30.0, 300.0)?,
            ca: config.ca.clone(),
            poll_interval: seconds("poll_interval", config.poll_interval, 2.0, 60.0)?,
            poll_timeout: seconds("poll_timeout", config.poll_timeout, 120.0, 3600.0)?,
            session_lifetime: Duration::from_secs(config.session_lifetime.unwrap_or(4 * 3600)),
            expiry_gap: Duration::from_secs(config.expiry_gap.unwrap_or(60)),
            allow: config.allow.clone(),
        })
    }

    /// Every vault reference the identity reads, with the field naming it.
    pub fn references(&self) -> Vec<(&'static str, &SecretRef)> {
        match &self.login {
            Login::User {
                password,
                totp_secret,
                ..
            } => {
                let mut refs = Vec::new();
                if let Some(r) = password {
                    refs.push(("password", r));
                }
                if let Some(r) = totp_secret {
                    refs.push(("totp_secret", r));
                }
                refs
            }
            Login::Service { secret, .. } => vec![("service_secret", secret)],
        }
    }

    /// The user name the platform knows.
    pub fn user(&self) -> &str {
        match &self.login {
            Login::User { user, .. } | Login::Service { user, .. } => user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<IdentityPlatform, String> {
        let config: IdentityConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        IdentityPlatform::from_config("corp", &config)
    }

    #[test]
    fn a_user_identity_with_defaults() {
        let p = parse(serde_json::json!({
            "tenant_url": "https://abc.id.example/", "user": "robot@corp", "password": "idp:pw"
        }))
        .unwrap();
        assert_eq!(p.tenant_url.as_str(), "https://abc.id.example/");
        assert_eq!(p.poll_timeout, Duration::from_secs(120));
        assert_eq!(p.session_lifetime, Duration::from_secs(14400));
        let Login::User { mechanisms, .. } = &p.login else {
            panic!("a user login")
        };
        assert_eq!(mechanisms[0], "UP");
        assert_eq!(p.references().len(), 1);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |json| parse(json).unwrap_err();
        use serde_json::json;
        assert!(err(json!({"user": "u"})).contains("identity 'corp': tenant_url is missing"));
        assert!(err(json!({"tenant_url": "ftp://x", "user": "u"})).contains("not an http(s) URL"));
        assert!(err(json!({"tenant_url": "https://x"})).contains("give user"));
        assert!(
            err(json!({"tenant_url": "http://idp.example", "user": "u"}))
                .contains("tenant_url must be https (http only on loopback)")
        );
        assert!(
            err(json!({"tenant_url": "https://x", "user": "u", "service_user": "s"}))
                .contains("not both")
        );
        assert!(err(
            json!({"tenant_url": "https://x", "service_user": "s", "service_secret": "a:b"})
        )
        .contains("needs service_app"));
        assert!(
            err(json!({"tenant_url": "https://x", "user": "u", "password": "nokey"}))
                .contains("password: expected a secret reference")
        );
        assert!(
            err(json!({"tenant_url": "https://x", "user": "u", "poll_timeout": 0}))
                .contains("poll_timeout must be more than 0")
        );
        assert!(
            err(json!({"tenant_url": "https://x", "user": "u", "bogus": 1}))
                .contains("unknown field `bogus`")
        );
    }
}
