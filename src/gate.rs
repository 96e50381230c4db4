//! The authorization gate: the one place every way into a namespace
//! passes — XML-RPC (`/`, `/RPC2`, `/ns/{name}`), JSON-RPC over HTTP and
//! WebSocket, the live-code subscription, and whatever comes later.
//!
//! Authentication ([`crate::auth`]) says who is calling; [`Gate::admit`]
//! turns that and the namespace asked for into an [`Access`], or a
//! `-32001` fault for a pinned user elsewhere. An `Access` is the only way
//! to run a keyword ([`rpa_mfa_keywords::Library::run`] takes one) or to
//! reach a namespace's state (the keyword crate keeps `Namespaces::get` to
//! itself), so a new entry point cannot skip the gate: it has nothing to
//! call without it. The `Access` carries the [`Policy`] that keyword
//! handlers ask before using a vault or another named resource.

use std::sync::Arc;

use rpa_mfa_keywords::access::{Access, Identity, Policy, Refusal, ResourceKind};
use rpa_mfa_keywords::library::shown_name;
use rpa_mfa_keywords::Services;

use crate::config::ServeConfig;
use crate::remote::{Fault, Protocol};

/// The gate over one server's namespaces.
pub struct Gate {
    services: Arc<Services>,
    policy: Arc<Policy>,
}

impl Gate {
    pub fn new(services: Arc<Services>, policy: Policy) -> Gate {
        Gate {
            services,
            policy: Arc::new(policy),
        }
    }

    /// Admits `identity` (None: authentication is off) into `namespace`
    /// for `what` (a method or subscription name, for the log), or refuses
    /// with a fault that names the user's own namespace. Refusals are
    /// logged and counted; nothing is created for them.
    pub async fn admit(
        &self,
        protocol: Protocol,
        identity: Option<&Identity>,
        namespace: &str,
        what: &str,
    ) -> Result<Access, Fault> {
        let refusal = match Access::open(
            &self.services.namespaces,
            &self.policy,
            identity,
            namespace,
        )
        .await
        {
            Ok(access) => return Ok(access),
            Err(refusal) => refusal,
        };
        // One arm per reason, so a new reason gets its own log and fault.
        match &refusal {
            Refusal::OutsideNamespace { user, pinned, .. } => {
                tracing::warn!(
                    protocol = protocol.as_str(),
                    namespace,
                    user = &**user,
                    pinned = &**pinned,
                    method = %shown_name(what).escape_debug(),
                    "refused: outside the user's namespace"
                );
                crate::metrics::auth_failure("namespace");
                Err(Fault::Forbidden(refusal.to_string()))
            }
            Refusal::NamespaceLimit(limit) => {
                tracing::warn!(
                    protocol = protocol.as_str(),
                    namespace,
                    max_namespaces = limit.max_count,
                    method = %shown_name(what).escape_debug(),
                    "refused: namespace limit reached"
                );
                Err(Fault::Forbidden(refusal.to_string()))
            }
        }
    }

    /// The services behind the namespaces (clock, OAuth), for entry points
    /// that need more than a keyword call.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }
}

/// The access policy a server's settings describe: each vault's allow
/// list (`--vault-allow`, `[vaults.NAME] allow`), and the secrets holding
/// the server's own credentials (`--users-secret`, `--tokens-secret`,
/// `--state-key`) out of every keyword's reach, in every vault.
pub fn policy(config: &ServeConfig) -> Policy {
    let mut policy = Policy::default();
    for vault in config.vaults.iter().filter(|v| !v.allow.is_empty()) {
        policy = policy.allow(ResourceKind::Vault, &vault.name, vault.allow.clone());
    }
    for profile in config.profiles.iter().filter(|p| !p.allow.is_empty()) {
        policy = policy.allow(ResourceKind::Profile, &profile.name, profile.allow.clone());
    }
    for identity in config.identities.iter().filter(|i| !i.allow.is_empty()) {
        policy = policy.allow(
            ResourceKind::Identity,
            &identity.name,
            identity.allow.clone(),
        );
    }
    for (name, provider) in config.mfa.iter().filter(|(_, p)| !p.allow.is_empty()) {
        policy = policy.allow(ResourceKind::MfaProvider, name, provider.allow.clone());
    }
    for (number, allow) in config.sms.settings.numbers.iter() {
        if !allow.is_empty() {
            policy = policy.allow(ResourceKind::SmsNumber, number, allow.clone());
        }
    }
    let webhook_secrets = [&config.sms.twilio_token, &config.sms.webhook_secret];
    for reference in webhook_secrets.into_iter().flatten() {
        policy = policy.reserve_secret(&reference.name);
    }
    for mailbox in config.mailboxes.iter().filter(|m| !m.allow.is_empty()) {
        policy = policy.allow(ResourceKind::Mailbox, &mailbox.name, mailbox.allow.clone());
    }
    let own = [&config.auth.users_secret, &config.auth.tokens_secret];
    for secret in own.into_iter().flatten() {
        policy = policy.reserve_secret(rpa_mfa_keywords::vault::split_vault(secret).1);
    }
    if let Some(state_key) = &config.state_key {
        policy = policy.reserve_secret(&state_key.name);
    }
    policy
}
