//! What a handler knows about the call it is serving.

use tokio_util::sync::CancellationToken;

use crate::message::{Dialect, Id};
use crate::PeerHandle;

/// Passed to every handler: the caller's id and dialect, a cancellation token,
/// and a handle to call the other side back on the same connection.
///
/// The token fires when the connection closes, or when the peer cancels this
/// request on the wire (if the connection is configured with a
/// [`WireCancel`](crate::WireCancel)). A handler that may run long should
/// watch it, e.g. `tokio::select! { _ = ctx.cancelled() => .., r = work => .. }`.
#[derive(Clone, Debug)]
pub struct RequestContext {
    id: Option<Id>,
    dialect: Dialect,
    cancel: CancellationToken,
    peer: Option<PeerHandle>,
}

impl RequestContext {
    /// A context not tied to any connection: for calling a [`Router`](crate::Router)
    /// directly, as in tests. Its token never fires unless cancelled by hand.
    pub fn detached(id: Option<Id>, dialect: Dialect) -> Self {
        RequestContext {
            id,
            dialect,
            cancel: CancellationToken::new(),
            peer: None,
        }
    }

    pub(crate) fn new(
        id: Option<Id>,
        dialect: Dialect,
        cancel: CancellationToken,
        peer: PeerHandle,
    ) -> Self {
        RequestContext {
            id,
            dialect,
            cancel,
            peer: Some(peer),
        }
    }

    /// The request's id; `None` for a notification.
    pub fn id(&self) -> Option<&Id> {
        self.id.as_ref()
    }

    /// The dialect the call was made in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A token that fires when this call is cancelled, for APIs that take
    /// one. Cancelling it does not cancel the call.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    /// Completes when this call is cancelled.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// True once this call has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The connection the call came in on, to call the other side back.
    /// `None` for a [`detached`](Self::detached) context.
    pub fn peer(&self) -> Option<&PeerHandle> {
        self.peer.as_ref()
    }
}
