//! The [`api!`](crate::api!) macro: a whole API declared at once.

/// Declares a set of methods and notifications, a typed client for them and a
/// server trait that registers on a [`Router`](crate::Router).
///
/// The block names the server trait and the client struct, then lists the
/// entries. Each entry names the client function and the method type, the wire
/// name and the params type; methods add `-> Result` and optionally `| Error`
/// (the default error type is [`ErrorObject`](crate::ErrorObject)).
///
/// ```
/// use jsonrpc_core::{api, ErrorObject, RequestContext};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct SubtractParams { pub minuend: i64, pub subtrahend: i64 }
///
/// api! {
///     /// Serves a calculator.
///     pub trait Calculator;
///     /// Calls a calculator.
///     pub struct CalculatorClient;
///
///     /// Subtracts `subtrahend` from `minuend`.
///     method subtract: Subtract("subtract", SubtractParams) -> i64;
///     /// Says hello; no reply.
///     notification hello: Hello("hello", Vec<String>);
/// }
///
/// struct Server;
/// impl Calculator for Server {
///     async fn subtract(&self, p: SubtractParams, _: RequestContext) -> Result<i64, ErrorObject> {
///         Ok(p.minuend - p.subtrahend)
///     }
///     async fn hello(&self, _: Vec<String>, _: RequestContext) {}
/// }
///
/// let router = Server.into_router();
/// assert!(router.has_method("subtract"));
/// // A client: `CalculatorClient::new(peer_handle).subtract(params).await`.
/// ```
#[macro_export]
macro_rules! api {
    (
        $(#[$trait_meta:meta])*
        $vis:vis trait $api:ident;
        $(#[$client_meta:meta])*
        $cvis:vis struct $client:ident;
        $($entries:tt)*
    ) => {
        $crate::__api_types! { [$vis] $($entries)* }

        $(#[$trait_meta])*
        ///
        /// Implement it, then serve it with `into_router` or `register`.
        $vis trait $api: Send + Sync + Sized + 'static {
            $crate::__api_trait_fns! { $($entries)* }

            /// Registers every method and notification of this API on `router`.
            fn register(self: ::std::sync::Arc<Self>, router: &mut $crate::Router) {
                $crate::__api_register! { self, router; $($entries)* }
            }

            /// A router that serves this API and nothing else.
            fn into_router(self) -> $crate::Router {
                let mut router = $crate::Router::new();
                ::std::sync::Arc::new(self).register(&mut router);
                router
            }
        }

        $(#[$client_meta])*
        #[derive(Clone, Debug)]
        $cvis struct $client {
            peer: $crate::PeerHandle,
        }

        impl $client {
            /// A client that calls through `peer`.
            pub fn new(peer: $crate::PeerHandle) -> Self {
                Self { peer }
            }

            /// The connection this client calls through.
            pub fn peer(&self) -> &$crate::PeerHandle {
                &self.peer
            }

            $crate::__api_client_fns! { $($entries)* }
        }
    };
}

/// Declares one type per method or notification.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_types {
    ([$vis:vis]) => {};
    ([$vis:vis] $(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?; $($rest:tt)*) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $ty;
        impl $crate::Method for $ty {
            const NAME: &'static str = $name;
            type Params = $params;
            type Result = $result;
            type Error = $crate::__api_error!($($error)?);
        }
        $crate::__api_types! { [$vis] $($rest)* }
    };
    ([$vis:vis] $(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty); $($rest:tt)*) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $ty;
        impl $crate::NotificationMethod for $ty {
            const NAME: &'static str = $name;
            type Params = $params;
        }
        $crate::__api_types! { [$vis] $($rest)* }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __api_error {
    () => {
        $crate::ErrorObject
    };
    ($error:ty) => {
        $error
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __api_trait_fns {
    () => {};
    ($(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?; $($rest:tt)*) => {
        $(#[$m])*
        fn $fn(
            &self,
            params: $params,
            ctx: $crate::RequestContext,
        ) -> impl ::std::future::Future<Output = ::std::result::Result<$result, $crate::__api_error!($($error)?)>> + Send;
        $crate::__api_trait_fns! { $($rest)* }
    };
    ($(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty); $($rest:tt)*) => {
        $(#[$m])*
        fn $fn(
            &self,
            params: $params,
            ctx: $crate::RequestContext,
        ) -> impl ::std::future::Future<Output = ()> + Send;
        $crate::__api_trait_fns! { $($rest)* }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __api_register {
    ($self:ident, $router:ident;) => {};
    ($self:ident, $router:ident; $(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?; $($rest:tt)*) => {
        {
            let this = ::std::sync::Arc::clone(&$self);
            $router.method::<$ty, _, _>(move |params, ctx| {
                let this = ::std::sync::Arc::clone(&this);
                async move { this.$fn(params, ctx).await }
            });
        }
        $crate::__api_register! { $self, $router; $($rest)* }
    };
    ($self:ident, $router:ident; $(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty); $($rest:tt)*) => {
        {
            let this = ::std::sync::Arc::clone(&$self);
            $router.notification::<$ty, _, _>(move |params, ctx| {
                let this = ::std::sync::Arc::clone(&this);
                async move { this.$fn(params, ctx).await }
            });
        }
        $crate::__api_register! { $self, $router; $($rest)* }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __api_client_fns {
    () => {};
    ($(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?; $($rest:tt)*) => {
        $(#[$m])*
        pub async fn $fn(
            &self,
            params: $params,
        ) -> ::std::result::Result<$result, $crate::CallError<$crate::__api_error!($($error)?)>> {
            self.peer.call::<$ty>(params).await
        }
        $crate::__api_client_fns! { $($rest)* }
    };
    ($(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty); $($rest:tt)*) => {
        $(#[$m])*
        pub async fn $fn(&self, params: $params) -> ::std::result::Result<(), $crate::NotifyError> {
            self.peer.notify::<$ty>(params).await
        }
        $crate::__api_client_fns! { $($rest)* }
    };
}
