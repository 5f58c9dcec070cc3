//! The life of a connection: inactivity probes, a peer that stops reading,
//! and a graceful shutdown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{CloseReason, ErrorObject, InactivityProbe, Peer, PeerConfig, Router};
use serde_json::{json, Value};
use support::{peer_and_raw, within};
use tokio::sync::Notify;

fn probing(idle_ms: u64) -> PeerConfig {
    PeerConfig::default().inactivity_probe(Some(
        InactivityProbe::new(Duration::from_millis(idle_ms), "echo").params([0; 0]),
    ))
}

#[tokio::test(start_paused = true)]
async fn an_answered_probe_keeps_the_connection() {
    let (peer, mut raw) = peer_and_raw(Router::new(), probing(1000));
    for _ in 0..3 {
        let probe = raw.recv().await;
        assert_eq!(probe["method"], "echo");
        assert_eq!(probe["params"], json!([]));
        // An error is an answer too: it shows the peer is there.
        raw.send_json(
            json!({"jsonrpc":"2.0","id": probe["id"],"error":{"code":-32601,"message":"no"}}),
        )
        .await;
    }
    assert!(!peer.is_closed());
    assert_eq!(peer.stats().calls_sent, 3);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_probe_closes_the_connection() {
    let (peer, mut raw) = peer_and_raw(Router::new(), probing(1000));
    assert_eq!(raw.recv().await["method"], "echo");
    assert_eq!(
        within(peer.closed()).await,
        CloseReason::ProbeUnanswered(Duration::from_millis(1000))
    );
}

#[tokio::test(start_paused = true)]
async fn input_postpones_the_probe() {
    let (peer, mut raw) = peer_and_raw(Router::new(), probing(1000));
    // Talk every 600 ms for a while: no probe is due.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        raw.send(r#"{"jsonrpc":"2.0","method":"tick"}"#).await;
    }
    assert_eq!(peer.stats().calls_sent, 0);
    // Then silence: the probe comes.
    assert_eq!(raw.recv().await["method"], "echo");
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_disconnected_after_the_write_deadline() {
    // A small pipe nobody drains: writes soon make no progress.
    let (ours, _theirs) = tokio::io::duplex(256);
    let config = PeerConfig::default()
        .outgoing_queue(4)
        .write_timeout(Some(Duration::from_millis(100)));
    let peer = Peer::new(LineCodec::new()).config(config).spawn(ours);
    let sender = tokio::spawn({
        let peer = peer.clone();
        async move {
            let mut sent = 0u64;
            while peer.notify_raw("spam", None).await.is_ok() {
                sent += 1;
            }
            sent
        }
    });
    assert_eq!(
        within(peer.closed()).await,
        CloseReason::WriteStalled(Duration::from_millis(100))
    );
    // The sender was held back by the bounded queue, then told of the close.
    let sent = within(sender).await.unwrap();
    assert!(sent < 100, "sent {sent} into a pipe of 256 bytes");
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_running_handlers_then_closes() {
    let gate = Arc::new(Notify::new());
    let mut router = Router::new();
    {
        let gate = gate.clone();
        router.method_fn("slow", move |_: Value, _| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Ok::<_, ErrorObject>("done")
            }
        });
    }
    let (peer, mut raw) = peer_and_raw(router, PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"slow"}"#)
        .await;
    while peer.stats().requests_in_flight == 0 {
        tokio::task::yield_now().await;
    }
    let shutdown = tokio::spawn({
        let peer = peer.clone();
        async move { peer.shutdown().await }
    });
    while !shutdown.is_finished() && peer.stats().requests_in_flight == 1 {
        // Let shutdown begin, then release the handler.
        tokio::task::yield_now().await;
        gate.notify_waiters();
    }
    assert_eq!(
        raw.recv().await,
        json!({"jsonrpc":"2.0","id":1,"result":"done"})
    );
    assert_eq!(within(shutdown).await.unwrap(), CloseReason::Local);
    assert!(raw.recv_or_eof().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_message_dripping_in_past_the_frame_deadline_closes_the_connection() {
    let config = PeerConfig::default().read_frame_timeout(Some(Duration::from_secs(1)));
    let (peer, mut raw) = peer_and_raw(Router::new(), config);
    // Whole messages, 200 ms apart, for much longer than the deadline: fine.
    for _ in 0..20 {
        raw.send(r#"{"jsonrpc":"2.0","method":"tick"}"#).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!peer.is_closed());
    // Then one that never finishes, a byte every 100 ms: input keeps coming,
    // so only the frame deadline can end it.
    let drip = tokio::spawn(async move {
        for b in br#"{"jsonrpc":"2.0","method":"tick","params":["#.iter().cycle() {
            if raw.send_raw(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(
        within(peer.closed()).await,
        CloseReason::FrameTimeout(Duration::from_secs(1))
    );
    drip.abort();
}

/// `closed()` returns only once no handler of the connection runs any
/// more: one that ignores its cancellation past `cancel_grace` is dropped,
/// so nothing it would have done later (touching a registry, the
/// connection's state) happens after `closed()`, or after a server's
/// `on_close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_handler_runs_on_after_closed_returns() {
    let after = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Arc::new(Notify::new());
    let mut router = Router::new();
    {
        let (after, started) = (after.clone(), started.clone());
        router.method_fn("slow", move |_: (), _| {
            let (after, started) = (after.clone(), started.clone());
            async move {
                started.notify_one();
                // Ignores its token, and outlives the grace.
                tokio::time::sleep(Duration::from_millis(800)).await;
                after.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, ErrorObject>(())
            }
        });
    }
    let config = PeerConfig::default().cancel_grace(Duration::from_millis(100));
    let (server, mut raw) = peer_and_raw(router, config);
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"slow"}"#)
        .await;
    within(started.notified()).await;
    server.close();
    within(server.closed()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        !after.load(std::sync::atomic::Ordering::SeqCst),
        "a handler ran on after closed() returned"
    );
}

/// Once a limit has closed the connection, what else the same read brought
/// in is not served: no handler runs whose reply could never be sent.
#[tokio::test]
async fn nothing_is_served_after_a_limit_closes_the_connection() {
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut router = Router::new();
    {
        let runs = runs.clone();
        router.method_fn("ok", move |_: (), _| {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, ErrorObject>(1) }
        });
    }
    // Room for one error reply on the control lane: the second closes.
    let (server, mut raw) = peer_and_raw(router, PeerConfig::default().control_queue(1));
    let mut chunk = String::from("{bad\n{bad\n");
    for i in 0..20 {
        chunk.push_str(&format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"ok\"}}\n"
        ));
    }
    raw.send(chunk.trim_end()).await;
    assert!(matches!(
        within(server.closed()).await,
        CloseReason::Overwhelmed(1)
    ));
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A half-close stops our side only: the request queued before it still
/// goes out, its reply is still read, the peer reads end of input after it,
/// and a call made afterwards fails at once instead of waiting.
#[tokio::test]
async fn after_a_half_close_replies_still_arrive_and_nothing_more_is_sent() {
    let (peer, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let call = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call_raw("get", None, None).await }
    });
    let request = raw.recv().await;
    assert_eq!(request["method"], "get");
    peer.close_write();
    // End of input after the request: nothing else was sent.
    assert!(raw.recv_or_eof().await.is_none());
    assert!(!peer.is_closed(), "a half-close keeps the reading side");
    let late = within(peer.call_raw("late", None, None)).await;
    assert!(
        matches!(late, Err(jsonrpc_core::CallError::ConnectionClosed(_))),
        "{late:?}"
    );
    raw.send_json(json!({"jsonrpc":"2.0","id": request["id"],"result":"answer"}))
        .await;
    let reply = within(call).await.unwrap().unwrap();
    assert_eq!(reply.get(), r#""answer""#);
    // The peer closes its side too: the connection is over.
    raw.shutdown_write().await;
    assert_eq!(within(peer.closed()).await, CloseReason::PeerClosed);
}

/// A server that half-closes while a request of ours is in its hands: we
/// read end of input, so the call fails with the connection closed rather
/// than waiting for a reply that cannot come.
#[tokio::test]
async fn a_peer_half_closing_fails_the_calls_it_left_unanswered() {
    let held = Arc::new(Notify::new());
    let mut server_router = Router::new();
    {
        let held = held.clone();
        server_router.method_fn("hold", move |_: Value, ctx| {
            let held = held.clone();
            async move {
                if let Some(peer) = ctx.peer() {
                    peer.close_write();
                }
                held.notify_one();
                ctx.cancelled().await;
                Ok::<_, ErrorObject>("never sent")
            }
        });
    }
    let (server, client) = support::pair(
        server_router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let err = within(client.call_raw("hold", None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, jsonrpc_core::CallError::ConnectionClosed(_)),
        "{err:?}"
    );
    within(held.notified()).await;
    // The client, at end of input, closes; then the server does too.
    assert_eq!(within(client.closed()).await, CloseReason::PeerClosed);
    within(server.closed()).await;
}

/// Half-closed, a connection cannot probe; a peer silent past the probe
/// and its answer's time is taken as gone, as an unanswered probe is.
#[tokio::test(start_paused = true)]
async fn a_half_closed_connection_still_closes_on_a_silent_peer() {
    let (peer, mut raw) = peer_and_raw(Router::new(), probing(1000));
    peer.close_write();
    assert!(raw.recv_or_eof().await.is_none());
    assert_eq!(
        within(peer.closed()).await,
        CloseReason::ProbeUnanswered(Duration::from_millis(1000))
    );
}
