//! The [`api!`](crate::api!) macro: a whole API, both directions, declared at once.

/// Declares a protocol's methods and notifications in both directions, with
/// a trait for each side to implement and a typed sender for each side to use.
///
/// The block names the API (`pub Kv;`), then lists what the client sends to
/// the server (`to_server { .. }`) and, optionally, what the server sends to
/// the client on the same connection (`to_client { .. }`). Each entry names
/// the sender's function and the message's type, then its wire name and
/// params type; methods add `-> Result` and optionally `| Error` (by default
/// [`ErrorObject`](crate::ErrorObject)):
///
/// ```text
/// method put: Put("put", PutParams) -> u64 | PutError;
/// notification hello: Hello("hello", ());
/// ```
///
/// From the name `Kv` it generates:
///
/// | item | side | what it is |
/// |---|---|---|
/// | `Put`, `Hello`, ... | both | one type per entry, a [`Method`](crate::Method) or [`NotificationMethod`](crate::NotificationMethod) |
/// | `trait KvServer` | server implements | one async fn per `to_server` entry; `into_router`, `register` |
/// | `struct KvClient<C: Caller = PeerHandle>` | client uses | `KvClient::new(caller)`; one async fn per `to_server` entry |
/// | `trait KvClientHandler` | client implements | one async fn per `to_client` entry; `into_router`, `register` |
/// | `struct KvPush<C: Caller = PeerHandle>` | server uses | `KvPush::new(peer)`; one async fn per `to_client` entry |
///
/// The last two come only with a `to_client` block. The senders go through
/// any [`Caller`](crate::Caller): a [`PeerHandle`](crate::PeerHandle), or a
/// client that reconnects by itself. The doc comment on the name goes on the
/// four generated items; each entry's goes on its type and its functions.
///
/// ```
/// use jsonrpc_core::codec::LineCodec;
/// use jsonrpc_core::{api, ErrorObject, Peer, RequestContext};
/// use serde::{Deserialize, Serialize};
/// use tokio::sync::mpsc;
///
/// #[derive(Serialize, Deserialize)]
/// pub struct PutParams { pub key: String, pub value: String }
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// pub struct Changed { pub key: String }
///
/// api! {
///     /// A key-value store that tells its clients what changed.
///     pub Kv;
///     to_server {
///         /// Stores a value once the client has confirmed; returns how
///         /// many keys there are.
///         method put: Put("put", PutParams) -> usize;
///     }
///     to_client {
///         /// Asks the client whether to go ahead.
///         method confirm: Confirm("confirm", (String,)) -> bool;
///         /// A key changed.
///         notification changed: KeyChanged("changed", Changed);
///     }
/// }
///
/// struct Store(std::sync::Mutex<std::collections::BTreeMap<String, String>>);
///
/// impl KvServer for Store {
///     async fn put(&self, p: PutParams, ctx: RequestContext) -> Result<usize, ErrorObject> {
///         let peer = ctx.peer().ok_or_else(|| ErrorObject::internal_error("no connection"))?;
///         // The server's sender, on the connection this request came in on.
///         let client = KvPush::new(peer.clone());
///         // A client that cannot be asked has not confirmed.
///         if !client.confirm((p.key.clone(),)).await.unwrap_or(false) {
///             return Err(ErrorObject::new(1, "not confirmed"));
///         }
///         let count = {
///             let mut map = self.0.lock().unwrap();
///             map.insert(p.key.clone(), p.value);
///             map.len()
///         };
///         let sent = client.changed(Changed { key: p.key }).await;
///         sent.map_err(|e| ErrorObject::internal_error(e.to_string()))?;
///         Ok(count)
///     }
/// }
///
/// struct Console(mpsc::UnboundedSender<Changed>);
///
/// impl KvClientHandler for Console {
///     async fn confirm(&self, (key,): (String,), _: RequestContext) -> Result<bool, ErrorObject> {
///         Ok(key != "precious")
///     }
///     async fn changed(&self, p: Changed, _: RequestContext) {
///         let _ = self.0.send(p);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (server_io, client_io) = tokio::io::duplex(4096);
/// let store = Store(Default::default());
/// let _server = Peer::new(LineCodec::new()).router(store.into_router()).spawn(server_io);
/// let (tx, mut changes) = mpsc::unbounded_channel();
/// let client = KvClient::new(
///     Peer::new(LineCodec::new()).router(Console(tx).into_router()).spawn(client_io),
/// );
///
/// let put = |key: &str| PutParams { key: key.into(), value: "v".into() };
/// assert_eq!(client.put(put("a")).await.ok(), Some(1));
/// assert_eq!(changes.recv().await, Some(Changed { key: "a".into() }));
/// assert!(client.put(put("precious")).await.is_err());
/// # }
/// ```
#[macro_export]
macro_rules! api {
    (
        $(#[$attr:meta])*
        $vis:vis $api:ident;
        to_server { $($to_server:tt)* }
        $(to_client { $($to_client:tt)* })?
    ) => {
        // macro_rules cannot make identifiers: pastey builds the four names,
        // and everything else is plain macro_rules below.
        $crate::__pastey::paste! {
            $crate::__api_both! {
                [$(#[$attr])*] [$vis]
                [<$api Server>] [<$api Client>] [<$api ClientHandler>] [<$api Push>]
                to_server { $($to_server)* }
                $(to_client { $($to_client)* })?
            }
        }
    };
}

/// Generates each direction an API declares, with the names `api!` built
/// and what the docs say of each side.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_both {
    (
        [$(#[$attr:meta])*] [$vis:vis]
        $server:ident $client:ident $client_handler:ident $push:ident
        to_server { $($to_server:tt)* }
    ) => {
        $crate::__api_direction! {
            [$(#[$attr])*] [$vis]
            dir "to_server", from "client", to "server";
            handler $server, sender $client;
            sender_note "It calls through any `Caller`: a `PeerHandle` (the default), or \
                a client that reconnects by itself.";
            $($to_server)*
        }
    };
    (
        [$(#[$attr:meta])*] [$vis:vis]
        $server:ident $client:ident $client_handler:ident $push:ident
        to_server { $($to_server:tt)* }
        to_client { $($to_client:tt)* }
    ) => {
        $crate::__api_both! {
            [$(#[$attr])*] [$vis]
            $server $client $client_handler $push
            to_server { $($to_server)* }
        }
        $crate::__api_direction! {
            [$(#[$attr])*] [$vis]
            dir "to_client", from "server", to "client";
            handler $client_handler, sender $push;
            sender_note "It sends on one client's connection: the `PeerHandle` of a \
                request from that client (`RequestContext::peer`), or one kept from \
                when the client connected.";
            $($to_client)*
        }
    };
}

/// Generates one direction of an API: the message types, the trait the
/// receiving side implements and the struct the sending side uses.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_direction {
    (
        [$(#[$attr:meta])*] [$vis:vis]
        dir $dir:literal, from $from:literal, to $to:literal;
        handler $handler:ident, sender $sender:ident;
        sender_note $sender_note:literal;
        $($entries:tt)*
    ) => {
        $crate::__api_types! { [$vis] [$from, $to, $handler, $sender] $($entries)* }

        $(#[$attr])*
        ///
        #[doc = concat!(
            "The ", $to, "'s side of the `", $dir, "` messages: **the ", $to,
            " implements this trait**, one async fn per method or notification, and \
            serves it on its connection's router with [`into_router`](Self::into_router) \
            or [`register`](Self::register). The ", $from, " sends these messages with [`",
            stringify!($sender), "`]."
        )]
        $vis trait $handler: Send + Sync + Sized + 'static {
            $crate::__api_trait_fns! { $($entries)* }

            /// Registers every method and notification of this trait on `router`.
            fn register(self: ::std::sync::Arc<Self>, router: &mut $crate::Router) {
                $crate::__api_register! { self, router; $($entries)* }
            }

            /// A router that serves this trait's methods and notifications and
            /// nothing else.
            fn into_router(self) -> $crate::Router {
                let mut router = $crate::Router::new();
                ::std::sync::Arc::new(self).register(&mut router);
                router
            }
        }

        $(#[$attr])*
        ///
        #[doc = concat!(
            "The ", $from, "'s side of the `", $dir, "` messages: **the ", $from,
            " uses this** to call the ", $to, "'s methods and send it notifications, \
            one async fn per entry. ", $sender_note, " The ", $to, " serves these messages \
            with [`", stringify!($handler), "`]."
        )]
        #[derive(Clone, Debug)]
        $vis struct $sender<C: $crate::Caller = $crate::PeerHandle> {
            caller: C,
        }

        impl<C: $crate::Caller> $sender<C> {
            #[doc = concat!("Sends to the ", $to, " through `caller`.")]
            pub fn new(caller: C) -> Self {
                Self { caller }
            }

            /// What this sends through.
            pub fn caller(&self) -> &C {
                &self.caller
            }

            /// Gives back what this sends through.
            pub fn into_caller(self) -> C {
                self.caller
            }

            $crate::__api_sender_fns! { $($entries)* }
        }
    };
}

/// Declares one type per method or notification, documented with the way it
/// goes (`[$from, $to, $handler, $sender]`).
#[doc(hidden)]
#[macro_export]
macro_rules! __api_types {
    ([$vis:vis] [$from:literal, $to:literal, $handler:ident, $sender:ident]) => {};
    (
        [$vis:vis] [$from:literal, $to:literal, $handler:ident, $sender:ident]
        $(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?;
        $($rest:tt)*
    ) => {
        $(#[$m])*
        ///
        #[doc = concat!(
            "A method from ", $from, " to ", $to, ": called with [`", stringify!($sender),
            "::", stringify!($fn), "`], served by [`", stringify!($handler), "::",
            stringify!($fn), "`]."
        )]
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $ty;
        impl $crate::Method for $ty {
            const NAME: &'static str = $name;
            type Params = $params;
            type Result = $result;
            type Error = $crate::__api_error!($($error)?);
        }
        $crate::__api_types! { [$vis] [$from, $to, $handler, $sender] $($rest)* }
    };
    (
        [$vis:vis] [$from:literal, $to:literal, $handler:ident, $sender:ident]
        $(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty);
        $($rest:tt)*
    ) => {
        $(#[$m])*
        ///
        #[doc = concat!(
            "A notification from ", $from, " to ", $to, ": sent with [`", stringify!($sender),
            "::", stringify!($fn), "`], served by [`", stringify!($handler), "::",
            stringify!($fn), "`]."
        )]
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $ty;
        impl $crate::NotificationMethod for $ty {
            const NAME: &'static str = $name;
            type Params = $params;
        }
        $crate::__api_types! { [$vis] [$from, $to, $handler, $sender] $($rest)* }
    };
}

/// A method's error type: the one given after `|`, or `ErrorObject`.
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

/// Declares the receiving side's trait functions, one per entry.
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

/// Registers each entry's trait function on the router, as a handler that
/// holds the implementation in an `Arc`.
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

/// Declares the sending side's functions, one per entry, each a typed call
/// or notification through the sender's `Caller`.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_sender_fns {
    () => {};
    ($(#[$m:meta])* method $fn:ident : $ty:ident ($name:literal, $params:ty) -> $result:ty $(| $error:ty)?; $($rest:tt)*) => {
        $(#[$m])*
        pub async fn $fn(
            &self,
            params: $params,
        ) -> ::std::result::Result<$result, $crate::CallError<$crate::__api_error!($($error)?)>> {
            $crate::Caller::call::<$ty>(&self.caller, params).await
        }
        $crate::__api_sender_fns! { $($rest)* }
    };
    ($(#[$m:meta])* notification $fn:ident : $ty:ident ($name:literal, $params:ty); $($rest:tt)*) => {
        $(#[$m])*
        pub async fn $fn(&self, params: $params) -> ::std::result::Result<(), $crate::NotifyError> {
            $crate::Caller::notify::<$ty>(&self.caller, params).await
        }
        $crate::__api_sender_fns! { $($rest)* }
    };
}
