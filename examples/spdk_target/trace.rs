//! The trace library's tracepoint masks: one 64-bit mask per tracepoint
//! group, all clear at start (spdk_tgt runs without `-e`), changed by the
//! `trace_*` methods and reported by `trace_get_info` and
//! `trace_get_tpoint_group_mask`. No trace is recorded: there is no I/O.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Map, Value};
use spdk_proto::methods::*;
use spdk_proto::server::When;

use crate::register::{NoParams, Registrar, INVALID_PARAMS};

/// A group: its name, its id, and its tracepoints (id within the group,
/// name).
type Group = (&'static str, u32, &'static [(u32, &'static str)]);

/// The groups a default (release) build registers, in the order SPDK
/// lists them (by group id, `include/spdk_internal/trace_defs.h`), with
/// their tracepoints by id. `nvmf_rdma`, `nvmf_fc`, `dsa` and `iaa` need
/// RDMA, FC or IDXD; `ftl` registers only in debug builds.
const GROUPS: &[Group] = &[
    (
        "iscsi_conn",
        0x1,
        &[
            (0, "ISCSI_READ_DONE"),
            (3, "ISCSI_READ_PDU"),
            (4, "ISCSI_TASK_DONE"),
            (5, "ISCSI_TASK_QUEUE"),
            (6, "ISCSI_TASK_EXECUTED"),
            (7, "ISCSI_PDU_COMPLETED"),
        ],
    ),
    (
        "scsi",
        0x2,
        &[(0, "SCSI_TASK_DONE"), (1, "SCSI_TASK_START")],
    ),
    (
        "bdev",
        0x3,
        &[
            (0, "BDEV_IO_START"),
            (1, "BDEV_IO_DONE"),
            (2, "BDEV_IOCH_CREATE"),
            (3, "BDEV_IOCH_DESTROY"),
        ],
    ),
    (
        "nvmf_tcp",
        0x5,
        &[
            (0, "TCP_REQ_NEW"),
            (1, "TCP_REQ_NEED_BUFFER"),
            (2, "TCP_REQ_HAVE_BUFFER"),
            (3, "TCP_REQ_WAIT_ZCPY_START"),
            (4, "TCP_REQ_ZCPY_START_CPL"),
            (5, "TCP_REQ_TX_H_TO_C"),
            (6, "TCP_REQ_RDY_TO_EXECUTE"),
            (7, "TCP_REQ_EXECUTING"),
            (8, "TCP_REQ_WAIT_ZCPY_CMT"),
            (9, "TCP_REQ_EXECUTED"),
            (10, "TCP_REQ_RDY_TO_COMPLETE"),
            (11, "TCP_REQ_TRANSFER_C2H"),
            (12, "TCP_REQ_AWAIT_ZCPY_RLS"),
            (13, "TCP_REQ_COMPLETED"),
            (15, "TCP_READ_DONE"),
            (16, "TCP_REQ_AWAIT_R2T_ACK"),
            (17, "TCP_QP_CREATE"),
            (18, "TCP_QP_SOCK_INIT"),
            (19, "TCP_QP_STATE_CHANGE"),
            (20, "TCP_QP_DISCONNECT"),
            (21, "TCP_QP_DESTROY"),
            (22, "TCP_QP_ABORT_REQ"),
            (23, "TCP_QP_RCV_STATE_CHANGE"),
        ],
    ),
    (
        "thread",
        0xA,
        &[(0, "THREAD_IOCH_GET"), (1, "THREAD_IOCH_PUT")],
    ),
    (
        "nvme_pcie",
        0xB,
        &[(0, "NVME_PCIE_SUBMIT"), (1, "NVME_PCIE_COMPLETE")],
    ),
    (
        "nvme_tcp",
        0xD,
        &[(0, "NVME_TCP_SUBMIT"), (1, "NVME_TCP_COMPLETE")],
    ),
    (
        "bdev_nvme",
        0xE,
        &[(0, "BDEV_NVME_IO_START"), (1, "BDEV_NVME_IO_DONE")],
    ),
    (
        "sock",
        0xF,
        &[
            (0, "SOCK_REQ_QUEUE"),
            (1, "SOCK_REQ_PEND"),
            (2, "SOCK_REQ_COMPLETE"),
        ],
    ),
    (
        "blob",
        0x10,
        &[(0, "BLOB_REQ_SET_START"), (1, "BLOB_REQ_SET_COMPLETE")],
    ),
    (
        "bdev_raid",
        0x11,
        &[(0, "BDEV_RAID_IO_START"), (1, "BDEV_RAID_IO_DONE")],
    ),
    (
        "scheduler",
        0x12,
        &[
            (0, "SCHEDULER_PERIOD_START"),
            (1, "SCHEDULER_CORE_STATS"),
            (2, "SCHEDULER_THREAD_STATS"),
            (3, "SCHEDULER_MOVE_THREAD"),
        ],
    ),
];

/// SPDK_TRACE_MAX_GROUP_ID.
const MAX_GROUPS: usize = 20;

pub struct Trace {
    /// Each group's tracepoint mask, by group id.
    masks: [u64; MAX_GROUPS],
    /// Where the trace buffer would be: spdk_tgt with no shared memory id
    /// names it after the app and its pid.
    shm_path: String,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            masks: [0; MAX_GROUPS],
            shm_path: format!("/dev/shm/spdk_tgt_trace.pid{}", std::process::id()),
        }
    }
}

pub fn register(r: &mut Registrar) {
    r.add_as::<TraceEnableTpointGroup, bool>(When::Always, INVALID_PARAMS, |s, p| {
        for id in groups_named(&p.name)? {
            s.trace.masks[id] = u64::MAX;
        }
        Ok(true)
    });
    r.add_as::<TraceDisableTpointGroup, bool>(When::Always, INVALID_PARAMS, |s, p| {
        for id in groups_named(&p.name)? {
            s.trace.masks[id] = 0;
        }
        Ok(true)
    });
    // These two take one group: for "all", SPDK takes the highest bit of the
    // group mask, i.e. the last group (it logs nothing about it).
    r.add_as::<TraceSetTpointMask, bool>(When::Always, INVALID_PARAMS, |s, p| {
        let id = last_group_named(&p.name)?;
        s.trace.masks[id] |= p.tpoint_mask;
        Ok(true)
    });
    r.add_as::<TraceClearTpointMask, bool>(When::Always, INVALID_PARAMS, |s, p| {
        let id = last_group_named(&p.name)?;
        s.trace.masks[id] &= !p.tpoint_mask;
        Ok(true)
    });
    r.add_bare::<TraceGetInfo, Value>(
        When::Always,
        NoParams::Refused("trace_get_info requires no parameters"),
        |s| Ok(s.trace.info()),
    );
    r.add_bare::<TraceGetTpointGroupMask, Value>(
        When::Always,
        NoParams::Refused("trace_get_tpoint_group_mask requires no parameters"),
        |s| Ok(s.trace.group_masks()),
    );
    // Resets the trace buffer's start; there is no buffer here.
    r.add_bare::<TraceClear, bool>(
        When::Runtime,
        NoParams::Refused("trace_clear requires no parameters"),
        |_| Ok(true),
    );
}

/// The group ids `name` means: one group, or every group for "all".
fn groups_named(name: &str) -> Result<Vec<usize>, ErrorObject> {
    let ids: Vec<usize> = GROUPS
        .iter()
        .filter(|(group, ..)| name == "all" || *group == name)
        .map(|(_, id, _)| *id as usize)
        .collect();
    if ids.is_empty() {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            "Invalid parameters",
        ));
    }
    Ok(ids)
}

fn last_group_named(name: &str) -> Result<usize, ErrorObject> {
    let ids = groups_named(name)?;
    ids.last()
        .copied()
        .ok_or_else(|| ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid parameters"))
}

impl Trace {
    /// Bit N set when group N has any tracepoint enabled.
    fn group_mask(&self) -> u64 {
        self.masks
            .iter()
            .enumerate()
            .filter(|(_, m)| **m != 0)
            .fold(0, |acc, (id, _)| acc | 1 << id)
    }

    fn info(&self) -> Value {
        let mut out = Map::new();
        out.insert("tpoint_shm_path".into(), json!(self.shm_path));
        out.insert(
            "tpoint_group_mask".into(),
            json!(format!("{:#x}", self.group_mask())),
        );
        for (name, id, _) in GROUPS {
            out.insert(
                (*name).into(),
                json!({
                    "mask": format!("{:#x}", 1u64 << id),
                    "tpoint_mask": format!("{:#x}", self.masks[*id as usize]),
                }),
            );
        }
        Value::Object(out)
    }

    fn group_masks(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "tpoint_group_mask".into(),
            json!(format!("{:#x}", self.group_mask())),
        );
        for (name, id, tpoints) in GROUPS {
            let mask = self.masks[*id as usize];
            let tpoints: Vec<Value> = tpoints
                .iter()
                .map(|(tpoint, name)| {
                    json!({"name": name, "tpoint_id": tpoint,
                        "enabled": mask & (1 << tpoint) != 0})
                })
                .collect();
            out.insert(
                (*name).into(),
                json!({
                    "enabled": mask != 0,
                    "mask": format!("{:#x}", 1u64 << id),
                    "tpoint_mask": format!("{:#x}", mask),
                    "tpoints": tpoints,
                }),
            );
        }
        Value::Object(out)
    }
}
