//! Serving a peer's calls: routing errors, panics, ordering, batches,
//! concurrency limits, malformed input, dialects, cancellation and half-close.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{
    CloseReason, DialectMode, ErrorObject, OnInvalid, Peer, PeerConfig, Profile, RequestContext,
    Router, WireCancel,
};
use serde_json::{json, Value};
use support::{pair, peer_and_raw, within};
use tokio::sync::{Barrier, Notify};

fn echo_router() -> Router {
    let mut router = Router::new();
    router.method_fn("echo", |params: Value, _| async move {
        Ok::<_, ErrorObject>(params)
    });
    router.method_fn("add", |(a, b): (i64, i64), _| async move {
        Ok::<_, ErrorObject>(a + b)
    });
    router.method_fn("panic", |_: Value, _| async move {
        if true {
            panic!("boom");
        }
        Ok::<i64, ErrorObject>(0)
    });
    router
}

#[tokio::test]
async fn routing_errors_have_the_standard_codes() {
    let (_server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32601);
    assert_eq!(reply["id"], 1);

    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":["x",1]}"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32602);
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid type"),
        "the reason is given: {message}"
    );
}

#[tokio::test]
async fn a_panicking_handler_gets_internal_error_and_the_connection_lives_on() {
    let (server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"panic","params":[]}"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32603);
    assert!(reply["error"]["message"].as_str().unwrap().contains("boom"));
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[2,3]}"#)
        .await;
    assert_eq!(raw.recv().await["result"], 5);
    assert!(!server.is_closed());
}

#[tokio::test]
async fn notification_handlers_start_in_arrival_order_and_waiting_ones_overlap() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let finished = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let mut router = Router::new();
    {
        let (started, finished) = (started.clone(), finished.clone());
        let (running, most_at_once) = (running.clone(), most_at_once.clone());
        router.method_fn("note", move |(n,): (u64,), _| {
            let (started, finished) = (started.clone(), finished.clone());
            let (running, most_at_once) = (running.clone(), most_at_once.clone());
            async move {
                // Before the first wait: ordered.
                started.lock().unwrap().push(n);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most_at_once.fetch_max(now, Ordering::SeqCst);
                // Yield a varying number of times: the rest runs in a task.
                for _ in 0..(n % 7) {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                finished.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ErrorObject>(())
            }
        });
    }
    let (_server, mut raw) = peer_and_raw(router, PeerConfig::default());
    let mut batch = String::new();
    for n in 0..500u64 {
        batch.push_str(&json!({"jsonrpc":"2.0","method":"note","params":[n]}).to_string());
        batch.push('\n');
    }
    raw.send(batch.trim_end()).await;
    // A request after them: its reply proves the notifications were read.
    raw.send(r#"{"jsonrpc":"2.0","id":"done","method":"nope"}"#)
        .await;
    assert_eq!(raw.recv().await["id"], "done");
    assert_eq!(*started.lock().unwrap(), (0..500).collect::<Vec<_>>());
    within(async {
        while finished.load(Ordering::SeqCst) < 500 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        most_at_once.load(Ordering::SeqCst) > 1,
        "handlers that wait do not hold up the next notification"
    );
}

#[tokio::test]
async fn one_notification_handler_past_the_limit_closes_the_connection() {
    let started = Arc::new(AtomicUsize::new(0));
    let mut router = Router::new();
    {
        let started = started.clone();
        router.notification_fn("wait", move |_: Value, _| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
        });
    }
    let config = PeerConfig::default().max_notification_tasks(2);
    let (server, mut raw) = peer_and_raw(router, config);
    for _ in 0..2 {
        raw.send(r#"{"jsonrpc":"2.0","method":"wait"}"#).await;
    }
    // Two wait in tasks; reading goes on.
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#)
        .await;
    assert_eq!(within(raw.recv()).await["id"], 1);
    // The third would be one too many: the reader does not wait for room
    // (those handlers may wait for replies only it can read); it closes.
    raw.send(r#"{"jsonrpc":"2.0","method":"wait"}"#).await;
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"nope"}"#)
        .await;
    assert_eq!(
        within(server.closed()).await,
        CloseReason::NotificationBacklog(2)
    );
    assert_eq!(started.load(Ordering::SeqCst), 3);
    assert_eq!(
        raw.recv_or_eof().await,
        None,
        "nothing after the close is served"
    );
}

#[tokio::test]
async fn batch_entries_run_concurrently_and_are_answered_in_request_order() {
    const N: usize = 5;
    // Every entry waits until all N run at once: a sequential runner would hang.
    let barrier = Arc::new(Barrier::new(N));
    let mut router = Router::new();
    {
        let barrier = barrier.clone();
        router.method_fn("meet", move |(n,): (u64,), _| {
            let barrier = barrier.clone();
            async move {
                // Finish in reverse order of the requests.
                barrier.wait().await;
                for _ in 0..(10 - n) {
                    tokio::task::yield_now().await;
                }
                Ok::<_, ErrorObject>(n * 10)
            }
        });
    }
    router.method_fn("note", |_: Value, _| async { Ok::<_, ErrorObject>(()) });
    let (_server, mut raw) = peer_and_raw(router, PeerConfig::default());
    let mut batch: Vec<Value> = (0..N as u64)
        .map(|n| json!({"jsonrpc":"2.0","id": n,"method":"meet","params":[n]}))
        .collect();
    batch.insert(2, json!({"jsonrpc":"2.0","method":"note","params":[99]}));
    batch.insert(4, json!({"jsonrpc":"2.0","id":"bad","method":1}));
    raw.send_json(Value::Array(batch)).await;
    let reply = raw.recv().await;
    let ids: Vec<Value> = reply
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    // The notification gets no entry; the invalid entry keeps its place.
    assert_eq!(
        ids,
        vec![
            json!(0),
            json!(1),
            json!(2),
            json!("bad"),
            json!(3),
            json!(4)
        ]
    );
    assert_eq!(reply[1]["result"], 10);
    assert_eq!(reply[3]["error"]["code"], -32600);
}

#[tokio::test]
async fn an_all_notification_batch_gets_no_reply_and_an_empty_batch_is_invalid() {
    let (_server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    raw.send(r#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"echo"}]"#)
        .await;
    raw.send("[]").await;
    let reply = raw.recv().await;
    assert_eq!(
        reply,
        json!({"jsonrpc":"2.0","id":null,"error": reply["error"].clone()})
    );
    assert_eq!(reply["error"]["code"], -32600);
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_refused_at_once() {
    let gate = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let mut router = Router::new();
    {
        let (gate, started) = (gate.clone(), started.clone());
        router.method_fn("block", move |_: Value, _| {
            let (gate, started) = (gate.clone(), started.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                gate.notified().await;
                Ok::<_, ErrorObject>("released")
            }
        });
    }
    let config = PeerConfig::default().max_concurrent_requests(2);
    let (server, mut raw) = peer_and_raw(router, config);
    for id in 0..6 {
        raw.send_json(json!({"jsonrpc":"2.0","id": id,"method":"block"}))
            .await;
    }
    // Two run, the other four are refused at once with -32000.
    let mut refused = Vec::new();
    while refused.len() < 4 {
        let reply = raw.recv().await;
        assert_eq!(reply["error"]["code"], ErrorObject::SERVER_OVERLOADED);
        refused.push(reply["id"].as_u64().unwrap());
    }
    within(async {
        while started.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // Give a third handler every chance to start, were the limit not kept.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(server.stats().requests_in_flight, 2);
    assert_eq!(server.stats().requests_rejected, 4);
    assert_eq!(refused, vec![2, 3, 4, 5]);
    // Release both: the accepted two are answered.
    gate.notify_waiters();
    for _ in 0..2 {
        assert_eq!(within(raw.recv()).await["result"], "released");
    }
    assert_eq!(server.stats().requests_handled, 2);
}

#[tokio::test]
async fn malformed_json_is_answered_with_parse_error_and_reading_goes_on() {
    let (server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    raw.send(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32700);
    assert_eq!(reply["id"], Value::Null);
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]}"#)
        .await;
    assert_eq!(raw.recv().await["result"], 2);
    assert_eq!(server.stats().invalid_received, 1);
}

#[tokio::test]
async fn malformed_json_closes_the_connection_when_so_configured() {
    let config =
        PeerConfig::default().profile(Profile::json_rpc_2().on_parse_error(OnInvalid::Close));
    let (server, mut raw) = peer_and_raw(echo_router(), config);
    raw.send("{not json}").await;
    assert!(raw.recv_or_eof().await.is_none(), "no reply, just a close");
    assert!(matches!(
        within(server.closed()).await,
        CloseReason::Malformed(_)
    ));
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_connection_goes_on() {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let server = Peer::new(LineCodec::new().with_max_frame(1024))
        .router(echo_router())
        .spawn(ours);
    let client = Peer::new(LineCodec::new()).spawn(theirs);
    let big = "x".repeat(10_000);
    // The frame's first bytes name its id: the call fails at once, with
    // the server's -32600, rather than by its (far) deadline.
    let err = within(client.call_raw(
        "echo",
        jsonrpc_core::RawJson::from_value(&[big]).ok(),
        Some(std::time::Duration::from_secs(3600)),
    ))
    .await
    .unwrap_err();
    match err {
        jsonrpc_core::CallError::Rpc(e) => {
            let e: ErrorObject = e.decode().unwrap();
            assert_eq!(e.code, ErrorObject::INVALID_REQUEST);
            assert!(e.message.contains("1024"), "the limit is named: {e}");
        }
        other => panic!("expected the server's -32600, got {other}"),
    }
    // And the connection serves the next call.
    let sum: i64 = within(client.call_raw_typed("add", (2, 2))).await.unwrap();
    assert_eq!(sum, 4);
    assert_eq!(client.stats().late_replies, 0);
    assert_eq!(server.stats().oversized_frames, 1);
}

#[tokio::test]
async fn a_reply_too_large_to_read_fails_its_call_at_once() {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let mut router = echo_router();
    router.method_fn("grow", |(n,): (usize,), _| async move {
        Ok::<_, ErrorObject>("x".repeat(n))
    });
    let _server = Peer::new(LineCodec::new()).router(router).spawn(ours);
    let client = Peer::new(LineCodec::new().with_max_frame(1024)).spawn(theirs);
    let fits: String = within(client.call_raw_typed("grow", (500,))).await.unwrap();
    assert_eq!(fits.len(), 500);
    // No deadline: only the reply's own id can end this call.
    let err = within(client.call_raw(
        "grow",
        jsonrpc_core::RawJson::from_value(&[10_000]).ok(),
        None,
    ))
    .await
    .unwrap_err();
    match err {
        jsonrpc_core::CallError::InvalidReply(why) => {
            assert!(why.contains("1024"), "the limit is named: {why}")
        }
        other => panic!("expected the call to fail for its oversized reply, got {other}"),
    }
    assert_eq!(client.stats().oversized_frames, 1);
    let sum: i64 = within(client.call_raw_typed("add", (2, 2))).await.unwrap();
    assert_eq!(sum, 4);
}

#[tokio::test]
async fn json_rpc_1_0_requests_get_1_0_replies_and_null_id_is_a_notification() {
    let notes = Arc::new(AtomicUsize::new(0));
    let mut router = echo_router();
    {
        let notes = notes.clone();
        router.method_fn("note", move |_: Value, _| {
            let notes = notes.clone();
            async move {
                notes.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ErrorObject>(())
            }
        });
    }
    // Both dialects on one connection.
    let config = PeerConfig::default().dialect(DialectMode::Detect);
    let (_server, mut raw) = peer_and_raw(router, config);
    raw.send(r#"{"id":null,"method":"note","params":[]}"#).await;
    raw.send(r#"{"id":"a","method":"echo","params":[1]}"#).await;
    assert_eq!(
        raw.recv().await,
        json!({"id":"a","result":[1],"error":null})
    );
    raw.send(r#"{"jsonrpc":"2.0","id":"b","method":"echo","params":[2]}"#)
        .await;
    assert_eq!(
        raw.recv().await,
        json!({"jsonrpc":"2.0","id":"b","result":[2]})
    );
    raw.send(r#"{"id":"c","method":"nope","params":[]}"#).await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32601);
    assert!(reply.get("jsonrpc").is_none() && reply.get("result").is_none());
    assert_eq!(notes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_v1_only_connection_refuses_the_jsonrpc_member() {
    let config = PeerConfig::default().dialect(DialectMode::V1);
    let (_server, mut raw) = peer_and_raw(echo_router(), config);
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[]}"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["error"]["code"], -32600);
    assert_eq!(reply["id"], 1);
    assert!(reply.get("jsonrpc").is_none());
}

#[tokio::test]
async fn ids_are_echoed_exactly_as_sent() {
    // Read raw lines: a parsed value would hide the difference.
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let _server = Peer::new(LineCodec::new())
        .router(echo_router())
        .spawn(ours);
    let (r, mut w) = tokio::io::split(theirs);
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut lines = tokio::io::BufReader::new(r).lines();
    for id in [
        "1e3",
        "-0",
        "123456789012345678901234567890",
        "\"\\u00e9\"",
        "1.50",
    ] {
        w.write_all(
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"echo\",\"params\":[]}}\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let line = within(lines.next_line()).await.unwrap().unwrap();
        assert_eq!(
            line,
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":[]}}")
        );
    }
}

#[tokio::test]
async fn closing_the_connection_cancels_running_handlers() {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (saw_tx, saw_rx) = tokio::sync::oneshot::channel::<()>();
    let slots = Arc::new(Mutex::new((Some(started_tx), Some(saw_tx))));
    let mut router = Router::new();
    router.method_fn("wait", move |_: Value, ctx: RequestContext| {
        let slots = slots.clone();
        async move {
            let (started, saw) = {
                let mut s = slots.lock().unwrap();
                (s.0.take(), s.1.take())
            };
            let _ = started.unwrap().send(());
            ctx.cancelled().await;
            let _ = saw.unwrap().send(());
            // Never answer: the caller must learn of the close, not of a reply.
            std::future::pending::<Result<(), ErrorObject>>().await
        }
    });
    let (server, client) = pair(
        router,
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_raw_typed::<_, ()>("wait", ()).await }
    });
    within(started_rx).await.unwrap();
    server.close();
    within(saw_rx)
        .await
        .expect("the handler saw its token fire");
    assert!(within(call).await.unwrap().unwrap_err().is_closed());
}

#[tokio::test]
async fn a_wire_cancel_from_the_peer_cancels_that_handler() {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started = Arc::new(Mutex::new(Some(started_tx)));
    let mut router = Router::new();
    router.method_fn("wait", move |_: Value, ctx: RequestContext| {
        let started = started.clone();
        async move {
            let tx = started.lock().unwrap().take();
            let _ = tx.unwrap().send(());
            ctx.cancelled().await;
            Err::<(), _>(ErrorObject::new(
                ErrorObject::REQUEST_CANCELLED,
                "cancelled",
            ))
        }
    });
    let config = PeerConfig::default().wire_cancel(Some(WireCancel::lsp()));
    let (server, mut raw) = peer_and_raw(router, config);
    raw.send(r#"{"jsonrpc":"2.0","id":7,"method":"wait"}"#)
        .await;
    within(started_rx).await.unwrap();
    raw.send(r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":7}}"#)
        .await;
    let reply = raw.recv().await;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], ErrorObject::REQUEST_CANCELLED);
    assert_eq!(server.stats().cancels_received, 1);
}

#[tokio::test]
async fn after_the_peer_half_closes_every_request_is_still_answered() {
    let (server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    for i in 0..20 {
        raw.send_json(json!({"jsonrpc":"2.0","id": i,"method":"add","params":[i, 1]}))
            .await;
    }
    raw.shutdown_write().await;
    let mut ids = Vec::new();
    while let Some(reply) = raw.recv_or_eof().await {
        assert_eq!(reply["result"], reply["id"].as_i64().unwrap() + 1);
        ids.push(reply["id"].as_i64().unwrap());
    }
    ids.sort();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    assert_eq!(within(server.closed()).await, CloseReason::PeerClosed);
}

#[tokio::test]
async fn both_sides_call_each_other_with_separate_id_spaces() {
    // The server's handler calls back into the client before answering; both
    // sides number their calls from 0, so the ids collide on purpose.
    let mut server_router = Router::new();
    server_router.method_fn("outer", |(n,): (i64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("served on a connection").clone();
        let inner: i64 = peer
            .call_raw_typed("inner", (n,))
            .await
            .map_err(ErrorObject::internal_error)?;
        Ok::<_, ErrorObject>(inner + 1)
    });
    let mut client_router = Router::new();
    client_router.method_fn("inner", |(n,): (i64,), _| async move {
        Ok::<_, ErrorObject>(n * 100)
    });
    let (server, client) = pair(
        server_router,
        PeerConfig::default(),
        client_router,
        PeerConfig::default(),
    );
    let results =
        futures::future::join_all((0..50).map(|n| client.call_raw_typed::<_, i64>("outer", (n,))))
            .await;
    for (n, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), n as i64 * 100 + 1);
    }
    assert_eq!(server.stats().calls_sent, 50);
    assert_eq!(client.stats().requests_handled, 50);
}

#[tokio::test]
async fn a_batch_entry_without_jsonrpc_is_answered_in_2_0_when_detecting() {
    // Only 2.0 has batches, so even a detecting connection answers 2.0 here.
    let (_server, mut raw) = peer_and_raw(echo_router(), PeerConfig::default());
    raw.send(r#"[{"foo":"boo"}]"#).await;
    let reply = raw.recv().await;
    assert_eq!(reply[0]["jsonrpc"], "2.0");
    assert_eq!(reply[0]["error"]["code"], -32600);
}

#[tokio::test]
async fn closures_serve_notifications() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut router = Router::new();
    router.notification_fn("note", move |(text,): (String,), _| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(text);
        }
    });
    let (_server, mut raw) = peer_and_raw(router, PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","method":"note","params":["hi"]}"#)
        .await;
    assert_eq!(within(rx.recv()).await.as_deref(), Some("hi"));
}

#[tokio::test]
async fn priority_methods_are_answered_while_every_slot_is_busy() {
    let gate = Arc::new(Notify::new());
    let mut router = echo_router();
    {
        let gate = gate.clone();
        router.method_fn("block", move |_: Value, _| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Ok::<_, ErrorObject>(())
            }
        });
    }
    let config = PeerConfig::default()
        .dialect(DialectMode::Detect)
        .max_concurrent_requests(1)
        .priority_methods(vec!["echo".into()]);
    let (server, mut raw) = peer_and_raw(router, config);
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"block"}"#)
        .await;
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[1,2]}"#)
        .await;
    raw.send(r#"{"id":"echo","method":"echo","params":[]}"#)
        .await;
    // The ordinary request is refused, the probe answered, both at once.
    let mut replies = [raw.recv().await, raw.recv().await];
    replies.sort_by_key(|r| r["id"].is_string());
    assert_eq!(replies[0]["id"], 2);
    assert_eq!(replies[0]["error"]["code"], ErrorObject::SERVER_OVERLOADED);
    assert_eq!(replies[1], json!({"id":"echo","result":[],"error":null}));
    assert_eq!(server.stats().requests_in_flight, 1);
    gate.notify_waiters();
    assert_eq!(raw.recv().await["id"], 1);
}

#[tokio::test]
async fn a_detecting_peer_calls_back_in_the_dialect_the_other_side_speaks() {
    let mut router = Router::new();
    router.method_fn("ask", |_: Value, ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection").clone();
        let answer: String = peer
            .call_raw_typed("question", ())
            .await
            .map_err(ErrorObject::internal_error)?;
        Ok::<_, ErrorObject>(answer)
    });
    let config = PeerConfig::default().dialect(DialectMode::Detect);
    let (_server, mut raw) = peer_and_raw(router, config);
    raw.send(r#"{"id":1,"method":"ask","params":[]}"#).await;
    let question = raw.recv().await;
    // 1.0, as the caller spoke: no `jsonrpc`, params an array.
    assert!(question.get("jsonrpc").is_none(), "{question}");
    assert_eq!(question["params"], json!([]));
    raw.send_json(json!({"id": question["id"], "result": "42", "error": null}))
        .await;
    assert_eq!(raw.recv().await, json!({"id":1,"result":"42","error":null}));
}

#[tokio::test]
async fn a_reply_too_large_for_the_frame_limit_becomes_an_error_on_every_lane() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut router = Router::new();
    router.method_fn("grow", |(n,): (usize,), _| async move {
        Ok::<_, ErrorObject>("x".repeat(n))
    });
    let config = PeerConfig::default().priority_methods(vec!["grow_now".into()]);
    router.method_fn("grow_now", |(n,): (usize,), _| async move {
        Ok::<_, ErrorObject>("x".repeat(n))
    });
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let _server = Peer::new(LineCodec::new().with_max_frame(512))
        .router(router)
        .config(config)
        .spawn(ours);
    let (r, mut w) = tokio::io::split(theirs);
    let mut lines = tokio::io::BufReader::new(r).lines();
    // An ordinary reply, a priority reply, and a batch reply, each too large.
    for request in [
        r#"{"jsonrpc":"2.0","id":1,"method":"grow","params":[2000]}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"grow_now","params":[2000]}"#,
        r#"[{"jsonrpc":"2.0","id":3,"method":"grow","params":[300]},{"jsonrpc":"2.0","id":4,"method":"grow","params":[300]}]"#,
    ] {
        w.write_all(format!("{request}\n").as_bytes())
            .await
            .unwrap();
        let line = within(lines.next_line()).await.unwrap().unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        let replies = match reply {
            Value::Array(items) => items,
            one => vec![one],
        };
        for reply in replies {
            assert_eq!(
                reply["error"]["code"],
                ErrorObject::INTERNAL_ERROR,
                "{reply}"
            );
            assert!(reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("frame limit"));
        }
    }
}

#[tokio::test]
async fn a_handler_that_waits_leaves_the_reader_free_whether_or_not_it_starts_inline() {
    for inline in [true, false] {
        let gate = Arc::new(Notify::new());
        let mut router = echo_router();
        let (wait, open) = (gate.clone(), gate.clone());
        router.method_fn("wait", move |_: Value, _| {
            let gate = wait.clone();
            async move {
                gate.notified().await;
                Ok::<_, ErrorObject>("released")
            }
        });
        router.method_fn("open", move |_: Value, _| {
            open.notify_one();
            async { Ok::<_, ErrorObject>("opened") }
        });
        let config = PeerConfig::default().inline_handlers(inline);
        let (_server, mut raw) = peer_and_raw(router, config);
        // `open` is only read if `wait` is not holding the reader.
        raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"wait","params":[]}"#)
            .await;
        raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"open","params":[]}"#)
            .await;
        let mut replies = [within(raw.recv()).await, within(raw.recv()).await];
        replies.sort_by_key(|r| r["id"].as_u64());
        assert_eq!(replies[0]["result"], "released", "inline: {inline}");
        assert_eq!(replies[1]["result"], "opened", "inline: {inline}");
        // A panic before the first wait is caught either way.
        raw.send(r#"{"jsonrpc":"2.0","id":3,"method":"panic","params":[]}"#)
            .await;
        assert_eq!(
            within(raw.recv()).await["error"]["code"],
            -32603,
            "inline: {inline}"
        );
    }
}

#[tokio::test]
async fn a_handler_that_panics_before_making_its_future_gets_internal_error() {
    let mut router = echo_router();
    router.method_fn("early", |_: Value, _| {
        if true {
            panic!("before any future");
        }
        async { Ok::<i64, ErrorObject>(0) }
    });
    for inline in [true, false] {
        let config = PeerConfig::default().inline_handlers(inline);
        let (server, mut raw) = peer_and_raw(router.clone(), config);
        raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"early","params":[]}"#)
            .await;
        let reply = within(raw.recv()).await;
        assert_eq!(reply["error"]["code"], -32603, "inline: {inline}");
        assert!(reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("before any future"));
        // The reader, which made that future, is still reading.
        raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[2,3]}"#)
            .await;
        assert_eq!(within(raw.recv()).await["result"], 5);
        assert!(!server.is_closed());
    }
}

/// A result that cannot be written: its `Serialize` fails or panics. Results
/// are serialized straight into the reply, on the connection, after the
/// handler has finished.
struct Unwritable {
    panics: bool,
}

impl serde::Serialize for Unwritable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.panics {
            panic!("serialize blew up");
        }
        use serde::ser::SerializeSeq;
        // Part of a value is written before it fails: none of it may go out.
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&1)?;
        Err(serde::ser::Error::custom("no way to write this"))
    }
}

#[tokio::test]
async fn a_result_that_cannot_be_serialized_gets_internal_error_and_nothing_of_it_is_sent() {
    let mut router = echo_router();
    router.method_fn("fails", |_: Value, _| async {
        Ok::<_, ErrorObject>(Unwritable { panics: false })
    });
    router.method_fn("panics", |_: Value, _| async {
        Ok::<_, ErrorObject>(Unwritable { panics: true })
    });
    for inline in [true, false] {
        let config = PeerConfig::default().inline_handlers(inline);
        let (server, mut raw) = peer_and_raw(router.clone(), config);
        raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"fails"}"#)
            .await;
        let reply = within(raw.recv()).await;
        assert_eq!(reply["id"], 1, "inline: {inline}");
        assert_eq!(reply["error"]["code"], -32603);
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("no way to write this"), "{message}");
        assert!(reply.get("result").is_none(), "no partial result: {reply}");

        raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"panics"}"#)
            .await;
        let reply = within(raw.recv()).await;
        assert_eq!(reply["id"], 2);
        assert_eq!(reply["error"]["code"], -32603);
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("serialize blew up"), "{message}");

        // In a batch, the failed entry is answered in its place, the others as usual.
        raw.send(concat!(
            r#"[{"jsonrpc":"2.0","id":3,"method":"add","params":[1,2]},"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"fails"},"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"panics"},"#,
            r#"{"jsonrpc":"2.0","id":6,"method":"add","params":[3,4]}]"#
        ))
        .await;
        let batch = within(raw.recv()).await;
        assert_eq!(batch[0]["result"], 3);
        assert_eq!(batch[1]["id"], 4);
        assert_eq!(batch[1]["error"]["code"], -32603);
        assert_eq!(batch[2]["id"], 5);
        assert_eq!(batch[2]["error"]["code"], -32603);
        assert_eq!(batch[3]["result"], 7);

        raw.send(r#"{"jsonrpc":"2.0","id":7,"method":"add","params":[2,3]}"#)
            .await;
        assert_eq!(within(raw.recv()).await["result"], 5);
        assert!(!server.is_closed());
    }

    // Without a connection, `Router::handle` says the same.
    let req = jsonrpc_core::Request::new(8u64, "fails", None, jsonrpc_core::Dialect::V2);
    let ctx = RequestContext::detached(Some(8u64.into()), jsonrpc_core::Dialect::V2);
    let resp = router.handle(req, ctx).await;
    let error: Value = serde_json::from_str(resp.outcome.unwrap_err().get()).unwrap();
    assert_eq!(error["code"], -32603);
}

/// A result whose `Drop` panics.
struct Bomb;

impl serde::Serialize for Bomb {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("dropping the result blew up");
        }
    }
}

#[tokio::test]
async fn a_result_that_panics_when_dropped_ends_neither_a_request_nor_later_notifications() {
    let counted = Arc::new(AtomicUsize::new(0));
    let mut router = echo_router();
    router.method_fn("bomb", |_: Value, _| async { Ok::<_, ErrorObject>(Bomb) });
    {
        let counted = counted.clone();
        router.notification_fn("count", move |_: Value, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
    }
    let (server, mut raw) = peer_and_raw(router, PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"bomb"}"#)
        .await;
    let reply = within(raw.recv()).await;
    assert_eq!(reply["error"]["code"], -32603);
    // Called as a notification, its result is dropped on the notification
    // runner: the ones after it still run.
    raw.send(r#"{"jsonrpc":"2.0","method":"bomb"}"#).await;
    raw.send(r#"{"jsonrpc":"2.0","method":"count"}"#).await;
    raw.send(r#"{"jsonrpc":"2.0","method":"count"}"#).await;
    within(async {
        while counted.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[2,3]}"#)
        .await;
    assert_eq!(within(raw.recv()).await["result"], 5);
    assert!(!server.is_closed());
}

/// A result that panics when written and again when dropped.
struct DoubleBomb;

impl serde::Serialize for DoubleBomb {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize blew up");
    }
}

impl Drop for DoubleBomb {
    fn drop(&mut self) {
        panic!("drop blew up too");
    }
}

#[tokio::test]
async fn a_result_that_panics_when_written_and_when_dropped_does_not_abort() {
    let mut router = echo_router();
    router.method_fn("double", |_: Value, _| async {
        Ok::<_, ErrorObject>(DoubleBomb)
    });
    let (server, mut raw) = peer_and_raw(router, PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"double"}"#)
        .await;
    let reply = within(raw.recv()).await;
    assert_eq!(reply["error"]["code"], -32603);
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[2,3]}"#)
        .await;
    assert_eq!(within(raw.recv()).await["result"], 5);
    assert!(!server.is_closed());
}

#[tokio::test]
async fn a_handler_can_wrap_another_and_await_its_result() {
    use jsonrpc_core::router::{HandlerCall, HandlerError, MethodHandler};
    use jsonrpc_core::{RawJson, RawParams};

    /// Wraps the result of the handler it holds as `{"wrapped": result}`.
    struct Wrap<H>(H);
    struct Inner;
    impl MethodHandler for Inner {
        fn call(&self, params: RawParams, _: RequestContext) -> HandlerCall {
            HandlerCall::new(async move {
                let (a, b): (i64, i64) = params
                    .map(|p| p.decode())
                    .transpose()
                    .map_err(ErrorObject::invalid_params)?
                    .unwrap_or_default();
                Ok::<_, HandlerError>(a * b)
            })
        }
    }
    impl<H: MethodHandler> MethodHandler for Wrap<H> {
        fn call(&self, params: RawParams, ctx: RequestContext) -> HandlerCall {
            let inner = self.0.call(params, ctx);
            HandlerCall::new(async move {
                let result: RawJson = inner.await?;
                Ok::<_, HandlerError>(serde_json::json!({ "wrapped": result }))
            })
        }
    }
    let mut router = Router::new();
    router.raw_method("mul", Wrap(Inner));
    let (_server, mut raw) = peer_and_raw(router, PeerConfig::default());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"mul","params":[6,7]}"#)
        .await;
    assert_eq!(within(raw.recv()).await["result"]["wrapped"], 42);
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"mul","params":["x"]}"#)
        .await;
    assert_eq!(within(raw.recv()).await["error"]["code"], -32602);
}

#[tokio::test]
async fn a_batch_past_max_batch_is_refused_whole_and_one_at_the_limit_is_served() {
    let config = PeerConfig::default().max_batch(3);
    let (server, mut raw) = peer_and_raw(echo_router(), config);
    let entry =
        |id: u64| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"add","params":[{id},1]}}"#);
    let batch = |n: u64| format!("[{}]", (1..=n).map(entry).collect::<Vec<_>>().join(","));
    raw.send(&batch(4)).await;
    let refused = within(raw.recv()).await;
    assert_eq!(refused["error"]["code"], -32600);
    assert_eq!(refused["id"], Value::Null);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("a batch of 4 entries exceeds max_batch (3)"),
        "{message}"
    );
    raw.send(&batch(3)).await;
    let served = within(raw.recv()).await;
    assert_eq!(served.as_array().map(Vec::len), Some(3));
    assert_eq!(served[2]["result"], 4);
    assert!(!server.is_closed());
}
