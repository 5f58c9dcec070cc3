//! One connected byte stream, whatever carries it.
//!
//! [`Stream`] is an enum rather than a boxed trait object so reads and
//! writes dispatch without an allocation or a virtual call, and so TCP and
//! Unix streams can be split into owned halves with no lock between them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use jsonrpc_core::codec::Framing;
use jsonrpc_core::{ConnectionInfo, Peer, PeerHandle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream: TCP, Unix socket, or TLS over TCP (either side).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// A Unix domain socket.
    Unix(UnixStream),
    /// TLS we connected.
    TlsClient(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// TLS we accepted.
    TlsServer(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    /// Starts a JSON-RPC connection on this stream: the one line that turns
    /// a socket into a [`PeerHandle`].
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use jsonrpc_core::{codec::JsonStreamCodec, Peer};
    /// use jsonrpc_transport::{connect, ConnectOptions};
    /// let stream = connect(&"unix:/var/tmp/spdk.sock".parse()?, &ConnectOptions::default()).await?;
    /// let peer = stream.into_peer(Peer::new(JsonStreamCodec::new()));
    /// # Ok(()) }
    /// ```
    ///
    /// The peer's [`ConnectionInfo`] keeps its id and gains the other end's
    /// address and, over TLS, its certificate's subject, unless it has an
    /// address already (it was made with [`connection_info`](Self::connection_info),
    /// or set by hand).
    pub fn into_peer<F: Framing + Clone>(self, peer: Peer<F>) -> PeerHandle {
        let peer = match peer.info().remote_addr() {
            Some(_) => peer,
            None => {
                let info = self.describe(peer.info().clone());
                peer.connection(info)
            }
        };
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                peer.spawn_split(r, w)
            }
            Stream::Unix(s) => {
                let (r, w) = s.into_split();
                peer.spawn_split(r, w)
            }
            Stream::TlsClient(s) => peer.spawn(s),
            Stream::TlsServer(s) => peer.spawn(s),
        }
    }

    /// A new connection's info for this stream: a fresh id, the other end's
    /// address and, over TLS, the subject of its certificate.
    pub fn connection_info(&self) -> ConnectionInfo {
        self.describe(ConnectionInfo::new())
    }

    fn describe(&self, info: ConnectionInfo) -> ConnectionInfo {
        let info = info.with_remote_addr(self.peer_addr());
        match self.tls_subject() {
            Some(subject) => info.with_tls_subject(subject),
            None => info,
        }
    }

    /// The subject of the certificate the other end presented over TLS.
    fn tls_subject(&self) -> Option<String> {
        let certs = match self {
            Stream::TlsServer(s) => s.get_ref().1.peer_certificates(),
            Stream::TlsClient(s) => s.get_ref().1.peer_certificates(),
            Stream::Tcp(_) | Stream::Unix(_) => None,
        }?;
        crate::tls::subject(certs.first()?)
    }

    /// The other end's address, for logs.
    pub fn peer_addr(&self) -> String {
        let tcp = |s: &TcpStream| s.peer_addr().map(|a| a.to_string());
        let addr = match self {
            Stream::Tcp(s) => tcp(s),
            Stream::Unix(s) => s.peer_addr().map(|a| match a.as_pathname() {
                Some(p) => format!("unix:{}", p.display()),
                None => "unix:(unnamed)".to_owned(),
            }),
            Stream::TlsClient(s) => tcp(s.get_ref().0),
            Stream::TlsServer(s) => tcp(s.get_ref().0),
        };
        addr.unwrap_or_else(|e| format!("(unknown: {e})"))
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
            Stream::TlsClient($s) => $e,
            Stream::TlsServer($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
            Stream::TlsClient(s) => s.is_write_vectored(),
            Stream::TlsServer(s) => s.is_write_vectored(),
        }
    }
}

/// A connected pair of in-memory streams, for tests and for running both
/// ends of a protocol in one process. `capacity` bytes may be in flight each way.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use jsonrpc_core::{codec::LineCodec, ErrorObject, Peer, Router};
/// let (a, b) = jsonrpc_transport::memory_pair(64 * 1024);
/// let mut router = Router::new();
/// router.method_fn("ping", |_: (), _| async { Ok::<_, ErrorObject>("pong") });
/// let _server = Peer::new(LineCodec::new()).router(router).spawn(a);
/// let client = Peer::new(LineCodec::new()).spawn(b);
/// let pong: String = client.call_raw_typed("ping", ()).await.unwrap();
/// assert_eq!(pong, "pong");
/// # }
/// ```
pub fn memory_pair(capacity: usize) -> (tokio::io::DuplexStream, tokio::io::DuplexStream) {
    tokio::io::duplex(capacity)
}

/// This process's stdin and stdout as a connection (as language servers
/// speak to their editors): `Peer::new(ContentLengthCodec::new()).spawn_split(r, w)`.
pub fn stdio() -> (tokio::io::Stdin, tokio::io::Stdout) {
    (tokio::io::stdin(), tokio::io::stdout())
}
