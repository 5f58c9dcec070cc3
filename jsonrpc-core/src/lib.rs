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
//! [`Router::method`] on the server. The [`api!`] macro declares a whole
//! protocol at once, in both directions: the messages a client sends and
//! those the server sends back, a trait for each side to implement and a
//! typed sender for each side to use. The senders go through any [`Caller`]
//! (a [`PeerHandle`], or a client that reconnects by itself).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// Writes a builder setter and a getter for each listed field of `$ty`, the
/// field's doc comment on the setter: the settings types (`PeerConfig`,
/// `Profile`) are mostly such pairs.
macro_rules! builder_fields {
    ($ty:ty { $($(#[$doc:meta])* $name:ident / $getter:ident : $field:ty;)* }) => {
        impl $ty {
            $(
                $(#[$doc])*
                pub fn $name(mut self, value: $field) -> Self {
                    self.$name = value;
                    self
                }

                #[doc = concat!("The current `", stringify!($name), "`.")]
                pub fn $getter(&self) -> $field {
                    self.$name.clone()
                }
            )*
        }
    };
}

pub mod codec;
mod json;
pub mod message;

pub use message::{
    Dialect, DialectMode, ErrorObject, Id, Incoming, Invalid, InvalidId, InvalidKind, Message,
    MessageParser, MethodName, Notification, RawJson, RawParams, Request, Response,
};
pub mod peer;
pub mod profile;
pub mod router;
pub mod sync;

mod api;
mod caller;
mod method;

pub use caller::Caller;
pub use method::{Method, NotificationMethod};
pub use peer::{
    Batch, BatchCall, BatchReplies, CallError, CloseReason, ConnectionId, ConnectionInfo,
    InactivityProbe, NotifyError, Overflow, Peer, PeerConfig, PeerHandle, PeerStats, RawBatchCall,
    SharedNotification, Subscribe, Subscription, SubscriptionError, TrySendError, WireCancel,
};
pub use profile::{ErrorFormat, ErrorId, NullId, OnInvalid, Profile};
pub use router::{Handling, Notifying, RequestContext, Router};

// The names `api!` generates are built with this; not part of the API.
#[doc(hidden)]
pub use pastey as __pastey;
