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
use std::task::{Context, Poll};

use futures::FutureExt;
use rustc_hash::FxHashMap;
use serde_json::value::RawValue;

pub use context::RequestContext;
pub use handler::{BoxFuture, HandlerError, HandlerResult, MethodHandler, NotificationHandler};

use crate::message::{to_raw, Dialect, Id, Notification, Request, Response};
use crate::method::{Method, NotificationMethod};
use crate::ErrorObject;

/// How standard errors (-32700 .. -32603, overload) are written on the wire.
///
/// The default writes the 2.0 error object in both dialects. A 1.0 protocol
/// with its own conventions plugs in its own: OVSDB, for one, answers an
/// unknown method with the bare string `"unknown method"`.
pub type ErrorFormat = fn(&ErrorObject, Dialect) -> Box<RawValue>;

fn error_object_format(error: &ErrorObject, _: Dialect) -> Box<RawValue> {
    to_raw(error)
}

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
/// let req = Request::new(1u64, "add", serde_json::value::to_raw_value(&[2, 3]).ok(), Dialect::V2);
/// let resp = router.handle(req, RequestContext::detached(Some(Id::from(1u64)), Dialect::V2)).await;
/// assert_eq!(resp.outcome.unwrap().get(), "5");
/// # }
/// ```
#[derive(Clone)]
pub struct Router {
    /// Method names are looked up for every message, and only this side
    /// adds them: a peer cannot fill the table with colliding names, so a
    /// fast hash serves where SipHash's flood resistance buys nothing.
    routes: FxHashMap<Box<str>, Route>,
    error_format: ErrorFormat,
}

impl Default for Router {
    fn default() -> Self {
        Router {
            routes: FxHashMap::default(),
            error_format: error_object_format,
        }
    }
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
        self.raw_method(M::NAME, handler::Typed::<M, F>::new(handler))
    }

    /// Registers a typed notification handler for `N`.
    pub fn notification<N, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        N: NotificationMethod,
        F: Fn(N::Params, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.raw_notification(N::NAME, handler::Typed::<N, F>::new(handler))
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
        let handler = move |params: crate::RawParams, ctx: RequestContext| {
            let decoded = crate::method::decode_params::<P>(&params);
            let fut = decoded.map(|p| handler(p, ctx));
            async move {
                let result = fut?.await?;
                Ok(crate::method::encode_value(&result)?)
            }
        };
        self.raw_method(name, handler)
    }

    /// Registers a notification handler for `name` with the params type taken
    /// from the closure, the notification counterpart of [`method_fn`](Self::method_fn).
    pub fn notification_fn<P, F, Fut>(&mut self, name: &str, handler: F) -> &mut Self
    where
        P: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(P, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = move |params: crate::RawParams, ctx: RequestContext| {
            let fut = crate::method::decode_params::<P>(&params).map(|p| handler(p, ctx));
            async move {
                fut?.await;
                Ok(())
            }
        };
        self.raw_notification(name, handler)
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

    /// Sets how standard errors are written (see [`ErrorFormat`]).
    pub fn error_format(&mut self, format: ErrorFormat) -> &mut Self {
        self.error_format = format;
        self
    }

    /// Writes a standard error the way this router's protocol does.
    pub fn format_error(&self, error: &ErrorObject, dialect: Dialect) -> Box<RawValue> {
        (self.error_format)(error, dialect)
    }

    /// True if `name` has a method handler.
    pub fn has_method(&self, name: &str) -> bool {
        matches!(self.routes.get(name), Some(Route::Method(_)))
    }

    /// Handles one request: the returned future gives its reply. Never
    /// panics, even when the handler does.
    ///
    /// The future is [`Unpin`], so it can be polled where it stands and moved
    /// afterwards: a connection polls it once on its reader and gives it a
    /// task only if it has to wait (see `PeerConfig::inline_handlers`).
    pub fn handle(&self, req: Request, ctx: RequestContext) -> Handling {
        let state = match self.routes.get(req.method.as_str()) {
            // Typed handlers decode params, and closures may run code, before
            // they return a future: that part can panic too.
            Some(Route::Method(h)) => {
                match catch_unwind(AssertUnwindSafe(|| h.call(req.params, ctx))) {
                    Ok(fut) => State::Running(fut),
                    Err(panic) => State::Done(Err(panicked(&req.method, panic))),
                }
            }
            _ => State::Done(Err(ErrorObject::method_not_found(&req.method).into())),
        };
        Handling {
            state,
            method: req.method,
            id: Some(req.id),
            dialect: req.dialect,
            error_format: self.error_format,
        }
    }

    /// Handles one notification. A notification for a method (not a
    /// notification handler) runs the method and drops its result, as
    /// JSON-RPC 2.0 asks. Failures are logged, since nobody awaits a reply.
    pub async fn handle_notification(&self, n: Notification, ctx: RequestContext) {
        let result = match self.routes.get(n.method.as_str()) {
            Some(Route::Notification(h)) => {
                match catch_unwind(AssertUnwindSafe(|| h.notify(n.params, ctx))) {
                    Ok(fut) => {
                        catch_panic(&n.method, fut.map(|r| r.map_err(HandlerError::Standard)))
                            .await
                            .map(|_| ())
                    }
                    Err(panic) => Err(panicked(&n.method, panic)),
                }
            }
            Some(Route::Method(h)) => {
                match catch_unwind(AssertUnwindSafe(|| h.call(n.params, ctx))) {
                    Ok(fut) => catch_panic(&n.method, fut).await.map(|_| ()),
                    Err(panic) => Err(panicked(&n.method, panic)),
                }
            }
            None => Err(ErrorObject::method_not_found(&n.method).into()),
        };
        if let Err(e) = result {
            let shown = match &e {
                HandlerError::Method(raw) => raw.get().to_owned(),
                HandlerError::Standard(e) => e.to_string(),
            };
            tracing::warn!(method = %n.method, error = %shown, "notification failed");
        }
    }
}

/// Runs a handler future, turning a panic into -32603.
async fn catch_panic<T>(
    method: &str,
    fut: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, HandlerError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => Err(panicked(method, panic)),
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
#[must_use = "a request is only handled when its future is polled"]
pub struct Handling {
    state: State,
    method: String,
    /// Taken out for the response.
    id: Option<Id>,
    dialect: Dialect,
    error_format: ErrorFormat,
}

enum State {
    Running(BoxFuture<HandlerResult>),
    /// Answered before any handler ran: an unknown method, or a panic in
    /// the handler's synchronous part.
    Done(HandlerResult),
    /// The response has been given.
    Finished,
}

impl Handling {
    /// The method being handled.
    pub fn method(&self) -> &str {
        &self.method
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
        let outcome = match std::mem::replace(&mut this.state, State::Finished) {
            State::Running(mut fut) => {
                // A finished future is dropped inside the guard too: this may
                // run on the connection's reader, where a panic in a
                // handler's `Drop` must not end the connection.
                let polled = catch_unwind(AssertUnwindSafe(move || match fut.as_mut().poll(cx) {
                    Poll::Pending => Err(fut),
                    Poll::Ready(outcome) => Ok(outcome),
                }));
                match polled {
                    Ok(Err(fut)) => {
                        this.state = State::Running(fut);
                        return Poll::Pending;
                    }
                    Ok(Ok(outcome)) => outcome,
                    Err(panic) => Err(panicked(&this.method, panic)),
                }
            }
            State::Done(outcome) => outcome,
            // A future is not polled past completion; if it is anyway, it
            // stays pending rather than answer twice.
            State::Finished => return Poll::Pending,
        };
        let outcome = outcome.map_err(|e| match e {
            HandlerError::Method(raw) => raw,
            HandlerError::Standard(e) => (this.error_format)(&e, this.dialect),
        });
        Poll::Ready(Response {
            id: this.id.take().unwrap_or_else(Id::null),
            outcome,
            dialect: this.dialect,
        })
    }
}
