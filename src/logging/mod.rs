//! Log output: `tracing` lines on stderr, as text or as one JSON object
//! per line. What is logged never holds secrets: calls log names, status
//! and time, never argument values; failed logins name configured users
//! only.

mod text;

use std::io::IsTerminal;

use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// Targets whose trace output holds whole requests (headers with
/// credentials, bodies with secrets): capped at debug whatever the filter.
/// A cap only: at the default `info` their debug lines stay out too.
/// tungstenite (the WebSocket frames, through the `log` bridge) writes
/// every frame and message at trace.
const REQUEST_DUMPERS: &[&str] = &["jsonrpsee", "tungstenite", "tokio_tungstenite"];

/// Installs the process-wide subscriber with a filter such as `info` or
/// `rpa_mfa=debug,warn`.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let chosen = EnvFilter::try_new(filter).map_err(|e| format!("--log '{filter}': {e}"))?;
    let caps = REQUEST_DUMPERS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, t| caps.with_target(*t, LevelFilter::DEBUG),
    );
    // An event is written when the chosen filter and the caps both let it.
    let filter = chosen.and(caps);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        // The default layout with a cheaper timer and field writer: one
        // line per keyword call is on the hot path.
        LogFormat::Text => lines
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(text::PlainFields)
            .with_timer(text::CachedSecondTime)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    };
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|e| e.to_string())
}
