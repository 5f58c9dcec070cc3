//! The fsdev subsystem's options (`fsdev_set_opts`, `fsdev_get_opts`):
//! the mock has no filesystem devices, so its config is these alone.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{NoParams, Registrar, DECODE_INVALID};
use crate::setting::Setting;
use crate::state::State;

/// SPDK_FSDEV_IO_POOL_SIZE and SPDK_FSDEV_IO_CACHE_SIZE (lib/fsdev/fsdev.c).
pub fn defaults() -> Setting {
    Setting::new(
        "fsdev_set_opts",
        json!({"fsdev_io_pool_size": 64 * 1024 - 1, "fsdev_io_cache_size": 256}),
    )
}

pub fn register(r: &mut Registrar) {
    r.add_as::<FsdevSetOpts, bool>(When::Runtime, DECODE_INVALID, set_opts);
    r.add_bare::<FsdevGetOpts, Value>(
        When::Runtime,
        NoParams::Refused("'fsdev_get_opts' requires no arguments"),
        |s| Ok(Value::Object(s.fsdev.params().clone())),
    );
}

fn set_opts(s: &mut State, p: FsdevSetOptsParams) -> Result<bool, ErrorObject> {
    // Every thread, plus one management channel, takes a cache's worth
    // from the pool; the mock counts its one app thread.
    let threads = 1;
    if p.fsdev_io_pool_size < p.fsdev_io_cache_size.saturating_mul(threads + 1) {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            "spdk_fsdev_set_opts failed with -22",
        ));
    }
    s.fsdev.merge(&p);
    Ok(true)
}

pub fn config(s: &State) -> Vec<Value> {
    vec![s.fsdev.entry()]
}
