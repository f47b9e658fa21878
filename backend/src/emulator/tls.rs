//! HTTPS for the local workspace: a self-signed certificate for 127.0.0.1 and localhost, made
//! once and kept in the state folder, because Azure's client libraries refuse to send bearer
//! tokens over plain http.

use super::state::write_private;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The certificate clients must trust, and the acceptor that serves with it.
#[derive(Clone)]
pub struct Tls {
    pub certificate_path: PathBuf,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certificate_path", &self.certificate_path)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the certificate in `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        if !cert_path.is_file() || !key_path.is_file() {
            let generated = rcgen::generate_simple_self_signed(vec![
                "127.0.0.1".to_owned(),
                "localhost".to_owned(),
            ])
            .context("generating a self-signed certificate")?;
            write_private(&key_path, generated.key_pair.serialize_pem().as_bytes())?;
            std::fs::write(&cert_path, generated.cert.pem())
                .with_context(|| format!("writing {}", cert_path.display()))?;
        }
        let certs = CertificateDer::pem_file_iter(&cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing {}", cert_path.display()))?;
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("loading the certificate")?;
        Ok(Self {
            certificate_path: cert_path,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The TLS side of an accepted connection.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        self.acceptor.accept(stream).await
    }
}
