//! The failure modes users of other JSON-RPC stacks keep hitting: deadlock
//! under backpressure, probes stuck behind work, pending state leaked by
//! timeouts, and one bad frame taking down a whole connection.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{CallError, ErrorObject, Peer, PeerConfig, PeerHandle, RequestContext, Router};
use serde_json::{json, Value};
use support::{pair, peer_and_raw, within};
use tokio::sync::Notify;

/// A router whose `hop(n)` calls `hop(n - 1)` on the other side until 0:
/// every handler waits on a call to the peer.
fn hopping_router() -> Router {
    let mut router = Router::new();
    router.method_fn("hop", |(n,): (u32,), ctx: RequestContext| async move {
        if n == 0 {
            return Ok(0u32);
        }
        let peer = ctx.peer().expect("on a connection").clone();
        match peer.call_raw_typed::<_, u32>("hop", (n - 1,)).await {
            Ok(depth) => Ok(depth + 1),
            // Pass the other side's refusal on as it was.
            Err(CallError::Rpc(e)) => Err(e),
            Err(e) => Err(ErrorObject::internal_error(e)),
        }
    });
    router
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_that_call_each_other_under_tight_limits_never_deadlock() {
    // Both sides: 4 requests at a time, the next refused at once. 1,000
    // calls from each end at once, every one of them three hops deep, so
    // every slot is soon held by a handler waiting on the other side.
    let tight = || PeerConfig::default().max_concurrent_requests(4);
    let (a, b) = pair(hopping_router(), tight(), hopping_router(), tight());
    let calls = |peer: PeerHandle| {
        (0..1000).map(move |_| {
            let peer = peer.clone();
            tokio::spawn(async move { peer.call_raw_typed::<_, u32>("hop", (3u32,)).await })
        })
    };
    let all: Vec<_> = calls(a.clone()).chain(calls(b.clone())).collect();
    // The bound this test states: everything settles within 10 s.
    let results = within(futures::future::join_all(all)).await;
    let (mut ok, mut overloaded) = (0, 0);
    for r in results {
        match r.unwrap() {
            Ok(depth) => {
                assert_eq!(depth, 3);
                ok += 1;
            }
            Err(CallError::Rpc(e)) if e.code == ErrorObject::SERVER_OVERLOADED => overloaded += 1,
            Err(other) => panic!("a call failed with something other than overload: {other}"),
        }
    }
    assert_eq!(ok + overloaded, 2000);
    // After the storm both sides are healthy: a deep call goes through each way.
    assert_eq!(
        within(a.call_raw_typed::<_, u32>("hop", (3u32,)))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        within(b.call_raw_typed::<_, u32>("hop", (3u32,)))
            .await
            .unwrap(),
        3
    );
    // Nothing is left behind on either side.
    for peer in [&a, &b] {
        let stats = peer.stats();
        assert_eq!(stats.calls_pending, 0);
        assert_eq!(stats.requests_in_flight, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_is_answered_while_every_slot_is_busy_and_a_large_message_is_in_flight() {
    const BIG: usize = 32 * 1024 * 1024;
    let release = Arc::new(Notify::new());
    let mut server_router = Router::new();
    server_router.method_fn("echo", |params: Value, _| async move {
        Ok::<_, ErrorObject>(params)
    });
    {
        let release = release.clone();
        server_router.method_fn("busy", move |_: Value, _| {
            let release = release.clone();
            async move {
                release.notified().await;
                Ok::<_, ErrorObject>(())
            }
        });
    }
    // A huge notification coming this way, from the prober, slow to handle.
    server_router.notification_fn("bulk", |_: (String,), _| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    let server_config = PeerConfig::default()
        .max_concurrent_requests(2)
        .priority_methods(vec!["echo".into()]);
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let codec = || JsonStreamCodec::new().with_max_frame(64 * 1024 * 1024);
    let server = Peer::new(codec())
        .router(server_router)
        .config(server_config)
        .spawn(ours);
    let (bulk_tx, mut bulk_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut client_router = Router::new();
    client_router.notification_fn("bulk", move |(text,): (String,), _| {
        let bulk_tx = bulk_tx.clone();
        async move {
            let _ = bulk_tx.send(text.len());
        }
    });
    let client = Peer::new(codec()).router(client_router).spawn(theirs);

    // Fill both slots with handlers that wait.
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call_raw_typed::<_, ()>("busy", ()).await })
        })
        .collect();
    within(async {
        while server.stats().requests_in_flight < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // One more ordinary call is refused: the slots really are full.
    let refused = client
        .call_raw_typed::<_, ()>("busy", ())
        .await
        .unwrap_err();
    assert!(matches!(refused, CallError::Rpc(ref e) if e.code == ErrorObject::SERVER_OVERLOADED));
    // Big traffic both ways, then the probe. The bound this test states: the
    // probe's reply arrives within 5 s (time for the 32 MiB frames ahead of
    // it on the wire, with a wide margin).
    client
        .notify_raw(
            "bulk",
            jsonrpc_core::RawJson::from_value(&["y".repeat(BIG)]).ok(),
        )
        .await
        .unwrap();
    // And a huge one the other way, from the prober's peer to the prober.
    let big = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .notify_raw(
                    "bulk",
                    jsonrpc_core::RawJson::from_value(&["x".repeat(BIG)]).ok(),
                )
                .await
        }
    });
    let echo = client.call_raw(
        "echo",
        jsonrpc_core::RawJson::from_value(&[1]).ok(),
        Some(Duration::from_secs(5)),
    );
    assert_eq!(echo.await.unwrap().get(), "[1]");
    within(big).await.unwrap().unwrap();
    assert_eq!(within(bulk_rx.recv()).await, Some(BIG));
    release.notify_waiters();
    for b in busy {
        within(b).await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_timed_out_calls_leave_no_pending_state_and_every_late_reply_is_counted() {
    const N: usize = 3000;
    let gate = Arc::new(Notify::new());
    let answered = Arc::new(AtomicUsize::new(0));
    let mut server_router = Router::new();
    {
        let (gate, answered) = (gate.clone(), answered.clone());
        server_router.method_fn("late", move |_: Value, _| {
            let (gate, answered) = (gate.clone(), answered.clone());
            async move {
                gate.notified().await;
                answered.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ErrorObject>("too late")
            }
        });
    }
    let roomy = PeerConfig::default().max_concurrent_requests(N);
    let (server, client) = pair(server_router, roomy, Router::new(), PeerConfig::default());
    let calls = (0..N).map(|_| client.call_raw("late", None, Some(Duration::from_millis(200))));
    let results = within(futures::future::join_all(calls)).await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(CallError::Timeout(_)))));
    assert_eq!(
        client.stats().calls_pending,
        0,
        "timeouts removed every entry"
    );
    // Now every handler answers: each reply is late, dropped and counted.
    within(async {
        while server.stats().requests_in_flight < N as u64 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    gate.notify_waiters();
    within(async {
        while client.stats().late_replies < N as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(answered.load(Ordering::SeqCst), N);
    assert_eq!(client.stats().late_replies, N as u64);
    assert_eq!(client.stats().replies_received, 0);
    assert_eq!(client.stats().calls_pending, 0);
}

#[tokio::test]
async fn a_malformed_frame_fails_only_what_it_must() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call_raw_typed::<_, i64>("x", [i]).await })
        })
        .collect();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(raw.recv().await["id"].clone());
    }
    // Not JSON: answered with -32700, nothing else happens.
    raw.send(r#"{"jsonrpc":"2.0","id":"#).await;
    assert_eq!(raw.recv().await["error"]["code"], -32700);
    // A reply that is JSON but not a valid reply fails exactly its call.
    raw.send_json(
        json!({"jsonrpc":"2.0","id": ids[1],"result":1,"error":{"code":1,"message":"m"}}),
    )
    .await;
    // The others are answered normally, and so is a new call.
    raw.send_json(json!({"jsonrpc":"2.0","id": ids[0],"result":10}))
        .await;
    raw.send_json(json!({"jsonrpc":"2.0","id": ids[2],"result":12}))
        .await;
    let mut results = Vec::new();
    for call in calls {
        results.push(within(call).await.unwrap());
    }
    assert_eq!(results[0].as_ref().unwrap(), &10);
    assert!(
        matches!(results[1], Err(CallError::InvalidReply(_))),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap(), &12);
    assert!(!client.is_closed());
    assert_eq!(client.stats().invalid_received, 2);
    assert_eq!(client.stats().calls_pending, 0);
}

#[tokio::test]
async fn the_counters_follow_the_traffic() {
    let mut router = Router::new();
    router.method_fn("add", |(a, b): (i64, i64), _| async move {
        Ok::<_, ErrorObject>(a + b)
    });
    router.notification_fn("note", |_: Value, _| async {});
    let (server, client) = pair(
        router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    for i in 0..5 {
        assert_eq!(
            client
                .call_raw_typed::<_, i64>("add", (i, 1))
                .await
                .unwrap(),
            i + 1
        );
    }
    for _ in 0..3 {
        client.notify_raw("note", None).await.unwrap();
    }
    let err = client
        .call_raw_typed::<_, i64>("nope", ())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Rpc(ref e) if e.code == ErrorObject::METHOD_NOT_FOUND));
    // A call the server answers after this side has given up.
    within(async {
        while server.stats().notifications_received < 3 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let c = client.stats();
    let s = server.stats();
    assert_eq!(
        (c.calls_sent, c.replies_received, c.notifications_sent),
        (6, 6, 3)
    );
    assert_eq!((c.calls_pending, c.late_replies), (0, 0));
    assert_eq!(
        (s.requests_received, s.requests_handled, s.requests_rejected),
        (6, 6, 0)
    );
    assert_eq!(
        (
            s.notifications_received,
            s.invalid_received,
            s.requests_in_flight
        ),
        (3, 0, 0)
    );
    assert_eq!(c.bytes_out, s.bytes_in, "every byte sent was read");
    assert!(s.bytes_out > 0 && s.bytes_out == c.bytes_in);
}
