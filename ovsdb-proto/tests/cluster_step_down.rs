//! `OvsdbSession` in leader-only mode against a real three-server Raft
//! cluster whose leader stops leading and stays up: it steps down, or it
//! is paused (SIGSTOP) past the election timeout. The session does not go
//! straight back to it, though it comes first in the remotes given.
//!
//! Also, read the same way: a server whose copy went back in time is
//! passed by as stale.
//!
//! The attempts are read from the session's own debug events ("trying a
//! remote"), captured in order: the servers' logs could only be compared
//! by their millisecond timestamps. Whether the session tries the old
//! leader at all depends on how far the election has got (it does, last,
//! in a round that finds no leader), so the tests check the order.
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

use std::cell::RefCell;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cluster::{
    any_member_options, client_options, commit, keys_in_db, leader_of, session_options,
    start_cluster, status_of, STEP,
};
use ovsdb_proto::client::{OvsdbSession, SessionOptions};
use process::Server;
use server::bounded;

/// One debug event: its message (with the reason it gives, if any, after
/// a colon), and the remote it names if any.
type Captured = (String, Option<String>);

thread_local! {
    /// This thread's events. A test runs on one thread (tokio's
    /// current-thread runtime), its session's tasks with it.
    static EVENTS: RefCell<Vec<Captured>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the client's debug events, each in its thread's [`EVENTS`].
///
/// Installed once for the whole process, before any test reaches an
/// event: tracing caches per call site whether anyone listens, so a
/// listener installed later could miss a call site another test reached
/// first.
struct Capture;

fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture).expect("the only subscriber");
    });
}

/// This thread's events so far.
fn events() -> Vec<Captured> {
    EVENTS.with(|e| e.borrow().clone())
}

#[derive(Default)]
struct Fields {
    message: String,
    remote: Option<String>,
    reason: Option<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "remote" => self.remote = Some(format!("{value:?}").trim_matches('"').to_owned()),
            "reason" => self.reason = Some(format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "remote" => self.remote = Some(value.to_owned()),
            _ => {}
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("ovsdb_proto::client")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = match fields.reason {
            Some(reason) => format!("{}: {reason}", fields.message),
            None => fields.message,
        };
        EVENTS.with(|e| e.borrow_mut().push((message, fields.remote)));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A session whose remotes start with the leader's, connected to it, and
/// that leader's index.
async fn session_on_the_leader_listed_first(
    servers: &[Server],
    options: SessionOptions,
) -> (OvsdbSession, usize) {
    let leader = leader_of(servers).await.expect("a leader");
    // The leader first: where the session goes, and where a plain
    // in-order reconnect would go back to first.
    let mut order: Vec<&Server> = servers.iter().collect();
    order.rotate_left(leader);
    let remotes = order
        .iter()
        .map(|s| s.remote())
        .collect::<Vec<_>>()
        .join(",");
    let session = OvsdbSession::connect(&remotes, options)
        .await
        .expect("the session connects");
    assert_eq!(session.remote(), Some(servers[leader].remote()));
    (session, leader)
}

/// Waits until the session is connected somewhere other than `old`.
async fn wait_moved_off(session: &OvsdbSession, old: &str) -> String {
    let until = Instant::now() + STEP;
    while session.remote().is_none_or(|r| r == old) {
        assert!(Instant::now() < until, "still on {old}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    session.remote().expect("connected")
}

/// Checks the attempts among `events` (from the one that says the session
/// left `old`): `old` is never tried first, and in a round (attempts
/// between two backoffs) only after both others; the last attempt is
/// `now`, where the session is.
fn assert_tried_last(events: &[Captured], left: &str, old: &str, now: &str) {
    let from = events
        .iter()
        .position(|(m, r)| m.contains(left) && r.as_deref() == Some(old))
        .unwrap_or_else(|| panic!("the session did not leave {old}: {events:?}"));
    let mut rounds: Vec<Vec<String>> = vec![Vec::new()];
    for (message, remote) in &events[from..] {
        if message.contains("backing off") {
            rounds.push(Vec::new());
        } else if message == "trying a remote" {
            let remote = remote.clone().expect("the remote tried");
            rounds.last_mut().expect("a round").push(remote);
        }
    }
    let tried: Vec<&String> = rounds.iter().flatten().collect();
    assert!(!tried.is_empty(), "no attempt after leaving: {events:?}");
    assert_ne!(tried[0], old, "went straight back: {rounds:?}");
    for round in &rounds {
        if let Some(i) = round.iter().position(|r| r == old) {
            // Only after both others, in a round that found no leader.
            assert_eq!(i, 2, "tried {old} before the others: {rounds:?}");
        }
    }
    assert_eq!(tried.last().map(|s| s.as_str()), Some(now), "{rounds:?}");
    eprintln!("after leaving {old}: {rounds:?}");
}

fn appctl_blocking(ctl: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(server::tool("ovs-appctl"))
        .arg("--timeout=5")
        .arg("-t")
        .arg(ctl)
        .args(args)
        .output()
        .expect("ovs-appctl started")
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

/// The leader gives leadership away and stays up, in the cluster and
/// reachable (OVS's own `cluster/failure-test transfer-leadership`, the
/// step-down a leader takes before writing a snapshot). The session sees
/// its `_Server` row say so and moves, trying that server last.
#[tokio::test]
async fn after_a_leader_steps_down_the_session_tries_it_last() {
    capture();
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let servers = start_cluster(dir.path()).await;
        let (session, leader) =
            session_on_the_leader_listed_first(&servers, session_options()).await;
        let old = servers[leader].remote();
        assert!(!commit(&session, 1).await);
        let before = events().len();

        let ctl = dir.path().join(format!("{}.ctl", servers[leader].name));
        let engaged = tokio::task::spawn_blocking(move || {
            appctl_blocking(&ctl, &["cluster/failure-test", "transfer-leadership"])
        })
        .await
        .expect("ovs-appctl ran");
        assert!(engaged.status.success(), "{engaged:?}");

        let now = wait_moved_off(&session, &old).await;
        assert!(!commit(&session, 2).await);
        // The old leader is up and in the cluster, only no longer leading.
        let status = status_of(&old).await.expect("the old leader answers");
        assert!(status.connected && !status.leader, "{status:?}");
        assert_tried_last(&events()[before..], "can no longer serve", &old, &now);
    })
    .await;
}

/// The leader is paused (SIGSTOP) until the others elect a new one: the
/// session's probe finds it silent and drops it, and the session tries it
/// last. A paused leader cannot say it lost leadership, and once resumed
/// it says `leader: true` for a moment before it hears of the new term;
/// trying it first would also cost a whole monitor deadline per round
/// while it is paused (its socket still accepts).
#[tokio::test]
async fn a_leader_paused_past_the_election_is_tried_last() {
    capture();
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let servers = start_cluster(dir.path()).await;
        let options = session_options().client(
            client_options()
                .probe_interval(Some(Duration::from_millis(300)))
                .connect_timeout(Duration::from_secs(1)),
        );
        let (session, leader) = session_on_the_leader_listed_first(&servers, options).await;
        let old = servers[leader].remote();
        assert!(!commit(&session, 1).await);
        let before = events().len();

        signal(&servers[leader], "STOP");
        let now = wait_moved_off(&session, &old).await;
        assert!(!commit(&session, 2).await);
        signal(&servers[leader], "CONT");
        assert_tried_last(&events()[before..], "connection lost", &old, &now);
    })
    .await;
}

/// A clustered server whose copy goes back in time (restored from an
/// older copy of its file) is stale to a session that has seen a later
/// log index of the database: the session does not take it, as Open
/// vSwitch's clients do not, until told to forget the index
/// (`reset_min_index`, for a cluster restored on purpose).
#[tokio::test]
async fn a_server_whose_copy_went_back_in_time_is_stale_until_the_index_is_reset() {
    capture();
    bounded(async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let schema = process::write_schema(dir.path());
        let db = dir.path().join("x.db");
        let raft = format!("unix:{}", dir.path().join("x.raft").display());
        process::ovsdb_tool(&[
            "create-cluster",
            &db.to_string_lossy(),
            &schema.to_string_lossy(),
            &raft,
        ]);
        let mut server = Server::start(dir.path(), "x", &db);
        server.wait_listening(STEP).await;
        process::wait_leader(&server.remote(), STEP).await;
        let remote = server.remote();
        let old_index = status_of(&remote)
            .await
            .and_then(|s| s.index)
            .expect("an index");
        // The copy to go back to, before any write.
        let backup = dir.path().join("x.db.old");
        std::fs::copy(&db, &backup).expect("copying the database file");

        let session = OvsdbSession::connect(&remote, any_member_options())
            .await
            .expect("the session connects");
        for key in 1..=10 {
            assert!(!commit(&session, key).await);
        }
        let new_index = status_of(&remote)
            .await
            .and_then(|s| s.index)
            .expect("an index");
        assert!(new_index >= old_index + 10, "{old_index} -> {new_index}");
        // Reconnected, the session reads the later index at once.
        let connections = session.connections();
        session.disconnect();
        let until = Instant::now() + STEP;
        while session.connections() == connections {
            assert!(Instant::now() < until, "no new connection");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = events().len();

        server.kill();
        std::fs::copy(&backup, &db).expect("restoring the older file");
        server.restart();
        server.wait_listening(STEP).await;
        process::wait_leader(&remote, STEP).await;
        let restored = status_of(&remote)
            .await
            .and_then(|s| s.index)
            .expect("an index");
        assert!(restored < new_index, "{restored} < {new_index}");

        // Up and leading, yet passed by as stale.
        let until = Instant::now() + STEP;
        while !events()[before..].iter().any(|(m, r)| {
            m.contains("cannot serve the session")
                && m.contains("older")
                && r.as_deref() == Some(&remote)
        }) {
            assert!(
                Instant::now() < until,
                "not found stale: {:?}",
                &events()[before..]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(session.remote(), None);

        session.reset_min_index();
        let client = session.client().await.expect("connected once reset");
        assert_eq!(session.remote(), Some(remote));
        // The restored copy: the rows written after the backup are gone.
        assert_eq!(keys_in_db(&client).await, Vec::<i64>::new());
    })
    .await;
}
