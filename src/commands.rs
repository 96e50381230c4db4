//! The command-line tools beside `serve`: `otp`, `vault` and `keywords`.

use std::io::Read;
use std::sync::Arc;

use clap::Subcommand;
use rpa_mfa_keywords::clock::{Clock, SystemClock};
use rpa_mfa_keywords::library::ParamKind;
use rpa_mfa_keywords::otp::{
    check_digits, check_period, parse_unix_time, Algorithm, Kind, Options, OtpKey,
};
use rpa_mfa_keywords::vault::SecretRef;
use rpa_mfa_keywords::{vault, Services};

use crate::config;
use crate::remote;
use crate::server;
use crate::stop::StopSwitch;

/// `--vault [NAME=]SPEC`, repeatable, as for `serve`.
#[derive(clap::Args)]
pub struct VaultFlags {
    /// The vaults, as for `serve --vault` ([NAME=]SPEC, repeatable).
    #[arg(
        long,
        env = "RPA_MFA_VAULT",
        value_delimiter = ',',
        value_name = "[NAME=]SPEC"
    )]
    vault: Vec<String>,
}

#[derive(clap::Args)]
pub struct OtpArgs {
    /// Base32 secret or otpauth:// URI; `-` reads it from standard input
    /// (keeps it out of the process list).
    secret: Option<String>,
    /// Take the secret from a vault instead: [VAULT/]NAME:KEY.
    #[arg(long = "from-vault", value_name = "[VAULT/]NAME:KEY", value_parser = config::parse_secret_ref, conflicts_with = "secret")]
    from_vault: Option<SecretRef>,
    #[command(flatten)]
    vaults: VaultFlags,
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
pub struct VaultArgs {
    /// A secret NAME of the actions may be VAULT/NAME.
    #[command(flatten)]
    vaults: VaultFlags,
    #[command(subcommand)]
    action: VaultAction,
}

#[derive(Subcommand)]
pub enum VaultAction {
    /// List the secret names (of the vault named VAULT, else the default).
    List { vault: Option<String> },
    /// Print a value, or a secret's key names when KEY is left out.
    Get { name: String, key: Option<String> },
    /// Store the value read from standard input under NAME, KEY.
    Set {
        name: String,
        key: String,
        /// Store an empty value (refused otherwise: an empty stdin is
        /// usually a mistake, such as a missing `< file`).
        #[arg(long)]
        allow_empty: bool,
    },
}

#[derive(clap::Args)]
pub struct KeywordsArgs {
    /// Print what get_library_information returns, as JSON.
    #[arg(long)]
    json: bool,
}

/// `rpa-mfa otp`: prints one code.
pub async fn otp(args: OtpArgs) -> Result<(), String> {
    let secret = match (&args.secret, &args.from_vault) {
        (Some(s), _) if s == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| e.to_string())?;
            zeroize::Zeroizing::new(s.trim().to_owned())
        }
        (Some(s), _) => zeroize::Zeroizing::new(s.clone()),
        (None, Some(reference)) => {
            let (vaults, _) = crate::vaults::open_unchecked(&args.vaults.vault)?;
            vaults.value(reference).await.map_err(|e| e.to_string())?
        }
        (None, None) => return Err("give a SECRET (or -) or --from-vault [VAULT/]NAME:KEY".into()),
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
    // Compared in place: a lower-cased copy of the secret would not be wiped.
    let is_hotp_uri = secret
        .trim_start()
        .get(..14)
        .is_some_and(|p| p.eq_ignore_ascii_case("otpauth://hotp"));
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
                Some(t) => parse_unix_time(t)
                    .ok_or("--time must be Unix seconds or an ISO 8601 UTC time")?,
                None => SystemClock.now() as u64,
            };
            key.code_at_time(at)
        }
    };
    println!("{code}");
    Ok(())
}

/// `rpa-mfa vault`: lists, reads or writes secrets.
pub async fn vault(args: VaultArgs) -> Result<(), String> {
    let (vaults, default_named) = crate::vaults::open_unchecked(&args.vaults.vault)?;
    let store = |path: &str| -> Result<(Arc<dyn vault::SecretStore>, String), String> {
        let (vault, name) = vault::split_vault(path);
        let store = vaults.get(vault).map_err(|e| e.to_string())?;
        Ok((store.clone(), name.to_owned()))
    };
    match args.action {
        VaultAction::List { vault: name } => {
            let vault = vaults.get(name.as_deref()).map_err(|e| e.to_string())?;
            for name in vault.list().await.map_err(|e| e.to_string())? {
                println!("{name}");
            }
        }
        VaultAction::Get {
            name,
            key: Some(key),
        } => {
            let (vault, name) = store(&name)?;
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
            let (vault, name) = store(&name)?;
            for key in vault.get(&name).await.map_err(|e| e.to_string())?.keys() {
                println!("{key}");
            }
        }
        VaultAction::Set {
            name,
            key,
            allow_empty,
        } => {
            let mut value = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| e.to_string())?;
            let value = value.trim_end_matches(['\r', '\n']);
            if value.is_empty() && !allow_empty {
                return Err(format!(
                    "vault set {name} {key}: standard input was empty; \
                     pass the value on stdin, or --allow-empty to store an empty one"
                ));
            }
            let writes_default = vault::split_vault(&name).0.is_none();
            let (vault, name) = store(&name)?;
            if !default_named && writes_default {
                eprintln!(
                    "no --vault given: writing the default vault, {}",
                    vault.describe()
                );
            }
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
pub fn keywords(args: KeywordsArgs) {
    let services = Arc::new(Services::offline());
    let library = server::library(services, &StopSwitch::new(false));
    if args.json {
        let info = crate::jsonrpc::to_json(&remote::library_information(&library));
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
                Some(v) => format!(
                    "{star}{}: {ty} = {}",
                    p.name,
                    rpa_mfa_keywords::value::display_plain(v)
                ),
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
        let summary = crate::page::robotdoc::plain(&crate::page::robotdoc::spans(&summary));
        println!("    {summary}\n");
    }
}
