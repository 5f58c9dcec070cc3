//! `nvmf_get_transports` and `nvmf_get_subsystems`.

use serde::{Deserialize, Serialize};

/// An NVMe-oF transport, as `nvmf_get_transports` lists it. Its tuning
/// fields differ by transport and release; the common ones are here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmfTransport {
    /// The transport type (`"TCP"`, `"RDMA"`, ...).
    pub trtype: String,
    /// The deepest queue allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue_depth: Option<u32>,
    /// The most queue pairs per controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_io_qpairs_per_ctrlr: Option<u32>,
    /// In-capsule data size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_capsule_data_size: Option<u32>,
    /// The largest I/O in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_io_size: Option<u32>,
    /// The I/O unit size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_unit_size: Option<u32>,
}

/// An NVMe-oF subsystem, as `nvmf_get_subsystems` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmfSubsystem {
    /// Its NQN.
    pub nqn: String,
    /// `"NVMe"`, `"Discovery"` or `"Discovery current"`.
    pub subtype: String,
    /// Where it listens.
    #[serde(default)]
    pub listen_addresses: Vec<NvmfListenAddress>,
    /// Whether any host may connect.
    #[serde(default)]
    pub allow_any_host: bool,
    /// The hosts allowed to connect.
    #[serde(default)]
    pub hosts: Vec<NvmfHost>,
    /// The serial number (NVMe subsystems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// The model number (NVMe subsystems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_number: Option<String>,
    /// The most namespaces it may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_namespaces: Option<u32>,
    /// The lowest controller id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cntlid: Option<u16>,
    /// The highest controller id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cntlid: Option<u16>,
    /// Its namespaces, by nsid.
    #[serde(default)]
    pub namespaces: Vec<NvmfNamespace>,
}

/// A listen address of an NVMe-oF subsystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmfListenAddress {
    /// The transport type (`"TCP"`).
    pub trtype: String,
    /// The address family (`"IPv4"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adrfam: Option<String>,
    /// The address.
    pub traddr: String,
    /// The service id (the port, for TCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trsvcid: Option<String>,
}

/// A host allowed to connect to an NVMe-oF subsystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmfHost {
    /// The host's NQN.
    pub nqn: String,
}

/// A namespace of an NVMe-oF subsystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmfNamespace {
    /// Its namespace id.
    pub nsid: u32,
    /// The bdev behind it.
    pub bdev_name: String,
    /// Its name (the bdev's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its NGUID, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nguid: Option<String>,
    /// Its UUID, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<uuid::Uuid>,
}

/// A listener of an NVMe-oF subsystem, as `nvmf_subsystem_get_listeners`
/// lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmfListener {
    /// Where it listens.
    pub address: NvmfListenAddress,
    /// Its ANA state per ANA group, as the target reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ana_states: Vec<serde_json::Value>,
}
