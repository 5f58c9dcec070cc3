//! The NVMe-oF target: transports, subsystems, their namespaces, listeners
//! and hosts. Nothing listens on the network: these are records.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::results::{
    NvmfHost, NvmfListenAddress, NvmfListener, NvmfNamespace, NvmfSubsystem, NvmfTransport,
};
use spdk_proto::server::When;

use crate::config::batch;
use crate::register::{Registrar, INVALID_PARAMS};
use crate::state::State;

pub const DISCOVERY_NQN: &str = "nqn.2014-08.org.nvmexpress.discovery";
const DEFAULT_SERIAL: &str = "00000000000000000000";
const DEFAULT_MODEL: &str = "SPDK bdev Controller";
const MAX_SERIAL: usize = 20;
const MAX_MODEL: usize = 40;
const MAX_NQN: usize = 223;

#[derive(Debug, Clone)]
pub struct Subsystem {
    pub nqn: String,
    pub serial: String,
    pub model: String,
    pub max_namespaces: u32,
    pub allow_any_host: bool,
    pub hosts: Vec<String>,
    pub listeners: Vec<NvmfListenAddress>,
    /// By nsid.
    pub namespaces: Vec<NvmfNamespace>,
}

#[derive(Debug, Clone)]
pub struct Nvmf {
    pub transports: Vec<NvmfTransport>,
    pub subsystems: Vec<Subsystem>,
    pub max_subsystems: u32,
}

impl Default for Nvmf {
    fn default() -> Self {
        Nvmf {
            transports: Vec::new(),
            subsystems: Vec::new(),
            max_subsystems: 1024,
        }
    }
}

impl Nvmf {
    /// A namespace whose bdev went away goes with it.
    pub fn bdev_removed(&mut self, bdev: &str) {
        for sub in &mut self.subsystems {
            sub.namespaces.retain(|ns| ns.bdev_name != bdev);
        }
    }
}

pub fn register(r: &mut Registrar) {
    // The nvmf module answers params that do not decode with -32602
    // "Invalid parameters".
    r.add_as::<NvmfCreateTransport, _>(When::Runtime, INVALID_PARAMS, create_transport);
    r.add_as::<NvmfGetTransports, _>(When::Runtime, INVALID_PARAMS, get_transports);
    r.add_as::<NvmfCreateSubsystem, _>(When::Runtime, INVALID_PARAMS, create_subsystem);
    r.add_as::<NvmfDeleteSubsystem, _>(When::Runtime, INVALID_PARAMS, delete_subsystem);
    r.add_as::<NvmfGetSubsystems, _>(When::Runtime, INVALID_PARAMS, get_subsystems);
    r.add_as::<NvmfSubsystemAddNs, _>(When::Runtime, INVALID_PARAMS, add_ns);
    r.add_as::<NvmfSubsystemRemoveNs, _>(When::Runtime, INVALID_PARAMS, remove_ns);
    r.add_as::<NvmfSubsystemAddListener, _>(When::Runtime, INVALID_PARAMS, add_listener);
    r.add_as::<NvmfSubsystemRemoveListener, _>(When::Runtime, INVALID_PARAMS, remove_listener);
    r.add_as::<NvmfSubsystemGetListeners, _>(When::Runtime, INVALID_PARAMS, get_listeners);
    r.add_as::<NvmfSubsystemAddHost, _>(When::Runtime, INVALID_PARAMS, add_host);
    r.add_as::<NvmfSubsystemRemoveHost, _>(When::Runtime, INVALID_PARAMS, remove_host);
    r.add_as::<NvmfSubsystemAllowAnyHost, _>(When::Runtime, INVALID_PARAMS, allow_any_host);
}

fn invalid_params() -> ErrorObject {
    ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid parameters")
}

fn internal() -> ErrorObject {
    ErrorObject::new(ErrorObject::INTERNAL_ERROR, "Internal error")
}

fn create_transport(s: &mut State, p: NvmfCreateTransportParams) -> Result<bool, ErrorObject> {
    let trtype = p.trtype.to_ascii_uppercase();
    if s.nvmf.transports.iter().any(|t| t.trtype == trtype) {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            format!("Transport type '{trtype}' already exists"),
        ));
    }
    if trtype != "TCP" && trtype != "RDMA" {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            format!("Transport type '{trtype}' unavailable"),
        ));
    }
    s.nvmf.transports.push(NvmfTransport {
        trtype,
        max_queue_depth: Some(p.max_queue_depth.map_or(128, u32::from)),
        max_io_qpairs_per_ctrlr: Some(p.max_io_qpairs_per_ctrlr.map_or(127, u32::from)),
        in_capsule_data_size: Some(p.in_capsule_data_size.unwrap_or(4096)),
        max_io_size: Some(p.max_io_size.unwrap_or(131072)),
        io_unit_size: Some(p.io_unit_size.unwrap_or(131072)),
    });
    Ok(true)
}

fn get_transports(
    s: &mut State,
    p: NvmfGetTransportsParams,
) -> Result<Vec<NvmfTransport>, ErrorObject> {
    let want = p.trtype.map(|t| t.to_ascii_uppercase());
    let found: Vec<NvmfTransport> = s
        .nvmf
        .transports
        .iter()
        .filter(|t| want.as_ref().is_none_or(|w| *w == t.trtype))
        .cloned()
        .collect();
    if want.is_some() && found.is_empty() {
        return Err(spdk_proto::Errno::ENODEV.to_error());
    }
    Ok(found)
}

fn valid_nqn(nqn: &str) -> bool {
    nqn.len() <= MAX_NQN
        && (nqn.starts_with("nqn.") || nqn.starts_with("nqn.2014-08.org.nvmexpress:uuid:"))
        && nqn.len() > 4
}

fn create_subsystem(s: &mut State, p: NvmfCreateSubsystemParams) -> Result<bool, ErrorObject> {
    let too_long = p
        .serial_number
        .as_ref()
        .is_some_and(|sn| sn.len() > MAX_SERIAL)
        || p.model_number
            .as_ref()
            .is_some_and(|mn| mn.len() > MAX_MODEL);
    if too_long {
        return Err(invalid_params());
    }
    let exists = p.nqn == DISCOVERY_NQN || s.nvmf.subsystems.iter().any(|x| x.nqn == p.nqn);
    let full = s.nvmf.subsystems.len() + 1 >= s.nvmf.max_subsystems as usize;
    if exists || full || !valid_nqn(&p.nqn) {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            format!("Unable to create subsystem {}", p.nqn),
        ));
    }
    s.nvmf.subsystems.push(Subsystem {
        nqn: p.nqn,
        serial: p.serial_number.unwrap_or_else(|| DEFAULT_SERIAL.into()),
        model: p.model_number.unwrap_or_else(|| DEFAULT_MODEL.into()),
        max_namespaces: p.max_namespaces.filter(|n| *n > 0).unwrap_or(32),
        allow_any_host: p.allow_any_host.unwrap_or(false),
        hosts: Vec::new(),
        listeners: Vec::new(),
        namespaces: Vec::new(),
    });
    Ok(true)
}

fn find(s: &mut State, nqn: &str) -> Result<usize, ErrorObject> {
    s.nvmf
        .subsystems
        .iter()
        .position(|x| x.nqn == nqn)
        .ok_or_else(|| not_found(nqn))
}

fn not_found(nqn: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorObject::INVALID_PARAMS,
        format!("Subsystem with NQN '{nqn}' not found"),
    )
}

fn delete_subsystem(s: &mut State, p: NvmfDeleteSubsystemParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let sub = s.nvmf.subsystems.remove(at);
    for ns in &sub.namespaces {
        s.release(&ns.bdev_name);
    }
    Ok(true)
}

fn discovery() -> NvmfSubsystem {
    NvmfSubsystem {
        nqn: DISCOVERY_NQN.into(),
        subtype: "Discovery".into(),
        listen_addresses: Vec::new(),
        allow_any_host: true,
        hosts: Vec::new(),
        serial_number: None,
        model_number: None,
        max_namespaces: None,
        min_cntlid: None,
        max_cntlid: None,
        namespaces: Vec::new(),
    }
}

fn info(sub: &Subsystem) -> NvmfSubsystem {
    NvmfSubsystem {
        nqn: sub.nqn.clone(),
        subtype: "NVMe".into(),
        listen_addresses: sub.listeners.clone(),
        allow_any_host: sub.allow_any_host,
        hosts: sub
            .hosts
            .iter()
            .map(|h| NvmfHost { nqn: h.clone() })
            .collect(),
        serial_number: Some(sub.serial.clone()),
        model_number: Some(sub.model.clone()),
        max_namespaces: Some(sub.max_namespaces),
        min_cntlid: Some(1),
        max_cntlid: Some(65519),
        namespaces: sub.namespaces.clone(),
    }
}

fn get_subsystems(
    s: &mut State,
    p: NvmfGetSubsystemsParams,
) -> Result<Vec<NvmfSubsystem>, ErrorObject> {
    let all = std::iter::once(discovery()).chain(s.nvmf.subsystems.iter().map(info));
    match p.nqn {
        None => Ok(all.collect()),
        Some(nqn) => {
            let found: Vec<_> = all.filter(|x| x.nqn == nqn).collect();
            if found.is_empty() {
                return Err(not_found(&nqn));
            }
            Ok(found)
        }
    }
}

fn add_ns(s: &mut State, p: NvmfSubsystemAddNsParams) -> Result<u32, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let ns = p.namespace;
    let Some(bdev) = s.bdev(&ns.bdev_name) else {
        return Err(invalid_params());
    };
    let (bdev_name, bdev_uuid) = (bdev.name.clone(), bdev.uuid);
    let sub = &s.nvmf.subsystems[at];
    let nsid = match ns.nsid.filter(|n| *n != 0) {
        Some(n) if n > sub.max_namespaces || sub.namespaces.iter().any(|x| x.nsid == n) => {
            return Err(invalid_params())
        }
        Some(n) => n,
        None => (1..=sub.max_namespaces)
            .find(|n| sub.namespaces.iter().all(|x| x.nsid != *n))
            .ok_or_else(invalid_params)?,
    };
    // The target holds each namespace's bdev open with a claim: the same
    // bdev cannot back two namespaces.
    s.claim(&bdev_name, "exclusive_write")
        .map_err(|_| invalid_params())?;
    let sub = &mut s.nvmf.subsystems[at];
    sub.namespaces.push(NvmfNamespace {
        nsid,
        bdev_name: bdev_name.clone(),
        name: Some(bdev_name),
        nguid: ns.nguid,
        uuid: Some(ns.uuid.unwrap_or(bdev_uuid)),
    });
    sub.namespaces.sort_by_key(|x| x.nsid);
    Ok(nsid)
}

fn remove_ns(s: &mut State, p: NvmfSubsystemRemoveNsParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let sub = &mut s.nvmf.subsystems[at];
    let Some(i) = sub.namespaces.iter().position(|x| x.nsid == p.nsid) else {
        return Err(invalid_params());
    };
    let ns = sub.namespaces.remove(i);
    s.release(&ns.bdev_name);
    Ok(true)
}

fn same(a: &NvmfListenAddress, b: &NvmfListenAddress) -> bool {
    a.trtype.eq_ignore_ascii_case(&b.trtype) && a.traddr == b.traddr && a.trsvcid == b.trsvcid
}

fn address(a: spdk_proto::methods::NvmfListenAddress) -> NvmfListenAddress {
    NvmfListenAddress {
        trtype: a.trtype.to_ascii_uppercase(),
        adrfam: Some(a.adrfam.unwrap_or_else(|| "IPv4".into())),
        traddr: a.traddr,
        trsvcid: a.trsvcid,
    }
}

fn add_listener(s: &mut State, p: NvmfSubsystemAddListenerParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let addr = address(p.listen_address);
    let has_transport = s.nvmf.transports.iter().any(|t| t.trtype == addr.trtype);
    let sub = &mut s.nvmf.subsystems[at];
    if !has_transport || sub.listeners.iter().any(|l| same(l, &addr)) {
        return Err(invalid_params());
    }
    sub.listeners.push(addr);
    Ok(true)
}

fn remove_listener(
    s: &mut State,
    p: NvmfSubsystemRemoveListenerParams,
) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let addr = address(p.listen_address);
    let sub = &mut s.nvmf.subsystems[at];
    let Some(i) = sub.listeners.iter().position(|l| same(l, &addr)) else {
        return Err(invalid_params());
    };
    sub.listeners.remove(i);
    Ok(true)
}

fn get_listeners(
    s: &mut State,
    p: NvmfSubsystemGetListenersParams,
) -> Result<Vec<NvmfListener>, ErrorObject> {
    let at = find(s, &p.nqn)?;
    Ok(s.nvmf.subsystems[at]
        .listeners
        .iter()
        .map(|a| NvmfListener {
            address: a.clone(),
            ana_states: vec![json!({"ana_group": 1, "ana_state": "optimized"})],
        })
        .collect())
}

fn add_host(s: &mut State, p: NvmfSubsystemAddHostParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let sub = &mut s.nvmf.subsystems[at];
    if sub.hosts.contains(&p.host) {
        return Err(internal());
    }
    sub.hosts.push(p.host);
    Ok(true)
}

fn remove_host(s: &mut State, p: NvmfSubsystemRemoveHostParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let sub = &mut s.nvmf.subsystems[at];
    let Some(i) = sub.hosts.iter().position(|h| *h == p.host) else {
        return Err(internal());
    };
    sub.hosts.remove(i);
    Ok(true)
}

fn allow_any_host(s: &mut State, p: NvmfSubsystemAllowAnyHostParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    s.nvmf.subsystems[at].allow_any_host = p.allow_any_host;
    Ok(true)
}

/// The nvmf subsystem's config after the target's options
/// (`nvmf_options`): its transports, then five batches, as
/// spdk_nvmf_tgt_write_config_json (lib/nvmf/nvmf.c) writes them: every
/// subsystem's create, then every host, namespace, namespace host (none
/// here) and listener.
pub fn config(s: &State) -> Vec<Value> {
    let mut out = Vec::new();
    for t in &s.nvmf.transports {
        out.push(json!({"method": "nvmf_create_transport", "params": {
            "trtype": t.trtype, "max_queue_depth": t.max_queue_depth,
            "max_io_qpairs_per_ctrlr": t.max_io_qpairs_per_ctrlr,
            "in_capsule_data_size": t.in_capsule_data_size, "max_io_size": t.max_io_size,
            "io_unit_size": t.io_unit_size}}));
    }
    let subs = &s.nvmf.subsystems;
    out.push(batch(
        subs.iter()
            .map(|sub| {
                json!({"method": "nvmf_create_subsystem", "params": {
            "nqn": sub.nqn, "allow_any_host": sub.allow_any_host,
            "serial_number": sub.serial, "model_number": sub.model,
            "max_namespaces": sub.max_namespaces, "min_cntlid": 1, "max_cntlid": 65519}})
            })
            .collect(),
    ));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| {
                sub.hosts.iter().map(|h| {
                    json!({"method": "nvmf_subsystem_add_host", "params": {
                    "nqn": sub.nqn, "host": h}})
                })
            })
            .collect(),
    ));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| {
                sub.namespaces.iter().map(|ns| {
                    let mut namespace = json!({"nsid": ns.nsid, "bdev_name": ns.bdev_name});
                    if let Some(u) = ns.uuid {
                        namespace["uuid"] = json!(u);
                    }
                    if let Some(g) = &ns.nguid {
                        namespace["nguid"] = json!(g);
                    }
                    json!({"method": "nvmf_subsystem_add_ns", "params": {
                    "nqn": sub.nqn, "namespace": namespace}})
                })
            })
            .collect(),
    ));
    out.push(batch(Vec::new()));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| {
                sub.listeners.iter().map(|l| {
                    json!({"method": "nvmf_subsystem_add_listener", "params": {
                    "nqn": sub.nqn, "listen_address": l}})
                })
            })
            .collect(),
    ));
    out
}
