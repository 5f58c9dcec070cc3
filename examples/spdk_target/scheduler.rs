//! The scheduler subsystem: which scheduler runs, its period and options,
//! and the scheduling core, on a target with one reactor (core 0).
//!
//! What `framework_set_scheduler` does, step by step as in
//! `lib/event/app_rpc.c`: a period given (non-zero) is set, else one that
//! was never set becomes 1 s; then the scheduler is switched (its `init`
//! runs only if it is a different one), then the call's params go to its
//! options. `static` sets the period back to 0 when it first starts (it
//! never balances), so `static` chosen before init has no period, while
//! choosing it again at run time leaves the 1 s.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Map, Value};
use spdk_proto::methods::*;
use spdk_proto::server::{Phase, When};

use crate::register::{NoParams, Registrar, INVALID_PARAMS};
use crate::state::State;

/// SPDK_SEC_TO_USEC: the period a scheduler gets when none was set.
const ONE_SECOND_US: u64 = 1_000_000;

/// The dynamic scheduler's defaults (`module/scheduler/dynamic`).
const DYNAMIC_LOAD_LIMIT: u8 = 20;
const DYNAMIC_CORE_LIMIT: u8 = 80;
const DYNAMIC_CORE_BUSY: u8 = 95;

pub struct Scheduler {
    /// None until one is chosen; the subsystem's init picks `static`.
    name: Option<&'static str>,
    period_us: u64,
    /// The dynamic scheduler's load limit, core limit and core busy (%),
    /// kept while another scheduler runs, as SPDK keeps them.
    dynamic: [u8; 3],
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            name: None,
            period_us: 0,
            dynamic: [DYNAMIC_LOAD_LIMIT, DYNAMIC_CORE_LIMIT, DYNAMIC_CORE_BUSY],
        }
    }
}

/// The schedulers a default build registers.
const STATIC: &str = "static";
const DYNAMIC: &str = "dynamic";
const GSCHEDULER: &str = "gscheduler";

pub fn register(r: &mut Registrar) {
    r.add_as::<FrameworkSetScheduler, bool>(When::Always, INVALID_PARAMS, set_scheduler);
    r.add_bare::<FrameworkGetScheduler, Value>(
        When::Always,
        NoParams::Refused("'rpc_get_scheduler' requires no arguments"),
        |s| Ok(get_scheduler(s)),
    );
    r.add_as::<SchedulerSetOptions, bool>(When::Startup, INVALID_PARAMS, set_options);
}

/// The scheduler running: the subsystem's init chose `static` if no one
/// chose before.
fn current(s: &State) -> Option<&'static str> {
    match (s.scheduler.name, s.framework.phase()) {
        (None, Phase::Running) => Some(STATIC),
        (name, _) => name,
    }
}

fn failed(errno: i64) -> ErrorObject {
    // SPDK passes the negative errno to strerror, which glibc does not know.
    ErrorObject::new(
        ErrorObject::INTERNAL_ERROR,
        format!("Unknown error {errno}"),
    )
}

fn set_scheduler(s: &mut State, p: FrameworkSetSchedulerParams) -> Result<bool, ErrorObject> {
    match p.period {
        Some(period) if period != 0 => s.scheduler.period_us = period,
        _ if s.scheduler.period_us == 0 => s.scheduler.period_us = ONE_SECOND_US,
        _ => {}
    }
    let old = current(s);
    let name = match p.name.as_str() {
        STATIC => STATIC,
        DYNAMIC => DYNAMIC,
        GSCHEDULER => {
            // Its init needs the dpdk governor, which needs cpufreq and
            // the SMT layout of the host; a mock has neither (-1). SPDK
            // then starts the old scheduler again.
            if old == Some(STATIC) {
                s.scheduler.period_us = 0;
            }
            return Err(failed(-1));
        }
        _ => return Err(failed(-22)),
    };
    if old != Some(name) && name == STATIC {
        // A first start never balances; a later one balances once, at
        // once, and that balance sets the period to 0 as well.
        s.scheduler.period_us = 0;
    }
    s.scheduler.name = Some(name);
    if name == DYNAMIC {
        let d = &mut s.scheduler.dynamic;
        for (slot, given) in d.iter_mut().zip([p.load_limit, p.core_limit, p.core_busy]) {
            if let Some(v) = given {
                *slot = v;
            }
        }
    } else if p.mappings.is_some() {
        // `static` maps threads to cores by thread id; no thread of the
        // mock has an id a client can know, so any mapping names an
        // invalid thread (-EINVAL).
        return Err(failed(-22));
    }
    Ok(true)
}

fn get_scheduler(s: &mut State) -> Value {
    let mut out = Map::new();
    let name = current(s);
    if let Some(name) = name {
        out.insert("scheduler_name".into(), json!(name));
    }
    out.insert("scheduler_period".into(), json!(s.scheduler.period_us));
    // One core, and it schedules: nothing can be isolated.
    out.insert("isolated_core_mask".into(), json!("0"));
    out.insert("scheduling_core".into(), json!(0));
    // No governor: the dynamic scheduler runs without one when cpufreq is
    // not there.
    if name == Some(DYNAMIC) {
        let [load, core, busy] = s.scheduler.dynamic;
        out.insert("load_limit".into(), json!(load));
        out.insert("core_limit".into(), json!(core));
        out.insert("core_busy".into(), json!(busy));
    }
    Value::Object(out)
}

fn set_options(_: &mut State, p: SchedulerSetOptionsParams) -> Result<bool, ErrorObject> {
    let invalid = |text: &str| Err(ErrorObject::new(ErrorObject::INVALID_PARAMS, text));
    let scheduling_core = p.scheduling_core.unwrap_or(0);
    if let Some(mask) = &p.isolated_core_mask {
        let cores = parse_mask(mask);
        if cores & (1 << scheduling_core.min(127)) != 0 {
            return invalid("Scheduling core cannot be included in isolated core mask.\n");
        }
        // The app's core mask is 0x1.
        if cores & !1 != 0 {
            return invalid("Invalid isolated core mask\n");
        }
    }
    if scheduling_core != 0 {
        return invalid("Invalid scheduling core.\n");
    }
    Ok(true)
}

/// A hex core mask (`0x3`, `3`); SPDK ignores a mask it cannot parse,
/// leaving it empty.
fn parse_mask(mask: &str) -> u128 {
    let digits = mask
        .strip_prefix("0x")
        .or_else(|| mask.strip_prefix("0X"))
        .unwrap_or(mask);
    u128::from_str_radix(digits, 16).unwrap_or(0)
}

/// `framework_set_scheduler` with the running scheduler; the period only
/// when set, written as a 32-bit number as SPDK writes it. (The dynamic
/// scheduler's options are not saved: SPDK does not write them.)
pub fn config(s: &State) -> Vec<Value> {
    let Some(name) = current(s) else {
        return Vec::new();
    };
    let mut params = Map::new();
    params.insert("name".into(), json!(name));
    if s.scheduler.period_us != 0 {
        params.insert("period".into(), json!(s.scheduler.period_us as u32));
    }
    vec![json!({"method": "framework_set_scheduler", "params": params})]
}
