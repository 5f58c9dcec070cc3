//! The SPDK mock target (`examples/spdk_target/`) as a child process,
//! driven by `SpdkClient` and by raw bytes on its Unix socket: the
//! management behaviours and wire rules of a real spdk_tgt, its fault
//! injection, its startup phase and `--json`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use spdk_proto::methods::types::BdevNvmeMultipathMode;
use spdk_proto::methods::*;
use spdk_proto::results::ConfigItem;
use spdk_proto::{ClientOptions, SpdkClient, SpdkError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

/// Fails the test if `f` hangs.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(15), f)
        .await
        .expect("hung")
}

struct Mock {
    child: Child,
    path: String,
    _dir: tempfile::TempDir,
}

/// The mock's binary, rebuilt first when a source is newer than it:
/// `cargo test` builds examples, but `cargo test --test spdk_mock_target`
/// does not, and would otherwise run a stale one (or none). Building only
/// when needed keeps the two commands from rebuilding each other's
/// artifacts on every run.
fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples/spdk_target");
    BUILT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        let sources = newest(&root.join("examples/spdk_target"))
            .max(newest(&root.join("spdk-proto/src")))
            .max(newest(&root.join("Cargo.toml")));
        if built.is_some_and(|b| Some(b) >= sources) {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--quiet", "--example", "spdk_target"])
            .current_dir(root);
        // The variables cargo sets for this test would mark the shared
        // dependencies dirty, and the next `cargo test` would rebuild them.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            let ours =
                key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR";
            if ours || key == "OUT_DIR" || key.starts_with("DEP_") {
                build.env_remove(&key);
            }
        }
        let status = build
            .status()
            .expect("run cargo build --example spdk_target");
        assert!(status.success(), "cargo build --example spdk_target failed");
    });
    bin
}

/// The newest modification time of a file or of the files under a folder.
fn newest(path: &std::path::Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

impl Mock {
    async fn start(args: &[&str]) -> Mock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spdk.sock").display().to_string();
        Self::start_at(dir, path, args).await
    }

    async fn start_at(dir: tempfile::TempDir, path: String, args: &[&str]) -> Mock {
        let mut child = Command::new(binary())
            .arg("-r")
            .arg(&path)
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("build the example first: cargo test builds it");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        within(async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.starts_with("listening on") {
                    return;
                }
            }
            panic!("the mock exited before listening");
        })
        .await;
        Mock {
            child,
            path,
            _dir: dir,
        }
    }

    async fn client(&self) -> SpdkClient {
        let options = ClientOptions::default().call_timeout(Some(Duration::from_secs(10)));
        SpdkClient::connect_with(&self.path, &options)
            .await
            .unwrap()
    }
}

/// The code and message of a failed call.
fn failure<T: std::fmt::Debug>(r: Result<T, SpdkError>) -> (i64, String) {
    let e = r.expect_err("the call should fail");
    let rpc = e.rpc().unwrap_or_else(|| panic!("not an error reply: {e}"));
    (rpc.code, rpc.message.clone())
}

fn malloc(name: &str, mib: u64) -> BdevMallocCreateParams {
    let mut p = BdevMallocCreateParams::new(512, mib * 2048);
    p.name = Some(name.into());
    p
}

fn lvol(name: &str, mib: u64, thin: bool) -> BdevLvolCreateParams {
    let mut p = BdevLvolCreateParams::new(name.into(), mib);
    p.lvs_name = Some("lvs0".into());
    p.thin_provision = Some(thin);
    p
}

fn raid(
    name: &str,
    level: BdevRaidLevel,
    strip: Option<u32>,
    bases: &[&str],
) -> BdevRaidCreateParams {
    let mut p = BdevRaidCreateParams::new(
        name.into(),
        level,
        bases.iter().map(|b| (*b).to_owned()).collect(),
    );
    p.strip_size_kb = strip;
    p
}

fn tcp(port: &str) -> NvmfListenAddress {
    let mut a = NvmfListenAddress::new("TCP".into(), "127.0.0.1".into());
    a.adrfam = Some("IPv4".into());
    a.trsvcid = Some(port.into());
    a
}

const NQN: &str = "nqn.2016-06.io.spdk:cnode1";
const HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:host1";

async fn bdev_names(spdk: &SpdkClient) -> Vec<String> {
    let bdevs = spdk
        .call::<BdevGetBdevs>(BdevGetBdevsParams::new())
        .await
        .unwrap();
    bdevs.into_iter().map(|b| b.name).collect()
}

#[tokio::test]
async fn a_realistic_sequence_through_every_typed_method() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        let v = spdk.call::<SpdkGetVersion>(()).await.unwrap();
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"version":"SPDK v26.09-pre","fields":{"major":26,"minor":9,"patch":0,"suffix":"-pre"}})
        );
        let methods = spdk.call::<RpcGetMethods>(RpcGetMethodsParams::new()).await.unwrap();
        assert!(methods.contains(&"bdev_lvol_snapshot".to_owned()));
        assert!(!methods.iter().any(|m| m.starts_with("mock_")));
        assert!(spdk.call::<FrameworkWaitInit>(()).await.unwrap());

        // Malloc and null bdevs; an automatic name.
        let auto = spdk
            .call::<BdevMallocCreate>(BdevMallocCreateParams::new(512, 2048))
            .await
            .unwrap();
        assert_eq!(auto, "Malloc0");
        for name in ["M1", "M2", "M3", "M4", "M5"] {
            assert_eq!(spdk.call::<BdevMallocCreate>(malloc(name, 64)).await.unwrap(), name);
        }
        // Fields in the real target's order, as raw bytes show them.
        let raw = spdk
            .call_raw("bdev_get_bdevs", Some(jsonrpc_core::RawJson::parse(r#"{"name":"Malloc0"}"#).unwrap()))
            .await
            .unwrap();
        assert!(
            raw.get().starts_with(
                r#"[{"name":"Malloc0","aliases":[],"product_name":"Malloc disk","block_size":512,"num_blocks":2048,"preferred_write_alignment":0"#
            ),
            "{}",
            raw.get()
        );
        assert!(raw.get().contains(r#""assigned_rate_limits":{"rw_ios_per_sec":0,"rw_mbytes_per_sec":0,"r_mbytes_per_sec":0,"w_mbytes_per_sec":0},"claimed":false,"zoned":false,"supported_io_types":{"read":true"#));
        let null = BdevNullCreateParams::new("Null0".into(), 512, 2048);
        assert_eq!(spdk.call::<BdevNullCreate>(null).await.unwrap(), "Null0");

        // An lvstore claims its base.
        let lvs = spdk
            .call::<BdevLvolCreateLvstore>(BdevLvolCreateLvstoreParams::new("M1".into(), "lvs0".into()))
            .await
            .unwrap();
        let m1 = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("M1".into()), ..Default::default() })
            .await
            .unwrap();
        assert!(m1[0].claimed);
        assert_eq!(m1[0].claim_type.as_deref(), Some("read_many_write_one"));
        let stores = spdk.call::<BdevLvolGetLvstores>(BdevLvolGetLvstoresParams::new()).await.unwrap();
        assert_eq!((stores[0].uuid, stores[0].base_bdev.as_str()), (lvs, "M1"));
        // 64 MiB in 4 MiB clusters, one of them for the blobstore's metadata.
        assert_eq!((stores[0].total_data_clusters, stores[0].cluster_size), (15, 4 << 20));
        let raw = spdk.call_raw("bdev_lvol_get_lvstores", None).await.unwrap();
        assert!(raw.get().ends_with(r#""cluster_size":4194304,"max_growable_size":137170518016}]"#), "{}", raw.get());
        let free = stores[0].free_clusters;

        let thick = spdk.call::<BdevLvolCreate>(lvol("thick", 8, false)).await.unwrap();
        let thin = spdk.call::<BdevLvolCreate>(lvol("thin", 16, true)).await.unwrap();
        let stores = spdk.call::<BdevLvolGetLvstores>(BdevLvolGetLvstoresParams::new()).await.unwrap();
        assert_eq!(stores[0].free_clusters, free - 2);
        let b = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("lvs0/thick".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(b[0].name, thick.to_string());
        assert_eq!(b[0].aliases, vec!["lvs0/thick".to_owned()]);
        assert_eq!(b[0].product_name, "Logical Volume");

        let snap = spdk
            .call::<BdevLvolSnapshot>(BdevLvolSnapshotParams::new("lvs0/thick".into(), "snap".into()))
            .await
            .unwrap();
        let origin = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some(thick.to_string()), ..Default::default() })
            .await
            .unwrap();
        let lv = &origin[0].driver_specific.as_ref().unwrap()["lvol"];
        assert_eq!(lv["num_allocated_clusters"], 0);
        assert_eq!(lv["thin_provision"], true);
        assert_eq!(lv["clone"], true);
        let clone = spdk
            .call::<BdevLvolClone>(BdevLvolCloneParams::new("lvs0/snap".into(), "clone".into()))
            .await
            .unwrap();
        assert!(spdk
            .call::<BdevLvolResize>(BdevLvolResizeParams::new(thin.to_string(), 32))
            .await
            .unwrap());
        assert!(spdk
            .call::<BdevLvolRename>(BdevLvolRenameParams::new("lvs0/clone".into(), "clone2".into()))
            .await
            .unwrap());
        assert!(spdk
            .call::<BdevLvolSetReadOnly>(BdevLvolSetReadOnlyParams::new("lvs0/clone2".into()))
            .await
            .unwrap());
        let lvols = spdk.call::<BdevLvolGetLvols>(BdevLvolGetLvolsParams::new()).await.unwrap();
        let by_name = |n: &str| lvols.iter().find(|l| l.name == n).unwrap().clone();
        assert!(by_name("snap").is_snapshot);
        assert_eq!(by_name("snap").uuid, snap);
        assert!(by_name("thick").is_clone && by_name("thick").is_thin_provisioned);
        assert_eq!(by_name("clone2").uuid, clone);
        assert_eq!(by_name("clone2").alias, "lvs0/clone2");

        // Raids.
        assert!(spdk.call::<BdevRaidCreate>(raid("r0", BdevRaidLevel::Raid0, Some(64), &["M2", "M3"])).await.unwrap());
        assert!(spdk.call::<BdevRaidCreate>(raid("r1", BdevRaidLevel::Raid1, None, &["M4", "M5"])).await.unwrap());
        assert!(spdk.call::<BdevRaidCreate>(raid("cc", BdevRaidLevel::Concat, Some(64), &["Null0"])).await.unwrap());
        let raids = spdk
            .call::<BdevRaidGetBdevs>(BdevRaidGetBdevsParams::new(BdevRaidState::All))
            .await
            .unwrap();
        assert_eq!(raids.len(), 3);
        assert!(raids.iter().all(|r| r.state == "online"));
        assert_eq!(raids.iter().find(|r| r.name == "r1").unwrap().strip_size_kb, 0);

        // A split.
        let parts = spdk
            .call::<BdevSplitCreate>(BdevSplitCreateParams::new("Malloc0".into(), 2))
            .await
            .unwrap();
        assert_eq!(parts, vec!["Malloc0p0".to_owned(), "Malloc0p1".to_owned()]);

        // iostat and QoS.
        let stat = spdk
            .call::<BdevGetIostat>(BdevGetIostatParams { names: Some(vec!["M2".into()]), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(stat.bdevs[0].name, "M2");
        assert!(stat.bdevs[0].num_read_ops > 0);
        let mut qos = BdevSetQosLimitParams::new("Malloc0p0".into());
        qos.rw_ios_per_sec = Some(20000);
        assert!(spdk.call::<BdevSetQosLimit>(qos).await.unwrap());

        // NVMe-oF.
        assert!(spdk
            .call::<NvmfCreateTransport>(NvmfCreateTransportParams::new("TCP".into()))
            .await
            .unwrap());
        assert_eq!(spdk.call::<NvmfGetTransports>(NvmfGetTransportsParams::new()).await.unwrap()[0].trtype, "TCP");
        let mut sub = NvmfCreateSubsystemParams::new(NQN.into());
        sub.serial_number = Some("SPDK00000000000001".into());
        assert!(spdk.call::<NvmfCreateSubsystem>(sub).await.unwrap());
        let mut ns = NvmfNamespace::new("Malloc0p1".into());
        ns.nsid = Some(2);
        assert_eq!(spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(NQN.into(), ns)).await.unwrap(), 2);
        let ns = NvmfNamespace::new("r0".into());
        assert_eq!(spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(NQN.into(), ns)).await.unwrap(), 1);
        assert!(spdk
            .call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(NQN.into(), tcp("4420")))
            .await
            .unwrap());
        assert!(spdk
            .call::<NvmfSubsystemAddHost>(NvmfSubsystemAddHostParams::new(NQN.into(), HOST.into()))
            .await
            .unwrap());
        assert!(spdk
            .call::<NvmfSubsystemAllowAnyHost>(NvmfSubsystemAllowAnyHostParams::new(NQN.into(), false))
            .await
            .unwrap());
        let subs = spdk.call::<NvmfGetSubsystems>(NvmfGetSubsystemsParams::new()).await.unwrap();
        let s = subs.iter().find(|s| s.nqn == NQN).unwrap();
        assert_eq!(s.namespaces.iter().map(|n| n.nsid).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.hosts[0].nqn, HOST);
        assert_eq!(s.listen_addresses[0].trsvcid.as_deref(), Some("4420"));
        let listeners = spdk
            .call::<NvmfSubsystemGetListeners>(NvmfSubsystemGetListenersParams::new(NQN.into()))
            .await
            .unwrap();
        assert_eq!(listeners.len(), 1);

        // Log.
        assert_eq!(spdk.call::<LogGetLevel>(()).await.unwrap(), LogLevel::Notice);
        assert_eq!(spdk.call::<LogGetPrintLevel>(()).await.unwrap(), LogLevel::Info);
        assert!(spdk.call::<LogSetLevel>(LogSetLevelParams::new(LogLevel::Debug)).await.unwrap());
        assert!(spdk.call::<LogSetPrintLevel>(LogSetPrintLevelParams::new(LogLevel::Error)).await.unwrap());
        assert_eq!(spdk.call::<LogGetLevel>(()).await.unwrap(), LogLevel::Debug);
        assert_eq!(spdk.call::<LogGetPrintLevel>(()).await.unwrap(), LogLevel::Error);
        assert!(spdk.call::<LogSetFlag>(LogSetFlagParams::new("bdev".into())).await.unwrap());
        assert_eq!(spdk.call::<LogGetFlags>(()).await.unwrap().get("bdev"), Some(&true));
        assert!(spdk.call::<LogClearFlag>(LogClearFlagParams::new("bdev".into())).await.unwrap());
        assert_eq!(spdk.call::<LogGetFlags>(()).await.unwrap().get("bdev"), Some(&false));

        // The config: no lvols in it; scsi has nothing to save.
        let subsystems = spdk.call::<FrameworkGetSubsystems>(()).await.unwrap();
        assert!(subsystems.iter().any(|s| s.subsystem == "bdev"));
        let bdev_config = spdk
            .call::<FrameworkGetConfig>(FrameworkGetConfigParams::new("bdev".into()))
            .await
            .unwrap()
            .unwrap();
        let methods: Vec<&str> = bdev_config.iter().flat_map(ConfigItem::calls).map(|e| e.method.as_str()).collect();
        assert_eq!(methods[0], "bdev_set_options");
        for m in ["bdev_malloc_create", "bdev_null_create", "bdev_split_create", "bdev_raid_create"] {
            assert!(methods.contains(&m), "{m} in {methods:?}");
        }
        assert!(!methods.iter().any(|m| m.starts_with("bdev_lvol")));
        let scsi = spdk
            .call::<FrameworkGetConfig>(FrameworkGetConfigParams::new("scsi".into()))
            .await
            .unwrap();
        assert_eq!(scsi, None);

        // Delete everything, back to empty.
        assert!(spdk.call::<NvmfSubsystemRemoveHost>(NvmfSubsystemRemoveHostParams::new(NQN.into(), HOST.into())).await.unwrap());
        assert!(spdk
            .call::<NvmfSubsystemRemoveListener>(NvmfSubsystemRemoveListenerParams::new(NQN.into(), tcp("4420")))
            .await
            .unwrap());
        assert!(spdk.call::<NvmfSubsystemRemoveNs>(NvmfSubsystemRemoveNsParams::new(NQN.into(), 1)).await.unwrap());
        assert!(spdk.call::<NvmfDeleteSubsystem>(NvmfDeleteSubsystemParams::new(NQN.into())).await.unwrap());
        assert!(spdk.call::<BdevSplitDelete>(BdevSplitDeleteParams::new("Malloc0".into())).await.unwrap());
        for r in ["r0", "r1", "cc"] {
            assert!(spdk.call::<BdevRaidDelete>(BdevRaidDeleteParams::new(r.into())).await.unwrap());
        }
        for l in ["lvs0/clone2", "lvs0/thick", "lvs0/snap", "lvs0/thin"] {
            assert!(spdk.call::<BdevLvolDelete>(BdevLvolDeleteParams::new(l.into())).await.unwrap(), "{l}");
        }
        let by_name = BdevLvolDeleteLvstoreParams { lvs_name: Some("lvs0".into()), ..Default::default() };
        assert!(spdk.call::<BdevLvolDeleteLvstore>(by_name).await.unwrap());
        for m in ["Malloc0", "M1", "M2", "M3", "M4", "M5"] {
            assert!(spdk.call::<BdevMallocDelete>(BdevMallocDeleteParams::new(m.into())).await.unwrap());
        }
        assert!(spdk.call::<BdevNullDelete>(BdevNullDeleteParams::new("Null0".into())).await.unwrap());
        assert!(bdev_names(&spdk).await.is_empty());
        assert!(spdk.call::<BdevLvolGetLvstores>(BdevLvolGetLvstoresParams::new()).await.unwrap().is_empty());
        assert!(spdk
            .call::<BdevRaidGetBdevs>(BdevRaidGetBdevsParams::new(BdevRaidState::All))
            .await
            .unwrap()
            .is_empty());
        let subs = spdk.call::<NvmfGetSubsystems>(NvmfGetSubsystemsParams::new()).await.unwrap();
        assert_eq!(subs.len(), 1, "only the discovery subsystem is left");
    })
    .await;
}

#[tokio::test]
async fn errors_have_spdks_codes_and_texts() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        let ok = |r: Result<String, SpdkError>| r.unwrap();
        ok(spdk.call::<BdevMallocCreate>(malloc("A", 64)).await);
        ok(spdk.call::<BdevMallocCreate>(malloc("B", 64)).await);
        ok(spdk.call::<BdevMallocCreate>(malloc("C", 64)).await);
        let enodev = (-19, "No such device".to_owned());
        let eexist = (-17, "File exists".to_owned());
        assert_eq!(failure(spdk.call::<BdevMallocCreate>(malloc("A", 1)).await), eexist);
        let a_uuid = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("A".into()), ..Default::default() })
            .await
            .unwrap()[0]
            .uuid;
        let mut same_uuid = malloc("Z", 1);
        same_uuid.uuid = a_uuid;
        assert_eq!(failure(spdk.call::<BdevMallocCreate>(same_uuid).await), eexist);
        let missing = BdevGetBdevsParams { name: Some("nope".into()), ..Default::default() };
        assert_eq!(failure(spdk.call::<BdevGetBdevs>(missing).await), enodev);
        let einval = (-22, "Invalid argument".to_owned());
        let odd_blocks = BdevNullCreateParams::new("N".into(), 520, 8);
        assert_eq!(failure(spdk.call::<BdevNullCreate>(odd_blocks).await), einval);
        assert_eq!(failure(spdk.call::<BdevMallocCreate>(malloc("E0", 0)).await), einval);
        assert_eq!(
            failure(spdk.call::<BdevMallocDelete>(BdevMallocDeleteParams::new("nope".into())).await),
            enodev
        );
        // With a timeout, a bdev that appears meanwhile is found; one that
        // does not is -19 once the timeout passes.
        let waiting = tokio::spawn({
            let spdk = spdk.clone();
            async move {
                let p = BdevGetBdevsParams { name: Some("Soon".into()), timeout: Some(5000) };
                spdk.call::<BdevGetBdevs>(p).await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        ok(spdk.call::<BdevMallocCreate>(malloc("Soon", 1)).await);
        assert_eq!(waiting.await.unwrap().unwrap()[0].name, "Soon");
        let started = std::time::Instant::now();
        let never = BdevGetBdevsParams { name: Some("Never".into()), timeout: Some(100) };
        assert_eq!(failure(spdk.call::<BdevGetBdevs>(never).await), enodev);
        assert!(started.elapsed() >= Duration::from_millis(100));

        // Split.
        let invalid = |m: &str| (-32602, m.to_owned());
        let later = spdk.call::<BdevSplitCreate>(BdevSplitCreateParams::new("Later".into(), 2)).await.unwrap();
        assert!(later.is_empty());
        ok(spdk.call::<BdevMallocCreate>(malloc("Later", 8)).await);
        assert!(bdev_names(&spdk).await.contains(&"Laterp1".to_owned()));
        assert_eq!(
            failure(spdk.call::<BdevSplitCreate>(BdevSplitCreateParams::new("Later".into(), 2)).await),
            invalid("Failed to create 2 split bdevs from 'Later': File exists")
        );
        assert_eq!(
            failure(spdk.call::<BdevSplitDelete>(BdevSplitDeleteParams::new("nope".into())).await),
            invalid("No such file or directory")
        );
        ok(spdk.call::<BdevMallocCreate>(malloc("S", 8)).await);
        let mut many = BdevSplitCreateParams::new("S".into(), 100);
        many.split_size_mb = Some(3);
        let clamped = spdk.call::<BdevSplitCreate>(many).await.unwrap();
        assert_eq!(clamped, vec!["Sp0".to_owned(), "Sp1".to_owned()]);
        assert!(spdk.call::<BdevSplitDelete>(BdevSplitDeleteParams::new("S".into())).await.unwrap());
        assert_eq!(
            failure(spdk.call::<BdevSplitCreate>(BdevSplitCreateParams::new("S".into(), 0)).await),
            invalid("Failed to create 0 split bdevs from 'S': Invalid argument")
        );
        let no_count = spdk
            .call_by_name::<_, Value>("bdev_split_create", json!({"base_bdev": "A", "split_size_mb": 1}))
            .await;
        assert_eq!(failure(no_count), invalid("Invalid parameters"));

        // Lvol.
        spdk.call::<BdevLvolCreateLvstore>(BdevLvolCreateLvstoreParams::new("A".into(), "lvs0".into()))
            .await
            .unwrap();
        assert_eq!(
            failure(spdk.call::<BdevSplitCreate>(BdevSplitCreateParams::new("A".into(), 2)).await),
            invalid("Failed to create 2 split bdevs from 'A': Cannot allocate memory")
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolCreateLvstore>(BdevLvolCreateLvstoreParams::new("A".into(), "x".into())).await),
            (-1, "Operation not permitted".to_owned())
        );
        let mut odd = BdevLvolCreateLvstoreParams::new("B".into(), "odd".into());
        odd.cluster_sz = Some(1000);
        assert_eq!(failure(spdk.call::<BdevLvolCreateLvstore>(odd).await), (-22, "Invalid argument".to_owned()));
        let mut small = BdevLvolCreateLvstoreParams::new("B".into(), "small".into());
        small.cluster_sz = Some(4096);
        assert_eq!(failure(spdk.call::<BdevLvolCreateLvstore>(small).await), invalid("Cannot allocate memory"));
        let mut huge = BdevLvolCreateLvstoreParams::new("B".into(), "huge".into());
        huge.cluster_sz = Some(1 << 30);
        assert_eq!(failure(spdk.call::<BdevLvolCreateLvstore>(huge).await), invalid("No space left on device"));
        spdk.call::<BdevLvolCreate>(lvol("v", 8, false)).await.unwrap();
        assert_eq!(failure(spdk.call::<BdevLvolCreate>(lvol("v", 8, false)).await), eexist);
        spdk.call::<BdevLvolSnapshot>(BdevLvolSnapshotParams::new("lvs0/v".into(), "s".into())).await.unwrap();
        assert_eq!(
            failure(spdk.call::<BdevLvolSnapshot>(BdevLvolSnapshotParams::new("lvs0/v".into(), "s".into())).await),
            invalid("File exists")
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolRename>(BdevLvolRenameParams::new("lvs0/v".into(), "s".into())).await),
            invalid("File exists")
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolDelete>(BdevLvolDeleteParams::new("lvs0/s".into())).await),
            (-32603, "Operation not permitted".to_owned())
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolResize>(BdevLvolResizeParams::new("lvs0/s".into(), 16)).await),
            invalid("Operation not permitted")
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolRename>(BdevLvolRenameParams::new("lvs0/s".into(), "t".into())).await),
            invalid("Operation not permitted")
        );
        assert_eq!(
            failure(spdk.call::<BdevLvolClone>(BdevLvolCloneParams::new("lvs0/v".into(), "c".into())).await),
            invalid("Invalid argument")
        );

        // Raid.
        let create = |p| spdk.call::<BdevRaidCreate>(p);
        let raid_err = |code: i64, text: &str| (code, format!("Failed to create RAID bdev r: {text}"));
        let einval = raid_err(-22, "Invalid argument");
        let eperm = raid_err(-1, "Operation not permitted");
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, None, &["B", "C"])).await), einval);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, Some(48), &["B", "C"])).await), einval);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid1, Some(64), &["B", "C"])).await), einval);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid1, None, &["B"])).await), einval);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, Some(64), &[])).await), einval);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, Some(64), &["B", "B"])).await), eperm);
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, Some(64), &["A", "B"])).await), eperm);
        let level = spdk
            .call_by_name::<_, Value>(
                "bdev_raid_create",
                json!({"name": "r", "raid_level": "raid7", "strip_size_kb": 64, "base_bdevs": ["B"]}),
            )
            .await;
        assert_eq!(failure(level), (-32700, "spdk_json_decode_object failed".to_owned()));
        let category = spdk.call_by_name::<_, Value>("bdev_raid_get_bdevs", json!({"category": "odd"})).await;
        assert_eq!(failure(category), (-32700, "spdk_json_decode_object failed".to_owned()));
        assert!(create(raid("r", BdevRaidLevel::Raid0, Some(64), &["B"])).await.unwrap());
        assert_eq!(failure(create(raid("r", BdevRaidLevel::Raid0, Some(64), &["C"])).await), raid_err(-17, "File exists"));
        assert_eq!(
            failure(spdk.call::<BdevRaidDelete>(BdevRaidDeleteParams::new("zz".into())).await),
            (-19, "raid bdev zz not found".to_owned())
        );
        // A raid waiting for a member.
        assert!(create(raid("w", BdevRaidLevel::Raid1, None, &["C", "D"])).await.unwrap());
        let waiting = spdk
            .call::<BdevRaidGetBdevs>(BdevRaidGetBdevsParams::new(BdevRaidState::Configuring))
            .await
            .unwrap();
        assert_eq!((waiting[0].name.as_str(), waiting[0].uuid), ("w", uuid::Uuid::nil()));
        let w = BdevGetBdevsParams { name: Some("w".into()), ..Default::default() };
        assert_eq!(failure(spdk.call::<BdevGetBdevs>(w.clone()).await), enodev);
        ok(spdk.call::<BdevMallocCreate>(malloc("D", 64)).await);
        assert_eq!(spdk.call::<BdevGetBdevs>(w.clone()).await.unwrap()[0].product_name, "Raid Volume");
        // Deleting a raid1 member leaves it online with an empty slot.
        assert!(spdk.call::<BdevMallocDelete>(BdevMallocDeleteParams::new("D".into())).await.unwrap());
        let online = spdk
            .call::<BdevRaidGetBdevs>(BdevRaidGetBdevsParams::new(BdevRaidState::Online))
            .await
            .unwrap();
        let w1 = online.iter().find(|r| r.name == "w").unwrap();
        assert_eq!(w1.base_bdevs_list[1].name, None);
        assert_eq!(w1.base_bdevs_list[1].uuid, uuid::Uuid::nil());
        // The raw reply carries "uuid" twice.
        let raw: String = spdk
            .call_raw("bdev_raid_get_bdevs", Some(jsonrpc_core::RawJson::parse(r#"{"category":"online"}"#).unwrap()))
            .await
            .unwrap()
            .get()
            .to_owned();
        let first = raw.find(r#"{"name":"r","uuid":"#).unwrap();
        assert_eq!(raw[first..].find("\"base_bdevs_list\"").map(|end| raw[first..first + end].matches("\"uuid\"").count()), Some(2));

        let neither = BdevLvolDeleteLvstoreParams::default();
        assert_eq!(failure(spdk.call::<BdevLvolDeleteLvstore>(neither).await), (-22, "Invalid argument".to_owned()));

        // Claims cascade: deleting the lvstore's base takes its lvols.
        assert!(spdk.call::<BdevMallocDelete>(BdevMallocDeleteParams::new("A".into())).await.unwrap());
        assert!(spdk.call::<BdevLvolGetLvstores>(BdevLvolGetLvstoresParams::new()).await.unwrap().is_empty());
        assert!(!bdev_names(&spdk).await.iter().any(|n| n.len() == 36));
        assert!(spdk.call::<BdevMallocDelete>(BdevMallocDeleteParams::new("Later".into())).await.unwrap());
        assert!(!bdev_names(&spdk).await.contains(&"Laterp0".to_owned()));

        // iostat and QoS.
        let by_name = spdk.call_by_name::<_, Value>("bdev_get_iostat", json!({"name": "B"})).await;
        assert_eq!(failure(by_name), (-32603, "spdk_json_decode_object failed".to_owned()));
        assert_eq!(
            failure(spdk.call::<BdevSetQosLimit>(BdevSetQosLimitParams::new("C".into())).await),
            (-22, "No rate limits specified".to_owned())
        );

        // NVMe-oF.
        // SPDK decodes this one relaxed: a key it does not know is ignored.
        let relaxed = json!({"trtype": "TCP", "some_future_option": 1});
        let made: bool = spdk.call_by_name("nvmf_create_transport", relaxed).await.unwrap();
        assert!(made);
        assert_eq!(
            failure(spdk.call::<NvmfCreateTransport>(NvmfCreateTransportParams::new("TCP".into())).await),
            (-32603, "Transport type 'TCP' already exists".to_owned())
        );
        spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new(NQN.into())).await.unwrap();
        let unable = |nqn: &str| (-32603, format!("Unable to create subsystem {nqn}"));
        assert_eq!(failure(spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new(NQN.into())).await), unable(NQN));
        assert_eq!(failure(spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new("bad".into())).await), unable("bad"));
        let mut long = NvmfCreateSubsystemParams::new("nqn.2016-06.io.spdk:cnode2".into());
        long.serial_number = Some("x".repeat(21));
        let params_err = (-32602, "Invalid parameters".to_owned());
        assert_eq!(failure(spdk.call::<NvmfCreateSubsystem>(long).await), params_err);
        let add_ns = |bdev: &str, nsid: Option<u32>| {
            let mut ns = NvmfNamespace::new(bdev.into());
            ns.nsid = nsid;
            spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(NQN.into(), ns))
        };
        ok(spdk.call::<BdevMallocCreate>(malloc("F", 8)).await);
        assert_eq!(add_ns("F", Some(3)).await.unwrap(), 3);
        assert_eq!(failure(add_ns("Null", None).await), params_err);
        assert_eq!(failure(add_ns("F", None).await), params_err);
        ok(spdk.call::<BdevMallocCreate>(malloc("E", 8)).await);
        assert_eq!(failure(add_ns("E", Some(3)).await), params_err);
        assert_eq!(add_ns("E", None).await.unwrap(), 1);
        assert_eq!(
            failure(spdk.call::<NvmfSubsystemRemoveNs>(NvmfSubsystemRemoveNsParams::new(NQN.into(), 9)).await),
            params_err
        );
        let listen = || spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(NQN.into(), tcp("4420")));
        listen().await.unwrap();
        assert_eq!(failure(listen().await), params_err);
        assert_eq!(
            failure(
                spdk.call::<NvmfSubsystemRemoveListener>(NvmfSubsystemRemoveListenerParams::new(NQN.into(), tcp("1")))
                    .await
            ),
            params_err
        );
        assert_eq!(
            failure(spdk.call::<NvmfDeleteSubsystem>(NvmfDeleteSubsystemParams::new("nqn.2016-06.io.spdk:x".into())).await),
            (-32602, "Subsystem with NQN 'nqn.2016-06.io.spdk:x' not found".to_owned())
        );
        let host = || spdk.call::<NvmfSubsystemAddHost>(NvmfSubsystemAddHostParams::new(NQN.into(), HOST.into()));
        host().await.unwrap();
        let internal = (-32603, "Internal error".to_owned());
        assert_eq!(failure(host().await), internal);
        assert_eq!(
            failure(spdk.call::<NvmfSubsystemRemoveHost>(NvmfSubsystemRemoveHostParams::new(NQN.into(), "nqn.x".into())).await),
            internal
        );

        // Log.
        let lower = spdk.call_by_name::<_, Value>("log_set_level", json!({"level": "warning"})).await;
        assert_eq!(failure(lower), (-32603, "spdk_json_decode_object failed".to_owned()));
        assert_eq!(
            failure(spdk.call::<LogSetFlag>(LogSetFlagParams::new("nope".into())).await),
            (-32602, "invalid log flag".to_owned())
        );
        let odd = spdk.call_by_name::<_, Value>("framework_get_config", json!({"name": 1})).await;
        assert_eq!(failure(odd), (-32602, "Invalid arguments".to_owned()));
        let unknown_subsystem = FrameworkGetConfigParams::new("nope".into());
        assert_eq!(
            failure(spdk.call::<FrameworkGetConfig>(unknown_subsystem).await),
            (-32602, "Subsystem 'nope' not found".to_owned())
        );
        // An aio bdev on a file: sized from it, listed, deleted; a missing
        // file is SPDK's -2.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aio.img");
        std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
        let aio = BdevAioCreateParams::new("aio0".into(), file.display().to_string());
        assert_eq!(spdk.call::<BdevAioCreate>(aio).await.unwrap(), "aio0");
        let listed = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("aio0".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!((listed[0].product_name.as_str(), listed[0].num_blocks), ("AIO disk", 2048));
        let missing = BdevAioCreateParams::new("aio1".into(), dir.path().join("none").display().to_string());
        assert_eq!(
            failure(spdk.call::<BdevAioCreate>(missing).await),
            (-2, "No such file or directory".to_owned())
        );
        assert!(spdk.call::<BdevAioDelete>(BdevAioDeleteParams::new("aio0".into())).await.unwrap());
        assert_eq!(
            failure(spdk.call::<BdevAioDelete>(BdevAioDeleteParams::new("aio0".into())).await),
            (-19, "No such device".to_owned())
        );
        // NVMe: no PCIe device is there; a controller attached over TCP to
        // one of the mock's own NVMe-oF subsystems shows its namespaces.
        let pcie = BdevNvmeAttachControllerParams::new("Nvme0".into(), "PCIe".into(), "0000:00:04.0".into());
        assert_eq!(failure(spdk.call::<BdevNvmeAttachController>(pcie).await).0, -19);
        let nqn = "nqn.2016-06.io.spdk:nvme-loop";
        spdk.call::<BdevMallocCreate>(malloc("Behind", 8)).await.unwrap();
        let _ = spdk.call::<NvmfCreateTransport>(NvmfCreateTransportParams::new("TCP".into())).await;
        spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new(nqn.into())).await.unwrap();
        spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(nqn.into(), NvmfNamespace::new("Behind".into())))
            .await
            .unwrap();
        spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(nqn.into(), tcp("4430")))
            .await
            .unwrap();
        let mut nvme = BdevNvmeAttachControllerParams::new("Nvme0".into(), "tcp".into(), "127.0.0.1".into());
        nvme.trsvcid = Some("4431".into());
        nvme.subnqn = Some(nqn.into());
        nvme.hostnqn = Some(HOST.into());
        // Nothing listens there: the driver's probe fails.
        assert_eq!(
            failure(spdk.call::<BdevNvmeAttachController>(nvme.clone()).await),
            (-5, "Input/output error".to_owned())
        );
        nvme.trsvcid = Some("4430".into());
        assert_eq!(spdk.call::<BdevNvmeAttachController>(nvme.clone()).await.unwrap(), ["Nvme0n1"]);
        let ns = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("Nvme0n1".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(ns[0].product_name, "NVMe disk");
        // The checks made before adding a path to a controller.
        assert_eq!(
            failure(spdk.call::<BdevNvmeAttachController>(nvme.clone()).await),
            (-114, "A controller named Nvme0 already exists with the specified network path".to_owned())
        );
        let mut disabled = nvme.clone();
        disabled.multipath = Some(BdevNvmeMultipathMode::Disable);
        assert_eq!(
            failure(spdk.call::<BdevNvmeAttachController>(disabled).await),
            (-114, "A controller named Nvme0 already exists and multipath is disabled".to_owned())
        );
        let mut other_nqn = nvme.clone();
        other_nqn.trsvcid = Some("4432".into());
        other_nqn.subnqn = Some("nqn.2016-06.io.spdk:other".into());
        assert_eq!(
            failure(spdk.call::<BdevNvmeAttachController>(other_nqn).await),
            (-22, format!("A controller named Nvme0 already exists, but uses a different subnqn ({nqn})"))
        );
        // The same address under another name.
        let mut renamed = nvme.clone();
        renamed.name = "Nvme1".into();
        assert_eq!(
            failure(spdk.call::<BdevNvmeAttachController>(renamed).await),
            (-17, "File exists".to_owned())
        );
        // A second path to the same subsystem: the bdev stays one.
        spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(nqn.into(), tcp("4432")))
            .await
            .unwrap();
        let mut second = nvme.clone();
        second.trsvcid = Some("4432".into());
        assert_eq!(spdk.call::<BdevNvmeAttachController>(second).await.unwrap(), ["Nvme0n1"]);
        let ctrlrs = spdk.call::<BdevNvmeGetControllers>(BdevNvmeGetControllersParams::new()).await.unwrap();
        assert_eq!(ctrlrs.len(), 1);
        assert_eq!(ctrlrs[0].name, "Nvme0");
        let paths: Vec<_> = ctrlrs[0].ctrlrs.iter().map(|c| (c.trid["trsvcid"].clone(), c.cntlid)).collect();
        assert_eq!(paths, [(json!("4430"), Some(1)), (json!("4432"), Some(2))]);
        assert_eq!(ctrlrs[0].ctrlrs[0].trid["subnqn"], nqn);
        // Each path is saved with every option SPDK writes, in its order.
        let bdev_config = spdk
            .call::<FrameworkGetConfig>(FrameworkGetConfigParams::new("bdev".into()))
            .await
            .unwrap();
        let attach: Vec<&Value> = bdev_config
            .iter()
            .flatten()
            .flat_map(ConfigItem::calls)
            .filter(|e| e.method == "bdev_nvme_attach_controller")
            .filter_map(|e| e.params.as_ref())
            .collect();
        assert_eq!(attach.len(), 2);
        let keys: Vec<&str> = attach[0].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name", "trtype", "traddr", "trsvcid", "subnqn", "prchk_reftag", "prchk_guard",
                "ctrlr_loss_timeout_sec", "reconnect_delay_sec", "fast_io_fail_timeout_sec", "hostnqn",
                "hdgst", "ddgst", "multipath", "fabrics_connect_timeout_us", "num_io_queues",
                "disable_sq_flow_control", "multipath_opts"
            ]
        );
        assert_eq!(attach[0]["trtype"], "TCP");
        assert_eq!(attach[0]["hostnqn"], HOST);
        assert_eq!(attach[0]["multipath_opts"], json!({"policy": "active_passive"}));
        assert_eq!(attach[1]["trsvcid"], "4432");
        assert_eq!(
            failure(
                spdk.call::<BdevNvmeGetControllers>(BdevNvmeGetControllersParams { name: Some("Nvme9".into()) })
                    .await
            ),
            (-22, "Controller Nvme9 does not exist".to_owned())
        );
        // Detaching one path leaves the controller; a path it lacks: -6.
        let mut one_path = BdevNvmeDetachControllerParams::new("Nvme0".into());
        one_path.trsvcid = Some("4432".into());
        assert!(spdk.call::<BdevNvmeDetachController>(one_path.clone()).await.unwrap());
        assert_eq!(failure(spdk.call::<BdevNvmeDetachController>(one_path).await).0, -6);
        let ctrlrs = spdk.call::<BdevNvmeGetControllers>(BdevNvmeGetControllersParams::new()).await.unwrap();
        assert_eq!(ctrlrs[0].ctrlrs.len(), 1);
        let detach = BdevNvmeDetachControllerParams::new("Nvme0".into());
        assert!(spdk.call::<BdevNvmeDetachController>(detach.clone()).await.unwrap());
        assert_eq!(failure(spdk.call::<BdevNvmeDetachController>(detach).await).0, -19);
        let gone = spdk
            .call::<BdevGetBdevs>(BdevGetBdevsParams { name: Some("Nvme0n1".into()), ..Default::default() })
            .await;
        assert_eq!(failure(gone).0, -19);
    })
    .await;
}

#[tokio::test]
async fn sixty_four_calls_in_flight_and_a_batch() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        let calls = (0..64).map(|i| {
            let spdk = spdk.clone();
            async move {
                spdk.call::<BdevMallocCreate>(malloc(&format!("P{i}"), 1))
                    .await
            }
        });
        let names = futures::future::join_all(calls).await;
        for (i, name) in names.into_iter().enumerate() {
            assert_eq!(name.unwrap(), format!("P{i}"));
        }
        assert_eq!(spdk.peer().stats().calls_pending, 0);

        let mut batch = spdk.batch();
        let v = batch.call::<SpdkGetVersion>(()).unwrap();
        let made = batch.call::<BdevMallocCreate>(malloc("B0", 1)).unwrap();
        let dup = batch.call::<BdevMallocCreate>(malloc("P0", 1)).unwrap();
        let mut replies = batch.send().await.unwrap();
        assert_eq!(replies.get(v).unwrap().fields.minor, 9);
        assert_eq!(replies.get(made).unwrap(), "B0");
        assert_eq!(failure(replies.get(dup)), (-17, "File exists".to_owned()));
    })
    .await;
}

async fn inject(spdk: &SpdkClient, fault: Value) {
    let done: bool = spdk.call_by_name("mock_inject_fault", fault).await.unwrap();
    assert!(done);
}

#[tokio::test]
async fn injected_faults() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        // A delayed reply arrives.
        inject(
            &spdk,
            json!({"fault": "delay", "method": "spdk_get_version", "delay_ms": 200}),
        )
        .await;
        let started = std::time::Instant::now();
        spdk.call::<SpdkGetVersion>(()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));

        // A dropped reply times the call out, and nothing is left waiting.
        inject(
            &spdk,
            json!({"fault": "drop_reply", "method": "spdk_get_version"}),
        )
        .await;
        let lost = spdk
            .call_with_timeout::<SpdkGetVersion>((), Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(matches!(lost, SpdkError::Timeout { .. }), "{lost}");
        assert_eq!(spdk.peer().stats().calls_pending, 0);
        spdk.call::<SpdkGetVersion>(()).await.unwrap();

        // Out-of-order replies still match their calls.
        inject(
            &spdk,
            json!({"fault": "out_of_order", "method": "bdev_malloc_create", "count": 4}),
        )
        .await;
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let calls = (0..4).map(|i| {
            let (spdk, order) = (spdk.clone(), order.clone());
            async move {
                let name = spdk
                    .call::<BdevMallocCreate>(malloc(&format!("O{i}"), 1))
                    .await
                    .unwrap();
                order.lock().unwrap().push(i);
                name
            }
        });
        let names = futures::future::join_all(calls).await;
        assert_eq!(names, vec!["O0", "O1", "O2", "O3"]);
        assert_eq!(*order.lock().unwrap(), vec![3, 2, 1, 0]);

        // Clearing drops the faults not used yet.
        inject(&spdk, json!({"fault": "drop_reply"})).await;
        let cleared: bool = spdk.call_by_name("mock_clear_faults", ()).await.unwrap();
        assert!(cleared);
        spdk.call::<SpdkGetVersion>(()).await.unwrap();

        // A close without a reply fails the call.
        inject(
            &spdk,
            json!({"fault": "half_close", "method": "spdk_get_version"}),
        )
        .await;
        let closed = spdk.call::<SpdkGetVersion>(()).await.unwrap_err();
        assert!(matches!(closed, SpdkError::Closed { .. }), "{closed}");
        // On a raw socket: end of input without a reply, yet the target
        // still reads (a Unix socket whose peer has fully closed refuses
        // writes with EPIPE at once).
        let admin = mock.client().await;
        inject(
            &admin,
            json!({"fault": "half_close", "method": "spdk_get_version"}),
        )
        .await;
        let mut raw = UnixStream::connect(&mock.path).await.unwrap();
        raw.write_all(br#"{"jsonrpc":"2.0","method":"spdk_get_version","id":1}"#)
            .await
            .unwrap();
        let mut rest = Vec::new();
        raw.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        raw.write_all(br#"{"jsonrpc":"2.0","method":"spdk_get_version","id":2}"#)
            .await
            .expect("the target stopped reading too");
        // The target itself goes on.
        mock.client()
            .await
            .call::<SpdkGetVersion>(())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_target_killed_mid_call_fails_the_call() {
    let mut mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        inject(
            &spdk,
            json!({"fault": "drop_reply", "method": "bdev_get_bdevs"}),
        )
        .await;
        let call = tokio::spawn({
            let spdk = spdk.clone();
            async move { spdk.call::<BdevGetBdevs>(BdevGetBdevsParams::new()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        mock.child.kill().await.unwrap();
        let e = call.await.unwrap().unwrap_err();
        assert!(matches!(e, SpdkError::Closed { .. }), "{e}");
    })
    .await;
}

#[tokio::test]
async fn spdk_kill_instance_ends_the_target() {
    let mut mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        let done = spdk
            .call::<SpdkKillInstance>(SpdkKillInstanceParams::new(KillSignal::Sigterm))
            .await
            .unwrap();
        assert_eq!(done, json!(true));
        assert!(mock.child.wait().await.unwrap().success());
    })
    .await;
}

#[tokio::test]
async fn sigterm_ends_the_target_cleanly() {
    let mut mock = Mock::start(&[]).await;
    let pid = mock.child.id().unwrap().to_string();
    within(async {
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        assert!(mock.child.wait().await.unwrap().success());
        assert!(!std::path::Path::new(&mock.path).exists());
    })
    .await;
}

#[tokio::test]
async fn json_with_wait_for_rpc_replays_the_runtime_half_after_init() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let config = json!({"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "bdev_set_options", "params": {"bdev_io_pool_size": 1234}},
        {"method": "bdev_malloc_create", "params": {"name": "J", "num_blocks": 2048, "block_size": 512}}
    ]}]});
    std::fs::write(&file, config.to_string()).unwrap();
    let path = dir.path().join("j.sock").display().to_string();
    let mock = Mock::start_at(
        dir,
        path,
        &["--wait-for-rpc", "--json", file.to_str().unwrap()],
    )
    .await;
    let spdk = mock.client().await;
    within(async {
        let early = spdk.call::<BdevGetBdevs>(BdevGetBdevsParams::new()).await;
        assert_eq!(failure(early).0, -1);
        spdk.call::<FrameworkStartInit>(()).await.unwrap();
        let j = BdevGetBdevsParams {
            name: Some("J".into()),
            timeout: Some(5000),
        };
        assert_eq!(
            spdk.call::<BdevGetBdevs>(j).await.unwrap()[0].num_blocks,
            2048
        );
        let bdev = spdk
            .call::<FrameworkGetConfig>(FrameworkGetConfigParams::new("bdev".into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            bdev[0].calls()[0].params.as_ref().unwrap()["bdev_io_pool_size"],
            1234
        );
    })
    .await;
}

#[tokio::test]
async fn a_config_entry_that_fails_stops_the_target_as_spdk_tgt_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    let config = json!({"subsystems": [{"subsystem": "bdev", "config": [
        {"method": "bdev_malloc_create", "params": {"name": "X", "num_blocks": 0, "block_size": 512}}
    ]}]});
    std::fs::write(&file, config.to_string()).unwrap();
    let sock = dir.path().join("bad.sock");
    let out = within(
        Command::new(binary())
            .arg("-r")
            .arg(&sock)
            .arg("--json")
            .arg(&file)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bdev_malloc_create"), "{stderr}");
}

/// What SPDK refuses when it makes a transport, a subsystem, a namespace
/// or a listener (lib/nvmf/transport.c nvmf_transport_create, tcp.c
/// nvmf_tcp_create, nvmf_rpc.c, subsystem.c), and what it adjusts.
#[tokio::test]
async fn nvmf_refuses_what_spdk_refuses_at_creation() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    within(async {
        let transport = |extra: Value| {
            let mut p = json!({"trtype": "TCP"});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            p
        };
        let create_failed = (-32603, "Transport type 'TCP' create failed".to_owned());
        for bad in [
            json!({"max_io_size": 4096}),
            json!({"max_io_size": 12288}),
            json!({"kas": 0}),
            json!({"min_kato": 0}),
        ] {
            let r = spdk
                .call_by_name::<_, bool>("nvmf_create_transport", transport(bad.clone()))
                .await;
            assert_eq!(failure(r), create_failed, "{bad}");
        }
        let r = spdk
            .call_by_name::<_, bool>(
                "nvmf_create_transport",
                transport(json!({"sock_priority": 17})),
            )
            .await;
        assert_eq!(
            failure(r),
            (-32603, "Failed to create transport.".to_owned())
        );
        // Adjusted, not refused: an admin queue under the spec's minimum
        // raised to it (32, which TCP's own 2..=4096 check then keeps),
        // in-capsule data over the largest I/O cut to it, min_kato rounded
        // up to whole keep-alive units (kas 10: 1000 ms).
        let made: bool = spdk
            .call_by_name(
                "nvmf_create_transport",
                transport(json!({"max_aq_depth": 1, "in_capsule_data_size": 65536,
                    "max_io_size": 16384, "kas": 10, "min_kato": 1001})),
            )
            .await
            .unwrap();
        assert!(made);
        let listed: Value = spdk
            .call_by_name("nvmf_get_transports", json!({}))
            .await
            .unwrap();
        let t = &listed[0];
        assert_eq!(
            (
                &t["max_aq_depth"],
                &t["in_capsule_data_size"],
                &t["min_kato"]
            ),
            (&json!(32), &json!(16384), &json!(2000))
        );

        let sub = |extra: Value| {
            let mut p = json!({"nqn": NQN});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            p
        };
        let r = spdk
            .call_by_name::<_, bool>(
                "nvmf_create_subsystem",
                sub(json!({"min_cntlid": 10, "max_cntlid": 5})),
            )
            .await;
        assert_eq!(
            failure(r),
            (-32602, "Invalid cntlid range [10-5]".to_owned())
        );
        let r = spdk
            .call_by_name::<_, bool>("nvmf_create_subsystem", sub(json!({"max_cntlid": 65520})))
            .await;
        assert_eq!(
            failure(r),
            (-32602, "Invalid cntlid range [1-65520]".to_owned())
        );
        let r = spdk
            .call_by_name::<_, bool>("nvmf_create_subsystem", sub(json!({"admin_label": "abc"})))
            .await;
        assert_eq!(failure(r), (-32602, "Invalid admin_label".to_owned()));
        // None of those left a subsystem behind.
        let made: bool = spdk
            .call_by_name(
                "nvmf_create_subsystem",
                sub(json!({"allow_any_host": true})),
            )
            .await
            .unwrap();
        assert!(made);

        spdk.call::<BdevMallocCreate>(malloc("M", 1)).await.unwrap();
        let ns = |namespace: Value| json!({"nqn": NQN, "namespace": namespace});
        let r = spdk
            .call_by_name::<_, u32>(
                "nvmf_subsystem_add_ns",
                ns(json!({"bdev_name": "M", "nguid": "0011"})),
            )
            .await;
        assert_eq!(failure(r), (-32602, "Invalid nguid".to_owned()));
        let r = spdk
            .call_by_name::<_, u32>(
                "nvmf_subsystem_add_ns",
                ns(json!({"bdev_name": "M", "eui64": "zz11223344556677"})),
            )
            .await;
        assert_eq!(failure(r), (-32602, "Invalid eui64".to_owned()));
        let r = spdk
            .call_by_name::<_, u32>(
                "nvmf_subsystem_add_ns",
                ns(json!({"bdev_name": "M", "anagrpid": 33})),
            )
            .await;
        assert_eq!(failure(r), (-32602, "Invalid parameters".to_owned()));

        let mut secure = NvmfSubsystemAddListenerParams::new(NQN.into(), tcp("4420"));
        secure.secure_channel = Some(true);
        assert_eq!(
            failure(spdk.call::<NvmfSubsystemAddListener>(secure).await),
            (
                -32603,
                "Cannot establish secure channel, when 'allow_any_host' is set".to_owned()
            )
        );
        let mut odd = tcp("4420");
        odd.adrfam = Some("ipv5".into());
        assert_eq!(
            failure(
                spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(
                    NQN.into(),
                    odd
                ))
                .await
            ),
            (-32602, "Invalid parameters".to_owned())
        );
    })
    .await;
}

/// Runs the mock with `--json` a config of `items` in the bdev
/// subsystem, which must fail to load; its stderr.
async fn failed_load(items: Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    let config = json!({"subsystems": [{"subsystem": "bdev", "config": items}]});
    std::fs::write(&file, config.to_string()).unwrap();
    let out = within(
        Command::new(binary())
            .arg("-r")
            .arg(dir.path().join("bad.sock"))
            .arg("--json")
            .arg(&file)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    assert!(!out.status.success(), "the load succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A batch in a config whose call fails fails the load with that call's
/// error, as spdk_tgt's loader does (it takes the first error of the
/// batch reply); a batch mixing a startup-only and a runtime-only method
/// has no state to run in and fails too (json_config.c send_batch_array).
#[tokio::test]
async fn a_config_batch_with_a_failing_call_stops_the_target() {
    let malloc = |name: &str, blocks: u64| {
        json!({"method": "bdev_malloc_create",
            "params": {"name": name, "num_blocks": blocks, "block_size": 512}})
    };
    let stderr = failed_load(json!([[
        malloc("A", 2048),
        malloc("B", 0),
        malloc("C", 2048)
    ]]))
    .await;
    assert!(stderr.contains("bdev_malloc_create"), "{stderr}");
    let stderr = failed_load(json!([[
        {"method": "bdev_set_options", "params": {"bdev_io_pool_size": 4096}},
        malloc("A", 2048)
    ]]))
    .await;
    assert!(stderr.contains("incompatible"), "{stderr}");
}

#[tokio::test]
async fn the_startup_phase_of_wait_for_rpc() {
    let mock = Mock::start(&["--wait-for-rpc"]).await;
    let spdk = mock.client().await;
    within(async {
        let early = spdk.call::<BdevMallocCreate>(malloc("M", 1)).await;
        assert_eq!(
            failure(early),
            (-1, "Method may only be called after framework is initialized using framework_start_init RPC.".to_owned())
        );
        let current = RpcGetMethodsParams { current: Some(true), ..Default::default() };
        let now = spdk.call::<RpcGetMethods>(current.clone()).await.unwrap();
        for m in [
            "framework_start_init",
            "bdev_set_options",
            "bdev_raid_set_options",
            "nvmf_set_max_subsystems",
            "log_set_flag",
            "spdk_get_version",
            "rpc_get_methods",
        ] {
            assert!(now.contains(&m.to_owned()), "{m}");
        }
        assert!(!now.contains(&"bdev_malloc_create".to_owned()));
        let mut options = BdevSetOptionsParams::new();
        options.bdev_io_pool_size = Some(4096);
        spdk.call::<BdevSetOptions>(options).await.unwrap();
        assert!(spdk.call::<FrameworkStartInit>(()).await.unwrap());
        assert!(spdk.call::<FrameworkWaitInit>(()).await.unwrap());
        spdk.call::<BdevMallocCreate>(malloc("M", 1)).await.unwrap();
        let late = spdk.call::<BdevSetOptions>(BdevSetOptionsParams::new()).await;
        assert_eq!(
            failure(late),
            (-1, "Method may only be called before framework is initialized. Use --wait-for-rpc command line parameter and then issue this RPC before the framework_start_init RPC.".to_owned())
        );
        let config = spdk
            .call::<FrameworkGetConfig>(FrameworkGetConfigParams::new("bdev".into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(config[0].calls()[0].params.as_ref().unwrap()["bdev_io_pool_size"], 4096);
    })
    .await;
}

#[tokio::test]
async fn save_config_then_json_gives_the_same_config() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    let saved = within(async {
        for name in ["M1", "M2", "M3"] {
            spdk.call::<BdevMallocCreate>(malloc(name, 32))
                .await
                .unwrap();
        }
        spdk.call::<BdevNullCreate>(BdevNullCreateParams::new("N".into(), 512, 2048))
            .await
            .unwrap();
        spdk.call::<BdevSplitCreate>(BdevSplitCreateParams::new("M1".into(), 2))
            .await
            .unwrap();
        spdk.call::<BdevRaidCreate>(raid("r0", BdevRaidLevel::Raid0, Some(64), &["M2", "M3"]))
            .await
            .unwrap();
        spdk.call::<NvmfCreateTransport>(NvmfCreateTransportParams::new("TCP".into()))
            .await
            .unwrap();
        spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new(NQN.into()))
            .await
            .unwrap();
        let ns = NvmfNamespace::new("r0".into());
        spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(NQN.into(), ns))
            .await
            .unwrap();
        spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(
            NQN.into(),
            tcp("4420"),
        ))
        .await
        .unwrap();
        spdk.call::<NvmfSubsystemAddHost>(NvmfSubsystemAddHostParams::new(NQN.into(), HOST.into()))
            .await
            .unwrap();
        spdk.save_config().await.unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(&file, saved.to_json_pretty()).unwrap();
    let path = dir.path().join("again.sock").display().to_string();
    let again = Mock::start_at(dir, path, &["--json", file.to_str().unwrap()]).await;
    let spdk = again.client().await;
    within(async {
        spdk.call::<FrameworkWaitInit>(()).await.unwrap();
        assert_eq!(spdk.save_config().await.unwrap(), saved);
    })
    .await;
}

/// Our `save_config_with_batches` keeps SPDK's batches (malloc's, null's,
/// NVMe's, NVMe-oF's five); our `load_config` on a fresh `--wait-for-rpc`
/// target sends each as one JSON-RPC batch once the framework runs (their
/// methods are runtime-only) and rebuilds the same config.
#[tokio::test]
async fn save_config_with_batches_then_load_config_gives_the_same_config() {
    let mock = Mock::start(&[]).await;
    let spdk = mock.client().await;
    let saved = within(async {
        for name in ["M1", "M2"] {
            spdk.call::<BdevMallocCreate>(malloc(name, 32))
                .await
                .unwrap();
        }
        spdk.call::<BdevNullCreate>(BdevNullCreateParams::new("N".into(), 512, 2048))
            .await
            .unwrap();
        spdk.call::<NvmfCreateTransport>(NvmfCreateTransportParams::new("TCP".into()))
            .await
            .unwrap();
        spdk.call::<NvmfCreateSubsystem>(NvmfCreateSubsystemParams::new(NQN.into()))
            .await
            .unwrap();
        for bdev in ["M1", "N"] {
            let mut ns = NvmfNamespace::new(bdev.into());
            // N is shown only to the hosts it is given.
            ns.no_auto_visible = Some(bdev == "N");
            spdk.call::<NvmfSubsystemAddNs>(NvmfSubsystemAddNsParams::new(NQN.into(), ns))
                .await
                .unwrap();
        }
        spdk.call::<NvmfSubsystemAddHost>(NvmfSubsystemAddHostParams::new(NQN.into(), HOST.into()))
            .await
            .unwrap();
        // N (nsid 2) to one host, added twice: no error, kept once.
        for _ in 0..2 {
            let shown = NvmfNsAddHostParams::new(NQN.into(), 2, HOST.into());
            assert!(spdk.call::<NvmfNsAddHost>(shown).await.unwrap());
        }
        // M1 is shown to every host: no host of its own; nor has a
        // namespace that is not there.
        for nsid in [1, 9] {
            let refused = NvmfNsAddHostParams::new(NQN.into(), nsid, HOST.into());
            assert_eq!(
                failure(spdk.call::<NvmfNsAddHost>(refused).await),
                (-32602, "Invalid parameters".to_owned())
            );
        }
        // Hiding from a host it was never shown to is no error either.
        let other = NvmfNsRemoveHostParams::new(NQN.into(), 2, "nqn.2016-06.io.spdk:other".into());
        assert!(spdk.call::<NvmfNsRemoveHost>(other).await.unwrap());
        spdk.call::<NvmfSubsystemAddListener>(NvmfSubsystemAddListenerParams::new(
            NQN.into(),
            tcp("4420"),
        ))
        .await
        .unwrap();
        spdk.save_config_with_batches().await.unwrap()
    })
    .await;
    let of = |name: &str| {
        let sub = saved
            .subsystems
            .iter()
            .find(|s| s.subsystem == name)
            .unwrap();
        sub.config.clone().unwrap()
    };
    let batches = |items: &[ConfigItem]| -> Vec<Vec<String>> {
        items
            .iter()
            .filter_map(|item| match item {
                ConfigItem::Batch(calls) => Some(calls.iter().map(|c| c.method.clone()).collect()),
                ConfigItem::Call(_) => None,
            })
            .collect()
    };
    assert_eq!(
        batches(&of("bdev")),
        vec![
            vec![
                "bdev_malloc_create".to_owned(),
                "bdev_malloc_create".to_owned()
            ],
            vec!["bdev_null_create".to_owned()],
            vec![],
        ]
    );
    assert_eq!(
        batches(&of("nvmf")),
        vec![
            vec!["nvmf_create_subsystem".to_owned()],
            vec!["nvmf_subsystem_add_host".to_owned()],
            vec![
                "nvmf_subsystem_add_ns".to_owned(),
                "nvmf_subsystem_add_ns".to_owned()
            ],
            vec!["nvmf_ns_add_host".to_owned()],
            vec!["nvmf_subsystem_add_listener".to_owned()],
        ]
    );
    // Flattened, it is what a plain save_config reads.
    let plain = within(spdk.save_config()).await.unwrap();
    for (batched, flat) in saved.subsystems.iter().zip(&plain.subsystems) {
        let calls: Vec<_> = batched.calls().collect();
        assert_eq!(
            calls,
            flat.calls().collect::<Vec<_>>(),
            "{}",
            flat.subsystem
        );
        assert!(flat
            .config
            .iter()
            .flatten()
            .all(|item| matches!(item, ConfigItem::Call(_))));
    }

    let fresh = Mock::start(&["--wait-for-rpc"]).await;
    let spdk = fresh.client().await;
    within(async {
        let report = spdk.load_config(&saved).await.unwrap();
        assert!(report.started_framework);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(spdk.save_config_with_batches().await.unwrap(), saved);
    })
    .await;
}

/// Sends `bytes` and reads reply lines until `n` are read or the target closes.
async fn exchange(path: &str, bytes: &str, n: usize, half_close: bool) -> Vec<Value> {
    within(async {
        let mut stream = UnixStream::connect(path).await.unwrap();
        stream.write_all(bytes.as_bytes()).await.unwrap();
        if half_close {
            stream.shutdown().await.unwrap();
        }
        let mut text = String::new();
        let mut replies = Vec::new();
        let mut reader = BufReader::new(stream);
        while replies.len() < n {
            text.clear();
            if reader.read_line(&mut text).await.unwrap() == 0 {
                break;
            }
            assert!(text.ends_with('\n'));
            replies.push(serde_json::from_str(&text).unwrap());
        }
        replies
    })
    .await
}

#[tokio::test]
async fn wire_rules_on_a_raw_socket() {
    let mock = Mock::start(&[]).await;
    let p = mock.path.as_str();
    let invalid =
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}});
    // Pretty-printed, no delimiter; the reply is one line.
    let pretty = "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"spdk_get_version\",\n  \"id\": 1\n}";
    let r = exchange(p, pretty, 1, false).await;
    assert_eq!(r[0]["result"]["version"], "SPDK v26.09-pre");
    for bad in [
        r#"{"jsonrpc":"1.0","method":"spdk_get_version","id":1}"#,
        r#"{"jsonrpc":"2.0","method":"spdk_get_version","id":1,"extra":1}"#,
        r#"{"jsonrpc":"2.0","method":"spdk_get_version","id":true}"#,
        r#"{"jsonrpc":"2.0","method":"rpc_get_methods","id":1,"params":"x"}"#,
    ] {
        assert_eq!(
            exchange(p, bad, 1, false).await,
            vec![invalid.clone()],
            "{bad}"
        );
    }
    // A notification: no success reply, but its error comes with id null.
    let two = r#"{"jsonrpc":"2.0","method":"spdk_get_version"}{"jsonrpc":"2.0","method":"bdev_get_bdevs","params":{"name":"x"}}{"jsonrpc":"2.0","method":"spdk_get_version","id":7}"#;
    let r = exchange(p, two, 2, false).await;
    assert_eq!(
        r[0],
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-19,"message":"No such device"}})
    );
    assert_eq!(r[1]["id"], 7);
    // Malformed JSON closes the connection without a reply.
    assert!(exchange(p, "{\"jsonrpc\":\"2.0\",,}", 1, false)
        .await
        .is_empty());
    // A half-closed client still gets its answer.
    let r = exchange(
        p,
        r#"{"jsonrpc":"2.0","method":"spdk_get_version","id":"h"}"#,
        1,
        true,
    )
    .await;
    assert_eq!(r[0]["id"], "h");
    // A batch: notifications left out.
    let batch = r#"[{"jsonrpc":"2.0","method":"spdk_get_version","id":1},{"jsonrpc":"2.0","method":"spdk_get_version"}]"#;
    let r = exchange(p, batch, 1, false).await;
    assert_eq!(r[0].as_array().map(Vec::len), Some(1));
    // spdk_get_version refuses params, even {}.
    let r = exchange(
        p,
        r#"{"jsonrpc":"2.0","method":"spdk_get_version","id":2,"params":{}}"#,
        1,
        false,
    )
    .await;
    assert_eq!(r[0]["error"]["code"], -32602);
}

/// The option methods of a real target's subsystems (keyring, iobuf, sock,
/// vmd, accel, scheduler, bdev's NVMe options, nvmf's config) are callable
/// before `framework_start_init`, loaded from a configuration as a real
/// target saves it, and saved back in their subsystems.
#[tokio::test]
async fn a_real_targets_subsystem_options_load_and_save_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("real.json");
    let config = json!({"subsystems": [
        {"subsystem": "keyring", "config": [
            {"method": "keyring_linux_set_options", "params": {"enable": false}}]},
        {"subsystem": "iobuf", "config": [
            {"method": "iobuf_set_options", "params": {"small_pool_count": 8192, "large_pool_count": 1024, "small_bufsize": 8192, "large_bufsize": 135168}}]},
        {"subsystem": "sock", "config": [
            {"method": "sock_set_default_impl", "params": {"impl_name": "posix"}},
            {"method": "sock_impl_set_options", "params": {"impl_name": "ssl", "recv_buf_size": 4096, "send_buf_size": 4096}},
            {"method": "sock_impl_set_options", "params": {"impl_name": "posix", "recv_buf_size": 2097152, "send_buf_size": 2097152}}]},
        {"subsystem": "vmd", "config": []},
        {"subsystem": "accel", "config": [
            {"method": "accel_set_options", "params": {"small_cache_size": 128, "large_cache_size": 16, "task_count": 2048, "sequence_count": 2048, "buf_count": 2048}}]},
        {"subsystem": "bdev", "config": [
            {"method": "bdev_set_options", "params": {"bdev_io_pool_size": 65535, "bdev_io_cache_size": 256, "bdev_auto_examine": true}},
            {"method": "bdev_nvme_set_options", "params": {"action_on_timeout": "none", "timeout_us": 0}},
            {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 2048, "block_size": 512}},
            {"method": "bdev_wait_for_examine"}]},
        {"subsystem": "scsi", "config": null},
        {"subsystem": "nvmf", "config": [
            {"method": "nvmf_set_config", "params": {"admin_cmd_passthru": {"identify_ctrlr": false}}},
            {"method": "nvmf_set_max_subsystems", "params": {"max_subsystems": 1024}}]}
    ]});
    std::fs::write(&file, config.to_string()).unwrap();
    let path = dir.path().join("r.sock").display().to_string();
    let mock = Mock::start_at(dir, path, &["--json", file.to_str().unwrap()]).await;
    let spdk = mock.client().await;
    within(async {
        let saved = spdk.save_config().await.unwrap();
        let of = |name: &str| {
            saved
                .subsystems
                .iter()
                .find(|s| s.subsystem == name && s.config.is_some())
                .map(|s| s.calls().cloned().collect::<Vec<_>>())
                .unwrap_or_else(|| panic!("no {name} config in {saved:?}"))
        };
        assert_eq!(of("iobuf")[0].method, "iobuf_set_options");
        assert_eq!(
            of("iobuf")[0].params.as_ref().unwrap()["small_pool_count"],
            8192
        );
        let sock = of("sock");
        assert_eq!(sock.len(), 3, "{sock:?}");
        assert_eq!(sock[2].params.as_ref().unwrap()["impl_name"], "posix");
        assert_eq!(of("accel")[0].params.as_ref().unwrap()["task_count"], 2048);
        // The linux keyring module, left off, drops out at init and writes
        // nothing (module/keyring/linux: its init answers -ENODEV).
        assert_eq!(of("keyring"), vec![]);
        let bdev = of("bdev");
        assert_eq!(bdev[0].method, "bdev_set_options");
        let nvme = bdev
            .iter()
            .find(|e| e.method == "bdev_nvme_set_options")
            .and_then(|e| e.params.clone())
            .expect("bdev_nvme_set_options saved");
        // What the file set, and the defaults of what it left out.
        assert_eq!(nvme["action_on_timeout"], "none");
        assert_eq!(nvme["keep_alive_timeout_ms"], 10000);
        assert!(bdev.iter().any(|e| e.method == "bdev_malloc_create"));
        assert_eq!(of("nvmf")[0].method, "nvmf_set_config");
        // Startup-only options are refused once the framework runs.
        let late = spdk
            .call::<IobufSetOptions>(IobufSetOptionsParams::new())
            .await;
        assert_eq!(failure(late).0, -1);
    })
    .await;
}

/// The 41 methods a real spdk_tgt 26.09-pre (default configure) takes
/// before `framework_start_init`: every `SPDK_RPC_REGISTER` with
/// `SPDK_RPC_STARTUP` under `lib/` and `module/`, less those of modules a
/// default build leaves out (iSCSI initiator, DPDK compressdev and
/// cryptodev, CUDA, mlx5, IDXD's dsa and iaa).
const STARTUP_METHODS: &[&str] = &[
    "accel_assign_opc",
    "accel_set_driver",
    "accel_set_options",
    "ae4dma_scan_accel_module",
    "bdev_nvme_set_options",
    "bdev_raid_set_options",
    "bdev_set_options",
    "framework_disable_cpumask_locks",
    "framework_enable_cpumask_locks",
    "framework_get_scheduler",
    "framework_set_scheduler",
    "framework_start_init",
    "framework_wait_init",
    "ioat_scan_accel_module",
    "iobuf_set_options",
    "iscsi_set_options",
    "keyring_linux_set_options",
    "log_clear_flag",
    "log_get_flags",
    "log_get_level",
    "log_get_print_level",
    "log_set_flag",
    "log_set_level",
    "log_set_print_level",
    "nvmf_set_config",
    "nvmf_set_crdt",
    "nvmf_set_max_subsystems",
    "rpc_get_methods",
    "scheduler_set_options",
    "sock_get_default_impl",
    "sock_impl_get_options",
    "sock_impl_set_options",
    "sock_set_default_impl",
    "spdk_get_version",
    "trace_clear_tpoint_mask",
    "trace_disable_tpoint_group",
    "trace_enable_tpoint_group",
    "trace_get_info",
    "trace_get_tpoint_group_mask",
    "trace_set_tpoint_mask",
    "vmd_enable",
];

/// Calls `method` with `params` (JSON, or `()` for none).
async fn call(
    spdk: &SpdkClient,
    method: &str,
    params: impl serde::Serialize,
) -> Result<Value, SpdkError> {
    spdk.call_by_name::<_, Value>(method, params).await
}

/// The entries of subsystem `name`'s config.
async fn config_of(spdk: &SpdkClient, name: &str) -> Value {
    call(spdk, "framework_get_config", json!({"name": name}))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_startup_methods_of_a_real_target_and_their_effects() {
    let mock = Mock::start(&["--wait-for-rpc"]).await;
    let spdk = mock.client().await;
    within(async {
        let current = RpcGetMethodsParams {
            current: Some(true),
            ..Default::default()
        };
        let mut now = spdk.call::<RpcGetMethods>(current).await.unwrap();
        now.sort();
        assert_eq!(now, STARTUP_METHODS, "the methods callable before init");
        let refused = |text: &str| (-32602, text.to_owned());

        // Trace: every group's mask is clear at start (no `-e`).
        let info = call(&spdk, "trace_get_info", ()).await.unwrap();
        assert_eq!(info["tpoint_group_mask"], "0x0");
        assert_eq!(info["bdev"], json!({"mask": "0x8", "tpoint_mask": "0x0"}));
        let shm = info["tpoint_shm_path"].as_str().unwrap();
        assert!(shm.starts_with("/dev/shm/spdk_tgt_trace.pid"), "{shm}");
        assert_eq!(
            failure(call(&spdk, "trace_get_info", json!({})).await),
            refused("trace_get_info requires no parameters")
        );
        call(&spdk, "trace_enable_tpoint_group", json!({"name": "bdev"}))
            .await
            .unwrap();
        call(
            &spdk,
            "trace_set_tpoint_mask",
            json!({"name": "scsi", "tpoint_mask": 1}),
        )
        .await
        .unwrap();
        let info = call(&spdk, "trace_get_info", ()).await.unwrap();
        assert_eq!(info["tpoint_group_mask"], "0xc");
        assert_eq!(info["bdev"]["tpoint_mask"], "0xffffffffffffffff");
        assert_eq!(info["scsi"]["tpoint_mask"], "0x1");
        let groups = call(&spdk, "trace_get_tpoint_group_mask", ())
            .await
            .unwrap();
        assert_eq!(
            groups["scsi"],
            json!({"enabled": true, "mask": "0x4", "tpoint_mask": "0x1", "tpoints": [
                {"name": "SCSI_TASK_DONE", "tpoint_id": 0, "enabled": true},
                {"name": "SCSI_TASK_START", "tpoint_id": 1, "enabled": false}]})
        );
        assert_eq!(groups["nvmf_tcp"]["enabled"], false);
        call(
            &spdk,
            "trace_clear_tpoint_mask",
            json!({"name": "scsi", "tpoint_mask": 1}),
        )
        .await
        .unwrap();
        call(&spdk, "trace_disable_tpoint_group", json!({"name": "bdev"}))
            .await
            .unwrap();
        let info = call(&spdk, "trace_get_info", ()).await.unwrap();
        assert_eq!(info["tpoint_group_mask"], "0x0");
        assert_eq!(
            failure(call(&spdk, "trace_enable_tpoint_group", json!({"name": "nope"})).await),
            refused("Invalid parameters")
        );

        // Sock: posix is the default; getters show what setters set.
        assert_eq!(
            call(&spdk, "sock_get_default_impl", ()).await.unwrap(),
            json!({"impl_name": "posix"})
        );
        let ssl = call(&spdk, "sock_impl_get_options", json!({"impl_name": "ssl"}))
            .await
            .unwrap();
        assert_eq!(
            ssl,
            json!({"recv_buf_size": 4096, "send_buf_size": 4096, "enable_recv_pipe": true,
                "enable_quickack": false, "enable_placement_id": 0,
                "enable_zerocopy_send_server": true, "enable_zerocopy_send_client": false,
                "zerocopy_threshold": 0, "tls_version": 0, "enable_ktls": false})
        );
        call(
            &spdk,
            "sock_impl_set_options",
            json!({"impl_name": "ssl", "recv_buf_size": 8192, "tls_version": 13}),
        )
        .await
        .unwrap();
        let ssl = call(&spdk, "sock_impl_get_options", json!({"impl_name": "ssl"}))
            .await
            .unwrap();
        assert_eq!(
            (ssl["recv_buf_size"].clone(), ssl["send_buf_size"].clone()),
            (json!(8192), json!(4096))
        );
        assert_eq!(ssl["tls_version"], 13);
        call(&spdk, "sock_set_default_impl", json!({"impl_name": "ssl"}))
            .await
            .unwrap();
        assert_eq!(
            call(&spdk, "sock_get_default_impl", ()).await.unwrap()["impl_name"],
            "ssl"
        );
        assert_eq!(
            failure(
                call(
                    &spdk,
                    "sock_impl_get_options",
                    json!({"impl_name": "uring"})
                )
                .await
            ),
            refused("Invalid parameters")
        );

        // Scheduler: none before init; one chosen before init keeps its
        // options and gets a 1 s period.
        let before = call(&spdk, "framework_get_scheduler", ()).await.unwrap();
        assert_eq!(
            before,
            json!({"scheduler_period": 0, "isolated_core_mask": "0", "scheduling_core": 0})
        );
        assert_eq!(
            failure(
                call(
                    &spdk,
                    "scheduler_set_options",
                    json!({"scheduling_core": 1})
                )
                .await
            ),
            refused("Invalid scheduling core.\n")
        );
        assert_eq!(
            call(
                &spdk,
                "scheduler_set_options",
                json!({"scheduling_core": 0, "isolated_core_mask": "0x0"})
            )
            .await
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            failure(call(&spdk, "framework_set_scheduler", json!({"name": "nope"})).await),
            (-32603, "Unknown error -22".to_owned())
        );
        call(
            &spdk,
            "framework_set_scheduler",
            json!({"name": "dynamic", "load_limit": 30}),
        )
        .await
        .unwrap();
        assert_eq!(
            call(&spdk, "framework_get_scheduler", ()).await.unwrap(),
            json!({"scheduler_name": "dynamic", "scheduler_period": 1000000,
                "isolated_core_mask": "0", "scheduling_core": 0,
                "load_limit": 30, "core_limit": 80, "core_busy": 95})
        );

        // iSCSI options: once only.
        call(
            &spdk,
            "iscsi_set_options",
            json!({"max_sessions": 16, "node_base": "iqn.2026-12.io.test"}),
        )
        .await
        .unwrap();
        assert_eq!(
            failure(call(&spdk, "iscsi_set_options", json!({})).await),
            (-32603, "Must not call more than once".to_owned())
        );

        // Accel modules: a second scan is no error; params are.
        for m in [
            "ioat_scan_accel_module",
            "ioat_scan_accel_module",
            "ae4dma_scan_accel_module",
        ] {
            assert_eq!(call(&spdk, m, ()).await.unwrap(), json!(true), "{m}");
        }
        assert_eq!(
            failure(call(&spdk, "ioat_scan_accel_module", json!({})).await),
            refused("ioat_scan_accel_module requires no parameters")
        );

        assert!(spdk.call::<FrameworkStartInit>(()).await.unwrap());

        // After init: the startup-only ones are refused, the rest still answer.
        for (m, p) in [
            ("iscsi_set_options", json!({})),
            ("sock_impl_set_options", json!({"impl_name": "posix"})),
        ] {
            assert_eq!(failure(call(&spdk, m, p).await).0, -1, "{m}");
        }
        assert_eq!(
            failure(call(&spdk, "ioat_scan_accel_module", ()).await).0,
            -1
        );
        assert_eq!(
            call(&spdk, "framework_get_scheduler", ()).await.unwrap()["scheduler_name"],
            "dynamic"
        );
        // Back to static: its first start sets no period; choosing it
        // again while it runs leaves the 1 s the call sets.
        let period = |v: Value| (v["scheduler_name"].clone(), v["scheduler_period"].clone());
        call(&spdk, "framework_set_scheduler", json!({"name": "static"}))
            .await
            .unwrap();
        let now = call(&spdk, "framework_get_scheduler", ()).await.unwrap();
        assert_eq!(period(now), (json!("static"), json!(0)));
        call(&spdk, "framework_set_scheduler", json!({"name": "static"}))
            .await
            .unwrap();
        let now = call(&spdk, "framework_get_scheduler", ()).await.unwrap();
        assert_eq!(period(now), (json!("static"), json!(1000000)));
        call(&spdk, "framework_set_scheduler", json!({"name": "dynamic"}))
            .await
            .unwrap();
        // And what each saves.
        let accel = config_of(&spdk, "accel").await;
        assert_eq!(accel[1], json!({"method": "ioat_scan_accel_module"}));
        assert_eq!(accel[2], json!({"method": "ae4dma_scan_accel_module"}));
        assert_eq!(accel.as_array().unwrap().len(), 3);
        let iscsi = &config_of(&spdk, "iscsi").await[0]["params"];
        assert_eq!(&call(&spdk, "iscsi_get_options", ()).await.unwrap(), iscsi);
        assert_eq!(iscsi["max_sessions"], 16);
        assert_eq!(iscsi["node_base"], "iqn.2026-12.io.test");
        // Pools keep the sizes the default 128 sessions gave them.
        assert_eq!(iscsi["pdu_pool_size"], 36864);
        assert_eq!(
            config_of(&spdk, "scheduler").await,
            json!([{"method": "framework_set_scheduler",
                "params": {"name": "dynamic", "period": 1000000}}])
        );
        let sock = config_of(&spdk, "sock").await;
        assert_eq!(sock[0]["params"]["impl_name"], "ssl");
        assert_eq!(sock[1]["params"]["recv_buf_size"], 8192);
        // Trace masks survive init.
        call(&spdk, "trace_enable_tpoint_group", json!({"name": "all"}))
            .await
            .unwrap();
        let info = call(&spdk, "trace_get_info", ()).await.unwrap();
        assert_eq!(info["tpoint_group_mask"], "0x7ec2e");
    })
    .await;
}
