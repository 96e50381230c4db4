//! The registration point of provider kinds: each `kind = "..."` the
//! config file accepts, and the function that builds it from the shared
//! settings and its own sub-table. A new kind is one module and one line
//! in [`KINDS`].

use std::sync::Arc;

use super::{MfaProvider, ProviderSettings};

/// Builds a provider from its checked shared settings and its sub-table
/// (`[mfa.NAME.KIND]`, `Null` when absent). Errors name the field; the
/// caller prefixes the provider's name.
pub type Builder =
    fn(&ProviderSettings, &serde_json::Value) -> Result<Arc<dyn MfaProvider>, String>;

/// Every kind, by the name the config file gives it.
pub const KINDS: &[(&str, Builder)] = &[
    ("privacyidea", super::privacyidea::build),
    ("openbao-totp", super::openbao_totp::build),
    ("rest", super::rest::build),
];

/// The kinds' names, for error messages.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|(name, _)| *name).collect()
}

/// Reads a kind's sub-table into its typed form; `Null` (no sub-table) is
/// an empty table. Unknown keys are errors when `T` denies them.
pub fn kind_table<T: serde::de::DeserializeOwned>(
    settings: &ProviderSettings,
    table: &serde_json::Value,
) -> Result<T, String> {
    let table = match table {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other.clone(),
    };
    serde_json::from_value(table).map_err(|e| format!("{}: {e}", table_name(settings)))
}

/// How the config file names a provider's sub-table, for error messages:
/// `[mfa.NAME.KIND]`.
pub fn table_name(settings: &ProviderSettings) -> String {
    format!("[mfa.{}.{}]", settings.name, settings.kind)
}
