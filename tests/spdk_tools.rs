//! The SPDK tools against SPDK's own python client (`spdk-rpc`, from the
//! PyPI package `spdk` in `target/peers/venv`, installed by
//! `scripts/install/spdk.sh`).
//!
//! - Against the mock target (`examples/spdk_target`, run as a child on a
//!   temporary socket): `spdk-rpc` through a storage setup and back to
//!   empty; SPDK's configuration round trip (`save_config`, restart with
//!   `--json`, `save_config` again: the same bytes); and our
//!   `examples/spdk_rpc/` printing what `spdk-rpc` prints for the same
//!   calls on the same target.
//! - Against a small target served in this process by an `SpdkRouter`
//!   (`examples/support/spdk.rs`): our command line printing exactly
//!   `spdk-rpc`'s text, errors included, and our `load_config` replaying
//!   what `spdk-rpc save_config` wrote.
//! - With no target: every subcommand of ours sends the request `spdk-rpc`
//!   sends for the same arguments (both with `--dry-run`).
//!
//! The binaries are found beside this test's: `target/debug/examples/`
//! (`cargo test` builds the examples; `cargo build --examples` after a
//! narrower `cargo test`). A test whose binary or python client is missing
//! fails, saying how to get it.

#[path = "../examples/support/spdk.rs"]
mod spdk_support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use spdk_support::{example_bin, serve, small_target, venv_bin, ChildTarget, INSTALL_HINT};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The longest any one child command may run.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);

const NQN: &str = "nqn.2016-06.io.spdk:cnode1";

/// Which command line makes a call.
#[derive(Clone, Copy, Debug)]
enum Tool {
    /// SPDK's `spdk-rpc`.
    SpdkRpc,
    /// Ours, `examples/spdk_rpc/`.
    Ours,
}

impl Tool {
    fn program(self) -> PathBuf {
        match self {
            Tool::SpdkRpc => {
                let program = venv_bin("spdk-rpc");
                assert!(
                    program.exists(),
                    "{} does not exist. {INSTALL_HINT}",
                    program.display()
                );
                program
            }
            Tool::Ours => {
                let program = example_bin("spdk_rpc");
                assert!(
                    program.exists(),
                    "{} does not exist: run `cargo build --example spdk_rpc` (plain `cargo test` builds it)",
                    program.display()
                );
                program
            }
        }
    }
}

/// Runs `tool -s SOCKET -t 20 ARGS`, with `stdin` as its input.
async fn run(tool: Tool, socket: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let program = tool.program();
    let mut child = Command::new(&program)
        .args(["-s", socket, "-t", "20"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    if let Some(text) = stdin {
        let mut input = child.stdin.take().expect("piped stdin");
        input.write_all(text.as_bytes()).await.unwrap();
        drop(input);
    }
    match tokio::time::timeout(CHILD_DEADLINE, child.wait_with_output()).await {
        Ok(output) => output.unwrap(),
        Err(_) => panic!("{tool:?} {args:?} still running after {CHILD_DEADLINE:?}; killed"),
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

/// Runs a command that must succeed; its stdout.
async fn ok(tool: Tool, socket: &str, args: &[&str]) -> String {
    let out = run(tool, socket, args, None).await;
    assert!(out.status.success(), "{tool:?} {args:?}\n{}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must print JSON; the JSON.
async fn json(tool: Tool, socket: &str, args: &[&str]) -> Value {
    let text = ok(tool, socket, args).await;
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{tool:?} {args:?}: stdout is not JSON ({e}):\n{text}"))
}

/// Runs a command that must fail with an error reply, as `rpc.py` reports
/// one (exit status 1, the request, then the error object); the error.
async fn error(tool: Tool, socket: &str, args: &[&str]) -> Value {
    let out = run(tool, socket, args, None).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{tool:?} {args:?}\n{}",
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("request:\n{"), "{}", show(&out));
    let (_, error) = stdout
        .split_once("Got JSON-RPC error response\nresponse:\n")
        .unwrap_or_else(|| panic!("no error response printed\n{}", show(&out)));
    serde_json::from_str(error.trim())
        .unwrap_or_else(|e| panic!("the error is not JSON ({e})\n{}", show(&out)))
}

/// Both tools print the same JSON for `args`; that JSON.
async fn same_json(socket: &str, args: &[&str]) -> Value {
    let theirs = json(Tool::SpdkRpc, socket, args).await;
    let ours = json(Tool::Ours, socket, args).await;
    assert_eq!(ours, theirs, "{args:?}: ours differs from spdk-rpc's");
    theirs
}

/// Both tools fail with the same error for `args`; that error.
async fn same_error(socket: &str, args: &[&str]) -> Value {
    let theirs = error(Tool::SpdkRpc, socket, args).await;
    let ours = error(Tool::Ours, socket, args).await;
    assert_eq!(ours, theirs, "{args:?}: ours differs from spdk-rpc's");
    theirs
}

/// The mock target, started from `examples/spdk_target`.
fn mock(args: &[&str]) -> ChildTarget {
    ChildTarget::start(&example_bin("spdk_target"), args).unwrap_or_else(|e| panic!("{e}"))
}

fn mock_on(socket: &Path, args: &[&str]) -> ChildTarget {
    ChildTarget::start_on(&example_bin("spdk_target"), socket, args)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn uuid_of(printed: &str) -> String {
    let text = printed.trim();
    uuid::Uuid::parse_str(text).unwrap_or_else(|e| panic!("not a UUID ({e}): {printed:?}"));
    text.to_owned()
}

// --------------------------------------------------------- against the mock

/// `spdk-rpc` builds a storage setup on the mock target, lists it, and
/// takes it down again: malloc bdevs, an lvstore with a thick and a thin
/// lvol, a raid0, an NVMe-oF TCP transport, and a subsystem with a
/// namespace and a listener; SPDK's errors on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_rpc_drives_the_mock_target() {
    let target = mock(&[]);
    let s = target.socket();
    let rpc = Tool::SpdkRpc;

    let version = json(rpc, s, &["spdk_get_version"]).await;
    assert!(
        version["version"].as_str().unwrap().starts_with("SPDK v"),
        "{version}"
    );
    assert_eq!(json(rpc, s, &["bdev_get_bdevs"]).await, json!([]));

    for (name, mib, block) in [
        ("Malloc0", "64", "512"),
        ("Malloc1", "64", "512"),
        ("Malloc2", "32", "4096"),
        ("Malloc3", "32", "4096"),
    ] {
        let printed = ok(rpc, s, &["bdev_malloc_create", "-b", name, mib, block]).await;
        assert_eq!(printed, format!("{name}\n"));
    }
    let dup = error(rpc, s, &["bdev_malloc_create", "-b", "Malloc0", "8", "512"]).await;
    assert_eq!(dup, json!({"code": -17, "message": "File exists"}));
    let malloc0 = json(rpc, s, &["bdev_get_bdevs", "-b", "Malloc0"]).await;
    assert_eq!(malloc0[0]["name"], "Malloc0", "{malloc0}");
    assert_eq!(malloc0[0]["product_name"], "Malloc disk", "{malloc0}");
    assert_eq!(malloc0[0]["block_size"], 512, "{malloc0}");
    assert_eq!(malloc0[0]["num_blocks"], 131072, "{malloc0}");
    assert_eq!(malloc0[0]["claimed"], false, "{malloc0}");
    let missing = error(rpc, s, &["bdev_get_bdevs", "-b", "Nope"]).await;
    assert_eq!(missing, json!({"code": -19, "message": "No such device"}));

    // An lvstore on Malloc0, a thick and a thin lvol in it.
    let lvs = uuid_of(&ok(rpc, s, &["bdev_lvol_create_lvstore", "Malloc0", "lvs0"]).await);
    let malloc0 = json(rpc, s, &["bdev_get_bdevs", "-b", "Malloc0"]).await;
    assert_eq!(malloc0[0]["claimed"], true, "{malloc0}");
    let stores = json(rpc, s, &["bdev_lvol_get_lvstores"]).await;
    assert_eq!(stores.as_array().unwrap().len(), 1, "{stores}");
    assert_eq!(stores[0]["uuid"], lvs.as_str(), "{stores}");
    assert_eq!(stores[0]["name"], "lvs0", "{stores}");
    assert_eq!(stores[0]["base_bdev"], "Malloc0", "{stores}");
    let lvol0 = uuid_of(&ok(rpc, s, &["bdev_lvol_create", "-l", "lvs0", "lvol0", "16"]).await);
    let thin0 = uuid_of(
        &ok(
            rpc,
            s,
            &["bdev_lvol_create", "-l", "lvs0", "-t", "thin0", "8"],
        )
        .await,
    );
    let dup = error(rpc, s, &["bdev_lvol_create", "-l", "lvs0", "lvol0", "4"]).await;
    assert_eq!(dup, json!({"code": -17, "message": "File exists"}));
    let lvols = json(rpc, s, &["bdev_lvol_get_lvols"]).await;
    let lvols = lvols.as_array().unwrap();
    assert_eq!(lvols.len(), 2, "{lvols:?}");
    for (uuid, alias, thin) in [(&lvol0, "lvs0/lvol0", false), (&thin0, "lvs0/thin0", true)] {
        let lvol = lvols.iter().find(|l| l["uuid"] == uuid.as_str()).unwrap();
        assert_eq!(lvol["alias"], alias, "{lvol}");
        assert_eq!(lvol["is_thin_provisioned"], thin, "{lvol}");
        assert_eq!(lvol["lvs"]["name"], "lvs0", "{lvol}");
    }
    let bdev = json(rpc, s, &["bdev_get_bdevs", "-b", &lvol0]).await;
    assert_eq!(bdev[0]["name"], lvol0.as_str(), "{bdev}");
    assert_eq!(bdev[0]["aliases"], json!(["lvs0/lvol0"]), "{bdev}");

    // A raid0 of Malloc2 and Malloc3.
    let raid = [
        "bdev_raid_create",
        "-n",
        "Raid0",
        "-z",
        "64",
        "-r",
        "raid0",
        "-b",
        "Malloc2 Malloc3",
    ];
    assert_eq!(ok(rpc, s, &raid).await, "");
    let raids = json(rpc, s, &["bdev_raid_get_bdevs", "all"]).await;
    assert_eq!(raids.as_array().unwrap().len(), 1, "{raids}");
    assert_eq!(raids[0]["name"], "Raid0", "{raids}");
    assert_eq!(raids[0]["state"], "online", "{raids}");
    assert_eq!(raids[0]["raid_level"], "raid0", "{raids}");
    assert_eq!(raids[0]["strip_size_kb"], 64, "{raids}");
    assert_eq!(raids[0]["num_base_bdevs"], 2, "{raids}");

    // NVMe-oF: a TCP transport, a subsystem with Malloc1 and a listener.
    assert_eq!(
        ok(rpc, s, &["nvmf_create_transport", "-t", "TCP"]).await,
        ""
    );
    let again = error(rpc, s, &["nvmf_create_transport", "-t", "TCP"]).await;
    assert_eq!(
        again,
        json!({"code": -32603, "message": "Transport type 'TCP' already exists"})
    );
    let create = [
        "nvmf_create_subsystem",
        NQN,
        "-a",
        "-s",
        "SPDK00000000000001",
    ];
    assert_eq!(ok(rpc, s, &create).await, "");
    assert_eq!(
        ok(rpc, s, &["nvmf_subsystem_add_ns", NQN, "Malloc1"]).await,
        ""
    );
    let listener = [
        "nvmf_subsystem_add_listener",
        NQN,
        "-t",
        "TCP",
        "-a",
        "127.0.0.1",
        "-s",
        "4420",
        "-f",
        "IPv4",
    ];
    assert_eq!(ok(rpc, s, &listener).await, "");
    let twice = error(rpc, s, &listener).await;
    assert_eq!(
        twice,
        json!({"code": -32602, "message": "Invalid parameters"})
    );
    let subsystems = json(rpc, s, &["nvmf_get_subsystems"]).await;
    let ours = subsystems
        .as_array()
        .unwrap()
        .iter()
        .find(|sub| sub["nqn"] == NQN)
        .unwrap_or_else(|| panic!("{NQN} missing: {subsystems}"));
    assert_eq!(ours["subtype"], "NVMe", "{ours}");
    assert_eq!(ours["allow_any_host"], true, "{ours}");
    assert_eq!(ours["serial_number"], "SPDK00000000000001", "{ours}");
    assert_eq!(ours["namespaces"][0]["nsid"], 1, "{ours}");
    assert_eq!(ours["namespaces"][0]["bdev_name"], "Malloc1", "{ours}");
    let address = &ours["listen_addresses"][0];
    assert_eq!(address["trtype"], "TCP", "{ours}");
    assert_eq!(address["traddr"], "127.0.0.1", "{ours}");
    assert_eq!(address["trsvcid"], "4420", "{ours}");

    // Log flags.
    assert_eq!(ok(rpc, s, &["log_set_flag", "bdev"]).await, "");
    let flags = json(rpc, s, &["log_get_flags"]).await;
    assert_eq!(flags["bdev"], true, "{flags}");
    let bad = error(rpc, s, &["log_set_flag", "no_such_flag"]).await;
    assert_eq!(bad, json!({"code": -32602, "message": "invalid log flag"}));

    // Take it all down, and nothing is left.
    for args in [
        &["nvmf_delete_subsystem", NQN][..],
        &["bdev_raid_delete", "Raid0"],
        &["bdev_lvol_delete", "lvs0/thin0"],
        &["bdev_lvol_delete", &lvol0],
        &["bdev_lvol_delete_lvstore", "-l", "lvs0"],
        &["bdev_malloc_delete", "Malloc0"],
        &["bdev_malloc_delete", "Malloc1"],
        &["bdev_malloc_delete", "Malloc2"],
        &["bdev_malloc_delete", "Malloc3"],
    ] {
        assert_eq!(ok(rpc, s, args).await, "", "{args:?}");
    }
    assert_eq!(json(rpc, s, &["bdev_get_bdevs"]).await, json!([]));
    assert_eq!(json(rpc, s, &["bdev_lvol_get_lvstores"]).await, json!([]));
    assert_eq!(json(rpc, s, &["bdev_lvol_get_lvols"]).await, json!([]));
    assert_eq!(
        json(rpc, s, &["bdev_raid_get_bdevs", "all"]).await,
        json!([])
    );
    let left = json(rpc, s, &["nvmf_get_subsystems"]).await;
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|sub| sub["subtype"] == "Discovery"),
        "{left}"
    );
    let missing = error(rpc, s, &["bdev_raid_delete", "Raid0"]).await;
    assert_eq!(
        missing,
        json!({"code": -19, "message": "raid bdev Raid0 not found"})
    );
    target.stop();
}

/// Builds a configuration on the mock target with `tool`.
async fn configure(tool: Tool, s: &str) {
    for args in [
        &["bdev_malloc_create", "-b", "Malloc0", "64", "512"][..],
        &["bdev_malloc_create", "-b", "Malloc1", "32", "4096"],
        &["bdev_malloc_create", "-b", "Malloc2", "32", "4096"],
        &["bdev_null_create", "Null0", "128", "512"],
        &["bdev_split_create", "Null0", "2"],
        &["bdev_lvol_create_lvstore", "Malloc0", "lvs0"],
        &["bdev_lvol_create", "-l", "lvs0", "lvol0", "16"],
        &[
            "bdev_raid_create",
            "-n",
            "Raid0",
            "-z",
            "64",
            "-r",
            "raid0",
            "-b",
            "Malloc1 Malloc2",
        ],
        &["nvmf_create_transport", "-t", "TCP"],
        &[
            "nvmf_create_subsystem",
            NQN,
            "-a",
            "-s",
            "SPDK00000000000001",
        ],
        &["nvmf_subsystem_add_ns", NQN, "Null0p0"],
        &[
            "nvmf_subsystem_add_listener",
            NQN,
            "-t",
            "TCP",
            "-a",
            "127.0.0.1",
            "-s",
            "4420",
            "-f",
            "IPv4",
        ],
        &["log_set_flag", "bdev"],
    ] {
        ok(tool, s, args).await;
    }
}

/// SPDK's configuration round trip on the mock: `spdk-rpc save_config`,
/// restart the target with `--json` that file, `save_config` again: the
/// same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdk_config_round_trip_through_the_mock_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("spdk.sock");
    let s = socket.to_str().unwrap();
    let target = mock_on(&socket, &[]);
    configure(Tool::SpdkRpc, s).await;
    let qos = [
        "bdev_set_qos_limit",
        "Null0",
        "--rw-ios-per-sec",
        "20000",
        "--w-mbytes-per-sec",
        "100",
    ];
    ok(Tool::SpdkRpc, s, &qos).await;
    let first = ok(Tool::SpdkRpc, s, &["save_config"]).await;
    target.stop();
    let config: Value = serde_json::from_str(&first).unwrap();
    let methods: Vec<&str> = config["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|sub| sub["config"].as_array())
        .flatten()
        .filter_map(|entry| entry["method"].as_str())
        .collect();
    for method in [
        "bdev_malloc_create",
        "bdev_null_create",
        "bdev_split_create",
        "bdev_raid_create",
        "nvmf_create_transport",
        "nvmf_create_subsystem",
        "nvmf_subsystem_add_ns",
        "nvmf_subsystem_add_listener",
        "bdev_set_qos_limit",
    ] {
        assert!(methods.contains(&method), "{method} not saved:\n{first}");
    }
    // lib/bdev/bdev.c: the null module writes its bdevs in its module
    // config; the limits come later, in the pass over every bdev
    // (bdev_qos_config_json), only those set.
    let bdev = config["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sub| sub["subsystem"] == "bdev")
        .unwrap()["config"]
        .as_array()
        .unwrap();
    let at = |method: &str, name: &str| {
        bdev.iter()
            .position(|e| e["method"] == method && e["params"]["name"] == name)
            .unwrap_or_else(|| panic!("no {method} of {name}"))
    };
    assert!(at("bdev_set_qos_limit", "Null0") > at("bdev_null_create", "Null0"));
    assert_eq!(
        bdev[at("bdev_set_qos_limit", "Null0")]["params"],
        json!({"name": "Null0", "rw_ios_per_sec": 20000, "w_mbytes_per_sec": 100})
    );

    let file = dir.path().join("config.json");
    std::fs::write(&file, &first).unwrap();
    let _ = std::fs::remove_file(&socket);
    let target = mock_on(&socket, &["--json", file.to_str().unwrap()]);
    let second = ok(Tool::SpdkRpc, s, &["save_config"]).await;
    assert!(
        first == second,
        "save_config after a restart with --json differs\n--- before\n{first}\n--- after\n{second}"
    );
    // Lvstores and lvols are not in a configuration: SPDK finds them on
    // their base bdev, and a malloc bdev starts empty. Shown, not checked.
    let lvols = json(Tool::SpdkRpc, s, &["bdev_lvol_get_lvols"]).await;
    eprintln!("lvols after the restart: {lvols}");
    target.stop();
}

/// Our command line and `spdk-rpc` take turns building a setup on the
/// mock; every listing, both tools print the same JSON, and both report
/// the same errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_cli_prints_what_spdk_rpc_prints_against_the_mock() {
    let target = mock(&[]);
    let s = target.socket();
    let (rpc, ours) = (Tool::SpdkRpc, Tool::Ours);
    let lists: &[&[&str]] = &[
        &["spdk_get_version"],
        &["rpc_get_methods"],
        &["rpc_get_methods", "--current"],
        &["framework_get_subsystems"],
        &["bdev_get_bdevs"],
        &["bdev_lvol_get_lvstores"],
        &["bdev_lvol_get_lvols"],
        &["bdev_raid_get_bdevs", "all"],
        &["nvmf_get_subsystems"],
        &["log_get_flags"],
        &["framework_get_config", "bdev"],
        &["framework_get_config", "nvmf"],
        &["save_config"],
    ];
    for args in lists {
        same_json(s, args).await;
    }

    assert_eq!(
        ok(
            rpc,
            s,
            &["bdev_malloc_create", "-b", "Malloc0", "64", "512"]
        )
        .await,
        "Malloc0\n"
    );
    assert_eq!(
        ok(
            ours,
            s,
            &["bdev_malloc_create", "-b", "Malloc1", "64", "512"]
        )
        .await,
        "Malloc1\n"
    );
    assert_eq!(
        ok(ours, s, &["bdev_malloc_create", "32", "4096"]).await,
        "Malloc2\n"
    );
    assert_eq!(
        ok(ours, s, &["bdev_null_create", "Null0", "128", "512"]).await,
        "Null0\n"
    );
    assert_eq!(
        ok(rpc, s, &["bdev_split_create", "Malloc1", "2"]).await,
        "Malloc1p0 Malloc1p1\n"
    );
    assert_eq!(
        ok(ours, s, &["bdev_split_create", "Null0", "2"]).await,
        "Null0p0 Null0p1\n"
    );
    uuid_of(&ok(ours, s, &["bdev_lvol_create_lvstore", "Malloc0", "lvs0"]).await);
    uuid_of(&ok(rpc, s, &["bdev_lvol_create", "-l", "lvs0", "lvol0", "16"]).await);
    let thin = uuid_of(
        &ok(
            ours,
            s,
            &["bdev_lvol_create", "-l", "lvs0", "-t", "thin0", "8"],
        )
        .await,
    );
    let raid = [
        "bdev_raid_create",
        "-n",
        "Raid0",
        "-z",
        "64",
        "-r",
        "raid0",
        "-b",
        "Malloc1p0 Malloc1p1",
    ];
    assert_eq!(ok(ours, s, &raid).await, "");
    assert_eq!(
        ok(ours, s, &["nvmf_create_transport", "-t", "TCP"]).await,
        ""
    );
    assert_eq!(ok(rpc, s, &["nvmf_create_subsystem", NQN, "-a"]).await, "");
    assert_eq!(
        ok(ours, s, &["nvmf_subsystem_add_ns", NQN, "Null0p0"]).await,
        ""
    );
    let listener = [
        "nvmf_subsystem_add_listener",
        NQN,
        "-t",
        "TCP",
        "-a",
        "127.0.0.1",
        "-s",
        "4420",
        "-f",
        "IPv4",
    ];
    assert_eq!(ok(ours, s, &listener).await, "");
    assert_eq!(ok(ours, s, &["log_set_flag", "bdev"]).await, "");
    for args in lists {
        same_json(s, args).await;
    }
    same_json(s, &["bdev_get_bdevs", "-b", "Malloc0"]).await;
    same_json(s, &["bdev_get_bdevs", "-b", &thin]).await;
    same_json(s, &["bdev_lvol_get_lvols", "-l", "lvs0"]).await;
    same_json(s, &["nvmf_get_subsystems", NQN]).await;
    let by_name = json(
        ours,
        s,
        &["call", "bdev_get_bdevs", r#"{"name": "Malloc0"}"#],
    )
    .await;
    assert_eq!(
        by_name,
        json(rpc, s, &["bdev_get_bdevs", "-b", "Malloc0"]).await
    );

    same_error(s, &["bdev_malloc_create", "-b", "Malloc0", "8", "512"]).await;
    same_error(s, &["bdev_get_bdevs", "-b", "Nope"]).await;
    same_error(s, &["bdev_raid_delete", "Nope"]).await;
    same_error(s, &["nvmf_create_transport", "-t", "TCP"]).await;
    same_error(s, &listener).await;
    same_error(s, &["log_set_flag", "no_such_flag"]).await;

    for args in [
        &["nvmf_delete_subsystem", NQN][..],
        &["bdev_raid_delete", "Raid0"],
        &["bdev_lvol_delete", &thin],
        &["bdev_lvol_delete", "lvs0/lvol0"],
        &["bdev_split_delete", "Malloc1"],
        &["bdev_split_delete", "Null0"],
        &["bdev_null_delete", "Null0"],
        &["bdev_malloc_delete", "Malloc0"],
        &["bdev_malloc_delete", "Malloc1"],
        &["bdev_malloc_delete", "Malloc2"],
    ] {
        let tool = if args[0] == "nvmf_delete_subsystem" {
            rpc
        } else {
            ours
        };
        assert_eq!(ok(tool, s, args).await, "", "{args:?}");
    }
    for args in lists {
        same_json(s, args).await;
    }
    assert_eq!(same_json(s, &["bdev_get_bdevs"]).await, json!([]));
    target.stop();
}

// ------------------------------------------------------ with no target

/// A request as `--dry-run` prints it, with the flags `rpc.py` always
/// sends at their defaults (`false`, and `nvmf_create_transport`'s
/// `c2h_success: true`) taken out: ours leaves defaults out.
fn dry_request(tool: Tool, output: &Output) -> Value {
    assert!(output.status.success(), "{tool:?}\n{}", show(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .strip_prefix("Request:\n")
        .unwrap_or_else(|| panic!("{tool:?}: no request printed\n{}", show(output)));
    let mut request: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{tool:?}: the request is not JSON ({e})\n{}", show(output)));
    fn drop_defaults(value: &mut Value) {
        if let Value::Object(map) = value {
            map.retain(|_, v| *v != Value::Bool(false));
            map.values_mut().for_each(drop_defaults);
        }
    }
    if request["method"] == "nvmf_create_transport" {
        if let Some(params) = request["params"].as_object_mut() {
            if params.get("c2h_success") == Some(&Value::Bool(true)) {
                params.remove("c2h_success");
            }
        }
    }
    drop_defaults(&mut request);
    if request["params"] == json!({}) {
        request.as_object_mut().unwrap().remove("params");
    }
    request
}

/// Every subcommand of ours sends the request `spdk-rpc` sends for the
/// same arguments (both with `--dry-run`, no target): the same method, the
/// same params with the same types (sizes in MiB turned into blocks alike).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_requests_are_spdk_rpcs() {
    let commands: &[&[&str]] = &[
        &["spdk_get_version"],
        &["rpc_get_methods"],
        &["rpc_get_methods", "--current"],
        &["rpc_get_methods", "-c", "-i"],
        &["framework_start_init"],
        &["framework_get_subsystems"],
        &["framework_get_config", "bdev"],
        &["bdev_get_bdevs"],
        &["bdev_get_bdevs", "-b", "Malloc0"],
        &["bdev_get_bdevs", "-b", "Malloc0", "-t", "500"],
        &["bdev_malloc_create", "-b", "Malloc0", "64", "512"],
        &["bdev_malloc_create", "1.5", "4096"],
        &["bdev_malloc_create", "0.3", "512"],
        &["bdev_malloc_delete", "Malloc0"],
        &["bdev_null_create", "Null0", "128", "4096"],
        &["bdev_null_delete", "Null0"],
        &["bdev_split_create", "Malloc0", "4"],
        &["bdev_split_create", "Malloc0", "2", "-s", "16"],
        &["bdev_split_delete", "Malloc0"],
        &["bdev_lvol_create_lvstore", "Malloc0", "lvs0"],
        &[
            "bdev_lvol_create_lvstore",
            "Malloc0",
            "lvs0",
            "-c",
            "1048576",
        ],
        &["bdev_lvol_create", "-l", "lvs0", "lvol0", "16"],
        &["bdev_lvol_create", "-l", "lvs0", "-t", "thin0", "8"],
        &[
            "bdev_lvol_create",
            "-u",
            "2a3e4f5b-0000-4000-8000-000000000001",
            "v",
            "1",
        ],
        &["bdev_lvol_get_lvstores"],
        &["bdev_lvol_get_lvstores", "-l", "lvs0"],
        &["bdev_lvol_get_lvols"],
        &["bdev_lvol_get_lvols", "-l", "lvs0"],
        &["bdev_lvol_delete", "lvs0/lvol0"],
        &[
            "bdev_raid_create",
            "-n",
            "Raid0",
            "-z",
            "64",
            "-r",
            "raid0",
            "-b",
            "Malloc0 Malloc1",
        ],
        &[
            "bdev_raid_create",
            "-n",
            "Raid1",
            "-r",
            "raid1",
            "-b",
            "M0 M1",
        ],
        &["bdev_raid_get_bdevs", "all"],
        &["bdev_raid_get_bdevs", "online"],
        &["bdev_raid_delete", "Raid0"],
        &["nvmf_create_transport", "-t", "TCP"],
        &["nvmf_create_subsystem", NQN],
        &[
            "nvmf_create_subsystem",
            NQN,
            "-a",
            "-s",
            "SPDK001",
            "-d",
            "Model",
            "-m",
            "32",
        ],
        &["nvmf_subsystem_add_ns", NQN, "Malloc0"],
        &["nvmf_subsystem_add_ns", NQN, "Malloc0", "-n", "3"],
        &[
            "nvmf_subsystem_add_listener",
            NQN,
            "-t",
            "TCP",
            "-a",
            "127.0.0.1",
            "-s",
            "4420",
            "-f",
            "IPv4",
        ],
        &[
            "nvmf_subsystem_add_listener",
            NQN,
            "-t",
            "TCP",
            "-a",
            "10.0.0.1",
        ],
        &["nvmf_get_subsystems"],
        &["nvmf_get_subsystems", NQN],
        &["log_set_flag", "bdev"],
        &["log_get_flags"],
    ];
    for args in commands {
        let mut dry = vec!["--dry-run"];
        dry.extend_from_slice(args);
        let theirs = dry_request(
            Tool::SpdkRpc,
            &run(Tool::SpdkRpc, "/nonexistent", &dry, None).await,
        );
        let ours = dry_request(
            Tool::Ours,
            &run(Tool::Ours, "/nonexistent", &dry, None).await,
        );
        assert_eq!(
            ours, theirs,
            "{args:?}: our request differs from spdk-rpc's"
        );
    }
}

/// With no target at the socket, both tools say so in `rpc.py`'s words
/// and exit with status 1.
#[tokio::test]
async fn a_missing_target_is_reported_as_spdk_rpc_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let socket = socket.to_str().unwrap();
    for tool in [Tool::SpdkRpc, Tool::Ours] {
        let out = run(tool, socket, &["spdk_get_version"], None).await;
        assert_eq!(out.status.code(), Some(1), "{tool:?}\n{}", show(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "Error while connecting to {socket}\nIs SPDK application running?\nError details: "
        );
        assert!(stdout.starts_with(&expected), "{tool:?}\n{}", show(&out));
    }
}

// ------------------------------------------------- against a target in here

/// A small target served in this process on a temporary socket.
struct InProcess {
    _dir: tempfile::TempDir,
    socket: String,
    _server: jsonrpc_transport::RunningServer,
}

async fn in_process() -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spdk.sock");
    let server = serve(small_target(), &path).await;
    InProcess {
        socket: path.to_str().unwrap().to_owned(),
        _dir: dir,
        _server: server,
    }
}

/// Our command line prints, byte for byte, what `spdk-rpc` prints for the
/// same calls, `save_config` included; errors give exit status 1 and the
/// same error object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_cli_prints_spdk_rpcs_text() {
    let target = in_process().await;
    let s = target.socket.as_str();
    let (rpc, ours) = (Tool::SpdkRpc, Tool::Ours);
    let same_text = |args: &'static [&'static str]| async move {
        let theirs = ok(rpc, s, args).await;
        assert_eq!(ok(ours, s, args).await, theirs, "{args:?}");
        theirs
    };

    let version = same_text(&["spdk_get_version"]).await;
    assert!(version.starts_with("{\n  \"version\": \"SPDK v26.09-pre\",\n  \"fields\": {\n"));
    let methods = same_text(&["rpc_get_methods"]).await;
    assert!(methods.contains("  \"bdev_malloc_create\",\n"), "{methods}");
    same_text(&["rpc_get_methods", "--current"]).await;
    assert_eq!(same_text(&["bdev_get_bdevs"]).await, "[]\n");

    assert_eq!(
        ok(rpc, s, &["bdev_malloc_create", "-b", "Malloc0", "8", "512"]).await,
        "Malloc0\n"
    );
    assert_eq!(
        ok(
            ours,
            s,
            &["bdev_malloc_create", "-b", "Malloc1", "1.5", "4096"]
        )
        .await,
        "Malloc1\n"
    );
    assert_eq!(
        ok(ours, s, &["bdev_malloc_create", "1", "512"]).await,
        "Malloc2\n"
    );
    assert_eq!(
        ok(rpc, s, &["bdev_malloc_create", "1", "512"]).await,
        "Malloc3\n"
    );
    let bdevs = same_text(&["bdev_get_bdevs"]).await;
    let bdevs: Value = serde_json::from_str(&bdevs).unwrap();
    assert_eq!(bdevs[0]["num_blocks"], 16384, "{bdevs}");
    assert_eq!(bdevs[1]["num_blocks"], 384, "{bdevs}");
    same_text(&["bdev_get_bdevs", "-b", "Malloc1"]).await;
    same_text(&["framework_get_subsystems"]).await;
    same_text(&["framework_get_config", "bdev"]).await;
    same_text(&["log_get_flags"]).await;
    let via_call = ok(
        ours,
        s,
        &["call", "bdev_get_bdevs", r#"{"name":"Malloc1"}"#],
    )
    .await;
    assert_eq!(
        via_call,
        ok(rpc, s, &["bdev_get_bdevs", "-b", "Malloc1"]).await
    );
    let version_call = ok(ours, s, &["call", "spdk_get_version"]).await;
    assert_eq!(version_call, version);

    same_text(&["save_config"]).await;

    assert_eq!(
        same_error(s, &["bdev_get_bdevs", "-b", "Nope"]).await,
        json!({"code": -19, "message": "No such device"})
    );
    assert_eq!(
        same_error(s, &["bdev_malloc_create", "-b", "Malloc0", "8", "512"]).await,
        json!({"code": -17, "message": "File exists"})
    );
    // spdk-rpc has no `call`: only ours runs that one.
    let out = run(ours, s, &["call", "no_such_method"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"code\": -32601"),
        "{}",
        show(&out)
    );

    assert_eq!(ok(rpc, s, &["bdev_malloc_delete", "Malloc3"]).await, "");
    assert_eq!(ok(ours, s, &["bdev_malloc_delete", "Malloc2"]).await, "");
    let gone = same_error(s, &["bdev_malloc_delete", "Malloc2"]).await;
    assert_eq!(gone["code"], -19);
}

/// What `spdk-rpc save_config` wrote, our `load_config` replays on a fresh
/// target, whose `spdk-rpc save_config` is then the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_load_config_replays_spdk_rpcs_save_config() {
    let (first, second) = (in_process().await, in_process().await);
    for args in [
        &["bdev_malloc_create", "-b", "Malloc0", "8", "512"][..],
        &["bdev_malloc_create", "-b", "Mällöc-ü", "4", "4096"],
        &["bdev_malloc_create", "2", "512"],
    ] {
        ok(Tool::SpdkRpc, &first.socket, args).await;
    }
    let saved = ok(Tool::SpdkRpc, &first.socket, &["save_config"]).await;
    assert!(saved.contains("M\\u00e4ll\\u00f6c-\\u00fc"), "{saved}");

    let out = run(Tool::Ours, &second.socket, &["load_config"], Some(&saved)).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let again = ok(Tool::SpdkRpc, &second.socket, &["save_config"]).await;
    assert_eq!(again, saved);

    // And the other way: ours saves, spdk-rpc loads (`-j FILE`).
    let third = in_process().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(
        &file,
        ok(Tool::Ours, &second.socket, &["save_config"]).await,
    )
    .unwrap();
    ok(
        Tool::SpdkRpc,
        &third.socket,
        &["load_config", "-j", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        ok(Tool::SpdkRpc, &third.socket, &["save_config"]).await,
        saved
    );
}

/// What a fresh spdk_tgt 26.09-pre (default configure) writes for each
/// subsystem, in `framework_get_subsystems` order, keys in the order the
/// target writes them; each default read from SPDK's source (the file
/// named beside it).
fn fresh_config() -> Value {
    let dhchap_digests = json!(["sha256", "sha384", "sha512"]);
    let dhchap_dhgroups = json!([
        "null",
        "ffdhe2048",
        "ffdhe3072",
        "ffdhe4096",
        "ffdhe6144",
        "ffdhe8192"
    ]);
    let sock_impl = |name: &str, buf: u32| {
        // module/sock/posix/posix.c g_posix_impl_opts / g_ssl_impl_opts;
        // buffer sizes from include/spdk_internal/sock_module.h.
        json!({"method": "sock_impl_set_options", "params": {
            "impl_name": name, "recv_buf_size": buf, "send_buf_size": buf,
            "enable_recv_pipe": true, "enable_quickack": false, "enable_placement_id": 0,
            "enable_zerocopy_send_server": true, "enable_zerocopy_send_client": false,
            "zerocopy_threshold": 0, "tls_version": 0, "enable_ktls": false}})
    };
    // module/keyring/linux/keyring.c: the linux module is off, so its
    // init answers -ENODEV and it drops out (lib/keyring/keyring.c).
    let keyring = json!({"subsystem": "keyring", "config": []});
    // lib/thread/iobuf.c IOBUF_DEFAULT_*.
    let iobuf = json!({"subsystem": "iobuf", "config": [
            {"method": "iobuf_set_options", "params": {
                "small_pool_count": 8192, "large_pool_count": 1024,
                "small_bufsize": 8192, "large_bufsize": 135168, "enable_numa": false}}]});
    // lib/sock/sock.c spdk_sock_write_config_json: the default impl
    // (posix registers as default), then each impl, newest first.
    let sock = json!({"subsystem": "sock", "config": [
            {"method": "sock_set_default_impl", "params": {"impl_name": "posix"}},
            sock_impl("ssl", 4096),
            sock_impl("posix", 2097152)]});
    // module/event/subsystems/vmd/vmd.c: only when enabled.
    let vmd = json!({"subsystem": "vmd", "config": []});
    // lib/accel/accel.c g_opts (ACCEL_*_CACHE_SIZE, ACCEL_TASKS_PER_CHANNEL).
    let accel = json!({"subsystem": "accel", "config": [
            {"method": "accel_set_options", "params": {
                "small_cache_size": 128, "large_cache_size": 16,
                "task_count": 2048, "sequence_count": 2048, "buf_count": 2048}}]});
    // module/event/subsystems/scheduler/scheduler.c: static, set at
    // init; lib/event/scheduler_static.c leaves the period 0, unwritten.
    let scheduler = json!({"subsystem": "scheduler", "config": [
            {"method": "framework_set_scheduler", "params": {"name": "static"}}]});
    // module/bdev/nvme/bdev_nvme.c g_opts in the order of
    // bdev_nvme_opts_config_json (multipath: the policy only, when
    // active-passive).
    let nvme_options = json!({
                "action_on_timeout": "none", "timeout_us": 0, "timeout_admin_us": 0,
                "keep_alive_timeout_ms": 10000, "arbitration_burst": 0,
                "low_priority_weight": 0, "medium_priority_weight": 0, "high_priority_weight": 0,
                "nvme_adminq_poll_period_us": 10000, "nvme_ioq_poll_period_us": 0,
                "io_queue_requests": 0, "delay_cmd_submit": true, "transport_retry_count": 4,
                "bdev_retry_count": 3, "transport_ack_timeout": 0, "ctrlr_loss_timeout_sec": 0,
                "reconnect_delay_sec": 0, "fast_io_fail_timeout_sec": 0,
                "disable_auto_failback": false, "generate_uuids": false, "transport_tos": 0,
                "nvme_error_stat": false, "rdma_srq_size": 0, "io_path_stat": false,
                "allow_accel_sequence": false, "rdma_max_cq_size": 0,
                "rdma_cm_event_timeout_ms": 0, "dhchap_digests": dhchap_digests,
                "dhchap_dhgroups": dhchap_dhgroups, "rdma_umr_per_io": false,
                "tcp_connect_timeout_ms": 0, "enable_flush": false,
                "multipath_opts": {"policy": "active_passive"}});
    // lib/bdev/bdev.c spdk_bdev_subsystem_config_json and g_bdev_opts;
    // module/bdev/raid/bdev_raid.c g_opts; module/bdev/nvme/bdev_nvme.c
    // g_opts, bdev_nvme_opts_config_json, hotplug defaults.
    let bdev = json!({"subsystem": "bdev", "config": [
            {"method": "bdev_set_options", "params": {
                "bdev_io_pool_size": 65535, "bdev_io_cache_size": 256, "bdev_auto_examine": true,
                "iobuf_small_cache_size": 128, "iobuf_large_cache_size": 16}},
            {"method": "bdev_raid_set_options", "params": {
                "process_window_size_kb": 1024, "process_max_bandwidth_mb_sec": 0}},
            {"method": "bdev_nvme_set_options", "params": nvme_options},
            {"method": "bdev_nvme_set_hotplug", "params": {"period_us": 100000, "enable": false}},
            {"method": "bdev_wait_for_examine"}]});
    // module/event/subsystems/scsi/scsi.c: no write_config_json.
    let scsi = json!({"subsystem": "scsi", "config": null});
    // lib/iscsi/iscsi.h defaults, iscsi_opts_init and
    // iscsi_opts_info_json (lib/iscsi/iscsi_subsystem.c).
    let iscsi = json!({"subsystem": "iscsi", "config": [
            {"method": "iscsi_set_options", "params": {
                "node_base": "iqn.2016-06.io.spdk", "max_sessions": 128,
                "max_connections_per_session": 2, "max_queue_depth": 64,
                "default_time2wait": 2, "default_time2retain": 20, "first_burst_length": 8192,
                "immediate_data": true, "allow_duplicated_isid": false,
                "error_recovery_level": 0, "nop_timeout": 60, "nop_in_interval": 30,
                "disable_chap": false, "require_chap": false, "mutual_chap": false,
                "chap_group": 0, "max_large_datain_per_connection": 64,
                "max_r2t_per_connection": 4, "pdu_pool_size": 36864,
                "immediate_data_pool_size": 16384, "data_out_pool_size": 2048}}]});
    // module/event/subsystems/nvmf/nvmf_tgt.c g_spdk_nvmf_tgt_conf and
    // nvmf_subsystem_write_config_json; lib/nvmf/nvmf.c
    // spdk_nvmf_tgt_write_config_json (SPDK_NVMF_DEFAULT_MAX_SUBSYSTEMS).
    let nvmf = json!({"subsystem": "nvmf", "config": [
            {"method": "nvmf_set_config", "params": {
                "discovery_filters": [],
                "admin_cmd_passthru": {"identify_ctrlr": false, "identify_uuid_list": false,
                    "get_log_page": false, "get_set_features": false, "sanitize": false,
                    "security_send_recv": false, "fw_update": false, "nvme_mi": false,
                    "vendor_specific": false},
                "dhchap_digests": dhchap_digests, "dhchap_dhgroups": dhchap_dhgroups,
                "dup_host_policy": "allow"}},
            {"method": "nvmf_set_max_subsystems", "params": {"max_subsystems": 1024}},
            {"method": "nvmf_set_crdt", "params": {"crdt1": 0, "crdt2": 0, "crdt3": 0}}]});
    // lib/fsdev/fsdev.c SPDK_FSDEV_IO_POOL_SIZE, SPDK_FSDEV_IO_CACHE_SIZE.
    let fsdev = json!({"subsystem": "fsdev", "config": [
        {"method": "fsdev_set_opts",
            "params": {"fsdev_io_pool_size": 65535, "fsdev_io_cache_size": 256}}]});
    // lib/nbd/nbd.c, lib/vhost/vhost.c: disks and controllers only (the
    // vhost-user-blk transport is not written).
    let nbd = json!({"subsystem": "nbd", "config": []});
    let vhost_blk = json!({"subsystem": "vhost_blk", "config": []});
    let vhost_scsi = json!({"subsystem": "vhost_scsi", "config": []});
    // Init order (lib/init/subsystem.c subsystem_sort over spdk_tgt's
    // static link order), with the dependencies as declared.
    json!({"subsystems": [scheduler, sock, iobuf, keyring, vmd, fsdev, accel, bdev, nvmf,
        nbd, vhost_blk, scsi, iscsi, vhost_scsi]})
}

/// `spdk-rpc save_config` of a fresh mock is, byte for byte, what a fresh
/// real target's would be; options set before init take the defaults'
/// places; and both configs survive a restart with `--json` unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_targets_save_config_has_the_real_defaults() {
    let rpc = Tool::SpdkRpc;
    let target = mock(&[]);
    let fresh = ok(rpc, target.socket(), &["save_config"]).await;
    // Each subsystem's SPDK_SUBSYSTEM_DEPENDs, in declaration order
    // (module/event/subsystems/*/*.c).
    let subsystems = json(rpc, target.socket(), &["framework_get_subsystems"]).await;
    target.stop();
    assert_eq!(
        subsystems,
        json!([
            {"subsystem": "scheduler", "depends_on": []},
            {"subsystem": "sock", "depends_on": []},
            {"subsystem": "iobuf", "depends_on": []},
            {"subsystem": "keyring", "depends_on": []},
            {"subsystem": "vmd", "depends_on": []},
            {"subsystem": "fsdev", "depends_on": []},
            {"subsystem": "accel", "depends_on": ["iobuf"]},
            {"subsystem": "bdev", "depends_on": ["accel", "keyring", "vmd", "sock", "iobuf"]},
            {"subsystem": "nvmf", "depends_on": ["bdev", "keyring", "sock", "accel", "iobuf"]},
            {"subsystem": "nbd", "depends_on": ["bdev"]},
            {"subsystem": "vhost_blk", "depends_on": ["bdev"]},
            {"subsystem": "scsi", "depends_on": ["bdev"]},
            {"subsystem": "iscsi", "depends_on": ["scsi", "sock"]},
            {"subsystem": "vhost_scsi", "depends_on": ["scsi"]}
        ])
    );
    // python's json.dump with indent 2 is serde_json's pretty printer.
    let expected = serde_json::to_string_pretty(&fresh_config()).unwrap();
    assert!(
        fresh.trim_end() == expected,
        "fresh save_config differs\n--- mock\n{fresh}\n--- expected\n{expected}"
    );

    // Set before init: each option in its default's place.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("spdk.sock");
    let s = socket.to_str().unwrap();
    let target = mock_on(&socket, &["--wait-for-rpc"]);
    for args in [
        &["iobuf_set_options", "--small-pool-count", "16384"][..],
        &["sock_impl_set_options", "-i", "posix", "--ktls"],
        &["sock_set_default_impl", "-i", "ssl"],
        &["accel_set_options", "--task-count", "4096"],
        &["keyring_linux_set_options", "--enable"],
        &["vmd_enable"],
        &["bdev_nvme_set_options", "--timeout-us", "5000"],
        &["nvmf_set_crdt", "-t2", "7"],
        &["iscsi_set_options", "--max-sessions", "32"],
        &["framework_start_init"],
    ] {
        ok(rpc, s, args).await;
    }
    let set = ok(rpc, s, &["save_config"]).await;
    target.stop();
    let mut want = fresh_config();
    fn at<'a>(config: &'a mut Value, name: &str) -> &'a mut Value {
        let subsystems = config["subsystems"].as_array_mut().unwrap();
        let found = subsystems.iter_mut().find(|s| s["subsystem"] == name);
        &mut found.unwrap()["config"]
    }
    *at(&mut want, "keyring") =
        json!([{"method": "keyring_linux_set_options", "params": {"enable": true}}]);
    at(&mut want, "iobuf")[0]["params"]["small_pool_count"] = json!(16384);
    at(&mut want, "sock")[0]["params"]["impl_name"] = json!("ssl");
    at(&mut want, "sock")[2]["params"]["enable_ktls"] = json!(true);
    *at(&mut want, "vmd") = json!([{"method": "vmd_enable", "params": {}}]);
    at(&mut want, "accel")[0]["params"]["task_count"] = json!(4096);
    at(&mut want, "bdev")[2]["params"]["timeout_us"] = json!(5000);
    at(&mut want, "iscsi")[0]["params"]["max_sessions"] = json!(32);
    // spdk-rpc's `iscsi_set_options` always sends `immediate_data`: false
    // unless `-i` is given.
    at(&mut want, "iscsi")[0]["params"]["immediate_data"] = json!(false);
    at(&mut want, "nvmf")[2]["params"]["crdt2"] = json!(7);
    let expected = serde_json::to_string_pretty(&want).unwrap();
    assert!(
        set.trim_end() == expected,
        "save_config after setting options differs\n--- mock\n{set}\n--- expected\n{expected}"
    );

    // The round trip: each config loads at start and saves back the same.
    for (what, saved) in [("fresh", &fresh), ("set", &set)] {
        let file = dir.path().join(format!("{what}.json"));
        std::fs::write(&file, saved).unwrap();
        let _ = std::fs::remove_file(&socket);
        let target = mock_on(&socket, &["--json", file.to_str().unwrap()]);
        let again = ok(rpc, s, &["save_config"]).await;
        target.stop();
        assert!(
            &again == saved,
            "{what}: save_config after --json differs\n--- before\n{saved}\n--- after\n{again}"
        );
    }
}

/// Each config element of each subsystem, as a method name, or as the
/// list of its calls' methods for a batch.
fn layout(config: &Value) -> Value {
    let subsystems = config["subsystems"].as_array().expect("subsystems");
    let mut out = serde_json::Map::new();
    for sub in subsystems {
        let items = sub["config"].as_array().cloned().unwrap_or_default();
        let shape: Vec<Value> = items
            .iter()
            .map(|item| match item.as_array() {
                Some(calls) => calls.iter().map(|c| c["method"].clone()).collect(),
                None => item["method"].clone(),
            })
            .collect();
        out.insert(sub["subsystem"].as_str().unwrap().to_owned(), json!(shape));
    }
    Value::Object(out)
}

/// A config with its batches' calls put in their places, as
/// `framework_get_config` writes it without `with_batches`.
fn flattened(config: &Value) -> Value {
    let mut config = config.clone();
    for sub in config["subsystems"].as_array_mut().unwrap() {
        if let Some(items) = sub["config"].as_array() {
            let flat: Vec<Value> = items
                .iter()
                .flat_map(|item| match item.as_array() {
                    Some(calls) => calls.clone(),
                    None => vec![item.clone()],
                })
                .collect();
            sub["config"] = json!(flat);
        }
    }
    config
}

/// Builds, with `spdk-rpc`, malloc and null bdevs, an NVMe-oF subsystem
/// with a namespace, a host and a listener, and an NVMe controller
/// attached to that listener.
async fn configure_batched(s: &str) {
    for args in [
        &["bdev_malloc_create", "-b", "Malloc0", "32", "512"][..],
        &["bdev_malloc_create", "-b", "Malloc1", "16", "4096"],
        &["bdev_null_create", "Null0", "64", "512"],
        &["nvmf_create_transport", "-t", "TCP"],
        &["nvmf_create_subsystem", NQN, "-s", "SPDK00000000000001"],
        &["nvmf_subsystem_add_ns", NQN, "Malloc0"],
        &[
            "nvmf_subsystem_add_host",
            NQN,
            "nqn.2014-08.org.nvmexpress:uuid:host1",
        ],
        &[
            "nvmf_subsystem_add_listener",
            NQN,
            "-t",
            "TCP",
            "-a",
            "127.0.0.1",
            "-s",
            "4420",
            "-f",
            "IPv4",
        ],
        &[
            "bdev_nvme_attach_controller",
            "-b",
            "Nvme0",
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            "4420",
            "-f",
            "ipv4",
            "-n",
            NQN,
        ],
    ] {
        ok(Tool::SpdkRpc, s, args).await;
    }
}

/// `spdk-rpc save_config --with-batches` shows the batches where SPDK
/// 26.09 writes them (bdev_malloc_config_json, bdev_null_config_json,
/// bdev_nvme_config_json, spdk_nvmf_tgt_write_config_json), `[]` for an
/// empty one; without the flag the same calls come flattened. The file
/// goes back through `--json` (each batch sent as one) and through
/// `spdk-rpc load_config` to the same bytes;
/// one whose NVMe controller attaches to the target's own listener fails
/// to load, as spdk_tgt's would: the bdev subsystem's attach batch runs
/// before the nvmf subsystem listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_config_with_batches_keeps_spdks_batches_and_loads_back() {
    let rpc = Tool::SpdkRpc;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("spdk.sock");
    let s = socket.to_str().unwrap();

    // A fresh target: every batch there, empty.
    let target = mock_on(&socket, &[]);
    let fresh: Value =
        serde_json::from_str(&ok(rpc, s, &["save_config", "--with-batches"]).await).unwrap();
    let fresh_layout = layout(&fresh);
    assert_eq!(
        fresh_layout["bdev"],
        json!([
            "bdev_set_options",
            "bdev_raid_set_options",
            [],
            [],
            "bdev_nvme_set_options",
            [],
            "bdev_nvme_set_hotplug",
            "bdev_wait_for_examine"
        ])
    );
    assert_eq!(
        fresh_layout["nvmf"],
        json!([
            "nvmf_set_config",
            "nvmf_set_max_subsystems",
            "nvmf_set_crdt",
            [],
            [],
            [],
            [],
            []
        ])
    );
    assert_eq!(flattened(&fresh), fresh_config());

    configure_batched(s).await;
    let with_nvme = ok(rpc, s, &["save_config", "--with-batches"]).await;
    let config: Value = serde_json::from_str(&with_nvme).unwrap();
    let shape = layout(&config);
    assert_eq!(
        shape["bdev"],
        json!([
            "bdev_set_options",
            "bdev_raid_set_options",
            ["bdev_malloc_create", "bdev_malloc_create"],
            ["bdev_null_create"],
            "bdev_nvme_set_options",
            ["bdev_nvme_attach_controller"],
            "bdev_nvme_set_hotplug",
            "bdev_wait_for_examine"
        ])
    );
    assert_eq!(
        shape["nvmf"],
        json!([
            "nvmf_set_config",
            "nvmf_set_max_subsystems",
            "nvmf_set_crdt",
            "nvmf_create_transport",
            ["nvmf_create_subsystem"],
            ["nvmf_subsystem_add_host"],
            ["nvmf_subsystem_add_ns"],
            [],
            ["nvmf_subsystem_add_listener"]
        ])
    );
    // Only those modules write batches.
    for (name, items) in shape.as_object().unwrap() {
        if name != "bdev" && name != "nvmf" {
            assert!(
                items.as_array().unwrap().iter().all(Value::is_string),
                "{name}: {items}"
            );
        }
    }
    let flat: Value = serde_json::from_str(&ok(rpc, s, &["save_config"]).await).unwrap();
    assert_eq!(flat, flattened(&config));

    // The controller's attach cannot connect at load: the load fails on
    // that batch, naming the call.
    let file = dir.path().join("with_nvme.json");
    std::fs::write(&file, &with_nvme).unwrap();
    let out = std::process::Command::new(example_bin("spdk_target"))
        .args(["-r", dir.path().join("other.sock").to_str().unwrap()])
        .args(["--json", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the load succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bdev_nvme_attach_controller"), "{stderr}");

    // Without it, the round trip gives the same bytes.
    ok(rpc, s, &["bdev_nvme_detach_controller", "Nvme0"]).await;
    let first = ok(rpc, s, &["save_config", "--with-batches"]).await;
    target.stop();
    let shape = layout(&serde_json::from_str(&first).unwrap());
    assert_eq!(shape["bdev"][5], json!([]));
    let file = dir.path().join("config.json");
    std::fs::write(&file, &first).unwrap();
    let _ = std::fs::remove_file(&socket);
    let target = mock_on(&socket, &["--json", file.to_str().unwrap()]);
    let second = ok(rpc, s, &["save_config", "--with-batches"]).await;
    target.stop();
    assert!(
        first == second,
        "save_config --with-batches after --json differs\n--- before\n{first}\n--- after\n{second}"
    );

    // SPDK's own load_config sends each batch as one JSON-RPC batch
    // (JSONRPCClient.call_batch); on a fresh --wait-for-rpc target it
    // rebuilds the same config.
    let _ = std::fs::remove_file(&socket);
    let target = mock_on(&socket, &["--wait-for-rpc"]);
    ok(rpc, s, &["load_config", "-j", file.to_str().unwrap()]).await;
    let third = ok(rpc, s, &["save_config", "--with-batches"]).await;
    target.stop();
    assert!(
        first == third,
        "save_config --with-batches after spdk-rpc load_config differs\n--- before\n{first}\n--- after\n{third}"
    );
}

/// The nvmf subsystem's config a real sequence leaves, each value's
/// source noted: the transport with all its options, then the five
/// batches' calls with every field SPDK writes, subsystems in NQN order.
fn nvmf_sequence_config(ptpl: &str) -> Value {
    const CNODE1: &str = "nqn.2016-06.io.spdk:cnode1";
    const CNODE2: &str = "nqn.2016-06.io.spdk:cnode2";
    let dhchap_digests = json!(["sha256", "sha384", "sha512"]);
    let dhchap_dhgroups = json!([
        "null",
        "ffdhe2048",
        "ffdhe3072",
        "ffdhe4096",
        "ffdhe6144",
        "ffdhe8192"
    ]);
    json!({"subsystem": "nvmf", "config": [
        // The target's options, untouched: as on a fresh target.
        {"method": "nvmf_set_config", "params": {
            "discovery_filters": [],
            "admin_cmd_passthru": {"identify_ctrlr": false, "identify_uuid_list": false,
                "get_log_page": false, "get_set_features": false, "sanitize": false,
                "security_send_recv": false, "fw_update": false, "nvme_mi": false,
                "vendor_specific": false},
            "dhchap_digests": dhchap_digests, "dhchap_dhgroups": dhchap_dhgroups,
            "dup_host_policy": "allow"}},
        {"method": "nvmf_set_max_subsystems", "params": {"max_subsystems": 1024}},
        {"method": "nvmf_set_crdt", "params": {"crdt1": 0, "crdt2": 0, "crdt3": 0}},
        // lib/nvmf/transport.c nvmf_transport_dump_opts, in its order.
        {"method": "nvmf_create_transport", "params": {
            // The ops name (tcp.c spdk_nvmf_transport_tcp.name), not "tcp".
            "trtype": "TCP",
            // -q.
            "max_queue_depth": 64,
            // tcp.c SPDK_NVMF_TCP_DEFAULT_MAX_QPAIRS_PER_CTRLR 128, less
            // the admin queue.
            "max_io_qpairs_per_ctrlr": 127,
            // -c 16384, cut to max_io_size by nvmf_tcp_create.
            "in_capsule_data_size": 8192,
            // -i.
            "max_io_size": 8192,
            // tcp.c SPDK_NVMF_TCP_DEFAULT_MAX_ADMIN_QUEUE_DEPTH.
            "max_aq_depth": 128,
            // tcp.c SPDK_NVMF_TCP_DEFAULT_*_BUFFER_CACHE_SIZE: UINT32_MAX.
            "iobuf_small_cache_size": 4294967295u32,
            "iobuf_large_cache_size": 4294967295u32,
            // spdk-rpc sends false for both unless asked.
            "dif_insert_or_strip": false, "zcopy": false,
            // tcp.c nvmf_tcp_dump_opts: -o turns c2h_success off; -y.
            "c2h_success": false, "sock_priority": 2,
            // tcp.c SPDK_NVMF_TCP_DEFAULT_ABORT_TIMEOUT_SEC.
            "abort_timeout_sec": 1,
            // --ack-timeout; data_wr_pool_size 0 for TCP (opts left zero).
            "ack_timeout": 7, "data_wr_pool_size": 0,
            "disable_command_passthru": false,
            // --kas 50; --min-kato 12345 rounded up to whole 50 * 100 ms
            // units (nvmf_transport_create).
            "kas": 50, "min_kato": 15000}},
        // nvmf.c nvmf_write_create_subsystem_config, subsystems in NQN
        // order (the tree's subsystem_cmp), cnode2 made first.
        [
            {"method": "nvmf_create_subsystem", "params": {
                // -a; the serial and model defaults of
                // spdk_nvmf_subsystem_opts_init (twenty '0's,
                // MODEL_NUMBER_DEFAULT); NVMF_SUBSYSTEM_DEFAULT_NAMESPACES;
                // NVMF_MIN_CNTLID, NVMF_MAX_CNTLID; dmrsl 1 GiB of 512-byte
                // blocks, wzsl 12; no admin label: none written.
                "nqn": CNODE1, "allow_any_host": true,
                "serial_number": "00000000000000000000",
                "model_number": "SPDK bdev Controller", "max_namespaces": 32,
                "min_cntlid": 1, "max_cntlid": 65519, "ana_reporting": false,
                "dmrsl": 2097152, "wzsl": 12, "passthrough": false, "enable_nssr": false}},
            {"method": "nvmf_create_subsystem", "params": {
                // -s, -d, -m, -r, -i, -I, --dmrsl, --wzsl, -n, --admin-label.
                "nqn": CNODE2, "allow_any_host": false,
                "serial_number": "SPDK00000000000002", "model_number": "Mock Model",
                "max_namespaces": 16, "min_cntlid": 5, "max_cntlid": 900,
                "ana_reporting": true, "dmrsl": 4096, "wzsl": 8, "passthrough": false,
                "enable_nssr": true, "admin_label": "rack-7"}}
        ],
        // nvmf_write_subsystem_add_host_config: no keys, no PSK.
        [
            {"method": "nvmf_subsystem_add_host", "params": {
                "nqn": CNODE1, "host": "nqn.2014-08.org.nvmexpress:uuid:host2"}},
            {"method": "nvmf_subsystem_add_host", "params": {
                "nqn": CNODE2, "host": "nqn.2014-08.org.nvmexpress:uuid:host1"}}
        ],
        // nvmf_write_subsystem_add_ns_config, namespaces by nsid.
        [
            {"method": "nvmf_subsystem_add_ns", "params": {"nqn": CNODE1, "namespace": {
                // The lowest free nsid; nguid and uuid from the bdev's
                // uuid (spdk_nvmf_subsystem_add_ns_ext); no anagrpid
                // without ANA reporting.
                "nsid": 1, "bdev_name": "Malloc2",
                "nguid": "33333333333333333333333333333333",
                "uuid": "33333333-3333-3333-3333-333333333333",
                "no_auto_visible": false}}},
            {"method": "nvmf_subsystem_add_ns", "params": {"nqn": CNODE2, "namespace": {
                // anagrpid: the nsid when none given.
                "nsid": 1, "bdev_name": "Malloc1",
                "nguid": "22222222222222222222222222222222",
                "uuid": "22222222-2222-2222-2222-222222222222",
                "anagrpid": 1, "no_auto_visible": false}}},
            {"method": "nvmf_subsystem_add_ns", "params": {"nqn": CNODE2, "namespace": {
                // -n, -p, -g (written back in upper case, "%016"PRIX64
                // twice), -e, -u, -a, -i.
                "nsid": 3, "bdev_name": "Malloc0", "ptpl_file": ptpl,
                "nguid": "0123456789ABCDEF0123456789ABCDEF",
                "eui64": "0011223344556677",
                "uuid": "ceccf520-691e-4b46-9546-34af789907c5",
                "anagrpid": 2, "no_auto_visible": true}}}
        ],
        // nvmf_write_ns_add_host_config: none.
        [],
        // nvmf_write_subsystem_add_listener_config: the trid as
        // nvmf_transport_listen_dump_trid writes it (IPv4 when no family
        // was given, rpc_listen_address_to_trid); -k; -S only when given.
        [
            {"method": "nvmf_subsystem_add_listener", "params": {"nqn": CNODE1,
                "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                    "traddr": "127.0.0.1", "trsvcid": "4421"},
                "secure_channel": false}},
            {"method": "nvmf_subsystem_add_listener", "params": {"nqn": CNODE2,
                "listen_address": {"trtype": "TCP", "adrfam": "IPv4",
                    "traddr": "127.0.0.1", "trsvcid": "4420"},
                "secure_channel": true, "sock_impl": "ssl"}}
        ]
    ]})
}

/// A real NVMe-oF sequence with `spdk-rpc`, every option the config keeps
/// set somewhere: `save_config --with-batches` writes the nvmf subsystem
/// exactly as SPDK would (the expected text above); plain `save_config`
/// has the same calls flattened; the file goes through `--json` and back
/// to the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nvmf_config_has_every_field_spdk_writes() {
    const CNODE1: &str = "nqn.2016-06.io.spdk:cnode1";
    const CNODE2: &str = "nqn.2016-06.io.spdk:cnode2";
    let rpc = Tool::SpdkRpc;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("spdk.sock");
    let s = socket.to_str().unwrap();
    // Absent: SPDK then starts with no reservations (nvmf_ns_reservation_load_json).
    let ptpl = dir.path().join("ptpl.json");
    let ptpl = ptpl.to_str().unwrap();
    let target = mock_on(&socket, &[]);
    for args in [
        &[
            "bdev_malloc_create",
            "-b",
            "Malloc0",
            "32",
            "512",
            "-u",
            "11111111-1111-1111-1111-111111111111",
        ][..],
        &[
            "bdev_malloc_create",
            "-b",
            "Malloc1",
            "32",
            "512",
            "-u",
            "22222222-2222-2222-2222-222222222222",
        ],
        &[
            "bdev_malloc_create",
            "-b",
            "Malloc2",
            "32",
            "512",
            "-u",
            "33333333-3333-3333-3333-333333333333",
        ],
        &[
            "nvmf_create_transport",
            "-t",
            "tcp",
            "-o",
            "-q",
            "64",
            "-c",
            "16384",
            "-i",
            "8192",
            "-y",
            "2",
            "--kas",
            "50",
            "--min-kato",
            "12345",
            "--ack-timeout",
            "7",
        ],
        &[
            "nvmf_create_subsystem",
            CNODE2,
            "-s",
            "SPDK00000000000002",
            "-d",
            "Mock Model",
            "-m",
            "16",
            "-r",
            "-i",
            "5",
            "-I",
            "900",
            "--dmrsl",
            "4096",
            "--wzsl",
            "8",
            "-n",
            "--admin-label",
            "rack-7",
        ],
        &["nvmf_create_subsystem", CNODE1, "-a"],
        &[
            "nvmf_subsystem_add_ns",
            CNODE2,
            "Malloc0",
            "-n",
            "3",
            "-p",
            ptpl,
            "-g",
            "0123456789abcdef0123456789ABCDEF",
            "-e",
            "0011223344556677",
            "-u",
            "ceccf520-691e-4b46-9546-34af789907c5",
            "-a",
            "2",
            "-i",
        ],
        &["nvmf_subsystem_add_ns", CNODE2, "Malloc1"],
        &["nvmf_subsystem_add_ns", CNODE1, "Malloc2"],
        &[
            "nvmf_subsystem_add_host",
            CNODE2,
            "nqn.2014-08.org.nvmexpress:uuid:host1",
        ],
        &[
            "nvmf_subsystem_add_host",
            CNODE1,
            "nqn.2014-08.org.nvmexpress:uuid:host2",
        ],
        &[
            "nvmf_subsystem_add_listener",
            CNODE2,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            "4420",
            "-f",
            "ipv4",
            "-k",
            "-S",
            "ssl",
        ],
        &[
            "nvmf_subsystem_add_listener",
            CNODE1,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            "4421",
        ],
    ] {
        ok(rpc, s, args).await;
    }
    // nvmf_rpc.c rpc_nvmf_subsystem_add_listener: no secure channel on a
    // subsystem any host may reach.
    let refused = error(
        rpc,
        s,
        &[
            "nvmf_subsystem_add_listener",
            CNODE1,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            "4422",
            "-k",
        ],
    )
    .await;
    assert_eq!(
        refused,
        json!({"code": -32603, "message": "Cannot establish secure channel, when 'allow_any_host' is set"})
    );

    let batched = ok(rpc, s, &["save_config", "--with-batches"]).await;
    let config: Value = serde_json::from_str(&batched).unwrap();
    let nvmf = config["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sub| sub["subsystem"] == "nvmf")
        .unwrap();
    let (got, want) = (
        serde_json::to_string_pretty(nvmf).unwrap(),
        serde_json::to_string_pretty(&nvmf_sequence_config(ptpl)).unwrap(),
    );
    assert!(
        got == want,
        "nvmf config differs\n--- mock\n{got}\n--- expected\n{want}"
    );
    let flat: Value = serde_json::from_str(&ok(rpc, s, &["save_config"]).await).unwrap();
    assert_eq!(flat, flattened(&config));
    // nvmf_get_transports writes the same options (nvmf_transport_dump_opts).
    let transports = json(rpc, s, &["nvmf_get_transports"]).await;
    assert_eq!(transports, json!([nvmf["config"][3]["params"]]));
    target.stop();

    let file = dir.path().join("config.json");
    std::fs::write(&file, &batched).unwrap();
    let _ = std::fs::remove_file(&socket);
    let target = mock_on(&socket, &["--json", file.to_str().unwrap()]);
    let again = ok(rpc, s, &["save_config", "--with-batches"]).await;
    target.stop();
    assert!(
        again == batched,
        "save_config after --json differs\n--- before\n{batched}\n--- after\n{again}"
    );
}
