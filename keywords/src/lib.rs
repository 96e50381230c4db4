//! The rpa-mfa keyword library: RPA.MFA's keywords and more, with no idea
//! of any wire protocol.
//!
//! [`library`] holds the registry and Robot-style argument binding,
//! [`value`] the values and types every protocol maps to, [`otp`] the
//! one-time-password keywords, [`vault`] where secrets come from and
//! [`state`] what keywords remember between calls. The server crate turns
//! XML-RPC or JSON-RPC into [`Library::run`] calls and back.

pub mod clock;
pub mod library;
pub mod otp;
pub mod state;
pub mod value;
pub mod vault;

use std::sync::Arc;

pub use library::{Call, Keyword, KeywordError, KeywordResult, Library, Outcome, Param};
pub use value::{Type, Value};

/// What every keyword call can reach besides its arguments.
pub struct Services {
    pub vault: Arc<dyn vault::SecretStore>,
    pub namespaces: state::Namespaces,
    pub clock: Arc<dyn clock::Clock>,
}

/// Every keyword this crate provides, in the order they are listed.
pub fn keywords() -> Vec<Keyword> {
    otp::keywords::all()
}

/// Short documentation shown as the library introduction.
pub const INTRO: &str = "\
rpa-mfa serves one-time passwords (TOTP and HOTP) and vault-backed MFA \
secrets to Robot Framework and to RPA bots in any language.

Its keywords are those of rpaframework's `RPA.MFA` with the same names, \
arguments and error texts, so a suite moves from `Library    RPA.MFA` to \
`Library    Remote    http://127.0.0.1:8270` unchanged. Beyond RPA.MFA: \
SHA256/SHA512, 6 to 8 digits, any period, secrets with spaces, dashes, \
lowercase or padding, `otpauth://` URIs, HOTP counters up to 2^64-1, and \
codes guaranteed to stay valid for a given number of seconds.

State set by keywords (the current secrets) belongs to a namespace: the \
default one at `/` and `/RPC2`, or the isolated one a suite picks with \
`http://host:8270/ns/NAME`.";

/// Documentation of the library's import, shown by libdoc.
pub const INIT_DOC: &str = "\
The server is configured when it starts, not on import: `rpa-mfa serve \
--secret NAME:KEY --mode TIME` does what RPA.MFA's import arguments \
`vault_name`, `vault_key` and `mode` do, for every namespace. Import it with \
`Library    Remote    http://127.0.0.1:8270` or, for state of its own, \
`Library    Remote    http://127.0.0.1:8270/ns/${SUITE NAME}`.";
