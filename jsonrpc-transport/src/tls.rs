//! TLS for `ssl:` and `pssl:` endpoints, from PEM files, with rustls.
//!
//! Both sides load a certificate chain and a private key, and a CA to check
//! the other side against — the same three files OVSDB's `--private-key`,
//! `--certificate` and `--ca-cert` take. A server may require client
//! certificates signed by its CA (as OVSDB's ssl remotes do) or accept any
//! client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// TLS settings that could not be loaded, or a handshake that failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot load {what} from {path}: {reason}")]
    Load {
        /// What the file was for (certificate, private key, CA).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the settings (e.g. a key that does not match the certificate).
    #[error("invalid TLS settings: {0}")]
    Config(#[from] rustls::Error),
    /// A name that cannot be checked against a certificate.
    #[error("`{0}` is not a valid server name for TLS")]
    ServerName(String),
    /// The TLS handshake failed.
    #[error("TLS handshake with {peer} failed: {source}")]
    Handshake {
        /// Who the handshake was with.
        peer: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::Load {
        what,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Load {
        what: "private key",
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, "CA certificate")? {
        roots.add(cert).map_err(TlsError::Config)?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side of TLS: our certificate, and who may connect.
///
/// ```no_run
/// use jsonrpc_transport::ServerTls;
/// let tls = ServerTls::from_pem_files("server-cert.pem", "server-key.pem", Some("ca.pem".as_ref()))?;
/// # Ok::<(), jsonrpc_transport::TlsError>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Loads the certificate chain and key. With `client_ca`, every client
    /// must present a certificate signed by that CA; without, any client may
    /// connect.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        client_ca: Option<&Path>,
    ) -> Result<Self, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let builder = match client_ca {
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(load_roots(ca)?),
                    provider(),
                )
                .build()
                .map_err(|e| TlsError::Load {
                    what: "CA certificate",
                    path: ca.to_owned(),
                    reason: e.to_string(),
                })?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(
            load_certs(cert.as_ref(), "certificate")?,
            load_key(key.as_ref())?,
        )?;
        Ok(Self::from_config(Arc::new(config)))
    }

    /// Uses a rustls configuration built by hand.
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        ServerTls {
            acceptor: TlsAcceptor::from(config),
        }
    }

    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
        peer: &str,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, TlsError> {
        self.acceptor
            .accept(tcp)
            .await
            .map_err(|source| TlsError::Handshake {
                peer: peer.to_owned(),
                source,
            })
    }
}

/// The client side of TLS: which CA to trust, and our own certificate if the
/// server asks for one.
///
/// ```no_run
/// use jsonrpc_transport::ClientTls;
/// let tls = ClientTls::from_pem_files("ca.pem", Some(("client-cert.pem".as_ref(), "client-key.pem".as_ref())))?;
/// # Ok::<(), jsonrpc_transport::TlsError>(())
/// ```
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// Trusts servers whose certificate `ca` signed; presents
    /// `cert_and_key` when given.
    pub fn from_pem_files(
        ca: impl AsRef<Path>,
        cert_and_key: Option<(&Path, &Path)>,
    ) -> Result<Self, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(load_roots(ca.as_ref())?);
        let config = match cert_and_key {
            Some((cert, key)) => {
                builder.with_client_auth_cert(load_certs(cert, "certificate")?, load_key(key)?)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Self::from_config(Arc::new(config)))
    }

    /// Uses a rustls configuration built by hand.
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        ClientTls {
            connector: TlsConnector::from(config),
        }
    }

    /// The same settings with TLS session resumption turned off: every
    /// connection makes a full handshake and offers no ticket or session
    /// id. For servers that fail a resumption attempt instead of falling
    /// back to a full handshake: OpenSSL servers that verify client
    /// certificates and set no session id context, as Open vSwitch's did
    /// until it stopped issuing tickets (upstream commit 817221e, 2026;
    /// 3.1 is affected), answer a ticket with an `internal_error` alert
    /// ("session id context uninitialized").
    pub fn without_resumption(&self) -> Self {
        let mut config = ClientConfig::clone(self.connector.config());
        config.resumption = rustls::client::Resumption::disabled();
        Self::from_config(Arc::new(config))
    }

    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TlsError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| TlsError::ServerName(host.to_owned()))?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|source| TlsError::Handshake {
                peer: host.to_owned(),
                source,
            })
    }
}

/// A certificate's subject as RFC 4514 text (`CN=client,O=example`), or
/// `None` if the certificate does not decode.
pub(crate) fn subject(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    Some(cert.tbs_certificate.subject.to_string())
}
