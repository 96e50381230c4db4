//! The rpa-mfa keyword library: RPA.MFA's keywords and more, with no idea
//! of any wire protocol.
//!
//! [`library`] holds the registry and Robot-style argument binding,
//! [`value`] the values and types every protocol maps to, [`otp`] the
//! one-time-password keywords, [`oauth`] the OAuth2/OpenID client flows,
//! [`vault`] where secrets come from and [`state`] what keywords remember
//! between calls. The server crate turns XML-RPC or JSON-RPC into
//! [`Library::run`] calls and back.

pub mod clock;
pub mod error;
pub mod library;
pub mod oauth;
pub mod otp;
pub mod state;
pub mod value;
pub mod vault;

use std::sync::Arc;

pub use error::{KeywordError, KeywordResult};
pub use library::{Call, Keyword, Library, Outcome, Param};
pub use value::{Type, Value};

/// What every keyword call can reach besides its arguments. Built only by
/// [`Services::new`], so a new service is added in one place.
pub struct Services {
    pub(crate) vault: Arc<dyn vault::SecretStore>,
    pub namespaces: state::Namespaces,
    pub clock: Arc<dyn clock::Clock>,
    pub oauth: oauth::OAuth,
}

impl Services {
    /// The services of a server: its vault, its state and its OAuth
    /// settings, on the wall clock.
    pub fn new(
        vault: Arc<dyn vault::SecretStore>,
        namespaces: state::Namespaces,
        oauth: oauth::Settings,
    ) -> Services {
        Services {
            vault,
            namespaces,
            clock: Arc::new(clock::SystemClock),
            oauth: oauth::OAuth::new(oauth),
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

    /// The same services on another clock, for tests.
    pub fn with_clock(mut self, clock: Arc<dyn clock::Clock>) -> Services {
        self.clock = clock;
        self
    }
}

/// Every keyword this crate provides, in the order they are listed.
pub fn keywords() -> Vec<Keyword> {
    let mut all = otp::keywords::all();
    all.extend(oauth::keywords::all());
    all
}
