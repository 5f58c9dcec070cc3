//! The accel framework: its options, the platform driver, the hardware
//! modules a client asked to scan for (IOAT, AE4DMA: the ones a default
//! build has) and opcode assignments; written back in the order of
//! `spdk_accel_write_config_json`.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::register::{NoParams, Registrar, PARSE_FAILED};
use crate::setting::Setting;
use crate::state::State;

/// The opcodes, in SPDK's order (`g_opcode_strings`): assignments are
/// written in this order, whatever order they were made in.
const OPCODES: &[&str] = &[
    "copy",
    "fill",
    "dualcast",
    "compare",
    "crc32c",
    "copy_crc32c",
    "compress",
    "decompress",
    "encrypt",
    "decrypt",
    "xor",
    "dif_verify",
    "dif_verify_copy",
    "dif_generate",
    "dif_generate_copy",
    "dix_generate",
    "dix_verify",
];

pub struct Accel {
    options: Setting,
    /// Scanned hardware modules, in the order scanned (they share one
    /// priority, so SPDK's module list keeps them so).
    modules: Vec<&'static str>,
    /// Opcode index -> module name.
    assigned: Vec<Option<String>>,
}

impl Default for Accel {
    fn default() -> Self {
        Accel {
            // ACCEL_SMALL_CACHE_SIZE, ACCEL_LARGE_CACHE_SIZE and
            // ACCEL_TASKS_PER_CHANNEL (lib/accel/accel.c).
            options: Setting::new(
                "accel_set_options",
                json!({"small_cache_size": 128, "large_cache_size": 16,
                    "task_count": 2048, "sequence_count": 2048, "buf_count": 2048}),
            ),
            modules: Vec::new(),
            assigned: vec![None; OPCODES.len()],
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<AccelSetOptions, bool>(When::Startup, PARSE_FAILED, |s, p| {
        // A sequence may take up to ACCEL_TASKS_IN_SEQUENCE_LIMIT tasks, so
        // fewer tasks than that are refused (-EINVAL).
        if p.task_count.is_some_and(|n| n < 8) {
            return Err(Errno::EINVAL.to_error());
        }
        s.accel.options.merge(&p);
        Ok(true)
    });
    r.add_as::<AccelAssignOpc, bool>(When::Startup, PARSE_FAILED, |s, p| {
        // The module is checked only when the framework starts.
        let Some(at) = OPCODES.iter().position(|o| *o == p.opname) else {
            return Err(ErrorObject::new(
                ErrorObject::INVALID_PARAMS,
                "spdk_json_decode_object failed",
            ));
        };
        s.accel.assigned[at] = Some(p.module);
        Ok(true)
    });
    r.add_as::<AccelSetDriver, bool>(When::Startup, PARSE_FAILED, |_, p| {
        // The one platform driver SPDK has is mlx5's, which a default
        // build leaves out; an empty name means no driver.
        if p.name.as_deref().unwrap_or_default().is_empty() {
            Ok(true)
        } else {
            Err(Errno::ENODEV.to_error())
        }
    });
    // Scanning enables a module; SPDK lists it once however often it is
    // asked (a second scan only logs, in a release build). The mock's
    // modules find their device: a real target without one drops the
    // module at init, and its config then leaves the scan out.
    r.add_bare::<IoatScanAccelModule, bool>(
        When::Startup,
        NoParams::Refused("ioat_scan_accel_module requires no parameters"),
        |s| Ok(s.accel.scan("ioat_scan_accel_module")),
    );
    r.add_bare::<Ae4dmaScanAccelModule, bool>(
        When::Startup,
        NoParams::Refused("ae4dma_scan_accel_module requires no parameters"),
        |s| Ok(s.accel.scan("ae4dma_scan_accel_module")),
    );
}

impl Accel {
    fn scan(&mut self, method: &'static str) -> bool {
        if !self.modules.contains(&method) {
            self.modules.push(method);
        }
        true
    }
}

/// The options, each scanned module (its scan method, no params), then
/// the opcode assignments.
pub fn config(s: &State) -> Vec<Value> {
    let mut out = vec![s.accel.options.entry()];
    out.extend(s.accel.modules.iter().map(|m| json!({ "method": m })));
    for (opname, module) in OPCODES.iter().zip(&s.accel.assigned) {
        if let Some(module) = module {
            out.push(json!({"method": "accel_assign_opc",
                "params": {"opname": opname, "module": module}}));
        }
    }
    out
}
