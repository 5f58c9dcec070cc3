//! [`Caller`]: one trait for whatever can call methods and send notifications.

use std::future::Future;

use crate::{CallError, Method, NotificationMethod, NotifyError, PeerHandle};

/// Something that can call [`Method`]s and send [`NotificationMethod`]s: a
/// [`PeerHandle`], or a client that finds its connection anew for each call
/// (`jsonrpc_transport::ReconnectingClient`).
///
/// Code written against `Caller` works over any of them; the senders that
/// [`api!`](crate::api!) generates take one.
///
/// ```
/// use jsonrpc_core::{CallError, Caller, ErrorObject, Method};
///
/// struct Add;
/// impl Method for Add {
///     const NAME: &'static str = "add";
///     type Params = (i64, i64);
///     type Result = i64;
///     type Error = ErrorObject;
/// }
///
/// /// Adds up `numbers` on whatever `caller` reaches, one call per number.
/// async fn total(caller: &impl Caller, numbers: &[i64]) -> Result<i64, CallError> {
///     let mut sum = 0;
///     for &n in numbers {
///         sum = caller.call::<Add>((sum, n)).await?;
///     }
///     Ok(sum)
/// }
/// ```
pub trait Caller: Send + Sync {
    /// Calls method `M` and waits for its typed reply.
    fn call<M: Method>(
        &self,
        params: M::Params,
    ) -> impl Future<Output = Result<M::Result, CallError<M::Error>>> + Send;

    /// Sends notification `N`.
    fn notify<N: NotificationMethod>(
        &self,
        params: N::Params,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

impl Caller for PeerHandle {
    fn call<M: Method>(
        &self,
        params: M::Params,
    ) -> impl Future<Output = Result<M::Result, CallError<M::Error>>> + Send {
        // Inherent methods win over trait methods: this is the handle's own.
        PeerHandle::call::<M>(self, params)
    }

    fn notify<N: NotificationMethod>(
        &self,
        params: N::Params,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send {
        PeerHandle::notify::<N>(self, params)
    }
}
