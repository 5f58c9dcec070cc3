//! The client through a real ovsdb-server relay (`relay:DB:REMOTE`, OVS
//! 2.16 and later) in front of a source server: reads are served by the
//! relay, transactions are forwarded to the source, the source's changes
//! reach the relay's monitors, a session through the relay lives on
//! across a restart of the relay (and waits out a relay that has not
//! reached its source yet), and a forwarded transaction left unanswered
//! when the source goes away is answered "canceled". A lock taken through
//! a relay holds only there.
//!
//! Without ovsdb-server these tests fail, saying how to install it.

#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "support/process.rs"]
mod process;

#[allow(dead_code)]
#[path = "support/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use ovsdb_proto::client::{
    leadership, ClientError, ClientOptions, DatabaseStatus, OvsdbClient, OvsdbSession,
    SessionEvent, SessionOptions,
};
use ovsdb_proto::error::ErrorKind;
use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
use process::{insert_item, keys_added, ovsdb_tool, write_schema, Server, DB};
use server::{bounded, STEP};

fn client_options() -> ClientOptions {
    ClientOptions::default()
        .connect_timeout(STEP)
        .call_timeout(Some(STEP))
        // A killed server's socket closes at once; no probe needed.
        .probe_interval(None)
}

async fn client(remote: &str) -> OvsdbClient {
    OvsdbClient::connect_with(remote, client_options())
        .await
        .unwrap_or_else(|e| panic!("connecting to {remote}: {e}"))
}

/// The `_Server` row of [`DB`] on the server at `remote`.
async fn status_of(remote: &str) -> Option<DatabaseStatus> {
    let client = OvsdbClient::connect_with(remote, client_options())
        .await
        .ok()?;
    let watch = leadership(&client, DB, STEP).await.ok()?;
    watch.status().cloned()
}

/// Waits until the relay says it is in touch with its source.
async fn wait_relay_connected(relay: &Server) {
    let until = Instant::now() + STEP;
    while Instant::now() < until {
        if status_of(&relay.remote())
            .await
            .is_some_and(|s| s.connected)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the relay did not connect to its source: {}", relay.log());
}

/// A standalone source server and a relay of its [`DB`] in front of it,
/// both listening, the relay in touch with the source.
async fn start_source_and_relay(dir: &Path) -> (Server, Server) {
    let schema = write_schema(dir);
    let db = dir.join("source.db");
    ovsdb_tool(&["create", &db.to_string_lossy(), &schema.to_string_lossy()]);
    let mut source = Server::start(dir, "source", &db);
    source.wait_listening(STEP).await;
    let mut relay = Server::start_relay(dir, "relay", &source.remote());
    relay.wait_listening(STEP).await;
    wait_relay_connected(&relay).await;
    (source, relay)
}

fn all_items() -> MonitorRequests {
    let mut requests = MonitorRequests::new();
    requests.insert("Item".into(), MonitorRequest::default().into());
    requests
}

#[tokio::test]
async fn through_a_relay_reads_are_served_writes_are_forwarded_and_the_sources_changes_come() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let (source, relay) = start_source_and_relay(dir.path()).await;
        let via_relay = client(&relay.remote()).await;
        let direct = client(&source.remote()).await;

        // The relay serves the database under its own name, with the
        // source's schema, and its own _Server.
        let dbs = via_relay.list_dbs().await.expect("list_dbs");
        assert!(dbs.contains(&DB.to_owned()), "{dbs:?}");
        assert!(dbs.contains(&"_Server".to_owned()), "{dbs:?}");
        assert_eq!(
            via_relay.get_schema(DB).await.expect("get_schema"),
            direct.get_schema(DB).await.expect("get_schema")
        );
        // A relay's row: model "relay", connected to its source, and never
        // the leader (it commits nothing itself).
        let status = status_of(&relay.remote()).await.expect("the relay's row");
        assert_eq!(
            status,
            DatabaseStatus {
                model: "relay".into(),
                connected: true,
                leader: false,
                has_schema: true,
                cid: None,
                index: None,
            }
        );
        assert!(!status.leads());

        let mut monitor = via_relay.monitor(DB, all_items()).await.expect("monitor");
        // Through the relay, committed on the source.
        insert_item(&via_relay, 1)
            .execute()
            .await
            .expect("a transaction forwarded to the source");
        assert_eq!(cluster::keys_in_db(&direct).await, vec![1]);
        // Written on the source by another client, seen through the relay.
        insert_item(&direct, 2).execute().await.expect("insert");
        let mut seen = BTreeMap::<i64, usize>::new();
        while !(seen.contains_key(&1) && seen.contains_key(&2)) {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("no update through the relay; saw {seen:?}"))
                .expect("the monitor goes on")
                .expect("the update decodes");
            for key in keys_added(&event.updates) {
                *seen.entry(key).or_default() += 1;
            }
        }
        assert_eq!(seen, [(1, 1), (2, 1)].into_iter().collect());
        assert_eq!(cluster::keys_in_db(&via_relay).await, vec![1, 2]);
    })
    .await;
}

#[tokio::test]
async fn a_session_through_a_relay_survives_a_restart_of_the_relay() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let (source, mut relay) = start_source_and_relay(dir.path()).await;
        let options = SessionOptions::default()
            .client(client_options())
            .backoff(Duration::from_millis(20), Duration::from_millis(200))
            .monitor_timeout(STEP)
            .ready_timeout(STEP);
        let session = OvsdbSession::connect(&relay.remote(), options)
            .await
            .expect("the session connects");
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");

        let direct = client(&source.remote()).await;
        let mut updates = BTreeMap::<i64, usize>::new();
        let mut resyncs: Vec<Vec<i64>> = Vec::new();
        let mut read_until =
            async |upto: i64, updates: &mut BTreeMap<i64, usize>, resyncs: &mut Vec<Vec<i64>>| {
                let has = |k: i64, u: &BTreeMap<i64, usize>, r: &Vec<Vec<i64>>| {
                    u.contains_key(&k) || r.last().is_some_and(|r| r.contains(&k))
                };
                while !(0..upto).all(|k| has(k, updates, resyncs)) {
                    let event = tokio::time::timeout(STEP, monitor.next())
                        .await
                        .unwrap_or_else(|_| panic!("no update below {upto}; saw {updates:?}"))
                        .expect("the monitor goes on")
                        .expect("no monitor error");
                    match event {
                        SessionEvent::Update(event) => {
                            for key in keys_added(&event.updates) {
                                *updates.entry(key).or_default() += 1;
                            }
                        }
                        SessionEvent::Resync(all) => resyncs.push(keys_added(&all)),
                        SessionEvent::SchemaChanged { schema, .. } => {
                            panic!("a schema change: {schema:?}")
                        }
                    }
                }
            };
        for key in 0..3 {
            insert_item(&direct, key).execute().await.expect("insert");
        }
        read_until(3, &mut updates, &mut resyncs).await;

        relay.kill();
        // Written while the relay is down: the session learns of them from
        // the restarted relay.
        for key in 3..6 {
            insert_item(&direct, key).execute().await.expect("insert");
        }
        relay.restart();
        relay.wait_listening(STEP).await;
        read_until(6, &mut updates, &mut resyncs).await;
        // And through the restarted relay, both ways.
        let via_session = session.client().await.expect("connected");
        insert_item(&via_session, 6)
            .execute()
            .await
            .expect("a transaction through the restarted relay");
        insert_item(&direct, 7).execute().await.expect("insert");
        read_until(8, &mut updates, &mut resyncs).await;

        assert!(session.connections() >= 2);
        // A restarted relay has no history to resume from: one resync, with
        // everything committed before it, and each later row exactly once.
        assert_eq!(resyncs.len(), 1, "one resync: {resyncs:?}");
        let resync = &resyncs[0];
        let mut sorted = resync.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), resync.len(), "no row twice in {resync:?}");
        assert!((0..6).all(|k| resync.contains(&k)), "{resync:?}");
        for key in 0..8 {
            let n = updates.get(&key).copied().unwrap_or(0);
            if key < 3 {
                assert_eq!(n, 1, "key {key} before the restart");
            } else {
                assert_eq!(n + usize::from(resync.contains(&key)), 1, "key {key}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_session_waits_out_a_relay_that_has_not_reached_its_source_yet() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let (mut source, mut relay) = start_source_and_relay(dir.path()).await;
        let options = SessionOptions::default()
            .client(client_options())
            .backoff(Duration::from_millis(20), Duration::from_millis(100))
            .monitor_timeout(STEP)
            .ready_timeout(STEP);
        let session = OvsdbSession::connect(&relay.remote(), options)
            .await
            .expect("the session connects");
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");
        insert_item(&client(&source.remote()).await, 1)
            .execute()
            .await
            .expect("insert");

        // Both go down; the relay comes back first, with no source to read
        // the database from.
        relay.kill();
        source.kill();
        relay.restart();
        relay.wait_listening(STEP).await;
        let status = status_of(&relay.remote()).await.expect("the relay's row");
        assert!(!status.connected, "{status:?}");
        let err = client(&relay.remote())
            .await
            .monitor(DB, all_items())
            .await
            .expect_err("no database yet");
        assert_eq!(
            err.server_error(),
            Some(&ErrorKind::DatabaseNotAvailable),
            "{err:?}"
        );
        // Time for the session to come back to the relay, and be told the
        // same, more than once (its backoff is at most 100 ms).
        tokio::time::sleep(Duration::from_millis(500)).await;

        source.restart();
        source.wait_listening(STEP).await;
        insert_item(&client(&source.remote()).await, 2)
            .execute()
            .await
            .expect("insert");
        // The monitor went on: the first row, then everything again once
        // the relay had the database.
        let mut events = Vec::new();
        loop {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("nothing more after {events:?}"))
                .expect("the monitor goes on")
                .unwrap_or_else(|e| panic!("a monitor error after {events:?}: {e}"));
            let done = matches!(&event, SessionEvent::Resync(all) if keys_added(all).contains(&2))
                || matches!(&event, SessionEvent::Update(u) if keys_added(&u.updates).contains(&2));
            events.push(event);
            if done {
                break;
            }
        }
        let via_session = session.client().await.expect("connected");
        assert_eq!(cluster::keys_in_db(&via_session).await, vec![1, 2]);
    })
    .await;
}

/// How many transactions `server`, a relay, has sent to its source (the
/// `txn_forward_sent` coverage counter; coverage totals are brought up to
/// date about once a second).
fn forwarded(server: &Server) -> u64 {
    let shown = server.appctl(&["coverage/read-counter", "txn_forward_sent"]);
    shown.trim().parse().expect("a count")
}

/// A relay answers "canceled" for a transaction it forwarded when its
/// connection to the source drops (ovsdb/relay.c cancels every sent,
/// unanswered transaction on reconnect, as it may have been lost), whether
/// or not the client is change-aware.
///
/// A `wait` cannot hold the transaction on the source: the relay runs the
/// transaction against its own copy first, and keeps one with an unmet
/// `wait` to itself. So the source is stopped (SIGSTOP) to leave a plain
/// insert unanswered.
#[tokio::test]
async fn a_forwarded_transaction_is_canceled_when_the_relay_loses_its_source() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let (mut source, relay) = start_source_and_relay(dir.path()).await;
        let via_relay = client(&relay.remote()).await;
        let before = forwarded(&relay);
        signal(&source, "STOP");
        let pending = tokio::spawn(insert_item(&via_relay, 1).call_timeout(None).execute());
        let until = Instant::now() + STEP;
        while forwarded(&relay) == before {
            assert!(
                Instant::now() < until,
                "the relay did not forward the transaction"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        source.kill();
        let err = tokio::time::timeout(STEP, pending)
            .await
            .expect("an answer once the source is gone")
            .expect("the call ran")
            .expect_err("canceled");
        assert_eq!(err.server_error(), Some(&ErrorKind::Canceled), "{err:?}");
        assert!(!via_relay.is_closed());
    })
    .await;
}

/// Sends signal `name` (`STOP`, `CONT`) to the server's process.
fn signal(server: &Server, name: &str) {
    let pid = server.pid().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A lock taken through a relay is held on the relay, not on the source
/// (ovsdb-server keeps locks per server): an `assert` of it alone passes,
/// on the relay; with a write, the whole transaction is forwarded, and the
/// source, where the relay's own connection holds no lock, fails the
/// assert with "not owner". Writers that rely on locks must talk to the
/// source.
#[tokio::test]
async fn a_lock_taken_through_a_relay_does_not_hold_on_the_source() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let (source, relay) = start_source_and_relay(dir.path()).await;
        let via_relay = client(&relay.remote()).await;
        let lock = via_relay.lock("writer").await.expect("lock");
        assert!(lock.is_held());
        via_relay
            .transact(DB)
            .assert_lock("writer")
            .execute()
            .await
            .expect("the relay says the lock is ours");
        let err = insert_item(&via_relay, 1)
            .assert_lock("writer")
            .execute()
            .await
            .expect_err("the source says it is not");
        let ClientError::Transaction(t) = &err else {
            panic!("expected a failed transaction: {err:?}");
        };
        assert_eq!((t.index, t.op), (1, "assert"), "{t:?}");
        assert_eq!(t.error.error, ErrorKind::NotOwner, "{t:?}");
        // Nor is it taken there: another client gets it from the source.
        let direct = client(&source.remote()).await;
        let other = direct.lock("writer").await.expect("lock");
        assert!(other.is_held());
    })
    .await;
}

/// Two relays, each of its own member of a three-server cluster; a
/// session (not leader-only) on the first relay, its remotes both relays.
/// The first relay's source is killed, and the relay restarts (it crashed,
/// it was upgraded) without it: up, answering, but its `_Server` row has
/// no schema and says `connected: false`, and it cannot serve the
/// database. The session moves to the second relay, whose source is alive
/// (the two other members are still a cluster), with every acknowledged
/// write in the database once and every row once on its monitor. Moved
/// off the second relay by hand, it passes the first one by, though the
/// first is now the least recently left.
///
/// A relay that loses its source while up says `connected: true` for 30
/// more seconds (ovsdb-server 3.1's `RELAY_MAX_RECONNECTION_MS`, against
/// flapping), so Open vSwitch's clients, and this session, stay on it that
/// long; a test cannot wait for that.
#[tokio::test]
async fn a_session_through_a_relay_that_loses_its_source_moves_to_another_relay() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-relay-")
            .tempdir()
            .expect("a temporary directory");
        let mut servers = cluster::start_cluster(dir.path()).await;
        let leader = cluster::leader_of(&servers).await.expect("a leader");
        // Followers as sources: killing one leaves the cluster its leader.
        let (lost, kept) = ((leader + 1) % 3, (leader + 2) % 3);
        let mut relays = Vec::new();
        for (name, source) in [("r1", lost), ("r2", kept)] {
            let mut relay = Server::start_relay(dir.path(), name, &servers[source].remote());
            relay.wait_listening(STEP).await;
            wait_relay_connected(&relay).await;
            relays.push(relay);
        }
        let first = relays[0].remote();
        let second = relays[1].remote();
        let remotes = format!("{first},{second}");
        let session = OvsdbSession::connect(&remotes, cluster::any_member_options())
            .await
            .expect("the session connects");
        assert_eq!(session.remote(), Some(first.clone()));
        let mut monitor = session.monitor(DB, all_items()).await.expect("monitor");

        const KEYS: i64 = 30;
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let writer = {
            let (session, acked) = (session.clone(), acked.clone());
            tokio::spawn(async move {
                for key in 1..=KEYS {
                    cluster::commit(&session, key).await;
                    acked.store(key, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        while acked.load(std::sync::atomic::Ordering::SeqCst) < KEYS / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        servers[lost].kill();
        relays[0].kill();
        relays[0].restart();
        relays[0].wait_listening(STEP).await;
        let status = status_of(&first).await.expect("the first relay answers");
        assert!(!status.connected && !status.has_schema, "{status:?}");

        let now = cluster::wait_moved_off(&session, &first).await;
        assert_eq!(now, second);
        writer.await.expect("the writer finished");

        // Off the second relay by hand: the first, tried first now, is
        // passed by.
        let connections = session.connections();
        session.disconnect();
        let until = Instant::now() + STEP;
        while session.connections() == connections {
            assert!(Instant::now() < until, "no new connection");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(session.remote(), Some(second.clone()));
        assert_eq!(session.last_move(), None, "nothing moved it off a server");

        let expected: Vec<i64> = (1..=KEYS).collect();
        let client = session.client().await.expect("connected");
        assert_eq!(
            cluster::keys_in_db(&client).await,
            expected,
            "every acknowledged row, each once"
        );
        // Each row once: as a change, or in the one resync (if the second
        // relay could not resume after the first one's last transaction).
        let mut updates = BTreeMap::<i64, usize>::new();
        let mut resyncs: Vec<Vec<i64>> = Vec::new();
        let has = |k: i64, u: &BTreeMap<i64, usize>, r: &Vec<Vec<i64>>| {
            u.contains_key(&k) || r.last().is_some_and(|r| r.contains(&k))
        };
        while !expected.iter().all(|k| has(*k, &updates, &resyncs)) {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("no update; saw {updates:?} and {resyncs:?}"))
                .expect("the monitor goes on")
                .expect("no monitor error");
            match event {
                SessionEvent::Update(event) => {
                    for key in keys_added(&event.updates) {
                        *updates.entry(key).or_default() += 1;
                    }
                }
                SessionEvent::Resync(all) => resyncs.push(keys_added(&all)),
                SessionEvent::SchemaChanged { schema, .. } => {
                    panic!("a schema change: {schema:?}")
                }
            }
        }
        let resync = resyncs.last().cloned().unwrap_or_default();
        for key in &expected {
            let n = updates.get(key).copied().unwrap_or(0);
            // A row seen before a resync comes again in it (the resync
            // replaces the view); past the last one, once.
            let in_resync = resync.contains(key);
            assert!(
                n + usize::from(in_resync) == 1 || (in_resync && n == 1),
                "key {key}: {updates:?} {resyncs:?}"
            );
        }
        eprintln!("resyncs: {}", resyncs.len());
    })
    .await;
}
