//! HashiCorp Vault / OpenBao KV version 2 over HTTP:
//! `vault+http://HOST:PORT/MOUNT` (or `vault+https://`). Secret NAME is
//! path NAME under MOUNT; its keys are the data keys of the latest version.
//!
//! Writes make a new version with check-and-set (`options.cas` = the
//! version read), so two writers never silently lose each other's update:
//! `set` reads, merges and writes, and on a cas conflict reads again, a
//! bounded number of times; `replace` is a true compare-and-swap.
//!
//! A vault that is down, sealed or refuses the token is not a start-up
//! failure: [`check`](SecretStore::check) reports it as
//! [`VaultError::Unavailable`], which the server logs as a warning; each
//! keyword needing the vault fails with that error until the vault is back.

mod api;
mod login;
mod session;
mod spec;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value as Json};
use zeroize::Zeroizing;

use self::api::{Answer, Api};
use self::login::Credentials;
pub use self::login::Token;
pub use self::session::VaultSession;
pub use self::spec::{Kv2Spec, Login};
use super::{Secret, SecretStore, VaultError};

/// How often `set` writes before giving up on a secret that other writers
/// keep changing; each lost race waits a little longer, with jitter, so
/// a crowd of writers spreads out instead of colliding again.
const CAS_ATTEMPTS: u32 = 32;

pub struct Kv2Store {
    api: Api,
    mount: String,
    credentials: Arc<Credentials>,
}

/// A secret's latest version as read: its data and its version number
/// (0 when the path has no live version, which `cas: 0` then requires).
struct Read {
    data: BTreeMap<String, Zeroizing<String>>,
    version: u64,
}

impl Kv2Store {
    /// Opens the backend a spec names, with the process environment.
    pub fn open(spec: &str) -> Result<Kv2Store, VaultError> {
        let spec =
            Kv2Spec::parse(spec, |name| std::env::var(name).ok()).map_err(VaultError::Backend)?;
        Kv2Store::new(spec)
    }

    pub fn new(spec: Kv2Spec) -> Result<Kv2Store, VaultError> {
        let client = crate::http_clients::client(spec.ca.as_deref())
            .map_err(|e| VaultError::Backend(format!("{}: {e}", spec.shown())))?;
        let api = Api {
            base: spec.base.clone(),
            namespace: spec.namespace.clone(),
            client,
            shown: spec.shown(),
        };
        let credentials = Credentials::new(spec.login, api.clone())
            .map_err(|e| VaultError::Backend(format!("{}: {e}", api.shown)))?;
        Ok(Kv2Store {
            api,
            mount: spec.mount,
            credentials,
        })
    }

    /// The path segments of `name` under `<mount>/<area>/`; a name that is
    /// not a clean relative path is refused before anything is sent.
    fn segments<'a>(&'a self, area: &'a str, name: &'a str) -> Result<Vec<&'a str>, VaultError> {
        let parts: Vec<&str> = name.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(VaultError::Backend(format!(
                "'{name}' is not a KV path (no empty, '.' or '..' parts)"
            )));
        }
        Ok(self.mount.split('/').chain([area]).chain(parts).collect())
    }

    /// Sends a request with the current token; when the vault refuses a
    /// token that an AppRole login can replace, logs in once more and
    /// sends it again.
    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Json>,
    ) -> Result<Answer, VaultError> {
        let token = self.credentials.token().await?;
        let answer = self
            .api
            .send(method.clone(), url.clone(), Some(&token), body)
            .await?;
        if answer.status != 403 || !self.credentials.can_log_in() {
            return Ok(answer);
        }
        self.credentials.forget(&token);
        let token = self.credentials.token().await?;
        self.api.send(method, url, Some(&token), body).await
    }

    async fn read(&self, name: &str) -> Result<Read, VaultError> {
        let url = self.api.url(self.segments("data", name)?);
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        match answer.status {
            200 => {}
            404 => {
                return Ok(Read {
                    data: BTreeMap::new(),
                    // A deleted or destroyed latest version still counts.
                    version: answer.body["data"]["metadata"]["version"]
                        .as_u64()
                        .unwrap_or(0),
                });
            }
            _ => return Err(self.api.failure(&answer, Some(name)).await),
        }
        let version = answer.body["data"]["metadata"]["version"]
            .as_u64()
            .unwrap_or(0);
        let data = match &answer.body["data"]["data"] {
            Json::Object(values) => values
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), Zeroizing::new(text))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Read { data, version })
    }

    /// Writes `data` as the version after `version`; `Ok(false)` when
    /// another writer got there first (a cas mismatch).
    async fn write(
        &self,
        name: &str,
        data: &BTreeMap<String, Zeroizing<String>>,
        version: u64,
    ) -> Result<bool, VaultError> {
        let values: serde_json::Map<String, Json> = data
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.as_str().to_owned())))
            .collect();
        let body = json!({"options": {"cas": version}, "data": values});
        let url = self.api.url(self.segments("data", name)?);
        let answer = self.call(reqwest::Method::POST, url, Some(&body)).await?;
        match answer.status {
            200 | 204 => Ok(true),
            400 if api::errors(&answer.body).contains("check-and-set") => Ok(false),
            _ => Err(self.api.failure(&answer, Some(name)).await),
        }
    }

    /// Merges `values` into the secret, reading again after each lost
    /// check-and-set race.
    async fn merge(&self, name: &str, values: &[(&str, &str)]) -> Result<(), VaultError> {
        for attempt in 0..CAS_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let Read { mut data, version } = self.read(name).await?;
            for (key, value) in values {
                data.insert((*key).to_owned(), Zeroizing::new((*value).to_owned()));
            }
            if self.write(name, &data, version).await? {
                return Ok(());
            }
        }
        Err(VaultError::Conflict(name.to_owned()))
    }
}

/// Up to `attempt` × 5 ms, at most 100 ms, jittered by the clock's
/// nanoseconds (no randomness needed: the writers only need to differ).
fn backoff(attempt: u32) -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let ceiling = (attempt * 5).min(100);
    std::time::Duration::from_millis(u64::from(nanos % (ceiling + 1)))
}

#[async_trait]
impl SecretStore for Kv2Store {
    fn vault_session(&self) -> Option<VaultSession> {
        Some(VaultSession {
            api: self.api.clone(),
            credentials: self.credentials.clone(),
        })
    }

    async fn get(&self, name: &str) -> Result<Secret, VaultError> {
        let read = self.read(name).await?;
        if read.data.is_empty() {
            return Err(VaultError::UndefinedSecret(name.to_owned()));
        }
        Ok(Secret::new(read.data))
    }

    async fn set(&self, name: &str, key: &str, value: &str) -> Result<(), VaultError> {
        self.merge(name, &[(key, value)]).await
    }

    async fn set_values(&self, name: &str, values: &[(&str, &str)]) -> Result<(), VaultError> {
        self.merge(name, values).await
    }

    async fn replace(
        &self,
        name: &str,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<(), VaultError> {
        let Read { mut data, version } = self.read(name).await?;
        if data.get(key).map(|v| v.as_str()) != expected {
            return Err(VaultError::Conflict(name.to_owned()));
        }
        data.insert(key.to_owned(), Zeroizing::new(new.to_owned()));
        if self.write(name, &data, version).await? {
            Ok(())
        } else {
            Err(VaultError::Conflict(name.to_owned()))
        }
    }

    /// The names under the mount; folders end with `/`, as Vault lists them.
    async fn list(&self) -> Result<Vec<String>, VaultError> {
        let mut url = self.api.url(self.mount.split('/').chain(["metadata"]));
        url.query_pairs_mut().append_pair("list", "true");
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        match answer.status {
            200 => {}
            404 => return Ok(Vec::new()),
            _ => return Err(self.api.failure(&answer, None).await),
        }
        let mut names: Vec<String> = answer.body["data"]["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Logs in if needed and asks the vault about the token, so a wrong
    /// token, a sealed or an unreachable vault is reported at start-up.
    async fn check(&self) -> Result<(), VaultError> {
        let url = self.api.url(["auth", "token", "lookup-self"]);
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        if answer.status == 200 {
            Ok(())
        } else {
            Err(self.api.failure(&answer, None).await)
        }
    }

    fn describe(&self) -> String {
        self.api.shown.clone()
    }
}
