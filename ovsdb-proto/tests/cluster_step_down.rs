//! `OvsdbSession` in leader-only mode against a real three-server Raft
//! cluster whose leader steps down and stays up: the session does not go
//! straight back to it.
//!
//! The test reads the session's attempts from its debug events, so it is
//! alone in its test binary: tracing caches per call site whether anyone
//! listens, and a test running alongside could fix that cache before this
//! test's listener is in place.
//!
//! Without ovsdb-server this test fails, saying how to install it.

#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "support/process.rs"]
mod process;

#[allow(dead_code)]
#[path = "support/cluster.rs"]
mod cluster;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{commit, leader_of, session_options, start_cluster, status_of, STEP};
use ovsdb_proto::client::OvsdbSession;
use process::Server;

/// The bound on the test.
const TEST_LIMIT: Duration = Duration::from_secs(25);

/// One debug event: its message, and the remote it names if any.
type Captured = (String, Option<String>);

/// The client's debug events, in order: what the session tried, and why
/// it moved.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<std::sync::Mutex<Vec<Captured>>>,
}

#[derive(Default)]
struct Fields {
    message: String,
    remote: Option<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "remote" => self.remote = Some(format!("{value:?}").trim_matches('"').to_owned()),
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
        self.events
            .lock()
            .unwrap()
            .push((fields.message, fields.remote));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// The leader gives leadership away and stays up, in the cluster and
/// reachable (OVS's own `cluster/failure-test transfer-leadership`, the
/// step-down a leader takes before writing a snapshot). The session sees
/// its `_Server` row say so, and in the attempts that follow tries that
/// server only after the others, though it comes first in the remotes
/// given: it does not go straight back to a server that just lost
/// leadership (which, on a cluster mid-election, may still say it leads).
///
/// The attempts are read from the session's own debug events ("trying a
/// remote"), captured in order: the servers' logs could only be compared
/// by their millisecond timestamps. Whether the session tries the old
/// leader at all depends on how far the election has got (it does, last,
/// in a round that finds no leader), so the test checks the order.
#[tokio::test]
async fn after_a_leader_steps_down_the_session_tries_it_last() {
    let capture = Capture::default();
    // The test runs on one thread, the session's tasks with it.
    let _guard = tracing::subscriber::set_default(capture.clone());
    let test = async {
        let dir = tempfile::Builder::new()
            .prefix("ovsdb-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let servers = start_cluster(dir.path()).await;
        let leader = leader_of(&servers).await.expect("a leader");
        // The leader first: where the session goes, and where a plain
        // in-order reconnect would go back to first.
        let mut order: Vec<&Server> = servers.iter().collect();
        order.rotate_left(leader);
        let remotes = order
            .iter()
            .map(|s| s.remote())
            .collect::<Vec<_>>()
            .join(",");
        let session = OvsdbSession::connect(&remotes, session_options())
            .await
            .expect("the session connects");
        let first = servers[leader].remote();
        assert_eq!(session.remote(), Some(first.clone()));
        assert!(!commit(&session, 1).await);
        let before = capture.events.lock().unwrap().len();

        let ctl = dir.path().join(format!("{}.ctl", servers[leader].name));
        let engaged = tokio::task::spawn_blocking(move || {
            std::process::Command::new(server::tool("ovs-appctl"))
                .arg("--timeout=5")
                .arg("-t")
                .arg(ctl)
                .args(["cluster/failure-test", "transfer-leadership"])
                .output()
        })
        .await
        .expect("ovs-appctl ran")
        .expect("ovs-appctl started");
        assert!(engaged.status.success(), "{engaged:?}");

        let until = Instant::now() + STEP;
        while session.remote().is_none_or(|r| r == first) {
            assert!(Instant::now() < until, "still on {first}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = session.remote().expect("connected");
        assert!(!commit(&session, 2).await);
        // The old leader is up and in the cluster, only no longer leading.
        let old = status_of(&first).await.expect("the old leader answers");
        assert!(old.connected && !old.leader, "{old:?}");

        let events = capture.events.lock().unwrap()[before..].to_vec();
        let moved = events
            .iter()
            .position(|(m, r)| m.contains("no longer leads") && r.as_deref() == Some(&first))
            .unwrap_or_else(|| panic!("the session did not see the step-down: {events:?}"));
        // Each attempt after it, split into rounds at each backoff.
        let mut rounds: Vec<Vec<String>> = vec![Vec::new()];
        for (message, remote) in &events[moved..] {
            if message.contains("backing off") {
                rounds.push(Vec::new());
            } else if message == "trying a remote" {
                let remote = remote.clone().expect("the remote tried");
                rounds.last_mut().expect("a round").push(remote);
            }
        }
        let tried: Vec<&String> = rounds.iter().flatten().collect();
        assert!(
            !tried.is_empty(),
            "no attempt after the step-down: {events:?}"
        );
        assert_ne!(tried[0], &first, "went straight back: {rounds:?}");
        for round in &rounds {
            if let Some(i) = round.iter().position(|r| *r == first) {
                // Only after both others, in a round that found no leader.
                assert_eq!(i, 2, "tried {first} before the others: {rounds:?}");
            }
        }
        assert_eq!(tried.last(), Some(&&now), "{rounds:?}");
        eprintln!("after the step-down: {rounds:?}");
    };
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test ran past its time limit");
}
