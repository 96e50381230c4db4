//! Log output: `tracing` lines on stderr, as text or as one JSON object
//! per line. What is logged never holds secrets: calls log names, status
//! and time, never argument values; failed logins log the user name only.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Targets whose trace output holds whole requests (headers with
/// credentials, bodies with secrets): capped at debug whatever the filter.
const REQUEST_DUMPERS: &[&str] = &["jsonrpsee=debug"];

/// Installs the process-wide subscriber with a filter such as `info` or
/// `rpa_mfa=debug,warn`.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let mut filter = EnvFilter::try_new(filter).map_err(|e| format!("--log '{filter}': {e}"))?;
    for cap in REQUEST_DUMPERS {
        filter = filter.add_directive(cap.parse().expect("a valid directive"));
    }
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}
