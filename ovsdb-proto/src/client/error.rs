//! What can go wrong talking to an OVSDB server.

use std::sync::Arc;

use jsonrpc_core::{CallError, SubscriptionError};
use jsonrpc_transport::TransportError;

use super::Unusable;
use crate::error::{OvsdbError, ReplyError};

/// An error of [`OvsdbClient`](super::OvsdbClient) and the monitors, locks
/// and transactions made through it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The remote string could not be read (`tcp:HOST:PORT`, `unix:PATH`,
    /// `ssl:HOST:PORT`, several joined by commas).
    #[error("invalid remote `{remote}`: {reason}")]
    Remote {
        /// What was given.
        remote: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Every remote was tried and none could be reached; one error per
    /// remote, in the order they were tried.
    #[error("cannot connect to any of {}: {}", .0.len(), join(.0))]
    Connect(Vec<TransportError>),
    /// An [`OvsdbSession`](super::OvsdbSession) found no server to use
    /// within its deadline: each remote its last round tried, in order,
    /// with why it was not used (it could not be connected to, its
    /// `_Server` row said it cannot serve the session, ...).
    #[error("no server could be used: {}", join(.0))]
    NoUsableServer(Vec<RemoteFailure>),
    /// The server answered a call with an error.
    #[error("{method} failed: {error}")]
    Server {
        /// The method called.
        method: &'static str,
        /// What the server said.
        error: ReplyError,
    },
    /// A call got no answer: the connection closed, the deadline passed,
    /// the reply did not fit its type, ...
    #[error("{method}: {source}")]
    Call {
        /// The method called.
        method: &'static str,
        /// What happened.
        source: CallError<ReplyError>,
    },
    /// A transaction failed: see [`TransactError`].
    #[error(transparent)]
    Transaction(#[from] TransactError),
    /// The server's reply is well-formed JSON-RPC but not what OVSDB says it
    /// should be (say, fewer transaction results than operations).
    #[error("{method}: unexpected reply: {reason}")]
    UnexpectedReply {
        /// The method called.
        method: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A request this client refuses to send, because it cannot be right
    /// (`named` after an operation that is not an insert, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The connection closed while waiting for a notification (a lock
    /// that was never granted).
    #[error("the connection closed")]
    ConnectionClosed,
    /// A deadline of an [`OvsdbSession`](super::OvsdbSession) passed: no
    /// connection came up in time (and no round of trying the remotes
    /// ended yet, else [`NoUsableServer`](Self::NoUsableServer) says why),
    /// or a monitor's first rows did not arrive in time.
    #[error("timed out waiting for {0}")]
    TimedOut(&'static str),
    /// The [`OvsdbSession`](super::OvsdbSession) was closed (or dropped).
    #[error("the session is closed")]
    SessionClosed,
    /// A monitor's or lock's stream could not deliver a notification: it
    /// fell behind and notifications were dropped (the monitor's view is no
    /// longer complete and must be rebuilt), or one did not decode.
    #[error("{method} notifications: {source}")]
    Notification {
        /// The notification's method.
        method: &'static str,
        /// What happened.
        source: SubscriptionError,
    },
}

/// A remote an [`OvsdbSession`](super::OvsdbSession) tried and did not use,
/// and why ([`ClientError::NoUsableServer`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{remote}: {reason}")]
pub struct RemoteFailure {
    /// The remote, as the session writes it (`unix:PATH`, `tcp:HOST:PORT`).
    pub remote: String,
    /// Why it was not used.
    pub reason: NotUsed,
}

/// Why an [`OvsdbSession`](super::OvsdbSession) did not use a remote.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NotUsed {
    /// It could not be connected to.
    #[error("cannot connect: {0}")]
    Connect(Arc<TransportError>),
    /// Its `_Server` row said it cannot serve the session.
    #[error(transparent)]
    Unusable(Unusable),
    /// Connected, but a call on the connection failed: reading its
    /// `_Server` row, `set_db_change_aware`, resuming the session's
    /// monitors or locks.
    #[error(transparent)]
    Failed(Arc<ClientError>),
}

fn join<E: ToString>(errors: &[E]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClientError {
    /// Sorts a failed call of `method` into a server error or a call error.
    pub(crate) fn of_call(method: &'static str, e: CallError<ReplyError>) -> Self {
        match e {
            CallError::Rpc(error) => ClientError::Server { method, error },
            source => ClientError::Call { method, source },
        }
    }

    /// The server's error, if it answered with one (for a transaction, the
    /// failing operation's).
    pub fn server_error(&self) -> Option<&crate::error::ErrorKind> {
        match self {
            ClientError::Server { error, .. } => Some(error.kind()),
            ClientError::Transaction(t) => Some(&t.error.error),
            _ => None,
        }
    }

    /// Whether the server refused only for now: it has the database but
    /// cannot serve it yet ([`ErrorKind::DatabaseNotAvailable`]: a relay
    /// that has not reached its source, a clustered server that has not
    /// joined). A reconnecting layer tries again rather than give up.
    ///
    /// [`ErrorKind::DatabaseNotAvailable`]: crate::error::ErrorKind::DatabaseNotAvailable
    pub fn is_not_available_yet(&self) -> bool {
        matches!(
            self,
            ClientError::Server { error, .. }
                if *error.kind() == crate::error::ErrorKind::DatabaseNotAvailable
        )
    }

    /// Whether a deadline passed: the call's own, or a session's. Never
    /// the server refusing anything: a reconnecting layer tries again.
    pub(crate) fn is_timed_out(&self) -> bool {
        matches!(
            self,
            ClientError::TimedOut(_)
                | ClientError::Call {
                    source: CallError::Timeout(_),
                    ..
                }
        )
    }

    /// Whether the connection is gone (the call, or the stream, cannot go
    /// on over it): what a reconnecting layer looks for.
    pub fn is_disconnected(&self) -> bool {
        matches!(
            self,
            ClientError::ConnectionClosed
                | ClientError::Call {
                    source: CallError::ConnectionClosed(_),
                    ..
                }
        )
    }
}

/// A transaction the server refused: which operation failed, and how.
///
/// `index` counts from 0 in the order the operations were added; an error
/// found only at commit (a broken reference, a duplicate index value, too
/// many rows) has `index` equal to the number of operations and `op`
/// `"commit"`, as the server reports it in one extra result.
///
/// ```
/// use ovsdb_proto::client::TransactError;
/// use ovsdb_proto::error::{ErrorKind, OvsdbError};
///
/// let e = TransactError {
///     index: 2,
///     op: "wait",
///     at_commit: false,
///     error: OvsdbError::new(ErrorKind::TimedOut).with_details("timed out waiting"),
/// };
/// assert_eq!(e.to_string(), "operation 2 (wait) failed: timed out: timed out waiting");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} failed: {error}", describe(*.index, .op, *.at_commit))]
pub struct TransactError {
    /// The position of the failing operation; the number of operations for
    /// a commit-time error.
    pub index: usize,
    /// The failing operation's name (`"insert"`, `"wait"`, ...), or
    /// `"commit"` for a commit-time error.
    pub op: &'static str,
    /// Whether the error came at commit, as the extra result after the
    /// operations' own.
    pub at_commit: bool,
    /// The server's `error`, `details` and `syntax`.
    pub error: OvsdbError,
}

fn describe(index: usize, op: &str, at_commit: bool) -> String {
    if at_commit {
        format!("the commit (after {index} operations)")
    } else {
        format!("operation {index} ({op})")
    }
}
