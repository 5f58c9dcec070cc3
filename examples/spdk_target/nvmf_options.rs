//! The NVMe-oF target's options, settable before init only: its config
//! (`nvmf_set_config`), the most subsystems it takes
//! (`nvmf_set_max_subsystems`) and its command retry delays
//! (`nvmf_set_crdt`); the first three entries of the nvmf config.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{Registrar, INVALID_PARAMS};
use crate::setting::{in_order, Setting, DHCHAP_DHGROUPS, DHCHAP_DIGESTS};
use crate::state::State;

/// SPDK_NVMF_DEFAULT_MAX_SUBSYSTEMS: what a target asked for 0 takes.
const DEFAULT_MAX_SUBSYSTEMS: u32 = 1024;

/// The discovery filters, in their bit order.
const DISCOVERY_FILTERS: &[&str] = &["transport", "address", "svcid"];

pub struct NvmfOptions {
    config: Setting,
    /// `poll_groups_mask`, as SPDK formats a CPU set; written only once set.
    poll_groups_mask: Option<String>,
    /// What `nvmf_set_max_subsystems` asked for: SPDK refuses a second
    /// call once it is non-zero.
    max_subsystems: u32,
    crdt: [u16; 3],
}

impl Default for NvmfOptions {
    fn default() -> Self {
        NvmfOptions {
            // `g_spdk_nvmf_tgt_conf` (module/event/subsystems/nvmf): no
            // discovery filter (match any), no admin command passed
            // through, every DH-HMAC-CHAP digest and group, duplicate
            // hosts allowed.
            config: Setting::new(
                "nvmf_set_config",
                json!({
                    "discovery_filters": [],
                    "admin_cmd_passthru": {
                        "identify_ctrlr": false, "identify_uuid_list": false,
                        "get_log_page": false, "get_set_features": false, "sanitize": false,
                        "security_send_recv": false, "fw_update": false, "nvme_mi": false,
                        "vendor_specific": false,
                    },
                    "dhchap_digests": DHCHAP_DIGESTS,
                    "dhchap_dhgroups": DHCHAP_DHGROUPS,
                    "dup_host_policy": "allow",
                }),
            ),
            poll_groups_mask: None,
            max_subsystems: 0,
            crdt: [0; 3],
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<NvmfSetConfig, bool>(When::Startup, INVALID_PARAMS, set_config);
    r.add_as::<NvmfSetMaxSubsystems, bool>(When::Startup, INVALID_PARAMS, |s, p| {
        if s.nvmf_options.max_subsystems != 0 {
            return Err(ErrorObject::new(
                ErrorObject::INTERNAL_ERROR,
                "Must not call more than once",
            ));
        }
        s.nvmf_options.max_subsystems = p.max_subsystems;
        s.nvmf.max_subsystems = match p.max_subsystems {
            0 => DEFAULT_MAX_SUBSYSTEMS,
            n => n,
        };
        Ok(true)
    });
    // Each call sets all three: what it leaves out is 0.
    r.add_as::<NvmfSetCrdt, bool>(When::Startup, INVALID_PARAMS, |s, p| {
        s.nvmf_options.crdt = [
            p.crdt1.unwrap_or(0),
            p.crdt2.unwrap_or(0),
            p.crdt3.unwrap_or(0),
        ];
        Ok(true)
    });
}

fn invalid() -> ErrorObject {
    ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid parameters")
}

fn set_config(s: &mut State, p: NvmfSetConfigParams) -> Result<bool, ErrorObject> {
    // Decoded into a copy, kept only if all of it decodes.
    let mut config = s.nvmf_options.config.clone();
    let mut mask = s.nvmf_options.poll_groups_mask.clone();
    if let Some(given) = &p.poll_groups_mask {
        mask = Some(poll_groups_mask(given)?);
    }
    // The deprecated comma-separated string comes before the list, which
    // wins when both are given.
    if let Some(filter) = &p.discovery_filter {
        config.set("discovery_filters", discovery_filter(filter)?);
    }
    config.merge(&p);
    for (key, all) in [
        ("discovery_filters", DISCOVERY_FILTERS),
        ("dhchap_digests", DHCHAP_DIGESTS),
        ("dhchap_dhgroups", DHCHAP_DHGROUPS),
    ] {
        if let Some(list) = config.get(key) {
            let list = in_order(list, all);
            config.set(key, list);
        }
    }
    s.nvmf_options.config = config;
    s.nvmf_options.poll_groups_mask = mask;
    Ok(true)
}

/// "match_any", or filters joined by commas (each matched by its prefix,
/// as SPDK compares them); "match_any" mixed with others is refused.
fn discovery_filter(text: &str) -> Result<Value, ErrorObject> {
    let mut filters = Vec::new();
    let mut any = false;
    for token in text.split(',').filter(|t| !t.is_empty()) {
        if token.starts_with("match_any") {
            if !filters.is_empty() {
                return Err(invalid());
            }
            any = true;
        } else if any {
            return Err(invalid());
        } else {
            let filter = DISCOVERY_FILTERS
                .iter()
                .find(|f| token.starts_with(**f))
                .ok_or_else(invalid)?;
            filters.push(*filter);
        }
    }
    Ok(json!(filters))
}

/// A hex CPU mask that must fit the app's cores (core 0 only), written
/// back as SPDK formats it: hex digits, no prefix.
fn poll_groups_mask(text: &str) -> Result<String, ErrorObject> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    match u128::from_str_radix(digits, 16) {
        Ok(mask) if mask & !1 == 0 => Ok(format!("{mask:x}")),
        _ => Err(invalid()),
    }
}

/// `nvmf_set_config` (with `poll_groups_mask` after the admin commands
/// when set), `nvmf_set_max_subsystems`, `nvmf_set_crdt`.
pub fn config(s: &State) -> Vec<Value> {
    let o = &s.nvmf_options;
    let mut config = o.config.entry();
    if let (Some(mask), Some(params)) = (&o.poll_groups_mask, config["params"].as_object()) {
        let mut with_mask = serde_json::Map::new();
        for (key, value) in params {
            with_mask.insert(key.clone(), value.clone());
            if key == "admin_cmd_passthru" {
                with_mask.insert("poll_groups_mask".into(), json!(mask));
            }
        }
        config["params"] = Value::Object(with_mask);
    }
    let [crdt1, crdt2, crdt3] = o.crdt;
    vec![
        config,
        json!({"method": "nvmf_set_max_subsystems",
            "params": {"max_subsystems": s.nvmf.max_subsystems}}),
        json!({"method": "nvmf_set_crdt",
            "params": {"crdt1": crdt1, "crdt2": crdt2, "crdt3": crdt3}}),
    ]
}
