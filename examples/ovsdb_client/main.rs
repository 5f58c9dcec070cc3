//! Open vSwitch's `ovsdb-client`, on our typed [`OvsdbClient`]: the same
//! commands, arguments and output.
//!
//! ```text
//! cargo run --example ovsdb_client -- [OPTIONS] COMMAND [ARG...]
//!
//!   list-dbs [SERVER]
//!   get-schema [SERVER] [DATABASE]
//!   list-tables [SERVER] [DATABASE]
//!   list-columns [SERVER] [DATABASE] [TABLE]
//!   transact [SERVER] TRANSACTION
//!   query [SERVER] TRANSACTION
//!   dump [SERVER] [DATABASE] [TABLE [COLUMN...]]
//!   monitor [SERVER] [DATABASE] TABLE|ALL [COLUMN,...]...
//! ```
//!
//! SERVER is a remote as `ovsdb-client` takes it (`unix:PATH`,
//! `tcp:HOST:PORT`, several joined by commas), by default
//! `unix:/var/run/openvswitch/db.sock`; it is taken from the arguments when
//! the first one starts with a letter and has a colon. DATABASE is, when not
//! named, `Open_vSwitch` if the server has it, else the server's only
//! database whose name does not start with `_`. A TRANSACTION is the
//! `transact` params as JSON: `["DB", {"op": ...}, ...]`; `query` runs it
//! with an `abort` at the end and leaves the abort's result out.
//!
//! Options: `--format=table|list|csv|json` (`-f`), `--pretty` (indented
//! JSON), `--no-headings`, `--timestamp` (the time before each of a
//! monitor's tables), `--timeout=SECS` (`-t`: give up after that long).
//! `monitor` prints the rows there at first (action `initial`), then each
//! change as it comes (`insert`, `delete`, and `old`/`new` for a
//! modification, `old` with only the columns that changed), until it is
//! interrupted.
//!
//! The output is `ovsdb-client`'s: its JSON writer (keys sorted, reals as
//! `%.15g`, its string escapes and its `--pretty` layout), its table
//! printer, and its cell format (`[a, "b c"]` for sets, `{k=v}` for maps,
//! strings quoted only when they would not read back bare). Where
//! `ovsdb-client` prints rows or tables in its hash order (list-tables,
//! list-columns, monitor), this prints them sorted.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ovsdb_proto::client::{ClientOptions, OvsdbClient};

mod cells;
mod commands;
mod json;
mod monitor;
mod output;

use commands::{dump, get_schema, list_columns, list_dbs, list_tables, query, transact};
use monitor::monitor;
use output::Printer;

/// `ovsdb-client`'s default remote.
const DEFAULT_REMOTE: &str = "unix:/var/run/openvswitch/db.sock";

type Result<T> = std::result::Result<T, String>;

#[derive(Parser, Debug)]
#[command(
    name = "ovsdb_client",
    about = "Open vSwitch database JSON-RPC client (ovsdb-client's commands on OvsdbClient)"
)]
struct Cli {
    /// Output format of tables.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Pretty-print JSON output.
    #[arg(long)]
    pretty: bool,
    /// Omit the table heading row.
    #[arg(long)]
    no_headings: bool,
    /// Print the time (UTC) before each of a monitor's tables.
    #[arg(long)]
    timestamp: bool,
    /// Give up after this many seconds.
    #[arg(short = 't', long)]
    timeout: Option<u64>,
    /// list-dbs, get-schema, list-tables, list-columns, transact, query,
    /// dump or monitor.
    command: String,
    /// The command's arguments. Options may come among them, as getopt
    /// lets them in ovsdb-client.
    args: Vec<String>,
}

/// How tables are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    List,
    Csv,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let timeout = cli.timeout.map(Duration::from_secs);
    let result = runtime.block_on(async {
        let run = run(&cli);
        match timeout {
            Some(limit) => tokio::time::timeout(limit, run)
                .await
                .unwrap_or_else(|_| Err(format!("timeout after {} s", limit.as_secs()))),
            None => run.await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = std::io::stdout().flush();
    eprintln!("ovsdb_client: {message}");
    ExitCode::FAILURE
}

/// What a command needs before it runs, as `ovsdb-client` has it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// A connection.
    Rpc,
    /// A connection and a database.
    Database,
    /// Nothing: the command finds both itself (transact, query).
    None,
}

/// A command's needs and the count of arguments it takes after them.
fn command_spec(name: &str) -> Option<(Need, usize, usize)> {
    Some(match name {
        "list-dbs" => (Need::Rpc, 0, 0),
        "get-schema" | "list-tables" => (Need::Database, 0, 0),
        "list-columns" => (Need::Database, 0, 1),
        "transact" | "query" => (Need::None, 1, 2),
        "monitor" => (Need::Database, 1, usize::MAX),
        "dump" => (Need::Database, 0, usize::MAX),
        _ => return None,
    })
}

async fn run(cli: &Cli) -> Result<()> {
    let (need, min, max) = command_spec(&cli.command)
        .ok_or_else(|| format!("unknown command '{}'; use --help for help", cli.command))?;
    let mut out = Printer::new(cli);
    let mut args: &[String] = &cli.args;
    let invalid = || format!("invalid syntax for '{}' (use --help for help)", cli.command);

    if need == Need::None {
        if args.len() < min || args.len() > max {
            return Err(invalid());
        }
        let (server, transaction) = match args {
            [transaction] => (DEFAULT_REMOTE, transaction),
            [server, transaction] if looks_like_remote(server) => (server.as_str(), transaction),
            [_, transaction] => (DEFAULT_REMOTE, transaction),
            _ => return Err(invalid()),
        };
        let client = connect(server).await?;
        match cli.command.as_str() {
            "query" => query(&client, transaction, &mut out).await?,
            _ => transact(&client, transaction, &mut out).await?,
        }
        return out.check();
    }

    // The server: the first argument when it looks like a remote.
    let server = match args.first() {
        Some(first) if args.len() > min && looks_like_remote(first) => {
            args = &args[1..];
            first.as_str()
        }
        _ => DEFAULT_REMOTE,
    };
    let client = connect(server).await?;
    let mut database = String::new();
    if need == Need::Database {
        let dbs = list_dbs(&client).await?;
        database = match args.first() {
            Some(first) if args.len() > min && dbs.contains(first) => {
                args = &args[1..];
                first.clone()
            }
            _ => default_database(&dbs)?,
        };
    }
    if args.len() < min || args.len() > max {
        return Err(invalid());
    }
    let done = match cli.command.as_str() {
        "list-dbs" => {
            for db in list_dbs(&client).await? {
                out.line(&db);
            }
            Ok(())
        }
        "get-schema" => {
            let schema = get_schema(&client, &database).await?;
            let json = serde_json::to_value(&schema).map_err(|e| e.to_string())?;
            out.json(&json);
            Ok(())
        }
        "list-tables" => {
            let schema = get_schema(&client, &database).await?;
            out.table(&list_tables(&schema));
            Ok(())
        }
        "list-columns" => {
            let schema = get_schema(&client, &database).await?;
            out.table(&list_columns(&schema, args.first().map(String::as_str)));
            Ok(())
        }
        "dump" => dump(&client, &database, args, &mut out).await,
        "monitor" => monitor(&client, server, &database, args, &mut out).await,
        _ => Err(invalid()),
    };
    done.and_then(|()| out.check())
}

/// `ovsdb-client`'s test for a remote: a letter first, and a colon.
fn looks_like_remote(arg: &str) -> bool {
    arg.starts_with(|c: char| c.is_ascii_alphabetic()) && arg.contains(':')
}

/// `Open_vSwitch` if the server has it, else its only database whose name
/// does not start with `_`.
fn default_database(dbs: &[String]) -> Result<String> {
    if dbs.iter().any(|db| db == "Open_vSwitch") {
        return Ok("Open_vSwitch".into());
    }
    match dbs
        .iter()
        .filter(|db| !db.starts_with('_'))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [only] => Ok((*only).clone()),
        _ => Err("could not find a default database, please specify a database name".into()),
    }
}

async fn connect(server: &str) -> Result<OvsdbClient> {
    // No deadline on calls: a transaction may `wait` as long as it likes,
    // as with ovsdb-client (--timeout bounds the whole run instead).
    let options = ClientOptions::default().call_timeout(None);
    OvsdbClient::connect_with(server, options)
        .await
        .map_err(|e| format!("failed to connect to \"{server}\" ({e})"))
}
