//! The iSCSI target's global options (`iscsi_set_options`), saved in the
//! `iscsi` subsystem's config. The mock has no portals, initiator groups,
//! target nodes or auth groups, so that config is the options alone.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{NoParams, Registrar, INVALID_PARAMS};
use crate::setting::Setting;
use crate::state::State;

/// The defaults of `lib/iscsi/iscsi.h` and `iscsi_opts_init`, in the order
/// `iscsi_opts_info_json` writes them. `auth_file` is written only when
/// set, before `node_base`.
fn defaults() -> Setting {
    // The pools are sized from the defaults (128 sessions, queue depth 64,
    // 64 large data-in and 4 R2T per connection, 16 data-out): set once,
    // when the options are made, and not again when a call changes those.
    let max_sessions = 128;
    let pdus_per_connection = 2 * (64 + 64 + 2 * 4 + 8);
    Setting::new(
        "iscsi_set_options",
        json!({
            "node_base": "iqn.2016-06.io.spdk",
            "max_sessions": max_sessions,
            "max_connections_per_session": 2,
            "max_queue_depth": 64,
            "default_time2wait": 2,
            "default_time2retain": 20,
            "first_burst_length": 8192,
            "immediate_data": true,
            "allow_duplicated_isid": false,
            "error_recovery_level": 0,
            "nop_timeout": 60,
            "nop_in_interval": 30,
            "disable_chap": false,
            "require_chap": false,
            "mutual_chap": false,
            "chap_group": 0,
            "max_large_datain_per_connection": 64,
            "max_r2t_per_connection": 4,
            "pdu_pool_size": max_sessions * pdus_per_connection,
            "immediate_data_pool_size": max_sessions * 128,
            "data_out_pool_size": max_sessions * 16,
        }),
    )
}

pub struct Iscsi {
    options: Setting,
    /// Whether `iscsi_set_options` was called: SPDK takes it once.
    set: bool,
}

impl Default for Iscsi {
    fn default() -> Self {
        Iscsi {
            options: defaults(),
            set: false,
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<IscsiSetOptions, bool>(When::Startup, INVALID_PARAMS, set_options);
    // The same object the config saves (`iscsi_opts_info_json`).
    r.add_bare::<IscsiGetOptions, Value>(
        When::Runtime,
        NoParams::Refused("iscsi_get_options requires no parameters"),
        |s| Ok(Value::Object(s.iscsi.options.params().clone())),
    );
}

fn set_options(s: &mut State, p: IscsiSetOptionsParams) -> Result<bool, ErrorObject> {
    if s.iscsi.set {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            "Must not call more than once",
        ));
    }
    let mut options = defaults();
    if let Some(file) = &p.auth_file {
        // Written first, ahead of node_base.
        let mut with_file = serde_json::Map::new();
        with_file.insert("auth_file".into(), json!(file));
        with_file.extend(options.params().clone());
        options = Setting::new("iscsi_set_options", Value::Object(with_file));
    }
    options.merge(&p);
    s.iscsi.options = options;
    s.iscsi.set = true;
    Ok(true)
}

pub fn config(s: &State) -> Vec<Value> {
    vec![s.iscsi.options.entry()]
}
