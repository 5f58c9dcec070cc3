//! `bdev_lvol_get_lvstores` and `bdev_lvol_get_lvols`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A logical volume store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lvstore {
    /// Its UUID.
    pub uuid: Uuid,
    /// Its name.
    pub name: String,
    /// The bdev it lives on.
    pub base_bdev: String,
    /// Clusters for data, in all.
    pub total_data_clusters: u64,
    /// Clusters not yet allocated.
    pub free_clusters: u64,
    /// The block size in bytes.
    pub block_size: u32,
    /// The cluster size in bytes.
    pub cluster_size: u64,
}

/// A logical volume, as `bdev_lvol_get_lvols` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lvol {
    /// `lvs_name/lvol_name`.
    pub alias: String,
    /// Its UUID, which is also its bdev's name.
    pub uuid: Uuid,
    /// Its name within the store.
    pub name: String,
    /// Thin provisioned: clusters are allocated on first write.
    pub is_thin_provisioned: bool,
    /// A read-only snapshot.
    pub is_snapshot: bool,
    /// A clone of a snapshot.
    pub is_clone: bool,
    /// A clone of an external snapshot.
    #[serde(default)]
    pub is_esnap_clone: bool,
    /// Missing part of its data (an external snapshot not present).
    #[serde(default)]
    pub is_degraded: bool,
    /// The store it is in.
    pub lvs: LvolStoreRef,
}

/// The store an lvol is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LvolStoreRef {
    /// The store's name.
    pub name: String,
    /// The store's UUID.
    pub uuid: Uuid,
}
