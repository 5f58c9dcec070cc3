//! `OvsdbSession` against a real ovsdb-server that is killed with SIGKILL
//! and started again on the same database file and socket (Unix, TCP or
//! SSL, the same port again): the monitor stream goes on with every row
//! exactly once, and the lock is taken again.
//!
//! Without ovsdb-server these tests fail, saying how to install it.

#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use ovsdb_proto::client::{
    ClientError, ClientOptions, Moved, OvsdbClient, OvsdbSession, SessionEvent, SessionLock,
    SessionLockEvent, SessionMonitor, SessionOptions, Unusable,
};
use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
use process::{insert_item, keys_added, ovsdb_tool, wait_leader, write_schema, Inet, Server, DB};
use server::{bounded, make_pki, STEP};

fn session_options() -> SessionOptions {
    session_options_with(
        ClientOptions::default()
            .connect_timeout(STEP)
            .call_timeout(Some(STEP))
            // A killed server's socket closes at once; no probe needed.
            .probe_interval(None),
    )
}

fn session_options_with(client: ClientOptions) -> SessionOptions {
    SessionOptions::default()
        .client(client)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .monitor_timeout(STEP)
        .ready_timeout(STEP)
        // Each server's `_Server` row is read and followed: a standalone
        // server, or a cluster of one, serves the session as before.
        .database(DB)
}

async fn insert_keys(remote: &str, keys: std::ops::Range<i64>) {
    insert_keys_with(remote, ClientOptions::default(), keys).await
}

async fn insert_keys_with(remote: &str, options: ClientOptions, keys: std::ops::Range<i64>) {
    let options = options.connect_timeout(STEP).call_timeout(Some(STEP));
    let client = OvsdbClient::connect_with(remote, options)
        .await
        .unwrap_or_else(|e| panic!("the writer connects to {remote}: {e}"));
    for key in keys {
        insert_item(&client, key)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("inserting {key}: {e}"));
    }
}

fn all_items() -> MonitorRequests {
    let mut requests = MonitorRequests::new();
    requests.insert("Item".into(), MonitorRequest::default().into());
    requests
}

/// What the monitor stream has said, key by key.
#[derive(Default)]
struct Seen {
    /// How many times each key was delivered as a change.
    updates: BTreeMap<i64, usize>,
    /// The full contents of each resync, in order.
    resyncs: Vec<Vec<i64>>,
}

impl Seen {
    /// Reads the stream until every key in `0..upto` has come.
    async fn read_until(&mut self, monitor: &mut SessionMonitor, upto: i64) {
        while !(0..upto).all(|k| self.has(k)) {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("no update for keys below {upto}; saw {:?}", self.updates)
                })
                .expect("the monitor stream goes on")
                .expect("no monitor error");
            match event {
                SessionEvent::Update(event) => {
                    for key in keys_added(&event.updates) {
                        *self.updates.entry(key).or_default() += 1;
                    }
                }
                SessionEvent::Resync(all) => self.resyncs.push(keys_added(&all)),
                SessionEvent::SchemaChanged { .. } => panic!("no schema change here: {event:?}"),
            }
        }
    }

    fn has(&self, key: i64) -> bool {
        self.updates.contains_key(&key) || self.resyncs.last().is_some_and(|r| r.contains(&key))
    }
}

async fn next_lock_event(lock: &mut SessionLock) -> SessionLockEvent {
    tokio::time::timeout(STEP, lock.next())
        .await
        .expect("a lock event in time")
        .expect("the lock stream goes on")
        .expect("no lock error")
}

/// Which of the server's remotes the session and the writer use.
#[derive(Clone, Copy)]
enum Via {
    Unix,
    Tcp,
    /// TLS both ways, with certificates made for the test.
    Ssl,
}

/// The common course: monitor and lock through a session over `via`,
/// insert 0..5, kill -9 the server, start it again (on the same socket or
/// port), insert 5..10. Returns what the monitor saw.
async fn kill_and_restart(clustered: bool, via: Via) -> Seen {
    let dir = tempfile::Builder::new()
        .prefix("ovsdb-reconnect-")
        .tempdir()
        .expect("a temporary directory");
    let schema = write_schema(dir.path());
    let db = dir.path().join("test.db");
    let (db_s, schema_s) = (db.to_string_lossy(), schema.to_string_lossy());
    if clustered {
        // A cluster of one: the server keeps its transaction history, so a
        // monitor can resume after its last transaction.
        let raft = format!("unix:{}", dir.path().join("raft.sock").display());
        ovsdb_tool(&["create-cluster", &db_s, &schema_s, &raft]);
    } else {
        ovsdb_tool(&["create", &db_s, &schema_s]);
    }
    let mut client_options = ClientOptions::default();
    let mut server = match via {
        Via::Unix => Server::start(dir.path(), "s", &db),
        Via::Tcp => Server::start_inet(dir.path(), "s", &db, Inet::Tcp).await,
        Via::Ssl => {
            let pki_dir = dir.path().join("pki");
            std::fs::create_dir(&pki_dir).expect("the certificates' directory");
            let pki = make_pki(&pki_dir);
            let tls = jsonrpc_transport::ClientTls::from_pem_files(
                &pki.ca,
                Some((pki.client_cert.as_path(), pki.client_key.as_path())),
            )
            .expect("the client's certificates");
            client_options = client_options.tls(tls);
            Server::start_inet(dir.path(), "s", &db, Inet::Ssl(pki)).await
        }
    };
    server.wait_listening(STEP).await;
    let remote = match via {
        Via::Unix => server.remote(),
        Via::Tcp | Via::Ssl => server.inet_remote(),
    };
    // Leadership is read over the Unix socket, whatever `via` is.
    wait_leader(&server.remote(), STEP).await;

    let session_client = client_options
        .clone()
        .connect_timeout(STEP)
        .call_timeout(Some(STEP))
        // A killed server's socket closes at once; no probe needed.
        .probe_interval(None);
    let session = OvsdbSession::connect(&remote, session_options_with(session_client))
        .await
        .expect("the session connects");
    let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
    assert!(keys_added(monitor.initial()).is_empty());
    let mut lock = session.lock("writer").await.expect("lock");
    tokio::time::timeout(STEP, lock.acquired())
        .await
        .expect("the lock in time")
        .expect("the lock is granted");

    let mut seen = Seen::default();
    insert_keys_with(&remote, client_options.clone(), 0..5).await;
    seen.read_until(&mut monitor, 5).await;

    server.kill();
    assert_eq!(next_lock_event(&mut lock).await, SessionLockEvent::Lost);
    assert!(!lock.is_held());
    server.restart();
    server.wait_listening(STEP).await;
    wait_leader(&server.remote(), STEP).await;
    insert_keys_with(&remote, client_options, 5..10).await;
    seen.read_until(&mut monitor, 10).await;

    assert_eq!(next_lock_event(&mut lock).await, SessionLockEvent::Locked);
    assert!(lock.is_held());
    // The lock is ours on the server too: a transaction asserting it commits.
    session
        .client()
        .await
        .expect("connected")
        .transact(DB)
        .assert_lock("writer")
        .execute()
        .await
        .expect("the re-taken lock holds");
    // Counted before the session hands the connection out. At least one
    // reconnect; a server may also drop a client that came too early.
    assert!(session.connections() >= 2);
    // Back on the same remote: the restarted server, same socket or port.
    assert_eq!(session.remote(), Some(remote));
    seen
}

/// What a resume after the last transaction gives: no resync, and each
/// of the keys 0..10 exactly once.
fn assert_resumed_exactly_once(seen: &Seen) {
    assert!(
        seen.resyncs.is_empty(),
        "the server had the last transaction, yet resynced: {:?}",
        seen.resyncs
    );
    let expected: BTreeMap<i64, usize> = (0..10).map(|k| (k, 1)).collect();
    assert_eq!(seen.updates, expected, "each row exactly once");
}

#[tokio::test]
async fn a_clustered_servers_monitor_resumes_with_every_row_exactly_once() {
    bounded(async {
        let seen = kill_and_restart(true, Via::Unix).await;
        assert_resumed_exactly_once(&seen);
    })
    .await;
}

#[tokio::test]
async fn over_tcp_the_monitor_resumes_on_the_restarted_port_with_every_row_exactly_once() {
    bounded(async {
        let seen = kill_and_restart(true, Via::Tcp).await;
        assert_resumed_exactly_once(&seen);
    })
    .await;
}

#[tokio::test]
async fn over_ssl_the_monitor_resumes_on_the_restarted_port_with_every_row_exactly_once() {
    bounded(async {
        let seen = kill_and_restart(true, Via::Ssl).await;
        assert_resumed_exactly_once(&seen);
    })
    .await;
}

#[tokio::test]
async fn a_standalone_server_without_history_resyncs_in_full() {
    bounded(async {
        let seen = kill_and_restart(false, Via::Unix).await;
        // A standalone server keeps no transaction history: the reconnect
        // brings everything, marked as a resync, exactly once.
        assert_eq!(seen.resyncs.len(), 1, "one resync: {:?}", seen.resyncs);
        let resync = &seen.resyncs[0];
        let mut sorted = resync.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), resync.len(), "no row twice in {resync:?}");
        // Everything inserted before it, and each row after it exactly once.
        assert!((0..5).all(|k| resync.contains(&k)), "{resync:?}");
        for key in 0..10 {
            let updates = seen.updates.get(&key).copied().unwrap_or(0);
            let in_resync = usize::from(resync.contains(&key));
            if key < 5 {
                assert_eq!(updates, 1, "key {key} before the kill");
            } else {
                assert_eq!(updates + in_resync, 1, "key {key} after the restart");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn closing_the_session_ends_its_streams_and_its_calls() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;

        let session = OvsdbSession::connect(&server.remote(), session_options())
            .await
            .expect("the session connects");
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        let mut lock = session.lock("writer").await.expect("lock");
        insert_keys(&server.remote(), 0..1).await;
        let mut seen = Seen::default();
        seen.read_until(&mut monitor, 1).await;

        session.close();
        // What was sent before the close may still come; then the end.
        let ended = tokio::time::timeout(STEP, async {
            while monitor.next().await.is_some() {}
            while lock.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the streams did not end");
        let err = session.client().await.expect_err("closed");
        assert!(matches!(err, ClientError::SessionClosed), "{err:?}");
        let err = session.monitor(DB, all_items()).await.expect_err("closed");
        assert!(matches!(err, ClientError::SessionClosed), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_session_waits_for_a_server_that_is_not_up_yet() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
        // Where Server::start puts the socket of a server named "s".
        let remote = format!("unix:{}", dir.path().join("s.sock").display());

        // No server: connecting gives up at the ready deadline.
        let quick = session_options().ready_timeout(Duration::from_millis(300));
        let err = OvsdbSession::connect(&remote, quick)
            .await
            .expect_err("no server to connect to");
        // Why: the one remote could not be connected to.
        match &err {
            ClientError::NoUsableServer(failures) => {
                assert_eq!(failures.len(), 1, "{err:?}");
                assert_eq!(failures[0].remote, remote);
                assert!(
                    matches!(failures[0].reason, ovsdb_proto::client::NotUsed::Connect(_)),
                    "{err:?}"
                );
            }
            _ => panic!("expected the remotes' failures, got {err:?}"),
        }

        // A session started before its server keeps trying, and connects
        // once the server is up.
        let session = OvsdbSession::start(&remote, session_options()).expect("a valid remote");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(session.remote(), None);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;
        let client = session
            .client()
            .await
            .expect("connected once the server is up");
        insert_item(&client, 1).execute().await.expect("insert");
        assert_eq!(session.connections(), 1);
        assert_eq!(session.remote(), Some(remote));
    })
    .await;
}

#[tokio::test]
async fn changes_made_while_the_session_is_away_come_once_on_resume() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        let raft = format!("unix:{}", dir.path().join("raft.sock").display());
        ovsdb_tool(&[
            "create-cluster",
            &db.to_string_lossy(),
            &schema.to_string_lossy(),
            &raft,
        ]);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;
        let remote = server.remote();
        wait_leader(&remote, STEP).await;

        // Half a second to a second away after each drop: time for the
        // writer to commit while the session is not looking.
        let options = session_options().backoff(Duration::from_secs(1), Duration::from_secs(1));
        let session = OvsdbSession::connect(&remote, options)
            .await
            .expect("the session connects");
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        let mut seen = Seen::default();
        insert_keys(&remote, 0..3).await;
        seen.read_until(&mut monitor, 3).await;

        session.disconnect();
        insert_keys(&remote, 3..6).await;
        seen.read_until(&mut monitor, 6).await;
        insert_keys(&remote, 6..8).await;
        seen.read_until(&mut monitor, 8).await;

        assert!(seen.resyncs.is_empty(), "resynced: {:?}", seen.resyncs);
        let expected: BTreeMap<i64, usize> = (0..8).map(|k| (k, 1)).collect();
        assert_eq!(seen.updates, expected, "each row exactly once");
        // Published (and counted) once the monitor was resumed.
        session.client().await.expect("connected");
        assert_eq!(session.connections(), 2);
    })
    .await;
}

#[tokio::test]
async fn the_monitor_and_call_deadlines_hold_against_a_silent_server() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        // A "server" that accepts and never answers.
        let path = dir.path().join("silent.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let options = SessionOptions::default()
            .client(
                ClientOptions::default()
                    .connect_timeout(STEP)
                    .call_timeout(Some(Duration::from_millis(300)))
                    .probe_interval(None),
            )
            .monitor_timeout(Duration::from_millis(200))
            .ready_timeout(STEP);
        let session = OvsdbSession::connect(&format!("unix:{}", path.display()), options)
            .await
            .expect("the socket accepts");

        let started = std::time::Instant::now();
        let err = session.monitor(DB, all_items()).await.expect_err("no rows");
        assert!(matches!(err, ClientError::TimedOut(_)), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        let started = std::time::Instant::now();
        let client = session.client().await.expect("connected");
        let err = client.echo(vec![]).await.expect_err("no answer");
        assert!(!err.is_disconnected(), "a deadline, not a drop: {err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        silent.abort();
    })
    .await;
}

/// Two standalone servers, each with its own database "Test"; a session
/// for "Test" on the first, its remotes both. The first server's database
/// is removed (`ovsdb-server/remove-db`): its `_Server` row goes, and it
/// cancels the monitors of its change-aware clients (which the session
/// is) without dropping them. The session leaves it all the same, for
/// want of the database (said so in its last move; a client that is not
/// change-aware is dropped before it hears why), and goes on to the
/// second server, its monitor starting over from that server's schema
/// and rows.
/// Moved off by hand, it passes the first server by (it no longer has the
/// database), though the first is then the least recently left.
#[tokio::test]
async fn a_server_whose_database_is_removed_is_passed_by() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let mut servers = Vec::new();
        for name in ["s1", "s2"] {
            let db = dir.path().join(format!("{name}.db"));
            ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
            let mut server = Server::start(dir.path(), name, &db);
            server.wait_listening(STEP).await;
            servers.push(server);
        }
        let (first, second) = (servers[0].remote(), servers[1].remote());
        insert_keys(&first, 0..3).await;
        insert_keys(&second, 100..103).await;
        let session = OvsdbSession::connect(&format!("{first},{second}"), session_options())
            .await
            .expect("the session connects");
        assert_eq!(session.remote(), Some(first.clone()));
        assert!(session.is_change_aware());
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        let mut initial = keys_added(monitor.initial());
        initial.sort_unstable();
        assert_eq!(initial, vec![0, 1, 2]);

        servers[0]
            .appctl_async(&["ovsdb-server/remove-db", DB])
            .await;
        // The second server's rows, in place of the first's, with its
        // schema: the server canceled the monitor, which starts over from
        // the top wherever the session goes.
        let event = tokio::time::timeout(STEP, monitor.next())
            .await
            .expect("the monitor starts over in time")
            .expect("the monitor goes on")
            .expect("no monitor error");
        let SessionEvent::SchemaChanged { schema, rows } = event else {
            panic!("expected a start over from another server: {event:?}");
        };
        assert_eq!(schema.name, DB);
        let mut keys = keys_added(&rows);
        keys.sort_unstable();
        assert_eq!(keys, vec![100, 101, 102]);
        assert_eq!(session.remote(), Some(second.clone()));
        assert_eq!(
            session.last_move(),
            Some(Moved {
                remote: first.clone(),
                reason: Unusable::NoDatabase
            })
        );

        let connections = session.connections();
        session.disconnect();
        let until = std::time::Instant::now() + STEP;
        while session.connections() == connections {
            assert!(std::time::Instant::now() < until, "no new connection");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(session.remote(), Some(second.clone()));
        // A standalone server keeps no history: all its rows again, then
        // the new one as a change.
        insert_keys(&second, 103..104).await;
        let mut events = Vec::new();
        for _ in 0..2 {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("no event after {events:?}"))
                .expect("the monitor goes on")
                .expect("no monitor error");
            let (kind, mut keys) = match event {
                SessionEvent::Resync(all) => ("resync", keys_added(&all)),
                SessionEvent::Update(u) => ("update", keys_added(&u.updates)),
                SessionEvent::SchemaChanged { rows, .. } => ("schema changed", keys_added(&rows)),
            };
            keys.sort_unstable();
            events.push((kind, keys));
        }
        assert_eq!(
            events,
            vec![("resync", vec![100, 101, 102]), ("update", vec![103])]
        );
    })
    .await;
}

/// The test schema's next version: `Item` gains a string column `note`.
const SCHEMA_NOTE: &str = r#"{
  "name": "Test",
  "version": "1.1.0",
  "tables": {
    "Item": {
      "isRoot": true,
      "indexes": [["key"]],
      "columns": {"key": {"type": "integer"}, "note": {"type": "string"}}
    }
  }
}"#;

/// The `note` of each `Item` row that `updates` insert or modify, by the
/// row's uuid.
fn notes(updates: &ovsdb_proto::client::Updates) -> Vec<String> {
    use ovsdb_proto::atom::Atom;
    use ovsdb_proto::client::Updates;
    use ovsdb_proto::monitor::RowUpdate2;

    let Updates::Update2(tables) = updates else {
        panic!("expected update2-style changes: {updates:?}");
    };
    let mut notes = Vec::new();
    for update in tables.get("Item").into_iter().flat_map(|t| t.values()) {
        if let RowUpdate2::Initial(row) | RowUpdate2::Insert(row) | RowUpdate2::Modify(row) = update
        {
            if let Some(Atom::String(note)) = row.get("note").and_then(|d| d.as_atom()) {
                notes.push(note.clone());
            }
        }
    }
    notes
}

async fn next_monitor_event(monitor: &mut SessionMonitor) -> SessionEvent {
    tokio::time::timeout(STEP, monitor.next())
        .await
        .expect("a monitor event in time")
        .expect("the monitor goes on")
        .expect("no monitor error")
}

/// `ovsdb-client convert` of the session's database, on a live server,
/// while the session monitors it and holds a lock. The session told the
/// server it is change-aware, so the server cancels the monitor
/// (`monitor_canceled`) instead of dropping the connection: the stream
/// says the schema changed, with the new schema and every row once, and
/// goes on with changes to the new column; the lock is still held (no
/// `Lost`, and the server says so), on the same connection. Before, the
/// server dropped the session's connection and the monitor came back as
/// a resync, without the schema.
#[tokio::test]
async fn a_conversion_restarts_the_monitor_with_the_new_schema_on_the_same_connection() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;
        let remote = server.remote();
        insert_keys(&remote, 0..3).await;

        let session = OvsdbSession::connect(&remote, session_options())
            .await
            .expect("the session connects");
        assert!(session.is_change_aware(), "ovsdb-server 3.1 takes it");
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        let mut initial = keys_added(monitor.initial());
        initial.sort_unstable();
        assert_eq!(initial, vec![0, 1, 2]);
        let mut lock = session.lock("writer").await.expect("lock");
        tokio::time::timeout(STEP, lock.acquired())
            .await
            .expect("the lock in time")
            .expect("the lock is granted");

        // A transaction waiting on the server when the conversion comes.
        let client = session.client().await.expect("connected");
        let never = ovsdb_proto::datum::Row::from_iter([(
            "key".to_owned(),
            ovsdb_proto::atom::Atom::Integer(-1).into(),
        )]);
        let waiting = client
            .transact(DB)
            .wait(
                "Item",
                vec![ovsdb_proto::condition::Condition::Boolean(true)],
                vec!["key".into()],
                ovsdb_proto::operation::WaitUntil::Equal,
                vec![never],
            )
            .call_timeout(None);
        let waiting = tokio::spawn(waiting.execute());
        // The server answers a connection's calls in order: once this echo
        // is back, the transaction has been read and waits.
        client.echo(vec![]).await.expect("echo");

        let new_schema = dir.path().join("note.ovsschema");
        std::fs::write(&new_schema, SCHEMA_NOTE).expect("writing the new schema");
        let convert = tokio::task::spawn_blocking({
            let (remote, new_schema) = (remote.clone(), new_schema.clone());
            move || {
                std::process::Command::new(server::tool("ovsdb-client"))
                    .args(["--timeout=5", "convert", &remote])
                    .arg(&new_schema)
                    .output()
            }
        })
        .await
        .expect("ovsdb-client ran")
        .expect("ovsdb-client runs");
        assert!(
            convert.status.success(),
            "ovsdb-client convert: {}",
            String::from_utf8_lossy(&convert.stderr)
        );

        let event = next_monitor_event(&mut monitor).await;
        let SessionEvent::SchemaChanged { schema, rows } = event else {
            panic!("expected the schema change: {event:?}");
        };
        assert_eq!(schema.version.to_string(), "1.1.0");
        assert!(
            schema.tables["Item"].columns.contains_key("note"),
            "{schema:?}"
        );
        let mut keys = keys_added(&rows);
        keys.sort_unstable();
        assert_eq!(keys, vec![0, 1, 2], "every row once");
        // The waiting transaction is answered, not left hanging nor
        // failed by a dropped connection: it did not commit.
        let err = tokio::time::timeout(STEP, waiting)
            .await
            .expect("an answer to the waiting transaction")
            .expect("the call ran")
            .expect_err("canceled by the conversion");
        assert_eq!(
            err.server_error(),
            Some(&ovsdb_proto::error::ErrorKind::Canceled),
            "{err:?}"
        );

        // Calls go on, with the new column; so does the monitor.
        assert!(!client.is_closed());
        let mut row = ovsdb_proto::datum::Row::new();
        row.insert("key".into(), ovsdb_proto::atom::Atom::Integer(3).into());
        row.insert("note".into(), ovsdb_proto::atom::Atom::from("new").into());
        client
            .transact(DB)
            .assert_lock("writer")
            .insert("Item", row)
            .execute()
            .await
            .expect("a transaction holding the lock and writing the new column");
        let event = next_monitor_event(&mut monitor).await;
        let SessionEvent::Update(update) = event else {
            panic!("expected the insert: {event:?}");
        };
        assert_eq!(keys_added(&update.updates), vec![3]);
        assert_eq!(notes(&update.updates), vec!["new".to_owned()]);
        assert!(
            monitor.next().now_or_never().is_none(),
            "nothing more on the monitor"
        );

        // The same connection throughout, and the lock never lost.
        assert_eq!(session.connections(), 1);
        assert!(lock.is_held());
        assert!(lock.next().now_or_never().is_none(), "no lock event");
        let other = OvsdbClient::connect(&remote).await.expect("another client");
        let theirs = other.lock("writer").await.expect("lock");
        assert!(!theirs.is_held(), "the session still holds the lock");
        drop(server);
    })
    .await;
}

/// The session is for "Test" and also monitors "Other", a second database
/// of the same server (`ovsdb-server/add-db`), which is then removed
/// (`ovsdb-server/remove-db`). Change-aware, the session keeps its
/// connection: the "Other" monitor's stream ends with the server's
/// "unknown database" (it cannot be started again), and the "Test"
/// monitor goes on. Before, the server dropped the connection and the
/// session came back on a new one.
#[tokio::test]
async fn another_database_removed_ends_its_monitor_and_the_session_stays() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
        let other_schema = dir.path().join("other.ovsschema");
        std::fs::write(
            &other_schema,
            process::SCHEMA.replace("\"Test\"", "\"Other\""),
        )
        .expect("writing the other schema");
        let other_db = dir.path().join("other.db");
        ovsdb_tool(&[
            "create",
            &other_db.to_string_lossy(),
            &other_schema.to_string_lossy(),
        ]);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;
        // The control socket may come a moment after the client socket.
        let ctl = dir.path().join("s.ctl");
        let until = std::time::Instant::now() + STEP;
        while !ctl.exists() {
            assert!(std::time::Instant::now() < until, "no control socket");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server
            .appctl_async(&["ovsdb-server/add-db", &other_db.to_string_lossy()])
            .await;
        let remote = server.remote();

        let session = OvsdbSession::connect(&remote, session_options())
            .await
            .expect("the session connects");
        assert!(session.is_change_aware());
        let mut test = session.monitor(DB, all_items()).await.expect("monitor");
        let mut other = session
            .monitor("Other", all_items())
            .await
            .expect("monitor Other");

        server
            .appctl_async(&["ovsdb-server/remove-db", "Other"])
            .await;
        let err = tokio::time::timeout(STEP, other.next())
            .await
            .expect("the Other monitor hears in time")
            .expect("an error before the end")
            .expect_err("Other is gone");
        assert_eq!(
            err.server_error(),
            Some(&ovsdb_proto::error::ErrorKind::UnknownDatabase),
            "{err:?}"
        );
        let end = tokio::time::timeout(STEP, other.next())
            .await
            .expect("the Other monitor ends in time");
        assert!(end.is_none(), "{end:?}");

        insert_keys(&remote, 0..1).await;
        let event = next_monitor_event(&mut test).await;
        let SessionEvent::Update(update) = event else {
            panic!("expected the insert: {event:?}");
        };
        assert_eq!(keys_added(&update.updates), vec![0]);
        assert_eq!(session.connections(), 1);
        assert_eq!(session.last_move(), None);
        drop(server);
    })
    .await;
}

/// A cluster of one keeps its transaction history: after a conversion
/// (`ovsdb-client convert` of a clustered database, through the Raft log)
/// the session's monitor starts over with the new schema, and then, its
/// connection dropped, resumes after the last transaction of the
/// restarted monitor: no resync (a wrong last transaction would bring
/// one), and the key written meanwhile comes once, as a change.
#[tokio::test]
async fn after_a_conversion_a_clustered_monitor_resumes_after_its_last_transaction() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-reconnect-")
            .tempdir()
            .expect("a temporary directory");
        let schema = write_schema(dir.path());
        let db = dir.path().join("test.db");
        let raft = format!("unix:{}", dir.path().join("raft.sock").display());
        ovsdb_tool(&[
            "create-cluster",
            &db.to_string_lossy(),
            &schema.to_string_lossy(),
            &raft,
        ]);
        let mut server = Server::start(dir.path(), "s", &db);
        server.wait_listening(STEP).await;
        let remote = server.remote();
        wait_leader(&remote, STEP).await;
        insert_keys(&remote, 0..2).await;

        let session = OvsdbSession::connect(&remote, session_options())
            .await
            .expect("the session connects");
        assert!(session.is_change_aware());
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        assert_eq!(keys_added(monitor.initial()).len(), 2);

        let new_schema = dir.path().join("note.ovsschema");
        std::fs::write(&new_schema, SCHEMA_NOTE).expect("writing the new schema");
        let convert = tokio::task::spawn_blocking({
            let (remote, new_schema) = (remote.clone(), new_schema.clone());
            move || {
                std::process::Command::new(server::tool("ovsdb-client"))
                    .args(["--timeout=5", "convert", &remote])
                    .arg(&new_schema)
                    .output()
            }
        })
        .await
        .expect("ovsdb-client ran")
        .expect("ovsdb-client runs");
        assert!(
            convert.status.success(),
            "ovsdb-client convert: {}",
            String::from_utf8_lossy(&convert.stderr)
        );
        let event = next_monitor_event(&mut monitor).await;
        let SessionEvent::SchemaChanged { schema, rows } = event else {
            panic!("expected the schema change: {event:?}");
        };
        assert_eq!(schema.version.to_string(), "1.1.0");
        let mut keys = keys_added(&rows);
        keys.sort_unstable();
        assert_eq!(keys, vec![0, 1]);

        insert_keys(&remote, 2..3).await;
        let event = next_monitor_event(&mut monitor).await;
        let SessionEvent::Update(update) = event else {
            panic!("expected the insert: {event:?}");
        };
        assert_eq!(keys_added(&update.updates), vec![2]);

        // Key 3 written once the connection is closed (the session may be
        // back by then or not); the resume finds the last transaction.
        let connections = session.connections();
        session.disconnect();
        insert_keys(&remote, 3..4).await;
        let event = next_monitor_event(&mut monitor).await;
        let SessionEvent::Update(update) = event else {
            panic!("expected only the change made while away: {event:?}");
        };
        assert_eq!(keys_added(&update.updates), vec![3]);
        assert!(session.connections() > connections);
        drop(server);
    })
    .await;
}
