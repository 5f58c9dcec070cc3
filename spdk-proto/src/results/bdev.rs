//! `bdev_get_bdevs` and `bdev_get_iostat`.

use serde::{Deserialize, Serialize};

/// One block device, as `bdev_get_bdevs` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bdev {
    /// The bdev's name.
    pub name: String,
    /// Its other names (an lvol's `lvs/lvol`, ...).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What kind of bdev it is (`"Malloc disk"`, `"Logical Volume"`, ...).
    pub product_name: String,
    /// The block size in bytes.
    pub block_size: u32,
    /// The size in blocks.
    pub num_blocks: u64,
    /// Its UUID (absent on bdevs that have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<uuid::Uuid>,
    /// Whether a module has claimed it (a raid, an lvstore, ...).
    #[serde(default)]
    pub claimed: bool,
    /// How it is claimed, when it is (`"exclusive_write"`,
    /// `"read_many_write_one"`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_type: Option<String>,
    /// Whether it is a zoned device.
    #[serde(default)]
    pub zoned: bool,
    /// Its QoS limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_rate_limits: Option<RateLimits>,
    /// Which I/O types it supports, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_io_types: Option<std::collections::BTreeMap<String, bool>>,
    /// What its module reports about it; the shape depends on the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_specific: Option<serde_json::Value>,
}

/// A bdev's QoS limits; 0 is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Read and write I/Os per second.
    #[serde(default)]
    pub rw_ios_per_sec: u64,
    /// Read and write megabytes per second.
    #[serde(default)]
    pub rw_mbytes_per_sec: u64,
    /// Read megabytes per second.
    #[serde(default)]
    pub r_mbytes_per_sec: u64,
    /// Write megabytes per second.
    #[serde(default)]
    pub w_mbytes_per_sec: u64,
}

/// The result of `bdev_get_iostat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IoStat {
    /// Ticks per second of the target's clock.
    pub tick_rate: u64,
    /// The clock when the statistics were taken.
    pub ticks: u64,
    /// One entry per bdev asked for.
    pub bdevs: Vec<BdevIoStat>,
}

/// One bdev's I/O statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BdevIoStat {
    /// The bdev's name.
    pub name: String,
    /// Bytes read.
    #[serde(default)]
    pub bytes_read: u64,
    /// Read operations.
    #[serde(default)]
    pub num_read_ops: u64,
    /// Bytes written.
    #[serde(default)]
    pub bytes_written: u64,
    /// Write operations.
    #[serde(default)]
    pub num_write_ops: u64,
    /// Bytes unmapped.
    #[serde(default)]
    pub bytes_unmapped: u64,
    /// Unmap operations.
    #[serde(default)]
    pub num_unmap_ops: u64,
    /// Ticks spent on reads.
    #[serde(default)]
    pub read_latency_ticks: u64,
    /// Ticks spent on writes.
    #[serde(default)]
    pub write_latency_ticks: u64,
    /// Ticks spent on unmaps.
    #[serde(default)]
    pub unmap_latency_ticks: u64,
}
