//! Who is calling and what they may reach: the policy every call carries.
//!
//! The server authenticates a caller ([`Identity`]) and its gate opens the
//! namespace of the call with [`Access::open`], which refuses a pinned
//! user anywhere but their namespace. `Access::open` is the only way to get
//! a namespace's state from outside this crate and [`Library::run`] takes
//! an `Access`, so no entry point (XML-RPC, JSON-RPC, a subscription, a
//! webhook to come) can reach a namespace past the check.
//!
//! Named resources (vaults, auth profiles and SMS numbers today; MFA
//! providers and mailboxes later) are allowed by the [`Policy`]: with no allow list,
//! every unpinned caller; with one, only the users and namespaces it lists.
//! The secrets the server itself uses (its users' passwords and tokens) are
//! never readable by a keyword, whoever asks.
//!
//! [`Library::run`]: crate::Library::run

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::state::{Namespace, NamespaceLimit, Namespaces};
use crate::vault::{SecretStore, Vaults};
use crate::KeywordError;

/// The name of the unnamed vault (`--vault SPEC`); named ones come from
/// `--vault NAME=SPEC`.
pub const DEFAULT_VAULT: &str = "default";

/// An authenticated caller. Shared (`Arc<str>`) so that building one per
/// request costs no allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: Arc<str>,
    /// The only namespace this user may call in, if pinned.
    pub pinned: Option<Arc<str>>,
}

impl Identity {
    /// Whether an allow-list entry names this caller: their user name
    /// (ignoring ASCII case) or the namespace they are pinned to (exact).
    pub fn is_named_by(&self, entry: &str) -> bool {
        entry.eq_ignore_ascii_case(&self.user) || self.pinned.as_deref() == Some(entry)
    }
}

/// The kinds of named resources a policy governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Vault,
    /// An auth profile (`[profiles.NAME]`): its allow list is checked on
    /// every profile keyword.
    Profile,
    /// An MFA service provider (`[mfa.NAME]`).
    MfaProvider,
    /// An SMS number (`[sms_numbers."+1..."]`): its allow list is checked
    /// by `Wait For OTP In SMS`.
    SmsNumber,
    /// A mailbox (`[mailboxes.NAME]`): checked by the e-mail keywords.
    Mailbox,
    /// An identity platform (`[identities.NAME]`): its allow list is
    /// checked on every identity keyword.
    Identity,
    /// The `--qr-dir` directory, reached by file paths: images other
    /// robots left there hold their secrets.
    QrDir,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Vault => "vault",
            ResourceKind::Profile => "auth profile",
            ResourceKind::MfaProvider => "MFA provider",
            ResourceKind::SmsNumber => "SMS number",
            ResourceKind::Mailbox => "mailbox",
            ResourceKind::Identity => "identity",
            ResourceKind::QrDir => "the QR directory",
        }
    }
}

/// Which callers may use which named resources, and which secrets no
/// keyword may read. Built once by the server from its settings.
#[derive(Debug, Default)]
pub struct Policy {
    /// Resources with an allow list: user names or namespaces.
    allow: Vec<(ResourceKind, String, Vec<String>)>,
    /// Secret names reserved for the server in every vault.
    reserved_secrets: Vec<String>,
}

impl Policy {
    /// Lets only `who` (user names, compared ignoring ASCII case, or
    /// namespaces a user is pinned to) use the resource.
    pub fn allow(mut self, kind: ResourceKind, name: &str, who: Vec<String>) -> Policy {
        self.allow.push((kind, name.to_owned(), who));
        self
    }

    /// Keeps a secret out of every keyword's reach, in every vault.
    pub fn reserve_secret(mut self, name: &str) -> Policy {
        self.reserved_secrets.push(name.to_owned());
        self
    }

    /// Whether `identity` (None: authentication is off) may use a resource.
    pub fn permits(&self, identity: Option<&Identity>, kind: ResourceKind, name: &str) -> bool {
        let listed = self
            .allow
            .iter()
            .find(|(k, n, _)| *k == kind && n == name)
            .map(|(_, _, who)| who);
        match (listed, identity) {
            (None, None) => true,
            (None, Some(identity)) => identity.pinned.is_none(),
            (Some(_), None) => false,
            (Some(who), Some(identity)) => who.iter().any(|entry| identity.is_named_by(entry)),
        }
    }

    fn is_reserved(&self, secret: &str) -> bool {
        self.reserved_secrets.iter().any(|s| s == secret)
    }
}

/// Why the gate turned a call away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A pinned user called in another namespace.
    OutsideNamespace {
        user: Arc<str>,
        pinned: Arc<str>,
        namespace: String,
    },
    /// A new namespace past `--max-namespaces`.
    NamespaceLimit(NamespaceLimit),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OutsideNamespace {
                user,
                pinned,
                namespace,
            } => write!(
                f,
                "User '{user}' may only call namespace '{pinned}', not '{namespace}'."
            ),
            Refusal::NamespaceLimit(limit) => write!(f, "{limit}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// One admitted call: who is calling, the namespace opened for it, and the
/// policy its keywords ask before using a named resource.
#[derive(Clone)]
pub struct Access {
    identity: Option<Identity>,
    ns: Arc<Namespace>,
    policy: Arc<Policy>,
}

impl Access {
    /// Opens `namespace` for `identity` (None: authentication is off), or
    /// refuses a pinned user outside their namespace. The namespace is
    /// created only once the call is admitted.
    pub async fn open(
        namespaces: &Namespaces,
        policy: &Arc<Policy>,
        identity: Option<&Identity>,
        namespace: &str,
    ) -> Result<Access, Refusal> {
        if let Some(identity) = identity {
            if let Some(pinned) = identity.pinned.as_ref().filter(|p| ***p != *namespace) {
                return Err(Refusal::OutsideNamespace {
                    user: identity.user.clone(),
                    pinned: pinned.clone(),
                    namespace: namespace.to_owned(),
                });
            }
        }
        Ok(Access {
            identity: identity.cloned(),
            ns: namespaces
                .get(namespace)
                .await
                .map_err(Refusal::NamespaceLimit)?,
            policy: policy.clone(),
        })
    }

    /// The namespace's state.
    pub fn namespace(&self) -> &Arc<Namespace> {
        &self.ns
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    pub fn user(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| &*i.user)
    }

    /// Fails with `PermissionError` unless the caller may use the resource.
    pub fn check(&self, kind: ResourceKind, name: &str) -> Result<(), KeywordError> {
        if self.policy.permits(self.identity.as_ref(), kind, name) {
            return Ok(());
        }
        Err(KeywordError::new(
            "PermissionError",
            format!(
                "User '{}' may not use {} '{name}'.",
                self.user().unwrap_or("(anonymous)"),
                kind.as_str()
            ),
        ))
    }

    /// Reads one value from a vault the caller may use; the secrets the
    /// server keeps for itself are refused before the vault is asked.
    pub async fn vault_value(
        &self,
        vault: &dyn SecretStore,
        vault_name: &str,
        secret: &str,
        key: &str,
    ) -> Result<Zeroizing<String>, KeywordError> {
        self.check(ResourceKind::Vault, vault_name)?;
        self.check_secret(secret)?;
        Ok(vault.get_value(secret, key).await?)
    }

    /// The vault `name` (None: the default one) for reading or writing
    /// `secret`, if the caller may use that vault and the secret is not
    /// one of the server's own. Every keyword that touches a vault gets
    /// its store here.
    pub fn vault<'v>(
        &self,
        vaults: &'v Vaults,
        name: Option<&str>,
        secret: &str,
    ) -> Result<&'v Arc<dyn SecretStore>, KeywordError> {
        let name = name.unwrap_or(DEFAULT_VAULT);
        self.check(ResourceKind::Vault, name)?;
        self.check_secret(secret)?;
        Ok(vaults.get(Some(name))?)
    }

    /// Refuses the secrets holding the server's own credentials.
    fn check_secret(&self, secret: &str) -> Result<(), KeywordError> {
        if self.policy.is_reserved(secret) {
            return Err(KeywordError::new(
                "PermissionError",
                format!(
                    "Secret '{secret}' holds the server's own credentials; no keyword may read or write it."
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, pinned: Option<&str>) -> Identity {
        Identity {
            user: user.into(),
            pinned: pinned.map(Into::into),
        }
    }

    #[test]
    fn without_an_allow_list_only_unpinned_callers_may_use_a_resource() {
        let policy = Policy::default();
        let vault = |id: Option<&Identity>| policy.permits(id, ResourceKind::Vault, "default");
        assert!(vault(None), "authentication off");
        assert!(vault(Some(&who("alice", None))));
        assert!(!vault(Some(&who("bot7", Some("teamA")))));
    }

    #[test]
    fn an_allow_list_names_users_or_pinned_namespaces() {
        let policy = Policy::default().allow(
            ResourceKind::Vault,
            "default",
            vec!["Alice".into(), "teamC".into()],
        );
        let vault = |id: Option<&Identity>| policy.permits(id, ResourceKind::Vault, "default");
        assert!(vault(Some(&who("alice", None))), "user names ignore case");
        assert!(vault(Some(&who("carol", Some("teamC")))));
        assert!(!vault(Some(&who("bot7", Some("teamA")))));
        assert!(!vault(Some(&who("dash", None))), "unlisted, unpinned");
        assert!(
            !vault(Some(&who("erin", Some("teamc")))),
            "namespaces are exact"
        );
        assert!(!vault(None));
        assert!(
            policy.permits(Some(&who("dash", None)), ResourceKind::Vault, "other"),
            "another vault has no list"
        );
    }

    #[tokio::test]
    async fn a_pinned_user_opens_only_their_namespace() {
        let namespaces = Namespaces::in_memory();
        let policy = Arc::new(Policy::default());
        let bot = who("bot7", Some("teamA"));
        let refused = Access::open(&namespaces, &policy, Some(&bot), "teamB")
            .await
            .err();
        assert_eq!(
            refused.map(|r| r.to_string()).as_deref(),
            Some("User 'bot7' may only call namespace 'teamA', not 'teamB'.")
        );
        assert_eq!(namespaces.len(), 0, "a refused call creates nothing");
        let access = Access::open(&namespaces, &policy, Some(&bot), "teamA")
            .await
            .unwrap();
        assert_eq!(access.namespace().name(), "teamA");
        assert!(
            Access::open(&namespaces, &policy, Some(&who("a", None)), "x")
                .await
                .is_ok()
        );
        assert!(Access::open(&namespaces, &policy, None, "y").await.is_ok());
    }

    #[tokio::test]
    async fn reserved_secrets_are_refused_before_the_vault_is_asked() {
        let namespaces = Namespaces::in_memory();
        let policy = Arc::new(Policy::default().reserve_secret("rpa-users"));
        let access = Access::open(&namespaces, &policy, None, "").await.unwrap();
        // The env store would answer "Undefined secret" if it were asked.
        let vault = crate::vault::EnvStore::new();
        let err = access
            .vault_value(&vault, DEFAULT_VAULT, "rpa-users", "alice")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "PermissionError: Secret 'rpa-users' holds the server's own credentials; \
             no keyword may read or write it."
        );
        let err = access
            .vault_value(&vault, DEFAULT_VAULT, "other", "k")
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "KeyError: 'Undefined secret: other'");
    }

    #[tokio::test]
    async fn vault_checks_the_named_vaults_allow_list_and_reserved_secrets() {
        let namespaces = Namespaces::in_memory();
        let policy = Arc::new(
            Policy::default()
                .allow(ResourceKind::Vault, "bao", vec!["alice".into()])
                .reserve_secret("fleet"),
        );
        let vaults = Vaults::single(Arc::new(crate::vault::EnvStore::new()))
            .with("bao", Arc::new(crate::vault::EnvStore::new()));
        let alice = who("alice", None);
        let access = Access::open(&namespaces, &policy, Some(&alice), "")
            .await
            .unwrap();
        assert!(access.vault(&vaults, Some("bao"), "mfa").is_ok());
        assert!(access.vault(&vaults, None, "mfa").is_ok());
        let err = access.vault(&vaults, Some("bao"), "fleet").err().unwrap();
        assert!(err.to_string().contains("Secret 'fleet' holds"), "{err}");
        let err = access.vault(&vaults, Some("kv"), "mfa").err().unwrap();
        assert!(err.to_string().contains("no vault named 'kv'"), "{err}");
        let dash = who("dash", None);
        let access = Access::open(&namespaces, &policy, Some(&dash), "")
            .await
            .unwrap();
        let err = access.vault(&vaults, Some("bao"), "mfa").err().unwrap();
        assert_eq!(
            err.to_string(),
            "PermissionError: User 'dash' may not use vault 'bao'."
        );
        assert!(
            access.vault(&vaults, None, "mfa").is_ok(),
            "no list: unpinned may"
        );
    }
}
