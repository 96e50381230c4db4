//! `rpa-mfa serve`'s settings, from four layers: command-line flags, then
//! environment variables, then a TOML config file (`--config PATH`), then
//! the embedded defaults. The first layer that sets a value wins.
//!
//! Every setting has a flag (`--tls-cert`), an environment variable
//! (`RPA_MFA_TLS_CERT`) and a config key (`tls_cert`): the field list in
//! [`settings!`] is the one place that pairs them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use rpa_mfa_keywords::otp::Kind;
use rpa_mfa_keywords::state::spec::StateSpec;
use serde::Deserialize;

/// Declares [`Settings`] (every field optional, so a layer can leave it
/// unset) with its environment variable names and the layer merge.
macro_rules! settings {
    ($( $(#[$attr:meta])* $field:ident : $ty:ty = $env:literal, )*) => {
        /// One layer of settings: what the flags, the environment or the
        /// config file set. Unset fields fall through to the next layer.
        #[derive(Args, Deserialize, Debug, Clone, Default, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct Settings {
            $( $(#[$attr])* pub $field: Option<$ty>, )*
            /// Pin USER to NAMESPACE: their calls in any other namespace are
            /// refused. Repeatable. [env: RPA_MFA_PIN=USER=NS,USER=NS]
            #[arg(long, value_name = "USER=NAMESPACE")]
            #[serde(default)]
            pub pin: Vec<String>,
        }

        impl Settings {
            /// Every environment variable, with the setting it overrides.
            #[cfg(test)]
            pub const ENV: &'static [(&'static str, &'static str)] = &[
                $( ($env, stringify!($field)), )*
                ("RPA_MFA_PIN", "pin"),
            ];

            /// The layer the environment sets; `get` looks a variable up.
            pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
                Ok(Settings {
                    $( $field: match get($env).filter(|v| !v.is_empty()) {
                        Some(v) => Some(parse_env::<$ty>($env, &v)?),
                        None => None,
                    }, )*
                    pin: get("RPA_MFA_PIN")
                        .map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect())
                        .unwrap_or_default(),
                })
            }

            /// This layer over `lower`: each value set here wins.
            pub fn over(self, lower: Settings) -> Settings {
                Settings {
                    $( $field: self.$field.or(lower.$field), )*
                    pin: if self.pin.is_empty() { lower.pin } else { self.pin },
                }
            }
        }
    };
}

settings! {
    /// TOML config file; its keys are the flag names with `_` for `-`.
    /// [env: RPA_MFA_CONFIG]
    #[arg(long, value_name = "PATH")]
    #[serde(skip)]
    config: PathBuf = "RPA_MFA_CONFIG",

    /// Address to listen on [default: 127.0.0.1]. Anything but loopback needs
    /// authentication or --insecure. [env: RPA_MFA_HOST]
    #[arg(long)]
    host: String = "RPA_MFA_HOST",

    /// Port to listen on; 0 picks a free one (see --port-file) [default: 8270].
    /// [env: RPA_MFA_PORT]
    #[arg(long)]
    port: u16 = "RPA_MFA_PORT",

    /// Write the port here once listening; removed again on stop.
    /// [env: RPA_MFA_PORT_FILE]
    #[arg(long, value_name = "PATH")]
    port_file: PathBuf = "RPA_MFA_PORT_FILE",

    /// Where secrets come from: file:PATH (JSON or YAML FileSecrets) or env:.
    /// Default: RPA_SECRET_FILE, else secrets.json in the user's data directory.
    /// [env: RPA_MFA_VAULT]
    #[arg(long, value_name = "SPEC")]
    vault: String = "RPA_MFA_VAULT",

    /// Vault secret NAME:KEY every namespace starts with, like RPA.MFA's
    /// import arguments vault_name and vault_key. [env: RPA_MFA_VAULT_SECRET]
    #[arg(long, value_name = "NAME:KEY")]
    secret: String = "RPA_MFA_VAULT_SECRET",

    /// Where keyword state lives (namespaces' secrets, HOTP counters, used
    /// codes): sqlite:PATH, or memory: for this process only. Default:
    /// state.db in the user's data directory. [env: RPA_MFA_STATE]
    #[arg(long, value_name = "SPEC")]
    state: String = "RPA_MFA_STATE",

    /// Vault secret NAME:KEY holding the state key that seals secrets at
    /// rest: 32 random bytes in base64 (`openssl rand -base64 32`). Default
    /// for sqlite: a key made on first start beside the file (state.key,
    /// mode 0600). [env: RPA_MFA_STATE_KEY]
    #[arg(long, value_name = "NAME:KEY")]
    state_key: String = "RPA_MFA_STATE_KEY",

    /// Prefix of every Redis key and of the change channel, so several
    /// fleets can share one Redis [default: rpa-mfa].
    /// [env: RPA_MFA_STATE_REDIS_PREFIX]
    #[arg(long, value_name = "PREFIX")]
    state_redis_prefix: String = "RPA_MFA_STATE_REDIS_PREFIX",

    /// PEM CA certificates that rediss:// trusts instead of the system
    /// roots. [env: RPA_MFA_STATE_REDIS_CA]
    #[arg(long, value_name = "PATH")]
    state_redis_ca: PathBuf = "RPA_MFA_STATE_REDIS_CA",

    /// Whether --secret is time based (TIME) or counter based (COUNTER)
    /// [default: TIME]. [env: RPA_MFA_MODE]
    #[arg(long, value_name = "TIME|COUNTER")]
    mode: String = "RPA_MFA_MODE",

    /// Let clients stop the server with `stop_remote_server`.
    /// [env: RPA_MFA_ALLOW_STOP]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    allow_stop: bool = "RPA_MFA_ALLOW_STOP",

    /// Vault secret whose keys are user names and values their passwords,
    /// for HTTP Basic authentication. [env: RPA_MFA_USERS_SECRET]
    #[arg(long, value_name = "NAME")]
    users_secret: String = "RPA_MFA_USERS_SECRET",

    /// Vault secret whose keys are user names and values their bearer
    /// tokens. [env: RPA_MFA_TOKENS_SECRET]
    #[arg(long, value_name = "NAME")]
    tokens_secret: String = "RPA_MFA_TOKENS_SECRET",

    /// Vault holding --users-secret and --tokens-secret [default: --vault].
    /// [env: RPA_MFA_AUTH_VAULT]
    #[arg(long, value_name = "SPEC")]
    auth_vault: String = "RPA_MFA_AUTH_VAULT",

    /// Serve a non-loopback address without authentication.
    /// [env: RPA_MFA_INSECURE]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    insecure: bool = "RPA_MFA_INSECURE",

    /// PEM certificate chain; with --tls-key the server speaks HTTPS only.
    /// [env: RPA_MFA_TLS_CERT]
    #[arg(long, value_name = "PATH")]
    tls_cert: PathBuf = "RPA_MFA_TLS_CERT",

    /// PEM private key of --tls-cert. [env: RPA_MFA_TLS_KEY]
    #[arg(long, value_name = "PATH")]
    tls_key: PathBuf = "RPA_MFA_TLS_KEY",

    /// Log filter: info, debug, rpa_mfa=debug,warn, ... [default: info].
    /// [env: RPA_MFA_LOG]
    #[arg(long, value_name = "FILTER")]
    log: String = "RPA_MFA_LOG",

    /// Log lines as text or json [default: text]. [env: RPA_MFA_LOG_FORMAT]
    #[arg(long, value_name = "text|json")]
    log_format: String = "RPA_MFA_LOG_FORMAT",

    /// Allow OAuth over plain http to hosts other than loopback, as
    /// oauthlib's OAUTHLIB_INSECURE_TRANSPORT does; for testing only.
    /// [env: OAUTHLIB_INSECURE_TRANSPORT]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    oauth_insecure_transport: bool = "OAUTHLIB_INSECURE_TRANSPORT",

    /// Seconds one HTTP call to an authorization server may take
    /// [default: 30]. [env: RPA_MFA_OAUTH_TIMEOUT]
    #[arg(long, value_name = "SECONDS")]
    oauth_timeout: f64 = "RPA_MFA_OAUTH_TIMEOUT",
}

fn parse_env<T: EnvValue>(name: &str, value: &str) -> Result<T, String> {
    T::parse(value).ok_or_else(|| format!("{name}: cannot use '{value}' ({})", T::EXPECTED))
}

/// How an environment variable's text becomes a setting.
trait EnvValue: Sized {
    const EXPECTED: &'static str;
    fn parse(text: &str) -> Option<Self>;
}

impl EnvValue for String {
    const EXPECTED: &'static str = "text";
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl EnvValue for PathBuf {
    const EXPECTED: &'static str = "a path";
    fn parse(text: &str) -> Option<Self> {
        Some(PathBuf::from(text))
    }
}

impl EnvValue for u16 {
    const EXPECTED: &'static str = "a number from 0 to 65535";
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl EnvValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl EnvValue for bool {
    const EXPECTED: &'static str = "true/false, yes/no, on/off or 1/0";
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The server's settings once every layer is applied and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub host: String,
    pub port: u16,
    pub port_file: Option<PathBuf>,
    pub vault: Option<String>,
    pub secret: Option<(String, String)>,
    pub state: StateSpec,
    pub state_key: Option<(String, String)>,
    pub mode: Kind,
    pub allow_stop: bool,
    pub auth: AuthConfig,
    pub insecure: bool,
    pub tls: Option<TlsFiles>,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub oauth: rpa_mfa_keywords::oauth::Settings,
}

/// Where the credentials come from, and who is pinned where.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    pub users_secret: Option<String>,
    pub tokens_secret: Option<String>,
    pub vault: Option<String>,
    /// Lower-cased user name to namespace.
    pub pins: BTreeMap<String, String>,
}

impl AuthConfig {
    /// Whether clients must authenticate.
    pub fn enabled(&self) -> bool {
        self.users_secret.is_some() || self.tokens_secret.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Settings {
    /// Parses a config file's text; unknown keys are errors, so typos show.
    pub fn from_toml(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the layers: these flags, then `env`, then the config file
    /// (named by the flag or the environment), then the defaults.
    pub fn resolve(self, get_env: impl Fn(&str) -> Option<String>) -> Result<ServeConfig, String> {
        let over_env = self.over(Settings::from_env(get_env)?);
        let layered = match &over_env.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--config {}: {e}", path.display()))?;
                let file = Settings::from_toml(&text)
                    .map_err(|e| format!("--config {}: {e}", path.display()))?;
                over_env.over(file)
            }
            None => over_env,
        };
        layered.finish()
    }

    /// Fills in the defaults and checks the values.
    fn finish(self) -> Result<ServeConfig, String> {
        let secret = self.secret.as_deref().map(parse_secret_ref).transpose()?;
        let state = StateSpec::parse(self.state.as_deref())
            .map_err(|e| format!("--state: {e}"))?
            .with_redis_settings(self.state_redis_prefix, self.state_redis_ca)
            .map_err(|e| e.to_string())?;
        let state_key = self
            .state_key
            .as_deref()
            .map(parse_secret_ref)
            .transpose()
            .map_err(|e| format!("--state-key: {e}"))?;
        let mode = parse_mode(self.mode.as_deref().unwrap_or("TIME"))?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let log_format = match self.log_format.as_deref().unwrap_or("text") {
            f if f.eq_ignore_ascii_case("text") => LogFormat::Text,
            f if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            other => return Err(format!("--log-format: '{other}' is neither text nor json")),
        };
        let mut pins = BTreeMap::new();
        for pin in &self.pin {
            match pin.split_once('=') {
                Some((user, ns)) if !user.is_empty() && !ns.is_empty() => {
                    pins.insert(user.to_lowercase(), ns.to_owned());
                }
                _ => return Err(format!("--pin: expected USER=NAMESPACE, got '{pin}'")),
            }
        }
        let auth = AuthConfig {
            users_secret: self.users_secret,
            tokens_secret: self.tokens_secret,
            vault: self.auth_vault,
            pins,
        };
        if !auth.pins.is_empty() && !auth.enabled() {
            return Err("--pin needs --users-secret or --tokens-secret".into());
        }
        let oauth_timeout = self.oauth_timeout.unwrap_or(30.0);
        if !(oauth_timeout > 0.0 && oauth_timeout <= 86_400.0) {
            return Err(format!(
                "--oauth-timeout: expected seconds between 0 and 86400, got {oauth_timeout}"
            ));
        }
        Ok(ServeConfig {
            host: self.host.unwrap_or_else(|| "127.0.0.1".into()),
            port: self.port.unwrap_or(8270),
            port_file: self.port_file,
            vault: self.vault,
            secret,
            state,
            state_key,
            mode,
            allow_stop: self.allow_stop.unwrap_or(false),
            auth,
            insecure: self.insecure.unwrap_or(false),
            tls,
            log_filter: self.log.unwrap_or_else(|| "info".into()),
            log_format,
            oauth: rpa_mfa_keywords::oauth::Settings {
                insecure_transport: self.oauth_insecure_transport.unwrap_or(false),
                timeout: std::time::Duration::from_secs_f64(oauth_timeout),
            },
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn flags(args: &[&str]) -> Settings {
        Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap()
            .settings
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = flags(&[]).resolve(env(&[])).unwrap();
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 8270);
        assert_eq!(config.mode, Kind::Totp);
        assert!(!config.allow_stop && !config.insecure && !config.auth.enabled());
        assert_eq!(config.tls, None);
        assert_eq!(config.log_filter, "info");
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(matches!(&config.state, StateSpec::Sqlite(p) if p.ends_with("rpa-mfa/state.db")));
        assert_eq!(config.state_key, None);
    }

    #[test]
    fn state_settings_come_from_every_layer() {
        let file = config_file("state = \"memory:\"\nstate_key = \"fleet:key\"\n");
        let path = file.path().to_str().unwrap();
        let config = flags(&["--config", path]).resolve(env(&[])).unwrap();
        assert_eq!(config.state, StateSpec::Memory);
        assert_eq!(config.state_key, Some(("fleet".into(), "key".into())));
        let config = flags(&[])
            .resolve(env(&[("RPA_MFA_STATE", "sqlite:/tmp/x.db")]))
            .unwrap();
        assert_eq!(config.state, StateSpec::Sqlite("/tmp/x.db".into()));
        let err = flags(&["--state", "nosuch:x"])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.starts_with("--state: unknown state store"), "{err}");
    }

    #[test]
    fn redis_settings_come_from_every_layer() {
        let file =
            config_file("state = \"redis://127.0.0.1:6390/0\"\nstate_redis_prefix = \"f\"\n");
        let path = file.path().to_str().unwrap();
        let config = flags(&["--config", path])
            .resolve(env(&[("RPA_MFA_STATE_REDIS_CA", "/etc/ca.pem")]))
            .unwrap();
        let expected = StateSpec::parse(Some("redis://127.0.0.1:6390/0"))
            .unwrap()
            .with_redis_settings(Some("f".into()), Some("/etc/ca.pem".into()))
            .unwrap();
        assert_eq!(config.state, expected);
        let err = flags(&["--state-redis-prefix", "f"])
            .resolve(env(&[("RPA_MFA_STATE", "memory:")]))
            .unwrap_err();
        assert!(err.contains("are for a redis:// --state"), "{err}");
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let file = config_file(
            "host = \"10.0.0.1\"\nport = 1111\nlog_format = \"json\"\nmode = \"COUNTER\"\n\
             users_secret = \"file-users\"\npin = [\"bot=from-file\"]\n",
        );
        let path = file.path().to_str().unwrap();
        let env = env(&[
            ("RPA_MFA_CONFIG", path),
            ("RPA_MFA_PORT", "2222"),
            ("RPA_MFA_HOST", "10.0.0.2"),
            ("RPA_MFA_INSECURE", "yes"),
            ("RPA_MFA_PIN", "bot=from-env, ci=ci"),
        ]);
        let config = flags(&["--host", "10.0.0.3"]).resolve(env).unwrap();
        assert_eq!(config.host, "10.0.0.3", "flag over env and file");
        assert_eq!(config.port, 2222, "env over file");
        assert_eq!(config.log_format, LogFormat::Json, "file over default");
        assert_eq!(config.mode, Kind::Hotp, "file over default");
        assert!(config.insecure, "env over default");
        assert_eq!(config.auth.users_secret.as_deref(), Some("file-users"));
        assert_eq!(
            config.auth.pins,
            BTreeMap::from([
                ("bot".to_owned(), "from-env".to_owned()),
                ("ci".to_owned(), "ci".to_owned())
            ]),
            "a list from the env replaces the file's"
        );
    }

    #[test]
    fn the_config_flag_beats_the_config_env() {
        let from_flag = config_file("port = 3333\n");
        let from_env = config_file("port = 4444\n");
        let config = flags(&["--config", from_flag.path().to_str().unwrap()])
            .resolve(env(&[(
                "RPA_MFA_CONFIG",
                from_env.path().to_str().unwrap(),
            )]))
            .unwrap();
        assert_eq!(config.port, 3333);
    }

    #[test]
    fn bool_flags_can_be_turned_off_over_the_env() {
        let on = env(&[("RPA_MFA_ALLOW_STOP", "1")]);
        assert!(flags(&[]).resolve(&on).unwrap().allow_stop);
        assert!(
            !flags(&["--allow-stop=false"])
                .resolve(&on)
                .unwrap()
                .allow_stop
        );
        assert!(
            flags(&["--allow-stop"])
                .resolve(env(&[]))
                .unwrap()
                .allow_stop
        );
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = flags(&[])
            .resolve(env(&[("RPA_MFA_PORT", "eighty")]))
            .unwrap_err();
        assert!(
            err.contains("RPA_MFA_PORT") && err.contains("eighty"),
            "{err}"
        );
        let file = config_file("prot = 1\n");
        let err = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.contains("unknown field `prot`"), "{err}");
        let err = flags(&["--tls-cert", "c.pem"])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.contains("--tls-key"), "{err}");
        let err = flags(&["--pin", "nobody"]).resolve(env(&[])).unwrap_err();
        assert!(err.contains("USER=NAMESPACE"), "{err}");
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../contrib/rpa-mfa.toml");
        let settings = Settings::from_toml(text).unwrap();
        let config = settings.finish().unwrap();
        assert_eq!(config.host, "0.0.0.0");
        assert!(config.auth.enabled());
        assert_eq!(
            config.auth.pins.get("build-bot").map(String::as_str),
            Some("ci")
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.tls.is_some());
    }

    #[test]
    fn every_setting_has_an_env_variable() {
        // A field added to the struct without an env name would not compile
        // in the macro; this checks the names follow the flag names, but
        // for two that keep names users already know.
        for (var, field) in Settings::ENV {
            let expected = match *field {
                "secret" => "RPA_MFA_VAULT_SECRET".to_owned(),
                // oauthlib's own variable, as RPA.MFA users set it.
                "oauth_insecure_transport" => "OAUTHLIB_INSECURE_TRANSPORT".to_owned(),
                f => format!("RPA_MFA_{}", f.to_uppercase()),
            };
            assert_eq!(*var, expected);
        }
    }
}
