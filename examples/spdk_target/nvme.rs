//! The NVMe bdev module, over the one fabric the mock can reach: its own
//! NVMe-oF subsystems. Attaching to a listener of one of them makes a bdev
//! of each of its namespaces (`NAMEnNSID`), as attaching to a real target
//! over TCP does; a PCIe address finds no device.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::types::{
    BdevNvmeMultipathMode, BdevNvmeMultipathOpts, BdevNvmeMultipathPolicy,
    BdevNvmeMultipathSelector,
};
use spdk_proto::methods::*;
use spdk_proto::results::{NvmeController, NvmeControllerPath};
use spdk_proto::server::When;
use spdk_proto::Errno;

use crate::register::Registrar;
use crate::state::{Bdev, Kind, State};

/// An attached controller: its options and its paths to the subsystem.
#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    /// Paths are added to the controller (`"multipath"`, the default)
    /// rather than kept as failover addresses.
    pub multipath: bool,
    pub prchk_reftag: bool,
    pub prchk_guard: bool,
    pub ctrlr_loss_timeout_sec: i32,
    pub reconnect_delay_sec: u32,
    pub fast_io_fail_timeout_sec: u32,
    pub hostnqn: String,
    pub hdgst: bool,
    pub ddgst: bool,
    pub fabrics_connect_timeout_us: u64,
    pub num_io_queues: u32,
    pub disable_sq_flow_control: bool,
    pub multipath_opts: BdevNvmeMultipathOpts,
    pub paths: Vec<Path>,
    /// Its namespaces' bdevs, by nsid.
    pub bdevs: Vec<String>,
}

/// One way to the controller's subsystem.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// As SPDK names it: `"TCP"`, `"RDMA"`.
    pub trtype: String,
    /// `None` when the attach named none (SPDK then writes none).
    pub adrfam: Option<String>,
    pub traddr: String,
    pub trsvcid: String,
    pub subnqn: String,
    pub hostaddr: Option<String>,
    pub hostsvcid: Option<String>,
    /// The controller id the subsystem gave this connection.
    pub cntlid: u16,
}

impl Path {
    fn same_network_path(&self, other: &Path) -> bool {
        self.traddr == other.traddr
            && self.trsvcid == other.trsvcid
            && self.hostaddr == other.hostaddr
            && self.hostsvcid == other.hostsvcid
    }
}

/// A fabric connect that fails, as the driver reports it once its probe
/// gives up: no listener or no such subsystem at the address.
const CONNECT_FAILED: Errno = Errno::EIO;
/// SPDK's defaults for a fabrics controller (lib/nvme's defaults).
const DEFAULT_NUM_IO_QUEUES: u32 = 1024;
const DEFAULT_CONNECT_TIMEOUT_US: u64 = 500_000;

pub fn register(r: &mut Registrar) {
    r.add::<BdevNvmeAttachController>(When::Runtime, attach);
    r.add::<BdevNvmeGetControllers>(When::Runtime, get_controllers);
    r.add::<BdevNvmeDetachController>(When::Runtime, detach);
}

fn canonical_trtype(trtype: &str) -> Option<&'static str> {
    match trtype.to_ascii_lowercase().as_str() {
        "tcp" => Some("TCP"),
        "rdma" => Some("RDMA"),
        _ => None,
    }
}

fn canonical_adrfam(adrfam: &str) -> Result<&'static str, ErrorObject> {
    match adrfam.to_ascii_lowercase().as_str() {
        "ipv4" => Ok("IPv4"),
        "ipv6" => Ok("IPv6"),
        "ib" => Ok("IB"),
        "fc" => Ok("FC"),
        _ => Err(Errno::EINVAL.with_message(format!("Failed to parse adrfam: {adrfam}"))),
    }
}

fn attach(s: &mut State, p: BdevNvmeAttachControllerParams) -> Result<Vec<String>, ErrorObject> {
    let Some(trtype) = canonical_trtype(&p.trtype) else {
        // No PCIe device, nor any other transport, is there to probe.
        return Err(Errno::ENODEV.to_error());
    };
    let adrfam = p.adrfam.as_deref().map(canonical_adrfam).transpose()?;
    let hostnqn = p.hostnqn.clone().unwrap_or_else(|| s.hostnqn());
    let mut path = Path {
        trtype: trtype.into(),
        adrfam: adrfam.map(str::to_owned),
        traddr: p.traddr.clone(),
        trsvcid: p.trsvcid.clone().unwrap_or_default(),
        subnqn: p.subnqn.clone().unwrap_or_default(),
        hostaddr: p.hostaddr.clone(),
        hostsvcid: p.hostsvcid.clone(),
        cntlid: 0,
    };
    let mode = p.multipath.unwrap_or(BdevNvmeMultipathMode::Multipath);
    let existing = s.nvme.iter().position(|c| c.name == p.name);
    if let Some(at) = existing {
        // The checks SPDK makes before adding a path to a controller.
        let c = &s.nvme[at];
        let name = &p.name;
        if mode == BdevNvmeMultipathMode::Disable {
            return Err(Errno::EALREADY.with_message(format!(
                "A controller named {name} already exists and multipath is disabled"
            )));
        }
        if c.paths.iter().any(|q| q.same_network_path(&path)) {
            return Err(Errno::EALREADY.with_message(format!(
                "A controller named {name} already exists with the specified network path"
            )));
        }
        let subnqn = c.paths.first().map(|q| q.subnqn.as_str()).unwrap_or("");
        if subnqn != path.subnqn {
            return Err(Errno::EINVAL.with_message(format!(
                "A controller named {name} already exists, but uses a different subnqn ({subnqn})"
            )));
        }
        if c.hostnqn != hostnqn {
            return Err(Errno::EINVAL.with_message(format!(
                "A controller named {name} already exists, but uses a different hostnqn ({})",
                c.hostnqn
            )));
        }
        if p.prchk_reftag == Some(true) || p.prchk_guard == Some(true) {
            return Err(Errno::EINVAL.with_message(format!(
                "A controller named {name} already exists. To add a path, do not specify PI options."
            )));
        }
    }
    // The same address and host under any name is the same controller.
    let taken = s.nvme.iter().any(|c| {
        c.hostnqn == hostnqn
            && c.paths.iter().any(|q| {
                q.trtype == path.trtype
                    && q.traddr == path.traddr
                    && q.trsvcid == path.trsvcid
                    && q.subnqn == path.subnqn
            })
    });
    if taken {
        return Err(Errno::EEXIST.to_error());
    }
    let service = if path.trsvcid.is_empty() {
        "4420"
    } else {
        path.trsvcid.as_str()
    };
    // What answers at that address: a subsystem of ours listening there.
    let listening = s.nvmf.subsystems.iter().find(|sub| {
        sub.nqn == path.subnqn
            && sub.listeners.iter().map(|l| &l.address).any(|l| {
                l.trtype.eq_ignore_ascii_case(&path.trtype)
                    && l.traddr == path.traddr
                    && l.trsvcid.as_deref().unwrap_or("4420") == service
            })
    });
    let Some(sub) = listening else {
        return Err(CONNECT_FAILED.to_error());
    };
    let namespaces: Vec<(u32, u32, u64)> = sub
        .namespaces
        .iter()
        .filter_map(|ns| {
            let b = s.bdev(&ns.bdev_name)?;
            Some((ns.nsid, b.block_size, b.num_blocks))
        })
        .collect();
    // The subsystem numbers its controllers from 1, one per connection.
    let connected = s
        .nvme
        .iter()
        .flat_map(|c| &c.paths)
        .filter(|q| q.subnqn == path.subnqn)
        .count();
    path.cntlid = u16::try_from(connected + 1).unwrap_or(u16::MAX);
    if let Some(at) = existing {
        // Another path to the same namespaces: the bdevs stay as they are.
        let c = &mut s.nvme[at];
        c.paths.push(path);
        return Ok(c.bdevs.clone());
    }
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
        multipath: mode == BdevNvmeMultipathMode::Multipath,
        prchk_reftag: p.prchk_reftag.unwrap_or(false),
        prchk_guard: p.prchk_guard.unwrap_or(false),
        ctrlr_loss_timeout_sec: p.ctrlr_loss_timeout_sec.unwrap_or(0),
        reconnect_delay_sec: p.reconnect_delay_sec.unwrap_or(0),
        fast_io_fail_timeout_sec: p.fast_io_fail_timeout_sec.unwrap_or(0),
        hostnqn,
        hdgst: p.hdgst.unwrap_or(false),
        ddgst: p.ddgst.unwrap_or(false),
        fabrics_connect_timeout_us: p
            .fabrics_connect_timeout_us
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT_US),
        num_io_queues: p.num_io_queues.unwrap_or(DEFAULT_NUM_IO_QUEUES),
        disable_sq_flow_control: p.disable_sq_flow_control.unwrap_or(false),
        multipath_opts: p.multipath_opts.unwrap_or_default(),
        paths: vec![path],
        bdevs: bdevs.clone(),
    });
    Ok(bdevs)
}

/// A transport id as SPDK writes it: fields it does not have are left out.
fn trid(path: &Path) -> serde_json::Map<String, Value> {
    let mut trid = serde_json::Map::new();
    trid.insert("trtype".into(), json!(path.trtype));
    if let Some(adrfam) = &path.adrfam {
        trid.insert("adrfam".into(), json!(adrfam));
    }
    for (key, value) in [
        ("traddr", &path.traddr),
        ("trsvcid", &path.trsvcid),
        ("subnqn", &path.subnqn),
    ] {
        if !value.is_empty() {
            trid.insert(key.into(), json!(value));
        }
    }
    trid
}

fn get_controllers(
    s: &mut State,
    p: BdevNvmeGetControllersParams,
) -> Result<Vec<NvmeController>, ErrorObject> {
    if let Some(name) = &p.name {
        if !s.nvme.iter().any(|c| c.name == *name) {
            return Err(Errno::EINVAL.with_message(format!("Controller {name} does not exist")));
        }
    }
    Ok(s.nvme
        .iter()
        .filter(|c| p.name.as_ref().is_none_or(|n| *n == c.name))
        .map(|c| NvmeController {
            name: c.name.clone(),
            ctrlrs: c
                .paths
                .iter()
                .map(|path| NvmeControllerPath {
                    state: "enabled".into(),
                    trid: trid(path),
                    cntlid: Some(path.cntlid),
                })
                .collect(),
        })
        .collect())
}

fn detach(s: &mut State, p: BdevNvmeDetachControllerParams) -> Result<bool, ErrorObject> {
    let Some(at) = s.nvme.iter().position(|c| c.name == p.name) else {
        return Err(Errno::ENODEV.to_error());
    };
    // Each address field given narrows the paths removed.
    let matches = |path: &Path| {
        let field = |given: &Option<String>, have: &str| given.as_deref().is_none_or(|g| g == have);
        p.trtype
            .as_deref()
            .is_none_or(|t| canonical_trtype(t) == Some(path.trtype.as_str()))
            && field(&p.traddr, &path.traddr)
            && field(&p.trsvcid, &path.trsvcid)
            && field(&p.subnqn, &path.subnqn)
            && p.adrfam
                .as_deref()
                .is_none_or(|a| canonical_adrfam(a).ok() == path.adrfam.as_deref())
            && (p.hostaddr.is_none() || p.hostaddr == path.hostaddr)
            && (p.hostsvcid.is_none() || p.hostsvcid == path.hostsvcid)
    };
    let c = &mut s.nvme[at];
    let before = c.paths.len();
    c.paths.retain(|path| !matches(path));
    if c.paths.len() == before {
        return Err(Errno::ENXIO.to_error());
    }
    if c.paths.is_empty() {
        let ctrlr = s.nvme.remove(at);
        for bdev in &ctrlr.bdevs {
            s.unregister(bdev);
        }
    }
    Ok(true)
}

/// The bdev config's entries that attach the controllers again: one per
/// path, with every option as SPDK writes them.
pub fn config(s: &State) -> Vec<Value> {
    let mut out = Vec::new();
    for c in &s.nvme {
        for path in &c.paths {
            let mut params = serde_json::Map::new();
            params.insert("name".into(), json!(c.name));
            params.extend(trid(path));
            let mut put = |key: &str, value: Value| {
                params.insert(key.into(), value);
            };
            put("prchk_reftag", json!(c.prchk_reftag));
            put("prchk_guard", json!(c.prchk_guard));
            put("ctrlr_loss_timeout_sec", json!(c.ctrlr_loss_timeout_sec));
            put("reconnect_delay_sec", json!(c.reconnect_delay_sec));
            put(
                "fast_io_fail_timeout_sec",
                json!(c.fast_io_fail_timeout_sec),
            );
            put("hostnqn", json!(c.hostnqn));
            put("hdgst", json!(c.hdgst));
            put("ddgst", json!(c.ddgst));
            if let Some(a) = &path.hostaddr {
                put("hostaddr", json!(a));
            }
            if let Some(svc) = &path.hostsvcid {
                put("hostsvcid", json!(svc));
            }
            if c.multipath {
                put("multipath", json!("multipath"));
            }
            put(
                "fabrics_connect_timeout_us",
                json!(c.fabrics_connect_timeout_us),
            );
            put("num_io_queues", json!(c.num_io_queues));
            put("disable_sq_flow_control", json!(c.disable_sq_flow_control));
            put("multipath_opts", multipath_opts(&c.multipath_opts));
            out.push(json!({"method": "bdev_nvme_attach_controller", "params": params}));
        }
    }
    out
}

/// `multipath_opts` as SPDK writes it: the selector only for active-active,
/// `min_io` only for its round robin.
fn multipath_opts(o: &BdevNvmeMultipathOpts) -> Value {
    let policy = o.policy.unwrap_or(BdevNvmeMultipathPolicy::ActivePassive);
    let mut out = json!({"policy": policy});
    if policy == BdevNvmeMultipathPolicy::ActiveActive {
        let selector = o.selector.unwrap_or(BdevNvmeMultipathSelector::RoundRobin);
        out["selector"] = json!(selector);
        if selector == BdevNvmeMultipathSelector::RoundRobin {
            out["min_io"] = json!(o.min_io.unwrap_or(1));
        }
    }
    out
}
