//! LSP, the third protocol on the unchanged core: the typed client of
//! `examples/lsp_client.rs` against two real language servers, pyright (Node)
//! and jedi-language-server (Python, pygls), each a child process spoken to
//! over its stdio with `Content-Length` framing.
//!
//! For each server one full session: `initialize` / `initialized`, `didOpen`,
//! a dropped call, a typed completion and hover, `shutdown` / `exit`. The
//! tests check the typed results, that every request the server sent us was
//! answered by our router (pyright asks for `workspace/configuration`) while
//! its ids overlapped ours, that the dropped call put a `$/cancelRequest` on
//! the wire after its request, and that the server exited with success.
//!
//! The servers come from `scripts/install/lsp.sh` (run by
//! `scripts/install-test-deps.sh`); a missing one fails its test with that
//! hint.

#[allow(dead_code)]
#[path = "../examples/lsp_client.rs"]
mod lsp_client;

use std::time::Duration;

use jsonrpc_core::codec::{ContentLengthCodec, Frame};
use jsonrpc_core::{CloseReason, Peer, PeerConfig, WireCancel};
use lsp_client::{
    fixture_project, run_session, Dir, Limits, LspClient, ServerCommand, SessionReport,
};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_util::codec::Decoder;

/// The most a whole session may take; pyright alone needs a few seconds to
/// start, and both servers run at once.
const SESSION_LIMIT: Duration = Duration::from_secs(240);

async fn session(server: ServerCommand) -> SessionReport {
    let name = server.name.clone();
    // A missing server is a failure that says how to install it, not a skip.
    if let Err(e) = server.check_installed() {
        panic!("{e}");
    }
    let project = fixture_project();
    let run = run_session(&server, &project, Limits::default());
    match tokio::time::timeout(SESSION_LIMIT, run).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("the {name} session took more than {SESSION_LIMIT:?}"),
    }
}

/// What holds for any server: typed results, every request on either side
/// answered exactly once, the dropped call cancelled on the wire, a clean
/// exit.
fn check_common(r: &SessionReport) {
    let context = format!("{} (stderr follows)\n{}", r.server, r.stderr);

    // The typed results.
    let caps = &r.initialize.capabilities;
    assert!(caps.completion_provider.is_some(), "{context}");
    assert!(caps.hover_provider.is_some(), "{context}");
    let labels: Vec<&str> = r.completion.iter().map(|i| i.label.as_str()).collect();
    assert!(
        labels.contains(&"path"),
        "completing `os.pa` did not offer `path`: {labels:?}; {context}"
    );
    for expected in ["greet", "name: str", "Return a friendly greeting for NAME."] {
        assert!(
            r.hover_text.contains(expected),
            "the hover over `greet` lacks {expected:?}: {:?}; {context}",
            r.hover_text
        );
    }

    // Every frame on the pipes was well framed JSON, and the peer took every
    // message it read as valid JSON-RPC.
    assert_eq!(r.wire.errors(), Vec::<String>::new(), "{context}");
    assert_eq!(r.stats.invalid_received, 0, "{context}");

    // Each request in either direction got exactly one reply with its id.
    assert_eq!(
        r.wire.unanswered(Dir::ToServer),
        vec![],
        "our requests without exactly one reply; {context}"
    );
    assert_eq!(
        r.wire.unanswered(Dir::FromServer),
        vec![],
        "the server's requests without exactly one reply; {context}"
    );

    // What our router served is what the peer received and answered.
    let served = r.served.requests() as u64;
    assert_eq!(
        r.stats.requests_received, served,
        "{:?}; {context}",
        r.served
    );
    assert_eq!(r.stats.requests_handled, served, "{context}");
    assert_eq!(r.stats.requests_rejected, 0, "{context}");
    assert!(
        r.served.log_messages as u64 + r.served.diagnostics.len() as u64 > 0,
        "no notification from the server was handled; {context}"
    );
    assert!(
        r.diagnostics_arrived,
        "no publishDiagnostics for app.py; {context}"
    );

    // Our calls: initialize, the dropped completion, completion, hover,
    // shutdown. Four replies reached their callers; the dropped call's reply
    // came too, and was counted as late because nobody waited for it. (A try
    // at dropping a call that lost the race with its reply is one more call
    // and one more reply, and no cancel: `tries` is almost always 1.)
    let extra = u64::from(r.dropped.tries - 1);
    assert_eq!(r.stats.calls_sent, 5 + extra, "{context}");
    assert_eq!(r.stats.replies_received, 4 + extra, "{context}");
    assert_eq!(r.stats.late_replies, 1, "{context}");
    assert_eq!(r.stats.calls_pending, 0, "{context}");
    // initialized, didOpen, exit; plus the cancel, which the peer writes itself.
    assert_eq!(r.stats.notifications_sent, 3, "{context}");

    // The dropped call: its request, then `$/cancelRequest {"id": N}`.
    let d = &r.dropped;
    assert_eq!(d.method, "textDocument/completion");
    assert_eq!(d.cancel_params, json!({ "id": d.id }), "{context}");
    assert!(d.request_at < d.cancel_at, "{d:?}");
    let frames = r.wire.frames();
    let cancels: Vec<&Value> = frames
        .iter()
        .filter(|f| f.dir == Dir::ToServer && f.method() == Some("$/cancelRequest"))
        .map(|f| &f.body)
        .collect();
    assert_eq!(
        cancels,
        [&json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": d.id}})],
        "exactly one cancel, for the dropped call; {context}"
    );
    assert_eq!(d.server_reply.get("id"), Some(&json!(d.id)), "{d:?}");
    // A cancelled LSP request is still answered: with its result, or with
    // RequestCancelled if the server honoured the cancel in time.
    assert!(
        d.server_reply.get("result").is_some() || d.honoured(),
        "{d:?}"
    );

    // shutdown, exit, and the child's clean exit.
    assert!(
        r.exit_status.success(),
        "the server exited with {}; {context}",
        r.exit_status
    );
    assert_eq!(r.close_reason, CloseReason::PeerClosed, "{context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyright_session() {
    let r = session(ServerCommand::pyright()).await;
    check_common(&r);
    let context = format!("(stderr follows)\n{}", r.stderr);

    // pyright asks for its settings right after `initialized`, and our
    // router answered each request with one value per item.
    assert!(
        r.served.configuration_requests >= 1,
        "workspace/configuration was never served: {:?}; {context}",
        r.served
    );
    let frames = r.wire.frames();
    for request in frames
        .iter()
        .filter(|f| f.dir == Dir::FromServer && f.method() == Some("workspace/configuration"))
    {
        let items = request
            .body
            .pointer("/params/items")
            .and_then(Value::as_array);
        let reply = frames
            .iter()
            .find(|f| f.dir == Dir::ToServer && f.is_reply() && f.id() == request.id())
            .expect("answered (checked above)");
        let answer = reply.body.get("result").and_then(Value::as_array);
        assert_eq!(
            answer.map(Vec::len),
            items.map(Vec::len),
            "one value per item: {request:?} -> {reply:?}"
        );
    }
    // It registers its file watchers with us too.
    assert!(
        r.served
            .registered_methods
            .iter()
            .any(|m| m == "workspace/didChangeWatchedFiles"),
        "{:?}",
        r.served
    );

    // pyright numbers its requests from 0 like we do: the same ids were in
    // use in both directions, and every call still got its own reply (the
    // typed results above, and exactly one reply per id each way).
    let shared = r.shared_request_ids();
    assert!(
        shared.contains(&0) && shared.contains(&1),
        "expected both sides to use ids 0 and 1: {shared:?}; {:?}",
        r.wire.requests(Dir::FromServer)
    );

    // pyright is still analysing the file just opened when the cancel comes,
    // and honours it: the dropped call is answered with RequestCancelled.
    assert!(
        r.dropped.honoured(),
        "pyright did not honour the cancel: {:?}",
        r.dropped
    );

    // Its diagnostics are typed too: `os.pa` is no attribute of `os`.
    let app = lsp_client::file_uri(&fixture_project().canonicalize().unwrap().join("app.py"));
    let diagnostics = &r.served.diagnostics[app.as_str()];
    assert!(
        diagnostics.iter().any(|d| d.message.contains("\"pa\"")),
        "{diagnostics:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jedi_language_server_session() {
    let r = session(ServerCommand::jedi()).await;
    check_common(&r);
    // jedi-language-server sends its client no requests in this session
    // (check_common has already matched that against what our router
    // counted); its completion handler runs synchronously, so the reply to
    // the dropped call usually precedes the cancel, which pygls then logs as
    // being for an unknown id: check_common accepts either reply.
    assert_eq!(r.wire.requests(Dir::FromServer), vec![]);
}

#[tokio::test]
async fn a_missing_server_fails_with_the_install_hint() {
    let server = ServerCommand {
        name: "nowhere-language-server".into(),
        program: "/nonexistent/nowhere-language-server".into(),
        args: vec![],
    };
    let err = run_session(&server, &fixture_project(), Limits::default())
        .await
        .expect_err("a missing server cannot make a session");
    assert!(
        err.contains("scripts/install-test-deps.sh") && err.contains("nowhere-language-server"),
        "{err}"
    );
}

/// Shown with no server at all: a call dropped while its request still
/// waits in the outgoing queue gets its `$/cancelRequest` queued behind that
/// request, never ahead of it (a cancel that overtook its request would name
/// an id the server does not know yet, and be ignored).
#[tokio::test]
async fn cancel_of_a_queued_call_goes_out_after_its_request() {
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(ours);
    let peer = Peer::new(ContentLengthCodec::new())
        .config(PeerConfig::default().wire_cancel(Some(WireCancel::lsp())))
        .spawn_split(read, write);
    let client = LspClient::new(peer.clone());

    // Poll the call once (its request is queued), then drop it.
    let call = client.shutdown(());
    assert!(futures::FutureExt::now_or_never(call).is_none());

    let mut codec = ContentLengthCodec::new();
    let mut buf = bytes::BytesMut::new();
    let mut frames: Vec<Value> = Vec::new();
    while frames.len() < 2 {
        let read = tokio::time::timeout(Duration::from_secs(5), theirs.read_buf(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(1..))),
            "the peer wrote only {frames:?}"
        );
        while let Some(Frame::Complete(body)) = codec.decode(&mut buf).unwrap() {
            frames.push(serde_json::from_slice(&body).unwrap());
        }
    }
    let methods: Vec<&str> = frames
        .iter()
        .map(|f| f["method"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        methods,
        ["shutdown", "$/cancelRequest"],
        "the request must go out before its cancel: {frames:?}"
    );
    peer.close();
}
