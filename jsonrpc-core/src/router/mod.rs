//! The router: method names to handlers.
//!
//! A [`Router`] is built once and shared (it is cheap to put in an `Arc`) by
//! every connection that serves it. It can also be called with no connection at
//! all — [`Router::handle`] takes a [`Request`] and gives the [`Response`] — which
//! is how a test checks a handler without any transport.
//!
//! What the router answers on its own: an unknown method is -32601, params that
//! do not deserialize are -32602 with serde's reason, and a handler that panics
//! is -32603 (the panic is caught, logged, and the connection lives on).

mod context;
mod handler;

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustc_hash::FxHashMap;

pub use context::RequestContext;
pub use handler::{
    BoxFuture, HandlerCall, HandlerError, HandlerResult, MethodHandler, NotificationHandler,
};

use crate::message::{
    write_error_reply, write_result_head, write_result_tail, Dialect, Id, MethodName, Notification,
    RawJson, Request, Response,
};
use crate::method::{unserializable, Method, NotificationMethod};
use crate::profile::ErrorFormat;
use crate::ErrorObject;

#[derive(Clone)]
enum Route {
    Method(Arc<dyn MethodHandler>),
    Notification(Arc<dyn NotificationHandler>),
}

/// Maps method names to async handlers.
///
/// ```
/// use jsonrpc_core::{Dialect, ErrorObject, Id, Request, RequestContext, Router};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut router = Router::new();
/// router.method_fn("add", |(a, b): (i64, i64), _ctx| async move { Ok::<_, ErrorObject>(a + b) });
///
/// let req = Request::new(1u64, "add", jsonrpc_core::RawJson::from_value(&[2, 3]).ok(), Dialect::V2);
/// let resp = router.handle(req, RequestContext::detached(Some(Id::from(1u64)), Dialect::V2)).await;
/// assert_eq!(resp.outcome.unwrap().get(), "5");
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Router {
    /// Method names are looked up for every message, and only this side
    /// adds them: a peer cannot fill the table with colliding names, so a
    /// fast hash serves where SipHash's flood resistance buys nothing.
    routes: FxHashMap<Box<str>, Route>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.routes.keys().collect();
        names.sort();
        f.debug_struct("Router").field("methods", &names).finish()
    }
}

impl Router {
    /// An empty router: every method is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a typed handler for method `M`; replaces any earlier one.
    pub fn method<M, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        M: Method,
        F: Fn(M::Params, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<M::Result, M::Error>> + Send + 'static,
    {
        let typed = handler::Typed::<M::Params, F, M::Error>::new(handler, handler::method_error);
        self.raw_method(M::NAME, typed)
    }

    /// Registers a typed notification handler for `N`.
    pub fn notification<N, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        N: NotificationMethod,
        F: Fn(N::Params, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.raw_notification(
            N::NAME,
            handler::TypedNotification::<N::Params, F>::new(handler),
        )
    }

    /// Registers a handler for `name` with params and result types taken from
    /// the closure, for when declaring a [`Method`] type is more than needed.
    pub fn method_fn<P, R, F, Fut>(&mut self, name: &str, handler: F) -> &mut Self
    where
        P: serde::de::DeserializeOwned + Send + 'static,
        R: serde::Serialize + Send + 'static,
        F: Fn(P, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ErrorObject>> + Send + 'static,
    {
        // The closure's error is its own: sent as it is, never reworded.
        let typed = handler::Typed::<P, F, ErrorObject>::new(handler, handler::method_error);
        self.raw_method(name, typed)
    }

    /// Registers a notification handler for `name` with the params type taken
    /// from the closure, the notification counterpart of [`method_fn`](Self::method_fn).
    pub fn notification_fn<P, F, Fut>(&mut self, name: &str, handler: F) -> &mut Self
    where
        P: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(P, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.raw_notification(name, handler::TypedNotification::<P, F>::new(handler))
    }

    /// Registers a handler that works on raw JSON.
    pub fn raw_method(&mut self, name: &str, handler: impl MethodHandler) -> &mut Self {
        self.routes
            .insert(name.into(), Route::Method(Arc::new(handler)));
        self
    }

    /// Registers a notification handler that works on raw JSON.
    pub fn raw_notification(&mut self, name: &str, handler: impl NotificationHandler) -> &mut Self {
        self.routes
            .insert(name.into(), Route::Notification(Arc::new(handler)));
        self
    }

    /// True if `name` has a handler of either kind.
    pub fn has_route(&self, name: &str) -> bool {
        self.routes.contains_key(name)
    }

    /// True if `name` has a method handler.
    pub fn has_method(&self, name: &str) -> bool {
        matches!(self.routes.get(name), Some(Route::Method(_)))
    }

    /// Handles one request: the returned future gives its reply. Never
    /// panics, even when the handler does.
    ///
    /// The future is [`Unpin`], so it can be polled where it stands and moved
    /// afterwards. A connection does not await it: it runs the handler once
    /// on its reader, gives it a task only if it has to wait (see
    /// `PeerConfig::inline_handlers`), and writes the reply straight from
    /// the handler's result instead of making a [`Response`].
    pub fn handle(&self, req: Request, ctx: RequestContext) -> Handling {
        let wording = ctx.wording();
        let state = match self.routes.get(req.method.as_str()) {
            // Typed handlers decode params, and closures may run code, before
            // they return a future: that part can panic too.
            Some(Route::Method(h)) => {
                match catch_unwind(AssertUnwindSafe(|| h.call(req.params, ctx))) {
                    Ok(call) => State::Running(call),
                    Err(panic) => State::Failed(panicked(&req.method, panic)),
                }
            }
            _ => State::Failed(ErrorObject::method_not_found(&req.method).into()),
        };
        Handling {
            state,
            method: req.method,
            id: req.id,
            dialect: req.dialect,
            wording,
        }
    }

    /// Handles one notification: the returned future runs its handler.
    /// Never panics, even when the handler does.
    ///
    /// A notification for a method (not a notification handler) runs the
    /// method and drops its result, as JSON-RPC 2.0 asks. Failures are
    /// logged, since nobody awaits a reply. Like [`handle`](Self::handle),
    /// the future is [`Unpin`] and owns what it needs, so a connection polls
    /// it first on its reader and moves it to a task only if it has to wait.
    pub fn handle_notification(&self, n: Notification, ctx: RequestContext) -> Notifying {
        let wording = ctx.wording();
        let profile = ctx
            .peer()
            .map(|peer| peer.profile())
            .or(ctx.detached_profile());
        let run_methods = profile.is_none_or(|p| p.get_run_methods_as_notifications());
        let state = match self.routes.get(n.method.as_str()) {
            Some(Route::Notification(h)) => {
                match catch_unwind(AssertUnwindSafe(|| h.notify(n.params, ctx))) {
                    Ok(fut) => NotifyState::Notification(fut),
                    Err(panic) => NotifyState::Failed(panicked(&n.method, panic)),
                }
            }
            Some(Route::Method(h)) if run_methods => {
                match catch_unwind(AssertUnwindSafe(|| h.call(n.params, ctx))) {
                    Ok(call) => NotifyState::Method(call),
                    Err(panic) => NotifyState::Failed(panicked(&n.method, panic)),
                }
            }
            Some(Route::Method(_)) => {
                tracing::debug!(method = %n.method, "not running a method called as a notification");
                NotifyState::Finished
            }
            None => NotifyState::Failed(ErrorObject::method_not_found(&n.method).into()),
        };
        Notifying {
            state,
            method: n.method,
            dialect: n.dialect,
            wording,
        }
    }
}

/// A notification being handled (see [`Router::handle_notification`]).
#[must_use = "a notification is only handled when its future is polled"]
pub struct Notifying {
    state: NotifyState,
    method: MethodName,
    dialect: Dialect,
    wording: ErrorFormat,
}

enum NotifyState {
    Notification(BoxFuture<Result<(), ErrorObject>>),
    Method(HandlerCall),
    Failed(HandlerError),
    Finished,
}

impl Notifying {
    /// The notification's method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Runs the handler one step; its failure, once it has one.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        match &mut self.state {
            NotifyState::Notification(fut) => fut
                .as_mut()
                .poll(cx)
                .map(|r| r.map_err(HandlerError::Standard)),
            NotifyState::Method(call) => {
                let done = ready!(call.poll_run(cx));
                // Dropped here, under the caller's guard: it is user code.
                call.discard();
                Poll::Ready(done)
            }
            NotifyState::Failed(_) => {
                match std::mem::replace(&mut self.state, NotifyState::Finished) {
                    NotifyState::Failed(e) => Poll::Ready(Err(e)),
                    _ => Poll::Ready(Ok(())),
                }
            }
            NotifyState::Finished => Poll::Ready(Ok(())),
        }
    }
}

/// Gives the notification's error, if it failed, written as the
/// connection's profile words it (for protocols that answer failed
/// notifications, such as SPDK); the failure is logged either way.
impl Future for Notifying {
    type Output = Result<(), RawJson>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if matches!(this.state, NotifyState::Finished) {
            return Poll::Ready(Ok(()));
        }
        // This may run on a connection's reader, where a panic must not end
        // the connection: the handler is polled, and dropped, under a guard.
        let outcome = match catch_unwind(AssertUnwindSafe(|| this.poll_outcome(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(outcome)) => outcome,
            Err(panic) => Err(panicked(&this.method, panic)),
        };
        let state = std::mem::replace(&mut this.state, NotifyState::Finished);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
        Poll::Ready(outcome.map_err(|e| {
            let error = match e {
                HandlerError::Method(raw) => raw,
                HandlerError::Standard(e) => (this.wording)(&e, this.dialect),
            };
            tracing::warn!(method = %this.method, error = %error.get(), "notification failed");
            error
        }))
    }
}

impl std::fmt::Debug for Notifying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifying")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// The -32603 error for a handler that panicked, logged.
fn panicked(method: &str, panic: Box<dyn Any + Send>) -> HandlerError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into());
    tracing::error!(%method, panic = %what, "handler panicked");
    ErrorObject::internal_error(format!("the handler for `{method}` panicked: {what}")).into()
}

/// A request being handled; gives the [`Response`] (see [`Router::handle`]).
///
/// On a connection the reply is written straight from the handler's result
/// instead, with no [`Response`] made (see `write_reply`).
#[must_use = "a request is only handled when its future is polled"]
pub struct Handling {
    state: State,
    method: MethodName,
    id: Id,
    dialect: Dialect,
    /// How the framework's own errors are written on this connection.
    wording: ErrorFormat,
}

enum State {
    /// The handler is running.
    Running(HandlerCall),
    /// The handler has its result, kept until the reply is written.
    Ready(HandlerCall),
    /// The call failed: an unknown method, a panic, the handler's error.
    Failed(HandlerError),
    /// The reply has been given.
    Finished,
}

impl Handling {
    /// The method being handled.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The id the reply carries.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// The dialect the reply is written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs the handler until it has its result or has failed.
    ///
    /// This may run on a connection's reader, where a panic must not end
    /// the connection: the handler's future is polled, and dropped when it
    /// panics, under a guard.
    pub(crate) fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let State::Running(mut call) = state else {
            self.state = state;
            return Poll::Ready(());
        };
        self.state = match catch_unwind(AssertUnwindSafe(|| call.poll_run(cx))) {
            Ok(Poll::Pending) => {
                self.state = State::Running(call);
                return Poll::Pending;
            }
            Ok(Poll::Ready(Ok(()))) => State::Ready(call),
            // The handler's own future is gone already: its call holds nothing.
            Ok(Poll::Ready(Err(e))) => State::Failed(e),
            Err(panic) => {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(call)));
                State::Failed(panicked(&self.method, panic))
            }
        };
        Poll::Ready(())
    }

    /// Appends the reply's JSON text to `out`, once [`poll_done`](Self::poll_done)
    /// is ready: the result is serialized right into it.
    pub(crate) fn write_reply(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        write_result_head(&self.id, self.dialect, out);
        match self.write_outcome(out) {
            Ok(()) => write_result_tail(self.dialect, out),
            Err(error) => {
                out.truncate(start);
                write_error_reply(&self.id, self.dialect, error.as_bytes(), out);
            }
        }
    }

    /// Appends the result's JSON text to `out`, or gives the error to answer
    /// with instead (then `out` may hold part of a result, to be cut off).
    /// A result's `Serialize` is the user's code, so it runs under a guard,
    /// and the result is dropped there too.
    fn write_outcome(&mut self, out: &mut Vec<u8>) -> Result<(), RawJson> {
        let failure = match std::mem::replace(&mut self.state, State::Finished) {
            State::Ready(mut call) => {
                let written = catch_unwind(AssertUnwindSafe(|| call.write_result(out)));
                // Apart, so that a result whose `Drop` panics while a
                // panicking `Serialize` unwinds cannot abort the process.
                let dropped = catch_unwind(AssertUnwindSafe(move || drop(call)));
                match (written, dropped) {
                    (Ok(Ok(())), Ok(())) => return Ok(()),
                    (Ok(Err(e)), _) => unserializable(e).into(),
                    (Err(panic), _) | (_, Err(panic)) => panicked(&self.method, panic),
                }
            }
            State::Failed(e) => e,
            State::Running(_) | State::Finished => {
                ErrorObject::internal_error("the handler has no result to send").into()
            }
        };
        Err(match failure {
            HandlerError::Method(raw) => raw,
            HandlerError::Standard(e) => (self.wording)(&e, self.dialect),
        })
    }
}

impl std::fmt::Debug for Handling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handling")
            .field("method", &self.method)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Future for Handling {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = &mut *self;
        // A future is not polled past completion; if it is anyway, it
        // stays pending rather than answer twice.
        if matches!(this.state, State::Finished) {
            return Poll::Pending;
        }
        ready!(this.poll_done(cx));
        let mut text = Vec::new();
        let outcome = this.write_outcome(&mut text).and_then(|()| {
            RawJson::written(text).map_err(|_| {
                let e = ErrorObject::internal_error("the handler's result is not UTF-8");
                (this.wording)(&e, this.dialect)
            })
        });
        Poll::Ready(Response {
            id: this.id.clone(),
            outcome,
            dialect: this.dialect,
        })
    }
}
