//! What a `vault+http(s)://HOST:PORT/MOUNT[?OPTIONS]` spec and the
//! standard Vault environment variables say: where the server is, which
//! KV v2 mount, how to log in, which namespace and CA.
//!
//! Options in the spec win over the environment, so two named vaults can
//! differ: `namespace=`, `ca=` (PEM file), `token_file=`, `approle=` (the
//! AppRole mount, default `approle`), `role_id_file=`, `secret_id_file=`.
//! From the environment: `VAULT_TOKEN`/`BAO_TOKEN`, `VAULT_ROLE_ID` and
//! `VAULT_SECRET_ID` (or `VAULT_ROLE_ID_FILE`/`VAULT_SECRET_ID_FILE`),
//! `VAULT_NAMESPACE`/`BAO_NAMESPACE`, `VAULT_CACERT`/`BAO_CACERT`.

use std::path::PathBuf;

use url::Url;
use zeroize::Zeroizing;

/// Where a credential comes from; files are read at each login, so a
/// rotated secret id file is picked up.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Inline(Zeroizing<String>),
    File(PathBuf),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Inline(_) => f.write_str("Inline(..)"),
            Value::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

impl Value {
    /// The credential, trimmed of the newline files end with.
    pub fn read(&self, what: &str) -> Result<Zeroizing<String>, String> {
        match self {
            Value::Inline(text) => Ok(text.clone()),
            Value::File(path) => std::fs::read_to_string(path)
                .map(|text| Zeroizing::new(text.trim().to_owned()))
                .map_err(|e| format!("{what} file '{}': {e}", path.display())),
        }
    }
}

/// How the backend gets its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    Token(Value),
    AppRole {
        mount: String,
        role_id: Value,
        secret_id: Value,
    },
}

/// A parsed spec with the environment applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv2Spec {
    /// `http(s)://HOST:PORT/`, no path, no credentials.
    pub base: Url,
    /// The KV v2 mount, e.g. `secret` (may hold `/`).
    pub mount: String,
    pub namespace: Option<String>,
    pub ca: Option<PathBuf>,
    pub login: Login,
}

impl Kv2Spec {
    /// Reads `spec` (which starts with `vault+`), taking what it leaves out
    /// from `env`. Errors name what is wrong and never hold a credential.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Kv2Spec, String> {
        let env = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
        let rest = spec
            .strip_prefix("vault+")
            .ok_or_else(|| format!("'{spec}' is not a vault+http(s):// spec"))?;
        let url = Url::parse(rest).map_err(|e| format!("'{spec}': {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{spec}': use vault+http:// or vault+https://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "a vault spec holds no credentials; set VAULT_TOKEN or use AppRole".to_owned(),
            );
        }
        if url.host_str().is_none() {
            return Err(format!("'{spec}': no host"));
        }
        let mount = url.path().trim_matches('/').to_owned();
        if mount.is_empty() {
            return Err(format!(
                "'{spec}': name the KV v2 mount as the path, e.g. vault+http://127.0.0.1:8200/secret"
            ));
        }
        let mut options = std::collections::BTreeMap::new();
        for (key, value) in url.query_pairs() {
            const KNOWN: &[&str] = &[
                "namespace",
                "ca",
                "token_file",
                "approle",
                "role_id_file",
                "secret_id_file",
            ];
            if !KNOWN.contains(&key.as_ref()) {
                return Err(format!(
                    "'{spec}': unknown option '{key}' (known: {})",
                    KNOWN.join(", ")
                ));
            }
            options.insert(key.into_owned(), value.into_owned());
        }
        let option = |name: &str| options.get(name).filter(|v| !v.is_empty()).cloned();
        let mut base = url.clone();
        base.set_path("/");
        base.set_query(None);
        base.set_fragment(None);

        let file_or_env = |option_name: &str, file_vars: &[&str], vars: &[&str]| {
            option(option_name)
                .or_else(|| env(file_vars))
                .map(|p| Value::File(PathBuf::from(p)))
                .or_else(|| env(vars).map(|v| Value::Inline(Zeroizing::new(v))))
        };
        let role_id = file_or_env("role_id_file", &["VAULT_ROLE_ID_FILE"], &["VAULT_ROLE_ID"]);
        let secret_id = file_or_env(
            "secret_id_file",
            &["VAULT_SECRET_ID_FILE"],
            &["VAULT_SECRET_ID"],
        );
        let token = file_or_env("token_file", &[], &["VAULT_TOKEN", "BAO_TOKEN"]);
        let login = match (role_id, secret_id, token) {
            (Some(role_id), Some(secret_id), _) => Login::AppRole {
                mount: option("approle").unwrap_or_else(|| "approle".into()),
                role_id,
                secret_id,
            },
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(format!(
                    "{spec}: AppRole needs both a role id and a secret id \
                     (VAULT_ROLE_ID and VAULT_SECRET_ID, or their _FILE forms)"
                ))
            }
            (None, None, Some(token)) => Login::Token(token),
            (None, None, None) => {
                return Err(format!(
                    "{spec}: no credentials; set VAULT_TOKEN (or BAO_TOKEN), or \
                     VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole"
                ))
            }
        };
        Ok(Kv2Spec {
            base,
            mount,
            namespace: option("namespace").or_else(|| env(&["VAULT_NAMESPACE", "BAO_NAMESPACE"])),
            ca: option("ca")
                .or_else(|| env(&["VAULT_CACERT", "BAO_CACERT"]))
                .map(PathBuf::from),
            login,
        })
    }

    /// The spec as logs and errors show it: no options, no credentials.
    pub fn shown(&self) -> String {
        format!("vault+{}{}", self.base, self.mount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn token_from_either_variable_and_the_mount_from_the_path() {
        let spec = Kv2Spec::parse(
            "vault+http://127.0.0.1:8200/secret",
            env(&[("BAO_TOKEN", "t0k")]),
        )
        .unwrap();
        assert_eq!(spec.base.as_str(), "http://127.0.0.1:8200/");
        assert_eq!(spec.mount, "secret");
        assert_eq!(
            spec.login,
            Login::Token(Value::Inline(Zeroizing::new("t0k".into())))
        );
        assert_eq!(spec.namespace, None);
        assert_eq!(spec.shown(), "vault+http://127.0.0.1:8200/secret");
        let spec = Kv2Spec::parse(
            "vault+https://bao.example:8200/kv/team/",
            env(&[
                ("VAULT_TOKEN", "a"),
                ("BAO_TOKEN", "b"),
                ("VAULT_NAMESPACE", "ns1"),
            ]),
        )
        .unwrap();
        assert_eq!(spec.mount, "kv/team");
        assert_eq!(
            spec.login,
            Login::Token(Value::Inline(Zeroizing::new("a".into())))
        );
        assert_eq!(spec.namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn approle_wins_over_a_token_and_options_over_the_environment() {
        let spec = Kv2Spec::parse(
            "vault+http://h:1/secret?approle=ar&secret_id_file=/run/sid&namespace=a&ca=/ca.pem",
            env(&[
                ("VAULT_TOKEN", "t"),
                ("VAULT_ROLE_ID", "rid"),
                ("VAULT_SECRET_ID", "sid"),
                ("VAULT_NAMESPACE", "b"),
                ("VAULT_CACERT", "/other.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(
            spec.login,
            Login::AppRole {
                mount: "ar".into(),
                role_id: Value::Inline(Zeroizing::new("rid".into())),
                secret_id: Value::File("/run/sid".into()),
            }
        );
        assert_eq!(spec.namespace.as_deref(), Some("a"));
        assert_eq!(spec.ca, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn bad_specs_say_what_is_wrong_without_credentials() {
        let err = Kv2Spec::parse("vault+http://h:1/secret", env(&[])).unwrap_err();
        assert!(err.contains("no credentials; set VAULT_TOKEN"), "{err}");
        let cases = [
            ("vault+http://h:1/", "name the KV v2 mount"),
            (
                "vault+ftp://h:1/secret",
                "use vault+http:// or vault+https://",
            ),
            ("vault+http://h:1/secret?tls=1", "unknown option 'tls'"),
            (
                "vault+http://user:hunter2@h:1/secret",
                "holds no credentials",
            ),
        ];
        for (spec, expected) in cases {
            let err = Kv2Spec::parse(spec, env(&[("VAULT_TOKEN", "t")])).unwrap_err();
            assert!(err.contains(expected), "{spec}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = Kv2Spec::parse("vault+http://h:1/s", env(&[("VAULT_ROLE_ID", "r")])).unwrap_err();
        assert!(
            err.contains("needs both a role id and a secret id"),
            "{err}"
        );
    }
}
