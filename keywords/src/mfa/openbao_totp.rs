//! `kind = "openbao-totp"`: OpenBao's (or Vault's) TOTP secrets engine as
//! an OTP checker. The identity is the name of a key in the engine;
//! `POST /v1/MOUNT/code/NAME {"code": ...}` answers `valid` true or false
//! and refuses (HTTP 400, "code already used") a code accepted before in
//! its period, so a code is good once across every client of that server.
//!
//! The engine only checks codes: a push is a capability mismatch. Its
//! token is either a vault reference (`token = "VAULT/NAME:KEY"`) or, with
//! `login_vault = "NAME"` in `[mfa.NAME.openbao-totp]`, the login of a
//! configured `vault+http(s)://` vault on the same server (its token or
//! AppRole, renewed as the vault's), so no second token has to be kept.

use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::{kinds, Answer, Context, MfaError, MfaProvider, ProviderSettings};
use crate::value::Value;
use crate::vault::kv2::VaultSession;
use crate::vault::Vaults;

/// The engine's usual mount.
const DEFAULT_MOUNT: &str = "totp";

/// `[mfa.NAME.openbao-totp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindTable {
    /// Where the TOTP engine is mounted (default `totp`).
    mount: Option<String>,
    /// A configured `vault+http(s)://` vault whose login to use instead of
    /// `token`.
    login_vault: Option<String>,
}

/// Where the token comes from.
enum Login {
    /// A vault reference to a token, read at each call (a rotated token is
    /// picked up without a restart).
    Token(crate::vault::SecretRef),
    /// The login of the configured vault of this name.
    Vault(String),
}

pub struct OpenBaoTotp {
    settings: ProviderSettings,
    mount: Vec<String>,
    login: Login,
    /// For `Login::Token`: the client trusting `settings.ca`.
    client: reqwest::Client,
}

impl OpenBaoTotp {
    /// Checks the kind's table and the token source. Errors name the
    /// field; the registry puts the provider's name before them.
    pub fn new(settings: &ProviderSettings, table: &Json) -> Result<OpenBaoTotp, String> {
        let name = &settings.name;
        let table: KindTable = kinds::kind_table(settings, table)?;
        let mount_text = table.mount.as_deref().unwrap_or(DEFAULT_MOUNT);
        let mount: Vec<String> = mount_text
            .trim_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        if mount
            .iter()
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(format!(
                "mount '{mount_text}' is not a path (no empty, '.' or '..' parts)"
            ));
        }
        let login = match (settings.token.clone(), table.login_vault) {
            (Some(token), None) => Login::Token(token),
            (None, Some(vault)) => Login::Vault(vault),
            (Some(_), Some(_)) => return Err("give either token or login_vault, not both".into()),
            (None, None) => {
                return Err(format!(
                    "OpenBao needs a token: token = \"VAULT/NAME:KEY\", \
                     or login_vault = \"VAULT\" in [mfa.{name}.openbao-totp]"
                ))
            }
        };
        let client = crate::http_clients::client(settings.ca.as_deref())?;
        Ok(OpenBaoTotp {
            settings: settings.clone(),
            mount,
            login,
            client,
        })
    }

    fn name(&self) -> &str {
        &self.settings.name
    }

    /// The configured vault whose login is lent, checked to be a Vault
    /// server at the provider's own URL: its token is never sent elsewhere.
    /// Errors name the field (the registry adds the provider's name).
    fn session(&self, vaults: &Vaults, vault: &str) -> Result<VaultSession, String> {
        let store = vaults
            .get(Some(vault))
            .map_err(|e| format!("login_vault '{vault}': {e}"))?;
        let session = store
            .vault_session()
            .ok_or_else(|| format!("login_vault '{vault}' is not a vault+http(s):// vault"))?;
        if session.url([]).origin() != self.settings.url.origin() {
            return Err(format!(
                "login_vault '{vault}' is a vault at {}, not at the provider's url; \
                 its token is only sent to its own server",
                session.shown()
            ));
        }
        Ok(session)
    }

    /// `url/v1/MOUNT/code/KEY`, each part percent-encoded on its own.
    fn code_url(&self, key: &str) -> url::Url {
        let mut url = self.settings.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .push("v1")
                .extend(&self.mount)
                .push("code")
                .push(key);
        }
        url
    }

    /// Sends the check once with `token`; the status and JSON body.
    async fn send(
        &self,
        ctx: &Context<'_>,
        client: &reqwest::Client,
        namespace: Option<&str>,
        token: &str,
        key: &str,
        otp: &str,
    ) -> Result<(u16, Json), MfaError> {
        let mut request = client
            .post(self.code_url(key))
            .timeout(self.settings.timeout)
            .header("X-Vault-Token", token)
            .header("Content-Type", "application/json")
            .body(json!({ "code": otp }).to_string());
        if let Some(namespace) = namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        };
        let (status, bytes) = ctx
            .bounded(exchange)
            .await?
            .map_err(|e| MfaError::from_http(self.name(), e))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Json::Null)))
    }

    /// What OpenBao's answer means for `key`. Its error texts name keys
    /// and reasons; a code is masked should one ever echo it.
    fn verdict(&self, key: &str, otp: &str, status: u16, body: &Json) -> Result<Answer, MfaError> {
        let errors = errors(body, otp);
        let name = self.name();
        match status {
            200 => match body["data"]["valid"].as_bool() {
                Some(true) => Ok(vec![
                    ("result", Value::str("ACCEPT")),
                    ("message", Value::str("code accepted")),
                    ("key", Value::str(key)),
                ]),
                Some(false) => Err(MfaError::AuthenticationFailure(format!(
                    "MFA provider '{name}': OpenBao refused the code for TOTP key '{key}' (not valid now)"
                ))),
                None => Err(MfaError::Communication(format!(
                    "MFA provider '{name}': OpenBao's answer has no data.valid"
                ))),
            },
            // A reused code, an unknown key, a code of the wrong length:
            // the service's refusal, in its own words.
            400 => Err(MfaError::AuthenticationFailure(format!(
                "MFA provider '{name}': OpenBao refused the code for TOTP key '{key}': {errors}"
            ))),
            403 => Err(MfaError::Communication(format!(
                "MFA provider '{name}': OpenBao refused the provider's token (403 {errors}: \
                 wrong or expired, or its policy lacks update on {}/code/{key})",
                self.mount.join("/")
            ))),
            404 => Err(MfaError::Communication(format!(
                "MFA provider '{name}': no TOTP engine at mount '{}' (404 {errors})",
                self.mount.join("/")
            ))),
            _ => {
                let status =
                    reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
                Err(match MfaError::from_status(name, status) {
                    MfaError::Unreachable(m) => MfaError::Unreachable(format!("{m}: {errors}")),
                    MfaError::Communication(m) => MfaError::Communication(format!("{m}: {errors}")),
                    other => other,
                })
            }
        }
    }
}

/// OpenBao's `errors` list on one line, with `otp` masked. OpenBao wraps
/// some in Go's multierror form ("1 error occurred:\n\t* permission
/// denied\n\n"): only the error lines are kept.
fn errors(body: &Json, otp: &str) -> String {
    let lines: Vec<&str> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e.as_str().unwrap_or("?").lines())
        .map(|line| line.trim().trim_start_matches("* ").trim())
        .filter(|line| !line.is_empty() && !line.ends_with("occurred:"))
        .collect();
    let text = if lines.is_empty() {
        "no error message".to_owned()
    } else {
        lines.join("; ")
    };
    if otp.is_empty() {
        text
    } else {
        text.replace(otp, "***")
    }
}

/// The registry's builder for `kind = "openbao-totp"`.
pub fn build(
    settings: &ProviderSettings,
    table: &Json,
) -> Result<std::sync::Arc<dyn MfaProvider>, String> {
    Ok(std::sync::Arc::new(OpenBaoTotp::new(settings, table)?))
}

/// A key name is one path segment: not empty, no `/`, not `.` or `..`.
fn check_key(name: &str, key: &str) -> Result<(), MfaError> {
    if key.is_empty() || key.contains('/') || key == "." || key == ".." {
        return Err(MfaError::Other(crate::KeywordError::value_error(format!(
            "MFA provider '{name}': the identity is an OpenBao TOTP key name \
             (one path segment), not '{key}'"
        ))));
    }
    Ok(())
}

#[async_trait::async_trait]
impl MfaProvider for OpenBaoTotp {
    fn kind(&self) -> &'static str {
        "openbao-totp"
    }

    fn check(&self, vaults: &Vaults) -> Result<(), String> {
        match &self.login {
            Login::Vault(vault) => self.session(vaults, vault).map(drop),
            Login::Token(_) => Ok(()),
        }
    }

    async fn push_authenticate(
        &self,
        _ctx: &Context<'_>,
        _identity: &str,
        _wait: std::time::Duration,
    ) -> Result<Answer, MfaError> {
        Err(MfaError::Communication(format!(
            "MFA provider '{}' (openbao-totp) cannot push: OpenBao's TOTP engine only checks codes; \
             give the code to check",
            self.name()
        )))
    }

    async fn otp_authenticate(
        &self,
        ctx: &Context<'_>,
        identity: &str,
        otp: &str,
    ) -> Result<Answer, MfaError> {
        check_key(self.name(), identity)?;
        let (status, body) = match &self.login {
            Login::Token(reference) => {
                let token = ctx.secret(reference).await?;
                self.send(ctx, &self.client, None, &token, identity, otp)
                    .await?
            }
            Login::Vault(vault) => {
                let session = self.session(ctx.vaults, vault).map_err(|e| {
                    MfaError::Communication(format!("MFA provider '{}': {e}", self.name()))
                })?;
                let mut logged_in_again = false;
                loop {
                    let token = session.token().await.map_err(vault_error)?;
                    let (client, namespace) = (session.client(), session.namespace());
                    let answer = self
                        .send(ctx, client, namespace, &token, identity, otp)
                        .await?;
                    // An AppRole token revoked or expired early: log in
                    // once more, as the vault backend itself does.
                    if answer.0 == 403 && session.can_log_in() && !logged_in_again {
                        session.forget(&token);
                        logged_in_again = true;
                        continue;
                    }
                    break answer;
                }
            }
        };
        self.verdict(identity, otp, status, &body)
    }
}

/// A vault login that failed: the vault's own error, or unreachable when
/// the server cannot be reached at all (it is also the TOTP engine's).
fn vault_error(e: crate::vault::VaultError) -> MfaError {
    match e {
        crate::vault::VaultError::Unavailable(m) => MfaError::Unreachable(m),
        other => MfaError::Other(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(table: Json) -> Result<OpenBaoTotp, String> {
        let settings = super::super::config::settings_from_json(
            "bao-totp",
            json!({"kind": "openbao-totp", "url": "http://127.0.0.1:8200", "token": "bao/mfa:token"}),
        );
        OpenBaoTotp::new(&settings, &table)
    }

    #[test]
    fn the_code_url_encodes_each_part() {
        let p = provider(json!({"mount": "team/totp"})).unwrap();
        assert_eq!(
            p.code_url("a b?").as_str(),
            "http://127.0.0.1:8200/v1/team/totp/code/a%20b%3F"
        );
        assert!(provider(json!({"mount": "a//b"})).is_err());
        assert!(provider(json!({"mont": "x"}))
            .err()
            .unwrap()
            .contains("unknown field"));
        assert!(provider(json!({"login_vault": "bao"}))
            .err()
            .unwrap()
            .contains("not both"));
    }

    #[test]
    fn answers_map_to_the_three_failures() {
        let p = provider(Json::Null).unwrap();
        assert!(p
            .verdict("k", "123456", 200, &json!({"data": {"valid": true}}))
            .is_ok());
        let name = |r: Result<Answer, MfaError>| r.unwrap_err().name();
        assert_eq!(
            name(p.verdict("k", "1", 200, &json!({"data": {"valid": false}}))),
            "MFAAuthenticationFailure"
        );
        let used = json!({"errors": ["code already used; wait until the next time period"]});
        assert_eq!(
            name(p.verdict("k", "1", 400, &used)),
            "MFAAuthenticationFailure"
        );
        assert_eq!(
            name(p.verdict("k", "1", 403, &json!({}))),
            "MFACommunicationError"
        );
        assert_eq!(
            name(p.verdict("k", "1", 200, &json!({}))),
            "MFACommunicationError"
        );
        assert_eq!(
            name(p.verdict("k", "1", 503, &json!({}))),
            "MFAServiceUnreachable"
        );
    }

    #[test]
    fn multierror_texts_are_put_on_one_line() {
        let body = json!({"errors": ["1 error occurred:\n\t* permission denied\n\n", "other"]});
        assert_eq!(errors(&body, ""), "permission denied; other");
        assert_eq!(errors(&json!({}), ""), "no error message");
    }

    #[test]
    fn a_code_echoed_in_an_error_is_masked() {
        let p = provider(Json::Null).unwrap();
        let echo = json!({"errors": ["bad code 654321"]});
        let err = p.verdict("k", "654321", 400, &echo).unwrap_err();
        assert!(!format!("{err:?}").contains("654321"), "{err:?}");
    }

    #[test]
    fn a_key_is_one_path_segment() {
        for bad in ["", "a/b", ".", ".."] {
            assert!(check_key("p", bad).is_err(), "{bad}");
        }
        assert!(check_key("p", "alice").is_ok());
    }
}
