//! Who a connection is: its id, the other end's address and certificate
//! subject, and the state the application keeps for it.
//!
//! An OVSDB server keeps each client's monitors and locks, a language
//! server each editor's documents: state that lives exactly as long as the
//! connection. It is set when the connection is made ([`Peer::state`]) and
//! reached from every handler ([`RequestContext::with_state`]) and from
//! outside ([`PeerHandle::with_state`]).
//!
//! [`Peer::state`]: super::Peer::state
//! [`RequestContext::with_state`]: crate::RequestContext::with_state
//! [`PeerHandle::with_state`]: super::PeerHandle::with_state

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Identifies one connection among all of this process's, for as long as
/// the process runs: ids are never reused.
///
/// ```
/// use jsonrpc_core::ConnectionInfo;
/// let (a, b) = (ConnectionInfo::new(), ConnectionInfo::new());
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id().to_string(), format!("{}", a.id().get()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// A new id, unused until now.
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnectionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What is known about a connection: its id and who is at the other end.
/// Transports fill in the address and, over TLS, the subject of the
/// certificate the client presented.
///
/// ```
/// use jsonrpc_core::ConnectionInfo;
/// let info = ConnectionInfo::new().with_remote_addr("127.0.0.1:50000");
/// assert_eq!(info.remote_addr(), Some("127.0.0.1:50000"));
/// assert_eq!(info.tls_subject(), None);
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    id: ConnectionId,
    remote_addr: Option<Arc<str>>,
    tls_subject: Option<Arc<str>>,
}

impl Default for ConnectionInfo {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionInfo {
    /// A new connection's info, with a fresh id and nothing else known.
    pub fn new() -> Self {
        ConnectionInfo {
            id: ConnectionId::next(),
            remote_addr: None,
            tls_subject: None,
        }
    }

    /// Sets the other end's address (as text: `IP:PORT`, `unix:PATH`).
    pub fn with_remote_addr(mut self, addr: impl Into<Arc<str>>) -> Self {
        self.remote_addr = Some(addr.into());
        self
    }

    /// Sets the subject of the certificate the other end presented
    /// (RFC 4514 text, such as `CN=client,O=example`).
    pub fn with_tls_subject(mut self, subject: impl Into<Arc<str>>) -> Self {
        self.tls_subject = Some(subject.into());
        self
    }

    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The other end's address, if the transport knows it.
    pub fn remote_addr(&self) -> Option<&str> {
        self.remote_addr.as_deref()
    }

    /// The subject of the other end's TLS certificate, if it presented one.
    pub fn tls_subject(&self) -> Option<&str> {
        self.tls_subject.as_deref()
    }
}

/// The application's state for one connection, of any type, behind a lock
/// that is only ever taken for a synchronous closure.
#[derive(Default)]
pub(crate) struct State {
    value: Mutex<Option<Box<dyn Any + Send>>>,
}

impl State {
    pub(crate) fn new(value: Option<Box<dyn Any + Send>>) -> Self {
        State {
            value: Mutex::new(value),
        }
    }

    /// Runs `f` on the state if it is an `S`.
    pub(crate) fn with<S: Any, R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        // A panic inside `f` may leave the user's state half-changed; it is
        // the user's type, so the state is handed on as it is, as `Mutex`
        // callers who ignore poisoning see it.
        let mut value = super::lock(&self.value);
        value.as_mut()?.downcast_mut::<S>().map(f)
    }

    /// Takes the state out if it is an `S`.
    pub(crate) fn take<S: Any>(&self) -> Option<S> {
        let mut value = super::lock(&self.value);
        if !value.as_ref()?.is::<S>() {
            return None;
        }
        value.take()?.downcast::<S>().ok().map(|boxed| *boxed)
    }
}
