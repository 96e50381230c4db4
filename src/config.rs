//! `rpa-mfa serve`'s settings: flags, each with an environment variable
//! that sets it when the flag is absent.

use std::path::PathBuf;

use clap::Args;
use rpa_mfa_keywords::otp::Kind;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RPA_MFA_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free one (see --port-file).
    #[arg(long, env = "RPA_MFA_PORT", default_value_t = 8270)]
    pub port: u16,

    /// Write the port here once listening; removed again on stop.
    #[arg(long, env = "RPA_MFA_PORT_FILE")]
    pub port_file: Option<PathBuf>,

    /// Where secrets come from: file:PATH (JSON or YAML FileSecrets) or env:.
    /// Default: RPA_SECRET_FILE, else secrets.json in the user's data directory.
    #[arg(long, env = "RPA_MFA_VAULT")]
    pub vault: Option<String>,

    /// Vault secret NAME:KEY every namespace starts with, like RPA.MFA's
    /// import arguments vault_name and vault_key.
    #[arg(long, env = "RPA_MFA_VAULT_SECRET", value_name = "NAME:KEY", value_parser = parse_secret_ref)]
    pub secret: Option<(String, String)>,

    /// Whether --secret is time based (TIME) or counter based (COUNTER).
    #[arg(long, env = "RPA_MFA_MODE", default_value = "TIME", value_parser = parse_mode)]
    pub mode: Kind,

    /// Let clients stop the server with `stop_remote_server`.
    #[arg(long, env = "RPA_MFA_ALLOW_STOP")]
    pub allow_stop: bool,

    /// Allow OAuth over plain http to hosts other than loopback, as
    /// oauthlib's OAUTHLIB_INSECURE_TRANSPORT does. Never in production.
    #[arg(long, env = "OAUTHLIB_INSECURE_TRANSPORT")]
    pub oauth_insecure_transport: bool,

    /// Seconds one HTTP call to an authorization server may take.
    #[arg(long, env = "RPA_MFA_OAUTH_TIMEOUT", default_value_t = 30.0, value_parser = parse_timeout)]
    pub oauth_timeout: f64,
}

/// `NAME:KEY` as in `--secret mfa:otpsecret`.
pub fn parse_secret_ref(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, key)) if !name.is_empty() && !key.is_empty() => {
            Ok((name.to_owned(), key.to_owned()))
        }
        _ => Err("expected NAME:KEY, e.g. mfa:otpsecret".into()),
    }
}

/// A positive number of seconds, at most a day.
pub fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 86_400.0 => Ok(t),
        _ => Err(format!("expected seconds between 0 and 86400, got '{s}'")),
    }
}

/// TIME or COUNTER, ignoring case, spaces and underscores as RPA.MFA does.
pub fn parse_mode(s: &str) -> Result<Kind, String> {
    match s.replace([' ', '_'], "").to_ascii_uppercase().as_str() {
        "TIME" => Ok(Kind::Totp),
        "COUNTER" => Ok(Kind::Hotp),
        _ => Err(format!(
            "OTPMode does not have member '{s}'. Available: 'COUNTER' and 'TIME'"
        )),
    }
}
