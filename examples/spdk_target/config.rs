//! Configuration: `framework_get_subsystems` and `framework_get_config`
//! (what `save_config` reads), and `--json` (what spdk_tgt replays).

use std::collections::HashMap;

use jsonrpc_core::{Dialect, ErrorObject, Id, Profile, RawJson, Request, RequestContext, Router};
use serde_json::{json, Value};
use spdk_proto::config::Config;
use spdk_proto::methods::*;
use spdk_proto::results::{ConfigEntry, ConfigItem, Subsystem};
use spdk_proto::server::{Framework, When};

use crate::register::{Registrar, INVALID_ARGUMENTS};
use crate::state::{Kind, State};

/// The subsystems of spdk_tgt, in the order the target initializes (and
/// lists) them, each with what it depends on in the order its
/// `SPDK_SUBSYSTEM_DEPEND`s are declared (which is how SPDK reports them).
///
/// The order is SPDK's `subsystem_sort` (lib/init/subsystem.c) applied to
/// the order the subsystems register: each registers from a constructor,
/// and a static spdk_tgt (default configure) runs its constructors in link
/// order, which `mk/spdk.app_vars.mk` makes event_iscsi, event_nvmf,
/// event_nbd, event_vhost_blk, event_vhost_scsi, event_scheduler,
/// event_scsi, event_bdev, event_accel, event_sock, event_iobuf,
/// event_keyring, event_vmd, event_fsdev. The sort takes, pass after
/// pass, each subsystem whose dependencies it has taken already.
const SUBSYSTEMS: &[(&str, &[&str])] = &[
    ("scheduler", &[]),
    ("sock", &[]),
    ("iobuf", &[]),
    ("keyring", &[]),
    ("vmd", &[]),
    ("fsdev", &[]),
    ("accel", &["iobuf"]),
    ("bdev", &["accel", "keyring", "vmd", "sock", "iobuf"]),
    ("nvmf", &["bdev", "keyring", "sock", "accel", "iobuf"]),
    ("nbd", &["bdev"]),
    ("vhost_blk", &["bdev"]),
    ("scsi", &["bdev"]),
    ("iscsi", &["scsi", "sock"]),
    ("vhost_scsi", &["scsi"]),
];

pub fn register(r: &mut Registrar) {
    r.add::<FrameworkGetSubsystems>(When::Runtime, |_, ()| {
        Ok(SUBSYSTEMS
            .iter()
            .map(|(name, deps)| Subsystem {
                subsystem: (*name).into(),
                depends_on: deps.iter().map(|d| (*d).into()).collect(),
            })
            .collect())
    });
    r.add_as::<FrameworkGetConfig, _>(When::Runtime, INVALID_ARGUMENTS, get_config);
}

fn entries(values: Vec<Value>) -> Vec<ConfigItem> {
    values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

/// What each subsystem's `write_config_json` writes: its options with
/// their current values (defaults until set), then what it holds.
fn get_config(
    s: &mut State,
    p: FrameworkGetConfigParams,
) -> Result<Option<Vec<ConfigItem>>, ErrorObject> {
    let config = match p.name.as_str() {
        name @ ("keyring" | "iobuf" | "vmd") => crate::options::config(s, name),
        "sock" => s.sock.config(),
        "accel" => crate::accel::config(s),
        "scheduler" => crate::scheduler::config(s),
        "fsdev" => crate::fsdev::config(s),
        // No NBD disks, vhost controllers or virtio-blk transports (the
        // vhost-user one is there from the start and not written).
        "nbd" | "vhost_blk" | "vhost_scsi" => Vec::new(),
        "bdev" => bdev_config(s),
        // scsi has nothing to save: its config is `null`, as on a real
        // target.
        "scsi" => return Ok(None),
        "iscsi" => crate::iscsi::config(s),
        "nvmf" => {
            let mut out = crate::nvmf_options::config(s);
            out.extend(crate::nvmf::config(s));
            out
        }
        other => {
            return Err(ErrorObject::new(
                ErrorObject::INVALID_PARAMS,
                format!("Subsystem '{other}' not found"),
            ))
        }
    };
    Ok(Some(entries(config)))
}

/// As `spdk_bdev_subsystem_config_json` writes it: the bdev options, then
/// each module's own config in SPDK's module list order, then each bdev
/// whose module writes it per bdev (aio, raid) in registration order, with
/// every bdev's rate limits, then a wait for examine. The module list holds the modules that examine
/// first, newest first (split, then raid: they register after the others
/// and are put at its head), then the rest in registration order (malloc,
/// null, nvme). Malloc and null write their bdevs in their module config
/// (as a batch, flattened by `framework_get_config`); lvols write none:
/// they live on their store's disk.
fn bdev_config(s: &State) -> Vec<Value> {
    let o = &s.bdev_options;
    let mut out = vec![json!({"method": "bdev_set_options", "params": {
        "bdev_io_pool_size": o.bdev_io_pool_size, "bdev_io_cache_size": o.bdev_io_cache_size,
        "bdev_auto_examine": o.bdev_auto_examine,
        "iobuf_small_cache_size": o.iobuf_small_cache_size,
        "iobuf_large_cache_size": o.iobuf_large_cache_size}})];
    out.extend(crate::split::config(s));
    out.push(crate::raid::options_config(s));
    for kind in [
        |k: &Kind| matches!(k, Kind::Malloc),
        |k: &Kind| matches!(k, Kind::Null),
    ] {
        out.extend(
            s.bdevs
                .iter()
                .filter(|b| kind(&b.kind))
                .filter_map(crate::bdev::config_entry),
        );
    }
    out.push(crate::nvme_options::options_config(s));
    out.extend(crate::nvme::config(s));
    out.push(crate::nvme_options::hotplug_config(s));
    let raids = crate::raid::config(s);
    for b in &s.bdevs {
        match b.kind {
            Kind::Malloc | Kind::Null => {}
            Kind::Raid => out.extend(
                raids
                    .iter()
                    .filter(|r| r["params"]["name"] == json!(b.name))
                    .cloned(),
            ),
            _ => out.extend(crate::bdev::config_entry(b)),
        }
        out.extend(qos_entry(b));
    }
    out.push(json!({"method": "bdev_wait_for_examine"}));
    out
}

/// A bdev's rate limits, after its own entry, as `bdev_qos_config_json`
/// writes them: those set, in SPDK's order; none while no limit is set.
fn qos_entry(b: &crate::state::Bdev) -> Option<Value> {
    let q = &b.qos;
    let mut params = serde_json::Map::new();
    params.insert("name".into(), json!(b.name));
    for (key, limit) in [
        ("rw_ios_per_sec", q.rw_ios_per_sec),
        ("rw_mbytes_per_sec", q.rw_mbytes_per_sec),
        ("r_mbytes_per_sec", q.r_mbytes_per_sec),
        ("w_mbytes_per_sec", q.w_mbytes_per_sec),
    ] {
        if limit > 0 {
            params.insert(key.into(), json!(limit));
        }
    }
    (params.len() > 1).then(|| json!({"method": "bdev_set_qos_limit", "params": params}))
}

/// Replays a config file's entries on the router, as spdk_tgt does for
/// `--json`: those callable before init first, then (once the framework
/// runs) the rest. Fails on the first entry that fails, as spdk_tgt does.
pub struct Replay {
    startup: Vec<ConfigEntry>,
    runtime: Vec<ConfigEntry>,
}

impl Replay {
    pub fn read(path: &str, whens: &HashMap<String, When>) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let config = Config::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
        let (mut startup, mut runtime) = (Vec::new(), Vec::new());
        for entry in config.subsystems.iter().flat_map(|s| s.calls().cloned()) {
            match whens.get(&entry.method) {
                Some(When::Startup | When::Always) => startup.push(entry),
                _ => runtime.push(entry),
            }
        }
        Ok(Replay { startup, runtime })
    }

    pub async fn startup(&mut self, router: &Router) -> Result<(), String> {
        run(router, std::mem::take(&mut self.startup)).await
    }

    pub async fn runtime(self, router: &Router, framework: &Framework) -> Result<(), String> {
        framework.running().await;
        run(router, self.runtime).await
    }
}

async fn run(router: &Router, entries: Vec<ConfigEntry>) -> Result<(), String> {
    for (n, entry) in entries.into_iter().enumerate() {
        let params = entry
            .params
            .as_ref()
            .map(RawJson::from_value)
            .transpose()
            .map_err(|e| e.to_string())?;
        let id = Id::from(n as u64);
        let request = Request::new(id.clone(), entry.method.clone(), params, Dialect::V2);
        let ctx = RequestContext::detached(Some(id), Dialect::V2).profile(Profile::spdk());
        if let Err(e) = router.handle(request, ctx).await.outcome {
            return Err(format!("{}: {}", entry.method, e.get()));
        }
    }
    Ok(())
}
