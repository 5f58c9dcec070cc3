//! SPDK's own python client against our server.
//!
//! The PyPI package `spdk` (installed into `target/peers/venv` by
//! `scripts/install/spdk.sh`) holds `spdk.rpc.client.JSONRPCClient`, which the
//! `spdk-rpc` command and SPDK's test scripts use: it writes pretty-printed
//! (`indent=2`) JSON-RPC 2.0 requests with no delimiter to a Unix socket,
//! reads replies with `json.JSONDecoder.raw_decode`, and never looks at ids.
//!
//! Each test serves, in this process, a [`Server`] on a temporary `punix:`
//! socket with [`JsonStreamCodec`] and SPDK's peer settings (JSON-RPC 2.0 only,
//! unknown members refused, non-JSON closes the connection). The router is the
//! JSON-RPC spec's methods from `examples/spec_server.rs` plus a small
//! SPDK-shaped mock: `spdk_get_version`, `bdev_malloc_create` (strictly decoded
//! named params, `-17 "File exists"` on a duplicate name) and `test_sleep`.
//!
//! The python side lives in `tests/peers/spdk/spdk_peer.py`; it asserts every
//! reply itself and prints a `SUMMARY {...}` line whose counts are checked
//! again here. A test whose client is not installed fails, saying how to
//! install it.

#[path = "../examples/spec_server.rs"]
#[allow(dead_code)]
mod spec_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{ErrorObject, Profile, Router};
use jsonrpc_transport::{RunningServer, Server};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::process::Command;

/// What a real spdk_tgt of this version answers to `spdk_get_version`.
fn version() -> Value {
    json!({
        "version": "SPDK v26.09-pre",
        "fields": {"major": 26, "minor": 9, "patch": 0, "suffix": "-pre"}
    })
}

/// The longest any one python child may run before the test fails.
const CHILD_DEADLINE: Duration = Duration::from_secs(90);

const INSTALL_HINT: &str = "SPDK's python client is not installed: run \
    `scripts/install-test-deps.sh` (or just `scripts/install/spdk.sh`) from the repository root";

// ------------------------------------------------------------------ the peer

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    repo().join("target/peers/venv/bin").join(name)
}

fn helper() -> PathBuf {
    repo().join("tests/peers/spdk/spdk_peer.py")
}

/// Runs a command from the venv with a deadline; the child is killed if the
/// deadline passes (or the test panics).
async fn run(program: &Path, args: &[&str]) -> Output {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}\n{INSTALL_HINT}", program.display()));
    match tokio::time::timeout(CHILD_DEADLINE, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {}: {e}", program.display())),
        Err(_) => panic!(
            "{} {args:?} still running after {CHILD_DEADLINE:?}; killed",
            program.display()
        ),
    }
}

fn show(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Fails the test unless the venv's python can import `spdk.rpc.client`.
async fn require_client() {
    let python = venv_bin("python");
    assert!(
        python.exists(),
        "{} does not exist. {INSTALL_HINT}",
        python.display()
    );
    let helper = helper();
    let output = run(&python, &[helper.to_str().unwrap(), "check"]).await;
    assert!(output.status.success(), "{INSTALL_HINT}\n{}", show(&output));
}

/// Runs a subcommand of the python helper; it must succeed, and its
/// `SUMMARY` line is returned.
async fn python(args: &[&str]) -> Value {
    let helper = helper();
    let mut full = vec![helper.to_str().unwrap()];
    full.extend_from_slice(args);
    let output = run(&venv_bin("python"), &full).await;
    assert!(
        output.status.success(),
        "spdk_peer.py {args:?} failed\n{}",
        show(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("SUMMARY "))
        .unwrap_or_else(|| panic!("no SUMMARY line\n{}", show(&output)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad SUMMARY {line:?}: {e}"))
}

// ------------------------------------------------------------ the server

/// `bdev_malloc_create`'s params as SPDK's schema has them; anything else
/// is refused, as `spdk_json_decode_object` refuses it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BdevMallocCreate {
    name: Option<String>,
    block_size: u32,
    num_blocks: u64,
    uuid: Option<String>,
    optimal_io_boundary: Option<u32>,
    md_size: Option<u32>,
    md_interleave: Option<bool>,
    dif_type: Option<i32>,
    dif_is_head_of_md: Option<bool>,
    physical_block_size: Option<u32>,
    dif_pi_format: Option<u32>,
    numa_id: Option<i32>,
}

/// The mock target's state: bdev names, and every `bdev_malloc_create`
/// params object as it arrived.
#[derive(Default)]
struct Target {
    bdevs: Mutex<BTreeSet<String>>,
    malloc_params: Mutex<Vec<Value>>,
}

impl Target {
    fn malloc_create(&self, params: Value) -> Result<String, ErrorObject> {
        self.malloc_params.lock().unwrap().push(params.clone());
        let decoded: BdevMallocCreate = serde_json::from_value(params)
            .map_err(|_| ErrorObject::new(-32603, "spdk_json_decode_object failed"))?;
        let mut bdevs = self.bdevs.lock().unwrap();
        let name = match decoded.name {
            Some(name) => name,
            None => (0..)
                .map(|n| format!("Malloc{n}"))
                .find(|n| !bdevs.contains(n))
                .unwrap(),
        };
        if !bdevs.insert(name.clone()) {
            return Err(ErrorObject::new(-17, "File exists"));
        }
        Ok(name)
    }
}

fn router(target: &Arc<Target>) -> Router {
    let mut router = spec_server::router();
    router.method_fn(
        "spdk_get_version",
        |params: Option<serde::de::IgnoredAny>, _ctx| async move {
            // SPDK refuses any params here, even `{}`.
            match params {
                None => Ok(version()),
                Some(_) => Err(ErrorObject::invalid_params(
                    "spdk_get_version method requires no parameters",
                )),
            }
        },
    );
    let t = target.clone();
    router.method_fn("bdev_malloc_create", move |params: Value, _ctx| {
        let result = t.malloc_create(params);
        async move { result }
    });
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sleep {
        ms: u64,
    }
    router.method_fn("test_sleep", |p: Sleep, _ctx| async move {
        tokio::time::sleep(Duration::from_millis(p.ms)).await;
        Ok::<_, ErrorObject>(p.ms)
    });
    router
}

struct Fixture {
    server: RunningServer,
    socket: PathBuf,
    target: Arc<Target>,
}

impl Fixture {
    async fn start(test: &str) -> Fixture {
        require_client().await;
        let socket =
            std::env::temp_dir().join(format!("peer-spdk-{}-{test}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let target = Arc::new(Target::default());
        let server = Server::new(JsonStreamCodec::new())
            .router(router(&target))
            .profile(Profile::spdk())
            .bind([format!("punix:{}", socket.display()).parse().unwrap()])
            .await
            .expect("binding the test socket");
        Fixture {
            server,
            socket,
            target,
        }
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    /// Waits (briefly) until the server has no connection open: every client
    /// has gone and the server closed its side.
    async fn wait_idle(&self) {
        let idle = async {
            while self.server.stats().connections_open > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), idle)
            .await
            .is_err()
        {
            panic!("connections still open: {:?}", self.server.stats());
        }
    }

    async fn stop(self) {
        self.wait_idle().await;
        self.server.shutdown(Duration::from_secs(5)).await;
        assert!(!self.socket.exists(), "socket file left behind");
    }
}

// ------------------------------------------------------------------ tests

/// `JSONRPCClient` on one connection: 500 sequential calls with positional and
/// named params (through `call` and through the attribute API that the
/// `spdk-rpc` commands use), `spdk_get_version` with params left out,
/// SPDK-style errors surfacing as `JSONRPCException` with our code and
/// message, strict params decoding, then a batch-mode request.
///
/// The client cannot send notifications: every request it writes has an id
/// (notifications are covered by the raw-socket pipeline test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_client_sequential_calls_on_one_connection() {
    let fx = Fixture::start("client").await;
    let summary = python(&["client", fx.socket(), "500"]).await;
    assert_eq!(summary["errors"], 5 + 500 / 8 * 2, "{summary}");
    assert!(summary["calls"].as_u64().unwrap() >= 500, "{summary}");
    assert_eq!(summary["batch"], 4, "{summary}");
    // One connection for `Existing0`, one for the 500 calls, one for the batch.
    fx.wait_idle().await;
    assert_eq!(fx.server.stats().accepted, 3, "{:?}", fx.server.stats());
    let bdevs = fx.target.bdevs.lock().unwrap().clone();
    let created = [
        "Existing0",
        "Malloc0",
        "Malloc1",
        "Mällöc-ü",
        "Seq5",
        "Seq493",
    ];
    for name in created {
        assert!(bdevs.contains(name), "{name} missing from {bdevs:?}");
    }
    fx.stop().await;
}

/// Pipelining: the client's `add_request`/`send_batch`/`recv` write 40
/// requests at once before reading; then a raw socket writes 66 pretty-printed
/// requests and 14 notifications back to back with no delimiter, in uneven
/// pieces. Every reply is matched by id (string and number ids), none is
/// missing or doubled, and notifications get no reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_pipelined_requests_matched_by_id() {
    let fx = Fixture::start("pipeline").await;
    let summary = python(&["pipeline", fx.socket()]).await;
    assert_eq!(summary["queued"], 40, "{summary}");
    assert_eq!(summary["raw"], summary["raw_sent"], "{summary}");
    assert_eq!(summary["raw"], 66, "{summary}");
    eprintln!(
        "slow request overtaken by later replies: {}",
        summary["slow_overtaken"]
    );
    fx.stop().await;
}

/// A client that half-closes: 200 requests (some still sleeping in their
/// handlers when the write side closes), `shutdown(SHUT_WR)`, then read to
/// EOF. All 200 replies arrive, then the server closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_half_closed_client_gets_every_reply_then_eof() {
    let fx = Fixture::start("halfclose").await;
    let summary = python(&["half-close", fx.socket(), "200"]).await;
    assert_eq!(summary["sent"], 200, "{summary}");
    assert_eq!(summary["replies"], 200, "{summary}");
    assert_eq!(summary["eof"], true, "{summary}");
    fx.stop().await;
}

/// The `spdk-rpc` command: `spdk_get_version` prints our result, and
/// `bdev_malloc_create -b Malloc0 64 512` sends the params SPDK's schema
/// names (64 MiB in 512-byte blocks) and prints the name; a second one
/// fails with our -17 "File exists" and exit status 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_rpc_command() {
    let fx = Fixture::start("cli").await;
    let spdk_rpc = |command: &'static [&'static str]| {
        let mut args = vec!["-s", fx.socket(), "-t", "20"];
        args.extend_from_slice(command);
        async move { run(&venv_bin("spdk-rpc"), &args).await }
    };

    let out = spdk_rpc(&["spdk_get_version"]).await;
    assert!(out.status.success(), "{}", show(&out));
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", show(&out)));
    assert_eq!(printed, version());

    const CREATE: &[&str] = &["bdev_malloc_create", "-b", "Malloc0", "64", "512"];
    let out = spdk_rpc(CREATE).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Malloc0\n");
    let sent = fx.target.malloc_params.lock().unwrap().clone();
    assert_eq!(
        sent,
        [json!({
            "num_blocks": 131072,
            "block_size": 512,
            "name": "Malloc0",
            "md_interleave": false,
            "dif_is_head_of_md": false
        })]
    );

    let out = spdk_rpc(&["bdev_malloc_create", "1", "4096"]).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Malloc1\n");

    let out = spdk_rpc(CREATE).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (_, error) = stdout
        .split_once("response:\n")
        .unwrap_or_else(|| panic!("no error response printed\n{}", show(&out)));
    let error: Value = serde_json::from_str(error.trim())
        .unwrap_or_else(|e| panic!("error is not JSON ({e})\n{}", show(&out)));
    assert_eq!(error, json!({"code": -17, "message": "File exists"}));

    assert_eq!(fx.server.stats().accepted, 4, "{:?}", fx.server.stats());
    fx.stop().await;
}
