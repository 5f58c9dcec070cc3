//! What can go wrong with a call, and why a connection closed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::FrameTooLarge;

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The peer closed the connection (end of input).
    #[error("the peer closed the connection")]
    PeerClosed,
    /// [`PeerHandle::close`](crate::PeerHandle::close) was called.
    #[error("the connection was closed on this side")]
    Local,
    /// Reading failed, or the input could not be framed.
    #[error("reading from the connection failed: {0}")]
    Read(Arc<str>),
    /// Writing failed.
    #[error("writing to the connection failed: {0}")]
    Write(Arc<str>),
    /// The peer did not answer the inactivity probe in time.
    #[error("the peer did not answer the inactivity probe within {0:?}")]
    ProbeUnanswered(Duration),
    /// A write did not complete within the write deadline: the peer is not
    /// reading.
    #[error("the peer stopped reading: a write made no progress for {0:?}")]
    WriteStalled(Duration),
    /// The peer sent requests much faster than it read our replies, until
    /// the control queue (of this many replies) was full.
    #[error("the peer is not reading our replies: {0} of them are waiting to be sent")]
    Overwhelmed(usize),
    /// Notification handlers were not finishing: this many were still
    /// waiting (in tasks of their own) when one more had to wait
    /// ([`max_notification_tasks`](crate::PeerConfig::max_notification_tasks)).
    #[error("notification handlers are not finishing: {0} were still waiting")]
    NotificationBacklog(usize),
    /// A notification sent with `try_send` found the outgoing queue (of this
    /// many messages) full, and the connection's policy is
    /// [`Overflow::Close`](crate::Overflow::Close): the peer fell behind.
    #[error("the peer fell behind: its outgoing queue of {0} messages was full")]
    Lagged(usize),
    /// A message began arriving but was not complete within the
    /// [`read_frame_timeout`](crate::PeerConfig::read_frame_timeout) (a
    /// slowloris, or a peer that hung mid-message).
    #[error("a message from the peer did not finish arriving within {0:?}")]
    FrameTimeout(Duration),
    /// The peer sent nothing at all within the
    /// [`first_input_timeout`](crate::PeerConfig::first_input_timeout).
    #[error("the peer sent nothing within {0:?} of connecting")]
    Silent(Duration),
    /// There is no connection right now (a reconnecting client between
    /// attempts).
    #[error("not connected")]
    NotConnected,
    /// The peer sent input that is not JSON, and the connection's profile
    /// closes on it ([`Profile::on_parse_error`](crate::Profile::on_parse_error)).
    #[error("the peer sent malformed JSON: {0}")]
    Malformed(Arc<str>),
    /// The peer sent JSON that is not a valid message, and the connection's
    /// profile closes on it
    /// ([`Profile::on_invalid_request`](crate::Profile::on_invalid_request)).
    #[error("the peer sent an invalid message: {0}")]
    Invalid(Arc<str>),
}

/// Why a call did not produce a result.
///
/// `E` is the method's error type: what the peer's error reply is decoded into.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E = crate::ErrorObject> {
    /// The peer answered with an error.
    #[error("the peer answered with an error: {0:?}")]
    Rpc(E),
    /// The connection closed before the reply came (or before the call could
    /// be sent).
    #[error("the connection closed before the reply arrived: {0}")]
    ConnectionClosed(CloseReason),
    /// No reply within the deadline. The call's pending state is gone; a reply
    /// that comes later is dropped and counted as late.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The params could not be serialized.
    #[error("the params could not be serialized: {0}")]
    Encode(serde_json::Error),
    /// The reply did not fit the method's result or error type.
    #[error("the reply does not fit the expected type: {error}; reply was {reply}")]
    Decode {
        /// What serde said.
        error: serde_json::Error,
        /// The raw JSON that did not fit.
        reply: String,
    },
    /// The peer's reply to this call was not a valid JSON-RPC reply (say,
    /// neither `result` nor `error`); only this call fails, the connection
    /// goes on.
    #[error("the peer's reply was invalid: {0}")]
    InvalidReply(String),
    /// The message would exceed the connection's frame limit.
    #[error(transparent)]
    TooLarge(#[from] FrameTooLarge),
}

/// Why a notification could not be sent.
pub type NotifyError = CallError<Infallible>;

impl<E> CallError<E> {
    /// Converts the error type of an [`Rpc`](CallError::Rpc) error, keeping the rest.
    pub fn map_rpc<F>(self, f: impl FnOnce(E) -> F) -> CallError<F> {
        self.and_then_rpc(|e| CallError::Rpc(f(e)))
    }

    /// Replaces an [`Rpc`](CallError::Rpc) error with whatever `f` makes of it.
    pub fn and_then_rpc<F>(self, f: impl FnOnce(E) -> CallError<F>) -> CallError<F> {
        match self {
            CallError::Rpc(e) => f(e),
            CallError::ConnectionClosed(r) => CallError::ConnectionClosed(r),
            CallError::Timeout(d) => CallError::Timeout(d),
            CallError::Encode(e) => CallError::Encode(e),
            CallError::Decode { error, reply } => CallError::Decode { error, reply },
            CallError::InvalidReply(r) => CallError::InvalidReply(r),
            CallError::TooLarge(e) => CallError::TooLarge(e),
        }
    }

    /// True for [`ConnectionClosed`](CallError::ConnectionClosed).
    pub fn is_closed(&self) -> bool {
        matches!(self, CallError::ConnectionClosed(_))
    }
}

impl NotifyError {
    /// Widens a notification error to any call error type.
    pub fn widen<E>(self) -> CallError<E> {
        self.map_rpc(|never| match never {})
    }
}

impl CallError<crate::RawJson> {
    /// Reads the raw error of an [`Rpc`](CallError::Rpc) error as `E`
    /// (an error that does not fit becomes [`Decode`](CallError::Decode)).
    pub fn decode_rpc<E: serde::de::DeserializeOwned>(self) -> CallError<E> {
        self.and_then_rpc(|raw| match raw.decode() {
            Ok(e) => CallError::Rpc(e),
            Err(error) => CallError::Decode {
                error,
                reply: raw.get().to_owned(),
            },
        })
    }
}
