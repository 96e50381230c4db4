//! Log output: `tracing` lines on stderr, as text or as one JSON object
//! per line. What is logged never holds secrets: calls log names, status
//! and time, never argument values; failed logins name configured users
//! only.

pub mod keyword_line;
mod one_writer;
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
/// async-imap traces every IMAP command and answer: `LOGIN` passwords,
/// XOAUTH2 tokens, messages with their codes. tungstenite (the WebSocket
/// frames, through the `log` bridge) writes every frame and message.
const REQUEST_DUMPERS: &[&str] = &[
    "jsonrpsee",
    "async_imap",
    "tungstenite",
    "tokio_tungstenite",
];

/// Installs the process-wide subscriber with a filter such as `info` or
/// `rpa_mfa=debug,warn`.
pub fn init(filter_text: &str, format: LogFormat) -> Result<(), String> {
    let chosen =
        EnvFilter::try_new(filter_text).map_err(|e| format!("--log '{filter_text}': {e}"))?;
    let caps = REQUEST_DUMPERS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |caps, t| caps.with_target(*t, LevelFilter::DEBUG),
    );
    // An event is written when the chosen filter and the caps both let it.
    let filter = chosen.and(caps);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let ansi = std::io::stderr().is_terminal();
    let direct = format == LogFormat::Text && !ansi && keyword_line::static_filter(filter_text);
    let layer = match format {
        // The default layout with a cheaper timer and field writer: one
        // line per keyword call is on the hot path.
        LogFormat::Text => lines
            .with_ansi(ansi)
            .fmt_fields(text::PlainFields)
            .with_timer(text::CachedSecondTime)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    };
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|e| e.to_string())?;
    // The filter decides by target and level alone: asked once here.
    if direct {
        let on = tracing::enabled!(target: keyword_line::TARGET, tracing::Level::INFO);
        keyword_line::set_mode(if on {
            keyword_line::KeywordLine::Direct
        } else {
            keyword_line::KeywordLine::Off
        });
    }
    Ok(())
}
