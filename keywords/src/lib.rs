//! The rpa-mfa keyword library: RPA.MFA's keywords and more, with no idea
//! of any wire protocol.
//!
//! [`access`] is the policy every call carries (who calls, which
//! namespace and resources they may reach), [`library`] holds the registry and Robot-style argument binding,
//! [`value`] the values and types every protocol maps to, [`otp`] the
//! one-time-password keywords, [`qr`] enrollment from QR codes, [`oauth`]
//! the OAuth2/OpenID client flows,
//! [`vault`] where secrets come from, [`mfa`] the MFA service clients,
//! [`email`] and [`sms`] codes that arrive by e-mail and SMS, and
//! [`state`] what keywords remember between calls. The server crate turns
//! XML-RPC or JSON-RPC into
//! [`Library::run`] calls and back.

pub mod access;
pub mod clock;
pub mod code_pattern;
pub mod email;
pub mod error;
pub mod http_clients;
pub mod identity;
pub mod library;
pub mod mfa;
pub mod oauth;
pub mod otp;
pub mod qr;
pub mod sms;
pub mod state;
pub mod stopping;
pub mod value;
pub mod vault;

use std::sync::Arc;

pub use error::{KeywordError, KeywordResult};
pub use library::{Call, Keyword, Library, Outcome, Param};
pub use value::{Type, Value};

/// What every keyword call can reach besides its arguments. Built only by
/// [`Services::new`], so a new service is added in one place.
pub struct Services {
    /// Every configured vault; keywords reach them through
    /// [`access::Access::vault`], which checks the caller's allow list.
    pub(crate) vaults: vault::Vaults,
    pub namespaces: state::Namespaces,
    pub clock: Arc<dyn clock::Clock>,
    pub oauth: oauth::OAuth,
    /// The auth profiles of the config file (`[profiles.NAME]`).
    pub profiles: oauth::profile::Profiles,
    /// The MFA service providers of the config file (`[mfa.NAME]`).
    pub mfa: mfa::Providers,
    /// The mailboxes of the config file (`[mailboxes.NAME]`).
    pub mailboxes: email::Mailboxes,
    /// The identity platforms of the config file (`[identities.NAME]`).
    pub identities: identity::Identities,
    /// Fires when the server stops: every wait ends then (see [`stopping`]).
    pub stopping: stopping::Stopping,
    /// The longest any keyword may wait (`--max-wait`): every `timeout`
    /// argument is checked against it, and waits without one end by it.
    pub(crate) max_wait: std::time::Duration,
    /// The only directory keywords may read and write images in by path
    /// (`--qr-dir`); `None`: paths are refused.
    pub(crate) qr_dir: Option<Arc<qr::QrDir>>,
    /// The SMS numbers' queues, fed by the server's webhooks.
    pub sms: sms::SmsInbox,
}

/// `--max-wait`'s default: 15 minutes, longer than any login a person
/// completes, short enough that a forgotten wait frees its task.
pub const DEFAULT_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(900);

impl Services {
    /// The services of a server: its vaults (one store is the default
    /// vault alone), its state and its OAuth settings, on the wall clock.
    pub fn new(
        vaults: impl Into<vault::Vaults>,
        namespaces: state::Namespaces,
        oauth: oauth::Settings,
    ) -> Services {
        let mut oauth = oauth::OAuth::new(oauth);
        // A redirect reaching any server of a fleet finds its flow.
        oauth.callbacks = oauth::CallbackInbox::for_store(
            namespaces.store().clone(),
            namespaces.state_key().clone(),
        );
        let sms = sms::SmsInbox::new(
            Default::default(),
            namespaces.store().clone(),
            namespaces.state_key().clone(),
        );
        Services {
            sms,
            vaults: vaults.into(),
            namespaces,
            clock: Arc::new(clock::SystemClock),
            oauth,
            profiles: Default::default(),
            mfa: Default::default(),
            mailboxes: Default::default(),
            identities: Default::default(),
            stopping: Default::default(),
            max_wait: DEFAULT_MAX_WAIT,
            qr_dir: None,
        }
    }

    /// Services that touch nothing outside the process (environment
    /// vault, state in memory), for listings and tests.
    pub fn offline() -> Services {
        Services::new(
            Arc::new(vault::EnvStore::new()),
            state::Namespaces::in_memory(),
            oauth::Settings::default(),
        )
    }

    /// The configured vaults. Code acting for a keyword goes through
    /// [`access::Access::vault`] instead, which checks the allow lists.
    pub fn vaults(&self) -> &vault::Vaults {
        &self.vaults
    }

    /// The same services with these auth profiles.
    pub fn with_profiles(mut self, profiles: oauth::profile::Profiles) -> Services {
        self.profiles = profiles;
        self
    }

    /// The same services with these identity platforms.
    pub fn with_identities(mut self, identities: identity::Identities) -> Services {
        self.identities = identities;
        self
    }

    /// The same services with these MFA providers.
    pub fn with_mfa(mut self, mfa: mfa::Providers) -> Services {
        self.mfa = mfa;
        self
    }

    /// The same services with these SMS numbers (`[sms_numbers.NUMBER]`).
    pub fn with_sms(mut self, settings: sms::SmsSettings) -> Services {
        self.sms = sms::SmsInbox::new(
            settings,
            self.namespaces.store().clone(),
            self.namespaces.state_key().clone(),
        );
        self
    }

    /// The same services with these mailboxes.
    pub fn with_mailboxes(mut self, mailboxes: email::Mailboxes) -> Services {
        self.mailboxes = mailboxes;
        self
    }

    /// The same services with another `--max-wait`.
    pub fn with_max_wait(mut self, max_wait: std::time::Duration) -> Services {
        self.max_wait = max_wait;
        self
    }

    /// The same services with a QR directory (`--qr-dir`).
    pub fn with_qr_dir(mut self, qr_dir: Option<qr::QrDir>) -> Services {
        self.qr_dir = qr_dir.map(Arc::new);
        self
    }

    /// The same services, whose waits end when `stopping` fires.
    pub fn with_stopping(mut self, stopping: stopping::Stopping) -> Services {
        self.stopping = stopping;
        self
    }

    /// The same services on another clock, for tests.
    pub fn with_clock(mut self, clock: Arc<dyn clock::Clock>) -> Services {
        self.clock = clock;
        self
    }
}

/// Every keyword this crate provides, in the order they are listed.
pub fn keywords() -> Vec<Keyword> {
    let mut all = otp::keywords::all();
    all.extend(otp::verify::all());
    all.extend(oauth::keywords::all());
    all.extend(oauth::profile::keywords::all());
    all.extend(identity::keywords::all());
    all.extend(vault::keywords::all());
    all.extend(qr::keywords::all());
    all.extend(mfa::keywords::all());
    all.extend(sms::keywords::all());
    all.extend(email::keywords::all());
    all
}
