//! Outgoing batches: `PeerHandle::batch`, sent as one array, replies matched
//! by id whatever order or grouping the peer answers in.

mod support;

use std::time::Duration;

use jsonrpc_core::{CallError, ErrorObject, Method, NotificationMethod, PeerConfig, Router};
use serde_json::{json, Value};
use support::{pair, peer_and_raw, within};

struct Add;
impl Method for Add {
    const NAME: &'static str = "add";
    type Params = (i64, i64);
    type Result = i64;
    type Error = ErrorObject;
}

struct Echo;
impl Method for Echo {
    const NAME: &'static str = "echo";
    type Params = (String,);
    type Result = String;
    type Error = ErrorObject;
}

struct Log;
impl NotificationMethod for Log {
    const NAME: &'static str = "log";
    type Params = (String,);
}

fn server() -> Router {
    let mut router = Router::new();
    router.method_fn("add", |(a, b): (i64, i64), _| async move {
        if a < 0 {
            return Err(ErrorObject::new(-22, "Invalid argument"));
        }
        Ok::<_, ErrorObject>(a + b)
    });
    router.method_fn("echo", |(s,): (String,), _| async move {
        Ok::<_, ErrorObject>(s)
    });
    router
}

#[tokio::test]
async fn a_batch_of_typed_calls_reads_each_reply_by_its_ticket() {
    let (_server, client) = pair(
        server(),
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    within(async {
        let mut batch = client.batch();
        let sum = batch.call::<Add>((1, 2)).unwrap();
        let word = batch.call::<Echo>(("hi".into(),)).unwrap();
        let failed = batch.call::<Add>((-1, 2)).unwrap();
        batch.notify::<Log>(("between".into(),)).unwrap();
        assert_eq!(batch.len(), 4);
        let mut replies = batch.send().await.unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!(replies.get(word).unwrap(), "hi");
        match replies.get(failed) {
            Err(CallError::Rpc(e)) => {
                assert_eq!((e.code, e.message.as_str()), (-22, "Invalid argument"))
            }
            other => panic!("expected the error reply, got {other:?}"),
        }
        assert_eq!(replies.get(sum).unwrap(), 3);
        assert_eq!(client.stats().calls_pending, 0);
    })
    .await;
}

#[tokio::test]
async fn the_batch_goes_out_as_one_array_and_replies_may_come_separately_and_reversed() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    within(async {
        let sending = tokio::spawn(async move {
            let mut batch = client.batch();
            let a = batch.call::<Add>((1, 1)).unwrap();
            let b = batch.call::<Add>((2, 2)).unwrap();
            batch.notify::<Log>(("x".into(),)).unwrap();
            let mut replies = batch.send().await.unwrap();
            (replies.get(a).unwrap(), replies.get(b).unwrap())
        });
        let sent = raw.recv().await;
        let entries = sent.as_array().expect("one JSON array");
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[2],
            json!({"jsonrpc": "2.0", "method": "log", "params": ["x"]})
        );
        let ids: Vec<Value> = entries[..2].iter().map(|e| e["id"].clone()).collect();
        // The second call's reply first, alone; then the first's in an array.
        raw.send_json(json!({"jsonrpc": "2.0", "id": ids[1], "result": 4}))
            .await;
        raw.send_json(json!([{"jsonrpc": "2.0", "id": ids[0], "result": 2}]))
            .await;
        assert_eq!(sending.await.unwrap(), (2, 4));
    })
    .await;
}

#[tokio::test]
async fn a_batch_that_times_out_leaves_no_pending_call() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    within(async {
        let mut batch = client.batch();
        let _a = batch.call::<Add>((1, 1)).unwrap();
        let _b = batch.call::<Add>((2, 2)).unwrap();
        let outcome = batch
            .send_with_timeout(Some(Duration::from_millis(50)))
            .await;
        assert!(
            matches!(outcome, Err(CallError::Timeout(_))),
            "{:?}",
            outcome.err()
        );
        assert_eq!(client.stats().calls_pending, 0);
        // The late replies are dropped and counted, not delivered anywhere.
        let sent = raw.recv().await;
        for entry in sent.as_array().unwrap() {
            raw.send_json(json!({"jsonrpc": "2.0", "id": entry["id"], "result": 0}))
                .await;
        }
        while client.stats().late_replies < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_over_the_outgoing_limit_is_refused_before_sending() {
    let config = PeerConfig::default().max_outgoing_frame(Some(100));
    let (_server, client) = pair(server(), PeerConfig::default(), Router::new(), config);
    within(async {
        let mut batch = client.batch();
        for _ in 0..2 {
            let _ = batch.call::<Echo>(("x".repeat(40),)).unwrap();
        }
        match batch.send().await {
            Err(CallError::TooLarge(e)) => assert_eq!(e.limit, 100),
            other => panic!("expected TooLarge, got {:?}", other.err()),
        }
        assert_eq!(client.stats().calls_pending, 0);
        assert_eq!(client.stats().calls_sent, 0);
        // A single call under the limit still goes.
        assert_eq!(client.call::<Add>((2, 3)).await.unwrap(), 5);
    })
    .await;
}

#[tokio::test]
async fn an_empty_batch_sends_nothing() {
    let (_server, client) = pair(
        server(),
        PeerConfig::default(),
        Router::new(),
        PeerConfig::default(),
    );
    within(async {
        let replies = client.batch().send().await.unwrap();
        assert!(replies.is_empty());
        assert_eq!(client.stats().calls_sent, 0);
    })
    .await;
}

#[tokio::test]
async fn a_batch_larger_than_the_pending_call_limit_still_goes() {
    let config = PeerConfig::default().max_pending_calls(4);
    let (_server, client) = pair(server(), PeerConfig::default(), Router::new(), config);
    within(async {
        let mut batch = client.batch();
        let tickets: Vec<_> = (0..10)
            .map(|i| batch.call::<Add>((i, 1)).unwrap())
            .collect();
        let mut replies = batch.send().await.unwrap();
        for (i, ticket) in tickets.into_iter().enumerate() {
            assert_eq!(replies.get(ticket).unwrap(), i as i64 + 1);
        }
    })
    .await;
}

/// Calls by name with JSON params sit in a batch beside typed ones, each
/// read back by its own ticket.
#[tokio::test]
async fn calls_by_name_with_raw_params_share_a_batch_with_typed_ones() {
    let (client, mut raw) = peer_and_raw(Router::new(), PeerConfig::default());
    within(async {
        let sending = tokio::spawn(async move {
            let mut batch = client.batch();
            let params = jsonrpc_core::RawJson::from_value(&json!({"b": 1})).unwrap();
            let by_name = batch.call_raw("set", Some(params));
            let bare = batch.call_raw("get", None);
            let typed = batch.call::<Add>((1, 1)).unwrap();
            let mut replies = batch.send().await.unwrap();
            (
                replies.get_raw(by_name).unwrap().get().to_owned(),
                replies.get_raw(bare).unwrap_err().to_string(),
                replies.get(typed).unwrap(),
            )
        });
        let sent = raw.recv().await;
        let entries = sent.as_array().expect("one JSON array");
        assert_eq!(entries[0]["method"], "set");
        assert_eq!(entries[0]["params"], json!({"b": 1}));
        assert_eq!(entries[1]["method"], "get");
        assert!(entries[1].get("params").is_none(), "{}", entries[1]);
        raw.send_json(json!([
            {"jsonrpc": "2.0", "id": entries[0]["id"], "result": true},
            {"jsonrpc": "2.0", "id": entries[1]["id"], "error": {"code": -19, "message": "No such device"}},
            {"jsonrpc": "2.0", "id": entries[2]["id"], "result": 2},
        ]))
        .await;
        let (set, get, add) = sending.await.unwrap();
        assert_eq!(set, "true");
        assert!(get.contains("No such device"), "{get}");
        assert_eq!(add, 2);
    })
    .await;
}
