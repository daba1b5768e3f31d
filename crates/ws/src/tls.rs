//! wss:// and TLS servers (feature `tls`): rustls (ring) over compio-tls. Builds server and client
//! configurations from PEM files and the webpki roots, and runs the WebSocket handshake over the
//! TLS stream. compio-tls buffers each direction (8 KiB, growable) and needs `flush`, which the
//! driver always calls after writing. The TLS stream cannot be split into lock-free halves: drive a
//! TLS WebSocket from one task.

use std::path::Path;
use std::sync::Arc;

use compio::net::TcpStream;
pub use compio::rustls;
use compio::rustls::pki_types::pem::PemObject;
use compio::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use compio::rustls::{ClientConfig, RootCertStore, ServerConfig};
pub use compio::tls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::config::Config;
use crate::driver::{Incoming, WebSocket, accept_with, client};
use crate::error::Error;
use crate::handshake::client::Accepted;
use crate::handshake::{ClientRequest, HandshakeError, HttpResponse, Rejection, Request, Response};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or held no usable item.
    #[error("reading {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificates, key or protocol versions.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Explicit, so the result does not depend on which rustls crypto features other crates in
    // the build turned on.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem { path: path.display().to_string(), reason: e.to_string() }
}

/// A server configuration from a PEM certificate chain and a PEM private key, offering ALPN
/// `http/1.1`.
pub fn server_config(cert_chain: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .map_err(|e| pem_error(cert_chain, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert_chain, e))?;
    if certs.is_empty() {
        return Err(pem_error(cert_chain, "no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting the webpki (Mozilla) roots and, if given, the certificates in
/// `ca_file` (PEM).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, e))? {
            roots.add(cert.map_err(|e| pem_error(path, e))?)?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts TLS on `tcp`, then the WebSocket handshake (see [`accept_with`]).
pub async fn accept<F>(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    config: &Config,
    callback: F,
) -> Result<WebSocket<TlsStream<TcpStream>>, Error>
where
    F: FnOnce(&Request, &mut Response) -> Result<(), Rejection>,
{
    let tls = match compio::time::timeout(config.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(tls) => tls?,
        Err(_) => return Err(Error::Timeout),
    };
    accept_with(tls, config, callback).await
}

/// Accepts TLS on `tcp`, then a WebSocket or a plain HTTPS request (see
/// [`accept_or_serve`](crate::accept_or_serve)).
pub async fn accept_or_serve<F, H>(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    config: &Config,
    callback: F,
    http: H,
) -> Result<Incoming<TlsStream<TcpStream>>, Error>
where
    F: FnOnce(&Request, &mut Response) -> Result<(), Rejection>,
    H: FnOnce(&Request) -> Option<HttpResponse>,
{
    let tls = match compio::time::timeout(config.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(tls) => tls?,
        Err(_) => return Err(Error::Timeout),
    };
    crate::driver::accept_or_serve(tls, config, callback, http).await
}

/// Opens a `wss://` URL trusting the webpki roots, with the default [`Config`].
pub async fn connect(url: &str) -> Result<(WebSocket<TlsStream<TcpStream>>, Accepted), Error> {
    let tls = client_config(None).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    connect_with(ClientRequest::new(url)?, &Config::default(), tls).await
}

/// Opens the `wss://` URL of `request` with the TLS client configuration `tls` (SNI = the URL's
/// host).
pub async fn connect_with(
    request: ClientRequest,
    config: &Config,
    tls: Arc<ClientConfig>,
) -> Result<(WebSocket<TlsStream<TcpStream>>, Accepted), Error> {
    let url = request.url().clone();
    if !url.secure {
        return Err(HandshakeError::InvalidUrl(
            "tls::connect needs a wss:// URL; use eddy_ws::connect for ws://".into(),
        )
        .into());
    }
    let name = ServerName::try_from(url.host.clone())
        .map_err(|_| HandshakeError::InvalidUrl(format!("invalid TLS server name {}", url.host)))?;
    let connecting = async {
        let tcp = TcpStream::connect(url.socket_address()).await?;
        tcp.set_nodelay(true)?;
        let connector = TlsConnector::from(tls);
        let host = match &name {
            ServerName::DnsName(d) => d.as_ref().to_owned(),
            _ => url.host.clone(),
        };
        connector.connect(&host, tcp).await
    };
    let stream = match compio::time::timeout(config.handshake_timeout, connecting).await {
        Ok(stream) => stream?,
        Err(_) => return Err(Error::Timeout),
    };
    client(stream, request, config).await
}
