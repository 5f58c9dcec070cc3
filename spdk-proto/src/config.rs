//! SPDK's JSON configuration files: what `save_config` writes and
//! `load_config` (or `spdk_tgt --json`) replays.
//!
//! A configuration is each subsystem's `framework_get_config` output, in
//! `framework_get_subsystems` order:
//! `{"subsystems": [{"subsystem": "bdev", "config": [{"method": ..., "params": ...}]}]}`.
//! A subsystem with nothing to configure has `"config": null`.

use jsonrpc_core::Method;
use serde::{Deserialize, Serialize};

use crate::error::SpdkError;
use crate::methods::{
    FrameworkGetConfig, FrameworkGetConfigParams, FrameworkGetSubsystems, FrameworkStartInit,
    RpcGetMethods, RpcGetMethodsParams,
};
use crate::results::ConfigEntry;
use crate::SpdkClient;

/// A whole target's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// One entry per subsystem.
    pub subsystems: Vec<SubsystemConfig>,
}

/// One subsystem's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsystemConfig {
    /// The subsystem's name.
    pub subsystem: String,
    /// The calls that configure it; `None` when it has nothing to configure.
    pub config: Option<Vec<ConfigEntry>>,
}

impl Config {
    /// Reads a configuration file's text.
    pub fn from_json(text: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The file text SPDK's own `save_config` writes, byte for byte: its
    /// JSON layout (two-space indent, non-ASCII escaped, keys in the order
    /// the target sent them), ending with a newline.
    pub fn to_json_pretty(&self) -> String {
        // A `Config` holds only strings, lists and JSON values: nothing in
        // it can fail to serialize, and what serde_json writes reads back.
        let compact = serde_json::to_string(self).unwrap_or_default();
        let mut text = crate::rpc_py::dumps(&compact).unwrap_or(compact);
        text.push('\n');
        text
    }
}

/// What [`SpdkClient::load_config`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// How many calls were made.
    pub called: usize,
    /// Whether `framework_start_init` was called along the way.
    pub started_framework: bool,
    /// Entries never callable in any state the target went through.
    pub skipped: Vec<ConfigEntry>,
}

impl SpdkClient {
    /// Reads the target's whole configuration, as SPDK's `save_config` does:
    /// `framework_get_subsystems`, then `framework_get_config` for each.
    pub async fn save_config(&self) -> Result<Config, SpdkError> {
        let subsystems = self.call::<FrameworkGetSubsystems>(()).await?;
        let mut config = Config::default();
        for subsystem in subsystems {
            let entries = self
                .call_by_name::<_, Option<Vec<ConfigEntry>>>(
                    <FrameworkGetConfig as Method>::NAME,
                    FrameworkGetConfigParams::new(subsystem.subsystem.clone()),
                )
                .await?;
            config.subsystems.push(SubsystemConfig {
                subsystem: subsystem.subsystem,
                config: entries,
            });
        }
        Ok(config)
    }

    /// Replays a configuration on the target.
    ///
    /// A target started with `--wait-for-rpc` accepts some methods only
    /// before `framework_start_init` and others only after, so the replay
    /// goes in rounds: each round calls every remaining entry the target
    /// accepts in its current state (`rpc_get_methods` with `current`), in
    /// file order, then starts the framework if it can. It stops when a
    /// round can do nothing. A method the target does not have at all is
    /// an error before anything is called.
    pub async fn load_config(&self, config: &Config) -> Result<LoadReport, SpdkError> {
        let mut remaining: Vec<ConfigEntry> = config
            .subsystems
            .iter()
            .filter_map(|s| s.config.as_ref())
            .flatten()
            .cloned()
            .collect();
        let known = self
            .call::<RpcGetMethods>(RpcGetMethodsParams::default())
            .await?;
        if let Some(unknown) = remaining.iter().find(|e| !known.contains(&e.method)) {
            return Err(SpdkError::UnknownConfigMethod {
                method: unknown.method.clone(),
            });
        }
        let mut report = LoadReport::default();
        loop {
            let current_params = RpcGetMethodsParams {
                current: Some(true),
                ..Default::default()
            };
            let allowed = self.call::<RpcGetMethods>(current_params).await?;
            let mut progressed = false;
            let mut left = Vec::with_capacity(remaining.len());
            for entry in remaining {
                if !allowed.contains(&entry.method) {
                    left.push(entry);
                    continue;
                }
                let params = entry
                    .params
                    .as_ref()
                    .map(jsonrpc_core::RawJson::from_value)
                    .transpose()
                    .map_err(|source| SpdkError::Encode {
                        method: entry.method.clone().into(),
                        source,
                    })?;
                self.call_raw(&entry.method, params).await?;
                report.called += 1;
                progressed = true;
            }
            remaining = left;
            let can_start = !report.started_framework
                && allowed
                    .iter()
                    .any(|m| m == <FrameworkStartInit as Method>::NAME);
            if can_start {
                self.call::<FrameworkStartInit>(()).await?;
                report.started_framework = true;
                progressed = true;
            }
            if remaining.is_empty() || !progressed {
                break;
            }
        }
        report.skipped = remaining;
        Ok(report)
    }
}
