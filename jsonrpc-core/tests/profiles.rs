//! Each shipped profile against the wire facts recorded from the real
//! servers (`OVSDB-WIRE.md`, `SPDK-WIRE.md`): bytes in, bytes out.
//!
//! The raw side writes each message on a line and reads the peer's replies
//! line by line, exactly as written.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jsonrpc_core::{CloseReason, ErrorObject, PeerConfig, PeerHandle, Profile, Router};
use serde_json::Value;
use support::{peer_and_raw, within, RawSide};

/// `ok` answers 1 and counts its runs; `strict` fails with its own -32602;
/// `typed` wants one integer.
fn router(runs: &Arc<AtomicUsize>) -> Router {
    let mut router = Router::new();
    let runs = runs.clone();
    router.method_fn("ok", move |_: Value, _| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, ErrorObject>(1) }
    });
    router.method_fn("strict", |_: Value, _| async {
        Err::<(), _>(ErrorObject::new(-32602, "requires no parameters"))
    });
    router.method_fn(
        "typed",
        |(n,): (i64,), _| async move { Ok::<_, ErrorObject>(n) },
    );
    router
}

fn start(profile: Profile) -> (PeerHandle, RawSide, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let (peer, raw) = peer_and_raw(router(&runs), PeerConfig::default().profile(profile));
    (peer, raw, runs)
}

/// Sends `input` and expects exactly `output` back.
async fn exchange(raw: &mut RawSide, input: &str, output: &str) {
    raw.send(input).await;
    assert_eq!(raw.recv_text().await, output, "in reply to {input}");
}

/// Sends `input`, then a probe request: the probe's reply comes first, so
/// `input` got no reply.
async fn no_reply(raw: &mut RawSide, input: &str, probe: &str, probe_reply: &str) {
    raw.send(input).await;
    exchange(raw, probe, probe_reply).await;
}

#[tokio::test]
async fn spdk() {
    let (_peer, mut raw, runs) = start(Profile::spdk());
    let probe = r#"{"jsonrpc":"2.0","id":"p","method":"ok"}"#;
    let probe_reply = r#"{"jsonrpc":"2.0","id":"p","result":1}"#;
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":1,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":1}"#,
    )
    .await;
    // `jsonrpc` is optional.
    exchange(
        &mut raw,
        r#"{"id":2,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":2,"result":1}"#,
    )
    .await;
    // A null id is a notification: it runs, and success gets no reply.
    let before = runs.load(Ordering::SeqCst);
    no_reply(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":null,"method":"ok"}"#,
        probe,
        probe_reply,
    )
    .await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        before + 2,
        "the notification ran"
    );
    // A failed notification is answered, with id null.
    let not_found =
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found"}}"#;
    exchange(&mut raw, r#"{"jsonrpc":"2.0","method":"nope"}"#, not_found).await;
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":null,"method":"nope"}"#,
        not_found,
    )
    .await;
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":3,"method":"nope"}"#,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found"}}"#,
    )
    .await;
    // Invalid requests: -32600 with id null, whatever id they carried.
    let invalid =
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;
    for input in [
        r#"{"jsonrpc":"1.0","id":4,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"ok","extra":1}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"ok","params":"x"}"#,
    ] {
        exchange(&mut raw, input, invalid).await;
    }
    // The framework's -32602 has SPDK's text; a handler's own keeps its own.
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":7,"method":"typed","params":["x"]}"#,
        r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"Invalid parameters"}}"#,
    )
    .await;
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":8,"method":"strict"}"#,
        r#"{"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"requires no parameters"}}"#,
    )
    .await;
    // Batches: notifications are left out of the reply.
    exchange(&mut raw, r#"[{"jsonrpc":"2.0","id":9,"method":"ok"},{"jsonrpc":"2.0","method":"ok"},{"jsonrpc":"2.0","id":null,"method":"ok"}]"#, r#"[{"jsonrpc":"2.0","id":9,"result":1}]"#).await;
}

#[tokio::test]
async fn spdk_closes_on_malformed_json_without_a_reply() {
    let (peer, mut raw, _) = start(Profile::spdk());
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":}"#).await;
    assert_eq!(raw.recv_or_eof().await, None, "no reply, just a close");
    assert!(matches!(
        within(peer.closed()).await,
        CloseReason::Malformed(_)
    ));
}

#[tokio::test]
async fn ovsdb() {
    let (_peer, mut raw, runs) = start(Profile::ovsdb());
    let probe = r#"{"id":"p","method":"ok","params":[]}"#;
    let probe_reply = r#"{"id":"p","result":1,"error":null}"#;
    // Success carries `"error": null`; errors omit `result`.
    exchange(
        &mut raw,
        r#"{"id":1,"method":"ok","params":[]}"#,
        r#"{"id":1,"result":1,"error":null}"#,
    )
    .await;
    exchange(
        &mut raw,
        r#"{"id":12,"method":"nope","params":[]}"#,
        r#"{"id":12,"error":"unknown method"}"#,
    )
    .await;
    // A null id is a notification, and a method called so does not run.
    let before = runs.load(Ordering::SeqCst);
    no_reply(
        &mut raw,
        r#"{"id":null,"method":"ok","params":[]}"#,
        probe,
        probe_reply,
    )
    .await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        before + 1,
        "only the probe ran"
    );
    // Unknown methods as notifications are not answered either.
    no_reply(
        &mut raw,
        r#"{"id":null,"method":"nope","params":[]}"#,
        probe,
        probe_reply,
    )
    .await;
    // Bad params: OVSDB's error object; a handler's own error as it made it.
    let reply: Value = serde_json::from_str(&{
        raw.send(r#"{"id":2,"method":"typed","params":["x"]}"#)
            .await;
        raw.recv_text().await
    })
    .unwrap();
    assert_eq!(reply["id"], 2);
    assert_eq!(reply["error"]["error"], "syntax error");
    assert!(
        reply["error"]["details"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{reply}"
    );
    exchange(
        &mut raw,
        r#"{"id":3,"method":"strict","params":[]}"#,
        r#"{"id":3,"error":{"code":-32602,"message":"requires no parameters"}}"#,
    )
    .await;
}

/// What ovsdb-server closes the connection on, without a reply.
#[tokio::test]
async fn ovsdb_closes_on_what_it_cannot_serve() {
    for input in [
        "{not json",
        r#"{"id":1,"method":"ok","params":[],"jsonrpc":"2.0"}"#,
        r#"{"id":1,"method":"ok","params":{}}"#,
        r#"{"id":1,"params":[]}"#,
        r#"[{"id":1,"method":"ok","params":[]}]"#,
        r#""just a string""#,
    ] {
        let (peer, mut raw, runs) = start(Profile::ovsdb());
        raw.send(input).await;
        assert_eq!(
            raw.recv_or_eof().await,
            None,
            "no reply to {input}, just a close"
        );
        let reason = within(peer.closed()).await;
        assert!(
            matches!(reason, CloseReason::Malformed(_) | CloseReason::Invalid(_)),
            "{input}: {reason}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn json_rpc_2_is_the_default() {
    let (_peer, mut raw, runs) = start(PeerConfig::default().get_profile());
    // A null id is a request's, answered with id null.
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":null,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":null,"result":1}"#,
    )
    .await;
    // A failed notification is not answered.
    no_reply(
        &mut raw,
        r#"{"jsonrpc":"2.0","method":"nope"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ok"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":1}"#,
    )
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // An invalid request's error carries its id; the reason is given.
    let reply: Value = serde_json::from_str(&{
        raw.send(r#"{"jsonrpc":"1.0","id":2,"method":"ok"}"#).await;
        raw.recv_text().await
    })
    .unwrap();
    assert_eq!(reply["id"], 2);
    assert_eq!(reply["error"]["code"], -32600);
    // Malformed JSON: -32700 with id null, and reading goes on.
    let reply: Value = serde_json::from_str(&{
        raw.send("{not json}").await;
        raw.recv_text().await
    })
    .unwrap();
    assert_eq!(reply["id"], Value::Null);
    assert_eq!(reply["error"]["code"], -32700);
    exchange(
        &mut raw,
        r#"{"jsonrpc":"2.0","id":3,"method":"strict"}"#,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"requires no parameters"}}"#,
    )
    .await;
}
