//! `rpa-mfa`: a Robot Framework remote server for MFA, and its command line.

mod config;
mod jsonrpc;
mod remote;
mod server;
mod stop;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rpa_mfa_keywords::clock::{Clock, SystemClock};
use rpa_mfa_keywords::library::ParamKind;
use rpa_mfa_keywords::otp::{check_digits, check_period, Algorithm, Kind, Options, OtpKey};
use rpa_mfa_keywords::state::{Namespaces, OtpState};
use rpa_mfa_keywords::value::DateTime;
use rpa_mfa_keywords::{vault, Library, Services};

use crate::config::ServeArgs;
use crate::remote::RemoteApi;
use crate::stop::StopSwitch;

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
    Keywords {
        /// Print what get_library_information returns, as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct OtpArgs {
    /// Base32 secret or otpauth:// URI; `-` reads it from standard input
    /// (keeps it out of the process list).
    secret: Option<String>,
    /// Take the secret from the vault instead: NAME:KEY.
    #[arg(long = "from-vault", value_name = "NAME:KEY", value_parser = config::parse_secret_ref, conflicts_with = "secret")]
    from_vault: Option<(String, String)>,
    /// The vault for --from-vault (as for `serve --vault`).
    #[arg(long, env = "RPA_MFA_VAULT")]
    vault: Option<String>,
    /// Print the HOTP code for this counter instead of a TOTP code.
    #[arg(long)]
    counter: Option<u64>,
    /// The TOTP code at this time (Unix seconds or ISO 8601 UTC) instead of now.
    #[arg(long, conflicts_with = "counter")]
    time: Option<String>,
    /// SHA1, SHA256 or SHA512.
    #[arg(long)]
    algorithm: Option<String>,
    /// 6, 7 or 8.
    #[arg(long)]
    digits: Option<u8>,
    /// Seconds per TOTP code.
    #[arg(long)]
    period: Option<u64>,
}

#[derive(clap::Args)]
struct VaultArgs {
    /// The vault (as for `serve --vault`).
    #[arg(long, env = "RPA_MFA_VAULT")]
    vault: Option<String>,
    #[command(subcommand)]
    action: VaultAction,
}

#[derive(Subcommand)]
enum VaultAction {
    /// List the secret names.
    List,
    /// Print a value, or a secret's key names when KEY is left out.
    Get { name: String, key: Option<String> },
    /// Store the value read from standard input under NAME, KEY.
    Set { name: String, key: String },
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
            Command::Serve(args) => serve(args).await,
            Command::Otp(args) => otp(args).await,
            Command::Vault(args) => vault_command(args).await,
            Command::Keywords { json } => {
                keywords(json);
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

/// The library with every keyword, the server's own included.
fn library(services: Arc<Services>, stop: &StopSwitch) -> Arc<Library> {
    let mut keywords = rpa_mfa_keywords::keywords();
    keywords.push(stop.keyword());
    Arc::new(Library::new(keywords, services))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let vault = vault::open(args.vault.as_deref()).map_err(|e| e.to_string())?;
    let mut initial = OtpState::default();
    if let Some((name, key)) = &args.secret {
        let value = vault
            .get_value(name, key)
            .await
            .map_err(|e| format!("--secret {name}:{key}: {e}"))?;
        let otp = Arc::new(
            OtpKey::parse(&value, args.mode, Options::default())
                .map_err(|e| format!("--secret {name}:{key}: {e}"))?,
        );
        match args.mode {
            Kind::Totp => initial.totp = Some(otp),
            Kind::Hotp => initial.hotp = Some(otp),
        }
    }
    tracing::info!(vault = vault.describe(), "secrets");
    let services = Arc::new(Services {
        vault,
        namespaces: Namespaces::new(initial),
        clock: Arc::new(SystemClock),
    });
    let stop = StopSwitch::new(args.allow_stop);
    let api = Arc::new(RemoteApi::new(library(services, &stop), stop.clone()));
    let (rpc_stop, rpc_handle) = jsonrpsee::server::stop_channel();
    let app = server::router(api, rpc_stop);

    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some(path) = &args.port_file {
        write_atomically(path, &addr.port().to_string())
            .map_err(|e| format!("--port-file {}: {e}", path.display()))?;
    }
    stop_on_signals(stop.clone()).map_err(|e| format!("cannot handle signals: {e}"))?;
    println!("Robot Framework remote server at {addr} started.");
    let _ = std::io::stdout().flush();

    let shutdown = async move {
        stop.stopped().await;
        let _ = rpc_handle.stop();
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(path) = &args.port_file {
        let _ = std::fs::remove_file(path);
    }
    println!("Robot Framework remote server at {addr} stopped.");
    served.map_err(|e| e.to_string())
}

/// Installs the SIGINT/SIGTERM handlers now, before the ready line, so a
/// signal sent right after it stops the server gracefully rather than
/// killing the process.
fn stop_on_signals(stop: StopSwitch) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("stopping: calls in flight finish first");
            stop.stop();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping: calls in flight finish first");
        stop.stop();
    });
    Ok(())
}

/// Writes a small file so readers never see it half-written.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

async fn otp(args: OtpArgs) -> Result<(), String> {
    let secret = match (&args.secret, &args.from_vault) {
        (Some(s), _) if s == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| e.to_string())?;
            zeroize::Zeroizing::new(s.trim().to_owned())
        }
        (Some(s), _) => zeroize::Zeroizing::new(s.clone()),
        (None, Some((name, key))) => {
            let vault = vault::open(args.vault.as_deref()).map_err(|e| e.to_string())?;
            vault
                .get_value(name, key)
                .await
                .map_err(|e| e.to_string())?
        }
        (None, None) => return Err("give a SECRET (or -) or --from-vault NAME:KEY".into()),
    };
    let options = Options {
        algorithm: match &args.algorithm {
            Some(a) => {
                Some(Algorithm::parse(a).ok_or("--algorithm must be SHA1, SHA256 or SHA512")?)
            }
            None => None,
        },
        digits: args
            .digits
            .map(|d| check_digits(d.into()))
            .transpose()
            .map_err(|e| e.to_string())?,
        period: args
            .period
            .map(|p| check_period(p.into()))
            .transpose()
            .map_err(|e| e.to_string())?,
    };
    let is_hotp_uri = secret
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("otpauth://hotp");
    let kind = if args.counter.is_some() || is_hotp_uri {
        Kind::Hotp
    } else {
        Kind::Totp
    };
    let key = OtpKey::parse(&secret, kind, options).map_err(|e| e.to_string())?;
    let code = match kind {
        Kind::Hotp => {
            let counter = args.counter.or(key.uri_counter).unwrap_or(0);
            key.code_at_counter(counter)
        }
        Kind::Totp => {
            let at = match &args.time {
                Some(t) => match t.trim().parse::<u64>() {
                    Ok(seconds) => seconds,
                    Err(_) => DateTime::parse(t.trim().trim_end_matches(" UTC"))
                        .and_then(|d| u64::try_from(d.unix_seconds()).ok())
                        .ok_or("--time must be Unix seconds or an ISO 8601 UTC time")?,
                },
                None => SystemClock.now() as u64,
            };
            key.code_at_time(at)
        }
    };
    println!("{code}");
    Ok(())
}

async fn vault_command(args: VaultArgs) -> Result<(), String> {
    let vault = vault::open(args.vault.as_deref()).map_err(|e| e.to_string())?;
    match args.action {
        VaultAction::List => {
            for name in vault.list().await.map_err(|e| e.to_string())? {
                println!("{name}");
            }
        }
        VaultAction::Get {
            name,
            key: Some(key),
        } => {
            println!(
                "{}",
                vault
                    .get_value(&name, &key)
                    .await
                    .map_err(|e| e.to_string())?
                    .as_str()
            );
        }
        VaultAction::Get { name, key: None } => {
            for key in vault.get(&name).await.map_err(|e| e.to_string())?.keys() {
                println!("{key}");
            }
        }
        VaultAction::Set { name, key } => {
            let mut value = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| e.to_string())?;
            let value = value.trim_end_matches(['\r', '\n']);
            vault
                .set(&name, &key, value)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("stored {name}:{key} in {}", vault.describe());
        }
    }
    Ok(())
}

/// Prints the keywords the way libdoc would summarise them.
fn keywords(json: bool) {
    let services = Arc::new(Services {
        vault: Arc::new(vault::EnvStore::new()),
        namespaces: Namespaces::new(OtpState::default()),
        clock: Arc::new(SystemClock),
    });
    let library = library(services, &StopSwitch::new(false));
    if json {
        let info = jsonrpc::to_json(&remote::library_information(&library));
        println!("{}", serde_json::to_string_pretty(&info).expect("JSON"));
        return;
    }
    for keyword in library.keywords() {
        let mut args: Vec<String> = Vec::new();
        for p in &keyword.params {
            if p.kind == ParamKind::NamedOnly && !args.iter().any(|a| a == "*") {
                args.push("*".into());
            }
            let star = if p.kind == ParamKind::FreeNamed {
                "**"
            } else {
                ""
            };
            let ty = p.ty.robot_name();
            args.push(match &p.default {
                Some(v) => format!("{star}{}: {ty} = {}", p.name, show_default(v)),
                None => format!("{star}{}: {ty}", p.name),
            });
        }
        println!(
            "{}({}) -> {}",
            keyword.name,
            args.join(", "),
            keyword.returns.robot_name()
        );
        let summary = keyword
            .doc
            .split("\n\n")
            .next()
            .unwrap_or("")
            .replace('\n', " ");
        println!("    {summary}\n");
    }
}

fn show_default(v: &rpa_mfa_keywords::Value) -> String {
    match v {
        rpa_mfa_keywords::Value::None => "None".into(),
        rpa_mfa_keywords::Value::Str(s) => s.clone(),
        rpa_mfa_keywords::Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}
