//! The shared transport suite: each behaviour written once, as an async
//! function over a [`Transport`], and run over every transport by
//! [`transport_suite!`].
//!
//! A [`Transport`] opens new connections to a server that serves
//! [`server_side::router`] with [`server_side::server_config`] and a codec
//! limited to [`server_side::MAX_FRAME`]. A behaviour either starts a client
//! peer on such a connection ([`client`]) or speaks raw framed JSON on it
//! ([`Raw`]) where it must send what a well-behaved peer never would (a batch,
//! an oversized frame). Whatever the server does is observed on the wire, so
//! the behaviours hold for an out-of-process server (stdio) as well; in-process
//! transports also expose the server's peers for extra checks.
//!
//! This file is shared with the root package's `tests/transport_stdio.rs`
//! (through `#[path]`), so it uses only `jsonrpc-core` and common crates.

#![allow(dead_code)] // each test crate uses its own part of the suite

pub mod server_side;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::join_all;
use jsonrpc_core::codec::{Frame, Framing, DEFAULT_MAX_FRAME};
use jsonrpc_core::router::{BoxFuture, NotificationHandler};
use jsonrpc_core::{
    CallError, CloseReason, ErrorObject, Peer, PeerConfig, PeerHandle, RawParams, RequestContext,
    Router, WireCancel,
};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;

use server_side::{Add, Note, FAIL_CODE, MAX_FRAME};

/// How long anything may take before the test is failed as hung.
pub const HANG: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it takes longer than [`HANG`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(HANG, fut).await {
        Ok(out) => out,
        Err(_) => panic!("hung for {HANG:?}: {what}"),
    }
}

/// Waits (up to [`HANG`]) until `cond` holds, failing the test otherwise.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// A connected byte stream of any kind.
pub trait Io: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Io for T {}

/// A boxed connection, as [`Transport::open`] returns it.
pub type BoxIo = Pin<Box<dyn Io>>;

/// A way to reach a server that serves the suite's router.
pub trait Transport: Send + Sync {
    /// The framing this transport's server speaks.
    type Codec: Framing + Clone;

    /// The framing, limited to `max_frame` bytes.
    fn codec(&self, max_frame: usize) -> Self::Codec;

    /// Opens a new connection to the server.
    fn open(&self) -> impl Future<Output = BoxIo> + Send;

    /// Opens a new connection and starts `peer` on it (transports override
    /// this to use their own way, such as `Stream::into_peer`).
    fn connect(&self, peer: Peer<Self::Codec>) -> impl Future<Output = PeerHandle> + Send {
        async move { peer.spawn(self.open().await) }
    }

    /// The server's side of every open connection, once there are `open` of
    /// them, when the server runs in this process; `None` otherwise.
    fn server_side(&self, open: usize) -> impl Future<Output = Option<Vec<PeerHandle>>> + Send {
        let _ = open;
        std::future::ready(None)
    }
}

/// A notification the client received: method and params.
pub type Event = (String, Value);

/// Notifications the client's router received, in order.
pub struct Inbox(mpsc::UnboundedReceiver<Event>);

impl Inbox {
    /// An inbox fed by the sender given to [`client_router`].
    pub fn new(rx: mpsc::UnboundedReceiver<Event>) -> Self {
        Inbox(rx)
    }

    /// The next notification (failing the test if none comes).
    pub async fn next(&mut self) -> Event {
        within("a notification to the client", self.0.recv())
            .await
            .expect("the client's router is gone")
    }

    /// The next notification, which must be `method` with `params`.
    pub async fn expect(&mut self, method: &str, params: Value) {
        assert_eq!(self.next().await, (method.to_owned(), params));
    }
}

/// Hands each notification it gets to the inbox.
struct Forward {
    method: &'static str,
    inbox: mpsc::UnboundedSender<Event>,
}

impl NotificationHandler for Forward {
    fn notify(&self, params: RawParams, _: RequestContext) -> BoxFuture<Result<(), ErrorObject>> {
        let params = params.map_or(Value::Null, |p| {
            serde_json::from_str(p.get()).expect("params are JSON")
        });
        let _ = self.inbox.send((self.method.to_owned(), params));
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The client's router: `client_double` for the server to call back, and
/// every notification the server sends forwarded to the inbox.
pub fn client_router(inbox: mpsc::UnboundedSender<Event>) -> Router {
    let mut router = Router::new();
    router.method_fn("client_double", |(x,): (i64,), _| async move {
        Ok::<_, ErrorObject>(2 * x)
    });
    for method in ["noted", "tick", "started", "cancelled"] {
        router.raw_notification(
            method,
            Forward {
                method,
                inbox: inbox.clone(),
            },
        );
    }
    router
}

/// The client's settings: dropped calls are cancelled with `$/cancelRequest`.
pub fn client_config() -> PeerConfig {
    PeerConfig::default().wire_cancel(Some(WireCancel::lsp()))
}

/// A client peer and the notifications it receives.
pub struct Client {
    pub peer: PeerHandle,
    pub inbox: Inbox,
}

/// Connects a client peer (with the suite's client router and settings).
pub async fn client<T: Transport>(t: &T) -> Client {
    let (tx, rx) = mpsc::unbounded_channel();
    let peer = Peer::new(t.codec(MAX_FRAME))
        .router(client_router(tx))
        .config(client_config());
    let peer = within("connecting a client", t.connect(peer)).await;
    Client {
        peer,
        inbox: Inbox::new(rx),
    }
}

/// A connection spoken to in raw framed JSON.
pub struct Raw<C> {
    pub io: BoxIo,
    codec: C,
    buf: BytesMut,
    /// Notifications read while looking for replies.
    pub notifications: Vec<Value>,
}

/// Opens a raw connection. Its framing allows the default 16 MiB, so it can
/// send frames the server refuses.
pub async fn raw<T: Transport>(t: &T) -> Raw<T::Codec> {
    Raw::new(
        within("opening a connection", t.open()).await,
        t.codec(DEFAULT_MAX_FRAME),
    )
}

impl<C: Framing> Raw<C> {
    pub fn new(io: BoxIo, codec: C) -> Self {
        Raw {
            io,
            codec,
            buf: BytesMut::new(),
            notifications: Vec::new(),
        }
    }

    /// Frames `text` and writes it.
    pub async fn send(&mut self, text: &str) {
        let mut out = BytesMut::new();
        Encoder::<&[u8]>::encode(&mut self.codec, text.as_bytes(), &mut out)
            .expect("the raw framing takes it");
        within("writing a frame", async {
            self.io.write_all(&out).await?;
            self.io.flush().await
        })
        .await
        .expect("writing a frame");
    }

    /// Writes `value` as one frame.
    pub async fn send_json(&mut self, value: &Value) {
        self.send(&value.to_string()).await
    }

    /// The next JSON text, or `None` at end of input.
    pub async fn recv(&mut self) -> Option<Value> {
        within("reading a frame", async {
            loop {
                if let Some(frame) = self.codec.decode(&mut self.buf).expect("framing") {
                    return Some(complete(frame));
                }
                if self.io.read_buf(&mut self.buf).await.expect("reading") == 0 {
                    return self
                        .codec
                        .decode_eof(&mut self.buf)
                        .expect("framing")
                        .map(complete);
                }
            }
        })
        .await
    }

    /// The next reply or batch of replies, keeping notifications aside.
    pub async fn recv_reply(&mut self) -> Value {
        loop {
            let value = self.recv().await.expect("a reply before end of input");
            if value.get("method").is_some() {
                self.notifications.push(value);
            } else {
                return value;
            }
        }
    }

    /// The params of the next `method` notification, taking those already read first.
    pub async fn recv_notification(&mut self, method: &str) -> Value {
        loop {
            if !self.notifications.is_empty() {
                let n = self.notifications.remove(0);
                assert_eq!(n["method"], method, "unexpected notification {n}");
                return n["params"].clone();
            }
            let value = self
                .recv()
                .await
                .expect("a notification before end of input");
            assert!(
                value.get("method").is_some(),
                "expected a notification, got {value}"
            );
            self.notifications.push(value);
        }
    }
}

fn complete(frame: Frame) -> Value {
    match frame {
        Frame::Complete(text) => serde_json::from_slice(&text).expect("the server sends JSON"),
        Frame::Oversized(e) => panic!("the server sent an oversized frame: {e}"),
    }
}

/// The error code of an error reply, or a failure.
fn rpc_code<T: std::fmt::Debug>(result: Result<T, CallError>) -> ErrorObject {
    match result {
        Err(CallError::Rpc(e)) => e,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The behaviours
// ---------------------------------------------------------------------------

/// Typed calls: a `Method` type, ad hoc typed calls, typed error replies, the
/// router's standard errors, many calls at once matched to their replies.
pub async fn typed_calls<T: Transport>(t: &T) {
    let c = client(t).await;
    let peer = &c.peer;
    assert_eq!(within("add", peer.call::<Add>((2, 3))).await.unwrap(), 5);

    let value = json!({"list": [1, 2.5, null, {"nested": true}], "text": "é\n\"quoted\"\u{1F600}"});
    let echoed: Value = within("echo", peer.call_raw_typed("echo", value.clone()))
        .await
        .unwrap();
    assert_eq!(echoed, value);

    let e = rpc_code(within("fail", peer.call_raw_typed::<_, ()>("fail", ())).await);
    assert_eq!(e.code, FAIL_CODE);
    assert_eq!(e.message, "asked to fail");
    assert_eq!(e.data.as_ref().map(|d| d.get()), Some("\"details\""));

    let e = rpc_code(within("nope", peer.call_raw_typed::<_, ()>("nope", ())).await);
    assert_eq!(e.code, ErrorObject::METHOD_NOT_FOUND);
    let e = rpc_code(
        within(
            "bad params",
            peer.call_raw_typed::<_, i64>("add", ["two", "three"]),
        )
        .await,
    );
    assert_eq!(e.code, ErrorObject::INVALID_PARAMS);

    // Many calls in flight at once, each answered with its own result.
    let calls = (0..100i64).map(|i| peer.call::<Add>((i, 1000 * i)));
    let sums = within("100 concurrent calls", join_all(calls)).await;
    for (i, sum) in sums.into_iter().enumerate() {
        assert_eq!(sum.unwrap(), 1001 * i as i64);
    }

    // The reader counts a reply just after handing it to its caller, so the
    // count may trail the caller by a moment (see the report on PeerStats).
    let counted = peer.clone();
    eventually("105 replies counted", move || {
        counted.stats().replies_received == 105
    })
    .await;
    let stats = peer.stats();
    assert_eq!(stats.calls_sent, 105);
    assert_eq!(stats.replies_received, 105);
    assert_eq!(stats.calls_pending, 0);
    assert_eq!(stats.late_replies, 0);
}

/// Notifications both ways, in order; the server calling the client back
/// while the client's call waits; a handler notifying the client through
/// `ctx.peer()` before it replies.
pub async fn notifications_both_ways<T: Transport>(t: &T) {
    let mut c = client(t).await;
    for i in 0..20 {
        within("notify", c.peer.notify::<Note>(json!({ "i": i })))
            .await
            .unwrap();
    }
    for i in 0..20 {
        c.inbox.expect("noted", json!({ "i": i })).await;
    }

    let called_back: i64 = within("callback", c.peer.call_raw_typed("callback", (20,)))
        .await
        .unwrap();
    assert_eq!(
        called_back, 41,
        "the server called client_double(20) and added 1"
    );

    let sent: u64 = within("notify_me", c.peer.call_raw_typed("notify_me", (50,)))
        .await
        .unwrap();
    assert_eq!(sent, 50);
    for i in 0..50 {
        c.inbox.expect("tick", json!([i])).await;
    }

    let stats = c.peer.stats();
    assert_eq!(stats.notifications_sent, 20);
    assert_eq!(stats.notifications_received, 70);
    assert_eq!(stats.requests_received, 1, "the server's callback");
    assert_eq!(stats.requests_handled, 1);
}

/// A batch: replies come back as one array in request order; a notification
/// in it is handled and gets no entry; a bad entry gets its own error. A
/// batch of notifications only gets no reply at all; an empty batch is one
/// invalid request.
pub async fn batch<T: Transport>(t: &T) {
    let mut r = raw(t).await;
    r.send_json(&json!([
        {"jsonrpc": "2.0", "id": 1, "method": "add", "params": [1, 2]},
        {"jsonrpc": "2.0", "method": "note", "params": ["in a batch"]},
        {"jsonrpc": "2.0", "id": "two", "method": "nope"},
        {"foo": 1},
        {"jsonrpc": "2.0", "id": 3, "method": "echo", "params": ["x"]},
    ]))
    .await;
    let replies = r.recv_reply().await;
    let replies = replies.as_array().expect("a batch reply is an array");
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert_eq!(replies[0], json!({"jsonrpc": "2.0", "id": 1, "result": 3}));
    assert_eq!(replies[1]["id"], "two");
    assert_eq!(replies[1]["error"]["code"], ErrorObject::METHOD_NOT_FOUND);
    assert_eq!(replies[2]["id"], Value::Null);
    assert_eq!(replies[2]["error"]["code"], ErrorObject::INVALID_REQUEST);
    assert_eq!(
        replies[3],
        json!({"jsonrpc": "2.0", "id": 3, "result": ["x"]})
    );
    assert_eq!(r.recv_notification("noted").await, json!(["in a batch"]));

    // Notifications only: no reply, so the next reply is the next request's.
    r.send_json(&json!([
        {"jsonrpc": "2.0", "method": "note", "params": [1]},
        {"jsonrpc": "2.0", "method": "note", "params": [2]},
    ]))
    .await;
    r.send(r#"{"jsonrpc":"2.0","id":9,"method":"add","params":[4,5]}"#)
        .await;
    assert_eq!(
        r.recv_reply().await,
        json!({"jsonrpc": "2.0", "id": 9, "result": 9})
    );
    assert_eq!(r.recv_notification("noted").await, json!([1]));
    assert_eq!(r.recv_notification("noted").await, json!([2]));

    r.send("[]").await;
    let reply = r.recv_reply().await;
    assert!(reply.is_object(), "an empty batch gets one error: {reply}");
    assert_eq!(reply["id"], Value::Null);
    assert_eq!(reply["error"]["code"], ErrorObject::INVALID_REQUEST);
}

/// Cancellation: a call the client drops is cancelled on the wire
/// (`$/cancelRequest`) and the server handler's token fires; the
/// connection goes on serving, and the handler's late reply is dropped.
pub async fn cancellation<T: Transport>(t: &T) {
    let mut c = client(t).await;
    for tag in ["first", "second"] {
        let peer = c.peer.clone();
        let call =
            tokio::spawn(
                async move { peer.call_raw_typed::<_, Value>("wait_cancel", (tag,)).await },
            );
        c.inbox.expect("started", json!([tag])).await;
        call.abort();
        assert!(within("the aborted call", call)
            .await
            .unwrap_err()
            .is_cancelled());
        // Only the wire cancel can fire the handler's token: the connection stays open.
        c.inbox.expect("cancelled", json!([tag])).await;
        assert!(!c.peer.is_closed());
    }
    assert_eq!(
        within("add after cancels", c.peer.call::<Add>((1, 1)))
            .await
            .unwrap(),
        2
    );
    // Each cancelled handler still answered; with no call waiting, the
    // replies are dropped as late.
    let peer = c.peer.clone();
    eventually("two late replies", move || peer.stats().late_replies == 2).await;
    assert_eq!(c.peer.stats().calls_pending, 0);
}

/// Limits: a frame over the server's `max_frame` is refused with an error
/// and the connection goes on; a reply over it is replaced by an error; a
/// call over the client's own limit fails before it is sent.
pub async fn limits<T: Transport>(t: &T) {
    let mut r = raw(t).await;
    let huge =
        json!({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": ["x".repeat(2 * MAX_FRAME)]});
    r.send_json(&huge).await;
    r.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[20,22]}"#)
        .await;
    let refused = r.recv_reply().await;
    // Read from the frame's first bytes: its caller learns at once.
    assert_eq!(refused["id"], 1, "{refused}");
    assert_eq!(refused["error"]["code"], ErrorObject::INVALID_REQUEST);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_frame"), "{message}");
    assert_eq!(
        r.recv_reply().await,
        json!({"jsonrpc": "2.0", "id": 2, "result": 42})
    );
    if let Some(servers) = t.server_side(1).await {
        let oversized: u64 = servers.iter().map(|p| p.stats().oversized_frames).sum();
        assert_eq!(oversized, 1);
    }

    let c = client(t).await;
    let e = rpc_code(
        within(
            "big",
            c.peer.call_raw_typed::<_, String>("big", (2 * MAX_FRAME,)),
        )
        .await,
    );
    assert_eq!(e.code, ErrorObject::INTERNAL_ERROR);
    assert!(e.message.contains("frame limit"), "{}", e.message);
    let small: String = within("small", c.peer.call_raw_typed("big", (10,)))
        .await
        .unwrap();
    assert_eq!(small, "xxxxxxxxxx");

    match c
        .peer
        .call_raw_typed::<_, Value>("echo", ["x".repeat(2 * MAX_FRAME)])
        .await
    {
        Err(CallError::TooLarge(e)) => assert_eq!(e.limit, MAX_FRAME),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(
        c.peer.stats().calls_sent,
        2,
        "the oversized call was never sent"
    );
    assert_eq!(within("add", c.peer.call::<Add>((1, 2))).await.unwrap(), 3);
}

/// A clean close: the client shuts down, the server's side of the
/// connection sees the peer close, and the client's calls then fail at once.
pub async fn clean_close<T: Transport>(t: &T) {
    let c = client(t).await;
    assert_eq!(within("add", c.peer.call::<Add>((2, 2))).await.unwrap(), 4);
    let servers = t.server_side(1).await.unwrap_or_default();
    assert_eq!(
        within("client shutdown", c.peer.shutdown()).await,
        CloseReason::Local
    );
    for server in servers {
        assert_eq!(
            within("the server side closing", server.closed()).await,
            CloseReason::PeerClosed
        );
    }
    match c.peer.call::<Add>((1, 1)).await {
        Err(CallError::ConnectionClosed(CloseReason::Local)) => {}
        other => panic!("expected ConnectionClosed(Local), got {other:?}"),
    }
}

/// Writes one test per behaviour; `$setup` is an async fn giving a [`Transport`].
macro_rules! transport_suite {
    ($setup:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn typed_calls() {
            $crate::suite::typed_calls(&$setup().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn notifications_both_ways() {
            $crate::suite::notifications_both_ways(&$setup().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn batch() {
            $crate::suite::batch(&$setup().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cancellation() {
            $crate::suite::cancellation(&$setup().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn limits() {
            $crate::suite::limits(&$setup().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn clean_close() {
            $crate::suite::clean_close(&$setup().await).await;
        }
    };
}
