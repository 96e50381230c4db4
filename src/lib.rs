//! The rpa-mfa server as a library: the wire codecs, the remote API, the
//! router and the command-line subcommands. `src/main.rs` is a thin shell
//! over it, and fuzz targets, benches and tests link it directly.
//!
//! The keyword library itself lives in the `rpa-mfa-keywords` crate and
//! knows no wire; everything here is about wires and processes:
//! [`remote`] (the Robot remote API and its XML-RPC codec), [`jsonrpc`]
//! (the same API over JSON-RPC), [`server`] (the one axum router),
//! [`direct`] (the calls answered before the router) and
//! [`answer_body`] (the body they answer with), [`listen`]
//! (connections and their limits, and the call loop in front of hyper)
//! with [`http1`] (that loop's HTTP/1.1 framing),
//! [`auth`], [`gate`] (the authorization gate every entry point passes),
//! [`tls`], [`config`], [`logging`], [`metrics`], [`ops`]
//! (`/health`, `/metrics`), [`page`] (the keyword page), [`stop`] and
//! [`commands`] (the `otp`, `vault` and `keywords` subcommands),
//! [`sms`] (the SMS webhooks) and [`vaults`] (opening the configured vaults).

pub mod answer_body;
pub mod auth;
pub mod commands;
pub mod config;
pub mod direct;
pub mod gate;
pub mod http1;
pub mod jsonrpc;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod page;
pub mod remote;
pub mod server;
pub mod sms;
pub mod stop;
pub mod tls;
pub mod vaults;
pub mod whole_body;
