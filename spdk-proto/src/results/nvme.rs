//! `bdev_nvme_get_controllers`.

use serde::{Deserialize, Serialize};

/// An NVMe bdev controller and its paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmeController {
    /// The controller's name (the prefix of its bdevs' names).
    pub name: String,
    /// Its paths to the device.
    #[serde(default)]
    pub ctrlrs: Vec<NvmeControllerPath>,
}

/// One path of an NVMe bdev controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvmeControllerPath {
    /// The path's state (`"enabled"`, `"resetting"`, ...).
    #[serde(default)]
    pub state: String,
    /// The transport address (`trtype`, `traddr`, `trsvcid`, `subnqn`, ...).
    pub trid: serde_json::Map<String, serde_json::Value>,
    /// The controller id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cntlid: Option<u16>,
}
