//! Typed results of the methods people use most.
//!
//! SPDK adds fields to its results between releases, so every type here
//! ignores fields it does not know; a field a release may leave out is an
//! `Option` or defaults. Methods without a type here return
//! `serde_json::Value`.

mod bdev;
mod framework;
mod log;
mod lvol;
mod nvme;
mod nvmf;
mod raid;

pub use bdev::{Bdev, BdevIoStat, IoStat, RateLimits};
pub use framework::{ConfigEntry, ConfigItem, Subsystem, Version, VersionFields};
pub use log::LogFlags;
pub use lvol::{Lvol, LvolStoreRef, Lvstore};
pub use nvme::{NvmeController, NvmeControllerPath};
pub use nvmf::{
    NvmfHost, NvmfListenAddress, NvmfListener, NvmfNamespace, NvmfSubsystem, NvmfTransport,
};
pub use raid::{RaidBaseBdev, RaidBdev};
