//! `keyring:` and `keyring:SERVICE`: secrets in the OS keyring (the Secret
//! Service on Linux, the Keychain on macOS, the Credential Manager on
//! Windows) through keyring-core.
//!
//! One keyring entry per value: service `SERVICE` (default `rpa-mfa`),
//! user `NAME:KEY`, the value as the password. That is what a person sees
//! and types in Seahorse or `secret-tool store --label=x service rpa-mfa
//! username mfa:otpsecret`, and it lets the Secret Service list a secret's
//! keys by searching for the service. The key is the text after the last
//! `:`, as in a secret reference.
//!
//! The keyring API blocks (D-Bus round trips, and a locked keyring may
//! want to show an unlock prompt): every call runs on one dedicated thread
//! and is awaited for at most [`CALL_TIMEOUT`]. On Linux a locked
//! collection is detected before keyring-core touches it, so no unlock
//! prompt is ever asked for.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use zeroize::Zeroizing;

use super::{Secret, SecretStore, VaultError};

/// The keyring service when the spec names none.
pub const DEFAULT_SERVICE: &str = "rpa-mfa";
/// The longest a keyword waits for the keyring.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Calls queued behind a slow one before new ones are refused.
const QUEUE: usize = 64;

const LOCKED: &str = "the keyring is locked; unlock it (log in to the desktop session, \
     or `gnome-keyring-daemon --unlock` on a headless runner) and try again";

/// A connection to the keyring, owned by the worker thread.
#[derive(Default)]
struct Session {
    store: Option<Arc<CredentialStore>>,
    #[cfg(target_os = "linux")]
    bus: Option<zbus::blocking::Connection>,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

pub struct KeyringStore {
    service: String,
    jobs: mpsc::SyncSender<Job>,
}

impl KeyringStore {
    /// A store for `service`; connects on first use, not here.
    pub fn new(service: &str) -> Result<KeyringStore, VaultError> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("keyring".into())
            .spawn(move || {
                let mut session = Session::default();
                // Ends when the store, and with it the sender, is dropped.
                for job in queue {
                    job(&mut session);
                }
            })
            .map_err(|e| VaultError::Backend(format!("cannot start the keyring thread: {e}")))?;
        Ok(KeyringStore {
            service: service.to_owned(),
            jobs,
        })
    }

    /// Runs `call` on the keyring thread, waiting at most [`CALL_TIMEOUT`].
    async fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Session, &str) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let service = self.service.clone();
        let job: Job = Box::new(move |session| {
            // A caller that gave up is not served late.
            if !reply.is_closed() {
                let result = call(session, &service);
                if matches!(result, Err(VaultError::Backend(_))) {
                    // Reconnect next time: the daemon may have restarted.
                    *session = Session::default();
                }
                let _ = reply.send(result);
            }
        });
        self.jobs.try_send(job).map_err(|_| {
            VaultError::Backend(format!(
                "the keyring is not answering ({QUEUE} calls are waiting for it)"
            ))
        })?;
        match tokio::time::timeout(CALL_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(VaultError::Backend("the keyring thread stopped".into())),
            Err(_) => Err(VaultError::Backend(format!(
                "the keyring did not answer within {} s (is it locked and waiting \
                 for an unlock prompt?)",
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }
}

impl Session {
    /// The platform's store, connected on first use.
    fn store(&mut self) -> Result<Arc<CredentialStore>, VaultError> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        let store = platform_store().map_err(|e| {
            VaultError::Backend(format!(
                "cannot reach the OS keyring: {e}{}",
                if cfg!(target_os = "linux") {
                    " (is a Secret Service daemon such as gnome-keyring running, \
                     and DBUS_SESSION_BUS_ADDRESS set?)"
                } else {
                    ""
                }
            ))
        })?;
        self.store = Some(store.clone());
        Ok(store)
    }

    /// Fails with the locked-keyring error, without asking for an unlock,
    /// when entries of `service` (or, for a write, the collection new
    /// entries go to) are locked.
    #[cfg(target_os = "linux")]
    fn refuse_locked(&mut self, service: &str, writing: bool) -> Result<(), VaultError> {
        use zbus::zvariant::OwnedObjectPath;
        const DEST: &str = "org.freedesktop.secrets";
        let bus_error = |e: zbus::Error| {
            VaultError::Backend(format!(
                "cannot reach the OS keyring on the D-Bus session bus: {e}"
            ))
        };
        if self.bus.is_none() {
            self.bus = Some(zbus::blocking::Connection::session().map_err(bus_error)?);
        }
        let bus = self.bus.as_ref().expect("connected above");
        let attributes = HashMap::from([("service", service)]);
        let reply = bus
            .call_method(
                Some(DEST),
                "/org/freedesktop/secrets",
                Some("org.freedesktop.Secret.Service"),
                "SearchItems",
                &(attributes,),
            )
            .map_err(bus_error)?;
        let (_unlocked, locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            reply.body().deserialize().map_err(bus_error)?;
        if !locked.is_empty() {
            return Err(VaultError::Backend(LOCKED.into()));
        }
        if writing {
            // No default collection yet: keyring-core creates one.
            let default = zbus::blocking::Proxy::new(
                bus,
                DEST,
                "/org/freedesktop/secrets/aliases/default",
                "org.freedesktop.Secret.Collection",
            )
            .map_err(bus_error)?;
            if default.get_property::<bool>("Locked").unwrap_or(false) {
                return Err(VaultError::Backend(LOCKED.into()));
            }
        }
        Ok(())
    }

    /// Elsewhere the call's time bound is the only guard.
    #[cfg(not(target_os = "linux"))]
    fn refuse_locked(&mut self, _service: &str, _writing: bool) -> Result<(), VaultError> {
        Ok(())
    }

    /// Every `NAME:KEY` user of `service` with its entry.
    fn entries(&mut self, service: &str) -> Result<Vec<(String, Entry)>, VaultError> {
        self.refuse_locked(service, false)?;
        let store = self.store()?;
        let found = store
            .search(&HashMap::from([("service", service)]))
            .map_err(|e| keyring_error(e, service))?;
        Ok(found
            .into_iter()
            .filter_map(|entry| {
                let (entry_service, user) = entry.get_specifiers()?;
                (entry_service == service).then_some((user, entry))
            })
            .collect())
    }

    /// The keys and values of secret `name`.
    fn secret(&mut self, service: &str, name: &str) -> Result<Secret, VaultError> {
        let mut values = BTreeMap::new();
        for (user, entry) in self.entries(service)? {
            if let Some((entry_name, key)) = user.rsplit_once(':') {
                if entry_name == name && !key.is_empty() {
                    let value = entry
                        .get_password()
                        .map_err(|e| keyring_error(e, service))?;
                    values.insert(key.to_owned(), Zeroizing::new(value));
                }
            }
        }
        if values.is_empty() {
            return Err(VaultError::UndefinedSecret(name.to_owned()));
        }
        Ok(Secret::new(values))
    }

    fn value(
        &mut self,
        service: &str,
        name: &str,
        key: &str,
    ) -> Result<Zeroizing<String>, VaultError> {
        self.refuse_locked(service, false)?;
        let entry = self
            .store()?
            .build(service, &user_of(name, key), None)
            .map_err(|e| keyring_error(e, service))?;
        match entry.get_password() {
            Ok(value) => Ok(Zeroizing::new(value)),
            // Tell a missing key of a present secret from a missing secret.
            Err(KeyringError::NoEntry) => self.secret(service, name)?.value(key),
            Err(e) => Err(keyring_error(e, service)),
        }
    }

    fn set(&mut self, service: &str, name: &str, key: &str, value: &str) -> Result<(), VaultError> {
        self.refuse_locked(service, true)?;
        self.store()?
            .build(service, &user_of(name, key), None)
            .and_then(|entry| entry.set_password(value))
            .map_err(|e| keyring_error(e, service))
    }

    fn names(&mut self, service: &str) -> Result<Vec<String>, VaultError> {
        let mut names: Vec<String> = self
            .entries(service)?
            .into_iter()
            .filter_map(|(user, _)| Some(user.rsplit_once(':')?.0.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// The keyring user that holds key `key` of secret `name`.
fn user_of(name: &str, key: &str) -> String {
    format!("{name}:{key}")
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(any(
    target_os = "ios",
    target_os = "android",
    not(any(unix, target_os = "windows"))
))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(KeyringError::NotSupportedByStore(
        "no OS keyring on this platform".into(),
    ))
}

/// A keyring failure as a vault error. keyring-core's texts name the
/// platform's failure, never a value.
fn keyring_error(error: KeyringError, service: &str) -> VaultError {
    VaultError::Backend(match error {
        KeyringError::NoStorageAccess(_) => LOCKED.to_owned(),
        KeyringError::BadEncoding(_) => {
            format!("a keyring entry of service '{service}' is not UTF-8 text")
        }
        KeyringError::Ambiguous(entries) => format!(
            "{} keyring entries of service '{service}' have the same user; \
             delete all but one (Seahorse, or `secret-tool clear`)",
            entries.len()
        ),
        other => format!("the OS keyring failed: {other}"),
    })
}

#[async_trait]
impl SecretStore for KeyringStore {
    async fn get(&self, name: &str) -> Result<Secret, VaultError> {
        let name = name.to_owned();
        self.run(move |session, service| session.secret(service, &name))
            .await
    }

    async fn get_value(&self, name: &str, key: &str) -> Result<Zeroizing<String>, VaultError> {
        let (name, key) = (name.to_owned(), key.to_owned());
        self.run(move |session, service| session.value(service, &name, &key))
            .await
    }

    async fn set(&self, name: &str, key: &str, value: &str) -> Result<(), VaultError> {
        if key.contains(':') {
            return Err(VaultError::Backend(format!(
                "a key cannot contain ':' (it separates NAME:KEY): '{key}'"
            )));
        }
        let (name, key) = (name.to_owned(), key.to_owned());
        let value = Zeroizing::new(value.to_owned());
        self.run(move |session, service| session.set(service, &name, &key, &value))
            .await
    }

    async fn list(&self) -> Result<Vec<String>, VaultError> {
        self.run(|session, service| session.names(service)).await
    }

    fn describe(&self) -> String {
        format!(
            "keyring:{} (the OS keyring, service '{}', user NAME:KEY)",
            self.service, self.service
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lives_under_user_name_colon_key() {
        assert_eq!(user_of("mfa", "otpsecret"), "mfa:otpsecret");
        assert_eq!(user_of("team/mfa", "otp"), "team/mfa:otp");
    }

    #[test]
    fn errors_carry_no_value() {
        let err = keyring_error(
            KeyringError::BadEncoding(b"JBSWY3DPEHPK3PXP".to_vec()),
            "rpa-mfa",
        );
        assert!(!err.to_string().contains("JBSWY3DPEHPK3PXP"), "{err}");
        let err = keyring_error(KeyringError::NoStorageAccess("x".into()), "rpa-mfa");
        assert!(err
            .to_string()
            .starts_with("VaultError: the keyring is locked"));
    }
}
