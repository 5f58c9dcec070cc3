//! Type-erased handlers: typed closures behind one object-safe signature.
//!
//! The router stores every handler as a [`MethodHandler`] or
//! [`NotificationHandler`] that takes raw params and gives raw JSON back; the
//! typed wrappers here do the (de)serialization at that boundary, so the router
//! itself never sees a user type.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use serde_json::value::RawValue;

use super::RequestContext;
use crate::message::RawParams;
use crate::method::{decode_params, encode_value, Method, NotificationMethod};
use crate::ErrorObject;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a call failed, before the dialect decides how the error looks.
#[derive(Debug, Clone)]
pub enum HandlerError {
    /// The method's own error value, already serialized.
    Method(Box<RawValue>),
    /// A standard JSON-RPC error (bad params, not found, internal), written
    /// with the router's [`ErrorFormat`](super::ErrorFormat).
    Standard(ErrorObject),
}

impl From<ErrorObject> for HandlerError {
    fn from(e: ErrorObject) -> Self {
        HandlerError::Standard(e)
    }
}

/// What a method handler returns: a raw result or an error.
pub type HandlerResult = Result<Box<RawValue>, HandlerError>;

/// A handler for calls that expect a reply, with raw params and result.
pub trait MethodHandler: Send + Sync + 'static {
    /// Handles one call.
    fn call(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<HandlerResult>;
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
    fn call(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<HandlerResult> {
        Box::pin(self(params, ctx))
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

/// A typed method handler: decodes params, encodes the result or error.
pub(crate) struct Typed<M, F> {
    f: F,
    _method: PhantomData<fn() -> M>,
}

impl<M, F> Typed<M, F> {
    pub(crate) fn new(f: F) -> Self {
        Typed {
            f,
            _method: PhantomData,
        }
    }
}

impl<M, F, Fut> MethodHandler for Typed<M, F>
where
    M: Method,
    F: Fn(M::Params, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<M::Result, M::Error>> + Send + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<HandlerResult> {
        let params = match decode_params::<M::Params>(&params) {
            Ok(p) => p,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let fut = (self.f)(params, ctx);
        Box::pin(async move {
            match fut.await {
                Ok(result) => Ok(encode_value(&result)?),
                Err(error) => Err(HandlerError::Method(encode_value(&error)?)),
            }
        })
    }
}

impl<N, F, Fut> NotificationHandler for Typed<N, F>
where
    N: NotificationMethod,
    F: Fn(N::Params, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn notify(&self, params: RawParams, ctx: RequestContext) -> BoxFuture<Result<(), ErrorObject>> {
        match decode_params::<N::Params>(&params) {
            Ok(p) => {
                let fut = (self.f)(p, ctx);
                Box::pin(async move {
                    fut.await;
                    Ok(())
                })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}
