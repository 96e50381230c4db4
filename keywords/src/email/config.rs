//! A mailbox as the config file writes it (`[mailboxes.NAME]`), and
//! checked: where the IMAP server is, how to secure the connection, how
//! to log in (a vault reference or an auth profile's token, never the
//! secret itself), which folder to read and what to do with a message
//! once its code was taken.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::vault::SecretRef;

/// How often a server without IDLE is asked for new mail, by default.
pub const DEFAULT_POLL: Duration = Duration::from_secs(5);

/// `[mailboxes.NAME]` as written. Unknown keys are errors, so typos show.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub host: Option<String>,
    /// Default: 993 with `tls = "tls"`, else 143.
    pub port: Option<u16>,
    /// `tls` (the default), `starttls` or `none`.
    pub tls: Option<String>,
    /// A PEM file of the CA certificates to trust instead of the system's.
    pub ca: Option<PathBuf>,
    pub user: Option<String>,
    /// A vault reference `[VAULT/]NAME:KEY` to the password.
    pub password: Option<String>,
    /// `password` (the default without a profile), `xoauth2` or `oauthbearer`.
    pub auth: Option<String>,
    /// The auth profile whose access token logs in (`xoauth2`, `oauthbearer`).
    pub profile: Option<String>,
    /// Default `INBOX`.
    pub folder: Option<String>,
    /// `seen` (the default), `move:FOLDER` or `none`.
    pub after: Option<String>,
    /// Seconds between looks when the server does not offer IDLE (default 5).
    pub poll: Option<u64>,
    /// Use IDLE when the server offers it (default true); false polls, for
    /// servers or proxies whose IDLE is unreliable.
    pub idle: Option<bool>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (IMAPS, port 993).
    Tls,
    /// Plain, then `STARTTLS` before logging in.
    StartTls,
    /// No TLS at all: only for a server on this machine or in tests.
    None,
}

/// How the mailbox logs in.
#[derive(Clone, Debug, PartialEq)]
pub enum Login {
    /// IMAP `LOGIN` with the password from the vault.
    Password(SecretRef),
    /// SASL `XOAUTH2` (Microsoft 365, Gmail) with the profile's token.
    XOAuth2 { profile: String },
    /// SASL `OAUTHBEARER` (RFC 7628) with the profile's token.
    OAuthBearer { profile: String },
}

impl Login {
    /// How the login is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Login::Password(_) => "password".into(),
            Login::XOAuth2 { profile } => format!("XOAUTH2 token of auth profile '{profile}'"),
            Login::OAuthBearer { profile } => {
                format!("OAUTHBEARER token of auth profile '{profile}'")
            }
        }
    }
}

/// What happens to a message whose code was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    /// Flag it `\Seen`.
    Seen,
    /// Move it to this folder.
    Move(String),
    /// Leave it as it is (the mark in the state store still keeps it
    /// from being taken twice).
    Nothing,
}

/// A checked mailbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Mailbox {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub ca: Option<PathBuf>,
    pub user: String,
    pub login: Login,
    pub folder: String,
    pub after: After,
    pub poll: Duration,
    pub idle: bool,
    pub allow: Vec<String>,
}

impl Mailbox {
    /// Checks `config`; the error names the mailbox and what is wrong.
    pub fn from_config(name: &str, config: &MailboxConfig) -> Result<Mailbox, String> {
        let fail = |why: &str| format!("mailbox '{name}': {why}");
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(fail("the name must be printable text"));
        }
        let text = |field: &str, value: &Option<String>| -> Result<String, String> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() && !v.chars().any(|c| c.is_control()) => Ok(v.to_owned()),
                Some(_) => Err(fail(&format!("{field} must be printable, non-empty text"))),
                None => Err(fail(&format!("{field} is missing"))),
            }
        };
        let host = text("host", &config.host)?;
        let security = match config.tls.as_deref().unwrap_or("tls") {
            "tls" => Security::Tls,
            "starttls" => Security::StartTls,
            "none" => Security::None,
            other => {
                return Err(fail(&format!(
                    "tls '{other}' is not one of tls, starttls, none"
                )))
            }
        };
        let port = config.port.unwrap_or(match security {
            Security::Tls => 993,
            _ => 143,
        });
        if port == 0 {
            return Err(fail("port must be 1 to 65535"));
        }
        if config.ca.is_some() && security == Security::None {
            return Err(fail("ca goes with tls = \"tls\" or \"starttls\""));
        }
        let user = text("user", &config.user)?;
        let auth = config
            .auth
            .as_deref()
            .unwrap_or(if config.profile.is_some() {
                "xoauth2"
            } else {
                "password"
            });
        let login = match auth {
            "password" => {
                if config.profile.is_some() {
                    return Err(fail(
                        "profile goes with auth = \"xoauth2\" or \"oauthbearer\"",
                    ));
                }
                let reference = text("password", &config.password)?;
                // Not echoed: a password written here by mistake stays out
                // of the error.
                Login::Password(reference.parse().map_err(|_| {
                    fail("password must be a vault reference [VAULT/]NAME:KEY (e.g. mail:robot), not the password itself")
                })?)
            }
            "xoauth2" | "oauthbearer" => {
                if config.password.is_some() {
                    return Err(fail(&format!(
                        "auth = \"{auth}\" logs in with a profile's token, not a password"
                    )));
                }
                let profile = text("profile", &config.profile)?;
                if auth == "xoauth2" {
                    Login::XOAuth2 { profile }
                } else {
                    Login::OAuthBearer { profile }
                }
            }
            other => {
                return Err(fail(&format!(
                    "auth '{other}' is not one of password, xoauth2, oauthbearer"
                )))
            }
        };
        let folder = match &config.folder {
            None => "INBOX".to_owned(),
            some => text("folder", some)?,
        };
        let after = match config.after.as_deref().unwrap_or("seen") {
            "seen" => After::Seen,
            "none" => After::Nothing,
            other => match other.strip_prefix("move:").map(str::trim) {
                Some(to) if !to.is_empty() && !to.chars().any(|c| c.is_control()) => {
                    After::Move(to.to_owned())
                }
                _ => {
                    return Err(fail(&format!(
                        "after '{other}' is not one of seen, move:FOLDER, none"
                    )))
                }
            },
        };
        let poll = match config.poll {
            None => DEFAULT_POLL,
            Some(s @ 1..=3600) => Duration::from_secs(s),
            Some(s) => return Err(fail(&format!("poll must be 1 to 3600 seconds, got {s}"))),
        };
        Ok(Mailbox {
            name: name.to_owned(),
            host,
            port,
            security,
            ca: config.ca.clone(),
            user,
            login,
            folder,
            after,
            poll,
            idle: config.idle.unwrap_or(true),
            allow: config.allow.clone(),
        })
    }

    /// `HOST:PORT`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Mailbox, String> {
        let config: MailboxConfig = serde_norway::from_str(toml).map_err(|e| e.to_string())?;
        Mailbox::from_config("otp", &config)
    }

    #[test]
    fn defaults_are_imaps_inbox_and_seen() {
        let m = parse("host: imap.example\nuser: robot\npassword: mail:robot\n").unwrap();
        assert_eq!((m.port, m.security), (993, Security::Tls));
        assert_eq!(m.folder, "INBOX");
        assert_eq!(m.after, After::Seen);
        assert_eq!(m.poll, DEFAULT_POLL);
        assert_eq!(
            m.login,
            Login::Password(SecretRef {
                vault: None,
                name: "mail".into(),
                key: "robot".into()
            })
        );
    }

    #[test]
    fn a_profile_means_xoauth2_and_after_may_move() {
        let m = parse(
            "host: outlook.office365.com\nuser: r@x.test\nprofile: m365\ntls: starttls\n\
             after: 'move:Done'\n",
        )
        .unwrap();
        assert_eq!(
            m.login,
            Login::XOAuth2 {
                profile: "m365".into()
            }
        );
        assert_eq!((m.port, m.security), (143, Security::StartTls));
        assert_eq!(m.after, After::Move("Done".into()));
    }

    #[test]
    fn mistakes_name_the_mailbox_and_the_field() {
        let err = |toml: &str| parse(toml).unwrap_err();
        assert_eq!(
            err("user: r\npassword: a:b\n"),
            "mailbox 'otp': host is missing"
        );
        assert_eq!(
            err("host: h\nuser: r\npassword: hunter2\n"),
            "mailbox 'otp': password must be a vault reference [VAULT/]NAME:KEY \
             (e.g. mail:robot), not the password itself"
        );
        assert_eq!(
            err("host: h\nuser: r\npassword: a:b\ntls: ssl\n"),
            "mailbox 'otp': tls 'ssl' is not one of tls, starttls, none"
        );
        assert_eq!(
            err("host: h\nuser: r\nauth: oauthbearer\n"),
            "mailbox 'otp': profile is missing"
        );
        assert_eq!(
            err("host: h\nuser: r\npassword: a:b\nafter: delete\n"),
            "mailbox 'otp': after 'delete' is not one of seen, move:FOLDER, none"
        );
        assert!(err("host: h\nuser: r\npassword: a:b\npasword: x\n").contains("unknown field"));
    }
}
