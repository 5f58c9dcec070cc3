//! The subsystems that are nothing but options here: keyring (its linux
//! module's switch), iobuf (buffer pools) and vmd (enabled or not); and
//! the cpumask lock switches, which have nothing to save.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::register::{NoParams, Registrar, DECODE_INVALID, INVALID_ARGUMENT};
use crate::setting::Setting;
use crate::state::State;

pub struct Options {
    keyring_linux: Setting,
    iobuf: Setting,
    vmd: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // module/keyring/linux: off unless asked for.
            keyring_linux: Setting::new("keyring_linux_set_options", json!({"enable": false})),
            // IOBUF_DEFAULT_* (lib/thread/iobuf.c): 8 KiB and 132 KiB
            // buffers.
            iobuf: Setting::new(
                "iobuf_set_options",
                json!({"small_pool_count": 8192, "large_pool_count": 1024,
                    "small_bufsize": 8192, "large_bufsize": 132 * 1024, "enable_numa": false}),
            ),
            vmd: false,
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<KeyringLinuxSetOptions, bool>(When::Startup, INVALID_ARGUMENT, |s, p| {
        s.options.keyring_linux.merge(&p);
        Ok(true)
    });
    r.add_as::<IobufSetOptions, bool>(When::Startup, DECODE_INVALID, set_iobuf);
    // vmd_enable reads no params at all.
    r.add_bare::<VmdEnable, bool>(When::Startup, NoParams::Ignored, |s| {
        s.options.vmd = true;
        Ok(true)
    });
    r.add::<FrameworkEnableCpumaskLocks>(When::Always, |_, ()| Ok(json!(true)));
    r.add::<FrameworkDisableCpumaskLocks>(When::Always, |_, ()| Ok(json!(true)));
}

/// The smallest pools and buffers `spdk_iobuf_set_opts` takes
/// (IOBUF_MIN_*); smaller ones are -EINVAL. (`enable_numa` needs more NUMA
/// nodes than a default build supports only on big machines; the mock's
/// one node is fine.)
const IOBUF_MINIMUMS: &[(&str, u64)] = &[
    ("small_pool_count", 64),
    ("large_pool_count", 8),
    ("small_bufsize", 4096),
    ("large_bufsize", 8192),
];

fn set_iobuf(s: &mut State, p: IobufSetOptionsParams) -> Result<bool, ErrorObject> {
    let mut wanted = s.options.iobuf.clone();
    wanted.merge(&p);
    let too_small = IOBUF_MINIMUMS
        .iter()
        .any(|(key, min)| wanted.get(key).and_then(Value::as_u64).unwrap_or(0) < *min);
    if too_small {
        return Err(Errno::EINVAL.to_error());
    }
    s.options.iobuf = wanted;
    Ok(true)
}

/// The config of keyring, iobuf or vmd.
pub fn config(s: &State, subsystem: &str) -> Vec<Value> {
    let o = &s.options;
    match subsystem {
        // The linux keyring module, when off, drops out at init (-ENODEV)
        // and so writes nothing; the file module writes its keys (none
        // here).
        "keyring" if o.keyring_linux.get("enable") == Some(&json!(true)) => {
            vec![o.keyring_linux.entry()]
        }
        "iobuf" => vec![o.iobuf.entry()],
        "vmd" if o.vmd => vec![json!({"method": "vmd_enable", "params": {}})],
        _ => Vec::new(),
    }
}
