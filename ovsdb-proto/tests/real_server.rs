//! The typed client against real ovsdb-server processes (Open vSwitch
//! 3.x, Debian's openvswitch-common): one server per test, on the test
//! schema, over its Unix socket and its TCP port.
//!
//! Without ovsdb-server these tests fail, saying how to install it.

#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use ovsdb_proto::atom::{Atom, Uuid};
use ovsdb_proto::client::{
    ClientError, ClientOptions, LockEvent, MonitorMethod, MonitorState, MonitorStream, OvsdbClient,
    Updates,
};
use ovsdb_proto::condition::{Condition, Function};
use ovsdb_proto::datum::{Datum, Map, Row, Set};
use ovsdb_proto::error::ErrorKind;
use ovsdb_proto::methods::{Cancel, MonitorCancel};
use ovsdb_proto::monitor::{MonitorId, MonitorRequest, MonitorRequests, RowUpdate2};
use ovsdb_proto::mutation::{Mutation, Mutator};
use ovsdb_proto::operation::WaitUntil;
use ovsdb_proto::params::{CancelParams, MonitorIdParams};
use ovsdb_proto::schema::DatabaseSchema;
use server::{bounded, bounded_by, OvsdbServer, STEP};

const DB: &str = "Test";

fn options() -> ClientOptions {
    ClientOptions::default()
        .connect_timeout(STEP)
        .call_timeout(Some(STEP))
}

async fn client(remote: &str) -> OvsdbClient {
    OvsdbClient::connect_with(remote, options())
        .await
        .unwrap_or_else(|e| panic!("connecting to {remote}: {e}"))
}

fn row(columns: &[(&str, Datum)]) -> Row {
    columns
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

fn atom(a: impl Into<Atom>) -> Datum {
    Datum::from(a.into())
}

fn name_is(name: &str) -> Vec<Condition> {
    vec![Condition::new("name", Function::Equal, name)]
}

fn host(name: &str, port: i64) -> Row {
    // address is the name too: (address, port) is an index.
    row(&[
        ("name", atom(name)),
        ("address", atom(name)),
        ("port", atom(port)),
        ("state", atom("up")),
    ])
}

/// Every column of every Host table: one request, all changes.
fn all_hosts() -> MonitorRequests {
    let mut requests = MonitorRequests::new();
    requests.insert("Host".into(), MonitorRequest::default().into());
    requests
}

fn hosts_where(conditions: Vec<Condition>) -> MonitorRequests {
    let mut requests = MonitorRequests::new();
    let request = MonitorRequest {
        columns: Some(vec!["name".into(), "port".into()]),
        conditions: Some(conditions),
        select: None,
    };
    requests.insert("Host".into(), request.into());
    requests
}

/// The next event of `monitor`, within `STEP`.
async fn next_event(monitor: &mut MonitorStream) -> Updates {
    tokio::time::timeout(STEP, monitor.next())
        .await
        .expect("an update within the time limit")
        .expect("the monitor goes on")
        .expect("the update decodes")
        .updates
}

/// The failing operation of a transaction that should fail.
fn transact_error(
    result: Result<ovsdb_proto::client::Outcome, ClientError>,
) -> (usize, &'static str, bool, ErrorKind) {
    match result {
        Err(ClientError::Transaction(t)) => (t.index, t.op, t.at_commit, t.error.error),
        other => panic!("expected a failed transaction, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_dbs_get_schema_and_echo_over_unix_and_tcp() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let text = std::fs::read_to_string(server::schema_path("test.ovsschema")).unwrap();
        let file_schema = DatabaseSchema::from_json(&text).unwrap();
        for remote in [&server.unix, &server.tcp] {
            let c = client(remote).await;
            let dbs = c.list_dbs().await.unwrap();
            assert!(dbs.contains(&"Test".to_owned()), "{dbs:?}");
            assert!(dbs.contains(&"_Server".to_owned()), "{dbs:?}");
            assert_eq!(c.get_schema(DB).await.unwrap(), file_schema);
            let back = c
                .echo(vec![serde_json::json!("ping"), serde_json::json!([1, 2])])
                .await
                .unwrap();
            assert_eq!(
                back,
                vec![serde_json::json!("ping"), serde_json::json!([1, 2])]
            );
            let id = c.get_server_id().await.unwrap();
            assert!(!id.is_nil());
            c.set_db_change_aware(true).await.unwrap();
            let err = c.get_schema("Nope").await.unwrap_err();
            assert_eq!(
                err.server_error(),
                Some(&ErrorKind::UnknownDatabase),
                "{err}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_remotes_are_tried_in_order() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let missing = "unix:/nonexistent/ovsdb.sock";
        let c = client(&format!("{missing},{}", server.tcp)).await;
        assert_eq!(c.remote(), server.tcp);
        assert!(c.list_dbs().await.is_ok());
        match OvsdbClient::connect_with(&format!("{missing},tcp:127.0.0.1:1"), options()).await {
            Err(ClientError::Connect(errors)) => assert_eq!(errors.len(), 2, "{errors:?}"),
            other => panic!("expected a connect error, got {other:?}"),
        }
        assert!(matches!(
            OvsdbClient::connect("bogus:thing").await,
            Err(ClientError::Remote { .. })
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_in_one_transaction_and_after() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        let fixed = Uuid::parse_str("6f1b7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b").unwrap();
        let tags: Set = ["a", "b"].into_iter().map(Atom::from).collect();
        let options: Map = [(Atom::from("k"), Atom::from("v"))].into_iter().collect();
        let mut web = host("web", 80);
        web.insert("tags".into(), tags.into());
        web.insert("options".into(), options.into());
        web.insert("disks".into(), atom(Atom::NamedUuid("d1".into())));
        let outcome = c
            .transact(DB)
            .insert("Disk", row(&[("size", atom(10))]))
            .named("d1")
            .insert("Host", web)
            .named("web")
            .insert("Host", host("db", 5432))
            .with_uuid(fixed)
            .update("Host", name_is("db"), row(&[("enabled", atom(true))]))
            .mutate(
                "Host",
                name_is("web"),
                vec![Mutation::new("port", Mutator::Add, Atom::from(8000))],
            )
            .wait(
                "Host",
                name_is("db"),
                vec!["port".into()],
                WaitUntil::Equal,
                vec![row(&[("port", atom(5432))])],
            )
            .timeout(0)
            .select("Host", vec![Condition::Boolean(true)])
            .columns(["name", "port", "enabled"])
            .comment("every operation")
            .commit(true)
            .execute()
            .await
            .unwrap();
        assert_eq!(outcome.results.len(), 9);
        let web_uuid = outcome.uuid_of("web").expect("named insert");
        assert_eq!(outcome.inserted(1), Some(web_uuid));
        assert_eq!(outcome.inserted(2), Some(fixed));
        assert_eq!(outcome.count(3), Some(1));
        assert_eq!(outcome.count(4), Some(1));
        let mut rows = outcome.rows(6).expect("select rows").to_vec();
        rows.sort_by_key(|r| format!("{:?}", r["name"]));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], atom("db"));
        assert_eq!(rows[0]["enabled"], atom(true));
        assert_eq!(rows[1]["port"], atom(8080));
        assert_eq!(rows[1].len(), 3, "only the asked columns: {:?}", rows[1]);

        // The referenced disk exists, and deleting the host lets it be
        // garbage-collected (Disk is not a root table).
        let after = c
            .transact(DB)
            .select("Disk", vec![Condition::Boolean(true)])
            .delete("Host", name_is("web"))
            .execute()
            .await
            .unwrap();
        assert_eq!(after.rows(0).map(<[Row]>::len), Some(1));
        assert_eq!(after.count(1), Some(1));
        let disks = c
            .transact(DB)
            .select("Disk", vec![Condition::Boolean(true)])
            .execute()
            .await
            .unwrap();
        assert_eq!(disks.rows(0).map(<[Row]>::len), Some(0));

        // An empty transaction is fine.
        let empty = c.transact(DB).execute().await.unwrap();
        assert!(empty.results.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_errors_name_the_operation() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        c.transact(DB)
            .insert("Host", host("a", 1))
            .execute()
            .await
            .unwrap();

        // An unknown column, in the second operation.
        let got = c
            .transact(DB)
            .comment("first")
            .insert("Host", row(&[("nosuch", atom(1))]))
            .execute()
            .await;
        assert_eq!(
            transact_error(got),
            (1, "insert", false, ErrorKind::UnknownColumn)
        );

        // A value outside the column's constraints.
        let got = c.transact(DB).insert("Host", host("p", 0)).execute().await;
        let (index, _, at_commit, kind) = transact_error(got);
        assert_eq!(
            (index, at_commit, kind),
            (0, false, ErrorKind::ConstraintViolation)
        );

        // A wait that does not hold, with no time to wait.
        let got = c
            .transact(DB)
            .wait(
                "Host",
                name_is("a"),
                vec!["port".into()],
                WaitUntil::Equal,
                vec![row(&[("port", atom(2))])],
            )
            .timeout(0)
            .execute()
            .await;
        assert_eq!(transact_error(got), (0, "wait", false, ErrorKind::TimedOut));

        // The same uuid-name twice.
        let got = c
            .transact(DB)
            .insert("Host", host("x", 1))
            .named("n")
            .insert("Host", host("y", 2))
            .named("n")
            .execute()
            .await;
        assert_eq!(
            transact_error(got),
            (1, "insert", false, ErrorKind::DuplicateUuidName)
        );

        // An unknown table is a syntax error; dividing by zero a domain
        // error; a mutation past a set's maximum a constraint violation.
        let got = c.transact(DB).select("Nope", vec![]).execute().await;
        assert_eq!(
            transact_error(got),
            (0, "select", false, ErrorKind::SyntaxError)
        );
        let got = c
            .transact(DB)
            .mutate(
                "Host",
                name_is("a"),
                vec![Mutation::new("port", Mutator::Divide, Atom::from(0))],
            )
            .execute()
            .await;
        assert_eq!(
            transact_error(got),
            (0, "mutate", false, ErrorKind::DomainError)
        );
        // (Each operand fits the column; the result, 5 of at most 4, does not.)
        let scores =
            |r: std::ops::Range<i32>| -> Set { r.map(|i| Atom::Real(f64::from(i))).collect() };
        let got = c
            .transact(DB)
            .mutate(
                "Host",
                name_is("a"),
                vec![
                    Mutation::new("scores", Mutator::Insert, scores(0..3)),
                    Mutation::new("scores", Mutator::Insert, scores(3..5)),
                ],
            )
            .execute()
            .await;
        assert_eq!(
            transact_error(got),
            (0, "mutate", false, ErrorKind::ConstraintViolation)
        );

        // abort, and assert of a lock not held.
        let got = c.transact(DB).comment("x").abort().execute().await;
        assert_eq!(transact_error(got), (1, "abort", false, ErrorKind::Aborted));
        let got = c.transact(DB).assert_lock("nobody").execute().await;
        assert_eq!(
            transact_error(got),
            (0, "assert", false, ErrorKind::NotOwner)
        );

        // Found at commit: a duplicate index value, and a strong reference
        // to no row. Both come as the one extra result.
        let got = c.transact(DB).insert("Host", host("a", 2)).execute().await;
        assert_eq!(
            transact_error(got),
            (1, "commit", true, ErrorKind::ConstraintViolation)
        );
        let mut dangling = host("r", 3);
        dangling.insert(
            "disks".into(),
            atom(Uuid::parse_str("0badc0de-0000-4000-8000-000000000001").unwrap()),
        );
        let got = c
            .transact(DB)
            .comment("dangling")
            .insert("Host", dangling)
            .execute()
            .await;
        let e = match got {
            Err(ClientError::Transaction(t)) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (e.index, e.op, e.at_commit, &e.error.error),
            (2, "commit", true, &ErrorKind::ReferentialIntegrityViolation)
        );
        assert!(e.error.details.is_some(), "the server explains: {e:?}");
        assert!(
            e.to_string().contains("referential integrity violation"),
            "{e}"
        );

        // Not an operation's error but the call's.
        let err = c.transact("Nope").comment("x").execute().await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Server {
                    method: "transact",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.server_error(), Some(&ErrorKind::UnknownDatabase));

        // Misuse of the builder is caught before anything is sent.
        let err = c
            .transact(DB)
            .comment("x")
            .named("n")
            .execute()
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::InvalidRequest(_)), "{err:?}");

        // Nothing of the failed transactions was committed.
        let all = c
            .transact(DB)
            .select("Host", vec![Condition::Boolean(true)])
            .execute()
            .await
            .unwrap();
        assert_eq!(all.rows(0).map(<[Row]>::len), Some(1));
    })
    .await;
}

/// Starts a monitor of every Host column with `method` (and no fallback
/// beyond it).
async fn monitor_with(c: &OvsdbClient, method: MonitorMethod, id: &str) -> MonitorStream {
    let state = MonitorState {
        db: DB.into(),
        id: MonitorId::from(id),
        requests: all_hosts(),
        method,
        last_txn_id: None,
    };
    let monitor = c.resume_monitor(state).await.unwrap();
    assert_eq!(monitor.method(), method);
    monitor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_monitor_flavour_sees_another_clients_changes() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let writer = client(&server.tcp).await;
        writer
            .transact(DB)
            .insert("Host", host("before", 1))
            .execute()
            .await
            .unwrap();
        let watcher = client(&server.unix).await;
        let mut monitors = Vec::new();
        for (method, id) in [
            (MonitorMethod::Monitor, "v1"),
            (MonitorMethod::MonitorCond, "v2"),
            (MonitorMethod::MonitorCondSince, "v3"),
        ] {
            let m = monitor_with(&watcher, method, id).await;
            assert_eq!(m.initial().rows("Host").len(), 1, "{method:?}");
            monitors.push(m);
        }
        assert_eq!(monitors[2].found(), Some(false));

        let inserted = writer
            .transact(DB)
            .insert("Host", host("new", 2))
            .execute()
            .await
            .unwrap()
            .inserted(0)
            .unwrap();
        for m in &mut monitors {
            match next_event(m).await {
                Updates::Update(u) => {
                    let change = &u["Host"][&inserted];
                    assert!(change.old.is_none());
                    assert_eq!(change.new.as_ref().unwrap()["name"], atom("new"));
                }
                Updates::Update2(u) => match &u["Host"][&inserted] {
                    RowUpdate2::Insert(r) => assert_eq!(r["name"], atom("new")),
                    other => panic!("{other:?}"),
                },
            }
        }

        writer
            .transact(DB)
            .update("Host", name_is("new"), row(&[("port", atom(3))]))
            .execute()
            .await
            .unwrap();
        for m in &mut monitors {
            match next_event(m).await {
                Updates::Update(u) => {
                    let change = &u["Host"][&inserted];
                    assert_eq!(change.old.as_ref().unwrap()["port"], atom(2));
                    assert_eq!(change.new.as_ref().unwrap()["port"], atom(3));
                }
                Updates::Update2(u) => match &u["Host"][&inserted] {
                    // Only the changed columns (and `_version`).
                    RowUpdate2::Modify(r) => {
                        assert_eq!(r["port"], atom(3));
                        assert!(!r.contains_key("name"), "{r:?}");
                    }
                    other => panic!("{other:?}"),
                },
            }
        }

        writer
            .transact(DB)
            .delete("Host", name_is("new"))
            .execute()
            .await
            .unwrap();
        for m in &mut monitors {
            match next_event(m).await {
                Updates::Update(u) => {
                    let change = &u["Host"][&inserted];
                    assert!(change.new.is_none() && change.old.is_some());
                }
                Updates::Update2(u) => assert_eq!(u["Host"][&inserted], RowUpdate2::Delete),
            }
        }
        // update3 carried a transaction id, and the state follows it.
        let v3 = &monitors[2];
        assert!(v3.state().last_txn_id.is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_method_is_taken_and_our_own_update_comes_before_our_reply() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        let newest = c.monitor(DB, all_hosts()).await.unwrap();
        assert_eq!(newest.method(), MonitorMethod::MonitorCondSince);
        assert!(newest.initial().is_empty());
        let mut monitors = vec![
            newest,
            monitor_with(&c, MonitorMethod::MonitorCond, "v2").await,
            monitor_with(&c, MonitorMethod::Monitor, "v1").await,
        ];
        for i in 0..10 {
            let uuid = c
                .transact(DB)
                .insert("Host", host(&format!("h{i}"), 1))
                .execute()
                .await
                .unwrap()
                .inserted(0)
                .unwrap();
            for m in &mut monitors {
                // Already on the stream: no waiting.
                let event = m
                    .next()
                    .now_or_never()
                    .expect("the update arrived before the reply")
                    .expect("the monitor goes on")
                    .unwrap();
                assert_eq!(event.updates.rows("Host"), vec![uuid]);
                if let Some(txn) = event.last_txn_id {
                    assert_eq!(m.state().last_txn_id, Some(txn));
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_cond_change_moves_the_window() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let writer = client(&server.tcp).await;
        let out = writer
            .transact(DB)
            .insert("Host", host("a", 1))
            .insert("Host", host("b", 2))
            .execute()
            .await
            .unwrap();
        let (a, b) = (out.inserted(0).unwrap(), out.inserted(1).unwrap());
        let c = client(&server.unix).await;
        let mut monitor = c.monitor(DB, hosts_where(name_is("a"))).await.unwrap();
        assert_eq!(monitor.initial().rows("Host"), vec![a]);

        // A change to a row outside the conditions is not seen; one inside is.
        writer
            .transact(DB)
            .update(
                "Host",
                vec![Condition::Boolean(true)],
                row(&[("port", atom(9))]),
            )
            .execute()
            .await
            .unwrap();
        assert_eq!(next_event(&mut monitor).await.rows("Host"), vec![a]);

        let change = [("Host".to_owned(), name_is("b"))].into_iter().collect();
        monitor.change_conditions(change).await.unwrap();
        // a leaves the window, b enters: on the stream before the reply.
        let event = monitor
            .next()
            .now_or_never()
            .expect("the change's update came before its reply")
            .unwrap()
            .unwrap();
        let Updates::Update2(u) = event.updates else {
            panic!("update2 expected");
        };
        assert_eq!(u["Host"][&a], RowUpdate2::Delete);
        assert!(matches!(&u["Host"][&b], RowUpdate2::Insert(r) if r["name"] == atom("b")));
        // The state keeps the new conditions, for a replay.
        let kept = &monitor.state().requests["Host"].0[0];
        assert_eq!(kept.conditions, Some(name_is("b")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_cancel_stops_the_updates() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        let monitor = monitor_with(&c, MonitorMethod::MonitorCond, "gone").await;
        // A raw view of every update2, to see that none comes after.
        let mut raw = c.peer().subscribe::<ovsdb_proto::methods::Update2>();
        monitor.cancel().await.unwrap();
        c.transact(DB)
            .insert("Host", host("after", 1))
            .execute()
            .await
            .unwrap();
        assert!(
            raw.next().now_or_never().is_none(),
            "no update after cancel"
        );
        // The id is free again: canceling it twice is an error.
        let err = c
            .call::<MonitorCancel>(MonitorIdParams {
                monitor_id: MonitorId::from("gone"),
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.server_error(),
            Some(&ErrorKind::UnknownMonitor),
            "{err}"
        );
        // And it can be used again.
        let again = monitor_with(&c, MonitorMethod::MonitorCond, "gone").await;
        assert_eq!(again.initial().rows("Host").len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_contend_for_a_lock() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let a = client(&server.unix).await;
        let b = client(&server.tcp).await;
        let lock_a = a.lock("leader").await.unwrap();
        assert!(lock_a.is_held());
        let mut lock_b = b.lock("leader").await.unwrap();
        assert!(!lock_b.is_held());
        a.transact(DB)
            .assert_lock("leader")
            .execute()
            .await
            .unwrap();
        let got = b.transact(DB).assert_lock("leader").execute().await;
        assert_eq!(
            transact_error(got),
            (0, "assert", false, ErrorKind::NotOwner)
        );

        // Asking twice without unlocking is a syntax error.
        let err = a.lock("leader").await.unwrap_err();
        assert_eq!(err.server_error(), Some(&ErrorKind::SyntaxError), "{err}");

        // A gives it up: B is told it holds it now.
        lock_a.unlock().await.unwrap();
        tokio::time::timeout(STEP, lock_b.acquired())
            .await
            .expect("locked within the time limit")
            .unwrap();
        assert!(lock_b.is_held());
        b.transact(DB)
            .assert_lock("leader")
            .execute()
            .await
            .unwrap();

        // A steals it: B is told.
        let stolen = a.steal("leader").await.unwrap();
        assert!(stolen.is_held());
        let event = tokio::time::timeout(STEP, lock_b.next())
            .await
            .expect("stolen within the time limit")
            .unwrap()
            .unwrap();
        assert_eq!(event, LockEvent::Stolen);
        assert!(!lock_b.is_held());
        let got = b.transact(DB).assert_lock("leader").execute().await;
        assert_eq!(
            transact_error(got),
            (0, "assert", false, ErrorKind::NotOwner)
        );

        // The thief lets go: B, waiting right behind, gets it back.
        stolen.unlock().await.unwrap();
        let event = tokio::time::timeout(STEP, lock_b.next())
            .await
            .expect("locked again within the time limit")
            .unwrap()
            .unwrap();
        assert_eq!(event, LockEvent::Locked);
        lock_b.unlock().await.unwrap();
    })
    .await;
}

/// ovsdb-server probes a TCP client after 5 s of silence and drops it if
/// the probe goes unanswered. After a multi-megabyte initial dump left
/// unread on its stream, the client sits idle past the probe and must
/// still be connected, having answered it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_probe_is_answered_while_idle_after_a_large_dump() {
    bounded_by(Duration::from_secs(45), async {
        let server = OvsdbServer::start().await;
        let writer = client(&server.unix).await;
        // 100 hosts (the table's maxRows) of 40 kB each: 4 MB.
        let blob = "x".repeat(1000);
        for chunk in 0..4 {
            let mut t = writer.transact(DB);
            for i in 0..25 {
                let options: Map = (0..40)
                    .map(|k| (Atom::from(format!("k{k}")), Atom::from(blob.clone())))
                    .collect();
                let mut r = host(&format!("h{chunk}-{i}"), 1);
                r.insert("options".into(), options.into());
                t = t.insert("Host", r);
            }
            t.execute().await.unwrap();
        }

        // Our own probe off: only the server's probes cross the wire.
        let c = OvsdbClient::connect_with(&server.tcp, options().probe_interval(None))
            .await
            .unwrap();
        let monitor = c.monitor(DB, all_hosts()).await.unwrap();
        assert_eq!(monitor.initial().rows("Host").len(), 100);
        assert!(c.peer().stats().bytes_in > 4_000_000);

        tokio::time::sleep(Duration::from_secs(7)).await;
        assert!(!c.is_closed(), "the server dropped us: {}", server.log());
        assert!(
            c.peer().stats().requests_handled >= 1,
            "the server's echo was answered"
        );
        assert_eq!(c.list_dbs().await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_probe_keeps_a_quiet_connection_checked() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = OvsdbClient::connect_with(
            &server.unix,
            options().probe_interval(Some(Duration::from_millis(200))),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        // The server answered our echoes; the connection is still up.
        let stats = c.peer().stats();
        assert!(stats.calls_sent >= 2, "{stats:?}");
        assert!(!c.is_closed());
        assert!(c.list_dbs().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_past_its_deadline_is_canceled_on_the_server() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        // A wait that never holds and never times out on the server.
        let err = c
            .transact(DB)
            .wait(
                "Host",
                vec![Condition::Boolean(true)],
                vec!["name".into()],
                WaitUntil::Equal,
                vec![row(&[("name", atom("never"))])],
            )
            .call_timeout(Some(Duration::from_millis(300)))
            .execute()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Call {
                    method: "transact",
                    source: jsonrpc_core::CallError::Timeout(_)
                }
            ),
            "{err:?}"
        );
        assert_eq!(c.peer().stats().cancels_sent, 1);
        // The server took the cancel quietly and goes on serving us.
        let out = c
            .transact(DB)
            .insert("Host", host("after", 1))
            .execute()
            .await
            .unwrap();
        assert_eq!(out.results.len(), 1);
        assert!(!c.is_closed());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_remotes_with_certificates_both_ways() {
    bounded(async {
        let (server, pki) = OvsdbServer::start_tls().await;
        assert!(server.tcp.starts_with("ssl:"), "{}", server.tcp);
        let tls = jsonrpc_transport::ClientTls::from_pem_files(
            &pki.ca,
            Some((pki.client_cert.as_path(), pki.client_key.as_path())),
        )
        .unwrap();
        let c = OvsdbClient::connect_with(&server.tcp, options().tls(tls))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
        assert!(c.list_dbs().await.unwrap().contains(&"Test".to_owned()));
        let mut monitor = c.monitor(DB, all_hosts()).await.unwrap();
        let out = c
            .transact(DB)
            .insert("Host", host("tls", 443))
            .execute()
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut monitor).await.rows("Host"),
            vec![out.inserted(0).unwrap()]
        );
        // A second connection with the same settings: ovsdb-server 3.1
        // hands out session tickets but fails a handshake that offers one,
        // so the client must not (it would fail every reconnect).
        let again = OvsdbClient::connect_with(&server.tcp, c.options().clone())
            .await
            .unwrap_or_else(|e| panic!("a second connection: {e}\n{}", server.log()));
        assert!(again.list_dbs().await.unwrap().contains(&"Test".to_owned()));
        // Without TLS settings an ssl: remote is refused before connecting.
        let err = OvsdbClient::connect_with(&server.tcp, options())
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
    })
    .await;
}

/// What a reconnecting layer will do: the monitor's state, kept from a
/// closed connection, starts it again on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitors_state_replays_on_a_new_connection() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let first = client(&server.unix).await;
        let mut monitor = first
            .monitor(DB, hosts_where(name_is("kept")))
            .await
            .unwrap();
        first
            .transact(DB)
            .insert("Host", host("kept", 1))
            .insert("Host", host("other", 2))
            .execute()
            .await
            .unwrap();
        assert_eq!(next_event(&mut monitor).await.rows("Host").len(), 1);
        let state = monitor.state().clone();
        assert!(state.last_txn_id.is_some());
        first.close();
        // The stream ends with its connection.
        assert!(tokio::time::timeout(STEP, monitor.next())
            .await
            .unwrap()
            .is_none());

        let second = client(&server.tcp).await;
        let resumed = second.resume_monitor(state.clone()).await.unwrap();
        assert_eq!(resumed.method(), MonitorMethod::MonitorCondSince);
        // A standalone server keeps no history: all the matching rows again.
        assert_eq!(resumed.found(), Some(false));
        assert_eq!(resumed.initial().rows("Host").len(), 1);
        assert_eq!(resumed.state().requests, state.requests);
    })
    .await;
}

/// A real ovsdb-server serving Open vSwitch's own schema: ours reads the
/// schema as the file has it, builds a bridge with a port and an interface
/// the way `ovs-vsctl add-br` does (named uuids, strong references, a
/// mutation of the root row), sees it through a monitor, and Open
/// vSwitch's own `ovs-vsctl` finds the bridge it made.
#[tokio::test]
async fn vswitch_schema_bridge_made_by_us_is_seen_by_ovs_vsctl() {
    bounded(async {
        let server = OvsdbServer::start_schema("vswitch.ovsschema").await;
        let text = std::fs::read_to_string(server::schema_path("vswitch.ovsschema")).unwrap();
        let file_schema = DatabaseSchema::from_json(&text).unwrap();
        let c = client(&server.unix).await;
        assert_eq!(c.get_schema("Open_vSwitch").await.unwrap(), file_schema);

        let mut bridges = MonitorRequests::new();
        bridges.insert("Bridge".into(), MonitorRequest::default().into());
        let mut monitor = c.monitor("Open_vSwitch", bridges).await.unwrap();

        let named = |name: &str| Datum::from(Atom::NamedUuid(name.into()));
        let done = c
            .transact("Open_vSwitch")
            .insert("Open_vSwitch", Row::new())
            .named("ovs")
            .insert(
                "Interface",
                row(&[("name", atom("br0")), ("type", atom("internal"))]),
            )
            .named("iface")
            .insert(
                "Port",
                row(&[("name", atom("br0")), ("interfaces", named("iface"))]),
            )
            .named("port")
            .insert(
                "Bridge",
                row(&[("name", atom("br0")), ("ports", named("port"))]),
            )
            .named("bridge")
            .mutate(
                "Open_vSwitch",
                Vec::new(),
                vec![Mutation::new("bridges", Mutator::Insert, named("bridge"))],
            )
            .comment("ovsdb-proto: add-br br0")
            .execute()
            .await
            .unwrap();
        let bridge = done.uuid_of("bridge").expect("the bridge's uuid");
        let seen = next_event(&mut monitor).await;
        assert_eq!(seen.rows("Bridge"), vec![bridge]);

        let vsctl = server::tool("ovs-vsctl");
        let out = std::process::Command::new(&vsctl)
            .arg(format!("--db={}", server.unix))
            .args(["--no-wait", "--timeout=5", "list-br"])
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", vsctl.display()));
        assert!(
            out.status.success(),
            "ovs-vsctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "br0\n");
        let ports = std::process::Command::new(&vsctl)
            .arg(format!("--db={}", server.unix))
            .args(["--no-wait", "--timeout=5", "list-ports", "br0"])
            .output()
            .unwrap();
        // A bridge's own local port is not listed among its ports.
        assert!(
            ports.status.success(),
            "{}",
            String::from_utf8_lossy(&ports.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&ports.stdout), "");
    })
    .await;
}

/// The error cases the server reaches through operations ours cannot even
/// build wrong: an integer mutation out of range, a write to the read-only
/// `_Server` database, and (sent as raw JSON, since our sets cannot hold a
/// repeat) a set with a duplicate element.
#[tokio::test]
async fn range_not_allowed_and_ovsdb_errors() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        let mut big = host("big", 1);
        big.insert("seen".into(), atom(i64::MAX));
        let overflow = c
            .transact(DB)
            .insert("Host", big)
            .mutate(
                "Host",
                name_is("big"),
                vec![Mutation::new("seen", Mutator::Add, atom(1))],
            )
            .execute()
            .await;
        assert_eq!(
            transact_error(overflow),
            (1, "mutate", false, ErrorKind::RangeError)
        );
        let reserved = c
            .transact("_Server")
            .delete("Database", Vec::new())
            .execute()
            .await;
        assert_eq!(
            transact_error(reserved),
            (0, "delete", false, ErrorKind::NotAllowed)
        );
        let raw = jsonrpc_core::RawJson::parse(
            r#"["Test",{"op":"insert","table":"Host","row":{"name":"d","address":"d","port":3,"state":"up","tags":["set",["x","x"]]}}]"#,
        )
        .unwrap();
        let reply = c
            .peer()
            .call_raw("transact", Some(raw), Some(STEP))
            .await
            .unwrap();
        let results: Vec<serde_json::Value> = reply.decode().unwrap();
        assert_eq!(results[0]["error"], "ovsdb error", "{results:?}");
        let kind: ErrorKind = serde_json::from_value(results[0]["error"].clone()).unwrap();
        assert_eq!(kind, ErrorKind::OvsdbError);
    })
    .await;
}

/// A byte stream that keeps a copy of everything written to it: what the
/// client sent, to read a request's id from.
struct Recorder<T> {
    inner: T,
    written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Recorder<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Recorder<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.written.lock().unwrap().extend_from_slice(&buf[..*n]);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The ids of the `method` requests among the messages in `written`.
fn ids_of(written: &[u8], method: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_slice(written)
        .into_iter::<serde_json::Value>()
        .map_while(Result::ok)
        .filter(|m| m["method"] == method)
        .map(|m| m["id"].clone())
        .collect()
}

/// A `wait` that never holds, with no timeout: the transaction stays
/// pending on the server until canceled.
fn waits_for_ever(c: &OvsdbClient) -> ovsdb_proto::client::Transaction {
    c.transact(DB)
        .wait(
            "Host",
            vec![Condition::Boolean(true)],
            vec!["name".into()],
            WaitUntil::Equal,
            vec![row(&[("name", atom("never"))])],
        )
        .call_timeout(None)
}

/// RFC 7047's `cancel` as ovsdb-server 3.1 takes it (ovsdb/jsonrpc-server.c:
/// the trigger named by the id is completed; a change-aware session's
/// unfinished one is canceled and answered `{"error": "canceled"}`).
/// The client has no call for it of its own (dropping a transaction's
/// future, or its deadline, sends it, and nobody is left to read the
/// answer), so the test sends it through the peer, naming the id it read
/// off the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_naming_a_pending_transaction_fails_it_with_canceled() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let path = server.unix.strip_prefix("unix:").expect("a unix: remote");
        let written = std::sync::Arc::default();
        let stream = Recorder {
            inner: tokio::net::UnixStream::connect(path)
                .await
                .expect("connect"),
            written: std::sync::Arc::clone(&written),
        };
        let c = OvsdbClient::over(stream, options().probe_interval(None));
        // Without it the server answers a canceled transaction not at all.
        c.set_db_change_aware(true)
            .await
            .expect("set_db_change_aware");

        let pending = tokio::spawn(waits_for_ever(&c).execute());
        let until = std::time::Instant::now() + STEP;
        let id = loop {
            if let [id] = ids_of(&written.lock().unwrap(), "transact").as_slice() {
                break id.clone();
            }
            assert!(
                std::time::Instant::now() < until,
                "the transact was not sent"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // The server reads the connection in order: the transaction is
        // pending by the time it reads this.
        c.peer()
            .notify::<Cancel>(CancelParams { id })
            .await
            .expect("the cancel is sent");

        let err = tokio::time::timeout(STEP, pending)
            .await
            .expect("an answer to the canceled transaction")
            .expect("the call ran")
            .expect_err("canceled");
        assert!(
            matches!(
                err,
                ClientError::Server {
                    method: "transact",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.server_error(), Some(&ErrorKind::Canceled), "{err:?}");
        // The connection goes on.
        assert!(c.list_dbs().await.unwrap().contains(&DB.to_owned()));
    })
    .await;
}

/// The other way a change-aware client meets "canceled", through nothing
/// but the client's own calls: its transaction still waiting when the
/// database is converted to a new schema (ovsdb/trigger.c cancels every
/// pending transaction of a database being replaced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_transaction_is_canceled_by_a_conversion_of_its_database() {
    bounded(async {
        let server = OvsdbServer::start().await;
        let c = client(&server.unix).await;
        c.set_db_change_aware(true)
            .await
            .expect("set_db_change_aware");
        let pending = tokio::spawn(waits_for_ever(&c).execute());

        let admin = client(&server.unix).await;
        let mut schema = admin.get_schema(DB).await.expect("get_schema");
        // Waiting on the server before the conversion: the server answers
        // `c`'s calls in order, so once this echo is back the transaction
        // has been read.
        c.echo(vec![]).await.expect("echo");
        schema.version = "1.2.4".parse().expect("a version");
        admin
            .call::<ovsdb_proto::methods::Convert>(ovsdb_proto::params::ConvertParams {
                db: DB.into(),
                schema,
            })
            .await
            .expect("convert");

        let err = tokio::time::timeout(STEP, pending)
            .await
            .expect("an answer to the canceled transaction")
            .expect("the call ran")
            .expect_err("canceled");
        assert_eq!(err.server_error(), Some(&ErrorKind::Canceled), "{err:?}");
        // Change-aware, the client keeps its connection across the
        // conversion, and sees the new schema.
        assert!(!c.is_closed());
        let now = c.get_schema(DB).await.expect("get_schema");
        assert_eq!(now.version.to_string(), "1.2.4");
    })
    .await;
}
