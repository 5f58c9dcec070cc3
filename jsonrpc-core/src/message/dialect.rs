//! Which JSON-RPC a message speaks, and which a connection accepts.
//!
//! JSON-RPC 1.0 (as OVSDB speaks it) has no `jsonrpc` member, always carries an
//! array of params, marks notifications with `"id": null` and puts
//! `"error": null` in successful replies. JSON-RPC 2.0 tags every message with
//! `"jsonrpc": "2.0"` and leaves the `id` out of notifications. A reply is always
//! written in the dialect of the request it answers.

/// The JSON-RPC version of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// JSON-RPC 1.0.
    V1,
    /// JSON-RPC 2.0.
    V2,
}

/// Which dialects a connection accepts, and which it sends its own calls in.
///
/// ```
/// use jsonrpc_core::{Dialect, DialectMode};
/// assert_eq!(DialectMode::Detect.outgoing(), Dialect::V2);
/// assert_eq!(DialectMode::V1.outgoing(), Dialect::V1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectMode {
    /// JSON-RPC 1.0 only: a `jsonrpc` member is an invalid request (as on OVSDB).
    V1,
    /// JSON-RPC 2.0. A missing `jsonrpc` member is tolerated (SPDK does the
    /// same); one that is present must be `"2.0"`.
    V2,
    /// Each message says for itself: `"jsonrpc": "2.0"` is 2.0, no `jsonrpc`
    /// member is 1.0. A peer's own calls go out in the dialect the other side
    /// last spoke (2.0 until it has spoken); see [`outgoing`](Self::outgoing)
    /// for the fixed default.
    #[default]
    Detect,
}

impl DialectMode {
    /// The dialect our own requests and notifications are written in before
    /// the peer has said anything.
    pub fn outgoing(self) -> Dialect {
        match self {
            DialectMode::V1 => Dialect::V1,
            DialectMode::V2 | DialectMode::Detect => Dialect::V2,
        }
    }
}
