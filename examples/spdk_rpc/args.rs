//! The command line: `rpc.py`'s global options and, for each subcommand,
//! its arguments in `rpc.py`'s shapes (positional or flag, names, short
//! letters).

use clap::{Parser, Subcommand};
use spdk_proto::DEFAULT_SOCKET;

#[derive(Debug, Parser)]
#[command(about = "SPDK RPC command line (spdk-rpc's common commands), on SpdkClient")]
pub struct Cli {
    /// The target's RPC socket path (or tcp:HOST:PORT).
    #[arg(short = 's', default_value = DEFAULT_SOCKET)]
    pub server_addr: String,
    /// Seconds to wait for each reply.
    #[arg(short = 't', default_value_t = 60.0)]
    pub timeout: f64,
    /// Print each request instead of sending it (no target needed), as
    /// `rpc.py --dry-run` does.
    #[arg(long)]
    pub dry_run: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[command(rename_all = "snake_case")]
pub enum Command {
    /// The target's SPDK version.
    SpdkGetVersion,
    /// The methods the target has.
    RpcGetMethods {
        /// Only those callable in the target's current state.
        #[arg(short, long)]
        current: bool,
        /// Include deprecated aliases.
        #[arg(short, long)]
        include_aliases: bool,
    },
    /// Start the subsystems of a target started with --wait-for-rpc.
    FrameworkStartInit,
    /// The subsystems, in initialization order.
    FrameworkGetSubsystems,
    /// One subsystem's configuration.
    FrameworkGetConfig {
        name: String,
    },
    /// The whole configuration, as SPDK's JSON config file.
    SaveConfig,
    /// Replay a configuration file (standard input unless -j).
    LoadConfig {
        #[arg(short = 'j', long = "json-conf")]
        json_conf: Option<std::path::PathBuf>,
    },
    /// List the bdevs, or one.
    BdevGetBdevs {
        #[arg(short = 'b', long)]
        name: Option<String>,
        /// Milliseconds to wait for the bdev to appear.
        #[arg(short = 't', long = "timeout-ms")]
        timeout_ms: Option<u64>,
    },
    /// Create a RAM bdev of TOTAL_SIZE MiB.
    BdevMallocCreate {
        #[arg(short = 'b', long)]
        name: Option<String>,
        total_size: f64,
        block_size: u32,
    },
    BdevMallocDelete {
        name: String,
    },
    /// Create a bdev that discards writes, of TOTAL_SIZE MiB.
    BdevNullCreate {
        name: String,
        total_size: u64,
        block_size: u32,
    },
    BdevNullDelete {
        name: String,
    },
    /// Split a bdev into SPLIT_COUNT bdevs.
    BdevSplitCreate {
        base_bdev: String,
        split_count: u32,
        #[arg(short = 's', long)]
        split_size_mb: Option<u64>,
    },
    BdevSplitDelete {
        base_bdev: String,
    },
    /// Create a logical volume store on a bdev.
    BdevLvolCreateLvstore {
        bdev_name: String,
        lvs_name: String,
        #[arg(short = 'c', long)]
        cluster_sz: Option<u32>,
    },
    /// Create a logical volume of SIZE_IN_MIB in a store.
    BdevLvolCreate {
        #[arg(short = 'l', long)]
        lvs_name: Option<String>,
        #[arg(short = 'u', long)]
        uuid: Option<String>,
        #[arg(short = 't', long)]
        thin_provision: bool,
        lvol_name: String,
        size_in_mib: u64,
    },
    BdevLvolGetLvstores {
        #[arg(short = 'u', long)]
        uuid: Option<String>,
        #[arg(short = 'l', long)]
        lvs_name: Option<String>,
    },
    BdevLvolGetLvols {
        #[arg(short = 'u', long)]
        lvs_uuid: Option<String>,
        #[arg(short = 'l', long)]
        lvs_name: Option<String>,
    },
    BdevLvolDelete {
        name: String,
    },
    /// Create a RAID bdev from BASE_BDEVS (names separated by spaces).
    BdevRaidCreate {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'z', long)]
        strip_size_kb: Option<u32>,
        #[arg(short = 'r', long)]
        raid_level: String,
        #[arg(short = 'b', long)]
        base_bdevs: String,
    },
    /// List RAID bdevs: all, online, configuring or offline.
    BdevRaidGetBdevs {
        category: String,
    },
    BdevRaidDelete {
        name: String,
    },
    NvmfCreateTransport {
        #[arg(short = 't', long)]
        trtype: String,
    },
    NvmfCreateSubsystem {
        nqn: String,
        #[arg(short = 's', long)]
        serial_number: Option<String>,
        #[arg(short = 'd', long)]
        model_number: Option<String>,
        #[arg(short = 'a', long)]
        allow_any_host: bool,
        #[arg(short = 'm', long)]
        max_namespaces: Option<u32>,
    },
    NvmfSubsystemAddNs {
        nqn: String,
        bdev_name: String,
        #[arg(short = 'n', long)]
        nsid: Option<u32>,
    },
    NvmfSubsystemAddListener {
        nqn: String,
        #[arg(short = 't', long)]
        trtype: String,
        #[arg(short = 'a', long)]
        traddr: String,
        #[arg(short = 'f', long)]
        adrfam: Option<String>,
        #[arg(short = 's', long)]
        trsvcid: Option<String>,
    },
    NvmfGetSubsystems {
        nqn: Option<String>,
    },
    LogSetFlag {
        flag: String,
    },
    LogGetFlags,
    /// Call any method; PARAMS is a JSON object or array.
    Call {
        method: String,
        params: Option<String>,
    },
}
