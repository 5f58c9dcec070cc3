//! The server half of the shared transport suite: the router every transport
//! serves, its peer settings and its frame limit.
//!
//! Everything a behaviour needs to observe on the server is sent back over the
//! wire (as a notification to the client or in a reply), so the same checks
//! work when the server is another process (the stdio child,
//! `src/bin/jsonrpc-stdio-server.rs` of the root package, which includes this
//! file) and has no handle the test could look at.

use jsonrpc_core::{
    CallError, ErrorObject, Method, NotificationMethod, PeerConfig, PeerHandle, RequestContext,
    Router, WireCancel,
};
use serde_json::{json, Value};

/// The server's `max_frame`, on every transport. The suite sends a frame over
/// it and expects it refused.
pub const MAX_FRAME: usize = 32 * 1024;

/// `add`: a typed method, declared once for both sides.
pub struct Add;

impl Method for Add {
    const NAME: &'static str = "add";
    type Params = (i64, i64);
    type Result = i64;
    type Error = ErrorObject;
}

/// `note`: a notification to the server, which answers it with a `noted`
/// notification carrying the same params.
pub struct Note;

impl NotificationMethod for Note {
    const NAME: &'static str = "note";
    type Params = Value;
}

/// The application error code `fail` answers with.
pub const FAIL_CODE: i64 = 42;

/// Sends a notification to the client that made the call, if it still listens.
async fn tell(ctx: &RequestContext, method: &str, params: Value) {
    if let Some(peer) = ctx.peer() {
        notify(peer, method, params).await;
    }
}

async fn notify(peer: &PeerHandle, method: &str, params: Value) {
    let raw = jsonrpc_core::RawJson::from_value(&params).ok();
    // The client may be gone (a cancelled call on a closing connection).
    let _ = peer.notify_raw(method, raw).await;
}

/// The router every transport of the suite serves.
///
/// | method | does |
/// |---|---|
/// | `add` `[a, b]` | `a + b` ([`Add`]) |
/// | `echo` any | its params |
/// | `fail` | error [`FAIL_CODE`] with data |
/// | `big` `[n]` | a string of `n` bytes (over [`MAX_FRAME`] on request) |
/// | `callback` `[x]` | calls the client's `client_double([x])` back, returns it + 1 |
/// | `notify_me` `[n]` | sends `tick` `[0]`..`[n-1]` to the client, then returns `n` |
/// | `wait_cancel` `[tag]` | sends `started` `[tag]`, waits for its token, sends `cancelled` `[tag]` |
/// | notification `note` p | sends `noted` p back |
pub fn router() -> Router {
    let mut router = Router::new();
    router.method::<Add, _, _>(|(a, b), _| async move { Ok(a + b) });
    router.method_fn("echo", |p: Value, _| async move { Ok::<_, ErrorObject>(p) });
    router.method_fn("fail", |_: (), _| async move {
        Err::<(), _>(ErrorObject::new(FAIL_CODE, "asked to fail").with_data("details"))
    });
    router.method_fn("big", |(n,): (usize,), _| async move {
        Ok::<_, ErrorObject>("x".repeat(n))
    });
    router.method_fn("callback", |(x,): (i64,), ctx: RequestContext| async move {
        let peer = ctx
            .peer()
            .ok_or_else(|| ErrorObject::internal_error("no connection"))?;
        let doubled: i64 = peer
            .call_raw_typed("client_double", (x,))
            .await
            .map_err(|e: CallError| ErrorObject::internal_error(e))?;
        Ok(doubled + 1)
    });
    router.method_fn(
        "notify_me",
        |(n,): (u64,), ctx: RequestContext| async move {
            for i in 0..n {
                tell(&ctx, "tick", json!([i])).await;
            }
            Ok::<_, ErrorObject>(n)
        },
    );
    router.method_fn(
        "wait_cancel",
        |(tag,): (String,), ctx: RequestContext| async move {
            tell(&ctx, "started", json!([tag])).await;
            ctx.cancelled().await;
            tell(&ctx, "cancelled", json!([tag])).await;
            Err::<(), _>(ErrorObject::new(
                ErrorObject::REQUEST_CANCELLED,
                "cancelled",
            ))
        },
    );
    router.notification::<Note, _, _>(|p, ctx| async move {
        tell(&ctx, "noted", p).await;
    });
    router
}

/// The server's peer settings: LSP's `$/cancelRequest` is honoured.
pub fn server_config() -> PeerConfig {
    PeerConfig::default().wire_cancel(Some(WireCancel::lsp()))
}
