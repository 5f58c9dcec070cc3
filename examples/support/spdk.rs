//! What the SPDK tools' benchmark (`examples/spdk_load.rs`) and tests
//! (`tests/spdk_tools.rs`) share: SPDK's python client in the peer venv,
//! the mock target (`examples/spdk_target`) run as a child process, and a
//! small target served in-process by an [`SpdkRouter`]. Pulled in with
//! `#[path = ".../support/spdk.rs"] mod spdk_support;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::Profile;
use jsonrpc_transport::{RunningServer, Server};
use spdk_proto::methods::{
    BdevGetBdevs, BdevGetBdevsParams, BdevMallocCreate, BdevMallocCreateParams, BdevMallocDelete,
    BdevMallocDeleteParams, FrameworkGetConfig, FrameworkGetConfigParams, FrameworkGetSubsystems,
    LogGetFlags,
};
use spdk_proto::results::{Bdev, ConfigEntry, ConfigItem, Subsystem, Version};
use spdk_proto::server::{Phase, SpdkRouter, When};
use spdk_proto::Errno;

/// What to do when SPDK's python client is missing.
pub const INSTALL_HINT: &str = "SPDK's python client is not installed: run \
    `scripts/install-test-deps.sh` (or just `scripts/install/spdk.sh`) from the repository root";

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A program of the peer venv (`python`, `spdk-rpc`).
pub fn venv_bin(name: &str) -> PathBuf {
    repo().join("target/peers/venv/bin").join(name)
}

/// An example binary built beside the running one: tests run from
/// `target/debug/deps/`, examples from `target/debug/examples/`, and both
/// find `target/debug/examples/NAME`.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the binary is two levels under target/");
    profile_dir.join("examples").join(name)
}

/// What a real spdk_tgt of 26.09-pre answers to `spdk_get_version`.
pub fn version() -> Version {
    Version::new(26, 9, 0, "-pre")
}

/// A target started as a child process; killed when dropped.
pub struct ChildTarget {
    child: Child,
    socket: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl ChildTarget {
    /// Starts `bin -r SOCKET ARGS...` on a socket in a new temporary
    /// directory, and waits until it prints a line containing `listening`.
    pub fn start(bin: &Path, args: &[&str]) -> Result<ChildTarget, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let socket = dir.path().join("spdk.sock");
        let mut target = Self::start_on(bin, &socket, args)?;
        target._dir = Some(dir);
        Ok(target)
    }

    /// Like [`start`](Self::start) on a socket path of the caller's.
    pub fn start_on(bin: &Path, socket: &Path, args: &[&str]) -> Result<ChildTarget, String> {
        if !bin.exists() {
            return Err(format!(
                "{} does not exist: the mock SPDK target (examples/spdk_target/) is \
                 not built; `cargo build --example spdk_target` once it is in the tree",
                bin.display()
            ));
        }
        let mut child = Command::new(bin)
            .arg("-r")
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut told = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !told && line.contains("listening") {
                    let _ = tx.send(Ok(()));
                    told = true;
                } else if !told {
                    seen.push(line);
                }
            }
            if !told {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        let mut target = ChildTarget {
            child,
            socket: socket.to_owned(),
            _dir: None,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => Ok(target),
            Ok(Err(out)) => {
                let status = target.child.wait().ok();
                Err(format!(
                    "{} exited ({status:?}) before listening; its output:\n{out}",
                    bin.display()
                ))
            }
            Err(_) => Err(format!("{} did not say `listening` in 30 s", bin.display())),
        }
    }

    /// The target's socket path.
    pub fn socket(&self) -> &str {
        self.socket.to_str().expect("a UTF-8 temporary path")
    }

    /// Stops the target (SIGKILL) and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildTarget {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A target in this process: an [`SpdkRouter`] with malloc bdevs
/// (`bdev_malloc_create`/`_delete`, `bdev_get_bdevs`), one subsystem
/// (`bdev`) whose configuration is its malloc bdevs, and `log_get_flags`;
/// with SPDK's errors for a duplicate (-17) or missing (-19) bdev.
pub fn small_target() -> SpdkRouter {
    let mut spdk = SpdkRouter::new(version(), Phase::Running);
    let bdevs: Arc<Mutex<Vec<Bdev>>> = Arc::default();
    let all = bdevs.clone();
    spdk.method::<BdevMallocCreate, _, _>(When::Runtime, move |p: BdevMallocCreateParams, _| {
        let result = malloc_create(&mut all.lock().unwrap(), p);
        async move { result }
    });
    let all = bdevs.clone();
    spdk.method::<BdevMallocDelete, _, _>(When::Runtime, move |p: BdevMallocDeleteParams, _| {
        let mut all = all.lock().unwrap();
        let before = all.len();
        all.retain(|b| b.name != p.name);
        let result = if all.len() < before {
            Ok(true)
        } else {
            Err(Errno::ENODEV.to_error())
        };
        async move { result }
    });
    let all = bdevs.clone();
    spdk.method::<BdevGetBdevs, _, _>(When::Runtime, move |p: BdevGetBdevsParams, _| {
        let all = all.lock().unwrap();
        let result = match p.name {
            None => Ok(all.clone()),
            Some(name) => match all.iter().find(|b| b.name == name) {
                Some(b) => Ok(vec![b.clone()]),
                None => Err(Errno::ENODEV.to_error()),
            },
        };
        async move { result }
    });
    spdk.method::<FrameworkGetSubsystems, _, _>(When::Always, |(), _| async {
        Ok(vec![Subsystem {
            subsystem: "bdev".into(),
            depends_on: Vec::new(),
        }])
    });
    let all = bdevs;
    spdk.method::<FrameworkGetConfig, _, _>(When::Always, move |p: FrameworkGetConfigParams, _| {
        let result = match p.name.as_str() {
            "bdev" => Ok(Some(
                all.lock()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        ConfigItem::Call(ConfigEntry {
                            method: "bdev_malloc_create".into(),
                            params: Some(serde_json::json!({
                                "name": b.name,
                                "num_blocks": b.num_blocks,
                                "block_size": b.block_size,
                                "uuid": b.uuid,
                            })),
                        })
                    })
                    .collect(),
            )),
            _ => Err(jsonrpc_core::ErrorObject::invalid_params(
                "Subsystem not found",
            )),
        };
        async move { result }
    });
    spdk.method::<LogGetFlags, _, _>(When::Always, |(), _| async {
        Ok(BTreeMap::from([
            ("bdev".to_owned(), false),
            ("bdev_malloc".to_owned(), true),
            ("nvmf".to_owned(), false),
        ]))
    });
    spdk
}

fn malloc_create(
    all: &mut Vec<Bdev>,
    p: BdevMallocCreateParams,
) -> Result<String, jsonrpc_core::ErrorObject> {
    let name = p.name.unwrap_or_else(|| {
        (0..)
            .map(|n| format!("Malloc{n}"))
            .find(|n| all.iter().all(|b| &b.name != n))
            .expect("a free name")
    });
    let uuid = p.uuid.unwrap_or_else(new_uuid);
    if all.iter().any(|b| b.name == name || b.uuid == Some(uuid)) {
        return Err(Errno::EEXIST.to_error());
    }
    all.push(Bdev {
        name: name.clone(),
        aliases: Vec::new(),
        product_name: "Malloc disk".into(),
        block_size: p.block_size,
        num_blocks: p.num_blocks,
        uuid: Some(uuid),
        claimed: false,
        claim_type: None,
        zoned: false,
        assigned_rate_limits: None,
        supported_io_types: None,
        driver_specific: None,
    });
    Ok(name)
}

/// A version-4-shaped UUID, different on every call.
fn new_uuid() -> uuid::Uuid {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = nanos
        ^ (u128::from(MADE.fetch_add(1, Ordering::Relaxed)) << 64)
        ^ u128::from(std::process::id()) << 96;
    uuid::Builder::from_random_bytes(seed.to_le_bytes()).into_uuid()
}

/// Serves `spdk` on a Unix socket `path` as an SPDK target does: raw JSON
/// stream in, one reply per line out, SPDK's peer settings.
pub async fn serve(spdk: SpdkRouter, path: &Path) -> RunningServer {
    Server::new(JsonStreamCodec::new().with_newline(true))
        .profile(Profile::spdk())
        .router(spdk.into_router())
        .bind([format!("punix:{}", path.display())
            .parse()
            .expect("a punix endpoint")])
        .await
        .expect("binding the target's socket")
}
