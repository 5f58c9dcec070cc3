//! Arrival order on one connection, and that keeping it never wedges.
//!
//! The guarantee under test (see `Peer`): messages take effect in the order
//! they arrived. A handler is started on the reader, and what it does before
//! it first has to wait has happened before the next message is handled and
//! before a later reply reaches its caller. Each handler here applies its
//! effect first and then does async work (yields, calls the other side),
//! as the design allows: that part runs in a task of its own.
//!
//! Every ordering is checked 10,000 times under both runtimes.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jsonrpc_core::{ErrorObject, PeerConfig, RequestContext, Router};
use serde_json::json;
use support::{pair, peer_and_raw, within};

const ROUNDS: u64 = 10_000;

/// Runs one async test body on a current-thread runtime and on a
/// multi-thread one.
macro_rules! on_both_runtimes {
    ($current:ident, $multi:ident, $body:ident) => {
        #[tokio::test(flavor = "current_thread")]
        async fn $current() {
            $body().await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $multi() {
            $body().await
        }
    };
}

/// A server whose `transact` pushes `update` (params `[n]`) to its caller
/// and then replies `n`: on the wire, the update comes first.
fn pushing_server() -> Router {
    let mut router = Router::new();
    router.method_fn("transact", |(n,): (u64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection").clone();
        peer.notify_raw("update", jsonrpc_core::RawJson::from_value(&[n]).ok())
            .await
            .map_err(ErrorObject::internal_error)?;
        Ok::<_, ErrorObject>(n)
    });
    router
}

/// A client whose `update` handler records `n`, then yields: the yield and
/// everything after it run in a task of their own.
fn recording_client(applied: Arc<AtomicU64>) -> Router {
    let mut router = Router::new();
    router.notification_fn("update", move |(n,): (u64,), _| {
        let applied = applied.clone();
        async move {
            applied.store(n, Ordering::SeqCst);
            tokio::task::yield_now().await;
        }
    });
    router
}

async fn an_update_is_applied_before_the_reply_that_follows_it() {
    let applied = Arc::new(AtomicU64::new(u64::MAX));
    let (_server, client) = pair(
        pushing_server(),
        PeerConfig::default(),
        recording_client(applied.clone()),
        PeerConfig::default(),
    );
    let mut wrong = 0;
    for n in 0..ROUNDS {
        let reply: u64 = within(client.call_raw_typed("transact", (n,)))
            .await
            .unwrap();
        assert_eq!(reply, n);
        if applied.load(Ordering::SeqCst) != n {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "replies that overtook their update, of {ROUNDS}");
}

on_both_runtimes!(
    update_before_reply_current_thread,
    update_before_reply_multi_thread,
    an_update_is_applied_before_the_reply_that_follows_it
);

/// A server where `set` (a notification) stores a value, then yields, and
/// `get` (a request) reads it.
fn store_server(value: Arc<AtomicU64>) -> Router {
    let mut router = Router::new();
    {
        let value = value.clone();
        router.notification_fn("set", move |(n,): (u64,), _| {
            let value = value.clone();
            async move {
                value.store(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
    }
    router.method_fn("get", move |_: (), _| {
        let seen = value.load(Ordering::SeqCst);
        async move {
            tokio::task::yield_now().await;
            Ok::<_, ErrorObject>(seen)
        }
    });
    router
}

async fn a_request_sees_the_notification_before_it() {
    let value = Arc::new(AtomicU64::new(u64::MAX));
    let (_server, client) = pair(
        store_server(value),
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    let mut wrong = 0;
    for n in 0..ROUNDS {
        client
            .notify_raw("set", jsonrpc_core::RawJson::from_value(&[n]).ok())
            .await
            .unwrap();
        let seen: u64 = within(client.call_raw_typed("get", ())).await.unwrap();
        if seen != n {
            wrong += 1;
        }
    }
    assert_eq!(
        wrong, 0,
        "requests that ran before the notification sent ahead of them, of {ROUNDS}"
    );
}

on_both_runtimes!(
    notification_before_request_current_thread,
    notification_before_request_multi_thread,
    a_request_sees_the_notification_before_it
);

/// Requests and notifications written back to back, in one stream: every
/// handler records its number before it first waits, and the records come
/// out in the order of the stream.
async fn handlers_start_in_arrival_order() {
    let order = Arc::new(Mutex::new(Vec::with_capacity(ROUNDS as usize)));
    let mut router = Router::new();
    {
        let order = order.clone();
        router.method_fn("req", move |(n,): (u64,), _| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(n);
                tokio::task::yield_now().await;
                Ok::<_, ErrorObject>(n)
            }
        });
    }
    {
        let order = order.clone();
        router.notification_fn("note", move |(n,): (u64,), _| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(n);
                tokio::task::yield_now().await;
            }
        });
    }
    // Room for them all: this is about order, not limits.
    let config = PeerConfig::default().max_concurrent_requests(ROUNDS as usize);
    let (_server, mut raw) = peer_and_raw(router, config);
    let mut requests = 0;
    // Written in chunks, so that many messages wait in one read.
    let mut chunk = String::new();
    for n in 0..ROUNDS {
        let message = if n % 3 == 0 {
            json!({"jsonrpc": "2.0", "method": "note", "params": [n]})
        } else {
            requests += 1;
            json!({"jsonrpc": "2.0", "id": n, "method": "req", "params": [n]})
        };
        chunk.push_str(&message.to_string());
        chunk.push('\n');
        if n % 100 == 99 {
            raw.send(chunk.trim_end()).await;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        raw.send(chunk.trim_end()).await;
    }
    for _ in 0..requests {
        let reply = raw.recv().await;
        assert!(reply["result"].is_u64(), "{reply}");
    }
    let order = order.lock().unwrap();
    let out_of_order = order.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(order.len() as u64, ROUNDS);
    assert_eq!(out_of_order, 0, "handlers started out of arrival order");
}

on_both_runtimes!(
    arrival_order_current_thread,
    arrival_order_multi_thread,
    handlers_start_in_arrival_order
);

/// The no-wedge half of the guarantee: a notification handler that awaits a
/// call to the very peer that sent it, and a request handler that does the
/// same (`ask` asks the client back), both finish; the connection keeps
/// serving.
async fn a_handler_awaiting_the_same_peer_does_not_wedge_the_connection() {
    let mut server = pushing_server();
    server.method_fn(
        "ack",
        |(n,): (u64,), _| async move { Ok::<_, ErrorObject>(n) },
    );
    server.method_fn("ask", |(n,): (u64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection").clone();
        peer.call_raw_typed::<_, u64>("confirm", (n,))
            .await
            .map_err(ErrorObject::internal_error)
    });
    let acked = Arc::new(AtomicU64::new(0));
    let mut client = Router::new();
    client.method_fn("confirm", |(n,): (u64,), _| async move {
        Ok::<_, ErrorObject>(n + 1)
    });
    {
        let acked = acked.clone();
        client.notification_fn("update", move |(n,): (u64,), ctx: RequestContext| {
            let acked = acked.clone();
            async move {
                let peer = ctx.peer().expect("on a connection");
                let echoed: u64 = peer.call_raw_typed("ack", (n,)).await.unwrap();
                assert_eq!(echoed, n);
                acked.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let (_server, client) = pair(server, PeerConfig::default(), client, PeerConfig::default());
    for n in 0..ROUNDS {
        let reply: u64 = within(client.call_raw_typed("transact", (n,)))
            .await
            .unwrap();
        assert_eq!(reply, n);
        let asked: u64 = within(client.call_raw_typed("ask", (n,))).await.unwrap();
        assert_eq!(asked, n + 1);
    }
    within(async {
        while acked.load(Ordering::SeqCst) < ROUNDS {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

on_both_runtimes!(
    no_wedge_current_thread,
    no_wedge_multi_thread,
    a_handler_awaiting_the_same_peer_does_not_wedge_the_connection
);

/// Past the notification-task limit, with every waiting handler waiting for
/// a reply the reader would have to read: the connection closes (its calls
/// fail) instead of wedging.
async fn past_the_limit_handlers_awaiting_the_peer_close_rather_than_wedge() {
    // The server never answers `ack`: each update's handler waits for good.
    let mut server = Router::new();
    server.method_fn("ack", |_: (u64,), _| async {
        std::future::pending::<Result<u64, ErrorObject>>().await
    });
    let mut client = Router::new();
    client.notification_fn("update", |(n,): (u64,), ctx: RequestContext| async move {
        let peer = ctx.peer().expect("on a connection");
        let _ = peer.call_raw_typed::<_, u64>("ack", (n,)).await;
    });
    let limit = 4;
    let (server, client) = pair(
        server,
        PeerConfig::default(),
        client,
        PeerConfig::default().max_notification_tasks(limit),
    );
    for n in 0..=limit {
        let params = jsonrpc_core::RawJson::from_value(&[n]).ok();
        server.notify_raw("update", params).await.unwrap();
    }
    assert_eq!(
        within(client.closed()).await,
        jsonrpc_core::CloseReason::NotificationBacklog(limit)
    );
}

on_both_runtimes!(
    past_the_limit_current_thread,
    past_the_limit_multi_thread,
    past_the_limit_handlers_awaiting_the_peer_close_rather_than_wedge
);
