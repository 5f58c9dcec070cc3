//! An SPDK-compatible mock target: on the wire, the management plane of a
//! real `spdk_tgt` (v26.09-pre), its state in memory, so that software
//! driving SPDK can be tested without hugepages, root or NVMe hardware.
//!
//! ```text
//! cargo run --example spdk_target -- -r /tmp/spdk.sock [--wait-for-rpc] [--json config.json]
//! ```
//!
//! It prints `listening on SOCK` once it accepts connections, and exits on
//! SIGTERM, SIGINT or `spdk_kill_instance`. `--json` replays a config file
//! as spdk_tgt does: the entries callable before init first, then (after
//! `framework_start_init`, which `--wait-for-rpc` leaves to the client) the
//! rest; without `--wait-for-rpc` it listens once the whole file is loaded.
//! An entry that fails stops the target, as it stops spdk_tgt.
//!
//! What it has: malloc and null bdevs, `bdev_get_bdevs`, iostat and QoS,
//! splits, lvstores and lvols (thin, thick, snapshots, clones), raid0,
//! raid1 and concat, NVMe-oF transports, subsystems, namespaces, listeners
//! and hosts, the log and trace methods, the option methods of every
//! subsystem a default spdk_tgt has (scheduler, sock, iobuf, keyring, vmd,
//! fsdev, accel, bdev, nvmf, nbd, vhost_blk, scsi, iscsi, vhost_scsi) with
//! their defaults, `framework_get_subsystems` and
//! `framework_get_config` (so `save_config` works, writing what a real
//! target writes, and `--json` replays what it wrote), and the startup
//! phase of `--wait-for-rpc`; each with the codes and texts a real target
//! sends. Methods it does not have are not registered: they answer -32601
//! like an unknown method. Each method is callable in the phases SPDK
//! registers it for (`SPDK_RPC_STARTUP` and/or `SPDK_RPC_RUNTIME` in
//! SPDK's sources): before init, the 41 a default build has.
//!
//! Not emulated: data (there is no I/O path; iostat shows only the reads
//! examine does), SPDK's request size limit (an oversized request is
//! answered -32600 rather than resetting the connection), raid5f (refused
//! as a target built without it refuses it), hardware (accel modules
//! scanned for are taken as found), iSCSI portals and targets, fsdevs, NBD
//! disks and vhost controllers (those subsystems save only their options,
//! or nothing).
//!
//! # Fault injection
//!
//! Two methods of its own, callable in any phase and deliberately not
//! listed by `rpc_get_methods` (so a client comparing method lists with a
//! real target sees the same list):
//!
//! - `mock_inject_fault {"fault": F, "method"?: NAME, "count"?: N, "delay_ms"?: MS}`
//!   applies fault F to the next N calls (default 1) of NAME (of any method
//!   but `mock_*` if absent). Faults are used in the order injected. F is:
//!   - `"delay"`: the reply comes `delay_ms` late;
//!   - `"drop_reply"`: the call is carried out but never answered;
//!   - `"half_close"`: the call is carried out, then the target shuts down
//!     its sending side without answering (the client reads end of input;
//!     the target still reads until the client closes);
//!   - `"out_of_order"`: the replies of the next N calls (default 2) are
//!     held until the N-th call arrives, then sent newest first; a held
//!     reply waits at most `delay_ms` (default 1000) for its group.
//! - `mock_clear_faults`: drops every fault not yet used, and sends the
//!   replies still held.

mod accel;
mod bdev;
mod config;
mod faults;
mod fsdev;
mod iscsi;
mod json;
mod log;
mod lvol;
mod nvme;
mod nvme_options;
mod nvmf;
mod nvmf_config;
mod nvmf_options;
mod nvmf_transport;
mod options;
mod raid;
mod register;
mod scheduler;
mod setting;
mod sock;
mod split;
mod state;
mod trace;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::Profile;
use jsonrpc_transport::Server;
use serde_json::json;
use spdk_proto::methods::{SpdkGetVersion, SpdkKillInstance};
use spdk_proto::results::Version;
use spdk_proto::server::{Phase, SpdkRouter, When};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use crate::faults::Faults;
use crate::register::Registrar;
use crate::state::State;

const MAX_CONNECTIONS: usize = 64;

/// spdk_tgt's command line, as far as the management plane needs it.
#[derive(Parser, Debug)]
#[command(about = "An SPDK-compatible mock target (JSON-RPC management plane, in memory)")]
struct Args {
    /// The RPC socket.
    #[arg(short = 'r', long = "rpc-socket", default_value = spdk_proto::DEFAULT_SOCKET)]
    rpc_socket: String,
    /// Wait for framework_start_init before initializing the subsystems.
    #[arg(long)]
    wait_for_rpc: bool,
    /// An SPDK JSON config file to load at start.
    #[arg(long = "json")]
    json: Option<String>,
}

fn version() -> Version {
    Version::new(26, 9, 0, "-pre")
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("spdk_target: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let kill = Arc::new(Notify::new());
    let faults = Faults::default();
    // A config is replayed in the startup phase first, as spdk_tgt does.
    let phase = if args.wait_for_rpc || args.json.is_some() {
        Phase::Startup
    } else {
        Phase::Running
    };
    let mut spdk = SpdkRouter::new(version(), phase);
    let framework = spdk.framework().clone();
    let state = Arc::new(Mutex::new(State::new(kill.clone(), framework.clone())));
    {
        let mut r = Registrar {
            spdk: &mut spdk,
            state: state.clone(),
            faults: faults.clone(),
        };
        // Registered again so that faults apply to it too.
        r.add::<SpdkGetVersion>(When::Always, |_, ()| Ok(version()));
        r.add::<SpdkKillInstance>(When::Runtime, |s, _| {
            s.kill.notify_one();
            Ok(json!(true))
        });
        bdev::register(&mut r);
        split::register(&mut r);
        lvol::register(&mut r);
        raid::register(&mut r);
        nvmf::register(&mut r);
        nvme::register(&mut r);
        log::register(&mut r);
        options::register(&mut r);
        fsdev::register(&mut r);
        sock::register(&mut r);
        accel::register(&mut r);
        scheduler::register(&mut r);
        iscsi::register(&mut r);
        trace::register(&mut r);
        nvme_options::register(&mut r);
        nvmf_options::register(&mut r);
        config::register(&mut r);
    }
    let whens: HashMap<String, When> = spdk.methods().map(|(m, w)| (m.to_owned(), w)).collect();
    let mut router = spdk.into_router();
    faults::register(&mut router, &faults);
    let router = Arc::new(router);

    if let Some(path) = &args.json {
        let mut replay = config::Replay::read(path, &whens)?;
        replay.startup(&router).await?;
        if args.wait_for_rpc {
            // The rest waits for framework_start_init.
            let (router, framework) = (router.clone(), framework.clone());
            tokio::spawn(async move {
                if let Err(e) = replay.runtime(&router, &framework).await {
                    eprintln!("spdk_target: --json: {e}");
                    std::process::exit(1);
                }
            });
        } else {
            // Loaded whole before anyone connects: a client that sees the
            // socket sees the configured target.
            framework.start();
            replay
                .runtime(&router, &framework)
                .await
                .map_err(|e| format!("--json: {e}"))?;
        }
    }

    // Handlers first: a test may signal as soon as it reads "listening".
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let path = &args.rpc_socket;
    let endpoint = format!("punix:{path}")
        .parse()
        .map_err(|e| format!("{path}: {e}"))?;
    let server = Server::new(JsonStreamCodec::new().with_newline(true))
        .profile(Profile::spdk())
        // SPDK's RPC server holds at most 64 connections.
        .max_connections(MAX_CONNECTIONS)
        .router(router.clone())
        .bind([endpoint])
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    println!("listening on {path}");
    let _ = std::io::stdout().flush();

    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = kill.notified() => {
            // Let the reply to spdk_kill_instance go out first.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    server.shutdown(Duration::from_millis(200)).await;
    let _ = std::fs::remove_file(path);
    Ok(())
}
