//! An MFA provider as the config file writes it (`[mfa.NAME]`), and
//! checked: the settings every kind shares, plus the kind's own sub-table
//! (`[mfa.NAME.KIND]`), which the kind's builder reads. A provider holds no
//! secret itself, only a vault reference to its service token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::vault::SecretRef;

/// A provider's `timeout` when it gives none: how long one HTTP request
/// to the service may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest `timeout`: five minutes.
const MAX_TIMEOUT: f64 = 300.0;

/// `[mfa.NAME]` as written. Every key but the kind's sub-table is known
/// here; the sub-table is checked by the kind's builder.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ProviderConfig {
    /// `privacyidea`, `openbao-totp` or `rest`.
    pub kind: Option<String>,
    /// The service's base URL, `http://` or `https://`.
    pub url: Option<String>,
    /// The service token or credential, as a vault reference
    /// `[VAULT/]NAME:KEY`.
    pub token: Option<String>,
    /// Seconds one request may take (default 10).
    pub timeout: Option<f64>,
    /// PEM file of the CAs to trust instead of the system roots.
    pub ca: Option<PathBuf>,
    /// Lets an unreachable service pass with a warning (default false).
    #[serde(default)]
    pub ignore_connection_error: bool,
    /// Users and namespaces that may use the provider; empty: every user
    /// not pinned.
    #[serde(default)]
    pub allow: Vec<String>,
    /// For each user or namespace, the identities it may push to or check;
    /// absent: any identity.
    pub identities: Option<BTreeMap<String, Vec<String>>>,
    /// The kind's own sub-table (`[mfa.NAME.privacyidea]`...) and anything
    /// else written in the table, checked by [`ProviderSettings::from_config`].
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The settings every kind shares, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSettings {
    pub name: String,
    pub kind: String,
    pub url: url::Url,
    pub token: Option<SecretRef>,
    pub timeout: Duration,
    pub ca: Option<PathBuf>,
    pub ignore_connection_error: bool,
    pub allow: Vec<String>,
    pub identities: Option<BTreeMap<String, Vec<String>>>,
}

impl ProviderSettings {
    /// Checks `config` against the known `kinds`; returns the settings and
    /// the kind's sub-table (`Null` when there is none). Errors name the
    /// provider and the field.
    pub fn from_config(
        name: &str,
        config: &ProviderConfig,
        kinds: &[&str],
    ) -> Result<(ProviderSettings, serde_json::Value), String> {
        let fail = |why: String| format!("MFA provider '{name}': {why}");
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == '/') {
            return Err(fail("the name must be printable text without '/'".into()));
        }
        let kind = config
            .kind
            .as_deref()
            .ok_or_else(|| fail(format!("kind is missing; use {}", kinds.join(", "))))?;
        if !kinds.contains(&kind) {
            return Err(fail(format!(
                "unknown kind '{kind}'; use {}",
                kinds.join(", ")
            )));
        }
        let mut kind_table = serde_json::Value::Null;
        for (key, value) in &config.other {
            if key == kind {
                kind_table = value.clone();
            } else {
                return Err(fail(format!(
                    "unknown field '{key}'; the kind's own settings go in [mfa.{name}.{kind}]"
                )));
            }
        }
        let url_text = config
            .url
            .as_deref()
            .ok_or_else(|| fail("url is missing".into()))?;
        let url = url::Url::parse(url_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| fail(format!("url '{url_text}' is not an http(s) URL")))?;
        let token = config
            .token
            .as_deref()
            .map(|t| {
                t.parse::<SecretRef>()
                    .map_err(|e| fail(format!("token: {e}")))
            })
            .transpose()?;
        let timeout = match config.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) if t > 0.0 && t <= MAX_TIMEOUT => Duration::from_secs_f64(t),
            Some(t) => {
                return Err(fail(format!(
                    "timeout must be more than 0 and at most {MAX_TIMEOUT} seconds, got {t}"
                )))
            }
        };
        if let Some(identities) = &config.identities {
            if let Some((who, _)) = identities.iter().find(|(who, _)| who.is_empty()) {
                return Err(fail(format!(
                    "identities: '{who}' is not a user or namespace"
                )));
            }
        }
        Ok((
            ProviderSettings {
                name: name.to_owned(),
                kind: kind.to_owned(),
                url,
                token,
                timeout,
                ca: config.ca.clone(),
                ignore_connection_error: config.ignore_connection_error,
                allow: config.allow.clone(),
                identities: config.identities.clone(),
            },
            kind_table,
        ))
    }

    /// Whether the provider limits who may use it or whom they may reach:
    /// both need authenticated callers.
    pub fn has_lists(&self) -> bool {
        !self.allow.is_empty() || self.identities.is_some()
    }
}

/// The checked settings of a provider written as JSON (the config file's
/// TOML reads into the same serde types), for the kinds' unit tests.
#[cfg(test)]
pub(crate) fn settings_from_json(name: &str, json: serde_json::Value) -> ProviderSettings {
    let config: ProviderConfig = serde_json::from_value(json).unwrap();
    let kinds = super::kinds::names();
    ProviderSettings::from_config(name, &config, &kinds)
        .unwrap()
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[&str] = &["privacyidea", "rest"];

    fn parse(text: &str) -> Result<(ProviderSettings, serde_json::Value), String> {
        let config: ProviderConfig = toml_like(text);
        ProviderSettings::from_config("pi", &config, KINDS)
    }

    /// The config file is TOML; JSON stands in for it here (same serde).
    fn toml_like(json: &str) -> ProviderConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_complete_provider_is_checked_and_keeps_its_kind_table() {
        let (settings, table) = parse(
            r#"{"kind": "privacyidea", "url": "https://pi.example", "token": "bao/pi:token",
                "timeout": 5, "allow": ["alice"], "identities": {"alice": ["alice"]},
                "privacyidea": {"realm": "r1"}}"#,
        )
        .unwrap();
        assert_eq!(settings.kind, "privacyidea");
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.token.unwrap().to_string(), "bao/pi:token");
        assert_eq!(table["realm"], "r1");
        assert!(!settings.ignore_connection_error);
    }

    #[test]
    fn errors_name_the_provider_and_the_field() {
        for (json, expected) in [
            (
                r#"{"url": "https://x"}"#,
                "MFA provider 'pi': kind is missing",
            ),
            (
                r#"{"kind": "duo", "url": "https://x"}"#,
                "unknown kind 'duo'",
            ),
            (r#"{"kind": "rest"}"#, "url is missing"),
            (
                r#"{"kind": "rest", "url": "ftp://x"}"#,
                "url 'ftp://x' is not an http(s) URL",
            ),
            (
                r#"{"kind": "rest", "url": "https://x", "token": "nokey"}"#,
                "token: expected a secret reference",
            ),
            (
                r#"{"kind": "rest", "url": "https://x", "timeout": 0}"#,
                "timeout must be",
            ),
            (
                r#"{"kind": "rest", "url": "https://x", "tiemout": 3}"#,
                "unknown field 'tiemout'",
            ),
            (
                r#"{"kind": "rest", "url": "https://x", "privacyidea": {}}"#,
                "unknown field 'privacyidea'",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(err.starts_with("MFA provider 'pi': "), "{err}");
        }
    }
}
