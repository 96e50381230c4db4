//! HTTPS with rustls: the certificate chain and key from PEM files. The
//! handshake runs in each connection's own task (`crate::listen`), so a
//! slow or silent client never holds up the next connection.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsFiles;

/// Reads the PEM files into a rustls server config (TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let cert_err =
        |e: rustls::pki_types::pem::Error| format!("--tls-cert {}: {e}", files.cert.display());
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(cert_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_err)?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("--tls-key {}: {e}", files.key.display()))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
