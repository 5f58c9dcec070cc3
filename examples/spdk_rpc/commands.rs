//! What each subcommand sends (its method's typed params, built from the
//! arguments as `rpc.py` builds them) and how `rpc.py` prints its result.

use std::io::Read;

use jsonrpc_core::RawJson;
use spdk_proto::config::Config;
use spdk_proto::methods::*;

use crate::args::Command;
use crate::{failure, Failure, Print, Rpc};

/// Runs one subcommand; the text to print.
pub async fn command(mut rpc: Rpc, command: Command) -> Result<String, Failure> {
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

/// An SPDK enum from its name (`raid0`, `0`, `online`, ...).
fn named<T: serde::de::DeserializeOwned>(name: &str, what: &str) -> Result<T, Failure> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| Failure::from(format!("invalid {what}: {name:?}")))
}
