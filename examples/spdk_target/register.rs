//! How the mock's methods are registered: each handler works on the locked
//! state synchronously (so pipelined calls change it in the order they
//! arrive), and every reply passes the injected faults on its way out.

use std::marker::PhantomData;

use jsonrpc_core::router::{HandlerCall, HandlerError, MethodHandler};
use jsonrpc_core::{ErrorObject, Method, RawJson, RawParams, RequestContext};
use serde::de::DeserializeOwned;
use serde::Serialize;
use spdk_proto::server::{decode_params, SpdkRouter, When};

use crate::faults::Faults;
use crate::state::{Shared, State};

/// What a method answers when its params do not decode: SPDK's modules
/// differ.
#[derive(Debug, Clone, Copy)]
pub struct Decode(pub i64, pub &'static str);

/// Most methods.
pub const DECODE_FAILED: Decode = Decode(ErrorObject::INTERNAL_ERROR, DECODE_TEXT);
/// The raid module.
pub const PARSE_FAILED: Decode = Decode(ErrorObject::PARSE_ERROR, DECODE_TEXT);
/// The nvmf and split modules, `bdev_set_options`.
pub const INVALID_PARAMS: Decode = Decode(ErrorObject::INVALID_PARAMS, "Invalid parameters");
/// `iobuf_set_options`.
pub const DECODE_INVALID: Decode = Decode(ErrorObject::INVALID_PARAMS, DECODE_TEXT);
/// `keyring_linux_set_options`, `bdev_nvme_set_hotplug`: strerror(EINVAL).
pub const INVALID_ARGUMENT: Decode = Decode(ErrorObject::INVALID_PARAMS, "Invalid argument");
/// `framework_get_config`.
pub const INVALID_ARGUMENTS: Decode = Decode(ErrorObject::INVALID_PARAMS, "Invalid arguments");

const DECODE_TEXT: &str = spdk_proto::server::DECODE_FAILED;

/// A handler: the state and the decoded params in, the result or SPDK's error out.
pub type Handler<P, R> = fn(&mut State, P) -> Result<R, ErrorObject>;

pub struct Registrar<'a> {
    pub spdk: &'a mut SpdkRouter,
    pub state: Shared,
    pub faults: Faults,
}

impl Registrar<'_> {
    /// Registers method `M` with its typed result.
    pub fn add<M>(&mut self, when: When, handler: Handler<M::Params, M::Result>)
    where
        M: Method<Error = ErrorObject>,
        M::Result: Sync,
    {
        self.add_as::<M, M::Result>(when, DECODE_FAILED, handler);
    }

    /// Registers method `M` with a result of another type (JSON written by
    /// hand), and the error SPDK gives when its params do not decode.
    pub fn add_as<M, R>(&mut self, when: When, decode: Decode, handler: Handler<M::Params, R>)
    where
        M: Method<Error = ErrorObject>,
        R: Serialize + Send + Sync + 'static,
    {
        self.spdk.raw_method(
            M::NAME,
            when,
            Stateful::<M::Params, R> {
                name: M::NAME,
                handler,
                decode,
                state: self.state.clone(),
                faults: self.faults.clone(),
                types: PhantomData,
            },
        );
    }
}

impl Registrar<'_> {
    /// Registers method `M`, whose -ENODEV answer waits, polling, for as
    /// long as `wait_ms` of its params says (`bdev_get_bdevs`' `timeout`:
    /// a bdev still being examined or created may appear meanwhile).
    pub fn add_waiting<M, R>(
        &mut self,
        when: When,
        wait_ms: fn(&M::Params) -> u64,
        handler: Handler<M::Params, R>,
    ) where
        M: Method<Error = ErrorObject>,
        M::Params: Clone + Sync,
        R: Serialize + Send + Sync + 'static,
    {
        self.spdk.raw_method(
            M::NAME,
            when,
            Waiting::<M::Params, R> {
                name: M::NAME,
                handler,
                wait_ms,
                state: self.state.clone(),
                faults: self.faults.clone(),
            },
        );
    }
}

/// How often a waiting call looks again.
const POLL: std::time::Duration = std::time::Duration::from_millis(10);

struct Waiting<P, R> {
    name: &'static str,
    handler: Handler<P, R>,
    wait_ms: fn(&P) -> u64,
    state: Shared,
    faults: Faults,
}

fn run_locked<P, R>(state: &Shared, handler: Handler<P, R>, params: P) -> Result<R, ErrorObject> {
    match state.lock() {
        Ok(mut state) => handler(&mut state, params),
        Err(_) => Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            "Internal error",
        )),
    }
}

impl<P, R> MethodHandler for Waiting<P, R>
where
    P: DeserializeOwned + Clone + Send + Sync + 'static,
    R: Serialize + Send + Sync + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        let params = match decode_params::<P>(self.name, &params) {
            Ok(p) => p,
            Err(e) => return HandlerCall::failed(HandlerError::method(e)),
        };
        // A timeout too far to represent waits as long as the call lives.
        let wait = std::time::Duration::from_millis((self.wait_ms)(&params));
        let now = std::time::Instant::now();
        let deadline = now.checked_add(wait).unwrap_or(now + FOREVER);
        let first = run_locked(&self.state, self.handler, params.clone());
        let (state, handler) = (self.state.clone(), self.handler);
        let fault = self.faults.take(self.name);
        HandlerCall::new(async move {
            let mut outcome = first;
            while matches!(&outcome, Err(e) if e.code == ENODEV)
                && std::time::Instant::now() < deadline
            {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = ctx.cancelled() => break,
                }
                outcome = run_locked(&state, handler, params.clone());
            }
            fault.apply(&ctx).await;
            outcome.map_err(HandlerError::method)
        })
    }
}

const ENODEV: i64 = -19;

/// The methods SPDK decodes with `spdk_json_decode_object_relaxed`: keys
/// it does not know (at the top level) are ignored rather than refused.
const RELAXED: &[&str] = &[
    "nvmf_create_transport",
    "nvmf_subsystem_add_listener",
    "framework_set_scheduler",
];

/// Drops the unknown top-level keys of a relaxed method's params.
fn relax(method: &str, params: RawParams) -> RawParams {
    let Some(raw) = &params else { return params };
    if !RELAXED.contains(&method) {
        return params;
    }
    let (Some(info), Ok(mut object)) = (
        spdk_proto::schema::method(method),
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get()),
    ) else {
        return params;
    };
    object.retain(|key, _| info.param(key).is_some());
    RawJson::from_value(&object).ok().or(params)
}

/// Longer than any test or client waits.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

struct Stateful<P, R> {
    name: &'static str,
    handler: Handler<P, R>,
    decode: Decode,
    state: Shared,
    faults: Faults,
    types: PhantomData<fn() -> (P, R)>,
}

impl<P, R> MethodHandler for Stateful<P, R>
where
    P: DeserializeOwned + Send + 'static,
    R: Serialize + Send + Sync + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        let params = relax(self.name, params);
        let outcome = match decode_params::<P>(self.name, &params) {
            Ok(params) => run_locked(&self.state, self.handler, params),
            // "Requires no parameters" is SPDK's own for every method.
            Err(e) if e.code != ErrorObject::INTERNAL_ERROR => Err(e),
            Err(_) => Err(ErrorObject::new(self.decode.0, self.decode.1)),
        };
        let fault = self.faults.take(self.name);
        HandlerCall::new(async move {
            fault.apply(&ctx).await;
            outcome.map_err(HandlerError::method)
        })
    }
}

/// A method of no params: SPDK checks for them itself, each method with
/// its own words, or (`vmd_enable`) never looks at them.
#[derive(Debug, Clone, Copy)]
pub enum NoParams {
    /// Any params, even `{}`, are refused: -32602 with this text.
    Refused(&'static str),
    /// Params are not read at all.
    Ignored,
}

impl Registrar<'_> {
    /// Registers method `M`, which takes no params (see [`NoParams`]).
    pub fn add_bare<M, R>(
        &mut self,
        when: When,
        params: NoParams,
        handler: fn(&mut State) -> Result<R, ErrorObject>,
    ) where
        M: Method<Error = ErrorObject>,
        R: Serialize + Send + Sync + 'static,
    {
        self.spdk.raw_method(
            M::NAME,
            when,
            Bare::<R> {
                name: M::NAME,
                handler,
                params,
                state: self.state.clone(),
                faults: self.faults.clone(),
            },
        );
    }
}

struct Bare<R> {
    name: &'static str,
    handler: fn(&mut State) -> Result<R, ErrorObject>,
    params: NoParams,
    state: Shared,
    faults: Faults,
}

impl<R> MethodHandler for Bare<R>
where
    R: Serialize + Send + Sync + 'static,
{
    fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
        let outcome = match (self.params, &params) {
            (NoParams::Refused(text), Some(_)) => {
                Err(ErrorObject::new(ErrorObject::INVALID_PARAMS, text))
            }
            _ => match self.state.lock() {
                Ok(mut state) => (self.handler)(&mut state),
                Err(_) => Err(ErrorObject::new(
                    ErrorObject::INTERNAL_ERROR,
                    "Internal error",
                )),
            },
        };
        let fault = self.faults.take(self.name);
        HandlerCall::new(async move {
            fault.apply(&ctx).await;
            outcome.map_err(HandlerError::method)
        })
    }
}
