//! `rpa-mfa`: a Robot Framework remote server for MFA, and its command line.
//! A thin shell over the `rpa_mfa` library: parse the command line, start
//! logging and the runtime, run the subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rpa_mfa::commands::{self, KeywordsArgs, OtpArgs, VaultArgs};
use rpa_mfa::config::{LogFormat, Settings};
use rpa_mfa::{logging, server};

#[derive(Parser)]
#[command(
    name = "rpa-mfa",
    version,
    about = "A Robot Framework remote server for one-time passwords, OAuth2/OpenID logins and MFA secrets",
    long_about = "A Robot Framework remote server for one-time passwords, OAuth2/OpenID \
                  Connect logins (authorization code with PKCE, client credentials, device \
                  flow, refresh, ID tokens) and MFA secrets: RPA.MFA's keywords and more, \
                  over XML-RPC (Library  Remote) and JSON-RPC.",
    after_help = "Start a server with `rpa-mfa serve`, then import it with \
                  `Library    Remote    http://127.0.0.1:8270`; `rpa-mfa keywords` lists what it offers."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the keyword library over XML-RPC (Robot's Remote) and JSON-RPC.
    ///
    /// Each setting comes from its flag, else its environment variable, else
    /// the --config file, else the default.
    Serve(Box<Settings>),
    /// Print a one-time password, like oathtool.
    Otp(OtpArgs),
    /// Read or write secrets in a vault.
    Vault(VaultArgs),
    /// List the keywords with their arguments and documentation.
    Keywords(KeywordsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rpa-mfa: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let serve_config = match &cli.command {
        Command::Serve(settings) => {
            let settings = Settings::clone(settings);
            let config = settings.resolve(|name| std::env::var(name).ok())?;
            logging::init(&config.log_filter, config.log_format)?;
            Some(config)
        }
        _ => {
            let filter = std::env::var("RPA_MFA_LOG").unwrap_or_else(|_| "info".into());
            logging::init(&filter, LogFormat::Text)
                .or_else(|_| logging::init("info", LogFormat::Text))?;
            None
        }
    };
    // Workers batch their keyword lines until they run out of work.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(logging::keyword_line::batch_on_this_thread)
        .on_thread_park(logging::keyword_line::flush_this_thread)
        .on_thread_stop(logging::keyword_line::flush_this_thread)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => server::serve(serve_config.expect("resolved above")).await,
            Command::Otp(args) => commands::otp(args).await,
            Command::Vault(args) => commands::vault(args).await,
            Command::Keywords(args) => {
                commands::keywords(args);
                Ok(())
            }
        }
    })
}
