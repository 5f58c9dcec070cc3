//! Interoperability with Open vSwitch's python `ovs.jsonrpc` (JSON-RPC 1.0,
//! the library OVS's own python tools and `ovs.db.idl` speak through), in
//! both directions, over Unix sockets and TCP loopback, with the raw JSON
//! stream framing OVSDB uses.
//!
//! * `ovs_python_client_*`: `tests/peers/ovs/ovs_client.py` is a client of our
//!   [`Server`]. It checks every result and error value it receives, answers
//!   our server's calls back to it (`echo` through `ovs.jsonrpc.Session`'s
//!   built-in reply, `py.add` and `py.fail` by hand), and reports what it saw
//!   as one `RESULT {...}` line, which is asserted here too.
//! * `ovs_python_server_*`: `tests/peers/ovs/ovs_server.py` listens with
//!   `ovs.stream.PassiveStream`, and our client ([`connect`] +
//!   [`Stream::into_peer`](jsonrpc_transport::Stream::into_peer)) calls it.
//!
//! The peer needs Debian's `python3-openvswitch` for `/usr/bin/python3`
//! (`scripts/install/ovs.sh`, run by `scripts/install-test-deps.sh`). A test
//! whose peer is missing fails and says how to install it: it never passes
//! without having talked to the real library.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::router::HandlerError;
use jsonrpc_core::{
    CallError, CloseReason, Dialect, DialectMode, ErrorObject, InactivityProbe, Method, OnInvalid,
    Peer, PeerConfig, PeerHandle, Profile, RawJson, RawParams, RequestContext, Router,
};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, ListenEndpoint, Server};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Debian's interpreter: `python3-openvswitch` installs for it only (the
/// `python3` first on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

/// How long one exchange with the peer may take.
const STEP: Duration = Duration::from_secs(10);

/// The bound on a whole test.
const WHOLE_TEST: Duration = Duration::from_secs(90);

/// Fails (never skips) when the python library is missing.
fn require_ovs() {
    let how = "install it with `sudo scripts/install-test-deps.sh` (or just \
               `sudo scripts/install/ovs.sh`, or \
               `sudo apt-get install -y --no-install-recommends python3-openvswitch`)";
    let probe = std::process::Command::new(PYTHON)
        .args(["-c", "import ovs.jsonrpc, ovs.stream"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "Open vSwitch's python library is missing: `{PYTHON} -c 'import ovs.jsonrpc'` \
             failed ({}): {}\n{how}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("cannot run {PYTHON} ({e}); Debian's python3 and {how}"),
    }
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/ovs")
        .join(name)
}

fn raw(value: Value) -> RawJson {
    RawJson::from_value(&value).expect("a Value always serializes")
}

fn value_of(raw: &RawJson) -> Value {
    raw.decode().expect("raw JSON from the peer parses")
}

/// Returns `Err` from the enclosing function unless the two are equal, so a
/// failed check can still collect the python peer's stderr before panicking.
macro_rules! ensure_eq {
    ($got:expr, $want:expr, $what:expr) => {{
        let (got, want) = (&$got, &$want);
        if got != want {
            return Err(format!("{}: got {:?}, expected {:?}", $what, got, want));
        }
    }};
}

/// A temporary directory for Unix socket files, removed on drop.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("peer-ovs-{tag}-"))
            .tempdir()
            .expect("creating a temporary directory");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

/// A running python peer. Dropping it kills the process.
struct PyPeer {
    what: String,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Option<tokio::task::JoinHandle<String>>,
    lines: Vec<String>,
}

impl PyPeer {
    fn spawn(script_name: &str, args: &[String]) -> Self {
        let mut child = Command::new(PYTHON)
            .arg(script(script_name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PYTHON} {script_name}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        PyPeer {
            what: format!("{script_name} {}", args.join(" ")),
            child,
            stdout,
            stderr: Some(stderr),
            lines: Vec::new(),
        }
    }

    /// The next stdout line; `None` at end of output.
    async fn next_line(&mut self) -> Option<String> {
        match tokio::time::timeout(STEP * 3, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => {
                self.lines.push(line.clone());
                Some(line)
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => self.abort(&format!("reading its stdout: {e}")).await,
            Err(_) => self.abort("no output within the time limit").await,
        }
    }

    /// Waits for a line starting with `prefix` and returns the rest.
    async fn expect_line(&mut self, prefix: &str) -> String {
        loop {
            match self.next_line().await {
                Some(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                None => {
                    self.abort(&format!("it ended without printing `{prefix}`"))
                        .await
                }
            }
        }
    }

    /// Kills the peer and panics with `why` and everything it printed.
    async fn abort(&mut self, why: &str) -> ! {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(STEP, self.child.wait()).await;
        let stderr = self.stderr_text().await;
        panic!(
            "python peer `{}`: {why}\n--- its stdout ---\n{}\n--- its stderr ---\n{stderr}",
            self.what,
            self.lines.join("\n")
        );
    }

    async fn stderr_text(&mut self) -> String {
        match self.stderr.take() {
            Some(task) => tokio::time::timeout(STEP, task)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_else(|| "(stderr not available)".into()),
            None => String::new(),
        }
    }

    /// Panics with the peer's output if `outcome` is an error.
    async fn check(&mut self, outcome: Result<(), String>) {
        if let Err(why) = outcome {
            self.abort(&why).await;
        }
    }

    /// Reads the rest of the output, waits for the exit, and returns the
    /// `RESULT` report; panics unless the peer exited 0 with no failed check.
    async fn finish(mut self) -> Value {
        while self.next_line().await.is_some() {}
        let status = match tokio::time::timeout(STEP, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => self.abort(&format!("waiting for it: {e}")).await,
            Err(_) => self.abort("it did not exit").await,
        };
        let report = self
            .lines
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("RESULT "))
            .map(|r| serde_json::from_str::<Value>(r).expect("RESULT is JSON"));
        // Shown with --nocapture, and with any failure that follows.
        println!("python peer `{}` reported: {report:?}", self.what);
        match report {
            Some(report) if status.success() && report["failures"] == json!([]) => report,
            _ => {
                let stderr = self.stderr_text().await;
                panic!(
                    "python peer `{}` failed ({status})\n--- its stdout ---\n{}\n--- its stderr ---\n{stderr}",
                    self.what,
                    self.lines.join("\n")
                )
            }
        }
    }
}

/// Waits until `condition` holds (things done by handlers on other tasks).
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + STEP;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn locked<T: Clone>(m: &Mutex<T>) -> T {
    jsonrpc_core::sync::lock(m).clone()
}

fn push(m: &Mutex<Vec<Value>>, v: Value) {
    jsonrpc_core::sync::lock(m).push(v);
}

// ---------------------------------------------------------------------------
// 1. ovs.jsonrpc as a client of our server
// ---------------------------------------------------------------------------

/// What our server's handlers saw.
#[derive(Default)]
struct ServerLog {
    /// Params of each `note` notification, in order.
    notes: Mutex<Vec<Value>>,
    /// The id of each `echo` request (python's own probe uses "echo").
    echo_ids: Mutex<Vec<Value>>,
    /// What `ask_back` got from its calls to the python side.
    ask_back: Mutex<Vec<Value>>,
}

/// The string our `shape` method and the python client's `SHAPES` share.
const STRING: &str = "h\u{e9}llo w\u{f6}rld \u{2603} \"quoted\" \\ \n\t\u{1}";

fn shape(name: &str) -> Option<Value> {
    Some(match name {
        "object" => json!({"name": "rust", "list": [1, 2.5, "three", true, null],
                           "nested": {"empty": {}, "arr": []}}),
        "array" => json!([1, "two", [3], {"four": 4}]),
        "string" => json!(STRING),
        "false" => json!(false),
        "true" => json!(true),
        "zero" => json!(0),
        "float" => json!(2.5),
        // OVS's JSON reads a number with no fractional part as an integer.
        "integral_float" => json!(2.0),
        "big_int" => json!(9_007_199_254_740_993_u64),
        "negative" => json!(-1_234_567_890_123_i64),
        "empty_object" => json!({}),
        "empty_array" => json!([]),
        _ => return None,
    })
}

/// A method whose handler always fails with `error`, any JSON value,
/// written as it is (no error object around it).
fn fails_with(router: &mut Router, name: &str, error: Value) {
    let error = raw(error);
    router.raw_method(name, move |_: RawParams, _: RequestContext| {
        let error = error.clone();
        async move { Err::<RawJson, _>(HandlerError::Method(error)) }
    });
}

/// ovsdb-server's convention for standard errors: an unknown method is the
/// bare string "unknown method" (clients match it exactly); the rest stay
/// error objects.
fn ovsdb_error_format(error: &ErrorObject, _: Dialect) -> RawJson {
    if error.code == ErrorObject::METHOD_NOT_FOUND {
        raw(json!("unknown method"))
    } else {
        raw(serde_json::to_value(error).expect("an error object serializes"))
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> ErrorObject {
    ErrorObject::internal_error(format!("{what}: {e}"))
}

fn server_router(log: Arc<ServerLog>) -> Router {
    let mut router = Router::new();
    router.method_fn("add", |(a, b): (i64, i64), _| async move {
        Ok::<_, ErrorObject>(a + b)
    });
    router.method_fn("shape", |(name,): (String,), _| async move {
        shape(&name).ok_or_else(|| ErrorObject::invalid_params(format!("no shape {name}")))
    });
    router.method_fn("big", |(n, blob): (usize, String), _| async move {
        Ok::<_, ErrorObject>(json!({
            "received_chars": blob.chars().count(),
            "blob": "z".repeat(n),
        }))
    });
    // ovsdb-server's echo: the params back, byte for byte.
    let l = log.clone();
    router.raw_method("echo", move |params: RawParams, ctx: RequestContext| {
        let id = ctx.id().map_or(Value::Null, |id| json!(id));
        push(&l.echo_ids, id);
        async move { Ok(params.unwrap_or_else(|| raw(json!([])))) }
    });
    // A result of JSON null (see the python client's null_result_flow).
    router.method_fn("nothing", |_: (), _| async { Ok::<_, ErrorObject>(()) });
    fails_with(&mut router, "fail_string", json!("not allowed"));
    fails_with(
        &mut router,
        "fail_object",
        json!({"error": "constraint violation", "details": "a row would violate the index"}),
    );
    fails_with(&mut router, "fail_array", json!(["busy", 3]));
    fails_with(&mut router, "fail_number", json!(7));
    router.method_fn("fail_standard", |_: (), _| async {
        Err::<(), _>(
            ErrorObject::new(-32001, "custom failure").with_data(json!({"why": "testing"})),
        )
    });
    let l = log.clone();
    router.notification_fn("note", move |params: Value, _| {
        push(&l.notes, params);
        async {}
    });
    // While serving python's request, call python back on the same connection.
    let l = log.clone();
    router.method_fn("ask_back", move |(tag,): (String,), ctx: RequestContext| {
        let log = l.clone();
        async move {
            let peer = ctx
                .peer()
                .cloned()
                .ok_or_else(|| internal("ask_back", "no connection"))?;
            let echo = peer
                .call_raw("echo", Some(raw(json!(["ping", tag]))), Some(STEP))
                .await
                .map_err(|e| internal("echo", e))?;
            let add: i64 = peer
                .call_raw_typed("py.add", (20, 22))
                .await
                .map_err(|e| internal("py.add", e))?;
            let fail = match peer
                .call_raw("py.fail", Some(raw(json!([tag]))), Some(STEP))
                .await
            {
                Err(CallError::Rpc(error)) => value_of(&error),
                other => return Err(internal("py.fail", format!("{other:?}"))),
            };
            let seen = json!({"echo": value_of(&echo), "add": add, "fail": fail});
            push(&log.ask_back, seen.clone());
            Ok(seen)
        }
    });
    // A notification sent before the reply must arrive before it.
    router.method_fn(
        "subscribe",
        |(tag,): (String,), ctx: RequestContext| async move {
            let peer = ctx
                .peer()
                .ok_or_else(|| internal("subscribe", "no connection"))?;
            peer.notify_raw("update", Some(raw(json!([tag, {"row": {"n": 1}}]))))
                .await
                .map_err(|e| internal("update", e))?;
            Ok::<_, ErrorObject>("subscribed")
        },
    );
    router
}

/// How python names the endpoint our server listens on.
fn python_remote(endpoint: &ListenEndpoint) -> String {
    match endpoint {
        ListenEndpoint::Unix(path) => format!("unix:{}", path.display()),
        ListenEndpoint::Tcp { port, ip } => format!("tcp:{ip}:{port}"),
        other => panic!("no plain endpoint for {other}"),
    }
}

struct ClientCase {
    listen: ListenEndpoint,
    dialect: DialectMode,
    /// Answer an unknown method as ovsdb-server does ("unknown method").
    ovsdb_errors: bool,
    /// Our server's inactivity probe (an `echo` after this much silence).
    server_probe: Option<Duration>,
    /// ovs.jsonrpc.Session's own probe interval, in ms (0: none).
    python_probe_ms: u64,
    /// How long python idles at the end, letting the probes run.
    idle_ms: u64,
    /// Whether our server calls and notifies python (with
    /// `DialectMode::Detect` this shows our calls follow python's 1.0).
    callbacks: bool,
}

async fn python_client_case(case: ClientCase) {
    require_ovs();
    tokio::time::timeout(WHOLE_TEST, python_client_run(case))
        .await
        .expect("the test ran past its time limit");
}

async fn python_client_run(case: ClientCase) {
    let log = Arc::new(ServerLog::default());
    let wording = if case.ovsdb_errors {
        ovsdb_error_format
    } else {
        jsonrpc_core::profile::standard_wording
    };
    let profile = Profile::json_rpc_2()
        .dialect(case.dialect)
        .reject_unknown_members(true)
        .on_parse_error(OnInvalid::Close)
        .wording(wording);
    let mut config = PeerConfig::default()
        .profile(profile)
        .call_timeout(Some(STEP))
        .priority_methods(vec!["echo".into()]);
    if let Some(idle) = case.server_probe {
        config =
            config.inactivity_probe(Some(InactivityProbe::new(idle, "echo").params(json!([]))));
    }
    let server = Server::new(JsonStreamCodec::new())
        .router(server_router(log.clone()))
        .peer_config(config)
        .bind([case.listen.clone()])
        .await
        .expect("binding our server");
    let remote = python_remote(&server.local_endpoints()[0]);

    let unknown_method_error = if case.ovsdb_errors {
        json!("unknown method")
    } else {
        json!({"code": -32601, "message": "Method not found: no_such_method"})
    };
    let cfg = json!({
        "remote": remote,
        "probe_interval": case.python_probe_ms,
        "idle_ms": case.idle_ms,
        "callbacks": case.callbacks,
        "unknown_method_error": unknown_method_error,
        "null_result_check": true,
    });
    let mut py = PyPeer::spawn("ovs_client.py", &[cfg.to_string()]);

    // Calls and notifications to python from outside any handler, through
    // the server's handle on the connection.
    let mut connection: Option<PeerHandle> = None;
    if case.callbacks {
        py.expect_line("READY").await;
        let conns = server.connections();
        let outcome = async {
            ensure_eq!(conns.len(), 1, "open connections when python is READY");
            let peer = conns[0].clone();
            peer.notify_raw("server_push", Some(raw(json!(["hello", 1]))))
                .await
                .map_err(|e| format!("server_push: {e}"))?;
            let sum: Result<i64, _> = peer.call_raw_typed("py.add", (1, 2)).await;
            ensure_eq!(sum.map_err(|e| e.to_string()), Ok(3), "py.add from outside");
            let fail = peer
                .call_raw("py.fail", Some(raw(json!(["out-of-band"]))), Some(STEP))
                .await;
            let fail = match fail {
                Err(CallError::Rpc(e)) => value_of(&e),
                other => return Err(format!("py.fail from outside: {other:?}")),
            };
            ensure_eq!(
                fail,
                json!({"error": "py says no", "details": "out-of-band"}),
                "py.fail error from outside"
            );
            peer.notify_raw("push_done", None)
                .await
                .map_err(|e| format!("push_done: {e}"))?;
            connection = Some(peer);
            Ok(())
        }
        .await;
        py.check(outcome).await;
    }

    let report = py.finish().await;
    let seen = &report["observed"];

    // What python saw for our error shapes, exactly.
    assert_eq!(seen["unknown_method"], unknown_method_error);
    assert_eq!(seen["unknown_method.result"], Value::Null);
    assert_eq!(seen["bad_params.code"], json!(-32602));
    assert_eq!(seen["fail_string"], json!("not allowed"));
    assert_eq!(
        seen["fail_object"],
        json!({"error": "constraint violation", "details": "a row would violate the index"})
    );
    assert_eq!(seen["fail_array"], json!(["busy", 3]));
    assert_eq!(seen["fail_number"], json!(7));
    assert_eq!(
        seen["fail_standard"],
        json!({"code": -32001, "message": "custom failure", "data": {"why": "testing"}})
    );
    assert_eq!(seen["shape.big_int"], json!(9_007_199_254_740_993_u64));
    assert_eq!(seen["shape.string"], json!(STRING));
    // Our 2.0 reaches python as the integer 2 (OVS's JSON number rules).
    assert_eq!(seen["shape.integral_float"], json!(2));
    // The library cannot take a result of null (see ovs_client.py).
    assert_eq!(seen["connection.add"], json!(5));
    assert_eq!(seen["connection.null_result.error"], json!("EPROTO"));

    // Python's notifications reached our handler, in order.
    let notes = || locked(&log.notes);
    let got_all = eventually("python's notifications", || notes().len() >= 3).await;
    assert!(got_all.is_ok(), "{got_all:?}: {:?}", notes());
    assert_eq!(
        notes(),
        vec![
            json!(["first", 1]),
            json!(["second", {"k": "v"}]),
            json!([])
        ]
    );

    if case.callbacks {
        assert_eq!(
            seen["ask_back"],
            json!({"echo": ["ping", "tag-1"], "add": 42,
                   "fail": {"error": "py says no", "details": "tag-1"}})
        );
        assert_eq!(locked(&log.ask_back), vec![seen["ask_back"].clone()]);
        assert_eq!(
            seen["pushed_notifications"],
            json!([["server_push", ["hello", 1]], ["push_done", []]])
        );
    } else {
        assert_eq!(seen["requests_seen"], json!([]));
    }

    if case.python_probe_ms > 0 {
        // ovs.jsonrpc.Session probed us while idle: {"id":"echo","method":"echo",..}.
        let ids = locked(&log.echo_ids);
        assert!(
            ids.contains(&json!("echo")),
            "python's Session never probed us; echo ids seen: {ids:?}"
        );
    }

    if let (Some(idle), Some(peer)) = (case.server_probe, &connection) {
        // Our probes, answered by the Session's built-in echo reply, kept the
        // connection up; python closed it in the end.
        let reason = tokio::time::timeout(STEP, peer.closed())
            .await
            .expect("the connection closes once python is gone");
        assert_eq!(reason, CloseReason::PeerClosed);
        let stats = peer.stats();
        // 3 calls from ask_back, 2 from outside, and our probes.
        let probes_answered = stats.replies_received.saturating_sub(5);
        let least = (case.idle_ms as u128 / idle.as_millis() / 2) as u64;
        assert!(
            probes_answered >= least.max(1),
            "expected at least {} answered probes: {stats:?}",
            least.max(1)
        );
        assert_eq!(stats.late_replies, 0, "{stats:?}");
        assert_eq!(stats.invalid_received, 0, "{stats:?}");
    }

    server.shutdown(STEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_client_punix_v1() {
    let dir = TempDir::new("client-punix");
    python_client_case(ClientCase {
        listen: ListenEndpoint::Unix(dir.path("server.sock")),
        dialect: DialectMode::V1,
        ovsdb_errors: false,
        server_probe: Some(Duration::from_millis(1000)),
        python_probe_ms: 0,
        idle_ms: 2600,
        callbacks: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_client_ptcp_v1_ovsdb_errors() {
    python_client_case(ClientCase {
        listen: "ptcp:0:127.0.0.1".parse().unwrap(),
        dialect: DialectMode::V1,
        ovsdb_errors: true,
        server_probe: None,
        python_probe_ms: 1000,
        idle_ms: 2600,
        callbacks: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_client_detect_dialect() {
    let dir = TempDir::new("client-detect");
    python_client_case(ClientCase {
        listen: ListenEndpoint::Unix(dir.path("server.sock")),
        dialect: DialectMode::Detect,
        ovsdb_errors: false,
        server_probe: None,
        python_probe_ms: 0,
        idle_ms: 0,
        callbacks: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_client_detect_dialect_ptcp() {
    python_client_case(ClientCase {
        listen: "ptcp:0:127.0.0.1".parse().unwrap(),
        dialect: DialectMode::Detect,
        ovsdb_errors: true,
        server_probe: None,
        python_probe_ms: 1000,
        idle_ms: 2600,
        callbacks: false,
    })
    .await;
}

// ---------------------------------------------------------------------------
// 2. ovs.jsonrpc as a server for our client
// ---------------------------------------------------------------------------

/// An error as ovsdb-server writes them in transaction results.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct OvsError {
    error: String,
    details: Option<String>,
}

struct Add;
impl Method for Add {
    const NAME: &'static str = "add";
    type Params = (i64, i64);
    type Result = i64;
    type Error = Value;
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Info {
    server: String,
    version: String,
    list: Vec<i64>,
    nested: InfoNested,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct InfoNested {
    ok: bool,
    none: Option<i64>,
}

struct GetInfo;
impl Method for GetInfo {
    const NAME: &'static str = "info";
    type Params = ();
    type Result = Info;
    type Error = Value;
}

struct FailString;
impl Method for FailString {
    const NAME: &'static str = "fail_string";
    type Params = ();
    type Result = Value;
    type Error = String;
}

struct FailObject;
impl Method for FailObject {
    const NAME: &'static str = "fail_object";
    type Params = ();
    type Result = Value;
    type Error = OvsError;
}

/// A method the python server does not have: it answers "unknown method".
struct NoSuchMethod;
impl Method for NoSuchMethod {
    const NAME: &'static str = "no_such_method";
    type Params = (i64,);
    type Result = Value;
    type Error = String;
}

/// What our client's handlers saw.
#[derive(Default)]
struct ClientLog {
    updates: Mutex<Vec<Value>>,
    echoes: Mutex<Vec<Value>>,
}

fn client_router(log: Arc<ClientLog>) -> Router {
    let mut router = Router::new();
    let l = log.clone();
    router.raw_method("echo", move |params: RawParams, _: RequestContext| {
        let params = params.unwrap_or_else(|| raw(json!([])));
        push(&l.echoes, value_of(&params));
        async move { Ok(params) }
    });
    router.method_fn("mul", |(a, b): (i64, i64), _| async move {
        Ok::<_, ErrorObject>(a * b)
    });
    fails_with(
        &mut router,
        "refuse",
        json!({"error": "not owner", "details": "refused by rust"}),
    );
    let l = log.clone();
    router.notification_fn("update", move |params: Value, _| {
        push(&l.updates, params);
        async {}
    });
    router
}

async fn python_server_case(listen: String) {
    require_ovs();
    tokio::time::timeout(WHOLE_TEST, python_server_run(listen))
        .await
        .expect("the test ran past its time limit");
}

async fn python_server_run(listen: String) {
    let mut py = PyPeer::spawn("ovs_server.py", &[listen]);
    let remote = py.expect_line("LISTENING ").await;
    let endpoint: Endpoint = remote.parse().expect("python prints an endpoint we read");
    let stream = match connect(&endpoint, &ConnectOptions::default().timeout(STEP)).await {
        Ok(s) => s,
        Err(e) => py.abort(&format!("connecting to {remote}: {e}")).await,
    };
    let log = Arc::new(ClientLog::default());
    let probe = Duration::from_millis(400);
    let peer = stream.into_peer(
        Peer::new(JsonStreamCodec::new())
            .router(client_router(log.clone()))
            .config(
                PeerConfig::default()
                    .profile(
                        Profile::json_rpc_2()
                            .dialect(DialectMode::V1)
                            .reject_unknown_members(true)
                            .on_parse_error(OnInvalid::Close),
                    )
                    .call_timeout(Some(STEP))
                    .inactivity_probe(Some(InactivityProbe::new(probe, "echo").params(json!([])))),
            ),
    );

    let outcome = talk_to_python_server(&peer, &log, probe).await;
    py.check(outcome).await;
    let reason = tokio::time::timeout(STEP, peer.shutdown())
        .await
        .expect("our side closes");
    assert_eq!(reason, CloseReason::Local);

    let report = py.finish().await;
    let seen = &report["observed"];
    assert_eq!(seen["close_status"], json!("EOF"));
    assert_eq!(
        seen["notifications"],
        json!([["note", [1, "a"]], ["note", [{"k": null}]]])
    );
    // Our probes as python received them: integer ids, params [].
    let echoes = seen["echoes"].as_array().expect("echoes").clone();
    assert!(echoes.len() >= 2, "python saw too few probes: {echoes:?}");
    for echo in &echoes {
        assert!(echo[0].is_u64(), "probe id {echo:?}");
        assert_eq!(echo[1], json!([]), "probe params {echo:?}");
    }
}

async fn talk_to_python_server(
    peer: &PeerHandle,
    log: &ClientLog,
    probe: Duration,
) -> Result<(), String> {
    // Typed results.
    let sum = peer.call::<Add>((19, 23)).await.map_err(|e| e.to_string());
    ensure_eq!(sum, Ok(42), "add");
    let info = peer.call::<GetInfo>(()).await.map_err(|e| e.to_string())?;
    ensure_eq!(info.server, "ovs.jsonrpc", "info.server");
    ensure_eq!(info.list, vec![1, 2, 3], "info.list");
    ensure_eq!(
        info.nested,
        InfoNested {
            ok: true,
            none: None
        },
        "info.nested"
    );
    if !info.version.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("info.version: {:?}", info.version));
    }
    let joined: Result<String, _> = peer
        .call_raw_typed("concat", ["h\u{e9}llo", " ", "w\u{f6}rld \u{2603}"])
        .await;
    ensure_eq!(
        joined.map_err(|e| e.to_string()),
        Ok("h\u{e9}llo w\u{f6}rld \u{2603}".to_owned()),
        "concat"
    );

    // Large messages each way, reassembled from many reads.
    let big: String = peer
        .call_raw_typed("big", (200_000,))
        .await
        .map_err(|e| format!("big: {e}"))?;
    ensure_eq!(big.len(), 200_000, "big length");
    ensure_eq!(big.bytes().all(|b| b == b'z'), true, "big content");
    let blob = "\u{e9}".repeat(1000) + &"y".repeat(299_000);
    let len: Result<usize, _> = peer.call_raw_typed("len", (blob,)).await;
    ensure_eq!(len.map_err(|e| e.to_string()), Ok(300_000), "len");

    // Errors of any JSON value, typed and raw.
    match peer.call::<FailString>(()).await {
        Err(CallError::Rpc(e)) => ensure_eq!(e, "not allowed", "fail_string"),
        other => return Err(format!("fail_string: {other:?}")),
    }
    match peer.call::<FailObject>(()).await {
        Err(CallError::Rpc(e)) => ensure_eq!(
            e,
            OvsError {
                error: "constraint violation".into(),
                details: Some("a row would violate the index".into()),
            },
            "fail_object"
        ),
        other => return Err(format!("fail_object: {other:?}")),
    }
    match peer.call_raw("fail_object", None, Some(STEP)).await {
        Err(CallError::Rpc(e)) => ensure_eq!(
            value_of(&e),
            json!({"error": "constraint violation", "details": "a row would violate the index"}),
            "fail_object raw"
        ),
        other => return Err(format!("fail_object raw: {other:?}")),
    }
    match peer.call::<NoSuchMethod>((1,)).await {
        Err(CallError::Rpc(e)) => ensure_eq!(e, "unknown method", "no_such_method"),
        other => return Err(format!("no_such_method: {other:?}")),
    }
    match peer.call_raw("no_such_method", None, Some(STEP)).await {
        Err(CallError::Rpc(e)) => ensure_eq!(e.get(), "\"unknown method\"", "no_such_method raw"),
        other => return Err(format!("no_such_method raw: {other:?}")),
    }
    // With the default error type (a 2.0 error object), a 1.0 string error
    // does not fit, and the exact JSON is kept in the error.
    let untyped: Result<Value, CallError> = peer.call_raw_typed("no_such_method", ()).await;
    match untyped {
        Err(CallError::Decode { reply, .. }) => {
            ensure_eq!(reply, "\"unknown method\"", "no_such_method as ErrorObject")
        }
        other => return Err(format!("no_such_method as ErrorObject: {other:?}")),
    }

    // Python notifies us before it replies: the update has been handled by
    // the time the reply returns (arrival order), with no waiting.
    let ok: Result<String, _> = peer.call_raw_typed("notify_me", ("t1",)).await;
    ensure_eq!(
        ok.map_err(|e| e.to_string()),
        Ok("ok".to_owned()),
        "notify_me"
    );
    ensure_eq!(
        locked(&log.updates),
        vec![json!(["t1", {"seen": true}])],
        "updates"
    );

    // Our notifications, then a call: python reads them in order.
    peer.notify_raw("note", Some(raw(json!([1, "a"]))))
        .await
        .map_err(|e| format!("note: {e}"))?;
    peer.notify_raw("note", Some(raw(json!([{"k": null}]))))
        .await
        .map_err(|e| format!("note: {e}"))?;
    let notes: Result<Value, _> = peer.call_raw_typed("notes", ()).await;
    ensure_eq!(
        notes.map_err(|e| e.to_string()),
        Ok(json!([["note", [1, "a"]], ["note", [{"k": null}]]])),
        "notes"
    );

    // Python calls us (four requests at once) while we wait for its reply.
    let called: Result<Value, _> = peer.call_raw_typed("call_me", ("x",)).await;
    ensure_eq!(
        called.map_err(|e| e.to_string()),
        Ok(json!({
            "echo": {"result": ["x", "from-ovs"]},
            "mul": {"result": 42},
            "refuse": {"error": {"error": "not owner", "details": "refused by rust"}},
            "unknown": {"error": {"code": -32601, "message": "Method not found: unknown_on_rust"}},
        })),
        "call_me"
    );
    ensure_eq!(
        locked(&log.echoes),
        vec![json!(["x", "from-ovs"])],
        "echo requests from python"
    );

    // Silence: our inactivity probe (echo) goes out and python answers it.
    tokio::time::sleep(probe * 5).await;
    let probes: Result<u64, _> = peer.call_raw_typed("probe_count", ()).await;
    let probes = probes.map_err(|e| format!("probe_count: {e}"))?;
    if probes < 2 {
        return Err(format!("python answered only {probes} probes"));
    }
    let stats = peer.stats();
    ensure_eq!(stats.late_replies, 0, "late replies");
    ensure_eq!(stats.invalid_received, 0, "invalid messages from python");
    ensure_eq!(peer.is_closed(), false, "closed after probes");

    let bye: Result<String, _> = peer.call_raw_typed("bye", ()).await;
    ensure_eq!(bye.map_err(|e| e.to_string()), Ok("bye".to_owned()), "bye");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_server_punix() {
    let dir = TempDir::new("server-punix");
    let path = dir.path("ovs.sock");
    python_server_case(format!("punix:{}", path.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_python_server_ptcp() {
    // The python library reads ptcp: as IP then PORT.
    python_server_case("ptcp:127.0.0.1:0".into()).await;
}
