//! An `spdk-rpc`-style command line on [`SpdkClient`]: SPDK's common
//! management calls with `rpc.py`'s argument shapes and output.
//!
//! ```text
//! cargo run --example spdk_rpc -- -s /var/tmp/spdk.sock spdk_get_version
//! cargo run --example spdk_rpc -- bdev_malloc_create -b Malloc0 64 512
//! cargo run --example spdk_rpc -- bdev_raid_create -n Raid0 -z 64 -r raid0 -b "Malloc0 Malloc1"
//! cargo run --example spdk_rpc -- save_config > config.json
//! cargo run --example spdk_rpc -- call bdev_get_bdevs '{"name": "Malloc0"}'
//! ```
//!
//! Each subcommand builds the method's typed params (so a wrong shape is
//! refused here, not by the target), makes one call, and prints the result
//! as `rpc.py` does ([`spdk_proto::rpc_py`]): the target's JSON indented by
//! two spaces in the target's key order, a bare string without quotes, a
//! list of names as shell words, or nothing for calls `rpc.py` is silent
//! about. An error reply prints `rpc.py`'s message (the request, then the
//! error's code and message) and exits with status 1. Sizes are `rpc.py`'s:
//! `bdev_malloc_create -b NAME TOTAL_SIZE_MB BLOCK_SIZE` sends
//! `num_blocks = TOTAL_SIZE_MB MiB / BLOCK_SIZE`. `call METHOD [JSON]` calls
//! any method with params given as JSON.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use jsonrpc_core::RawJson;
use serde::Serialize;
use spdk_proto::config::Config;
use spdk_proto::methods::*;
use spdk_proto::{rpc_py, ClientOptions, SpdkClient, SpdkError, DEFAULT_SOCKET};

#[derive(Debug, Parser)]
#[command(about = "SPDK RPC command line (spdk-rpc's common commands), on SpdkClient")]
struct Cli {
    /// The target's RPC socket path (or tcp:HOST:PORT).
    #[arg(short = 's', default_value = DEFAULT_SOCKET)]
    server_addr: String,
    /// Seconds to wait for each reply.
    #[arg(short = 't', default_value_t = 60.0)]
    timeout: f64,
    /// Print each request instead of sending it (no target needed), as
    /// `rpc.py --dry-run` does.
    #[arg(long)]
    dry_run: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[command(rename_all = "snake_case")]
enum Command {
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

/// How `rpc.py` prints a command's result.
#[derive(Clone, Copy)]
enum Print {
    /// `print_json`: a string without its quotes, anything else as JSON.
    Json,
    /// `print_dict`: JSON.
    Dict,
    /// `print_array`: a list of strings as shell words.
    Array,
    /// Nothing.
    Silent,
}

/// Why the command failed: the text to print, on stdout as `rpc.py` does.
struct Failure(String);

impl From<String> for Failure {
    fn from(text: String) -> Self {
        Failure(text)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spdk_rpc: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(Failure(text)) => {
            println!("{text}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<String, Failure> {
    if cli.dry_run {
        let rpc = Rpc {
            spdk: None,
            calls: 1,
        };
        return command(rpc, cli.command).await;
    }
    let options = ClientOptions::default()
        .call_timeout(Some(Duration::from_secs_f64(cli.timeout.max(0.001))));
    let spdk = SpdkClient::connect_with(&cli.server_addr, &options)
        .await
        .map_err(|e| {
            format!(
                "Error while connecting to {}\nIs SPDK application running?\nError details: {e}",
                cli.server_addr
            )
        })?;
    let rpc = Rpc {
        spdk: Some(spdk),
        calls: 0,
    };
    command(rpc, cli.command).await
}

/// Runs one subcommand; the text to print.
async fn command(mut rpc: Rpc, command: Command) -> Result<String, Failure> {
    use Command as C;
    use Print::*;
    match command {
        C::SpdkGetVersion => rpc.call::<SpdkGetVersion>((), Json).await,
        C::RpcGetMethods {
            current,
            include_aliases,
        } => {
            let params = RpcGetMethodsParams {
                current: Some(current),
                include_aliases: Some(include_aliases),
            };
            rpc.call::<RpcGetMethods>(params, Dict).await
        }
        C::FrameworkStartInit => rpc.call::<FrameworkStartInit>((), Silent).await,
        C::FrameworkGetSubsystems => rpc.call::<FrameworkGetSubsystems>((), Dict).await,
        C::FrameworkGetConfig { name } => {
            let params = FrameworkGetConfigParams::new(name);
            rpc.call::<FrameworkGetConfig>(params, Dict).await
        }
        C::SaveConfig => {
            let config = rpc.client()?.save_config().await.map_err(failure)?;
            Ok(config.to_json_pretty())
        }
        C::LoadConfig { json_conf } => {
            let text = match json_conf {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                None => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|e| format!("cannot read standard input: {e}"))?;
                    text
                }
            };
            let config = Config::from_json(&text).map_err(|e| format!("bad configuration: {e}"))?;
            let report = rpc.client()?.load_config(&config).await.map_err(failure)?;
            Ok(if report.skipped.is_empty() {
                String::new()
            } else {
                "Some configs were skipped because the RPC state that can call them passed over.\n"
                    .to_owned()
            })
        }
        C::BdevGetBdevs { name, timeout_ms } => {
            let params = BdevGetBdevsParams {
                name,
                timeout: timeout_ms,
            };
            rpc.call::<BdevGetBdevs>(params, Dict).await
        }
        C::BdevMallocCreate {
            name,
            total_size,
            block_size,
        } => {
            if block_size == 0 || total_size.is_nan() || total_size <= 0.0 {
                return Err(Failure("TOTAL_SIZE and BLOCK_SIZE must be > 0".into()));
            }
            // rpc.py: (total_size * 1024 * 1024) // block_size.
            let num_blocks = (total_size * 1024.0 * 1024.0 / f64::from(block_size)).floor();
            let mut params = BdevMallocCreateParams::new(block_size, num_blocks as u64);
            params.name = name;
            rpc.call::<BdevMallocCreate>(params, Json).await
        }
        C::BdevMallocDelete { name } => {
            let params = BdevMallocDeleteParams::new(name);
            rpc.call::<BdevMallocDelete>(params, Silent).await
        }
        C::BdevNullCreate {
            name,
            total_size,
            block_size,
        } => {
            if block_size == 0 {
                return Err(Failure("BLOCK_SIZE must be > 0".into()));
            }
            let num_blocks = total_size * 1024 * 1024 / u64::from(block_size);
            let params = BdevNullCreateParams::new(name, block_size, num_blocks);
            rpc.call::<BdevNullCreate>(params, Json).await
        }
        C::BdevNullDelete { name } => {
            let params = BdevNullDeleteParams::new(name);
            rpc.call::<BdevNullDelete>(params, Silent).await
        }
        C::BdevSplitCreate {
            base_bdev,
            split_count,
            split_size_mb,
        } => {
            let mut params = BdevSplitCreateParams::new(base_bdev, split_count);
            params.split_size_mb = split_size_mb;
            rpc.call::<BdevSplitCreate>(params, Array).await
        }
        C::BdevSplitDelete { base_bdev } => {
            let params = BdevSplitDeleteParams::new(base_bdev);
            rpc.call::<BdevSplitDelete>(params, Silent).await
        }
        C::BdevLvolCreateLvstore {
            bdev_name,
            lvs_name,
            cluster_sz,
        } => {
            let mut params = BdevLvolCreateLvstoreParams::new(bdev_name, lvs_name);
            params.cluster_sz = cluster_sz;
            rpc.call::<BdevLvolCreateLvstore>(params, Json).await
        }
        C::BdevLvolCreate {
            lvs_name,
            uuid,
            thin_provision,
            lvol_name,
            size_in_mib,
        } => {
            let mut params = BdevLvolCreateParams::new(lvol_name, size_in_mib);
            params.thin_provision = Some(thin_provision);
            params.lvs_name = lvs_name;
            params.uuid = uuid;
            rpc.call::<BdevLvolCreate>(params, Json).await
        }
        C::BdevLvolGetLvstores { uuid, lvs_name } => {
            let params = BdevLvolGetLvstoresParams { uuid, lvs_name };
            rpc.call::<BdevLvolGetLvstores>(params, Dict).await
        }
        C::BdevLvolGetLvols { lvs_uuid, lvs_name } => {
            let params = BdevLvolGetLvolsParams { lvs_uuid, lvs_name };
            rpc.call::<BdevLvolGetLvols>(params, Dict).await
        }
        C::BdevLvolDelete { name } => {
            let params = BdevLvolDeleteParams::new(name);
            rpc.call::<BdevLvolDelete>(params, Silent).await
        }
        C::BdevRaidCreate {
            name,
            strip_size_kb,
            raid_level,
            base_bdevs,
        } => {
            let level = named::<BdevRaidLevel>(&raid_level, "raid level")?;
            let bases = base_bdevs.split_whitespace().map(str::to_owned).collect();
            let mut params = BdevRaidCreateParams::new(name, level, bases);
            params.strip_size_kb = strip_size_kb;
            params.superblock = Some(false);
            rpc.call::<BdevRaidCreate>(params, Silent).await
        }
        C::BdevRaidGetBdevs { category } => {
            let category = named::<BdevRaidState>(&category, "category")?;
            let params = BdevRaidGetBdevsParams::new(category);
            rpc.call::<BdevRaidGetBdevs>(params, Json).await
        }
        C::BdevRaidDelete { name } => {
            let params = BdevRaidDeleteParams::new(name);
            rpc.call::<BdevRaidDelete>(params, Silent).await
        }
        C::NvmfCreateTransport { trtype } => {
            let params = NvmfCreateTransportParams::new(trtype);
            rpc.call::<NvmfCreateTransport>(params, Silent).await
        }
        C::NvmfCreateSubsystem {
            nqn,
            serial_number,
            model_number,
            allow_any_host,
            max_namespaces,
        } => {
            let mut params = NvmfCreateSubsystemParams::new(nqn);
            params.serial_number = serial_number;
            params.model_number = model_number;
            params.allow_any_host = Some(allow_any_host);
            params.max_namespaces = max_namespaces;
            rpc.call::<NvmfCreateSubsystem>(params, Silent).await
        }
        C::NvmfSubsystemAddNs {
            nqn,
            bdev_name,
            nsid,
        } => {
            let mut namespace = NvmfNamespace::new(bdev_name);
            namespace.nsid = nsid;
            let params = NvmfSubsystemAddNsParams::new(nqn, namespace);
            rpc.call::<NvmfSubsystemAddNs>(params, Silent).await
        }
        C::NvmfSubsystemAddListener {
            nqn,
            trtype,
            traddr,
            adrfam,
            trsvcid,
        } => {
            let mut address = NvmfListenAddress::new(trtype, traddr);
            address.adrfam = adrfam;
            address.trsvcid = trsvcid;
            let params = NvmfSubsystemAddListenerParams::new(nqn, address);
            rpc.call::<NvmfSubsystemAddListener>(params, Silent).await
        }
        C::NvmfGetSubsystems { nqn } => {
            let params = NvmfGetSubsystemsParams {
                nqn,
                tgt_name: None,
            };
            rpc.call::<NvmfGetSubsystems>(params, Dict).await
        }
        C::LogSetFlag { flag } => {
            let params = LogSetFlagParams::new(flag);
            rpc.call::<LogSetFlag>(params, Silent).await
        }
        C::LogGetFlags => rpc.call::<LogGetFlags>((), Dict).await,
        C::Call { method, params } => {
            let params = params
                .map(|p| RawJson::parse(&p))
                .transpose()
                .map_err(|e| format!("PARAMS is not JSON: {e}"))?;
            rpc.call_raw(&method, params, Dict).await
        }
    }
}

/// The connection (none for a dry run), and the next call's id.
struct Rpc {
    spdk: Option<SpdkClient>,
    calls: u64,
}

impl Rpc {
    fn client(&self) -> Result<&SpdkClient, Failure> {
        self.spdk
            .as_ref()
            .ok_or_else(|| Failure("--dry-run cannot show save_config or load_config".into()))
    }

    /// Calls `M` with typed params and prints the result as `print` says.
    /// The result is kept as the target wrote it, not read into `M::Result`,
    /// so that every field it has is printed in its order.
    async fn call<M: jsonrpc_core::Method>(
        &mut self,
        params: M::Params,
        print: Print,
    ) -> Result<String, Failure>
    where
        M::Params: Serialize,
    {
        let params = RawJson::from_value(&params).map_err(|e| format!("{}: {e}", M::NAME))?;
        self.call_raw(M::NAME, Some(params), print).await
    }

    /// Calls `method` with params as JSON. Empty or null params are left
    /// out, as `rpc.py` leaves them out.
    async fn call_raw(
        &mut self,
        method: &str,
        params: Option<RawJson>,
        print: Print,
    ) -> Result<String, Failure> {
        let params = params.filter(|p| !matches!(p.get(), "{}" | "null"));
        let req_id = self.calls;
        self.calls += 1;
        let Some(spdk) = &self.spdk else {
            return dry_run(method, params.as_ref(), req_id);
        };
        let result = match spdk.call_raw(method, params.clone()).await {
            Ok(result) => result,
            Err(SpdkError::Rpc { error, .. }) => {
                let error = serde_json::json!({
                    "code": error.code,
                    "message": error.message,
                    "data": error.data,
                });
                let mut error = error.as_object().cloned().unwrap_or_default();
                if error.get("data").is_some_and(serde_json::Value::is_null) {
                    error.remove("data");
                }
                let error = serde_json::to_string(&error).unwrap_or_default();
                let text = rpc_py::error_message(
                    method,
                    params.as_ref().map(RawJson::get),
                    req_id,
                    &error,
                )
                .map_err(|e| format!("{method}: {e}"))?;
                return Err(Failure(text));
            }
            Err(e) => return Err(failure(e)),
        };
        let text = result.get();
        let printed = match print {
            Print::Json => rpc_py::print_json(text),
            Print::Dict => rpc_py::print_dict(text),
            Print::Array => {
                serde_json::from_str::<Vec<String>>(text).map(|words| rpc_py::print_array(&words))
            }
            Print::Silent => Ok(String::new()),
        };
        printed.map_err(|e| {
            Failure(format!(
                "{method}: the reply is not what rpc.py prints: {e}"
            ))
        })
    }
}

/// What `rpc.py --dry-run` prints for a call: the request it would send.
fn dry_run(method: &str, params: Option<&RawJson>, id: u64) -> Result<String, Failure> {
    let mut request = format!(
        r#"{{"jsonrpc":"2.0","method":{},"id":{id}"#,
        serde_json::to_string(method).map_err(|e| e.to_string())?
    );
    if let Some(params) = params {
        request.push_str(&format!(r#","params":{params}"#));
    }
    request.push('}');
    let text = rpc_py::dumps(&request).map_err(|e| e.to_string())?;
    Ok(format!("Request:\n{text}\n"))
}

/// A failure that is not an error reply, worded as `rpc.py` words it.
fn failure(e: SpdkError) -> Failure {
    match e {
        SpdkError::Rpc { method, error } => {
            let error = serde_json::json!({"code": error.code, "message": error.message});
            Failure(
                rpc_py::error_message(&method, None, 0, &error.to_string())
                    .unwrap_or_else(|e| e.to_string()),
            )
        }
        SpdkError::Timeout { .. } => Failure(format!("Timeout while waiting for response:\n{e}\n")),
        e => Failure(e.to_string()),
    }
}

/// An SPDK enum from its name (`raid0`, `0`, `online`, ...).
fn named<T: serde::de::DeserializeOwned>(name: &str, what: &str) -> Result<T, Failure> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| Failure(format!("invalid {what}: {name:?}")))
}
