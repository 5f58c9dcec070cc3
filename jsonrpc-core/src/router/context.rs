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
    scope: Scope,
}

#[derive(Clone, Debug)]
enum Scope {
    /// No connection; a token of its own.
    Detached(CancellationToken, Option<Box<crate::Profile>>),
    /// On a connection. A request has a token of its own only when the
    /// protocol can cancel it on the wire; otherwise the connection's token
    /// is its token, borrowed when asked for, so that most requests spend
    /// nothing on tokens (cloning one takes a lock).
    Connection {
        peer: PeerHandle,
        own: Option<CancellationToken>,
    },
}

impl RequestContext {
    /// A context not tied to any connection: for calling a [`Router`](crate::Router)
    /// directly, as in tests. Its token never fires unless cancelled by hand.
    pub fn detached(id: Option<Id>, dialect: Dialect) -> Self {
        RequestContext {
            id,
            dialect,
            scope: Scope::Detached(CancellationToken::new(), None),
        }
    }

    /// Serves a [`detached`](Self::detached) call under `profile`'s rules
    /// (its wording of the framework's errors, whether a method called as a
    /// notification runs), as a connection with that profile would. On a
    /// connection, the connection's profile rules instead.
    ///
    /// ```
    /// use jsonrpc_core::{Dialect, Id, Profile, Request, RequestContext, Router};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let router = Router::new();
    /// let req = Request::new(1u64, "nope", None, Dialect::V2);
    /// let ctx = RequestContext::detached(Some(Id::from(1u64)), Dialect::V2).profile(Profile::spdk());
    /// let reply = router.handle(req, ctx).await;
    /// assert_eq!(reply.outcome.unwrap_err().get(), r#"{"code":-32601,"message":"Method not found"}"#);
    /// # }
    /// ```
    pub fn profile(mut self, profile: crate::Profile) -> Self {
        if let Scope::Detached(_, slot) = &mut self.scope {
            *slot = Some(Box::new(profile));
        }
        self
    }

    /// The profile a detached call was given, if any.
    pub(crate) fn detached_profile(&self) -> Option<&crate::Profile> {
        match &self.scope {
            Scope::Detached(_, profile) => profile.as_deref(),
            Scope::Connection { .. } => None,
        }
    }

    pub(crate) fn new(
        id: Option<Id>,
        dialect: Dialect,
        own: Option<CancellationToken>,
        peer: PeerHandle,
    ) -> Self {
        RequestContext {
            id,
            dialect,
            scope: Scope::Connection { peer, own },
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
        self.token().child_token()
    }

    /// Completes when this call is cancelled.
    pub async fn cancelled(&self) {
        self.token().cancelled().await
    }

    /// True once this call has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token().is_cancelled()
    }

    /// The id of the connection the call came in on; `None` for a
    /// [`detached`](Self::detached) context.
    pub fn connection_id(&self) -> Option<crate::ConnectionId> {
        self.peer().map(PeerHandle::id)
    }

    /// Who called: the connection's id, the other end's address and, over
    /// TLS, its certificate's subject. `None` for a
    /// [`detached`](Self::detached) context.
    pub fn connection(&self) -> Option<&crate::ConnectionInfo> {
        self.peer().map(PeerHandle::info)
    }

    /// Runs `f` with exclusive access to the connection's state (see
    /// [`Peer::state`](crate::Peer::state)); `None` if there is none of
    /// type `S`, or no connection. Called before the handler's first
    /// `.await`, it sees the state as the messages before this one left it.
    /// `f` is synchronous, so the lock is never held across an `.await`.
    pub fn with_state<S: std::any::Any, R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        self.peer()?.with_state(f)
    }

    /// The connection the call came in on, to call the other side back.
    /// `None` for a [`detached`](Self::detached) context.
    pub fn peer(&self) -> Option<&PeerHandle> {
        match &self.scope {
            Scope::Connection { peer, .. } => Some(peer),
            Scope::Detached(..) => None,
        }
    }

    /// How the framework's errors are worded for this call: by the
    /// connection's profile, or as the standard says when detached.
    pub(crate) fn wording(&self) -> crate::ErrorFormat {
        match &self.scope {
            Scope::Connection { peer, .. } => peer.profile().get_wording(),
            Scope::Detached(_, profile) => profile
                .as_ref()
                .map_or(crate::profile::standard_wording, |p| p.get_wording()),
        }
    }

    fn token(&self) -> &CancellationToken {
        match &self.scope {
            Scope::Detached(token, _)
            | Scope::Connection {
                own: Some(token), ..
            } => token,
            Scope::Connection { peer, own: None } => peer.shutdown_token(),
        }
    }
}
