//! Connecting to an [`Endpoint`], within a deadline.

use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use crate::tcp::tune;
use crate::{ClientTls, Endpoint, Keepalive, Stream, TransportError};

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The deadline for connecting, TLS handshake included. Default: 10 s.
    pub timeout: Duration,
    /// TLS settings for `ssl:` endpoints.
    pub tls: Option<ClientTls>,
    /// TCP keepalive on `tcp:` and `ssl:` connections. Default: on, with
    /// [`Keepalive::default`].
    pub keepalive: Option<Keepalive>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            tls: None,
            keepalive: Some(Keepalive::default()),
        }
    }
}

impl ConnectOptions {
    /// Sets the connect deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the TLS settings for `ssl:` endpoints.
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets TCP keepalive (`None`: off).
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }
}

/// Connects to `endpoint`.
///
/// ```no_run
/// # async fn f() -> Result<(), jsonrpc_transport::TransportError> {
/// use jsonrpc_transport::{connect, ConnectOptions};
/// let stream = connect(&"tcp:127.0.0.1:6640".parse()?, &ConnectOptions::default()).await?;
/// # Ok(()) }
/// ```
pub async fn connect(
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> Result<Stream, TransportError> {
    let name = endpoint.to_string();
    match tokio::time::timeout(options.timeout, connect_now(endpoint, options)).await {
        Ok(r) => r,
        Err(_) => Err(TransportError::ConnectTimeout {
            endpoint: name,
            timeout: options.timeout,
        }),
    }
}

async fn connect_now(
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> Result<Stream, TransportError> {
    let failed = |source| TransportError::Connect {
        endpoint: endpoint.to_string(),
        source,
    };
    match endpoint {
        Endpoint::Tcp { host, port } => {
            let tcp = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(failed)?;
            tune(&tcp, options.keepalive.as_ref());
            Ok(Stream::Tcp(tcp))
        }
        Endpoint::Unix(path) => Ok(Stream::Unix(
            UnixStream::connect(path).await.map_err(failed)?,
        )),
        Endpoint::Ssl { host, port } => {
            let tls = options
                .tls
                .as_ref()
                .ok_or_else(|| TransportError::TlsRequired {
                    endpoint: endpoint.to_string(),
                })?;
            let tcp = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(failed)?;
            tune(&tcp, options.keepalive.as_ref());
            Ok(Stream::TlsClient(Box::new(tls.connect(host, tcp).await?)))
        }
    }
}
