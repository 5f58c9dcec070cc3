//! Transports for `jsonrpc-core`: TCP, Unix sockets, TLS, stdio and in-memory
//! pairs; endpoints as Open vSwitch writes them; a server with a connection
//! limit and graceful shutdown; a client that reconnects by itself.
//!
//! Any `AsyncRead + AsyncWrite` becomes a connection in one line
//! (`Peer::new(codec).spawn(io)`); this crate adds the sockets people deploy
//! JSON-RPC on and the care they need.
//!
//! | module | job |
//! |---|---|
//! | [`endpoint`] | `tcp:HOST:PORT`, `unix:PATH`, `ssl:..`, `ptcp:PORT[:IP]`, `punix:PATH`, `pssl:..` |
//! | [`connect()`] | connect within a deadline |
//! | [`Listener`] | bind and accept; Unix socket file hygiene |
//! | [`Server`] | accept loops, connection limit, graceful shutdown |
//! | [`ReconnectingClient`] | backoff, on-connect hook, state stream |
//! | [`tls`] | rustls from PEM files, optional client certificates |

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod endpoint;
pub mod tls;

mod connect;
mod error;
mod listen;
mod reconnect;
mod server;
mod stream;
mod tcp;

pub use connect::{connect, ConnectOptions};
pub use endpoint::{Endpoint, EndpointError, ListenEndpoint};
pub use error::TransportError;
pub use listen::{Accepted, Listener};
pub use reconnect::{
    ConnectionState, OnConnect, ReconnectOptions, ReconnectingClient, WhileDisconnected,
};
pub use server::{OnClose, OnOpen, RunningServer, Server, ServerStats};
pub use stream::{memory_pair, stdio, Stream};
pub use tcp::Keepalive;
pub use tls::{ClientTls, ServerTls, TlsError};
