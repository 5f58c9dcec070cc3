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

/// A group of calls a module writes between `spdk_json_write_batch_begin`
/// and `_end` (lib/json/json_write.c): kept as a nested array, empty or
/// not, when the caller asks `with_batches`, else flattened by
/// [`flatten`].
pub fn batch(calls: Vec<Value>) -> Value {
    Value::Array(calls)
}

/// Without `with_batches`, `framework_get_config` has the writer drop the
/// batch brackets (SPDK_JSON_WRITE_FLAG_FLATTEN_BATCHES): each batch's
/// calls take its place and an empty batch leaves nothing.
fn flatten(items: Vec<ConfigItem>) -> Vec<ConfigItem> {
    items
        .into_iter()
        .flat_map(|item| match item {
            ConfigItem::Call(call) => vec![ConfigItem::Call(call)],
            ConfigItem::Batch(calls) => calls.into_iter().map(ConfigItem::Call).collect(),
        })
        .collect()
}

/// What each subsystem's `write_config_json` writes: its options with
/// their current values (defaults until set), then what it holds; the
/// batches kept only `with_batches` (lib/init/subsystem_rpc.c).
fn get_config(
    s: &mut State,
    p: FrameworkGetConfigParams,
) -> Result<Option<Vec<ConfigItem>>, ErrorObject> {
    let with_batches = p.with_batches.unwrap_or(false);
    let config = subsystem_config(s, &p.name)?;
    Ok(config.map(|items| {
        let items = entries(items);
        if with_batches {
            items
        } else {
            flatten(items)
        }
    }))
}

/// One subsystem's config, batches included; `None` for one with no
/// `write_config_json`.
fn subsystem_config(s: &State, name: &str) -> Result<Option<Vec<Value>>, ErrorObject> {
    let config = match name {
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
            out.extend(crate::nvmf_config::config(s));
            out
        }
        other => {
            return Err(ErrorObject::new(
                ErrorObject::INVALID_PARAMS,
                format!("Subsystem '{other}' not found"),
            ))
        }
    };
    Ok(Some(config))
}

/// As `spdk_bdev_subsystem_config_json` writes it: the bdev options, then
/// each module's own config in SPDK's module list order, then each bdev
/// whose module writes it per bdev (aio, raid) in registration order, with
/// every bdev's rate limits, then a wait for examine. The module list holds the modules that examine
/// first, newest first (split, then raid: they register after the others
/// and are put at its head), then the rest in registration order (malloc,
/// null, nvme). Malloc and null write their bdevs in their module config,
/// each module's as a batch (so does nvme its controllers); lvols write none:
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
    // bdev_malloc_config_json, bdev_null_config_json: one batch each.
    for kind in [
        |k: &Kind| matches!(k, Kind::Malloc),
        |k: &Kind| matches!(k, Kind::Null),
    ] {
        out.push(batch(
            s.bdevs
                .iter()
                .filter(|b| kind(&b.kind))
                .filter_map(crate::bdev::config_entry)
                .collect(),
        ));
    }
    out.push(crate::nvme_options::options_config(s));
    // bdev_nvme_config_json: the attach calls as one batch.
    out.push(batch(crate::nvme::config(s)));
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
/// `--json` (lib/init/json_config.c): those callable before init first,
/// then (once the framework runs) the rest. A batch goes as one, in the
/// first phase every call in it allows. Fails on the first entry that
/// fails, as spdk_tgt does.
pub struct Replay {
    startup: Vec<ConfigItem>,
    runtime: Vec<ConfigItem>,
}

/// Where a config item runs.
enum Place {
    Startup,
    Runtime,
    /// An empty batch: nothing to send (send_batch_array skips it).
    Nowhere,
}

/// The states a method may be called in: (before init, after init). A
/// method the target does not have counts as runtime-only: it goes after
/// init, where calling it fails the load.
fn place_of(method: &str, whens: &HashMap<String, When>) -> (bool, bool) {
    match whens.get(method) {
        Some(When::Startup) => (true, false),
        Some(When::Always) => (true, true),
        _ => (false, true),
    }
}

/// An item runs in the states all its calls allow: before init when they
/// all may (one allowed in both is not run again after), else after init
/// when they all may then; none in common is an error (send_batch_array:
/// "incompatible state requirements").
fn place(item: &ConfigItem, whens: &HashMap<String, When>) -> Result<Place, String> {
    let calls = item.calls();
    if calls.is_empty() {
        return Ok(Place::Nowhere);
    }
    let (startup, runtime) = calls
        .iter()
        .map(|c| place_of(&c.method, whens))
        .fold((true, true), |(s, r), (cs, cr)| (s && cs, r && cr));
    match (startup, runtime) {
        (true, _) => Ok(Place::Startup),
        (false, true) => Ok(Place::Runtime),
        (false, false) => {
            let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
            Err(format!(
                "a batch with methods of incompatible states: {}",
                methods.join(", ")
            ))
        }
    }
}

impl Replay {
    pub fn read(path: &str, whens: &HashMap<String, When>) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let config = Config::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
        let (mut startup, mut runtime) = (Vec::new(), Vec::new());
        let items = config
            .subsystems
            .iter()
            .flat_map(|s| s.config.iter().flatten().cloned());
        for item in items {
            match place(&item, whens).map_err(|e| format!("{path}: {e}"))? {
                Place::Startup => startup.push(item),
                Place::Runtime => runtime.push(item),
                Place::Nowhere => {}
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

async fn run(router: &Router, items: Vec<ConfigItem>) -> Result<(), String> {
    let mut n = 0u64;
    for item in items {
        // The target answers every call of a batch; the loader then looks
        // for an error among the answers and, finding one, fails the load
        // with the first (jsonrpc_client.c decode_batch_response_element,
        // json_config.c rpc_client_poller with stop_on_error).
        let mut first_error = None;
        for entry in item.calls() {
            n += 1;
            if let Err(e) = call(router, entry, n).await {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(())
}

/// One call of the replay; its error as the load reports it.
async fn call(router: &Router, entry: &ConfigEntry, n: u64) -> Result<(), String> {
    let params = entry
        .params
        .as_ref()
        .map(RawJson::from_value)
        .transpose()
        .map_err(|e| e.to_string())?;
    let id = Id::from(n);
    let request = Request::new(id.clone(), entry.method.clone(), params, Dialect::V2);
    let ctx = RequestContext::detached(Some(id), Dialect::V2).profile(Profile::spdk());
    match router.handle(request, ctx).await.outcome {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{}: {}", entry.method, e.get())),
    }
}
