//! The calls that rebuild the NVMe-oF target, after its options
//! (`nvmf_options`), as spdk_nvmf_tgt_write_config_json (lib/nvmf/nvmf.c)
//! writes them: each transport with all its options, then five batches:
//! every subsystem's create, then every host, namespace, namespace host
//! and listener, each with every field SPDK writes, in its order.

use serde_json::{json, Map, Value};

use crate::config::batch;
use crate::nvmf::{hex, nonzero, Listener, Namespace, Subsystem};
use crate::state::State;

pub fn config(s: &State) -> Vec<Value> {
    let mut out: Vec<Value> = s
        .nvmf
        .transports
        .iter()
        .map(|t| json!({"method": "nvmf_create_transport", "params": t.dump()}))
        .collect();
    // No discovery referrals are kept: nvmf_discovery_add_referral is not
    // served, so none are written.
    let subs = &s.nvmf.subsystems;
    out.push(batch(subs.iter().map(create_subsystem).collect()));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| sub.hosts.iter().map(|h| add_host(sub, h)))
            .collect(),
    ));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| sub.namespaces.iter().map(|ns| add_ns(sub, ns)))
            .collect(),
    ));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| {
                sub.namespaces
                    .iter()
                    .flat_map(move |ns| ns.hosts.iter().map(move |h| ns_add_host(sub, ns, h)))
            })
            .collect(),
    ));
    out.push(batch(
        subs.iter()
            .flat_map(|sub| sub.listeners.iter().map(|l| add_listener(sub, l)))
            .collect(),
    ));
    out
}

fn call(method: &str, params: Map<String, Value>) -> Value {
    json!({"method": method, "params": params})
}

/// nvmf_write_create_subsystem_config.
fn create_subsystem(sub: &Subsystem) -> Value {
    let mut p = Map::new();
    p.insert("nqn".into(), json!(sub.nqn));
    p.insert("allow_any_host".into(), json!(sub.allow_any_host));
    p.insert("serial_number".into(), json!(sub.serial));
    p.insert("model_number".into(), json!(sub.model));
    if sub.max_namespaces != 0 {
        p.insert("max_namespaces".into(), json!(sub.max_namespaces));
    }
    p.insert("min_cntlid".into(), json!(sub.min_cntlid));
    p.insert("max_cntlid".into(), json!(sub.max_cntlid));
    p.insert("ana_reporting".into(), json!(sub.ana_reporting));
    p.insert("dmrsl".into(), json!(sub.dmrsl));
    p.insert("wzsl".into(), json!(sub.wzsl));
    p.insert("passthrough".into(), json!(sub.passthrough));
    p.insert("enable_nssr".into(), json!(sub.enable_nssr));
    if let Some(label) = &sub.admin_label {
        p.insert("admin_label".into(), json!(label));
    }
    call("nvmf_create_subsystem", p)
}

/// nvmf_write_subsystem_add_host_config: no DH-HMAC-CHAP keys or PSKs
/// are kept, so only the host.
fn add_host(sub: &Subsystem, host: &str) -> Value {
    let mut p = Map::new();
    p.insert("nqn".into(), json!(sub.nqn));
    p.insert("host".into(), json!(host));
    call("nvmf_subsystem_add_host", p)
}

/// nvmf_write_subsystem_add_ns_config: the ids only when set, the ANA
/// group only when the subsystem reports ANA.
fn add_ns(sub: &Subsystem, ns: &Namespace) -> Value {
    let mut n = Map::new();
    n.insert("nsid".into(), json!(ns.nsid));
    n.insert("bdev_name".into(), json!(ns.bdev_name));
    if let Some(file) = &ns.ptpl_file {
        n.insert("ptpl_file".into(), json!(file));
    }
    if nonzero(&ns.nguid) {
        n.insert("nguid".into(), json!(hex(&ns.nguid)));
    }
    if nonzero(&ns.eui64) {
        n.insert("eui64".into(), json!(hex(&ns.eui64)));
    }
    if !ns.uuid.is_nil() {
        n.insert("uuid".into(), json!(ns.uuid));
    }
    if sub.ana_reporting {
        n.insert("anagrpid".into(), json!(ns.anagrpid));
    }
    n.insert("no_auto_visible".into(), json!(ns.no_auto_visible));
    let mut p = Map::new();
    p.insert("nqn".into(), json!(sub.nqn));
    p.insert("namespace".into(), Value::Object(n));
    call("nvmf_subsystem_add_ns", p)
}

/// nvmf_write_subsystem_add_listener_config: the address as
/// nvmf_transport_listen_dump_trid writes it (every field, the service id
/// empty when none), no transport listen options (TCP has none to dump),
/// then the secure channel and the socket implementation if one was named.
fn add_listener(sub: &Subsystem, l: &Listener) -> Value {
    let a = &l.address;
    let address = json!({
        "trtype": a.trtype,
        "adrfam": a.adrfam.as_deref().unwrap_or("unknown"),
        "traddr": a.traddr,
        "trsvcid": a.trsvcid.as_deref().unwrap_or(""),
    });
    let mut p = Map::new();
    p.insert("nqn".into(), json!(sub.nqn));
    p.insert("listen_address".into(), address);
    p.insert("secure_channel".into(), json!(l.secure_channel));
    if let Some(imp) = &l.sock_impl {
        p.insert("sock_impl".into(), json!(imp));
    }
    call("nvmf_subsystem_add_listener", p)
}

/// A namespace's own host (nvmf_write_ns_add_host_config).
fn ns_add_host(sub: &Subsystem, ns: &Namespace, host: &str) -> Value {
    let mut p = Map::new();
    p.insert("nqn".into(), json!(sub.nqn));
    p.insert("nsid".into(), json!(ns.nsid));
    p.insert("host".into(), json!(host));
    call("nvmf_ns_add_host", p)
}
