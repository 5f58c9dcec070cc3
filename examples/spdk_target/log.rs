//! The log methods: flags, level and print level.

use std::collections::BTreeMap;

use jsonrpc_core::ErrorObject;
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::Registrar;
use crate::state::State;

/// The log flags of the modules this mock has, as SPDK names them.
const FLAGS: &[&str] = &[
    "app_rpc",
    "bdev",
    "bdev_malloc",
    "bdev_null",
    "bdev_raid",
    "blob",
    "json_util",
    "lvol",
    "lvol_rpc",
    "nvmf",
    "nvmf_tcp",
    "rpc",
    "thread",
    "vbdev_lvol",
    "vbdev_split",
];

pub struct Log {
    flags: BTreeMap<String, bool>,
    level: LogLevel,
    print_level: LogLevel,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            flags: FLAGS.iter().map(|f| ((*f).to_owned(), false)).collect(),
            level: LogLevel::Notice,
            print_level: LogLevel::Info,
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add::<LogSetFlag>(When::Always, |s, p| set_flag(s, &p.flag, true));
    r.add::<LogClearFlag>(When::Always, |s, p| set_flag(s, &p.flag, false));
    r.add::<LogGetFlags>(When::Always, |s, ()| Ok(s.log.flags.clone()));
    r.add::<LogSetLevel>(When::Always, |s, p| {
        s.log.level = p.level;
        Ok(true)
    });
    r.add::<LogGetLevel>(When::Always, |s, ()| Ok(s.log.level));
    r.add::<LogSetPrintLevel>(When::Always, |s, p| {
        s.log.print_level = p.level;
        Ok(true)
    });
    r.add::<LogGetPrintLevel>(When::Always, |s, ()| Ok(s.log.print_level));
}

fn set_flag(s: &mut State, flag: &str, on: bool) -> Result<bool, ErrorObject> {
    // SPDK's "all" switches every flag.
    if flag == "all" {
        s.log.flags.values_mut().for_each(|v| *v = on);
        return Ok(true);
    }
    match s.log.flags.get_mut(flag) {
        Some(v) => {
            *v = on;
            Ok(true)
        }
        None => Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            "invalid log flag",
        )),
    }
}
