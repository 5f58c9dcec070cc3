//! The client against a scripted server on an in-memory pipe: what a real
//! ovsdb-server 3.1 cannot be made to do (not know a monitor method, probe
//! right after a multi-megabyte reply, fall silent).

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use super::*;
use crate::condition::Condition;
use crate::monitor::{MonitorRequest, MonitorRequests};

const STEP: Duration = Duration::from_secs(5);

/// The server's end of the pipe: reads JSON values back to back, writes
/// whatever it is told.
struct Script<S = DuplexStream> {
    rd: ReadHalf<S>,
    wr: WriteHalf<S>,
    buf: Vec<u8>,
}

impl Script {
    fn pair(options: ClientOptions) -> (OvsdbClient, Script) {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        (OvsdbClient::over(ours, options), Script::over(theirs))
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite> Script<S> {
    /// The server's end of `stream` (a socket a test accepted).
    fn over(stream: S) -> Script<S> {
        let (rd, wr) = tokio::io::split(stream);
        Script {
            rd,
            wr,
            buf: Vec::new(),
        }
    }

    /// The next message the client sent.
    async fn next(&mut self) -> Value {
        loop {
            let mut values = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
            match values.next() {
                Some(Ok(v)) => {
                    let used = values.byte_offset();
                    self.buf.drain(..used);
                    return v;
                }
                Some(Err(e)) if !e.is_eof() => panic!("the client sent bad JSON: {e}"),
                _ => {}
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(STEP, self.rd.read(&mut chunk))
                .await
                .expect("the client sends within the time limit")
                .expect("reading the pipe");
            assert!(n > 0, "the client closed the pipe");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).await.expect("writing the pipe");
        self.wr.flush().await.expect("flushing the pipe");
    }

    async fn send(&mut self, v: Value) {
        self.send_bytes(v.to_string().as_bytes()).await;
    }

    /// Expects a request of `method` and returns its id and params.
    async fn expect(&mut self, method: &str) -> (Value, Value) {
        let m = self.next().await;
        assert_eq!(m["method"], method, "{m}");
        (m["id"].clone(), m["params"].clone())
    }
}

fn options() -> ClientOptions {
    ClientOptions::default()
        .call_timeout(Some(STEP))
        .probe_interval(None)
}

fn requests(conditions: Option<Vec<Condition>>) -> MonitorRequests {
    let mut r = MonitorRequests::new();
    let request = MonitorRequest {
        columns: None,
        conditions,
        select: None,
    };
    r.insert("T".into(), request.into());
    r
}

const U: &str = "550e8400-e29b-41d4-a716-446655440000";

#[tokio::test]
async fn monitors_fall_back_on_unknown_method_down_to_plain_monitor() {
    let (client, mut server) = Script::pair(options());
    let start = tokio::spawn(async move { client.monitor("db", requests(None)).await });
    let (id, params) = server.expect("monitor_cond_since").await;
    assert_eq!(params[3], json!("00000000-0000-0000-0000-000000000000"));
    // As ovsdb-server words it: a bare string, and no `result`.
    server
        .send(json!({"id": id, "error": "unknown method"}))
        .await;
    let (id, _) = server.expect("monitor_cond").await;
    server
        .send(json!({"id": id, "error": "unknown method"}))
        .await;
    let (id, params) = server.expect("monitor").await;
    let monitor_id = params[1].clone();
    server
        .send(json!({"id": id, "error": null, "result": {"T": {U: {"new": {"a": 1}}}}}))
        .await;
    let mut monitor = start.await.unwrap().unwrap();
    assert_eq!(monitor.method(), MonitorMethod::Monitor);
    assert_eq!(monitor.initial().rows("T").len(), 1);
    server
        .send(json!({"id": null, "method": "update",
                     "params": [monitor_id, {"T": {U: {"old": {"a": 1}, "new": {"a": 2}}}}]}))
        .await;
    let event = tokio::time::timeout(STEP, monitor.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(event.updates, Updates::Update(_)));
    // The server cancels the monitor: the stream ends.
    server
        .send(json!({"id": null, "method": "monitor_canceled", "params": [monitor_id]}))
        .await;
    assert!(tokio::time::timeout(STEP, monitor.next())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn only_the_exact_string_unknown_method_falls_back() {
    let (client, mut server) = Script::pair(options());
    let start = tokio::spawn(async move { client.monitor("db", requests(None)).await });
    let (id, _) = server.expect("monitor_cond_since").await;
    server
        .send(json!({"id": id, "error": {"error": "unknown method", "details": "x"}}))
        .await;
    let err = start.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                method: "monitor_cond_since",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn conditions_never_fall_back_to_plain_monitor() {
    let (client, mut server) = Script::pair(options());
    let start = tokio::spawn(async move {
        client
            .monitor("db", requests(Some(vec![Condition::Boolean(true)])))
            .await
    });
    let (id, _) = server.expect("monitor_cond_since").await;
    server
        .send(json!({"id": id, "error": "unknown method"}))
        .await;
    let (id, _) = server.expect("monitor_cond").await;
    server
        .send(json!({"id": id, "error": "unknown method"}))
        .await;
    let err = start.await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::InvalidRequest(_)), "{err:?}");
}

/// The server's probe, sent right behind a 4 MB initial dump that arrives
/// in pieces and that nobody reads from the stream yet, is answered.
#[tokio::test]
async fn the_servers_probe_is_answered_right_after_a_large_dump() {
    let (client, mut server) = Script::pair(options());
    let start = tokio::spawn(async move { client.monitor("db", requests(None)).await });
    let (id, _) = server.expect("monitor_cond_since").await;
    let mut rows = serde_json::Map::new();
    for i in 0..4000u32 {
        let uuid = format!("00000000-0000-4000-8000-{i:012}");
        rows.insert(uuid, json!({"initial": {"blob": "y".repeat(1000)}}));
    }
    let reply = json!({"id": id, "error": null,
                       "result": [false, "00000000-0000-0000-0000-000000000000", {"T": rows}]})
    .to_string();
    assert!(reply.len() > 4_000_000);
    // A probe before the reply, then the reply in pieces, the probe right
    // behind its last piece.
    server
        .send(json!({"id": "echo", "method": "echo", "params": []}))
        .await;
    let (first, rest) = reply.as_bytes().split_at(reply.len() / 2);
    server.send_bytes(first).await;
    let answer = server.next().await;
    assert_eq!(answer, json!({"id": "echo", "result": [], "error": null}));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut tail = rest.to_vec();
    tail.extend_from_slice(br#"{"id":"echo","method":"echo","params":["again"]}"#);
    server.send_bytes(&tail).await;
    let answer = server.next().await;
    assert_eq!(
        answer,
        json!({"id": "echo", "result": ["again"], "error": null})
    );
    let monitor = start.await.unwrap().unwrap();
    assert_eq!(monitor.initial().rows("T").len(), 4000);
}

#[tokio::test]
async fn a_server_that_does_not_answer_our_probe_is_dropped() {
    let idle = Duration::from_millis(100);
    let (client, mut server) = Script::pair(options().probe_interval(Some(idle)));
    let (_, params) = server.expect("echo").await;
    assert_eq!(params, json!([]));
    // No answer: the connection closes within the probe's time.
    tokio::time::timeout(STEP, client.peer().closed())
        .await
        .expect("closed within the time limit");
    assert!(client.is_closed());
    let err = client.list_dbs().await.unwrap_err();
    assert!(err.is_disconnected(), "{err:?}");
}

#[tokio::test]
async fn a_monitor_that_falls_behind_says_so() {
    let (client, mut server) = Script::pair(options().stream_capacity(2));
    let start = tokio::spawn(async move { client.monitor("db", requests(None)).await });
    let (id, params) = server.expect("monitor_cond_since").await;
    let monitor_id = params[1].clone();
    let zero = "00000000-0000-0000-0000-000000000000";
    server
        .send(json!({"id": id, "error": null, "result": [false, zero, {}]}))
        .await;
    let mut monitor = start.await.unwrap().unwrap();
    for i in 0..5 {
        let txn = format!("00000000-0000-0000-0000-00000000000{i}");
        server
            .send(json!({"id": null, "method": "update3",
                         "params": [monitor_id, txn, {"T": {U: {"modify": {"a": i}}}}]}))
            .await;
    }
    // Let the reader take all five before the stream is read.
    server
        .send(json!({"id": 99, "result": [], "error": null}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let item = tokio::time::timeout(STEP, monitor.next())
            .await
            .unwrap()
            .unwrap();
        seen.push(item);
    }
    assert!(seen[0].is_ok() && seen[1].is_ok(), "{seen:?}");
    assert!(
        matches!(
            &seen[2],
            Err(ClientError::Notification {
                method: "update3",
                source: jsonrpc_core::SubscriptionError::Lagged(3)
            })
        ),
        "{seen:?}"
    );
    // The state follows what was read: the second transaction.
    assert_eq!(
        monitor.state().last_txn_id.map(|u| u.to_string()),
        Some("00000000-0000-0000-0000-000000000001".to_owned())
    );
}

/// A server older than the `_Server` database (Open vSwitch before 2.9)
/// refuses to monitor it; a session for a database, even leader-only,
/// takes such a server as it is, as Open vSwitch's clients do, rather than
/// never connect.
#[tokio::test]
async fn a_session_takes_a_server_without_server_db_as_it_is() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("old.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("listening");
    let remote = format!("unix:{}", path.display());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("a connection");
        let mut server = Script::over(stream);
        // As an old server words them.
        let (id, params) = server.expect("monitor_cond_since").await;
        assert_eq!(params[0], "_Server");
        server
            .send(json!({"id": id, "error": "unknown method"}))
            .await;
        let (id, params) = server.expect("monitor_cond").await;
        assert_eq!(params[0], "_Server");
        server
            .send(json!({"id": id, "error": {
                "error": "unknown database",
                "details": "monitor_cond request specifies unknown database _Server"}}))
            .await;
        let (id, params) = server.expect("monitor_cond_since").await;
        assert_eq!(params[0], "Test");
        server
            .send(json!({"id": id, "error": "unknown method"}))
            .await;
        let (id, params) = server.expect("monitor_cond").await;
        assert_eq!(params[0], "Test");
        server
            .send(json!({"id": id, "error": null, "result": {"T": {U: {"initial": {"a": 1}}}}}))
            .await;
        // Kept open until the test ends.
        server
    });
    let session_options = SessionOptions::default()
        .client(options())
        .ready_timeout(STEP)
        .leader_only("Test");
    let session = OvsdbSession::connect(&remote, session_options)
        .await
        .expect("the session takes the old server");
    let monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("monitor");
    assert_eq!(monitor.initial().rows("T").len(), 1);
    assert_eq!(session.remote(), Some(remote));
    assert_eq!(session.last_move(), None);
    let _server = tokio::time::timeout(STEP, server)
        .await
        .expect("the script ran")
        .expect("the script passed");
}

/// A server with `_Server` that does not know `set_db_change_aware` (it
/// answers "unknown method", as a server of another make may): the session
/// asks once the `_Server` row passes its checks, as Open vSwitch's clients
/// do, takes the refusal, and uses the server as it is, not change-aware.
#[tokio::test]
async fn a_session_uses_a_server_that_does_not_know_set_db_change_aware() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("unaware.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("listening");
    let remote = format!("unix:{}", path.display());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("a connection");
        let mut server = Script::over(stream);
        let (id, params) = server.expect("monitor_cond_since").await;
        assert_eq!(params[0], "_Server");
        let row = json!({"initial": {
            "name": "Test", "model": "standalone", "connected": true,
            "leader": true, "schema": "{\"name\":\"Test\"}"}});
        server
            .send(json!({"id": id, "error": null, "result": [
                false, "00000000-0000-0000-0000-000000000000",
                {"Database": {U: row}}]}))
            .await;
        let (id, params) = server.expect("set_db_change_aware").await;
        assert_eq!(params, json!([true]));
        server
            .send(json!({"id": id, "error": "unknown method"}))
            .await;
        let (id, params) = server.expect("monitor_cond_since").await;
        assert_eq!(params[0], "Test");
        server
            .send(json!({"id": id, "error": null, "result": [
                false, "00000000-0000-0000-0000-000000000000",
                {"T": {U: {"initial": {"a": 1}}}}]}))
            .await;
        // Kept open until the test ends.
        server
    });
    let session_options = SessionOptions::default()
        .client(options())
        .ready_timeout(STEP)
        .database("Test");
    let session = OvsdbSession::connect(&remote, session_options)
        .await
        .expect("the session takes the server");
    assert!(!session.is_change_aware());
    let monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("monitor");
    assert_eq!(monitor.initial().rows("T").len(), 1);
    assert_eq!(session.remote(), Some(remote));
    assert_eq!(session.connections(), 1);
    let _server = tokio::time::timeout(STEP, server)
        .await
        .expect("the script ran")
        .expect("the script passed");
}

const ZERO: &str = "00000000-0000-0000-0000-000000000000";
const TXN: &str = "00000000-0000-0000-0000-0000000000aa";

/// A Unix socket to script a server on, and its remote.
fn listen(dir: &tempfile::TempDir, name: &str) -> (tokio::net::UnixListener, String) {
    let path = dir.path().join(name);
    let listener = tokio::net::UnixListener::bind(&path).expect("listening");
    (listener, format!("unix:{}", path.display()))
}

async fn accept(listener: &tokio::net::UnixListener) -> Script<tokio::net::UnixStream> {
    let (stream, _) = tokio::time::timeout(STEP, listener.accept())
        .await
        .expect("a connection within the time limit")
        .expect("a connection");
    Script::over(stream)
}

/// Answers a session's `_Server` monitor with a standalone server's row for
/// `Test`, and its `set_db_change_aware`.
async fn pass_checks<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(server: &mut Script<S>) {
    let (id, params) = server.expect("monitor_cond_since").await;
    assert_eq!(params[0], "_Server");
    let row = json!({"initial": {
        "name": "Test", "model": "standalone", "connected": true,
        "leader": true, "schema": "{\"name\":\"Test\"}"}});
    server
        .send(json!({"id": id, "error": null, "result": [false, ZERO, {"Database": {U: row}}]}))
        .await;
    let (id, _) = server.expect("set_db_change_aware").await;
    server
        .send(json!({"id": id, "error": null, "result": {}}))
        .await;
}

/// Answers a monitor of `Test` (fresh or resumed) with one row.
async fn answer_monitor<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    server: &mut Script<S>,
    found: bool,
) -> Value {
    let (id, params) = server.expect("monitor_cond_since").await;
    assert_eq!(params[0], "Test");
    server
        .send(json!({"id": id, "error": null, "result": [
            found, TXN, {"T": {U: {"initial": {"a": 1}}}}]}))
        .await;
    params
}

/// Polls `cond` until it holds, within [`STEP`].
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn session_options() -> SessionOptions {
    SessionOptions::default()
        .client(options())
        .ready_timeout(STEP)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .database("Test")
}

/// A server that passes `_Server`'s checks but cannot resume the session's
/// monitor is tried last after it fails, like any server left: the session
/// goes back to the other remote rather than pick the failing one first
/// every round.
#[tokio::test]
async fn a_server_that_cannot_resume_is_tried_last() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (good, good_remote) = listen(&dir, "good.sock");
    let (bad, bad_remote) = listen(&dir, "bad.sock");
    let good_server = tokio::spawn(async move {
        let mut first = accept(&good).await;
        pass_checks(&mut first).await;
        answer_monitor(&mut first, false).await;
        let mut second = accept(&good).await;
        pass_checks(&mut second).await;
        let params = answer_monitor(&mut second, true).await;
        assert_eq!(params[3], TXN, "resumed after its last transaction");
        (first, second)
    });
    let bad_tries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tries = bad_tries.clone();
    let bad_server = tokio::spawn(async move {
        loop {
            let mut server = accept(&bad).await;
            tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            pass_checks(&mut server).await;
            // Drops the connection instead of resuming the monitor.
            server.expect("monitor_cond_since").await;
        }
    });
    let remotes = format!("{good_remote},{bad_remote}");
    let session = OvsdbSession::connect(&remotes, session_options())
        .await
        .expect("the session connects");
    let _monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("monitor");
    assert_eq!(session.remote().as_deref(), Some(good_remote.as_str()));
    session.disconnect();
    eventually("back on the good server", || {
        session.connections() == 2 && session.remote().as_deref() == Some(good_remote.as_str())
    })
    .await;
    assert_eq!(bad_tries.load(std::sync::atomic::Ordering::SeqCst), 1);
    let _servers = tokio::time::timeout(STEP, good_server)
        .await
        .expect("the script ran")
        .expect("the script passed");
    bad_server.abort();
}

/// A monitor whose rows take longer than the per-call deadline, but less
/// than the monitor timeout, is started and resumed; a resume that takes
/// longer than the monitor timeout is taken as slow, not refused: the
/// session reconnects and the stream goes on.
#[tokio::test]
async fn slow_monitors_are_bounded_by_the_monitor_timeout_alone() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, remote) = listen(&dir, "slow.sock");
    let slow = Duration::from_millis(400);
    let server = tokio::spawn(async move {
        let mut first = accept(&listener).await;
        let (id, _) = first.expect("monitor_cond_since").await;
        tokio::time::sleep(slow).await;
        first
            .send(json!({"id": id, "error": null, "result": [
                false, TXN, {"T": {U: {"initial": {"a": 1}}}}]}))
            .await;
        // The resume never answered: past the monitor timeout.
        let mut second = accept(&listener).await;
        second.expect("monitor_cond_since").await;
        let mut third = accept(&listener).await;
        let (id, params) = third.expect("monitor_cond_since").await;
        assert_eq!(params[3], TXN);
        tokio::time::sleep(slow).await;
        third
            .send(json!({"id": id, "error": null, "result": [
                true, "00000000-0000-0000-0000-0000000000bb",
                {"T": {U: {"modify": {"a": 2}}}}]}))
            .await;
        (first, second, third)
    });
    let options = SessionOptions::default()
        .client(options().call_timeout(Some(Duration::from_millis(100))))
        .ready_timeout(STEP)
        .monitor_timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(20), Duration::from_millis(100));
    let session = OvsdbSession::connect(&remote, options)
        .await
        .expect("the session connects");
    let mut monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("a monitor slower than a call");
    assert_eq!(monitor.initial().rows("T").len(), 1);
    session.disconnect();
    let event = tokio::time::timeout(STEP, monitor.next())
        .await
        .expect("an event within the time limit")
        .expect("the stream goes on")
        .expect("no error");
    assert!(matches!(event, SessionEvent::Update(_)), "{event:?}");
    // The second connection, whose resume timed out, was never used.
    assert_eq!(session.connections(), 2);
    let _servers = tokio::time::timeout(STEP, server)
        .await
        .expect("the script ran")
        .expect("the script passed");
}

/// A server that takes each connection and drops it at once: the session
/// backs off further each time instead of coming back every `min`.
#[tokio::test]
async fn a_flapping_server_is_backed_off_from() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, remote) = listen(&dir, "flapping.sock");
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            drop(stream);
        }
    });
    let options = SessionOptions::default()
        .client(options())
        .backoff(Duration::from_millis(50), Duration::from_secs(2));
    let session = OvsdbSession::start(&remote, options).expect("a session");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Waits of 50, 100, 200, 400, 800 ms steps (each drawn between half
    // and all of it) fit at most 7 connections in 1.5 s; coming back every
    // 25-50 ms would make some 30.
    let made = session.connections();
    assert!((2..=8).contains(&made), "{made} connections");
    session.close();
    server.abort();
}

/// A database other than the session's own that the server cannot serve
/// yet is asked for again on the same connection: the connection, with
/// everybody's monitors and locks, stays.
#[tokio::test]
async fn a_database_not_available_yet_is_waited_for_on_the_same_connection() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, remote) = listen(&dir, "relay.sock");
    let server = tokio::spawn(async move {
        let mut server = accept(&listener).await;
        pass_checks(&mut server).await;
        for _ in 0..2 {
            let (id, params) = server.expect("monitor_cond_since").await;
            assert_eq!(params[0], "Other");
            server
                .send(json!({"id": id, "error": {
                    "error": "database not available",
                    "details": "Other is not available yet"}}))
                .await;
        }
        let (id, params) = server.expect("monitor_cond_since").await;
        assert_eq!(params[0], "Other");
        server
            .send(json!({"id": id, "error": null, "result": [
                false, TXN, {"T": {U: {"initial": {"a": 1}}}}]}))
            .await;
        server
    });
    let session = OvsdbSession::connect(&remote, session_options())
        .await
        .expect("the session connects");
    let monitor = tokio::time::timeout(STEP, session.monitor("Other", requests(None)))
        .await
        .expect("the monitor within the time limit")
        .expect("the monitor, once the database is there");
    assert_eq!(monitor.initial().rows("T").len(), 1);
    assert_eq!(session.connections(), 1);
    let _server = tokio::time::timeout(STEP, server)
        .await
        .expect("the script ran")
        .expect("the script passed");
}

/// Closing the session while it resumes on a new connection closes that
/// connection too (and stops following its `_Server` row, which holds it).
#[tokio::test]
async fn closing_while_resuming_closes_the_new_connection() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, remote) = listen(&dir, "resuming.sock");
    let (resuming_tx, resuming_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let mut first = accept(&listener).await;
        pass_checks(&mut first).await;
        answer_monitor(&mut first, false).await;
        // Lost: the session reconnects.
        drop(first);
        let mut second = accept(&listener).await;
        pass_checks(&mut second).await;
        // The resume is never answered.
        second.expect("monitor_cond_since").await;
        let _ = resuming_tx.send(());
        let mut buf = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(STEP, second.rd.read(&mut buf))
                .await
                .expect("the connection closes within the time limit")
                .expect("reading");
            if n == 0 {
                return;
            }
        }
    });
    let session = OvsdbSession::connect(&remote, session_options())
        .await
        .expect("the session connects");
    let _monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("monitor");
    tokio::time::timeout(STEP, resuming_rx)
        .await
        .expect("resuming within the time limit")
        .expect("the script says so");
    session.close();
    tokio::time::timeout(STEP * 2, server)
        .await
        .expect("the script ran")
        .expect("the connection closed");
}

/// A monitor the server cancels after its reader went is not started
/// again: the next thing the client sends is the test's own call, not the
/// restart's `get_schema`.
#[tokio::test]
async fn a_canceled_monitor_nobody_reads_is_not_restarted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, remote) = listen(&dir, "canceled.sock");
    let (canceled_tx, canceled_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let mut server = accept(&listener).await;
        pass_checks(&mut server).await;
        let params = answer_monitor(&mut server, false).await;
        let monitor_id = params[1].clone();
        server
            .send(json!({"id": null, "method": "monitor_canceled", "params": [monitor_id]}))
            .await;
        let _ = canceled_tx.send(());
        let (id, params) = server.expect("echo").await;
        server
            .send(json!({"id": id, "error": null, "result": params}))
            .await;
        server
    });
    let session = OvsdbSession::connect(&remote, session_options())
        .await
        .expect("the session connects");
    let monitor = session
        .monitor("Test", requests(None))
        .await
        .expect("monitor");
    drop(monitor);
    tokio::time::timeout(STEP, canceled_rx)
        .await
        .expect("canceled within the time limit")
        .expect("the script says so");
    // Time for the forwarder to see the cancellation.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = session.client().await.expect("connected");
    client.echo(vec![json!("after")]).await.expect("echo");
    let _server = tokio::time::timeout(STEP, server)
        .await
        .expect("the script ran")
        .expect("the script passed");
}

/// A session that finds no server to use says, when it gives up, why it
/// used none: each remote of its last round, with its reason.
#[tokio::test]
async fn a_session_that_uses_no_server_says_why() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (listener, follower) = listen(&dir, "follower.sock");
    let missing = format!("unix:{}", dir.path().join("missing.sock").display());
    let server = tokio::spawn(async move {
        loop {
            let mut server = accept(&listener).await;
            let (id, _) = server.expect("monitor_cond_since").await;
            let row = json!({"initial": {
                "name": "Test", "model": "clustered", "connected": true,
                "leader": false, "schema": "{\"name\":\"Test\"}", "index": 3}});
            server
                .send(json!({"id": id, "error": null, "result": [
                    false, ZERO, {"Database": {U: row}}]}))
                .await;
            // The session lets go: read to the end.
            let mut buf = [0u8; 1024];
            while let Ok(Ok(n)) = tokio::time::timeout(STEP, server.rd.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
            }
        }
    });
    let options = session_options()
        .leader_only("Test")
        .ready_timeout(Duration::from_millis(500));
    let err = OvsdbSession::connect(&format!("{follower},{missing}"), options)
        .await
        .expect_err("no leader");
    let ClientError::NoUsableServer(failures) = &err else {
        panic!("expected the remotes' failures, got {err:?}");
    };
    assert_eq!(failures.len(), 2, "{err}");
    let reason = |remote: &str| {
        failures
            .iter()
            .find(|f| f.remote == remote)
            .map(|f| f.reason.clone())
    };
    assert!(
        matches!(
            reason(&follower),
            Some(NotUsed::Unusable(Unusable::NotLeader))
        ),
        "{err}"
    );
    assert!(
        matches!(reason(&missing), Some(NotUsed::Connect(_))),
        "{err}"
    );
    assert!(
        err.to_string().contains("not the cluster's leader"),
        "{err}"
    );
    server.abort();
}
