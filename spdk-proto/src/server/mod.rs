//! Pieces for servers that speak to SPDK's tools as an SPDK target does.
//!
//! [`SpdkRouter`] is a [`Router`] whose methods decode their params as SPDK
//! does ([`decode_params`]), are callable only in the phases they are
//! registered for ([`When`]), and are listed by a built-in `rpc_get_methods`.
//! It also answers `spdk_get_version`, `framework_start_init` and
//! `framework_wait_init`. Serve it with [`Profile::spdk`](jsonrpc_core::Profile::spdk)
//! on a raw JSON stream, as an SPDK target does.

mod framework;
mod params;

use std::future::Future;
use std::sync::Arc;

use jsonrpc_core::router::{HandlerCall, HandlerError, MethodHandler};
use jsonrpc_core::{ErrorObject, Method, RawJson, RawParams, RequestContext, Router};

pub use framework::{Framework, Phase, When, INVALID_STATE};
pub use params::{decode_params, DECODE_FAILED};

use crate::methods::{
    FrameworkStartInit, FrameworkWaitInit, RpcGetMethods, RpcGetMethodsParams, SpdkGetVersion,
};
use crate::results::Version;

/// The methods of an SPDK-compatible server, with SPDK's rules for params
/// and startup phases.
///
/// ```
/// use jsonrpc_core::ErrorObject;
/// use spdk_proto::methods::{BdevMallocDelete, BdevMallocDeleteParams};
/// use spdk_proto::results::Version;
/// use spdk_proto::server::{Phase, SpdkRouter, When};
/// use spdk_proto::Errno;
///
/// let version = Version::new(26, 9, 0, "-pre");
/// let mut spdk = SpdkRouter::new(version, Phase::Running);
/// spdk.method::<BdevMallocDelete, _, _>(When::Runtime, |params: BdevMallocDeleteParams, _| async move {
///     Err::<bool, _>(Errno::ENODEV.to_error())
/// });
/// let router = spdk.into_router();
/// assert!(router.has_method("rpc_get_methods"));
/// ```
pub struct SpdkRouter {
    router: Router,
    /// Every method registered, in order, with its phases.
    methods: Vec<(String, When)>,
    framework: Framework,
}

impl SpdkRouter {
    /// A router for a target of `version`, starting in `phase`
    /// ([`Phase::Startup`] for `--wait-for-rpc`).
    pub fn new(version: Version, phase: Phase) -> Self {
        let mut spdk = SpdkRouter {
            router: Router::new(),
            methods: Vec::new(),
            framework: Framework::new(phase),
        };
        // The version never changes: written once, each reply shares the
        // text (tools call this as a health check, often).
        let version = RawJson::from_value(&version).unwrap_or_else(|_| RawJson::null());
        spdk.raw_method(
            <SpdkGetVersion as Method>::NAME,
            When::Always,
            move |params: RawParams, _| {
                let reply = decode_params::<()>(<SpdkGetVersion as Method>::NAME, &params)
                    .map(|()| version.clone())
                    .map_err(HandlerError::method);
                std::future::ready(reply)
            },
        );
        let framework = spdk.framework.clone();
        spdk.method::<FrameworkStartInit, _, _>(When::Startup, move |(), _| {
            let started = framework.start();
            async move { Ok(started) }
        });
        let framework = spdk.framework.clone();
        spdk.method::<FrameworkWaitInit, _, _>(When::Always, move |(), _| {
            let framework = framework.clone();
            async move {
                framework.running().await;
                Ok(true)
            }
        });
        spdk
    }

    /// The target's phase, for handlers that need it (or to start it).
    pub fn framework(&self) -> &Framework {
        &self.framework
    }

    /// Registers a typed handler for method `M`, callable in the phases
    /// `when` allows; replaces any earlier one. Its params are decoded as
    /// SPDK does; its errors are sent as it makes them.
    pub fn method<M, F, Fut>(&mut self, when: When, handler: F) -> &mut Self
    where
        M: Method<Error = ErrorObject>,
        F: Fn(M::Params, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<M::Result, ErrorObject>> + Send + 'static,
    {
        self.raw_method(
            M::NAME,
            when,
            Strict::<M, F> {
                handler,
                method: std::marker::PhantomData,
            },
        )
    }

    /// Registers a handler that works on raw params, callable in the phases
    /// `when` allows.
    pub fn raw_method(&mut self, name: &str, when: When, handler: impl MethodHandler) -> &mut Self {
        self.methods.retain(|(known, _)| known != name);
        self.methods.push((name.to_owned(), when));
        self.router.raw_method(
            name,
            Phased {
                when,
                framework: self.framework.clone(),
                handler,
            },
        );
        self
    }

    /// The names registered, in order, with their phases.
    pub fn methods(&self) -> impl Iterator<Item = (&str, When)> {
        self.methods
            .iter()
            .map(|(name, when)| (name.as_str(), *when))
    }

    /// The finished router, with `rpc_get_methods` listing what was
    /// registered.
    pub fn into_router(mut self) -> Router {
        let mut methods = std::mem::take(&mut self.methods);
        methods.push((<RpcGetMethods as Method>::NAME.to_owned(), When::Always));
        let methods = Arc::new(methods);
        let framework = self.framework.clone();
        self.method::<RpcGetMethods, _, _>(When::Always, move |params: RpcGetMethodsParams, _| {
            let current = params.current.unwrap_or(false);
            let phase = framework.phase();
            let names = methods
                .iter()
                .filter(|(_, when)| !current || when.allows(phase))
                .map(|(name, _)| name.clone())
                .collect();
            async move { Ok(names) }
        });
        self.router
    }
}

/// A handler refused outside the phases it is for.
struct Phased<H> {
    when: When,
    framework: Framework,
    handler: H,
}

impl<H: MethodHandler> MethodHandler for Phased<H> {
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        if !self.when.allows(self.framework.phase()) {
            return HandlerCall::failed(HandlerError::method(self.when.refusal()));
        }
        self.handler.call(params, ctx)
    }
}

/// A typed handler whose params are read as SPDK reads them.
struct Strict<M, F> {
    handler: F,
    method: std::marker::PhantomData<fn() -> M>,
}

impl<M, F, Fut> MethodHandler for Strict<M, F>
where
    M: Method<Error = ErrorObject>,
    F: Fn(M::Params, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<M::Result, ErrorObject>> + Send + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        match decode_params::<M::Params>(M::NAME, &params) {
            Ok(params) => {
                let run = (self.handler)(params, ctx);
                HandlerCall::new(async move { run.await.map_err(HandlerError::method) })
            }
            Err(e) => HandlerCall::failed(HandlerError::method(e)),
        }
    }
}
