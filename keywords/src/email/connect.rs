//! Opening a logged-in IMAP session to a mailbox: TCP, TLS (from the
//! first byte or after `STARTTLS`), then `LOGIN` or a SASL bearer
//! token. Each failure becomes an error a person can act on, and the
//! kinds stay apart: the server is unreachable, TLS failed, the
//! credentials were refused, or the server could not check them now.

use std::fmt;
use std::sync::Arc;

use async_imap::error::Error as ImapError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use super::config::{Login, Mailbox, Security};
use crate::KeywordError;

/// Any stream an IMAP session runs over: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

pub type Session = async_imap::Session<Box<dyn Io>>;
type Client = async_imap::Client<Box<dyn Io>>;

/// What the mailbox logs in with, read from the vault or the profile
/// just before connecting. Zeroed when dropped.
pub enum Credential {
    Password(Zeroizing<String>),
    Token(Zeroizing<String>),
}

/// Connects and logs in.
pub async fn open(mailbox: &Mailbox, credential: &Credential) -> Result<Session, KeywordError> {
    let tcp = TcpStream::connect((mailbox.host.as_str(), mailbox.port))
        .await
        .map_err(|e| unreachable(mailbox, &e.to_string()))?;
    let stream: Box<dyn Io> = match mailbox.security {
        Security::Tls => Box::new(tls(mailbox, Box::new(tcp)).await?),
        _ => Box::new(tcp),
    };
    let mut client = Client::new(stream);
    greeting(mailbox, &mut client).await?;
    if mailbox.security == Security::StartTls {
        client
            .run_command_and_check_ok("STARTTLS", None)
            .await
            .map_err(|e| {
                KeywordError::new(
                    "SSLError",
                    format!(
                        "IMAP server {} of mailbox '{}' refused STARTTLS: {}",
                        mailbox.address(),
                        mailbox.name,
                        server_text(&e)
                    ),
                )
            })?;
        let tcp = client.into_inner();
        client = Client::new(Box::new(tls(mailbox, tcp).await?));
    }
    login(mailbox, client, credential).await
}

/// Reads the server's `* OK` greeting.
async fn greeting(mailbox: &Mailbox, client: &mut Client) -> Result<(), KeywordError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(unreachable(mailbox, "it closed the connection")),
        Err(e) => Err(unreachable(mailbox, &e.to_string())),
    }
}

async fn login(
    mailbox: &Mailbox,
    client: Client,
    credential: &Credential,
) -> Result<Session, KeywordError> {
    let result = match (&mailbox.login, credential) {
        (Login::Password(_), Credential::Password(password)) => {
            client.login(&mailbox.user, password.as_str()).await
        }
        (Login::XOAuth2 { .. }, Credential::Token(token)) => {
            let first = format!("user={}\x01auth=Bearer {}\x01\x01", mailbox.user, **token);
            client.authenticate("XOAUTH2", Sasl::new(first)).await
        }
        (Login::OAuthBearer { .. }, Credential::Token(token)) => {
            // RFC 7628 §3.1; Dovecot 2.3 needs the `a=` authorization identity.
            let first = format!(
                "n,a={},\x01host={}\x01port={}\x01auth=Bearer {}\x01\x01",
                mailbox.user, mailbox.host, mailbox.port, **token
            );
            client.authenticate("OAUTHBEARER", Sasl::new(first)).await
        }
        _ => unreachable!("the credential is read for the mailbox's login"),
    };
    result.map_err(|(e, _)| refused(mailbox, &e))
}

/// A SASL exchange that sends its initial response once and answers any
/// further challenge (an error report from the server) with an empty
/// line, which lets the server end the exchange with its `NO`.
struct Sasl {
    first: Option<Zeroizing<String>>,
}

impl Sasl {
    fn new(first: String) -> Sasl {
        Sasl {
            first: Some(Zeroizing::new(first)),
        }
    }
}

impl async_imap::Authenticator for Sasl {
    type Response = Zeroizing<Vec<u8>>;

    fn process(&mut self, _challenge: &[u8]) -> Self::Response {
        Zeroizing::new(
            self.first
                .take()
                .map(|f| f.as_bytes().to_vec())
                .unwrap_or_default(),
        )
    }
}

/// TLS over `tcp`, checking the server's certificate for the host name
/// against `ca` or the system's roots.
async fn tls(
    mailbox: &Mailbox,
    tcp: Box<dyn Io>,
) -> Result<tokio_rustls::client::TlsStream<Box<dyn Io>>, KeywordError> {
    let failed = |why: String| {
        KeywordError::new(
            "SSLError",
            format!(
                "TLS with IMAP server {} of mailbox '{}' failed: {why}",
                mailbox.address(),
                mailbox.name
            ),
        )
    };
    let config = client_config(mailbox).map_err(failed)?;
    let name = ServerName::try_from(mailbox.host.clone())
        .map_err(|_| failed(format!("'{}' is not a valid host name", mailbox.host)))?;
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| failed(e.to_string()))
}

fn client_config(mailbox: &Mailbox) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match &mailbox.ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read ca {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("ca {} holds no certificate", path.display()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| e.to_string())?
                .with_no_client_auth()
        }
    };
    Ok(config)
}

fn unreachable(mailbox: &Mailbox, why: &str) -> KeywordError {
    KeywordError::new(
        "ConnectionError",
        format!(
            "Cannot reach IMAP server {} of mailbox '{}': {why}",
            mailbox.address(),
            mailbox.name
        ),
    )
}

/// A refused login: the credentials were wrong (`[AUTHENTICATIONFAILED]`
/// and other plain NOs), or the server could not check them now
/// (`[UNAVAILABLE]`, RFC 5530), which a robot may retry.
fn refused(mailbox: &Mailbox, error: &ImapError) -> KeywordError {
    let text = server_text(error);
    let how = mailbox.login.describe();
    if text.contains("[UNAVAILABLE]") || text.contains("Unavailable") {
        return KeywordError::new(
            "MailboxUnavailableError",
            format!(
                "IMAP server {} could not check the {how} of user '{}' (mailbox '{}') now: \
a temporary failure, try again later ({text})",
                mailbox.address(),
                mailbox.user,
                mailbox.name
            ),
        );
    }
    match error {
        ImapError::No(_) | ImapError::Bad(_) => KeywordError::new(
            "MailboxAuthenticationError",
            format!(
                "IMAP server {} refused the {how} of user '{}' (mailbox '{}'): {}",
                mailbox.address(),
                mailbox.user,
                mailbox.name,
                match mailbox.login {
                    super::config::Login::Password(_) => "wrong user name or password",
                    _ => "the token is not valid for this user",
                }
            ),
        ),
        _ => unreachable(mailbox, &text),
    }
}

/// What the server said, as async-imap reports it (the response code
/// and text; never what was sent).
pub fn server_text(error: &ImapError) -> String {
    match error {
        ImapError::No(text) | ImapError::Bad(text) => said(text),
        other => other.to_string(),
    }
}

/// The server's own words out of async-imap's `code: …, info: Some("…")`.
fn said(text: &str) -> String {
    text.split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"))
        .map(|info| info.replace("\\\"", "\""))
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_words_are_kept_and_async_imaps_frame_dropped() {
        // As async-imap 0.12 frames Dovecot's answer to a token it could not check.
        let no = ImapError::No(
            "code: None, info: Some(\"[UNAVAILABLE] Temporary authentication failure.\")".into(),
        );
        assert_eq!(
            server_text(&no),
            "[UNAVAILABLE] Temporary authentication failure."
        );
        assert_eq!(server_text(&ImapError::No("odd".into())), "odd");
    }
}
