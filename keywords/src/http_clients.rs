//! One HTTP client per trust configuration, shared by everything that calls
//! out over HTTP: the KV v2 vault backend, and OAuth (its keywords and the
//! auth profiles), which trusts the system roots.
//!
//! A `reqwest::Client` owns a connection pool and a parsed trust store;
//! building one per vault or per call would repeat both. Clients are keyed
//! by the CA file they trust (`None`: the system roots), made on first use
//! and kept for the life of the process: a server has a handful of trust
//! configurations, so the map stays tiny.
//!
//! The clients never follow redirects (a redirect would resend a vault
//! token or a client secret elsewhere) and bound the connect time; each
//! caller sets its own per-request timeout with `RequestBuilder::timeout`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long a TCP and TLS connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn cache() -> &'static Mutex<HashMap<Option<PathBuf>, reqwest::Client>> {
    static CLIENTS: OnceLock<Mutex<HashMap<Option<PathBuf>, reqwest::Client>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

/// The shared client trusting `ca` (PEM certificates) instead of the
/// system roots, or the system roots when `None`. Cheap to clone. Fails
/// with a message naming the file when it cannot be read or holds no
/// certificate.
pub fn client(ca: Option<&Path>) -> Result<reqwest::Client, String> {
    let key = ca.map(Path::to_path_buf);
    let mut clients = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let client = build(ca)?;
    clients.insert(key, client.clone());
    Ok(client)
}

fn build(ca: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // Calls out are few; a fresh connection each time never races a
        // server closing an idle keep-alive one (seen with Node's
        // oidc-provider).
        .pool_max_idle_per_host(0)
        .user_agent(concat!("rpa-mfa/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("CA file '{}': cannot read it: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file '{}': {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "CA file '{}': no PEM certificate in it",
                path.display()
            ));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up an HTTP client: {e}"))
}

/// What a failed request's chain of causes says: the innermost message
/// (`default` when there is none), and whether TLS failed anywhere in it
/// (a certificate not trusted, plain HTTP where TLS was expected).
pub fn request_cause(error: &reqwest::Error, default: &str) -> (String, bool) {
    use std::error::Error as _;
    let mut cause = default.to_owned();
    let mut tls = false;
    let mut source = error.source();
    while let Some(inner) = source {
        cause = inner.to_string();
        tls |= is_tls_error(inner);
        source = inner.source();
    }
    (cause, tls)
}

/// Whether rustls failed, directly or wrapped in the (nested) I/O errors
/// hyper reports; an I/O error's `source()` skips what it wraps.
pub fn is_tls_error(mut error: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if error.is::<rustls::Error>() {
            return true;
        }
        match error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => error = inner,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let err = client(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(
            err.starts_with("CA file '/nonexistent/ca.pem': cannot read it"),
            "{err}"
        );
        let empty = tempfile::NamedTempFile::new().unwrap();
        let err = client(Some(empty.path())).unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn one_client_per_trust_configuration() {
        assert!(client(None).is_ok());
        let before = cache().lock().unwrap().len();
        client(None).unwrap();
        assert_eq!(cache().lock().unwrap().len(), before, "reused, not rebuilt");
    }
}
