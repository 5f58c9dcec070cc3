//! Our calls to a peer: matching replies by id, timeouts, cancellation and
//! what happens to pending calls when the connection closes.

mod support;

use std::time::Duration;

use jsonrpc_core::{CallError, CloseReason, PeerConfig, Router, WireCancel};
use serde_json::{json, Value};
use support::{peer_and_raw, within};

#[tokio::test]
async fn replies_out_of_order_reach_their_own_calls() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call_raw_typed::<_, String>("who", [i]).await })
        })
        .collect();
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(raw.recv().await);
    }
    // Answer in reverse order, each with the param its request carried.
    for req in requests.iter().rev() {
        let tag = format!("answer to {}", req["params"][0]);
        raw.send_json(json!({"jsonrpc": "2.0", "id": req["id"], "result": tag}))
            .await;
    }
    for (i, call) in calls.into_iter().enumerate() {
        let got = within(call).await.unwrap().unwrap();
        assert_eq!(got, format!("answer to {i}"));
    }
    assert_eq!(client.stats().calls_pending, 0);
    assert_eq!(client.stats().replies_received, 3);
}

#[tokio::test]
async fn a_reply_with_an_unknown_id_is_dropped_and_counted() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":424242,"result":1}"#)
        .await;
    raw.send(r#"{"jsonrpc":"2.0","id":"not ours","result":1}"#)
        .await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("x", ()).await }
    });
    let req = raw.recv().await;
    raw.send_json(json!({"jsonrpc":"2.0","id": req["id"],"result": 7}))
        .await;
    assert_eq!(within(call).await.unwrap().unwrap(), 7);
    assert_eq!(client.stats().late_replies, 2);
    assert!(!client.is_closed());
}

#[tokio::test]
async fn a_timed_out_call_leaves_nothing_pending_and_its_late_reply_is_counted() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let err = client
        .call_raw("slow", None, Some(Duration::from_millis(20)))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err}");
    assert_eq!(client.stats().calls_pending, 0);
    let req = raw.recv().await;
    raw.send_json(json!({"jsonrpc":"2.0","id": req["id"],"result": null}))
        .await;
    // A later call proves the late reply was read (and dropped) before it.
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("x", ()).await }
    });
    let req = raw.recv().await;
    raw.send_json(json!({"jsonrpc":"2.0","id": req["id"],"result": 1}))
        .await;
    within(call).await.unwrap().unwrap();
    assert_eq!(client.stats().late_replies, 1);
}

#[tokio::test]
async fn the_default_call_timeout_applies() {
    let config = PeerConfig::default().call_timeout(Some(Duration::from_millis(10)));
    let (client, _raw) = peer_and_raw(Router::new(), config);
    let err = client.call_raw_typed::<_, i64>("x", ()).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout(d) if d == Duration::from_millis(10)));
}

#[tokio::test]
async fn dropping_a_call_frees_its_slot_and_sends_the_wire_cancel() {
    let config = PeerConfig::default().wire_cancel(Some(WireCancel::lsp()));
    let (client, mut raw) = peer_and_raw(Router::new(), config);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("slow", ()).await }
    });
    let req = raw.recv().await;
    assert_eq!(client.stats().calls_pending, 1);
    call.abort();
    let cancel = raw.recv().await;
    assert_eq!(cancel["method"], "$/cancelRequest");
    assert_eq!(cancel["params"]["id"], req["id"]);
    assert!(cancel.get("id").is_none(), "a cancel is a notification");
    assert_eq!(client.stats().calls_pending, 0);
    assert_eq!(client.stats().cancels_sent, 1);
}

#[tokio::test]
async fn without_a_wire_cancel_dropping_a_call_sends_nothing() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("slow", ()).await }
    });
    raw.recv().await;
    call.abort();
    let _ = call.await;
    assert_eq!(client.stats().calls_pending, 0);
    // The next thing on the wire is the next call, not a cancel.
    let next = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("next", ()).await }
    });
    assert_eq!(raw.recv().await["method"], "next");
    next.abort();
}

#[tokio::test]
async fn when_the_peer_goes_away_every_pending_call_fails_at_once() {
    let (client, raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call_raw_typed::<_, i64>("x", ()).await })
        })
        .collect();
    // Let every call get onto the wire, then vanish.
    within(async {
        while client.stats().calls_pending < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    drop(raw);
    for call in calls {
        let err = within(call).await.unwrap().unwrap_err();
        assert!(
            matches!(err, CallError::ConnectionClosed(CloseReason::PeerClosed)),
            "{err}"
        );
    }
    assert_eq!(within(client.closed()).await, CloseReason::PeerClosed);
    // New calls fail at once too.
    let err = client.call_raw_typed::<_, i64>("x", ()).await.unwrap_err();
    assert!(err.is_closed());
}

#[tokio::test]
async fn closing_locally_fails_pending_calls_with_the_reason() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, i64>("x", ()).await }
    });
    raw.recv().await;
    client.close();
    let err = within(call).await.unwrap().unwrap_err();
    assert!(
        matches!(err, CallError::ConnectionClosed(CloseReason::Local)),
        "{err}"
    );
    // The raw side sees the connection end.
    assert!(raw.recv_or_eof().await.is_none());
}

#[tokio::test]
async fn error_replies_of_any_json_shape_reach_the_caller() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    for error in [
        json!("unknown method"),
        json!({"error": "syntax error", "details": "bad"}),
        json!({"code": -32000, "message": "m"}),
    ] {
        let call = tokio::spawn({
            let client = client.clone();
            async move { client.call_raw("m", None, None).await }
        });
        let req = raw.recv().await;
        // 1.0 style: `error` set, `result` left out, as ovsdb-server does.
        raw.send_json(json!({"id": req["id"], "error": error}))
            .await;
        match within(call).await.unwrap() {
            Err(CallError::Rpc(raw_error)) => {
                assert_eq!(
                    serde_json::from_str::<Value>(raw_error.get()).unwrap(),
                    error
                )
            }
            other => panic!("expected an Rpc error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_deadline_covers_a_peer_that_never_reads() {
    use jsonrpc_core::{codec::LineCodec, Peer};
    // A tiny pipe the far side never drains, and a one-message outgoing queue:
    // calls soon wait for room, and their deadline must still hold.
    let (ours, _theirs) = tokio::io::duplex(64);
    let config = PeerConfig::default().outgoing_queue(1);
    let client = Peer::new(LineCodec::new()).config(config).spawn(ours);
    let calls = (0..8).map(|_| {
        client.call_raw(
            "x",
            jsonrpc_core::RawJson::from_value(&["y".repeat(100)]).ok(),
            Some(Duration::from_millis(50)),
        )
    });
    for result in within(futures::future::join_all(calls)).await {
        assert!(matches!(result, Err(CallError::Timeout(_))), "{result:?}");
    }
    assert_eq!(client.stats().calls_pending, 0);
}

#[tokio::test]
async fn calls_past_max_pending_calls_wait_for_a_slot() {
    let config = PeerConfig::default().max_pending_calls(2);
    let (client, mut raw) = peer_and_raw(Router::new(), config);
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call_raw_typed::<_, i64>("x", [i]).await })
        })
        .collect();
    let first = raw.recv().await;
    let second = raw.recv().await;
    // The third call is not on the wire while two are pending.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(client.stats().calls_pending, 2);
    assert_eq!(client.stats().calls_sent, 2);
    raw.send_json(json!({"jsonrpc":"2.0","id": first["id"],"result": 0}))
        .await;
    let third = raw.recv().await;
    assert_eq!(third["params"], json!([2]));
    raw.send_json(json!({"jsonrpc":"2.0","id": second["id"],"result": 1}))
        .await;
    raw.send_json(json!({"jsonrpc":"2.0","id": third["id"],"result": 2}))
        .await;
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(within(call).await.unwrap().unwrap(), i as i64);
    }
}
