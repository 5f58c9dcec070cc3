//! The NVMe bdev module's options (`bdev_nvme_set_options`) and hotplug
//! setting (`bdev_nvme_set_hotplug`), written in its config around the
//! controllers: the options first, hotplug last.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{Registrar, INVALID_ARGUMENT};
use crate::setting::{in_order, Setting, DHCHAP_DHGROUPS, DHCHAP_DIGESTS};
use crate::state::State;

/// NVME_HOTPLUG_POLL_PERIOD_DEFAULT and _MAX (µs).
const HOTPLUG_PERIOD_DEFAULT: u64 = 100_000;
const HOTPLUG_PERIOD_MAX: u64 = 10_000_000;

pub struct NvmeOptions {
    options: Setting,
    hotplug: Setting,
}

impl Default for NvmeOptions {
    fn default() -> Self {
        NvmeOptions {
            // `g_opts` of module/bdev/nvme/bdev_nvme.c, in the order
            // `bdev_nvme_opts_config_json` writes it.
            options: Setting::new(
                "bdev_nvme_set_options",
                json!({
                    "action_on_timeout": "none",
                    "timeout_us": 0,
                    "timeout_admin_us": 0,
                    "keep_alive_timeout_ms": 10000,
                    "arbitration_burst": 0,
                    "low_priority_weight": 0,
                    "medium_priority_weight": 0,
                    "high_priority_weight": 0,
                    "nvme_adminq_poll_period_us": 10000,
                    "nvme_ioq_poll_period_us": 0,
                    "io_queue_requests": 0,
                    "delay_cmd_submit": true,
                    "transport_retry_count": 4,
                    "bdev_retry_count": 3,
                    "transport_ack_timeout": 0,
                    "ctrlr_loss_timeout_sec": 0,
                    "reconnect_delay_sec": 0,
                    "fast_io_fail_timeout_sec": 0,
                    "disable_auto_failback": false,
                    "generate_uuids": false,
                    "transport_tos": 0,
                    "nvme_error_stat": false,
                    "rdma_srq_size": 0,
                    "io_path_stat": false,
                    "allow_accel_sequence": false,
                    "rdma_max_cq_size": 0,
                    "rdma_cm_event_timeout_ms": 0,
                    "dhchap_digests": DHCHAP_DIGESTS,
                    "dhchap_dhgroups": DHCHAP_DHGROUPS,
                    "rdma_umr_per_io": false,
                    "tcp_connect_timeout_ms": 0,
                    "enable_flush": false,
                    "multipath_opts": {"policy": "active_passive",
                        "selector": "round_robin", "min_io": 1},
                }),
            ),
            hotplug: Setting::new(
                "bdev_nvme_set_hotplug",
                json!({"period_us": HOTPLUG_PERIOD_DEFAULT, "enable": false}),
            ),
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add::<BdevNvmeSetOptions>(When::Always, set_options);
    r.add_as::<BdevNvmeSetHotplug, bool>(When::Runtime, INVALID_ARGUMENT, |s, p| {
        let period = match p.period_us.unwrap_or(0) {
            0 => HOTPLUG_PERIOD_DEFAULT,
            period => period.min(HOTPLUG_PERIOD_MAX),
        };
        s.nvme_options.hotplug.set("period_us", json!(period));
        s.nvme_options.hotplug.set("enable", json!(p.enable));
        Ok(true)
    });
}

fn set_options(s: &mut State, p: BdevNvmeSetOptionsParams) -> Result<Value, ErrorObject> {
    if !s.nvme.is_empty() {
        return Err(ErrorObject::new(
            -1,
            "RPC not permitted with nvme controllers already attached",
        ));
    }
    let o = &mut s.nvme_options.options;
    o.merge(&p);
    // Kept as bit masks: written in bit order.
    for (key, all) in [
        ("dhchap_digests", DHCHAP_DIGESTS),
        ("dhchap_dhgroups", DHCHAP_DHGROUPS),
    ] {
        if let Some(list) = o.get(key) {
            let list = in_order(list, all);
            o.set(key, list);
        }
    }
    Ok(json!(true))
}

/// The options entry, with `multipath_opts` as SPDK writes it: the
/// selector only for active-active, the minimum I/O count only for its
/// round-robin selector.
pub fn options_config(s: &State) -> Value {
    let mut entry = s.nvme_options.options.entry();
    if let Some(mp) = entry["params"]["multipath_opts"].as_object_mut() {
        if mp.get("policy") != Some(&json!("active_active")) {
            mp.shift_remove("selector");
            mp.shift_remove("min_io");
        } else if mp.get("selector") != Some(&json!("round_robin")) {
            mp.shift_remove("min_io");
        }
    }
    entry
}

pub fn hotplug_config(s: &State) -> Value {
    s.nvme_options.hotplug.entry()
}
