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
//! any method with params given as JSON. `--dry-run` prints each request
//! instead of sending it, as `rpc.py --dry-run` does.
//!
//! [`args`] says what the command line takes, [`commands`] what each
//! subcommand sends and how its result is printed; this file makes the
//! calls and prints their results and errors.

mod args;
mod commands;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use jsonrpc_core::RawJson;
use serde::Serialize;
use spdk_proto::{rpc_py, ClientOptions, SpdkClient, SpdkError};

use args::Cli;
use commands::command;

/// How `rpc.py` prints a command's result.
#[derive(Clone, Copy)]
pub enum Print {
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
pub struct Failure(String);

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
