//! Type-erased handlers: typed closures behind one object-safe signature.
//!
//! The router stores every handler as a [`MethodHandler`] or
//! [`NotificationHandler`] that takes raw params; the typed wrappers here
//! decode params at that boundary, so the router itself never sees a user
//! type. A method's result stays typed until its reply is written
//! ([`HandlerCall`]): it is serialized once, straight into the reply.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures::future::MaybeDone;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::RequestContext;
use crate::message::{RawJson, RawParams};
use crate::method::{decode_params, unserializable};
use crate::ErrorObject;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a call failed, before the dialect decides how the error looks.
#[derive(Debug, Clone)]
pub enum HandlerError {
    /// The method's own error value, already serialized: sent as it is.
    Method(RawJson),
    /// A standard JSON-RPC error (bad params, not found, internal) raised by
    /// the framework or a raw handler, worded by the connection's
    /// [`Profile`](crate::Profile) (SPDK's fixed texts, OVSDB's
    /// `"unknown method"`).
    Standard(ErrorObject),
}

impl HandlerError {
    /// A method's own error value, sent as it is made (never reworded by
    /// the profile).
    ///
    /// ```
    /// use jsonrpc_core::router::HandlerError;
    /// use jsonrpc_core::ErrorObject;
    /// let e = HandlerError::method(ErrorObject::new(-19, "No such device"));
    /// assert!(matches!(e, HandlerError::Method(raw) if raw.get().contains("-19")));
    /// ```
    pub fn method<E: Serialize>(error: E) -> Self {
        method_error(error)
    }
}

impl From<ErrorObject> for HandlerError {
    fn from(e: ErrorObject) -> Self {
        HandlerError::Standard(e)
    }
}

/// What a raw method handler returns: a raw result or an error.
pub type HandlerResult = Result<RawJson, HandlerError>;

/// One run of a method handler: a future that keeps its result until the
/// reply is written, so a typed result is serialized once, straight into
/// the reply, with no JSON value of its own in between.
///
/// Made from any future whose output is a serializable result or a
/// [`HandlerError`]:
///
/// ```
/// use jsonrpc_core::router::{HandlerCall, HandlerError, MethodHandler};
/// use jsonrpc_core::{RawParams, RequestContext};
///
/// /// Answers every call with how many bytes of params it had.
/// struct ParamsLength;
///
/// impl MethodHandler for ParamsLength {
///     fn call(&self, params: RawParams, _ctx: RequestContext) -> HandlerCall {
///         let len = params.map_or(0, |p| p.get().len());
///         HandlerCall::new(async move { Ok::<_, HandlerError>(len) })
///     }
/// }
/// ```
pub struct HandlerCall {
    run: Pin<Box<dyn Run>>,
}

/// What [`HandlerCall`] needs of its future: run it, then write its result.
trait Run: Send {
    /// `Ok(())` once the result is ready to write.
    fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>>;
    /// Writes the result as JSON; only after `poll_run` gave `Ok(())`.
    fn write_result(self: Pin<&mut Self>, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
    /// Drops the result, if it is still kept.
    fn discard(self: Pin<&mut Self>);
}

impl<Fut, R> Run for MaybeDone<Fut>
where
    Fut: Future<Output = Result<R, HandlerError>> + Send,
    R: Serialize + Send + 'static,
{
    fn poll_run(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        ready!(self.as_mut().poll(cx));
        Poll::Ready(match self.as_mut().output_mut() {
            Some(Ok(_)) => Ok(()),
            _ => match self.take_output() {
                Some(Err(e)) => Err(e),
                _ => Err(ErrorObject::internal_error("the handler was run after it ended").into()),
            },
        })
    }

    fn write_result(self: Pin<&mut Self>, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self.output_mut() {
            // Raw JSON (a raw handler's result) is text already, written as
            // it is rather than checked again by serde_json.
            Some(Ok(result)) => match (result as &dyn Any).downcast_ref::<RawJson>() {
                Some(raw) => {
                    out.extend_from_slice(raw.as_bytes());
                    Ok(())
                }
                None => serde_json::to_writer(out, result),
            },
            _ => Err(serde::ser::Error::custom("the handler has no result")),
        }
    }

    fn discard(self: Pin<&mut Self>) {
        drop(self.take_output());
    }
}

impl HandlerCall {
    /// The call that `fut` makes.
    pub fn new<Fut, R>(fut: Fut) -> Self
    where
        Fut: Future<Output = Result<R, HandlerError>> + Send + 'static,
        R: Serialize + Send + 'static,
    {
        HandlerCall {
            run: Box::pin(MaybeDone::Future(fut)),
        }
    }

    /// A call that has failed before it started (its params were wrong, say).
    pub fn failed(error: impl Into<HandlerError>) -> Self {
        Self::new(std::future::ready(Err::<(), _>(error.into())))
    }

    /// Runs the handler until its result is ready (kept for
    /// [`write_result`](Self::write_result)) or it has failed.
    pub(crate) fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HandlerError>> {
        self.run.as_mut().poll_run(cx)
    }

    /// Appends the result's JSON text to `out`, once the run gave `Ok(())`.
    pub(crate) fn write_result(&mut self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.run.as_mut().write_result(out)
    }

    /// Drops the result, once the run is over.
    pub(crate) fn discard(&mut self) {
        self.run.as_mut().discard();
    }
}

/// Awaited, a call gives its result as raw JSON (serialized then): what a
/// handler that wraps another one (to time it, log it, map its errors)
/// awaits.
///
/// ```
/// use jsonrpc_core::router::{HandlerCall, MethodHandler};
/// use jsonrpc_core::{RawParams, RequestContext};
///
/// /// Logs how long the handler it wraps takes.
/// struct Timed<H>(H);
///
/// impl<H: MethodHandler> MethodHandler for Timed<H> {
///     fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
///         let call = self.0.call(params, ctx);
///         HandlerCall::new(async move {
///             let started = std::time::Instant::now();
///             let result = call.await;
///             tracing::info!(took = ?started.elapsed(), ok = result.is_ok(), "handled");
///             result
///         })
///     }
/// }
/// ```
impl Future for HandlerCall {
    type Output = HandlerResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<HandlerResult> {
        ready!(self.poll_run(cx))?;
        let mut text = Vec::new();
        let written = self.write_result(&mut text);
        self.discard();
        written.map_err(|e| HandlerError::Standard(unserializable(e)))?;
        let text = RawJson::written(text).map_err(|_| {
            HandlerError::Standard(ErrorObject::internal_error(
                "the handler's result is not UTF-8",
            ))
        })?;
        Poll::Ready(Ok(text))
    }
}

impl std::fmt::Debug for HandlerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerCall").finish_non_exhaustive()
    }
}

/// A handler for calls that expect a reply, with raw params.
pub trait MethodHandler: Send + Sync + 'static {
    /// Starts handling one call.
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall;
}

/// A handler for notifications.
pub trait NotificationHandler: Send + Sync + 'static {
    /// Handles one notification. An error is only logged: nobody is waiting.
    fn notify(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<Result<(), ErrorObject>>;
}

/// Raw closures are handlers as they are.
impl<F, Fut> MethodHandler for F
where
    F: Fn(RawParams, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        HandlerCall::new(self(params, ctx))
    }
}

/// Raw closures are notification handlers as they are.
impl<F, Fut> NotificationHandler for F
where
    F: Fn(RawParams, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ErrorObject>> + Send + 'static,
{
    fn notify(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<Result<(), ErrorObject>> {
        Box::pin(self(params, ctx))
    }
}

/// A typed method handler: decodes params into `P`; its error `E` becomes a
/// [`HandlerError`] through `error` (a method's own error is sent as it is,
/// an [`ErrorObject`] from a closure goes through the router's format).
pub(crate) struct Typed<P, F, E> {
    f: F,
    error: fn(E) -> HandlerError,
    _params: PhantomData<fn() -> P>,
}

impl<P, F, E> Typed<P, F, E> {
    pub(crate) fn new(f: F, error: fn(E) -> HandlerError) -> Self {
        Typed {
            f,
            error,
            _params: PhantomData,
        }
    }
}

/// The [`HandlerError`] for a method's own error value.
pub(crate) fn method_error<E: Serialize>(error: E) -> HandlerError {
    match RawJson::from_value(&error) {
        Ok(raw) => HandlerError::Method(raw),
        Err(e) => HandlerError::Standard(unserializable(e)),
    }
}

impl<P, R, E, F, Fut> MethodHandler for Typed<P, F, E>
where
    P: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    E: Send + 'static,
    F: Fn(P, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        match decode_params::<P>(&params) {
            Ok(p) => {
                let error = self.error;
                HandlerCall::new((self.f)(p, ctx).map(move |r| r.map_err(error)))
            }
            Err(e) => HandlerCall::failed(e),
        }
    }
}

/// A typed notification handler: decodes params into `P`.
pub(crate) struct TypedNotification<P, F> {
    f: F,
    _params: PhantomData<fn() -> P>,
}

impl<P, F> TypedNotification<P, F> {
    pub(crate) fn new(f: F) -> Self {
        TypedNotification {
            f,
            _params: PhantomData,
        }
    }
}

impl<P, F, Fut> NotificationHandler for TypedNotification<P, F>
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(P, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn notify(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<Result<(), ErrorObject>> {
        match decode_params::<P>(&params) {
            Ok(p) => Box::pin((self.f)(p, ctx).map(Ok)),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}
