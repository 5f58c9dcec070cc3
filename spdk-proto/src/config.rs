//! SPDK's JSON configuration files: what `save_config` writes and
//! `load_config` (or `spdk_tgt --json`) replays.
//!
//! A configuration is each subsystem's `framework_get_config` output, in
//! `framework_get_subsystems` order:
//! `{"subsystems": [{"subsystem": "bdev", "config": [{"method": ..., "params": ...}]}]}`.
//! A subsystem with nothing to configure has `"config": null`. A
//! configuration saved with batches holds arrays of such calls as well,
//! which are replayed as JSON-RPC batches.

use jsonrpc_core::Method;
use serde::{Deserialize, Serialize};

use crate::error::SpdkError;
use crate::methods::{
    FrameworkGetConfig, FrameworkGetConfigParams, FrameworkGetSubsystems, FrameworkStartInit,
    RpcGetMethods, RpcGetMethodsParams,
};
use crate::results::{ConfigEntry, ConfigItem};
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
    pub config: Option<Vec<ConfigItem>>,
}

impl SubsystemConfig {
    /// Its calls in order, those of batches included.
    pub fn calls(&self) -> impl Iterator<Item = &ConfigEntry> {
        self.config.iter().flatten().flat_map(ConfigItem::calls)
    }
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
    /// How many calls were made (each call of a batch counts).
    pub called: usize,
    /// Whether `framework_start_init` was called along the way.
    pub started_framework: bool,
    /// Entries never callable in any state the target went through.
    pub skipped: Vec<ConfigItem>,
}

impl SpdkClient {
    /// Reads the target's whole configuration, as SPDK's `save_config` does:
    /// `framework_get_subsystems`, then `framework_get_config` for each,
    /// asking for no batches, so the target writes each call on its own.
    pub async fn save_config(&self) -> Result<Config, SpdkError> {
        self.read_config(false).await
    }

    /// Like [`save_config`](Self::save_config), keeping the target's batches
    /// (`save_config --with-batches`); the target must know `with_batches`
    /// (SPDK v26.09 does).
    pub async fn save_config_with_batches(&self) -> Result<Config, SpdkError> {
        self.read_config(true).await
    }

    async fn read_config(&self, with_batches: bool) -> Result<Config, SpdkError> {
        let subsystems = self.call::<FrameworkGetSubsystems>(()).await?;
        let mut config = Config::default();
        for subsystem in subsystems {
            let mut params = FrameworkGetConfigParams::new(subsystem.subsystem.clone());
            // Left out when false, so older targets (which refuse unknown
            // keys) are asked exactly what they were always asked.
            params.with_batches = with_batches.then_some(true);
            let items = self.call::<FrameworkGetConfig>(params).await?;
            config.subsystems.push(SubsystemConfig {
                subsystem: subsystem.subsystem,
                config: items,
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
        let mut remaining: Vec<ConfigItem> = config
            .subsystems
            .iter()
            .filter_map(|s| s.config.as_ref())
            .flatten()
            // An empty batch has nothing to do.
            .filter(|item| !item.calls().is_empty())
            .cloned()
            .collect();
        let known = self
            .call::<RpcGetMethods>(RpcGetMethodsParams::default())
            .await?;
        let unknown = remaining
            .iter()
            .flat_map(ConfigItem::calls)
            .find(|e| !known.contains(&e.method));
        if let Some(unknown) = unknown {
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
            for item in remaining {
                // A batch goes when the target takes every call in it.
                if !item.calls().iter().all(|e| allowed.contains(&e.method)) {
                    left.push(item);
                    continue;
                }
                match &item {
                    ConfigItem::Call(entry) => {
                        self.call_raw(&entry.method, raw_params(entry)?).await?;
                    }
                    ConfigItem::Batch(entries) => self.replay_batch(entries).await?,
                }
                report.called += item.calls().len();
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

    /// Sends a configuration batch; the first call that failed fails it.
    ///
    /// A batch is not atomic on the target, so one larger than the target
    /// reads is sent in halves (and halves of those) instead of failing,
    /// in order. Each part has the call deadline once per call in it.
    async fn replay_batch(&self, entries: &[ConfigEntry]) -> Result<(), SpdkError> {
        let mut parts = vec![entries];
        while let Some(part) = parts.pop() {
            match self.send_batch_part(part).await {
                Err(SpdkError::RequestTooLarge { .. }) if part.len() > 1 => {
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                done => done?,
            }
        }
        Ok(())
    }

    async fn send_batch_part(&self, entries: &[ConfigEntry]) -> Result<(), SpdkError> {
        let mut batch = self.batch();
        let mut tickets = Vec::with_capacity(entries.len());
        for entry in entries {
            tickets.push(batch.call_raw(&entry.method, raw_params(entry)?));
        }
        let calls = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let deadline = self.call_timeout().map(|t| t.saturating_mul(calls));
        let mut replies = batch.send_with_timeout(deadline).await?;
        for ticket in tickets {
            replies.get_raw(ticket)?;
        }
        Ok(())
    }
}

/// An entry's params as JSON text to send.
fn raw_params(entry: &ConfigEntry) -> Result<Option<jsonrpc_core::RawJson>, SpdkError> {
    entry
        .params
        .as_ref()
        .map(jsonrpc_core::RawJson::from_value)
        .transpose()
        .map_err(|source| SpdkError::Encode {
            method: entry.method.clone().into(),
            source,
        })
}
