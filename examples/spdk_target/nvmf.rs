//! The NVMe-oF target: transports, subsystems, their namespaces, listeners
//! and hosts. Nothing listens on the network: these are records.

use jsonrpc_core::ErrorObject;
use serde_json::{json, Value};
use spdk_proto::methods::*;
use spdk_proto::results::{
    NvmfHost, NvmfListenAddress, NvmfListener, NvmfNamespace, NvmfSubsystem,
};
use spdk_proto::server::When;
use uuid::Uuid;

use crate::nvmf_transport::Transport;
use crate::register::{Registrar, INVALID_PARAMS};
use crate::state::State;

pub const DISCOVERY_NQN: &str = "nqn.2014-08.org.nvmexpress.discovery";
const DEFAULT_SERIAL: &str = "00000000000000000000";
const DEFAULT_MODEL: &str = "SPDK bdev Controller";
const MAX_SERIAL: usize = 20;
const MAX_MODEL: usize = 40;
const MAX_NQN: usize = 223;
/// lib/nvmf/subsystem.c NVMF_SUBSYSTEM_DEFAULT_NAMESPACES.
const DEFAULT_MAX_NAMESPACES: u32 = 32;
/// lib/nvmf/nvmf_internal.h NVMF_MIN_CNTLID, NVMF_MAX_CNTLID.
const MIN_CNTLID: u16 = 1;
const MAX_CNTLID: u16 = 0xFFEF;
/// include/spdk/nvmf_spec.h SPDK_NVMF_ADMIN_LABEL_MIN_LEN, _MAX_LEN; the
/// label must be printable ASCII (nvmf_subsystem_copy_admin_label).
const MIN_ADMIN_LABEL: usize = 4;
const MAX_ADMIN_LABEL: usize = 256;

#[derive(Debug, Clone)]
pub struct Subsystem {
    pub nqn: String,
    pub serial: String,
    pub model: String,
    pub max_namespaces: u32,
    pub allow_any_host: bool,
    pub min_cntlid: u16,
    pub max_cntlid: u16,
    pub ana_reporting: bool,
    /// The most blocks one deallocate range may cover (the default is
    /// 1 GiB of 512-byte blocks, spdk_nvmf_subsystem_opts_init).
    pub dmrsl: u32,
    /// The largest Write Zeroes, as a power of two of pages (default 12).
    pub wzsl: u8,
    pub passthrough: bool,
    pub enable_nssr: bool,
    pub admin_label: Option<String>,
    pub hosts: Vec<String>,
    pub listeners: Vec<Listener>,
    /// By nsid.
    pub namespaces: Vec<Namespace>,
}

/// A namespace with the options SPDK keeps for it (spdk_nvmf_ns_opts).
#[derive(Debug, Clone)]
pub struct Namespace {
    pub nsid: u32,
    pub bdev_name: String,
    pub ptpl_file: Option<String>,
    /// The bdev's uuid bytes unless given (spdk_nvmf_subsystem_add_ns_ext).
    pub nguid: [u8; 16],
    /// All zero (not written) unless given.
    pub eui64: [u8; 8],
    pub uuid: Uuid,
    /// Its nsid unless given.
    pub anagrpid: u32,
    pub no_auto_visible: bool,
    /// The hosts it is shown to, when it is not shown to all
    /// (`no_auto_visible`), in the order they were added.
    pub hosts: Vec<String>,
}

/// A listener: its address and the options it was added with.
#[derive(Debug, Clone)]
pub struct Listener {
    pub address: NvmfListenAddress,
    pub secure_channel: bool,
    pub sock_impl: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Nvmf {
    pub transports: Vec<Transport>,
    /// In NQN order: SPDK keeps them in a tree keyed by NQN (subsystem_cmp
    /// in lib/nvmf/nvmf_internal.h), and lists and saves them in its order.
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
    r.add_as::<NvmfNsAddHost, _>(
        When::Runtime,
        INVALID_PARAMS,
        |s, p: NvmfNsAddHostParams| ns_visible(s, &p.nqn, p.nsid, &p.host, true),
    );
    r.add_as::<NvmfNsRemoveHost, _>(
        When::Runtime,
        INVALID_PARAMS,
        |s, p: NvmfNsRemoveHostParams| ns_visible(s, &p.nqn, p.nsid, &p.host, false),
    );
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
    let known = match trtype.as_str() {
        "TCP" => "TCP",
        "RDMA" => "RDMA",
        _ => {
            return Err(ErrorObject::new(
                ErrorObject::INVALID_PARAMS,
                format!("Transport type '{trtype}' unavailable"),
            ))
        }
    };
    let transport = Transport::create(known, &p)?;
    s.nvmf.transports.push(transport);
    Ok(true)
}

/// Each transport's options, as nvmf_transport_dump_opts writes them.
fn get_transports(s: &mut State, p: NvmfGetTransportsParams) -> Result<Vec<Value>, ErrorObject> {
    let want = p.trtype.map(|t| t.to_ascii_uppercase());
    let found: Vec<Value> = s
        .nvmf
        .transports
        .iter()
        .filter(|t| want.as_ref().is_none_or(|w| w == t.trtype))
        .map(Transport::dump)
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
    // An empty label is none (nvmf_subsystem_copy_admin_label).
    let admin_label = p.admin_label.filter(|l| !l.is_empty());
    let bad_label = |l: &String| {
        !(MIN_ADMIN_LABEL..=MAX_ADMIN_LABEL).contains(&l.len())
            || !l.bytes().all(|b| (0x20..0x7f).contains(&b))
    };
    if admin_label.as_ref().is_some_and(bad_label) {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            "Invalid admin_label",
        ));
    }
    let exists = p.nqn == DISCOVERY_NQN || s.nvmf.subsystems.iter().any(|x| x.nqn == p.nqn);
    let full = s.nvmf.subsystems.len() + 1 >= s.nvmf.max_subsystems as usize;
    if exists || full || !valid_nqn(&p.nqn) {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            format!("Unable to create subsystem {}", p.nqn),
        ));
    }
    // spdk_nvmf_subsystem_set_cntlid_range: the subsystem made is
    // destroyed again when the range is not within 1..=0xFFEF.
    let min_cntlid = p.min_cntlid.unwrap_or(MIN_CNTLID);
    let max_cntlid = p.max_cntlid.unwrap_or(MAX_CNTLID);
    let valid = |c: u16| (MIN_CNTLID..=MAX_CNTLID).contains(&c);
    if min_cntlid > max_cntlid || !valid(min_cntlid) || !valid(max_cntlid) {
        return Err(ErrorObject::new(
            ErrorObject::INVALID_PARAMS,
            format!("Invalid cntlid range [{min_cntlid}-{max_cntlid}]"),
        ));
    }
    let sub = Subsystem {
        nqn: p.nqn,
        serial: p.serial_number.unwrap_or_else(|| DEFAULT_SERIAL.into()),
        model: p.model_number.unwrap_or_else(|| DEFAULT_MODEL.into()),
        // 0 is the default (spdk_nvmf_subsystem_create_ext).
        max_namespaces: p
            .max_namespaces
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_NAMESPACES),
        allow_any_host: p.allow_any_host.unwrap_or(false),
        min_cntlid,
        max_cntlid,
        ana_reporting: p.ana_reporting.unwrap_or(false),
        dmrsl: p.dmrsl.unwrap_or(2_097_152),
        wzsl: p.wzsl.unwrap_or(12),
        passthrough: p.passthrough.unwrap_or(false),
        enable_nssr: p.enable_nssr.unwrap_or(false),
        admin_label,
        hosts: Vec::new(),
        listeners: Vec::new(),
        namespaces: Vec::new(),
    };
    let at = s.nvmf.subsystems.partition_point(|x| x.nqn < sub.nqn);
    s.nvmf.subsystems.insert(at, sub);
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
        listen_addresses: sub.listeners.iter().map(|l| l.address.clone()).collect(),
        allow_any_host: sub.allow_any_host,
        hosts: sub
            .hosts
            .iter()
            .map(|h| NvmfHost { nqn: h.clone() })
            .collect(),
        serial_number: Some(sub.serial.clone()),
        model_number: Some(sub.model.clone()),
        max_namespaces: Some(sub.max_namespaces),
        min_cntlid: Some(sub.min_cntlid),
        max_cntlid: Some(sub.max_cntlid),
        namespaces: sub
            .namespaces
            .iter()
            .map(|ns| NvmfNamespace {
                nsid: ns.nsid,
                bdev_name: ns.bdev_name.clone(),
                name: Some(ns.bdev_name.clone()),
                nguid: nonzero(&ns.nguid).then(|| hex(&ns.nguid)),
                uuid: Some(ns.uuid),
            })
            .collect(),
    }
}

/// Whether an id is set: SPDK writes none that is all zero.
pub fn nonzero(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| *b != 0)
}

/// Bytes as SPDK writes an NGUID or EUI-64: upper-case hex, no dashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// An NGUID or EUI-64 as given: exactly twice its size in hex digits
/// (nvmf_rpc.c decode_hex_string_be).
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The discovery subsystem among the others, all in NQN order.
fn get_subsystems(
    s: &mut State,
    p: NvmfGetSubsystemsParams,
) -> Result<Vec<NvmfSubsystem>, ErrorObject> {
    let mut all: Vec<NvmfSubsystem> = std::iter::once(discovery())
        .chain(s.nvmf.subsystems.iter().map(info))
        .collect();
    all.sort_by(|a, b| a.nqn.cmp(&b.nqn));
    match p.nqn {
        None => Ok(all),
        Some(nqn) => {
            let found: Vec<_> = all.into_iter().filter(|x| x.nqn == nqn).collect();
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
    let nguid = match &ns.nguid {
        Some(text) => Some(
            unhex::<16>(text)
                .ok_or_else(|| ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid nguid"))?,
        ),
        None => None,
    };
    let eui64 = match &ns.eui64 {
        Some(text) => unhex::<8>(text)
            .ok_or_else(|| ErrorObject::new(ErrorObject::INVALID_PARAMS, "Invalid eui64"))?,
        None => [0; 8],
    };
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
    // An ANA group is the nsid unless given, and no higher than the
    // highest nsid allowed.
    let anagrpid = ns.anagrpid.filter(|g| *g != 0).unwrap_or(nsid);
    if anagrpid > sub.max_namespaces {
        return Err(invalid_params());
    }
    // The target holds each namespace's bdev open with a claim: the same
    // bdev cannot back two namespaces.
    s.claim(&bdev_name, "exclusive_write")
        .map_err(|_| invalid_params())?;
    let sub = &mut s.nvmf.subsystems[at];
    // A nil uuid is none given; the bdev's fills in uuid and nguid.
    let uuid = ns.uuid.filter(|u| !u.is_nil()).unwrap_or(bdev_uuid);
    sub.namespaces.push(Namespace {
        nsid,
        bdev_name,
        ptpl_file: ns.ptpl_file,
        nguid: nguid
            .filter(|g| nonzero(g))
            .unwrap_or(*bdev_uuid.as_bytes()),
        eui64,
        uuid,
        anagrpid,
        no_auto_visible: ns.no_auto_visible.unwrap_or(false),
        hosts: Vec::new(),
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

/// Shows a namespace to one more host, or hides it from one
/// (nvmf_ns_visible): only a namespace added with `no_auto_visible` has
/// hosts of its own; adding a host twice or removing one it lacks is no
/// error. Every refusal is -32602 "Invalid parameters".
fn ns_visible(
    s: &mut State,
    nqn: &str,
    nsid: u32,
    host: &str,
    visible: bool,
) -> Result<bool, ErrorObject> {
    let at = find(s, nqn)?;
    if !valid_nqn(host) {
        return Err(invalid_params());
    }
    let sub = &mut s.nvmf.subsystems[at];
    let Some(ns) = sub.namespaces.iter_mut().find(|ns| ns.nsid == nsid) else {
        return Err(invalid_params());
    };
    if !ns.no_auto_visible {
        return Err(invalid_params());
    }
    let known = ns.hosts.iter().position(|h| h == host);
    match (visible, known) {
        (true, None) => ns.hosts.push(host.to_owned()),
        (false, Some(i)) => {
            ns.hosts.remove(i);
        }
        _ => {}
    }
    Ok(true)
}

fn same(a: &NvmfListenAddress, b: &NvmfListenAddress) -> bool {
    a.trtype.eq_ignore_ascii_case(&b.trtype) && a.traddr == b.traddr && a.trsvcid == b.trsvcid
}

/// The address as the target keeps and writes it
/// (rpc_listen_address_to_trid): the type in capitals, the family as
/// spdk_nvme_transport_id_adrfam_str names it (IPv4 unless given; one it
/// does not know is refused).
fn address(a: spdk_proto::methods::NvmfListenAddress) -> Result<NvmfListenAddress, ErrorObject> {
    let adrfam = match a.adrfam.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("ipv4") => "IPv4",
        Some("ipv6") => "IPv6",
        Some("ib") => "IB",
        Some("fc") => "FC",
        Some(_) => return Err(invalid_params()),
    };
    Ok(NvmfListenAddress {
        trtype: a.trtype.to_ascii_uppercase(),
        adrfam: Some(adrfam.into()),
        traddr: a.traddr,
        trsvcid: a.trsvcid,
    })
}

fn add_listener(s: &mut State, p: NvmfSubsystemAddListenerParams) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let addr = address(p.listen_address)?;
    let secure_channel = p.secure_channel.unwrap_or(false);
    if s.nvmf.subsystems[at].allow_any_host && secure_channel {
        return Err(ErrorObject::new(
            ErrorObject::INTERNAL_ERROR,
            "Cannot establish secure channel, when 'allow_any_host' is set",
        ));
    }
    let has_transport = s.nvmf.transports.iter().any(|t| t.trtype == addr.trtype);
    let sub = &mut s.nvmf.subsystems[at];
    if !has_transport || sub.listeners.iter().any(|l| same(&l.address, &addr)) {
        return Err(invalid_params());
    }
    sub.listeners.push(Listener {
        address: addr,
        secure_channel,
        sock_impl: p.sock_impl,
    });
    Ok(true)
}

fn remove_listener(
    s: &mut State,
    p: NvmfSubsystemRemoveListenerParams,
) -> Result<bool, ErrorObject> {
    let at = find(s, &p.nqn)?;
    let addr = address(p.listen_address)?;
    let sub = &mut s.nvmf.subsystems[at];
    let Some(i) = sub.listeners.iter().position(|l| same(&l.address, &addr)) else {
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
        .map(|l| NvmfListener {
            address: l.address.clone(),
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
