//! MFA service clients: second factors a robot cannot compute itself. A
//! service (privacyIDEA, OpenBao's TOTP engine, an in-house REST API)
//! checks a code a person typed, or pushes an approval request to their
//! phone and reports the answer.
//!
//! Every kind implements [`MfaProvider`] ([`provider`]) and is registered
//! in [`kinds`]; the config file's `[mfa.NAME]` tables ([`config`]) become
//! the server's [`Providers`] ([`registry`]), which check the caller's
//! allow lists. [`dispatch`] is the one path of every keyword: a code
//! checks, no code pushes, and the three failures of [`error`] reach Robot
//! under their own names.

pub mod config;
pub mod dispatch;
pub mod error;
pub mod keywords;
pub mod kinds;
mod openbao_totp;
mod privacyidea;
pub mod provider;
pub mod registry;
mod rest;
mod rest_fields;

pub use config::{ProviderConfig, ProviderSettings, DEFAULT_TIMEOUT};
pub use error::MfaError;
pub use provider::{Answer, Context, MfaProvider};
pub use registry::{Provider, Providers};
