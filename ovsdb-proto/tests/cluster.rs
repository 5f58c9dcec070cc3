//! `OvsdbSession` in leader-only mode against a real three-server Raft
//! cluster on Unix sockets: it connects to the leader, and when the
//! leader is killed with SIGKILL the writer fails over to the new one
//! with every acknowledged row in the database exactly once.
//!
//! A transaction whose reply the failover lost may or may not have
//! committed. The writer retries it as it was: the table's unique index on
//! `key` turns a second commit into a "constraint violation" at commit,
//! which the writer reads as "already committed". That needs one round
//! trip and no window between a check and the insert (as a `select`
//! first would have), and the server, not the client, decides.
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

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{
    any_member_options, commit, keys_in_db, leader_of, remotes, session_options, start_cluster,
    status_of, wait_moved_off, STEP,
};
use futures::StreamExt;
use ovsdb_proto::client::{Moved, OvsdbSession, SessionEvent, Unusable};
use ovsdb_proto::error::ErrorKind;
use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
use process::{insert_item, keys_added, Server, DB};
use server::bounded;

#[tokio::test]
async fn leader_only_connects_to_the_leader_whichever_remote_comes_first() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let servers = start_cluster(dir.path()).await;
        let leader = leader_of(&servers).await.expect("a leader");
        // The followers first: the session must pass them by.
        let mut order: Vec<&Server> = servers.iter().collect();
        order.rotate_left((leader + 1) % 3);
        let remotes = order
            .iter()
            .map(|s| s.remote())
            .collect::<Vec<_>>()
            .join(",");
        let session = OvsdbSession::connect(&remotes, session_options())
            .await
            .expect("the session connects");
        assert_eq!(session.remote(), Some(servers[leader].remote()));
        let client = session.client().await.expect("connected");
        insert_item(&client, 1).execute().await.expect("insert");
        assert_eq!(keys_in_db(&client).await, vec![1]);
    })
    .await;
}

#[tokio::test]
async fn a_writer_fails_over_when_the_leader_is_killed_and_loses_nothing() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let mut servers = start_cluster(dir.path()).await;
        let session = OvsdbSession::connect(&remotes(&servers), session_options())
            .await
            .expect("the session connects");
        let first = session.remote().expect("connected");

        const KEYS: i64 = 60;
        let acked = Arc::new(AtomicI64::new(0));
        let writer = {
            let (session, acked) = (session.clone(), acked.clone());
            tokio::spawn(async move {
                let mut already_committed = 0;
                for key in 1..=KEYS {
                    already_committed += usize::from(commit(&session, key).await);
                    acked.store(key, Ordering::SeqCst);
                }
                already_committed
            })
        };

        // Kill the leader in the middle of the writes.
        while acked.load(Ordering::SeqCst) < KEYS / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = servers
            .iter()
            .position(|s| s.remote() == first)
            .expect("the session is on one of the servers");
        servers[killed].kill();
        let already_committed = writer.await.expect("the writer finished");

        let now = session.remote().expect("connected");
        assert_ne!(now, first, "moved off the killed leader");
        assert!(session.connections() >= 2);
        let client = session.client().await.expect("connected");
        let keys = keys_in_db(&client).await;
        let expected: Vec<i64> = (1..=KEYS).collect();
        assert_eq!(keys, expected, "every acknowledged row, each once");
        // What makes the retry safe: a second commit of a key is refused.
        let again = insert_item(&client, 1)
            .execute()
            .await
            .expect_err("a duplicate");
        assert_eq!(
            again.server_error(),
            Some(&ErrorKind::ConstraintViolation),
            "{again}"
        );
        // The new leader is one of the survivors, and says so.
        let status = status_of(&now).await.expect("the new leader's status");
        assert!(status.leader && status.connected, "{status:?}");
        eprintln!("failover: {already_committed} found already committed on retry");
    })
    .await;
}

#[tokio::test]
async fn the_session_follows_leadership_when_the_leader_leaves_and_its_monitor_goes_on() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let servers = start_cluster(dir.path()).await;
        let session = OvsdbSession::connect(&remotes(&servers), session_options())
            .await
            .expect("the session connects");
        let first = session.remote().expect("connected");
        let mut requests = MonitorRequests::new();
        requests.insert("Item".into(), MonitorRequest::default().into());
        let mut monitor = session.monitor(DB, requests).await.expect("monitor");
        assert!(!commit(&session, 1).await);

        // The leader hands leadership over and leaves: its _Server row says
        // it no longer leads, while it keeps its clients connected (its log
        // shows no disconnection), so only the row can move the session.
        let leader = servers
            .iter()
            .position(|s| s.remote() == first)
            .expect("the session is on one of the servers");
        let ctl = dir.path().join(format!("{}.ctl", servers[leader].name));
        let left = tokio::task::spawn_blocking(move || {
            std::process::Command::new(server::tool("ovs-appctl"))
                .arg("--timeout=5")
                .arg("-t")
                .arg(ctl)
                .args(["cluster/leave", DB])
                .output()
        })
        .await
        .expect("ovs-appctl ran")
        .expect("ovs-appctl started");
        assert!(left.status.success(), "{left:?}");

        let until = Instant::now() + STEP;
        while session.remote().is_none_or(|r| r == first) {
            assert!(Instant::now() < until, "still on {first}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = session.remote().expect("connected");
        let status = status_of(&now).await.expect("the new leader's status");
        assert!(status.leader && status.connected, "{status:?}");
        assert!(!commit(&session, 2).await);

        // The monitor moved with the session, resumed after its last
        // transaction: each row once, no resync.
        let mut seen = std::collections::BTreeMap::<i64, usize>::new();
        while !(seen.contains_key(&1) && seen.contains_key(&2)) {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("no update; saw {seen:?}"))
                .expect("the monitor goes on")
                .expect("no monitor error");
            match event {
                SessionEvent::Update(event) => {
                    for key in keys_added(&event.updates) {
                        *seen.entry(key).or_default() += 1;
                    }
                }
                SessionEvent::Resync(all) => panic!("a resync: {all:?}"),
                SessionEvent::SchemaChanged { schema, .. } => {
                    panic!("a schema change: {schema:?}")
                }
            }
        }
        assert_eq!(seen, [(1, 1), (2, 1)].into_iter().collect());
    })
    .await;
}

/// A session that is not leader-only, on a member that drops out of the
/// cluster while the two others go on: the member, the leader, cannot
/// write its Raft log (a file size limit standing for a full or failing
/// disk), so Raft enters its failure mode. The member stays up, keeps its
/// clients connected and keeps serving its copy, which no longer changes,
/// but its `_Server` row says `connected: false`; the two others elect a
/// new leader. The session moves to one of them, with every acknowledged
/// write in the database once and every row once on its monitor, resumed
/// after its last transaction.
///
/// (A follower that cannot write an entry it is sent only answers the
/// leader with an error, and stays connected: ovsdb-server 3.1 enters
/// failure mode on a failed write of its own entry or of a new term.)
#[tokio::test]
async fn a_session_on_a_member_cut_off_from_its_cluster_moves_to_another_member() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        // s1 may write 256 blocks (128 KiB where a block is 512 bytes):
        // room for the cluster and the small writes; not for a 200 KiB one.
        let servers = cluster::start_cluster_with(dir.path(), [Some(256), None, None]).await;
        let cut = 0;
        // s1 created the cluster, and the others joined it: it leads.
        assert_eq!(leader_of(&servers).await, Some(cut));
        let first = servers[cut].remote();
        let remotes = remotes(&servers);
        let session = OvsdbSession::connect(&remotes, any_member_options())
            .await
            .expect("the session connects");
        assert_eq!(session.remote(), Some(first.clone()));
        let mut requests = MonitorRequests::new();
        requests.insert("Item".into(), MonitorRequest::default().into());
        let mut monitor = session.monitor(DB, requests).await.expect("monitor");

        const KEYS: i64 = 40;
        let acked = Arc::new(AtomicI64::new(0));
        let writer = {
            let (session, acked) = (session.clone(), acked.clone());
            tokio::spawn(async move {
                for key in 1..=KEYS {
                    commit(&session, key).await;
                    acked.store(key, Ordering::SeqCst);
                }
            })
        };
        while acked.load(Ordering::SeqCst) < KEYS / 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A write too big for s1's log: the leader fails to write it.
        let big = ovsdb_proto::client::OvsdbClient::connect_with(&first, cluster::client_options())
            .await
            .expect("connects");
        let long = "x".repeat(200 * 1024);
        // Its reply is not waited for: the leader in failure mode never
        // sends one.
        let too_big =
            tokio::spawn(async move { insert_item(&big, 1000).comment(&long).execute().await });

        let now = wait_moved_off(&session, &first).await;
        assert_eq!(
            session.last_move(),
            Some(Moved {
                remote: first.clone(),
                reason: Unusable::Disconnected,
            })
        );
        let status = status_of(&now).await.expect("the new server's status");
        assert!(status.connected, "{status:?}");
        // The member left behind is up, and says it is cut off.
        let left = status_of(&first).await.expect("the cut-off member answers");
        assert!(!left.connected, "{left:?}");
        assert!(
            servers[cut].log().contains("entering failure mode"),
            "{}",
            servers[cut].log()
        );

        writer.await.expect("the writer finished");
        too_big.abort();
        let client = session.client().await.expect("connected");
        // Not the one too big to write.
        let expected: Vec<i64> = (1..=KEYS).collect();
        assert_eq!(
            keys_in_db(&client).await,
            expected,
            "every acknowledged row, each once"
        );
        let mut seen = std::collections::BTreeMap::<i64, usize>::new();
        while !expected.iter().all(|k| seen.contains_key(k)) {
            let event = tokio::time::timeout(STEP, monitor.next())
                .await
                .unwrap_or_else(|_| panic!("no update; saw {seen:?}"))
                .expect("the monitor goes on")
                .expect("no monitor error");
            match event {
                SessionEvent::Update(event) => {
                    for key in keys_added(&event.updates) {
                        *seen.entry(key).or_default() += 1;
                    }
                }
                SessionEvent::Resync(all) => panic!("a resync: {all:?}"),
                SessionEvent::SchemaChanged { schema, .. } => {
                    panic!("a schema change: {schema:?}")
                }
            }
        }
        let once: std::collections::BTreeMap<i64, usize> =
            expected.iter().map(|k| (*k, 1)).collect();
        assert_eq!(seen, once, "each row once on the monitor");
    })
    .await;
}

/// Two clusters (of one server each) with a database of the same name; a
/// session for the second cluster's id, its remotes the first cluster's
/// server first: it passes the first by, at first and on a reconnect
/// (where the first is the least recently left), as a server of another
/// cluster.
#[tokio::test]
async fn a_session_for_one_cluster_passes_by_another_clusters_server() {
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let schema = process::write_schema(dir.path());
        let mut servers = Vec::new();
        for name in ["a", "b"] {
            let db = dir.path().join(format!("{name}.db"));
            let raft = format!("unix:{}", dir.path().join(format!("{name}.raft")).display());
            process::ovsdb_tool(&[
                "create-cluster",
                &db.to_string_lossy(),
                &schema.to_string_lossy(),
                &raft,
            ]);
            let mut server = Server::start(dir.path(), name, &db);
            server.wait_listening(STEP).await;
            process::wait_leader(&server.remote(), STEP).await;
            servers.push(server);
        }
        let (first, second) = (servers[0].remote(), servers[1].remote());
        let cid_of = async |remote: &str| {
            status_of(remote)
                .await
                .and_then(|s| s.cid)
                .expect("a clustered server's cid")
        };
        let wanted = cid_of(&second).await;
        assert_ne!(cid_of(&first).await, wanted);
        let session = OvsdbSession::connect(
            &format!("{first},{second}"),
            any_member_options().cluster_id(wanted),
        )
        .await
        .expect("the session connects");
        assert_eq!(session.remote(), Some(second.clone()));
        assert!(!commit(&session, 1).await);

        let connections = session.connections();
        session.disconnect();
        let until = Instant::now() + STEP;
        while session.connections() == connections {
            assert!(Instant::now() < until, "no new connection");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(session.remote(), Some(second.clone()));
        let client = session.client().await.expect("connected");
        assert_eq!(keys_in_db(&client).await, vec![1]);
    })
    .await;
}
