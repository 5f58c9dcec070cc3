//! The option methods of the subsystems the mock keeps no state for
//! (keyring, iobuf, sock, vmd, accel, scheduler) and of those it does
//! (bdev's NVMe options, nvmf's config): callable in the phases a real
//! target allows, their params decoded as SPDK decodes them, kept, and
//! written back by `framework_get_config`, so that a configuration saved
//! from a real target loads here.

use jsonrpc_core::Method;
use serde::Serialize;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::Registrar;
use crate::state::State;

/// The subsystems that have nothing but options here, in a real target's
/// init order, with what they depend on.
pub const SUBSYSTEMS: &[(&str, &[&str])] = &[
    ("keyring", &[]),
    ("iobuf", &[]),
    ("sock", &[]),
    ("vmd", &[]),
    ("accel", &["iobuf"]),
    ("scheduler", &[]),
];

/// Options set so far: (subsystem, method, key, params), in the order
/// first set.
#[derive(Debug, Default)]
pub struct Options(Vec<(&'static str, &'static str, String, Value)>);

impl Options {
    /// Keeps `params` of `method`; a later call with the same key merges
    /// its fields over the earlier ones, as SPDK's option setters do.
    fn set(&mut self, subsystem: &'static str, method: &'static str, key: String, params: Value) {
        match self
            .0
            .iter_mut()
            .find(|(_, m, k, _)| *m == method && *k == key)
        {
            Some((_, _, _, kept)) => {
                if let (Some(kept), Value::Object(new)) = (kept.as_object_mut(), params) {
                    kept.extend(new);
                }
            }
            None => self.0.push((subsystem, method, key, params)),
        }
    }

    /// The config entries of `subsystem`.
    pub fn config(&self, subsystem: &str) -> Vec<Value> {
        self.0
            .iter()
            .filter(|(s, ..)| *s == subsystem)
            .map(|(_, method, _, params)| match params {
                Value::Null => json!({ "method": method }),
                params => json!({ "method": method, "params": params }),
            })
            .collect()
    }
}

/// Registers each option method `$m` of `$subsystem`, callable `$when`;
/// calls with the same `$key` field (if any) are one setting.
macro_rules! options {
    ($r:ident; $($subsystem:literal: $m:ty, $when:expr, $key:expr;)*) => {
        $(
            $r.add_as::<$m, bool>($when, crate::register::DECODE_FAILED, |s, p| {
                keep(s, $subsystem, <$m as Method>::NAME, $key, &p);
                Ok(true)
            });
        )*
    };
}

pub fn register(r: &mut Registrar) {
    options! { r;
        "keyring": KeyringLinuxSetOptions, When::Startup, None;
        "iobuf": IobufSetOptions, When::Startup, None;
        "sock": SockImplSetOptions, When::Startup, Some("impl_name");
        "sock": SockSetDefaultImpl, When::Startup, None;
        "vmd": VmdEnable, When::Startup, None;
        "accel": AccelSetOptions, When::Startup, None;
        "accel": AccelAssignOpc, When::Startup, Some("opname");
        "accel": AccelSetDriver, When::Startup, None;
        "scheduler": SchedulerSetOptions, When::Startup, None;
        "scheduler": FrameworkSetScheduler, When::Always, None;
        "bdev": BdevNvmeSetOptions, When::Always, None;
        "nvmf": NvmfSetConfig, When::Startup, None;
        "nvmf": NvmfSetCrdt, When::Startup, None;
    }
    // Switches with nothing to save.
    r.add::<FrameworkEnableCpumaskLocks>(When::Always, |_, ()| Ok(json!(true)));
    r.add::<FrameworkDisableCpumaskLocks>(When::Always, |_, ()| Ok(json!(true)));
}

/// Keeps one option call's params, keyed by its `key` field's value.
fn keep(
    s: &mut State,
    subsystem: &'static str,
    method: &'static str,
    key: Option<&str>,
    params: &impl Serialize,
) {
    let params = serde_json::to_value(params).unwrap_or(Value::Null);
    let key = key
        .and_then(|k| params.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    s.options.set(subsystem, method, key, params);
}
