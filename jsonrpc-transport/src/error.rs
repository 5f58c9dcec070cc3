//! What can go wrong setting up a connection or a listener.

use std::io;
use std::time::Duration;

use crate::EndpointError;

/// A transport failure, with the endpoint it concerns.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The endpoint string was not valid.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// Connecting failed.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// Where we tried to connect.
        endpoint: String,
        /// Why it failed.
        source: io::Error,
    },
    /// Connecting (including the TLS handshake) took longer than allowed.
    #[error("connecting to {endpoint} took longer than {timeout:?}")]
    ConnectTimeout {
        /// Where we tried to connect.
        endpoint: String,
        /// The limit.
        timeout: Duration,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        /// Where we tried to listen.
        endpoint: String,
        /// Why it failed.
        source: io::Error,
    },
    /// Another process is serving on this Unix socket; it was left alone.
    #[error("cannot listen on {endpoint}: another server is accepting connections on it")]
    SocketInUse {
        /// The socket endpoint.
        endpoint: String,
    },
    /// An `ssl:`/`pssl:` endpoint was given without TLS settings.
    #[error("{endpoint} needs TLS settings (certificate, key and CA)")]
    TlsRequired {
        /// The endpoint.
        endpoint: String,
    },
    /// TLS settings could not be loaded, or a handshake failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}
