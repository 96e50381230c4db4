//! `rpa-mfa serve`'s settings, from four layers: command-line flags, then
//! environment variables, then a TOML config file (`--config PATH`), then
//! the embedded defaults. The first layer that sets a value wins.
//!
//! Every setting has a flag (`--tls-cert`), an environment variable
//! (`RPA_MFA_TLS_CERT`) and a config key (`tls_cert`): the field list in
//! [`settings!`] is the one place that pairs them.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rpa_mfa_keywords::access::DEFAULT_VAULT;
use rpa_mfa_keywords::email::{Mailbox, MailboxConfig};
use rpa_mfa_keywords::identity::{IdentityConfig, IdentityPlatform};
use rpa_mfa_keywords::mfa::{ProviderConfig, Providers};
use rpa_mfa_keywords::oauth::profile::{Profile, ProfileConfig};
use rpa_mfa_keywords::otp::Kind;
use rpa_mfa_keywords::sms::{normalize_number, SmsSettings};
use rpa_mfa_keywords::state::spec::StateSpec;
use rpa_mfa_keywords::state::NamespaceLimits;
use rpa_mfa_keywords::vault::SecretRef;
use serde::Deserialize;

/// Declares [`Settings`] (every field optional, so a layer can leave it
/// unset) with its environment variable names and the layer merge. Lists
/// (repeatable flags, comma-separated in the environment, arrays in the
/// file) come first; a list set by a layer replaces the lower one's.
macro_rules! settings {
    (
        lists { $( $(#[$lattr:meta])* $list:ident = $lenv:literal, )* }
        tables { $( $(#[$tattr:meta])* $table:ident : $tty:ty, )* }
        $( $(#[$attr:meta])* $field:ident : $ty:ty = $env:literal, )*
    ) => {
        /// One layer of settings: what the flags, the environment or the
        /// config file set. Unset fields fall through to the next layer.
        #[derive(Args, Deserialize, Debug, Clone, Default, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct Settings {
            $( $(#[$attr])* pub $field: Option<$ty>, )*
            $( $(#[$lattr])* #[serde(default)] pub $list: Vec<String>, )*
            $( $(#[$tattr])* #[arg(skip)] #[serde(default)] pub $table: $tty, )*
        }

        impl Settings {
            /// Every environment variable, with the setting it overrides.
            pub const ENV: &'static [(&'static str, &'static str)] = &[
                $( ($env, stringify!($field)), )*
                $( ($lenv, stringify!($list)), )*
            ];

            /// The layer the environment sets; `get` looks a variable up.
            pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
                Ok(Settings {
                    $( $field: match get($env).filter(|v| !v.is_empty()) {
                        Some(v) => Some(parse_env::<$ty>($env, &v)?),
                        None => None,
                    }, )*
                    $( $list: get($lenv)
                        .map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect())
                        .unwrap_or_default(), )*
                    $( $table: Default::default(), )*
                })
            }

            /// This layer over `lower`: each value set here wins.
            pub fn over(self, lower: Settings) -> Settings {
                Settings {
                    $( $field: self.$field.or(lower.$field), )*
                    $( $list: if self.$list.is_empty() { lower.$list } else { self.$list }, )*
                    $( $table: if self.$table.is_empty() { lower.$table } else { self.$table }, )*
                }
            }
        }
    };
}

settings! {
    lists {
        /// Pin USER to NAMESPACE: their calls in any other namespace are
        /// refused. Repeatable. [env: RPA_MFA_PIN=USER=NS,USER=NS]
        #[arg(long, value_name = "USER=NAMESPACE")]
        pin = "RPA_MFA_PIN",

        /// Where secrets come from: SPEC is the default vault, NAME=SPEC a
        /// named one (keywords' vault=NAME, references NAME/SECRET:KEY).
        /// SPEC: file:PATH (JSON or YAML FileSecrets), env:, or
        /// vault+http(s)://HOST:PORT/MOUNT (HashiCorp Vault / OpenBao KV v2).
        /// Repeatable. Default: RPA_SECRET_FILE, else secrets.json in the
        /// user's data directory. [env: RPA_MFA_VAULT=SPEC,NAME=SPEC]
        #[arg(long, value_name = "[NAME=]SPEC")]
        #[serde(deserialize_with = "one_or_many")]
        vault = "RPA_MFA_VAULT",

        /// Only these users, and users pinned to these namespaces, may use
        /// the default vault with keywords; VAULT=WHO lists them for a named
        /// vault. Repeatable. Default: every user not pinned.
        /// [env: RPA_MFA_VAULT_ALLOW=WHO,VAULT=WHO]
        #[arg(long, value_name = "[VAULT=]USER|NAMESPACE")]
        vault_allow = "RPA_MFA_VAULT_ALLOW",
    }

    tables {
        /// Config file only: `[vaults.NAME]` tables with `spec` and `allow`,
        /// the same as `vault = "NAME=SPEC"` plus `vault_allow`.
        #[serde(rename = "vaults")]
        vault_tables: BTreeMap<String, VaultTable>,
        /// Config file only: auth profiles, `[profiles.NAME]` (docs/profiles.md).
        profiles: BTreeMap<String, ProfileConfig>,
        /// Config file only: MFA service providers, `[mfa.NAME]` (docs/mfa.md).
        mfa: BTreeMap<String, ProviderConfig>,
        /// Config file only: the SMS numbers messages are queued for,
        /// `[sms_numbers."+15550104477"]` with `allow` (docs/sms.md).
        sms_numbers: BTreeMap<String, SmsNumberTable>,
        /// Config file only: IMAP mailboxes, `[mailboxes.NAME]` (docs/email.md).
        mailboxes: BTreeMap<String, MailboxConfig>,
        /// Config file only: identity platforms, `[identities.NAME]` (docs/identity.md).
        identities: BTreeMap<String, IdentityConfig>,
    }

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

    /// Vault secret [VAULT/]NAME:KEY every namespace starts with, like
    /// RPA.MFA's import arguments vault_name and vault_key.
    /// [env: RPA_MFA_VAULT_SECRET]
    #[arg(long, value_name = "[VAULT/]NAME:KEY")]
    secret: String = "RPA_MFA_VAULT_SECRET",

    /// Where keyword state lives (namespaces' secrets, HOTP counters, used
    /// codes): sqlite:PATH, or memory: for this process only. Default:
    /// state.db in the user's data directory. [env: RPA_MFA_STATE]
    #[arg(long, value_name = "SPEC")]
    state: String = "RPA_MFA_STATE",

    /// Vault secret [VAULT/]NAME:KEY holding the state key that seals
    /// secrets at rest: 32 random bytes in base64 (`openssl rand -base64
    /// 32`). Default for sqlite: a key made on first start beside the file
    /// (state.key, mode 0600). [env: RPA_MFA_STATE_KEY]
    #[arg(long, value_name = "[VAULT/]NAME:KEY")]
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

    /// Vault secret [VAULT/]NAME whose keys are user names and values their
    /// passwords, for HTTP Basic authentication. [env: RPA_MFA_USERS_SECRET]
    #[arg(long, value_name = "[VAULT/]NAME")]
    users_secret: String = "RPA_MFA_USERS_SECRET",

    /// Vault secret [VAULT/]NAME whose keys are user names and values their
    /// bearer tokens. [env: RPA_MFA_TOKENS_SECRET]
    #[arg(long, value_name = "[VAULT/]NAME")]
    tokens_secret: String = "RPA_MFA_TOKENS_SECRET",

    /// A vault SPEC of its own for --users-secret and --tokens-secret
    /// [default: the vault their VAULT/ names, else the default vault].
    /// [env: RPA_MFA_AUTH_VAULT]
    #[arg(long, value_name = "SPEC")]
    auth_vault: String = "RPA_MFA_AUTH_VAULT",

    /// Failed logins allowed per user and client address within
    /// --login-window before that user is refused from there [default: 5].
    /// [env: RPA_MFA_LOGIN_MAX_FAILURES]
    #[arg(long, value_name = "N")]
    login_max_failures: u16 = "RPA_MFA_LOGIN_MAX_FAILURES",

    /// Seconds failed logins are remembered [default: 60].
    /// [env: RPA_MFA_LOGIN_WINDOW]
    #[arg(long, value_name = "SECONDS")]
    login_window: f64 = "RPA_MFA_LOGIN_WINDOW",

    /// Distinct user names that may fail from one address within
    /// --login-window before new names are refused there [default: 10].
    /// [env: RPA_MFA_LOGIN_MAX_USERS]
    #[arg(long, value_name = "N")]
    login_max_users: u16 = "RPA_MFA_LOGIN_MAX_USERS",

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

    /// Seconds a client may take to send a request's headers, from their
    /// first byte [default: 10]. [env: RPA_MFA_HEADER_READ_TIMEOUT]
    #[arg(long, value_name = "SECONDS")]
    header_read_timeout: f64 = "RPA_MFA_HEADER_READ_TIMEOUT",

    /// Seconds a connection may stay idle between requests, and a
    /// WebSocket without a subscription between calls [default: 60].
    /// [env: RPA_MFA_IDLE_TIMEOUT]
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: f64 = "RPA_MFA_IDLE_TIMEOUT",

    /// Open connections at most; past it the connection idle the longest
    /// is closed to make room, or the new one when all are busy
    /// [default: 1024]. [env: RPA_MFA_MAX_CONNECTIONS]
    #[arg(long, value_name = "COUNT")]
    max_connections: u32 = "RPA_MFA_MAX_CONNECTIONS",

    /// Open JSON-RPC WebSockets at most, counted apart from HTTP JSON-RPC
    /// calls [default: 1000]. [env: RPA_MFA_MAX_WEBSOCKETS]
    #[arg(long, value_name = "COUNT")]
    max_websockets: u32 = "RPA_MFA_MAX_WEBSOCKETS",

    /// Subscriptions one WebSocket may hold open [default: 16].
    /// [env: RPA_MFA_MAX_SUBSCRIPTIONS]
    #[arg(long, value_name = "COUNT")]
    max_subscriptions: u32 = "RPA_MFA_MAX_SUBSCRIPTIONS",

    /// Longest time between the server's pings on each WebSocket (each
    /// wait is drawn between half of it and all of it, so sockets do not
    /// ping in step); one that answers none for three intervals is closed
    /// [default: 20].
    /// [env: RPA_MFA_WS_PING_INTERVAL]
    #[arg(long, value_name = "SECONDS")]
    ws_ping_interval: f64 = "RPA_MFA_WS_PING_INTERVAL",

    /// Bytes a request body (or WebSocket message) may have, on every
    /// route [default: 4194304 = 4 MiB]. [env: RPA_MFA_MAX_BODY_SIZE]
    #[arg(long, value_name = "BYTES")]
    max_body_size: u32 = "RPA_MFA_MAX_BODY_SIZE",

    /// Seconds calls in flight get to finish on SIGTERM/SIGINT; then
    /// waiting keywords fail with `server is stopping` and the process
    /// exits [default: 10]. [env: RPA_MFA_SHUTDOWN_GRACE]
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: f64 = "RPA_MFA_SHUTDOWN_GRACE",
    /// Seconds discovery documents and key sets (JWKS) are trusted before
    /// they are fetched again; a shorter Cache-Control max-age wins, but not
    /// below a minute (or this, when less) [default: 300].
    /// [env: RPA_MFA_OAUTH_CACHE]
    #[arg(long, value_name = "SECONDS")]
    oauth_cache: u64 = "RPA_MFA_OAUTH_CACHE",

    /// The longest any keyword may wait, in seconds: every `timeout`
    /// argument must be 0 to this [default: 900]. [env: RPA_MFA_MAX_WAIT]
    #[arg(long, value_name = "SECONDS")]
    max_wait: u64 = "RPA_MFA_MAX_WAIT",

    /// The URL this server is reached at from outside (behind a proxy:
    /// the proxy's), which SMS gateways call and Twilio signs; its path is
    /// the prefix of /sms/twilio [default: the address the server listens
    /// on]. [env: RPA_MFA_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    public_url: String = "RPA_MFA_PUBLIC_URL",

    /// Vault secret [VAULT/]NAME:KEY holding the Twilio auth token that
    /// signs POST /sms/twilio; without it that route refuses every call.
    /// [env: RPA_MFA_SMS_TWILIO_TOKEN]
    #[arg(long, value_name = "[VAULT/]NAME:KEY")]
    sms_twilio_token: String = "RPA_MFA_SMS_TWILIO_TOKEN",

    /// Vault secret [VAULT/]NAME:KEY holding the shared secret other SMS
    /// gateways send in X-Webhook-Secret to POST /sms/webhook; without it
    /// that route refuses every call. [env: RPA_MFA_SMS_WEBHOOK_SECRET]
    #[arg(long, value_name = "[VAULT/]NAME:KEY")]
    sms_webhook_secret: String = "RPA_MFA_SMS_WEBHOOK_SECRET",

    /// Messages kept per SMS number (1 to 1000); a full queue drops its
    /// oldest [default: 20]. [env: RPA_MFA_SMS_QUEUE_SIZE]
    #[arg(long, value_name = "COUNT")]
    sms_queue_size: u64 = "RPA_MFA_SMS_QUEUE_SIZE",

    /// Seconds a namespace may go unused before it and its state are
    /// dropped; the default namespace and pinned ones are kept
    /// [default: 86400]. [env: RPA_MFA_NAMESPACE_IDLE]
    #[arg(long, value_name = "SECONDS")]
    namespace_idle: u64 = "RPA_MFA_NAMESPACE_IDLE",

    /// Most namespaces at once, besides the default and pinned ones; past
    /// it a new namespace is refused [default: 10000].
    /// [env: RPA_MFA_MAX_NAMESPACES]
    #[arg(long, value_name = "COUNT")]
    max_namespaces: u64 = "RPA_MFA_MAX_NAMESPACES",

    /// The one directory whose images `Read OTP Secret From QR Code` may
    /// read by path and `Generate OTP QR Code` may write; without it,
    /// paths are refused and images come as bytes. [env: RPA_MFA_QR_DIR]
    #[arg(long, value_name = "PATH")]
    qr_dir: PathBuf = "RPA_MFA_QR_DIR",
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

impl EnvValue for u32 {
    const EXPECTED: &'static str = "a whole number from 0 to 4294967295";
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl EnvValue for u64 {
    const EXPECTED: &'static str = "a whole number from 0";
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
    /// Every vault, the default (named `default`) first.
    pub vaults: Vec<VaultConfig>,
    pub secret: Option<SecretRef>,
    pub state: StateSpec,
    pub state_key: Option<SecretRef>,
    pub mode: Kind,
    pub allow_stop: bool,
    pub auth: AuthConfig,
    /// The auth profiles, checked.
    pub profiles: Vec<Profile>,
    /// The MFA providers' tables, checked (the server builds them again).
    pub mfa: BTreeMap<String, ProviderConfig>,
    /// The IMAP mailboxes, checked.
    pub mailboxes: Vec<Mailbox>,
    /// The identity platforms, checked.
    pub identities: Vec<IdentityPlatform>,
    pub insecure: bool,
    pub tls: Option<TlsFiles>,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub oauth: rpa_mfa_keywords::oauth::Settings,
    /// `--max-wait`: the longest any keyword waits.
    pub max_wait: Duration,
    /// Idle expiry and cap of namespaces.
    pub namespaces: NamespaceLimits,
    pub limits: Limits,
    /// `--qr-dir`: where QR keywords may read and write image files.
    pub qr_dir: Option<PathBuf>,
    /// `--public-url`, without a trailing `/`.
    pub public_url: Option<String>,
    pub sms: SmsConfig,
}

/// The SMS webhooks' secrets and the numbers they feed.
#[derive(Debug, Clone, Default)]
pub struct SmsConfig {
    pub twilio_token: Option<SecretRef>,
    pub webhook_secret: Option<SecretRef>,
    pub settings: SmsSettings,
}

/// SMS settings compare by what they configure (for the config tests).
impl PartialEq for SmsConfig {
    fn eq(&self, other: &SmsConfig) -> bool {
        self.twilio_token == other.twilio_token
            && self.webhook_secret == other.webhook_secret
            && self.settings.numbers == other.settings.numbers
            && self.settings.queue_size == other.settings.queue_size
    }
}

/// A `[sms_numbers."NUMBER"]` table of the config file.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SmsNumberTable {
    #[serde(default)]
    pub allow: Vec<String>,
}

impl ServeConfig {
    /// The vault configured as `name` (`default`: the unnamed one).
    pub fn vault(&self, name: &str) -> Option<&VaultConfig> {
        self.vaults.iter().find(|v| v.name == name)
    }
}

/// One vault: its name, its spec and who may use it with keywords.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VaultConfig {
    pub name: String,
    /// `None`: the embedded default (only for the default vault).
    pub spec: Option<String>,
    /// Users and pinned namespaces; empty: every unpinned user.
    pub allow: Vec<String>,
}

/// A `[vaults.NAME]` table of the config file.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct VaultTable {
    pub spec: Option<String>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// A config file key that takes a string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// `NAME=SPEC` (a named vault) or `SPEC` (the default one). A name is
/// letters, digits, `-` and `_`, so a spec's own `=` (in a query or a
/// path) is never taken for one.
pub fn parse_vault(text: &str) -> Result<(String, String), String> {
    let text = text.trim();
    let named = text.split_once('=').filter(|(name, _)| is_vault_name(name));
    let (name, spec) = named.unwrap_or((DEFAULT_VAULT, text));
    if spec.trim().is_empty() {
        return Err(format!("expected [NAME=]SPEC, got '{text}'"));
    }
    Ok((name.to_owned(), spec.trim().to_owned()))
}

fn is_vault_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Every vault the `vault` list, the `[vaults.NAME]` tables and
/// `vault_allow` describe, the default first. A list entry's spec wins
/// over a table's; allow lists add up.
fn vault_configs(
    list: &[String],
    tables: &BTreeMap<String, VaultTable>,
    allow: &[String],
) -> Result<Vec<VaultConfig>, String> {
    let mut vaults: BTreeMap<String, VaultConfig> = BTreeMap::new();
    for (name, table) in tables {
        if !is_vault_name(name) {
            return Err(format!(
                "[vaults.{name}]: a vault name is letters, digits, '-' and '_'"
            ));
        }
        if table.spec.is_none() && name != DEFAULT_VAULT {
            return Err(format!("[vaults.{name}]: needs spec = \"...\""));
        }
        vaults.insert(
            name.clone(),
            VaultConfig {
                name: name.clone(),
                spec: table.spec.clone(),
                allow: table.allow.clone(),
            },
        );
    }
    let mut from_list = std::collections::BTreeSet::new();
    for entry in list {
        let (name, spec) = parse_vault(entry).map_err(|e| format!("--vault: {e}"))?;
        if !from_list.insert(name.clone()) {
            return Err(format!("--vault: the vault '{name}' is given twice"));
        }
        let vault = vaults.entry(name.clone()).or_default();
        vault.name = name;
        vault.spec = Some(spec);
    }
    let mut default = vaults.remove(DEFAULT_VAULT).unwrap_or_default();
    default.name = DEFAULT_VAULT.to_owned();
    for who in allow {
        // A VAULT= prefix must name a configured vault: a typo must not
        // quietly become a user of the default vault.
        if let Some((vault, _)) = who.split_once('=') {
            if is_vault_name(vault) && vault != DEFAULT_VAULT && !vaults.contains_key(vault) {
                return Err(format!(
                    "--vault-allow {who}: no vault named '{vault}' is configured; add --vault {vault}=SPEC"
                ));
            }
        }
        let named = who
            .split_once('=')
            .filter(|(v, _)| *v == DEFAULT_VAULT || vaults.contains_key(*v));
        let (vault, listed) = match named {
            Some((_, "")) => return Err(format!("--vault-allow: expected VAULT=WHO, got '{who}'")),
            Some((vault, listed)) => (vault, listed),
            None => (DEFAULT_VAULT, who.as_str()),
        };
        match vaults.get_mut(vault) {
            Some(named) => named.allow.push(listed.to_owned()),
            None => default.allow.push(listed.to_owned()),
        }
    }
    Ok(std::iter::once(default)
        .chain(vaults.into_values())
        .collect())
}

/// Deadlines and caps on what clients may hold (see `crate::listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_websockets: u32,
    pub max_subscriptions: u32,
    pub ws_ping_interval: Duration,
    pub max_body_size: usize,
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_websockets: 1000,
            max_subscriptions: 16,
            ws_ping_interval: Duration::from_secs(20),
            max_body_size: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Seconds from a setting: finite, above 0 and at most a day.
fn seconds(flag: &str, value: Option<f64>, default: Duration) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(s) if s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(format!(
            "--{flag}: expected seconds above 0 and at most 86400, got {s}"
        )),
    }
}

/// A count from a setting: at least 1.
fn count(flag: &str, value: Option<u32>, default: u32) -> Result<u32, String> {
    match value {
        None => Ok(default),
        Some(0) => Err(format!("--{flag}: expected at least 1, got 0")),
        Some(n) => Ok(n),
    }
}

impl Settings {
    fn limits(&self) -> Result<Limits, String> {
        let d = Limits::default();
        Ok(Limits {
            header_read_timeout: seconds(
                "header-read-timeout",
                self.header_read_timeout,
                d.header_read_timeout,
            )?,
            idle_timeout: seconds("idle-timeout", self.idle_timeout, d.idle_timeout)?,
            max_connections: count(
                "max-connections",
                self.max_connections,
                d.max_connections as u32,
            )? as usize,
            max_websockets: count("max-websockets", self.max_websockets, d.max_websockets)?,
            max_subscriptions: count(
                "max-subscriptions",
                self.max_subscriptions,
                d.max_subscriptions,
            )?,
            ws_ping_interval: seconds(
                "ws-ping-interval",
                self.ws_ping_interval,
                d.ws_ping_interval,
            )?,
            max_body_size: count("max-body-size", self.max_body_size, d.max_body_size as u32)?
                as usize,
            shutdown_grace: seconds("shutdown-grace", self.shutdown_grace, d.shutdown_grace)?,
        })
    }
}

/// Where the credentials come from, and who is pinned where.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    pub users_secret: Option<String>,
    pub tokens_secret: Option<String>,
    pub vault: Option<String>,
    /// Lower-cased user name to namespace.
    pub pins: BTreeMap<String, String>,
    /// The failed-login limiter's settings.
    pub login: crate::auth::LoginLimits,
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
    /// (named by the flag or the environment), then the defaults. Each layer
    /// is checked on its own first, so a bad value is reported with the
    /// flag, variable or file key it came from.
    pub fn resolve(self, get_env: impl Fn(&str) -> Option<String>) -> Result<ServeConfig, String> {
        self.check(Source::Flags)?;
        let env = Settings::from_env(get_env)?;
        env.check(Source::Env)?;
        let over_env = self.over(env);
        let layered = match &over_env.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--config {}: {e}", path.display()))?;
                let file = Settings::from_toml(&text)
                    .map_err(|e| format!("--config {}: {e}", path.display()))?;
                file.check(Source::File(path))?;
                over_env.over(file)
            }
            None => over_env,
        };
        layered.finish()
    }

    /// Checks the values this layer sets, naming each bad one by `source`.
    fn check(&self, source: Source) -> Result<(), String> {
        let single = [
            (
                "secret",
                self.secret
                    .as_deref()
                    .map(|v| parse_secret_ref(v).map(drop)),
            ),
            (
                "mode",
                self.mode.as_deref().map(|v| parse_mode(v).map(drop)),
            ),
            (
                "state",
                self.state
                    .as_deref()
                    .map(|v| StateSpec::parse(Some(v)).map(drop).map_err(|e| e.0)),
            ),
            (
                "state_key",
                self.state_key
                    .as_deref()
                    .map(|v| parse_secret_ref(v).map(drop)),
            ),
            ("log", self.log.as_deref().map(check_log_filter)),
            (
                "log_format",
                self.log_format
                    .as_deref()
                    .map(|v| parse_log_format(v).map(drop)),
            ),
            (
                "oauth_timeout",
                self.oauth_timeout.map(|v| check_oauth_timeout(v).map(drop)),
            ),
            (
                "oauth_cache",
                self.oauth_cache.map(|v| check_oauth_cache(v).map(drop)),
            ),
            (
                "max_wait",
                self.max_wait.map(|v| check_max_wait(v).map(drop)),
            ),
            (
                "namespace_idle",
                self.namespace_idle
                    .map(|v| check_namespace_idle(v).map(drop)),
            ),
            (
                "max_namespaces",
                self.max_namespaces
                    .map(|v| check_max_namespaces(v).map(drop)),
            ),
            (
                "public_url",
                self.public_url
                    .as_deref()
                    .map(|v| check_public_url(v).map(drop)),
            ),
            (
                "sms_twilio_token",
                self.sms_twilio_token
                    .as_deref()
                    .map(|v| parse_secret_ref(v).map(drop)),
            ),
            (
                "sms_webhook_secret",
                self.sms_webhook_secret
                    .as_deref()
                    .map(|v| parse_secret_ref(v).map(drop)),
            ),
            (
                "sms_queue_size",
                self.sms_queue_size
                    .map(|v| check_sms_queue_size(v).map(drop)),
            ),
        ];
        let pins = self
            .pin
            .iter()
            .map(|v| ("pin", Some(parse_pin(v).map(drop))));
        let vaults = self
            .vault
            .iter()
            .map(|v| ("vault", Some(parse_vault(v).map(drop))));
        // Each reason quotes the value it refuses.
        for (field, result) in single.into_iter().chain(pins).chain(vaults) {
            if let Some(Err(why)) = result {
                return Err(format!("{}: {why}", source.name(field)));
            }
        }
        Ok(())
    }

    /// Fills in the defaults and checks the values.
    fn finish(self) -> Result<ServeConfig, String> {
        let limits = self.limits()?;
        let vaults = vault_configs(&self.vault, &self.vault_tables, &self.vault_allow)?;
        let sms = self.sms_config(
            &vaults,
            self.users_secret.is_some() || self.tokens_secret.is_some(),
        )?;
        let secret = self
            .secret
            .as_deref()
            .map(parse_secret_ref)
            .transpose()
            .map_err(|e| format!("--secret: {e}"))?;
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
        let references = [("--secret", &secret), ("--state-key", &state_key)];
        for (flag, reference) in references {
            if let Some(reference) = reference {
                check_vault_named(&vaults, reference.vault.as_deref())
                    .map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        let auth_secrets = [
            ("--users-secret", &self.users_secret),
            ("--tokens-secret", &self.tokens_secret),
        ];
        for (flag, name) in auth_secrets {
            if let (Some(name), None) = (name, &self.auth_vault) {
                check_vault_named(&vaults, rpa_mfa_keywords::vault::split_vault(name).0)
                    .map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        let mode = parse_mode(self.mode.as_deref().unwrap_or("TIME"))
            .map_err(|e| format!("--mode: {e}"))?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let log_format = parse_log_format(self.log_format.as_deref().unwrap_or("text"))
            .map_err(|e| format!("--log-format: {e}"))?;
        let log_filter = self.log.unwrap_or_else(|| "info".into());
        check_log_filter(&log_filter).map_err(|e| format!("--log: {e}"))?;
        let mut pins = BTreeMap::new();
        for pin in &self.pin {
            let (user, ns) = parse_pin(pin).map_err(|e| format!("--pin: {e}"))?;
            pins.insert(user, ns);
        }
        let pins_for_limits = pins.clone();
        let auth = AuthConfig {
            users_secret: self.users_secret,
            tokens_secret: self.tokens_secret,
            vault: self.auth_vault,
            pins,
            login: login_limits(
                self.login_max_failures,
                self.login_window,
                self.login_max_users,
            )?,
        };
        if !auth.pins.is_empty() && !auth.enabled() {
            return Err("--pin needs --users-secret or --tokens-secret".into());
        }
        // Without authentication every caller is anonymous: no list could
        // name them, and a list would only look like protection.
        if vaults.iter().any(|v| !v.allow.is_empty()) && !auth.enabled() {
            return Err(
                "--vault-allow (or a vault's allow list) needs --users-secret or --tokens-secret"
                    .into(),
            );
        }
        let profiles = self
            .profiles
            .iter()
            .map(|(name, config)| Profile::from_config(name, config))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = profiles.iter().find(|p| !p.allow.is_empty()) {
            if !auth.enabled() {
                return Err(format!(
                    "profile '{}': allow needs --users-secret or --tokens-secret",
                    p.name
                ));
            }
        }
        let identities = self
            .identities
            .iter()
            .map(|(name, config)| IdentityPlatform::from_config(name, config))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(i) = identities.iter().find(|i| !i.allow.is_empty()) {
            if !auth.enabled() {
                return Err(format!(
                    "identity '{}': allow needs --users-secret or --tokens-secret",
                    i.name
                ));
            }
        }
        let providers = Providers::from_config(&self.mfa)?;
        if let Some(p) = providers.iter().find(|p| p.settings.has_lists()) {
            if !auth.enabled() {
                return Err(format!(
                    "MFA provider '{}': allow and identities need --users-secret or --tokens-secret",
                    p.settings.name
                ));
            }
        }
        let mailboxes = self
            .mailboxes
            .iter()
            .map(|(name, config)| Mailbox::from_config(name, config))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(m) = mailboxes.iter().find(|m| !m.allow.is_empty()) {
            if !auth.enabled() {
                return Err(format!(
                    "mailbox '{}': allow needs --users-secret or --tokens-secret",
                    m.name
                ));
            }
        }
        let oauth_timeout = check_oauth_timeout(self.oauth_timeout.unwrap_or(30.0))
            .map_err(|e| format!("--oauth-timeout: {e}"))?;
        let oauth_cache = check_oauth_cache(self.oauth_cache.unwrap_or(300))
            .map_err(|e| format!("--oauth-cache: {e}"))?;
        let max_wait = check_max_wait(self.max_wait.unwrap_or(DEFAULT_MAX_WAIT.as_secs()))
            .map_err(|e| format!("--max-wait: {e}"))?;
        let defaults = NamespaceLimits::default();
        let namespace_idle =
            check_namespace_idle(self.namespace_idle.unwrap_or(defaults.idle.as_secs()))
                .map_err(|e| format!("--namespace-idle: {e}"))?;
        let max_namespaces =
            check_max_namespaces(self.max_namespaces.unwrap_or(defaults.max_count as u64))
                .map_err(|e| format!("--max-namespaces: {e}"))?;
        let public_url = self
            .public_url
            .as_deref()
            .map(check_public_url)
            .transpose()
            .map_err(|e| format!("--public-url: {e}"))?;
        // Pinned users' namespaces are theirs for good: never dropped,
        // never counted.
        let exempt = pins_for_limits.into_values().collect();
        Ok(ServeConfig {
            host: self.host.unwrap_or_else(|| "127.0.0.1".into()),
            port: self.port.unwrap_or(8270),
            port_file: self.port_file,
            vaults,
            secret,
            state,
            state_key,
            mode,
            allow_stop: self.allow_stop.unwrap_or(false),
            auth,
            profiles,
            mfa: self.mfa,
            mailboxes,
            identities,
            insecure: self.insecure.unwrap_or(false),
            tls,
            log_filter,
            log_format,
            oauth: rpa_mfa_keywords::oauth::Settings {
                insecure_transport: self.oauth_insecure_transport.unwrap_or(false),
                timeout: oauth_timeout,
                cache_lifetime: oauth_cache,
            },
            max_wait,
            namespaces: NamespaceLimits {
                idle: namespace_idle,
                max_count: max_namespaces,
                exempt,
            },
            limits,
            public_url,
            sms,
            qr_dir: self.qr_dir,
        })
    }

    /// The SMS numbers (normalised, each once) and webhook secrets.
    fn sms_config(&self, vaults: &[VaultConfig], auth: bool) -> Result<SmsConfig, String> {
        let reference = |flag: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| {
                    let reference = parse_secret_ref(v)?;
                    check_vault_named(vaults, reference.vault.as_deref())?;
                    Ok::<_, String>(reference)
                })
                .transpose()
                .map_err(|e| format!("{flag}: {e}"))
        };
        let twilio_token = reference("--sms-twilio-token", &self.sms_twilio_token)?;
        let webhook_secret = reference("--sms-webhook-secret", &self.sms_webhook_secret)?;
        let queue_size = check_sms_queue_size(
            self.sms_queue_size
                .unwrap_or(rpa_mfa_keywords::sms::DEFAULT_QUEUE_SIZE as u64),
        )
        .map_err(|e| format!("--sms-queue-size: {e}"))?;
        let mut numbers = BTreeMap::new();
        for (written, table) in &self.sms_numbers {
            let number = normalize_number(written);
            if number.is_empty() || number.len() > 64 || number.chars().any(char::is_control) {
                return Err(format!(
                    "[sms_numbers.\"{}\"]: a number or sender ID of 1 to 64 characters",
                    written.escape_debug()
                ));
            }
            if !table.allow.is_empty() && !auth {
                return Err(format!(
                    "[sms_numbers.\"{written}\"]: allow needs --users-secret or --tokens-secret"
                ));
            }
            if numbers.insert(number, table.allow.clone()).is_some() {
                return Err(format!(
                    "[sms_numbers.\"{written}\"]: the same number is configured twice"
                ));
            }
        }
        Ok(SmsConfig {
            twilio_token,
            webhook_secret,
            settings: SmsSettings {
                numbers,
                queue_size,
            },
        })
    }
}

/// `--public-url`: an http(s) URL without query or fragment, kept
/// without its trailing `/`.
fn check_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("'{text}' is not an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "'{text}' must have no query, fragment or credentials"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The most messages a number keeps.
const MAX_SMS_QUEUE_SIZE: u64 = 1000;

fn check_sms_queue_size(count: u64) -> Result<usize, String> {
    within(count, 1..=MAX_SMS_QUEUE_SIZE, "messages").map(|n| n as usize)
}

/// `--max-wait`'s default.
const DEFAULT_MAX_WAIT: Duration = rpa_mfa_keywords::DEFAULT_MAX_WAIT;
/// The largest `--max-wait`: a day; no robot waits longer for anything.
const MAX_MAX_WAIT: u64 = 86_400;
/// The largest `--namespace-idle`: a year.
const MAX_NAMESPACE_IDLE: u64 = 365 * 86_400;
/// The largest `--max-namespaces`; each costs memory.
const MAX_MAX_NAMESPACES: u64 = 10_000_000;

/// Where one layer of settings came from, to name a bad value's source.
#[derive(Clone, Copy)]
enum Source<'a> {
    Flags,
    Env,
    File(&'a std::path::Path),
}

impl Source<'_> {
    /// How the user wrote `field` in this layer: `--log-format`,
    /// `RPA_MFA_LOG_FORMAT`, or `log_format in /etc/rpa-mfa.toml`.
    fn name(self, field: &str) -> String {
        match self {
            Source::Flags => format!("--{}", field.replace('_', "-")),
            Source::Env => Settings::ENV
                .iter()
                .find(|(_, f)| *f == field)
                .map_or_else(|| field.to_owned(), |(var, _)| (*var).to_owned()),
            Source::File(path) => format!("{field} in {}", path.display()),
        }
    }
}

/// `text` or `json`, in any case.
fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    if s.eq_ignore_ascii_case("text") {
        Ok(LogFormat::Text)
    } else if s.eq_ignore_ascii_case("json") {
        Ok(LogFormat::Json)
    } else {
        Err(format!("'{s}' is neither text nor json"))
    }
}

/// `USER=NAMESPACE`, the user lower-cased (user names ignore ASCII case).
fn parse_pin(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((user, ns)) if !user.is_empty() && !ns.is_empty() => {
            Ok((user.to_lowercase(), ns.to_owned()))
        }
        _ => Err(format!("expected USER=NAMESPACE, got '{s}'")),
    }
}

fn check_oauth_timeout(seconds: f64) -> Result<std::time::Duration, String> {
    if seconds > 0.0 && seconds <= 86_400.0 {
        Ok(std::time::Duration::from_secs_f64(seconds))
    } else {
        Err(format!(
            "expected seconds between 0 and 86400, got {seconds}"
        ))
    }
}

/// A log filter as `tracing`'s `EnvFilter` reads it: directives separated
/// by commas, each a level or `target=level`. `EnvFilter` itself takes
/// `foo bar` as a target name and silently drops every other line, so
/// anything that cannot be a target or a level is refused here.
pub fn check_log_filter(filter: &str) -> Result<(), String> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |s: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s));
    let is_target = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
    };
    for directive in filter.split(',') {
        let directive = directive.trim();
        let ok = match directive.split_once('=') {
            Some((target, level)) => is_target(target) && is_level(level),
            None => is_level(directive) || is_target(directive),
        };
        if !ok {
            return Err(format!(
                "'{directive}' is not a level ({}) or target=level",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A whole number of `unit` within `range`, or why not.
fn within(value: u64, range: RangeInclusive<u64>, unit: &str) -> Result<u64, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "expected {unit} from {} to {}, got {value}",
            range.start(),
            range.end()
        ))
    }
}

fn check_max_wait(seconds: u64) -> Result<Duration, String> {
    within(seconds, 0..=MAX_MAX_WAIT, "seconds").map(Duration::from_secs)
}

fn check_oauth_cache(seconds: u64) -> Result<Duration, String> {
    within(seconds, 0..=86_400, "seconds").map(Duration::from_secs)
}

fn check_namespace_idle(seconds: u64) -> Result<Duration, String> {
    within(seconds, 1..=MAX_NAMESPACE_IDLE, "seconds").map(Duration::from_secs)
}

fn check_max_namespaces(count: u64) -> Result<usize, String> {
    within(count, 0..=MAX_MAX_NAMESPACES, "a count").map(|n| n as usize)
}

/// The failed-login limiter's settings, defaults filled in and checked.
fn login_limits(
    max_failures: Option<u16>,
    window: Option<f64>,
    max_users: Option<u16>,
) -> Result<crate::auth::LoginLimits, String> {
    let defaults = crate::auth::LoginLimits::default();
    let window = window.unwrap_or(defaults.window.as_secs_f64());
    if !(window > 0.0 && window <= 86_400.0) {
        return Err(format!(
            "--login-window: expected seconds between 0 and 86400, got {window}"
        ));
    }
    let at_least_one = |flag: &str, value: Option<u16>, default: u32| match value {
        Some(0) => Err(format!("--{flag}: expected 1 or more, got 0")),
        Some(n) => Ok(u32::from(n)),
        None => Ok(default),
    };
    Ok(crate::auth::LoginLimits {
        max_failures: at_least_one("login-max-failures", max_failures, defaults.max_failures)?,
        window: std::time::Duration::from_secs_f64(window),
        max_users: at_least_one("login-max-users", max_users, defaults.max_users)?,
    })
}

/// `[VAULT/]NAME:KEY` as in `--secret mfa:otpsecret` (see [`SecretRef`]).
pub fn parse_secret_ref(s: &str) -> Result<SecretRef, String> {
    s.parse::<SecretRef>().map_err(|e| e.to_string())
}

/// Fails unless `vault` (None: the default) is configured.
fn check_vault_named(vaults: &[VaultConfig], vault: Option<&str>) -> Result<(), String> {
    match vault {
        Some(name) if !vaults.iter().any(|v| v.name == name) => Err(format!(
            "no vault named '{name}' is configured; add --vault {name}=SPEC"
        )),
        _ => Ok(()),
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
        assert!(config.vault(DEFAULT_VAULT).unwrap().allow.is_empty());
        let login = config.auth.login;
        assert_eq!(login.max_failures, 5);
        assert_eq!(login.window, std::time::Duration::from_secs(60));
        assert_eq!(login.max_users, 10);
    }

    #[test]
    fn vault_allow_and_login_limits_from_each_layer() {
        let file = config_file(
            "users_secret = \"users\"\nvault_allow = [\"alice\", \"ci\"]\n\
             login_window = 30\nlogin_max_users = 3\n",
        );
        let path = file.path().to_str().unwrap();
        let config = flags(&["--login-max-failures", "7"])
            .resolve(env(&[
                ("RPA_MFA_CONFIG", path),
                ("RPA_MFA_LOGIN_MAX_USERS", "4"),
            ]))
            .unwrap();
        assert_eq!(config.vault(DEFAULT_VAULT).unwrap().allow, ["alice", "ci"]);
        assert_eq!(config.auth.login.max_failures, 7);
        assert_eq!(config.auth.login.max_users, 4, "env over file");
        assert_eq!(config.auth.login.window, std::time::Duration::from_secs(30));
        let config = flags(&["--vault-allow", "bob", "--vault-allow", "qa"])
            .resolve(env(&[
                ("RPA_MFA_CONFIG", path),
                ("RPA_MFA_VAULT_ALLOW", "x,y"),
            ]))
            .unwrap();
        assert_eq!(
            config.vault(DEFAULT_VAULT).unwrap().allow,
            ["bob", "qa"],
            "flags replace the lists below"
        );
    }

    #[test]
    fn named_vaults_from_flags_env_and_config_tables() {
        let config = flags(&[
            "--vault",
            "file:/s.json",
            "--vault",
            "bao=vault+http://127.0.0.1:8200/secret?namespace=a=b",
            "--vault-allow",
            "alice",
            "--vault-allow",
            "bao=ci",
            "--vault-allow",
            "default=qa",
            "--users-secret",
            "bao/users",
        ])
        .resolve(env(&[]))
        .unwrap();
        let names: Vec<&str> = config.vaults.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["default", "bao"], "the default first");
        assert_eq!(config.vaults[0].spec.as_deref(), Some("file:/s.json"));
        assert_eq!(config.vaults[0].allow, ["alice", "qa"]);
        let bao = config.vault("bao").unwrap();
        assert_eq!(
            bao.spec.as_deref(),
            Some("vault+http://127.0.0.1:8200/secret?namespace=a=b"),
            "only a leading NAME= names a vault"
        );
        assert_eq!(bao.allow, ["ci"]);

        let config = flags(&[])
            .resolve(env(&[("RPA_MFA_VAULT", "env:,bao=vault+http://h:1/kv")]))
            .unwrap();
        assert_eq!(config.vaults[0].spec.as_deref(), Some("env:"));
        assert_eq!(
            config.vault("bao").unwrap().spec.as_deref(),
            Some("vault+http://h:1/kv")
        );

        let file = config_file(
            "vault = \"file:/x.yaml\"\ntokens_secret = \"tokens\"\n\
             [vaults.bao]\nspec = \"vault+https://bao:8200/secret\"\nallow = [\"teamA\"]\n\
             [vaults.default]\nallow = [\"alice\"]\n",
        );
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(env(&[]))
            .unwrap();
        assert_eq!(config.vaults[0].spec.as_deref(), Some("file:/x.yaml"));
        assert_eq!(config.vaults[0].allow, ["alice"]);
        assert_eq!(config.vault("bao").unwrap().allow, ["teamA"]);
        let file = config_file("vault = [\"env:\", \"k=file:/k.json\"]\n");
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(env(&[]))
            .unwrap();
        assert_eq!(
            config.vault("k").unwrap().spec.as_deref(),
            Some("file:/k.json")
        );
        assert!(config.vault("default").unwrap().allow.is_empty());
        assert_eq!(config.vaults.len(), 2);
    }

    #[test]
    fn vault_mistakes_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--vault", "env:", "--vault", "file:x"],
                "the vault 'default' is given twice",
            ),
            (&["--vault", "bao="], "expected [NAME=]SPEC"),
            (
                &["--secret", "bao/mfa:otp"],
                "no vault named 'bao' is configured; add --vault bao=SPEC",
            ),
            (&["--state-key", "kv/fleet:key"], "no vault named 'kv'"),
            (&["--users-secret", "bao/users"], "no vault named 'bao'"),
            (
                &["--tokens-secret", "t", "--vault-allow", "bao=ci"],
                "--vault-allow bao=ci: no vault named 'bao'",
            ),
        ];
        for (args, expected) in cases {
            let err = flags(args).resolve(env(&[])).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
        let file = config_file("[vaults.bao]\nallow = [\"x\"]\n");
        let err = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.contains("[vaults.bao]: needs spec"), "{err}");
        let file = config_file("[vaults.bao]\nspec = \"env:\"\nallowed = []\n");
        let err = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.contains("unknown field `allowed`"), "{err}");
    }

    #[test]
    fn state_settings_come_from_every_layer() {
        let file = config_file("state = \"memory:\"\nstate_key = \"fleet:key\"\n");
        let path = file.path().to_str().unwrap();
        let config = flags(&["--config", path]).resolve(env(&[])).unwrap();
        assert_eq!(config.state, StateSpec::Memory);
        assert_eq!(config.state_key, Some("fleet:key".parse().unwrap()));
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
    fn qr_dir_is_off_by_default_and_set_by_any_layer() {
        assert_eq!(flags(&[]).resolve(env(&[])).unwrap().qr_dir, None);
        let file = config_file("qr_dir = \"/srv/qr-file\"\n");
        let path = file.path().to_str().unwrap();
        let from_file = flags(&["--config", path]).resolve(env(&[])).unwrap();
        assert_eq!(from_file.qr_dir, Some(PathBuf::from("/srv/qr-file")));
        let from_env = flags(&["--config", path])
            .resolve(env(&[("RPA_MFA_QR_DIR", "/srv/qr-env")]))
            .unwrap();
        assert_eq!(from_env.qr_dir, Some(PathBuf::from("/srv/qr-env")));
        let from_flag = flags(&["--config", path, "--qr-dir", "/srv/qr-flag"])
            .resolve(env(&[("RPA_MFA_QR_DIR", "/srv/qr-env")]))
            .unwrap();
        assert_eq!(from_flag.qr_dir, Some(PathBuf::from("/srv/qr-flag")));
    }

    #[test]
    fn waits_namespaces_and_caches_have_bounded_defaults_and_settings() {
        let config = flags(&[]).resolve(env(&[])).unwrap();
        assert_eq!(config.max_wait, Duration::from_secs(900));
        assert_eq!(config.namespaces.idle, Duration::from_secs(86_400));
        assert_eq!(config.namespaces.max_count, 10_000);
        assert!(config.namespaces.exempt.is_empty());
        assert_eq!(config.oauth.cache_lifetime, Duration::from_secs(300));

        let file = config_file(
            "max_wait = 60\nnamespace_idle = 3600\nmax_namespaces = 50\noauth_cache = 0\n\
             users_secret = \"users\"\npin = [\"bot=ci\"]\n",
        );
        let path = file.path().to_str().unwrap();
        let config = flags(&["--config", path, "--max-namespaces", "70"])
            .resolve(env(&[("RPA_MFA_NAMESPACE_IDLE", "120")]))
            .unwrap();
        assert_eq!(config.max_wait, Duration::from_secs(60), "from the file");
        assert_eq!(config.namespaces.idle, Duration::from_secs(120), "env");
        assert_eq!(config.namespaces.max_count, 70, "flag");
        assert_eq!(config.oauth.cache_lifetime, Duration::ZERO);
        assert!(
            config.namespaces.exempt.contains("ci"),
            "a pinned namespace never expires nor counts"
        );

        for (flag, value) in [
            ("--max-wait", "86401"),
            ("--namespace-idle", "0"),
            ("--oauth-cache", "86401"),
        ] {
            let err = flags(&[flag, value]).resolve(env(&[])).unwrap_err();
            assert!(err.starts_with(flag) && err.contains(value), "{err}");
        }
        let err = flags(&[])
            .resolve(env(&[("RPA_MFA_MAX_WAIT", "-1")]))
            .unwrap_err();
        assert!(err.contains("RPA_MFA_MAX_WAIT"), "{err}");
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
        let err = flags(&["--vault-allow", "ci"])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(
            err.contains("--vault-allow (or a vault's allow list) needs --users-secret"),
            "{err}"
        );
        for (flag, value) in [
            ("--login-window", "0"),
            ("--login-window", "NaN"),
            ("--login-window", "inf"),
            ("--login-max-failures", "0"),
            ("--login-max-users", "0"),
        ] {
            let err = flags(&[flag, value]).resolve(env(&[])).unwrap_err();
            assert!(err.starts_with(flag), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn each_bad_value_names_its_flag_variable_or_file_key() {
        let file = config_file("mode = \"TIMED\"\n");
        let path = file.path().to_str().unwrap();
        type Case = (Settings, Vec<(&'static str, &'static str)>, String);
        let cases: [Case; 8] = [
            (
                flags(&["--mode", "TIMED"]),
                vec![],
                "--mode: OTPMode does not have member 'TIMED'".into(),
            ),
            (
                flags(&[]),
                vec![("RPA_MFA_MODE", "TIMED")],
                "RPA_MFA_MODE: OTPMode does not have member 'TIMED'".into(),
            ),
            (
                flags(&["--config", path]),
                vec![],
                format!("mode in {path}: OTPMode does not have member 'TIMED'"),
            ),
            (
                flags(&["--secret", "mfa"]),
                vec![],
                "--secret: expected a secret reference NAME:KEY or VAULT/NAME:KEY (e.g. mfa:otpsecret), not 'mfa'".into(),
            ),
            (
                flags(&[]),
                vec![("RPA_MFA_VAULT_SECRET", "mfa")],
                "RPA_MFA_VAULT_SECRET: expected a secret reference NAME:KEY".into(),
            ),
            (
                flags(&["--log", "foo bar"]),
                vec![],
                "--log: 'foo bar' is not a level".into(),
            ),
            (
                flags(&[]),
                vec![("RPA_MFA_LOG_FORMAT", "xml")],
                "RPA_MFA_LOG_FORMAT: 'xml' is neither text nor json".into(),
            ),
            (
                flags(&[]),
                vec![("RPA_MFA_OAUTH_TIMEOUT", "0")],
                "RPA_MFA_OAUTH_TIMEOUT: expected seconds between 0 and 86400, got 0".into(),
            ),
        ];
        for (settings, vars, expected) in cases {
            let err = settings.resolve(env(&vars)).unwrap_err();
            assert!(
                err.starts_with(&expected),
                "{err:?} should start with {expected:?}"
            );
        }
        // A bad value in a lower layer is reported even when a higher one
        // overrides it: the file has a typo the user should hear about.
        let err = flags(&["--mode", "TIME", "--config", path])
            .resolve(env(&[]))
            .unwrap_err();
        assert!(err.starts_with(&format!("mode in {path}:")), "{err}");
    }

    #[test]
    fn log_filters_are_levels_or_target_level_pairs() {
        for good in [
            "info",
            "rpa_mfa=debug,warn",
            "OFF",
            "tower_http::trace=trace",
            "rpa_mfa",
        ] {
            check_log_filter(good).unwrap();
        }
        for bad in ["foo bar", "info,", "rpa_mfa=loud", "=info", "debug warn"] {
            assert!(check_log_filter(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn limits_have_defaults_and_come_from_every_layer() {
        let config = flags(&[]).resolve(env(&[])).unwrap();
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(config.limits.max_connections, 1024);
        assert_eq!(config.limits.max_websockets, 1000);
        assert_eq!(config.limits.max_body_size, 4 * 1024 * 1024);
        assert_eq!(config.limits.shutdown_grace, Duration::from_secs(10));
        let file = config_file("idle_timeout = 5.5\nmax_websockets = 7\nshutdown_grace = 3\n");
        let config = flags(&["--max-body-size", "1024", "--max-websockets", "9"])
            .resolve(env(&[
                ("RPA_MFA_CONFIG", file.path().to_str().unwrap()),
                ("RPA_MFA_WS_PING_INTERVAL", "2"),
                ("RPA_MFA_MAX_WEBSOCKETS", "8"),
            ]))
            .unwrap();
        assert_eq!(config.limits.max_body_size, 1024, "flag");
        assert_eq!(config.limits.max_websockets, 9, "flag over env and file");
        assert_eq!(
            config.limits.ws_ping_interval,
            Duration::from_secs(2),
            "env"
        );
        assert_eq!(
            config.limits.idle_timeout,
            Duration::from_millis(5500),
            "file"
        );
        assert_eq!(config.limits.shutdown_grace, Duration::from_secs(3), "file");
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        for (flag, value, expected) in [
            (
                "--idle-timeout",
                "0",
                "--idle-timeout: expected seconds above 0",
            ),
            (
                "--header-read-timeout",
                "inf",
                "--header-read-timeout: expected seconds",
            ),
            (
                "--shutdown-grace",
                "-1",
                "--shutdown-grace: expected seconds",
            ),
            (
                "--ws-ping-interval",
                "NaN",
                "--ws-ping-interval: expected seconds",
            ),
            (
                "--max-connections",
                "0",
                "--max-connections: expected at least 1, got 0",
            ),
            (
                "--max-body-size",
                "0",
                "--max-body-size: expected at least 1, got 0",
            ),
        ] {
            let err = flags(&[&format!("{flag}={value}")])
                .resolve(env(&[]))
                .unwrap_err();
            assert!(err.starts_with(expected), "{flag} {value}: {err}");
        }
        let err = flags(&[])
            .resolve(env(&[("RPA_MFA_MAX_CONNECTIONS", "-5")]))
            .unwrap_err();
        assert!(err.contains("RPA_MFA_MAX_CONNECTIONS"), "{err}");
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
        assert_eq!(config.max_wait, Duration::from_secs(900));
        assert_eq!(config.namespaces.max_count, 10_000);
        assert!(config.namespaces.exempt.contains("ci"));
        assert_eq!(config.vault(DEFAULT_VAULT).unwrap().allow, ["alice", "ci"]);
    }

    #[test]
    fn profiles_come_from_the_config_file_and_are_checked() {
        let file = config_file(
            "[profiles.crm]\ngrant = \"client_credentials\"\nissuer = \"https://idp.example\"\n\
client_id = \"robot\"\nclient_secret = \"crm:secret\"\nscopes = [\"api:read\"]\n",
        );
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap();
        assert_eq!(config.profiles.len(), 1);
        assert_eq!(config.profiles[0].name, "crm");
        assert_eq!(config.profiles[0].scope.as_deref(), Some("api:read"));
        let bad = config_file("[profiles.crm]\ngrant = \"implicit\"\nclient_id = \"x\"\n");
        let err = flags(&["--config", bad.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("profile 'crm': unknown grant 'implicit'"),
            "{err}"
        );
        let allow = config_file(
            "[profiles.crm]\ngrant = \"client_credentials\"\ntoken_url = \"https://idp.example/t\"\n\
client_id = \"robot\"\nallow = [\"alice\"]\n",
        );
        let err = flags(&["--config", allow.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(err.contains("allow needs --users-secret"), "{err}");
    }

    #[test]
    fn identities_come_from_the_config_file_and_are_checked() {
        let file = config_file(
            "[identities.corp]\ntenant_url = \"https://abc.id.example\"\nuser = \"robot@corp\"\n\
password = \"idp:robot\"\npoll_timeout = 45\n",
        );
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap();
        assert_eq!(config.identities.len(), 1);
        assert_eq!(config.identities[0].name, "corp");
        assert_eq!(config.identities[0].poll_timeout, Duration::from_secs(45));
        let bad = config_file("[identities.corp]\nuser = \"robot@corp\"\n");
        let err = flags(&["--config", bad.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("identity 'corp': tenant_url is missing"),
            "{err}"
        );
        let allow = config_file(
            "[identities.corp]\ntenant_url = \"https://abc.id.example\"\nuser = \"u\"\n\
allow = [\"alice\"]\n",
        );
        let err = flags(&["--config", allow.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("identity 'corp': allow needs --users-secret"),
            "{err}"
        );
    }

    #[test]
    fn mfa_providers_come_from_the_config_file_and_are_checked() {
        let file = config_file(
            "[mfa.pi]\nkind = \"privacyidea\"\nurl = \"https://pi.example\"\ntimeout = 5\n\
token = \"pi:token\"\n[mfa.pi.privacyidea]\nrealm = \"r1\"\n",
        );
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap();
        assert_eq!(config.mfa.len(), 1);
        assert_eq!(config.mfa["pi"].timeout, Some(5.0));
        let bad = config_file("[mfa.pi]\nkind = \"privacyidea\"\nurl = \"pi.example\"\n");
        let err = flags(&["--config", bad.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("MFA provider 'pi': url 'pi.example' is not an http(s) URL"),
            "{err}"
        );
        let allow = config_file(
            "[mfa.pi]\nkind = \"privacyidea\"\nurl = \"https://pi.example\"\nallow = [\"alice\"]\n",
        );
        let err = flags(&["--config", allow.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("allow and identities need --users-secret"),
            "{err}"
        );
    }

    #[test]
    fn sms_settings_come_from_every_layer_and_are_checked() {
        let file = config_file(
            "public_url = \"https://mfa.example/rpa/\"\nsms_queue_size = 5\n\
[sms_numbers.\"+1 (555) 010-4477\"]\nallow = [\"alice\"]\n[sms_numbers.ACME]\n",
        );
        let path = file.path().to_str().unwrap();
        let env = env(&[("RPA_MFA_SMS_TWILIO_TOKEN", "twilio:token")]);
        let config = flags(&[
            "--config",
            path,
            "--users-secret",
            "users",
            "--sms-webhook-secret",
            "gw:secret",
        ])
        .resolve(env)
        .unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://mfa.example/rpa")
        );
        assert_eq!(config.sms.settings.queue_size, 5);
        assert_eq!(
            config.sms.settings.numbers.keys().collect::<Vec<_>>(),
            ["+15550104477", "ACME"]
        );
        assert_eq!(config.sms.settings.numbers["+15550104477"], ["alice"]);
        assert_eq!(config.sms.twilio_token.as_ref().unwrap().name, "twilio");
        assert_eq!(config.sms.webhook_secret.as_ref().unwrap().key, "secret");
        let defaults = flags(&[]).resolve(|_| None).unwrap();
        assert_eq!(defaults.sms.settings.queue_size, 20);
        assert_eq!(defaults.public_url, None);
        let err = flags(&["--config", path]).resolve(|_| None).unwrap_err();
        assert!(err.contains("allow needs --users-secret"), "{err}");
        for (args, why) in [
            (
                &["--public-url", "ftp://h"][..],
                "--public-url: 'ftp://h' is not an http(s) URL",
            ),
            (
                &["--public-url", "https://h/x?a=1"][..],
                "must have no query",
            ),
            (
                &["--sms-queue-size", "0"][..],
                "--sms-queue-size: expected messages from 1 to 1000",
            ),
            (&["--sms-twilio-token", "nokey"][..], "--sms-twilio-token"),
        ] {
            let err = flags(args).resolve(|_| None).unwrap_err();
            assert!(err.contains(why), "{args:?}: {err}");
        }
        let twice = config_file("[sms_numbers.\"+15550100\"]\n[sms_numbers.\"+1 555 0100\"]\n");
        let err = flags(&["--config", twice.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(err.contains("the same number is configured twice"), "{err}");
    }

    #[test]
    fn mailboxes_come_from_the_config_file_and_are_checked() {
        let file = config_file(
            "[mailboxes.otp]\nhost = \"imap.example\"\nuser = \"robot\"\npassword = \"mail:robot\"\n",
        );
        let config = flags(&["--config", file.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap();
        assert_eq!(config.mailboxes.len(), 1);
        assert_eq!(config.mailboxes[0].name, "otp");
        assert_eq!(config.mailboxes[0].port, 993);
        let bad =
            config_file("[mailboxes.otp]\nhost = \"h\"\nuser = \"r\"\npassword = \"secret\"\n");
        let err = flags(&["--config", bad.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert!(
            err.contains("mailbox 'otp': password must be a vault reference"),
            "{err}"
        );
        assert!(
            !err.contains("'secret'"),
            "a mistaken password is not echoed: {err}"
        );
        let allow = config_file(
            "[mailboxes.otp]\nhost = \"h\"\nuser = \"r\"\npassword = \"m:r\"\nallow = [\"alice\"]\n",
        );
        let err = flags(&["--config", allow.path().to_str().unwrap()])
            .resolve(|_| None)
            .unwrap_err();
        assert_eq!(
            err,
            "mailbox 'otp': allow needs --users-secret or --tokens-secret"
        );
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
