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

/// The subsystems the mock has, in init order, with what they depend on.
/// `scsi` has nothing to save: its config is `null`, as on a real target.
const SUBSYSTEMS: &[(&str, &[&str])] = &[
    ("bdev", &["accel", "vmd", "sock", "iobuf", "keyring"]),
    ("scsi", &["bdev"]),
    ("nvmf", &["bdev", "sock"]),
];

pub fn register(r: &mut Registrar) {
    r.add::<FrameworkGetSubsystems>(When::Runtime, |_, ()| {
        Ok(crate::options::SUBSYSTEMS
            .iter()
            .chain(SUBSYSTEMS)
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

fn get_config(
    s: &mut State,
    p: FrameworkGetConfigParams,
) -> Result<Option<Vec<ConfigItem>>, ErrorObject> {
    match p.name.as_str() {
        "bdev" => Ok(Some(entries(bdev_config(s)))),
        "nvmf" => {
            let mut out = s.options.config("nvmf");
            out.extend(crate::nvmf::config(s));
            Ok(Some(entries(out)))
        }
        "scsi" => Ok(None),
        name if crate::options::SUBSYSTEMS.iter().any(|(s, _)| *s == name) => {
            Ok(Some(entries(s.options.config(name))))
        }
        other => Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            format!("Subsystem '{other}' not found"),
        )),
    }
}

/// As SPDK writes it: the options, each module's own entries (raid
/// options, splits),
/// each bdev's entry in registration order (lvols write none: they live
/// on their store's disk), then a wait for examine.
fn bdev_config(s: &State) -> Vec<Value> {
    let o = &s.bdev_options;
    let mut out = vec![json!({"method": "bdev_set_options", "params": {
        "bdev_io_pool_size": o.bdev_io_pool_size, "bdev_io_cache_size": o.bdev_io_cache_size,
        "bdev_auto_examine": o.bdev_auto_examine,
        "iobuf_small_cache_size": o.iobuf_small_cache_size,
        "iobuf_large_cache_size": o.iobuf_large_cache_size}})];
    out.extend(s.options.config("bdev"));
    out.extend(crate::nvme::config(s));
    out.push(crate::raid::options_config(s));
    out.extend(crate::split::config(s));
    let raids = crate::raid::config(s);
    for b in &s.bdevs {
        if let Some(entry) = crate::bdev::config_entry(b) {
            out.push(entry);
        } else if matches!(b.kind, Kind::Raid) {
            out.extend(
                raids
                    .iter()
                    .filter(|r| r["params"]["name"] == json!(b.name))
                    .cloned(),
            );
        }
    }
    out.push(json!({"method": "bdev_wait_for_examine"}));
    out
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
