//! `rpa-mfa`: a Robot Framework remote server for MFA, and its command line.

mod commands;
mod config;
mod jsonrpc;
mod page;
mod remote;
mod server;
mod stop;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::commands::{KeywordsArgs, OtpArgs, VaultArgs};
use crate::config::ServeArgs;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rpa-mfa",
    version,
    about = "A Robot Framework remote server for one-time passwords and MFA secrets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the keyword library over XML-RPC (Robot's Remote) and JSON-RPC.
    Serve(ServeArgs),
    /// Print a one-time password, like oathtool.
    Otp(OtpArgs),
    /// Read or write secrets in a vault.
    Vault(VaultArgs),
    /// List the keywords with their arguments and documentation.
    Keywords(KeywordsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RPA_MFA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => server::serve(args).await,
            Command::Otp(args) => commands::otp(args).await,
            Command::Vault(args) => commands::vault(args).await,
            Command::Keywords(args) => {
                commands::keywords(args);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rpa-mfa: {message}");
            ExitCode::FAILURE
        }
    }
}
