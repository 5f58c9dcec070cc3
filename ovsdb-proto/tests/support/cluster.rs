//! A real three-server Raft cluster for a test, and what its tests share:
//! reading each server's `_Server` row, committing through a session
//! until the server says it committed.

use std::path::Path;
use std::time::{Duration, Instant};

use ovsdb_proto::atom::Atom;
use ovsdb_proto::client::{leadership, ClientOptions, OvsdbClient, OvsdbSession, SessionOptions};
use ovsdb_proto::error::ErrorKind;

use super::process::{insert_item, ovsdb_tool, write_schema, Server, DB};

/// How long one step (a start, an election) may take.
pub const STEP: Duration = Duration::from_secs(8);

pub fn client_options() -> ClientOptions {
    ClientOptions::default()
        .connect_timeout(Duration::from_secs(2))
        .call_timeout(Some(Duration::from_secs(3)))
        // A killed server's socket closes at once; no probe needed.
        .probe_interval(None)
}

/// A cluster of three, each server on its own database file, Raft socket
/// and client socket; returned once all three are in touch and one leads.
pub async fn start_cluster(dir: &Path) -> Vec<Server> {
    start_cluster_with(dir, [None; 3]).await
}

/// As [`start_cluster`], with server `n` (from 0) unable to write files
/// past `limits[n]` 512-byte blocks, if given (see
/// [`Server::start_with_file_limit`]): a write to its Raft log that would
/// pass it fails, and the server drops out of the cluster ("failure
/// mode"), still up and answering its clients.
pub async fn start_cluster_with(dir: &Path, limits: [Option<u64>; 3]) -> Vec<Server> {
    let schema = write_schema(dir);
    let schema = schema.to_string_lossy();
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let raft = |n: usize| format!("unix:{}", file(&format!("raft{n}.sock")));
    ovsdb_tool(&["create-cluster", &file("s1.db"), &schema, &raft(1)]);
    for n in [2, 3] {
        let db = file(&format!("s{n}.db"));
        ovsdb_tool(&["join-cluster", &db, DB, &raft(n), &raft(1)]);
    }
    let mut servers: Vec<Server> = (1..=3)
        .map(|n| {
            let name = format!("s{n}");
            let db = dir.join(format!("{name}.db"));
            match limits[n - 1] {
                None => Server::start(dir, &name, &db),
                Some(blocks) => Server::start_with_file_limit(dir, &name, &db, blocks),
            }
        })
        .collect();
    for server in &mut servers {
        server.wait_listening(STEP).await;
    }
    let until = Instant::now() + STEP;
    loop {
        let mut leaders = 0;
        let mut connected = 0;
        for server in &servers {
            if let Some(status) = status_of(&server.remote()).await {
                connected += usize::from(status.connected);
                leaders += usize::from(status.leader && status.connected);
            }
        }
        if connected == 3 && leaders == 1 {
            return servers;
        }
        assert!(
            Instant::now() < until,
            "the cluster did not form: {}",
            servers
                .iter()
                .map(Server::log)
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn status_of(remote: &str) -> Option<ovsdb_proto::client::DatabaseStatus> {
    let client = OvsdbClient::connect_with(remote, client_options())
        .await
        .ok()?;
    let watch = leadership(&client, DB, Duration::from_secs(2)).await.ok()?;
    watch.status().cloned()
}

pub async fn leader_of(servers: &[Server]) -> Option<usize> {
    for (i, server) in servers.iter().enumerate() {
        if status_of(&server.remote())
            .await
            .is_some_and(|s| s.leader && s.connected)
        {
            return Some(i);
        }
    }
    None
}

pub fn remotes(servers: &[Server]) -> String {
    servers
        .iter()
        .map(Server::remote)
        .collect::<Vec<_>>()
        .join(",")
}

pub fn session_options() -> SessionOptions {
    SessionOptions::default()
        .client(client_options())
        .backoff(Duration::from_millis(20), Duration::from_millis(300))
        .monitor_timeout(Duration::from_secs(3))
        .ready_timeout(STEP)
        .leader_only(DB)
}

/// As [`session_options`], but for any member that can serve the
/// database (not only the leader).
pub fn any_member_options() -> SessionOptions {
    SessionOptions::default()
        .client(client_options())
        .backoff(Duration::from_millis(20), Duration::from_millis(300))
        .monitor_timeout(Duration::from_secs(3))
        .ready_timeout(STEP)
        .database(DB)
}

/// Waits until the session is connected somewhere other than `old`, and
/// returns where.
pub async fn wait_moved_off(session: &OvsdbSession, old: &str) -> String {
    let until = Instant::now() + STEP;
    while session.remote().is_none_or(|r| r == old) {
        assert!(
            Instant::now() < until,
            "still on {old} (last move: {:?})",
            session.last_move()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    session.remote().expect("connected")
}

/// Every `key` in the `Item` table, sorted, duplicates kept.
pub async fn keys_in_db(client: &OvsdbClient) -> Vec<i64> {
    let outcome = client
        .transact(DB)
        .select("Item", vec![])
        .execute()
        .await
        .expect("select");
    let mut keys: Vec<i64> = outcome
        .rows(0)
        .expect("the select's rows")
        .iter()
        .map(|row| match row.get("key").and_then(|d| d.as_atom()) {
            Some(Atom::Integer(k)) => *k,
            other => panic!("an Item row without its key: {other:?}"),
        })
        .collect();
    keys.sort_unstable();
    keys
}

/// Commits the row with `key` through `session`, retrying until the
/// server says it committed: now, or earlier (the unique index refuses
/// it again). Returns whether it was the earlier.
pub async fn commit(session: &OvsdbSession, key: i64) -> bool {
    loop {
        let client = session.client().await.expect("a leader in time");
        match insert_item(&client, key).execute().await {
            Ok(_) => return false,
            // The unique index: an earlier try whose reply was lost did
            // commit.
            Err(e) if e.server_error() == Some(&ErrorKind::ConstraintViolation) => return true,
            // Lost, or refused by a server stepping down: unknown whether
            // it committed; try again.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
