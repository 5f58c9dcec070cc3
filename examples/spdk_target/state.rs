//! The target's in-memory state, and the bdev lifecycle every module shares:
//! registering a bdev (which may complete a split or a raid waiting for it),
//! claims, and removal with its cascade.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use jsonrpc_core::ErrorObject;
use spdk_proto::results::RateLimits;
use spdk_proto::server::Framework;
use spdk_proto::Errno;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::lvol::Lvstore;
use crate::nvmf::Nvmf;
use crate::raid::Raid;
use crate::split::SplitConfig;

/// What made a bdev, and what its module reports about it.
#[derive(Debug, Clone)]
pub enum Kind {
    Malloc,
    Null,
    /// A file (or block device) read and written with Linux AIO.
    Aio {
        filename: String,
        block_size_override: bool,
        readonly: bool,
        fallocate: bool,
    },
    Split {
        base: String,
        offset_blocks: u64,
    },
    Lvol {
        lvs: Uuid,
    },
    Raid,
    /// A namespace of an attached NVMe controller.
    Nvme {
        ctrlr: String,
        nsid: u32,
    },
}

/// A registered block device.
#[derive(Debug, Clone)]
pub struct Bdev {
    pub name: String,
    pub aliases: Vec<String>,
    pub block_size: u32,
    pub num_blocks: u64,
    pub uuid: Uuid,
    /// `Some(claim type)` while a module holds it.
    pub claim: Option<&'static str>,
    pub kind: Kind,
    pub qos: RateLimits,
    /// Reads done so far: examine reads every new bdev's first blocks.
    pub read_ops: u64,
    pub bytes_read: u64,
}

impl Bdev {
    pub fn new(name: String, block_size: u32, num_blocks: u64, uuid: Uuid, kind: Kind) -> Bdev {
        Bdev {
            name,
            aliases: Vec::new(),
            block_size,
            num_blocks,
            uuid,
            claim: None,
            kind,
            qos: RateLimits::default(),
            read_ops: 0,
            bytes_read: 0,
        }
    }
}

/// `bdev_set_options`, kept for `framework_get_config`.
#[derive(Debug, Clone)]
pub struct BdevOptions {
    pub bdev_io_pool_size: u32,
    pub bdev_io_cache_size: u32,
    pub bdev_auto_examine: bool,
    pub iobuf_small_cache_size: u32,
    pub iobuf_large_cache_size: u32,
}

impl Default for BdevOptions {
    fn default() -> Self {
        BdevOptions {
            bdev_io_pool_size: 65535,
            bdev_io_cache_size: 256,
            bdev_auto_examine: true,
            iobuf_small_cache_size: 128,
            iobuf_large_cache_size: 16,
        }
    }
}

/// Everything the target manages.
pub struct State {
    /// In registration order, which is the order SPDK lists them in.
    pub bdevs: Vec<Bdev>,
    pub bdev_options: BdevOptions,
    pub malloc_made: u32,
    pub splits: Vec<SplitConfig>,
    pub lvstores: Vec<Lvstore>,
    pub raids: Vec<Raid>,
    pub raid_options: crate::raid::RaidOptions,
    pub nvmf: Nvmf,
    pub log: crate::log::Log,
    pub options: crate::options::Options,
    pub fsdev: crate::setting::Setting,
    pub sock: crate::sock::Sock,
    pub accel: crate::accel::Accel,
    pub scheduler: crate::scheduler::Scheduler,
    pub iscsi: crate::iscsi::Iscsi,
    pub trace: crate::trace::Trace,
    pub nvme_options: crate::nvme_options::NvmeOptions,
    pub nvmf_options: crate::nvmf_options::NvmfOptions,
    pub nvme: Vec<crate::nvme::Controller>,
    /// The NVMe driver's host id, made once per process as SPDK's is.
    host_id: Option<Uuid>,
    /// The target's phase, which some answers depend on (the scheduler
    /// the subsystem's init picks).
    pub framework: Framework,
    /// Told by `spdk_kill_instance`.
    pub kill: Arc<Notify>,
    random: std::collections::hash_map::RandomState,
    counter: u64,
}

pub type Shared = Arc<Mutex<State>>;

impl State {
    pub fn new(kill: Arc<Notify>, framework: Framework) -> State {
        State {
            bdevs: Vec::new(),
            bdev_options: BdevOptions::default(),
            malloc_made: 0,
            splits: Vec::new(),
            lvstores: Vec::new(),
            raids: Vec::new(),
            raid_options: Default::default(),
            nvmf: Nvmf::default(),
            log: crate::log::Log::default(),
            options: Default::default(),
            fsdev: crate::fsdev::defaults(),
            sock: Default::default(),
            accel: Default::default(),
            scheduler: Default::default(),
            iscsi: Default::default(),
            trace: Default::default(),
            nvme_options: Default::default(),
            nvmf_options: Default::default(),
            nvme: Vec::new(),
            host_id: None,
            framework,
            kill,
            random: std::collections::hash_map::RandomState::new(),
            counter: 0,
        }
    }

    /// A random (version 4) UUID. The process's hash keys are random, which
    /// is randomness enough for names, with no RNG dependency.
    pub fn new_uuid(&mut self) -> Uuid {
        let mut word = || {
            self.counter += 1;
            let mut h = self.random.build_hasher();
            h.write_u64(self.counter);
            h.finish()
        };
        let bits = (u128::from(word()) << 64) | u128::from(word());
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
    }

    /// The host NQN a controller attached without one uses.
    pub fn hostnqn(&mut self) -> String {
        let id = match self.host_id {
            Some(id) => id,
            None => {
                let id = self.new_uuid();
                *self.host_id.insert(id)
            }
        };
        format!("nqn.2014-08.org.nvmexpress:uuid:{id}")
    }

    pub fn bdev(&self, name: &str) -> Option<&Bdev> {
        self.bdevs
            .iter()
            .find(|b| b.name == name || b.aliases.iter().any(|a| a == name))
    }

    pub fn bdev_mut(&mut self, name: &str) -> Option<&mut Bdev> {
        self.bdevs
            .iter_mut()
            .find(|b| b.name == name || b.aliases.iter().any(|a| a == name))
    }

    /// Whether a name or uuid is taken by any bdev or alias: SPDK refuses
    /// both with -EEXIST.
    pub fn taken(&self, name: &str, uuid: Option<Uuid>) -> bool {
        self.bdev(name).is_some()
            || uuid.is_some_and(|u| !u.is_nil() && self.bdevs.iter().any(|b| b.uuid == u))
    }

    /// Registers a bdev, then lets the modules waiting for it take it.
    pub fn register(&mut self, mut bdev: Bdev) -> Result<(), ErrorObject> {
        if self.taken(&bdev.name, Some(bdev.uuid)) {
            return Err(Errno::EEXIST.to_error());
        }
        // Examine reads the first blocks of every new bdev (the GPT and
        // lvstore probes), so iostat never starts at zero.
        bdev.read_ops = 2;
        bdev.bytes_read = 2 * u64::from(bdev.block_size);
        let name = bdev.name.clone();
        self.bdevs.push(bdev);
        crate::split::base_appeared(self, &name);
        crate::raid::base_appeared(self, &name);
        Ok(())
    }

    /// Claims `name` for a module; -EPERM if someone has it already.
    pub fn claim(&mut self, name: &str, how: &'static str) -> Result<(), Errno> {
        let bdev = self.bdev_mut(name).ok_or(Errno::ENODEV)?;
        if bdev.claim.is_some() {
            return Err(Errno::EPERM);
        }
        bdev.claim = Some(how);
        Ok(())
    }

    pub fn release(&mut self, name: &str) {
        if let Some(b) = self.bdev_mut(name) {
            b.claim = None;
        }
    }

    /// Unregisters a bdev and everything built on it, as SPDK's hot-remove
    /// does: a claimed base may be deleted, and takes its users with it.
    pub fn unregister(&mut self, name: &str) -> Option<Bdev> {
        let at = self
            .bdevs
            .iter()
            .position(|b| b.name == name || b.aliases.iter().any(|a| a == name))?;
        let bdev = self.bdevs.remove(at);
        crate::split::base_removed(self, &bdev.name);
        crate::lvol::base_removed(self, &bdev.name);
        crate::raid::base_removed(self, &bdev);
        self.nvmf.bdev_removed(&bdev.name);
        // A split's base is free again once its last part is gone; an
        // lvol leaves its store. (A raid keeps its members claimed until
        // bdev_raid_delete, as SPDK's does.)
        match &bdev.kind {
            Kind::Split { base, .. } => {
                let base = base.clone();
                let any_left = self
                    .bdevs
                    .iter()
                    .any(|b| matches!(&b.kind, Kind::Split { base: b2, .. } if *b2 == base));
                if !any_left {
                    self.release(&base);
                }
            }
            Kind::Lvol { lvs } => {
                let lvs = *lvs;
                crate::lvol::bdev_removed(self, lvs, bdev.uuid);
            }
            _ => {}
        }
        Some(bdev)
    }
}
