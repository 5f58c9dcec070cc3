//! Listening on a [`ListenEndpoint`] and accepting connections.
//!
//! Unix sockets are handled the way a careful daemon does: a socket file left
//! behind by a process that died is replaced; one that a live server is still
//! accepting on is left alone (binding fails with
//! [`TransportError::SocketInUse`]); and the file is removed when the
//! listener is dropped, unless another process has put its own there since.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener};

use crate::tcp::tune;
use crate::{Keepalive, ListenEndpoint, ServerTls, Stream, TransportError};

/// A bound listener.
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    endpoint: ListenEndpoint,
    keepalive: Option<Keepalive>,
    _file: Option<SocketFile>,
}

#[derive(Debug)]
enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
    Ssl(TcpListener, ServerTls),
}

/// An accepted connection, before its TLS handshake (if any).
///
/// The handshake is left to [`establish`](Self::establish) so the accept
/// loop never waits on a slow client's handshake.
#[derive(Debug)]
pub struct Accepted {
    conn: Pending,
    peer: String,
}

#[derive(Debug)]
enum Pending {
    Ready(Stream),
    Tls(TcpStream, ServerTls),
}

impl Accepted {
    /// Who connected, for logs.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Finishes setting up the connection (the TLS handshake, within `timeout`).
    pub async fn establish(self, timeout: Duration) -> Result<Stream, TransportError> {
        match self.conn {
            Pending::Ready(stream) => Ok(stream),
            Pending::Tls(tcp, tls) => {
                match tokio::time::timeout(timeout, tls.accept(tcp, &self.peer)).await {
                    Ok(r) => Ok(Stream::TlsServer(Box::new(r?))),
                    Err(_) => Err(TransportError::ConnectTimeout {
                        endpoint: self.peer,
                        timeout,
                    }),
                }
            }
        }
    }
}

impl Listener {
    /// Binds `endpoint`. `pssl:` endpoints need `tls`.
    pub async fn bind(
        endpoint: &ListenEndpoint,
        tls: Option<&ServerTls>,
    ) -> Result<Self, TransportError> {
        let failed = |source| TransportError::Bind {
            endpoint: endpoint.to_string(),
            source,
        };
        match endpoint {
            ListenEndpoint::Tcp { port, ip } | ListenEndpoint::Ssl { port, ip } => {
                let tcp = TcpListener::bind((*ip, *port)).await.map_err(failed)?;
                let port = tcp.local_addr().map_err(failed)?.port();
                let (socket, endpoint) = match endpoint {
                    ListenEndpoint::Ssl { .. } => {
                        let tls = tls.cloned().ok_or_else(|| TransportError::TlsRequired {
                            endpoint: endpoint.to_string(),
                        })?;
                        (Socket::Ssl(tcp, tls), ListenEndpoint::Ssl { port, ip: *ip })
                    }
                    _ => (Socket::Tcp(tcp), ListenEndpoint::Tcp { port, ip: *ip }),
                };
                Ok(Listener {
                    socket,
                    endpoint,
                    keepalive: Some(Keepalive::default()),
                    _file: None,
                })
            }
            ListenEndpoint::Unix(path) => {
                let (unix, file) = bind_unix(endpoint, path)?;
                Ok(Listener {
                    socket: Socket::Unix(unix),
                    endpoint: endpoint.clone(),
                    keepalive: None,
                    _file: Some(file),
                })
            }
        }
    }

    /// Sets TCP keepalive on the connections this listener accepts (`None`:
    /// off). Default: on, with [`Keepalive::default`]; Unix sockets have
    /// none.
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Where this listener listens, with the real port when 0 was asked for.
    pub fn local_endpoint(&self) -> &ListenEndpoint {
        &self.endpoint
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<Accepted> {
        match &self.socket {
            Socket::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                tune(&s, self.keepalive.as_ref());
                Ok(Accepted {
                    conn: Pending::Ready(Stream::Tcp(s)),
                    peer: addr.to_string(),
                })
            }
            Socket::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok(Accepted {
                    conn: Pending::Ready(Stream::Unix(s)),
                    peer: self.endpoint.to_string(),
                })
            }
            Socket::Ssl(l, tls) => {
                let (s, addr) = l.accept().await?;
                tune(&s, self.keepalive.as_ref());
                Ok(Accepted {
                    conn: Pending::Tls(s, tls.clone()),
                    peer: addr.to_string(),
                })
            }
        }
    }
}

fn bind_unix(
    endpoint: &ListenEndpoint,
    path: &Path,
) -> Result<(UnixListener, SocketFile), TransportError> {
    let failed = |source| TransportError::Bind {
        endpoint: endpoint.to_string(),
        source,
    };
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            // Someone left a socket file here. If a server still accepts on
            // it, it is not ours to take; if nobody answers, it is stale.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(TransportError::SocketInUse {
                    endpoint: endpoint.to_string(),
                });
            }
            tracing::info!(path = %path.display(), "replacing a stale socket file");
            std::fs::remove_file(path).map_err(failed)?;
            UnixListener::bind(path).map_err(failed)?
        }
        Err(e) => return Err(failed(e)),
    };
    let meta = std::fs::metadata(path).map_err(failed)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// Removes our socket file when the listener goes away.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Only remove the file we created: another server may have replaced it.
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove socket file");
                }
            }
            _ => {}
        }
    }
}
