//! A transport-agnostic JSON-RPC 1.0 and 2.0 core.
//!
//! The modules follow one message through the stack:
//!
//! | step | module | job |
//! |---|---|---|
//! | bytes -> frame | [`codec`] | split a byte stream into JSON texts (raw stream, newline, `Content-Length`) |
//! | frame -> message | [`message`] | parse and validate requests, notifications, replies and batches in either dialect |
//! | message -> peer | [`peer`] | match replies to calls, run incoming calls concurrently, cancel, time out |
//! | peer -> router -> handler | [`router`] | find the handler for a method and run it with typed params |
//!
//! A method is declared once, as a type implementing [`Method`], and both sides
//! use that one declaration: [`PeerHandle::call`] on the client,
//! [`Router::method`] on the server. The [`api!`] macro declares a whole set of
//! methods and notifications at once.

#![warn(missing_docs)]

pub mod codec;
mod json;
pub mod message;

pub use message::{
    Dialect, DialectMode, ErrorObject, Id, Incoming, Invalid, InvalidId, InvalidKind, Message,
    MessageParser, MethodName, Notification, RawJson, RawParams, Request, Response,
};
pub mod peer;
pub mod router;

mod api;
mod method;

pub use method::{Method, NotificationMethod};
pub use peer::{
    CallError, CloseReason, ConnectionId, ConnectionInfo, InactivityProbe, NotifyError, Overflow,
    Peer, PeerConfig, PeerHandle, PeerStats, SharedNotification, Subscribe, Subscription,
    SubscriptionError, TrySendError, WireCancel,
};
pub use router::{ErrorFormat, Handling, Notifying, RequestContext, Router};
