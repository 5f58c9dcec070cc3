//! The NVMe bdev module, over the one fabric the mock can reach: its own
//! NVMe-oF subsystems. Attaching to a listener of one of them makes a bdev
//! of each of its namespaces (`NAMEnNSID`), as attaching to a real target
//! over TCP does; a PCIe address finds no device.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::results::{NvmeController, NvmeControllerPath};
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::register::Registrar;
use crate::state::{Bdev, Kind, State};

/// An attached controller.
#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    pub trtype: String,
    pub adrfam: String,
    pub traddr: String,
    pub trsvcid: String,
    pub subnqn: String,
    pub hostnqn: String,
    /// Its namespaces' bdevs, by nsid.
    pub bdevs: Vec<String>,
}

pub fn register(r: &mut Registrar) {
    r.add::<BdevNvmeAttachController>(When::Runtime, attach);
    r.add::<BdevNvmeGetControllers>(When::Runtime, get_controllers);
    r.add::<BdevNvmeDetachController>(When::Runtime, detach);
}

fn attach(s: &mut State, p: BdevNvmeAttachControllerParams) -> Result<Vec<String>, ErrorObject> {
    if s.nvme.iter().any(|c| c.name == p.name) {
        return Err(Errno::EEXIST.to_error());
    }
    if !p.trtype.eq_ignore_ascii_case("tcp") && !p.trtype.eq_ignore_ascii_case("rdma") {
        // No PCIe device, nor any other transport, is there to probe.
        return Err(Errno::ENODEV.to_error());
    }
    let trsvcid = p.trsvcid.clone().unwrap_or_else(|| "4420".into());
    let subnqn = p.subnqn.clone().unwrap_or_default();
    // What answers at that address: a subsystem of ours listening there.
    let listening = s.nvmf.subsystems.iter().find(|sub| {
        sub.nqn == subnqn
            && sub.listeners.iter().any(|l| {
                l.trtype.eq_ignore_ascii_case(&p.trtype)
                    && l.traddr == p.traddr
                    && l.trsvcid.as_deref().unwrap_or("4420") == trsvcid
            })
    });
    let Some(sub) = listening else {
        return Err(Errno::ENXIO.to_error());
    };
    let namespaces: Vec<(u32, u32, u64)> = sub
        .namespaces
        .iter()
        .filter_map(|ns| {
            let b = s.bdev(&ns.bdev_name)?;
            Some((ns.nsid, b.block_size, b.num_blocks))
        })
        .collect();
    let mut bdevs = Vec::new();
    for (nsid, block_size, num_blocks) in namespaces {
        let name = format!("{}n{nsid}", p.name);
        let uuid = s.new_uuid();
        let kind = Kind::Nvme {
            ctrlr: p.name.clone(),
            nsid,
        };
        s.register(Bdev::new(name.clone(), block_size, num_blocks, uuid, kind))?;
        bdevs.push(name);
    }
    s.nvme.push(Controller {
        name: p.name,
        trtype: p.trtype.to_uppercase(),
        adrfam: p.adrfam.unwrap_or_else(|| "IPv4".into()),
        traddr: p.traddr,
        trsvcid,
        subnqn,
        hostnqn: p.hostnqn.unwrap_or_default(),
        bdevs: bdevs.clone(),
    });
    Ok(bdevs)
}

fn path(c: &Controller) -> NvmeControllerPath {
    let trid = json!({
        "trtype": c.trtype, "adrfam": c.adrfam, "traddr": c.traddr,
        "trsvcid": c.trsvcid, "subnqn": c.subnqn,
    });
    NvmeControllerPath {
        state: "enabled".into(),
        trid: trid.as_object().cloned().unwrap_or_default(),
        cntlid: Some(1),
    }
}

fn get_controllers(
    s: &mut State,
    p: BdevNvmeGetControllersParams,
) -> Result<Vec<NvmeController>, ErrorObject> {
    let listed: Vec<NvmeController> = s
        .nvme
        .iter()
        .filter(|c| p.name.as_ref().is_none_or(|n| *n == c.name))
        .map(|c| NvmeController {
            name: c.name.clone(),
            ctrlrs: vec![path(c)],
        })
        .collect();
    if p.name.is_some() && listed.is_empty() {
        return Err(Errno::ENODEV.to_error());
    }
    Ok(listed)
}

fn detach(s: &mut State, p: BdevNvmeDetachControllerParams) -> Result<bool, ErrorObject> {
    let Some(at) = s.nvme.iter().position(|c| c.name == p.name) else {
        return Err(Errno::ENODEV.to_error());
    };
    let ctrlr = s.nvme.remove(at);
    for bdev in &ctrlr.bdevs {
        s.unregister(bdev);
    }
    Ok(true)
}

/// The bdev config's entries that attach the controllers again.
pub fn config(s: &State) -> Vec<Value> {
    s.nvme
        .iter()
        .map(|c| {
            let mut entry = json!({"method": "bdev_nvme_attach_controller", "params": {
                "name": c.name, "trtype": c.trtype, "adrfam": c.adrfam,
                "traddr": c.traddr, "trsvcid": c.trsvcid, "subnqn": c.subnqn,
            }});
            if !c.hostnqn.is_empty() {
                entry["params"]["hostnqn"] = json!(c.hostnqn);
            }
            entry
        })
        .collect()
}
