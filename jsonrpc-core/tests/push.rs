//! Server push: one notification to many connections (serialized once,
//! never waiting on a slow receiver), and typed subscriptions on the
//! receiving side, keyed and bounded.

mod support;

use futures::StreamExt;
use jsonrpc_core::{
    CloseReason, DialectMode, ErrorObject, NotificationMethod, Overflow, PeerConfig, PeerHandle,
    RequestContext, Router, SharedNotification, Subscribe, SubscriptionError, TrySendError,
};
use serde_json::{json, Value};
use support::{pair, peer_and_raw, within};

/// OVSDB's shape: `[monitor id, updates]`.
struct Update;
impl NotificationMethod for Update {
    const NAME: &'static str = "update";
    type Params = (String, Value);
}

/// A server-side handle and the client on the other end of it.
fn connection(server_config: PeerConfig) -> (PeerHandle, PeerHandle) {
    pair(
        Router::new(),
        server_config,
        Router::new(),
        PeerConfig::default(),
    )
}

#[tokio::test]
async fn one_shared_notification_reaches_every_connection_in_its_dialect() {
    let (v2_server, v2_client) = connection(PeerConfig::default());
    let (v1_server, _) = connection(PeerConfig::default().dialect(DialectMode::V1));
    let (_raw_server_peer, mut raw) = peer_and_raw(
        Router::new(),
        PeerConfig::default().dialect(DialectMode::V1),
    );
    let mut updates = v2_client.subscribe::<Update>();
    let note = SharedNotification::of::<Update>(&("m".into(), json!({"t": 1}))).unwrap();
    v2_server.try_send(&note).unwrap();
    v1_server.try_send(&note).unwrap();
    _raw_server_peer.try_send(&note).unwrap();
    let got = within(updates.next()).await.unwrap().unwrap();
    assert_eq!(got, ("m".to_owned(), json!({"t": 1})));
    // In 1.0: `"id": null`, no `jsonrpc`.
    assert_eq!(
        raw.recv().await,
        json!({"id": null, "method": "update", "params": ["m", {"t": 1}]})
    );
    assert_eq!(v1_server.stats().notifications_sent, 1);
    // 1.0 cannot carry object params: refused before anything is queued.
    let named = SharedNotification::new("update", &json!({"a": 1})).unwrap();
    assert!(matches!(
        v1_server.try_send(&named),
        Err(TrySendError::Encode(_))
    ));
    v2_server.try_send(&named).unwrap();
}

/// A peer that never reads: its queue fills, and by default it is closed,
/// while `try_send` to it (and to everyone else) never waits.
#[tokio::test]
async fn a_receiver_that_stops_reading_is_closed_without_holding_up_the_sender() {
    let config = PeerConfig::default().outgoing_queue(4);
    // The raw side never reads, and the pipe between holds 1 MiB. No write
    // deadline: only abandoning the stuck write lets the connection end.
    let (stuck, _raw) = peer_and_raw(Router::new(), config.clone().write_timeout(None));
    let (reader_server, reader) = connection(config);
    let mut seen = reader.subscribe_with::<Update>(Subscribe::new().capacity(100_000));
    let big =
        SharedNotification::of::<Update>(&("m".into(), json!("x".repeat(64 * 1024)))).unwrap();
    let mut closed = None;
    for n in 0..200 {
        // A sender that waited would hang here. The yield lets the writer
        // fill the pipe, so that it is stuck in a write when the queue fills.
        if let Err(e) = stuck.try_send(&big) {
            closed = Some((n, e));
            break;
        }
        tokio::task::yield_now().await;
    }
    let (n, e) = closed.expect("the stuck peer's queue filled");
    assert_eq!(e, TrySendError::Closed(CloseReason::Lagged(4)));
    assert!(
        n > 16,
        "the pipe's worth (1 MiB) and the queue's went first: {n}"
    );
    // Closed for good, its pending write abandoned: every task has ended.
    assert_eq!(within(stuck.closed()).await, CloseReason::Lagged(4));
    // Meanwhile a reading peer gets everything sent to it.
    for _ in 0..50 {
        match reader_server.try_send(&big) {
            Ok(()) => {}
            Err(e) => panic!("a reading peer refused a notification: {e}"),
        }
        assert!(within(seen.next()).await.unwrap().is_ok());
    }
}

/// `Overflow::Lag`: the notification is dropped, the connection marked
/// lagging and every later one dropped too until the application resyncs;
/// the backlog shows in the stats.
#[tokio::test]
async fn a_lagging_receiver_drops_until_resynced() {
    let config = PeerConfig::default()
        .outgoing_queue(4)
        .overflow(Overflow::Lag);
    let (server, mut raw) = peer_and_raw(Router::new(), config);
    // Large enough that the pipe (1 MiB) fills before the queue drains.
    let big = SharedNotification::new("big", &["x".repeat(300 * 1024)]).unwrap();
    let mut sent = 0;
    while server.try_send(&big).is_ok() {
        sent += 1;
        assert!(sent < 100, "the queue never filled");
        tokio::task::yield_now().await;
    }
    assert_eq!(server.try_send(&big), Err(TrySendError::Lagging));
    assert_eq!(server.lagged(), 2);
    let stats = server.stats();
    assert_eq!(stats.notifications_dropped, 2);
    assert!(stats.outgoing_backlog > 0, "{stats:?}");
    assert!(!server.is_closed());
    // Reading drains it; the connection stays lagging until resynced.
    for _ in 0..sent {
        assert_eq!(raw.recv().await["method"], "big");
    }
    assert_eq!(server.try_send(&big), Err(TrySendError::Lagging));
    assert_eq!(server.take_lagged(), 3);
    let small = SharedNotification::new("resynced", &[1]).unwrap();
    server.try_send(&small).unwrap();
    assert_eq!(raw.recv().await["method"], "resynced");
    assert_eq!(server.stats().outgoing_backlog, 0);
}

#[tokio::test]
async fn try_notify_serializes_and_queues_without_waiting() {
    let (server, client) = connection(PeerConfig::default());
    let mut updates = client.subscribe::<Update>();
    server
        .try_notify::<Update>(("m".into(), json!([1, 2])))
        .unwrap();
    let got = within(updates.next()).await.unwrap().unwrap();
    assert_eq!(got.1, json!([1, 2]));
}

#[tokio::test]
async fn keyed_subscriptions_take_only_their_key() {
    let (server, client) = connection(PeerConfig::default());
    let key = |id: &str| Subscribe::new().key("/0", &id).unwrap();
    let mut ports = client.subscribe_with::<Update>(key("ports"));
    let mut bridges = client.subscribe_with::<Update>(key("bridges"));
    let mut all = client.subscribe::<Update>();
    for (monitor, n) in [("ports", 1), ("bridges", 2), ("ports", 3), ("other", 4)] {
        server
            .notify::<Update>((monitor.into(), json!(n)))
            .await
            .unwrap();
    }
    // A call after them: its reply comes after they have all been delivered.
    let _ = client.call_raw_typed::<_, Value>("nothing", ()).await;
    assert_eq!(next(&mut ports).await, json!(1));
    assert_eq!(next(&mut ports).await, json!(3));
    assert_eq!(next(&mut bridges).await, json!(2));
    for n in 1..=4 {
        assert_eq!(next(&mut all).await, json!(n));
    }
    // Nothing else is waiting on the keyed ones.
    assert!(futures::poll!(ports.next()).is_pending());
    assert!(futures::poll!(bridges.next()).is_pending());
    // Pointers into named params work too.
    let mut by_uri = client.subscribe_with::<Diagnostics>(
        Subscribe::new()
            .key("/textDocument/uri", &"file:///a.py")
            .unwrap(),
    );
    for uri in ["file:///b.py", "file:///a.py"] {
        server
            .notify::<Diagnostics>(json!({"textDocument": {"uri": uri}, "n": uri.len()}))
            .await
            .unwrap();
    }
    let got = within(by_uri.next()).await.unwrap().unwrap();
    assert_eq!(got["textDocument"]["uri"], "file:///a.py");
}

/// The next update's second param.
async fn next(s: &mut jsonrpc_core::Subscription<(String, Value)>) -> Value {
    within(s.next()).await.unwrap().unwrap().1
}

struct Diagnostics;
impl NotificationMethod for Diagnostics {
    const NAME: &'static str = "diagnostics";
    type Params = Value;
}

/// A full stream drops the newest notifications and reports how many, in
/// their place; what comes after the report arrives again.
#[tokio::test]
async fn a_full_subscription_reports_the_gap_where_it_was() {
    let (server, client) = connection(PeerConfig::default());
    let mut updates = client.subscribe_with::<Update>(Subscribe::new().capacity(2));
    for n in 0..5 {
        server
            .notify::<Update>(("m".into(), json!(n)))
            .await
            .unwrap();
    }
    let _ = client.call_raw_typed::<_, Value>("sync", ()).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(within(updates.next()).await.unwrap().map(|u| u.1));
    }
    assert_eq!(
        got,
        vec![
            Ok(json!(0)),
            Ok(json!(1)),
            Err(SubscriptionError::Lagged(3))
        ]
    );
    server
        .notify::<Update>(("m".into(), json!(5)))
        .await
        .unwrap();
    let after = within(updates.next()).await.unwrap().unwrap();
    assert_eq!(after.1, json!(5));
}

/// The router's handler runs as well as the stream; params that do not fit
/// the type are reported, not dropped; the stream ends with the connection.
#[tokio::test]
async fn subscriptions_end_with_the_connection_and_report_bad_params() {
    let (tx, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let mut client_router = Router::new();
    client_router.notification_fn("update", move |p: Value, _| {
        let _ = tx.send(p);
        async {}
    });
    let (server, client) = pair(
        Router::new(),
        PeerConfig::default(),
        client_router,
        PeerConfig::default(),
    );
    let mut updates = client.subscribe::<Update>();
    server
        .notify_raw("update", jsonrpc_core::RawJson::from_value(&[1, 2]).ok())
        .await
        .unwrap();
    match within(updates.next()).await.unwrap() {
        Err(SubscriptionError::Decode { params, .. }) => assert_eq!(params, "[1,2]"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(within(handled.recv()).await.unwrap(), json!([1, 2]));
    server.close();
    assert!(within(updates.next()).await.is_none(), "the stream ends");
    // Subscribing to a closed connection gives a stream that ends at once.
    let mut late = client.subscribe::<Update>();
    within(client.closed()).await;
    let mut late2 = client.subscribe::<Update>();
    assert!(within(late2.next()).await.is_none());
    assert!(within(late.next()).await.is_none());
}

/// The ordering half of subscriptions: an update sent before the reply to
/// our call is on the stream when the call returns, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_on_the_stream_before_the_reply_after_it_returns() {
    let mut router = Router::new();
    router.method_fn("transact", |(n,): (u64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection").clone();
        peer.notify::<Update>(("m".into(), json!(n)))
            .await
            .map_err(ErrorObject::internal_error)?;
        Ok::<_, ErrorObject>(n)
    });
    let (_server, client) = pair(
        router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let mut updates = client.subscribe_with::<Update>(Subscribe::new().key("/0", &"m").unwrap());
    let mut wrong = 0;
    for n in 0..10_000u64 {
        let reply: u64 = within(client.call_raw_typed("transact", (n,)))
            .await
            .unwrap();
        assert_eq!(reply, n);
        match futures::poll!(updates.next()) {
            std::task::Poll::Ready(Some(Ok((_, v)))) if v == json!(n) => {}
            _ => wrong += 1,
        }
    }
    assert_eq!(
        wrong, 0,
        "replies that returned before their update was on the stream"
    );
}

/// A notification already on the stream is taken at once, even by a task
/// that has used up its scheduling budget (where tokio's own channels
/// answer `Pending` to make it yield): "on the stream when the call
/// returns" holds however the stream is polled.
#[tokio::test(flavor = "current_thread")]
async fn a_queued_update_is_taken_even_with_the_task_budget_spent() {
    let mut router = Router::new();
    router.method_fn("transact", |(n,): (u64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection").clone();
        peer.notify::<Update>(("m".into(), json!(n)))
            .await
            .map_err(ErrorObject::internal_error)?;
        Ok::<_, ErrorObject>(n)
    });
    let (_server, client) = pair(
        router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let mut updates = client.subscribe::<Update>();
    let reply: u64 = within(client.call_raw_typed("transact", (7u64,)))
        .await
        .unwrap();
    assert_eq!(reply, 7);
    // Spend the budget: tokio's channels count every value they hand out.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..1_000 {
        tx.send(i).unwrap();
    }
    let mut refused = 0;
    for _ in 0..1_000 {
        if futures::poll!(Box::pin(rx.recv())).is_pending() {
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "the budget was not spent: the test proves nothing"
    );
    match futures::poll!(updates.next()) {
        std::task::Poll::Ready(Some(Ok((_, v)))) => assert_eq!(v, json!(7)),
        other => panic!("the update was not taken at once: {other:?}"),
    }
}
