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

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use futures::StreamExt;
use ovsdb_proto::atom::{Atom, AtomicType, Uuid};
use ovsdb_proto::client::{ClientOptions, MonitorMethod, MonitorState, OvsdbClient, Updates};
use ovsdb_proto::datum::{Datum, Map, Row, Set};
use ovsdb_proto::methods::Transact;
use ovsdb_proto::monitor::{
    MonitorId, MonitorRequest, MonitorRequests, MonitorSelect, RowUpdate, TableRequests,
};
use ovsdb_proto::operation::{Operation, OperationResult};
use ovsdb_proto::params::TransactParams;
use ovsdb_proto::schema::{BaseType, ColumnType, DatabaseSchema, Max, TableSchema};
use serde_json::Value;

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

async fn list_dbs(client: &OvsdbClient) -> Result<Vec<String>> {
    let mut dbs = client.list_dbs().await.map_err(|e| e.to_string())?;
    dbs.sort();
    Ok(dbs)
}

async fn get_schema(client: &OvsdbClient, db: &str) -> Result<DatabaseSchema> {
    client.get_schema(db).await.map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------
// transact, query

/// Runs the transaction `text` and prints its results.
async fn transact(client: &OvsdbClient, text: &str, out: &mut Printer) -> Result<()> {
    let params = parse_transaction(text)?;
    let results = run_transaction(client, params).await?;
    out.json(&results);
    Ok(())
}

/// Runs the transaction `text` with an `abort` added, so nothing it does
/// stays, and prints its results without the abort's.
async fn query(client: &OvsdbClient, text: &str, out: &mut Printer) -> Result<()> {
    let mut params = parse_transaction(text)?;
    params.operations.push(Operation::Abort);
    let abort_index = params.operations.len() - 1;
    let mut results = run_transaction(client, params).await?;
    if let Value::Array(list) = &mut results {
        let aborted = list.len() == abort_index + 1
            && list[abort_index].get("error").and_then(Value::as_str) == Some("aborted");
        if aborted {
            list.pop();
        }
    }
    out.json(&results);
    Ok(())
}

fn parse_transaction(text: &str) -> Result<TransactParams> {
    serde_json::from_str(text).map_err(|e| format!("\"{text}\": not a valid OVSDB query ({e})"))
}

/// The results of a transaction as JSON, whether it succeeded or not:
/// `ovsdb-client` prints them either way.
async fn run_transaction(client: &OvsdbClient, params: TransactParams) -> Result<Value> {
    let mut results = client
        .call::<Transact>(params)
        .await
        .map_err(|e| format!("transaction returned error: {e}"))?;
    for result in &mut results.0 {
        if let OperationResult::Rows(rows) = result {
            for row in rows {
                for datum in row.values_mut() {
                    *datum = reals_as_reals(datum);
                }
            }
        }
    }
    serde_json::to_value(&results).map_err(|e| e.to_string())
}

/// A datum read without its column's type holds a real column's whole
/// numbers as integers (JSON writes `2.0` as `2`), which sort before the
/// other reals. The atoms of a set (or the keys, or the values, of a map)
/// all have one type, so where one is a real all are: made reals again,
/// they sort as the server sorted them.
fn reals_as_reals(datum: &Datum) -> Datum {
    fn fix(atoms: &[&Atom]) -> Option<AtomicType> {
        atoms
            .iter()
            .any(|a| matches!(a, Atom::Real(_)))
            .then_some(AtomicType::Real)
    }
    match datum {
        Datum::Set(set) => match fix(&set.iter().collect::<Vec<_>>()) {
            Some(real) => Datum::Set(set.iter().map(|a| coerce(a, real)).collect::<Set>()),
            None => datum.clone(),
        },
        Datum::Map(map) => {
            let keys = fix(&map.iter().map(|(k, _)| k).collect::<Vec<_>>());
            let values = fix(&map.iter().map(|(_, v)| v).collect::<Vec<_>>());
            if keys.is_none() && values.is_none() {
                return datum.clone();
            }
            let keep =
                |a: &Atom, to: Option<AtomicType>| to.map_or_else(|| a.clone(), |t| coerce(a, t));
            Datum::Map(
                map.iter()
                    .map(|(k, v)| (keep(k, keys), keep(v, values)))
                    .collect::<Map>(),
            )
        }
    }
}

// ---------------------------------------------------------------------
// list-tables, list-columns

fn list_tables(schema: &DatabaseSchema) -> Table {
    let mut table = Table::new(None, &["Table"]);
    for name in schema.tables.keys() {
        table.rows.push(vec![Cell::Text(name.clone())]);
    }
    table
}

fn list_columns(schema: &DatabaseSchema, only: Option<&str>) -> Table {
    let headings: &[&str] = match only {
        None => &["Table", "Column", "Type"],
        Some(_) => &["Column", "Type"],
    };
    let mut table = Table::new(None, headings);
    for (name, ts) in &schema.tables {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        for (column, column_type) in all_columns(ts) {
            let mut row = Vec::new();
            if only.is_none() {
                row.push(Cell::Text(name.clone()));
            }
            row.push(Cell::Text(column));
            row.push(Cell::Json(
                serde_json::to_value(&column_type).unwrap_or(Value::Null),
            ));
            table.rows.push(row);
        }
    }
    table
}

/// The type of `_uuid` and `_version`.
fn uuid_type() -> ColumnType {
    ColumnType::scalar(BaseType::from(AtomicType::Uuid))
}

/// Every column of a table, `_uuid` and `_version` included, by name.
fn all_columns(ts: &TableSchema) -> Vec<(String, ColumnType)> {
    let mut columns: Vec<(String, ColumnType)> = ts
        .columns
        .iter()
        .map(|(name, c)| (name.clone(), c.column_type.clone()))
        .collect();
    columns.push(("_uuid".into(), uuid_type()));
    columns.push(("_version".into(), uuid_type()));
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    columns
}

/// The type of a column of `ts`, `_uuid` and `_version` included.
fn column_type(ts: &TableSchema, name: &str) -> Option<ColumnType> {
    match name {
        "_uuid" | "_version" => Some(uuid_type()),
        _ => ts.column(name).map(|c| c.column_type.clone()),
    }
}

// ---------------------------------------------------------------------
// dump

/// Prints every row of the database, or of one table (and some of its
/// columns), a table at a time, sorted as `ovsdb-client` sorts them.
async fn dump(client: &OvsdbClient, db: &str, args: &[String], out: &mut Printer) -> Result<()> {
    let schema = get_schema(client, db).await?;
    let mut tables: Vec<(&str, Vec<(String, ColumnType)>)> = Vec::new();
    match args {
        [] => {
            for (name, ts) in &schema.tables {
                tables.push((name, all_columns(ts)));
            }
        }
        [name, columns @ ..] => {
            let ts = schema
                .table(name)
                .ok_or_else(|| format!("No table \"{name}\" found."))?;
            let chosen = if columns.is_empty() {
                all_columns(ts)
            } else {
                let mut chosen = Vec::new();
                for column in columns {
                    let ct = column_type(ts, column)
                        .ok_or_else(|| format!("Table \"{name}\" has no column {column}."))?;
                    chosen.push((column.clone(), ct));
                }
                chosen.sort_by(|a, b| a.0.cmp(&b.0));
                chosen
            };
            tables.push((name, chosen));
        }
    }
    // _version is never dumped.
    for (_, columns) in &mut tables {
        columns.retain(|(name, _)| name != "_version");
    }

    let mut txn = client.transact(db);
    for (name, columns) in &tables {
        txn = txn
            .select(name, vec![])
            .columns(columns.iter().map(|(c, _)| c.clone()));
    }
    let outcome = txn.execute().await.map_err(|e| e.to_string())?;
    for (index, (name, columns)) in tables.iter().enumerate() {
        let rows = outcome
            .rows(index)
            .ok_or_else(|| format!("{name} table reply is not an object with a \"rows\" member"))?;
        out.table(&dump_table(name, columns, rows)?);
    }
    Ok(())
}

/// One table of a dump: `columns` (sorted by name) of `rows`, the rows
/// sorted by their values, those of UUID columns last since they are
/// random.
fn dump_table(name: &str, columns: &[(String, ColumnType)], rows: &[Row]) -> Result<Table> {
    let mut data: Vec<Vec<Datum>> = Vec::with_capacity(rows.len());
    for (y, row) in rows.iter().enumerate() {
        let mut values = Vec::with_capacity(columns.len());
        for (column, ct) in columns {
            let datum = row
                .get(column)
                .ok_or_else(|| format!("row {y} in table {name} response lacks {column} column"))?;
            values.push(normalize(datum, ct));
        }
        data.push(values);
    }
    let is_uuid = |ct: &ColumnType| ct.key.atomic_type() == AtomicType::Uuid;
    data.sort_by(|a, b| {
        let pass = |uuids: bool| {
            columns
                .iter()
                .enumerate()
                .filter(|(_, (_, ct))| is_uuid(ct) == uuids)
                .map(|(x, _)| compare_datums(&a[x], &b[x]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        };
        pass(false).then_with(|| pass(true))
    });
    let headings: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let mut table = Table::new(Some(format!("{name} table")), &headings);
    for values in data {
        let row = values
            .into_iter()
            .zip(columns)
            .map(|(datum, (_, ct))| Cell::Datum(datum, ct.clone()))
            .collect();
        table.rows.push(row);
    }
    Ok(table)
}

/// OVSDB's order of two datums of one type: the smaller first, then by
/// keys, then by values.
fn compare_datums(a: &Datum, b: &Datum) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| match (a, b) {
        (Datum::Set(a), Datum::Set(b)) => a.as_slice().cmp(b.as_slice()),
        (Datum::Map(a), Datum::Map(b)) => {
            let keys = a.iter().map(|(k, _)| k).cmp(b.iter().map(|(k, _)| k));
            keys.then_with(|| a.iter().map(|(_, v)| v).cmp(b.iter().map(|(_, v)| v)))
        }
        _ => a.cmp(b),
    })
}

// ---------------------------------------------------------------------
// monitor

/// One monitored table: its name and the columns printed, in order.
struct Watched {
    table: String,
    columns: Vec<(String, ColumnType)>,
}

/// Prints the rows of a table (or of ALL tables) there at first, then
/// each change, until interrupted.
async fn monitor(
    client: &OvsdbClient,
    server: &str,
    db: &str,
    args: &[String],
    out: &mut Printer,
) -> Result<()> {
    let schema = get_schema(client, db).await?;
    let (table_name, column_args) = args.split_first().ok_or("missing TABLE")?;
    let names: Vec<&String> = if table_name == "ALL" {
        schema.tables.keys().collect()
    } else if schema.tables.contains_key(table_name) {
        vec![table_name]
    } else {
        return Err(format!(
            "{server}: {db} does not have a table named \"{table_name}\""
        ));
    };
    let mut requests = MonitorRequests::new();
    let mut watched = Vec::new();
    for name in names {
        let ts = &schema.tables[name];
        let mut columns = Vec::new();
        let mut table_requests = Vec::new();
        let empty = [String::new()];
        let specs = if column_args.is_empty() {
            &empty[..]
        } else {
            column_args
        };
        for spec in specs {
            let request = monitor_request(server, db, name, ts, spec, &mut columns)?;
            table_requests.push(request);
        }
        requests.insert(name.clone(), TableRequests(table_requests));
        watched.push(Watched {
            table: name.clone(),
            columns,
        });
    }

    // Plain `monitor`, as `ovsdb-client monitor` asks: whole old and new
    // rows rather than monitor_cond's differences.
    let state = MonitorState {
        db: db.to_owned(),
        id: MonitorId(Value::from("ovsdb_client")),
        requests,
        method: MonitorMethod::Monitor,
        last_txn_id: None,
    };
    let mut stream = client
        .resume_monitor(state)
        .await
        .map_err(|e| e.to_string())?;
    print_updates(&stream.take_initial(), &watched, true, out);
    out.check()?;
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(event)) => {
                    print_updates(&event.updates, &watched, false, out);
                    out.check()?;
                }
                Some(Err(e)) => return Err(format!("{server}: {e}")),
                // The stream ends with the connection, or when the server
                // cancels the monitor, which it does when the database goes.
                None if client.is_closed() => return Err(format!("{server}: connection closed")),
                None => return Err(format!("{server}: {db} database was removed")),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One argument of `COLUMN,...`: the columns to watch (all but `_uuid`,
/// with `_version` last, when it names none) and `!initial`, `!insert`,
/// `!delete`, `!modify` to leave out kinds of changes.
fn monitor_request(
    server: &str,
    db: &str,
    table: &str,
    ts: &TableSchema,
    spec: &str,
    columns: &mut Vec<(String, ColumnType)>,
) -> Result<MonitorRequest> {
    let mut select = MonitorSelect {
        initial: true,
        insert: true,
        delete: true,
        modify: true,
    };
    let mut named = Vec::new();
    let mut add = |name: &str, ct: ColumnType, named: &mut Vec<String>| {
        if columns.iter().any(|(c, _)| c == name) {
            return Err(format!(
                "{server}: column \"{name}\" mentioned multiple times"
            ));
        }
        columns.push((name.to_owned(), ct));
        named.push(name.to_owned());
        Ok(())
    };
    for token in spec.split(',').filter(|t| !t.is_empty()) {
        match token {
            "!initial" => select.initial = false,
            "!insert" => select.insert = false,
            "!delete" => select.delete = false,
            "!modify" => select.modify = false,
            name => {
                let ct = column_type(ts, name).ok_or_else(|| {
                    format!(
                        "{server}: table \"{table}\" in {db} does not have a column named \"{name}\""
                    )
                })?;
                add(name, ct, &mut named)?;
            }
        }
    }
    if named.is_empty() {
        for (name, c) in &ts.columns {
            add(name, c.column_type.clone(), &mut named)?;
        }
        add("_version", uuid_type(), &mut named)?;
    }
    let all = select.initial && select.insert && select.delete && select.modify;
    Ok(MonitorRequest {
        columns: Some(named),
        conditions: None,
        select: (!all).then_some(select),
    })
}

/// Prints one table per watched table that has changes.
fn print_updates(updates: &Updates, watched: &[Watched], initial: bool, out: &mut Printer) {
    let Updates::Update(tables) = updates else {
        // Plain monitor only ever brings `update`s.
        return;
    };
    for w in watched {
        let Some(rows) = tables.get(&w.table) else {
            continue;
        };
        let caption = (watched.len() > 1).then(|| w.table.clone());
        let mut table = monitor_table(caption, w, rows, initial);
        table.timestamp = out.timestamp;
        out.table(&table);
    }
}

/// The changes to one table: `row`, `action`, then the watched columns.
fn monitor_table(
    caption: Option<String>,
    w: &Watched,
    rows: &std::collections::BTreeMap<Uuid, RowUpdate>,
    initial: bool,
) -> Table {
    let mut headings = vec!["row", "action"];
    headings.extend(w.columns.iter().map(|(c, _)| c.as_str()));
    let mut table = Table::new(caption, &headings);
    for (uuid, update) in rows {
        let uuid = uuid.to_string();
        match (&update.old, &update.new) {
            (_, Some(new)) if initial => table.rows.push(monitor_row(&uuid, "initial", new, w)),
            (None, Some(new)) => table.rows.push(monitor_row(&uuid, "insert", new, w)),
            (Some(old), None) => table.rows.push(monitor_row(&uuid, "delete", old, w)),
            (Some(old), Some(new)) => {
                table.rows.push(monitor_row(&uuid, "old", old, w));
                table.rows.push(monitor_row("", "new", new, w));
            }
            (None, None) => {}
        }
    }
    table
}

fn monitor_row(uuid: &str, action: &str, row: &Row, w: &Watched) -> Vec<Cell> {
    let mut cells = vec![Cell::Text(uuid.into()), Cell::Text(action.into())];
    for (column, ct) in &w.columns {
        cells.push(match row.get(column) {
            Some(datum) => Cell::Datum(normalize(datum, ct), ct.clone()),
            None => Cell::Empty,
        });
    }
    cells
}

// ---------------------------------------------------------------------
// Datums as cells

/// A datum as its column's type has it: a real column's whole numbers,
/// which JSON writes like integers, made reals again (so they sort among
/// the other reals).
fn normalize(datum: &Datum, ct: &ColumnType) -> Datum {
    let key = ct.key.atomic_type();
    match datum {
        Datum::Set(set) => Datum::Set(set.iter().map(|a| coerce(a, key)).collect::<Set>()),
        Datum::Map(map) => {
            let value = ct.value.as_ref().map_or(key, BaseType::atomic_type);
            Datum::Map(
                map.iter()
                    .map(|(k, v)| (coerce(k, key), coerce(v, value)))
                    .collect::<Map>(),
            )
        }
    }
}

fn coerce(atom: &Atom, to: AtomicType) -> Atom {
    match (atom, to) {
        #[allow(clippy::cast_precision_loss)]
        (Atom::Integer(i), AtomicType::Real) => Atom::Real(*i as f64),
        _ => atom.clone(),
    }
}

/// A datum as `ovsdb-client` prints it in a table: `[a, b]` for a set
/// that may hold more than one atom (or holds none), `{k=v}` for a map,
/// the bare atom otherwise.
fn datum_to_cell(datum: &Datum, ct: &ColumnType) -> String {
    let is_map = ct.is_map();
    let bracket = ct.max != Max::Limited(1) || datum.is_empty();
    let mut s = String::new();
    if bracket {
        s.push(if is_map { '{' } else { '[' });
    }
    let items: Vec<String> = match datum {
        Datum::Set(set) => set.iter().map(atom_to_cell).collect(),
        Datum::Map(map) => map
            .iter()
            .map(|(k, v)| format!("{}={}", atom_to_cell(k), atom_to_cell(v)))
            .collect(),
    };
    s.push_str(&items.join(", "));
    if bracket {
        s.push(if is_map { '}' } else { ']' });
    }
    s
}

/// An atom as OVSDB writes it for people: strings bare unless they would
/// read back as something else, reals as `%.15g`.
fn atom_to_cell(atom: &Atom) -> String {
    match atom {
        Atom::Integer(i) => i.to_string(),
        Atom::Real(r) => format_real(*r),
        Atom::Boolean(b) => b.to_string(),
        Atom::String(s) if string_needs_quotes(s) => {
            let mut out = String::new();
            write_json_string(s, &mut out);
            out
        }
        Atom::String(s) => s.clone(),
        Atom::Uuid(u) => u.to_string(),
        Atom::NamedUuid(n) => n.clone(),
    }
}

fn string_needs_quotes(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return true,
    }
    if !bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')) {
        return true;
    }
    s == "true" || s == "false" || Uuid::try_parse(s).is_ok()
}

/// C's `%.15g`, as OVSDB writes reals.
fn format_real(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    const PRECISION: i32 = 15;
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(PRECISION - 1 - exponent).unwrap_or(0);
        trim_fraction(&format!("{x:.decimals$}")).to_owned()
    }
}

/// Drops trailing zeros after a decimal point, and the point if nothing
/// follows it.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---------------------------------------------------------------------
// OVS's JSON writer

/// `value` as Open vSwitch writes JSON: object keys sorted, reals as
/// `%.15g`, only `"`, `\` and control characters escaped, and with
/// `pretty`, members on lines of their own indented by two spaces per
/// level, each closing bracket right after the last member.
fn ovs_json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_json(value, pretty, 0, &mut out);
    out
}

fn write_json(value: &Value, pretty: bool, depth: usize, out: &mut String) {
    let indent = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&" ".repeat(2 * depth));
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&format_real(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            if !items.is_empty() {
                indent(out, depth + 1);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        indent(out, depth + 1);
                    }
                    write_json(item, pretty, depth + 1, out);
                }
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            indent(out, depth + 1);
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    indent(out, depth + 1);
                }
                write_json_string(key, out);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(item, pretty, depth + 1, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------
// Tables

/// One cell of a table.
enum Cell {
    /// Text as it is (in JSON, a string).
    Text(String),
    /// A JSON value, written as JSON in both formats.
    Json(Value),
    /// A column's value, of that column's type.
    Datum(Datum, ColumnType),
    /// Nothing (in JSON, `null`).
    Empty,
}

impl Cell {
    /// The cell in a table, a list or CSV.
    fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Json(value) => ovs_json(value, false),
            Cell::Datum(datum, ct) => datum_to_cell(datum, ct),
            Cell::Empty => String::new(),
        }
    }

    /// The cell in JSON output.
    fn json(&self) -> Value {
        match self {
            Cell::Text(text) => Value::String(text.clone()),
            Cell::Json(value) => value.clone(),
            Cell::Datum(datum, _) => serde_json::to_value(datum).unwrap_or(Value::Null),
            Cell::Empty => Value::Null,
        }
    }
}

/// A table to print: an optional caption, headings, rows of cells.
struct Table {
    /// Whether the time is printed with it (a monitor's, with --timestamp).
    timestamp: bool,
    caption: Option<String>,
    headings: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(caption: Option<String>, headings: &[&str]) -> Self {
        Table {
            timestamp: false,
            caption,
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// Writes to stdout in the chosen format, flushing after each piece (a
/// monitor's changes show as they come).
struct Printer {
    format: Format,
    pretty: bool,
    headings: bool,
    timestamp: bool,
    /// Tables after the first are set apart by an empty line.
    first_table: bool,
    /// Whether a write failed.
    failed: bool,
}

impl Printer {
    fn new(cli: &Cli) -> Self {
        Printer {
            format: cli.format,
            pretty: cli.pretty,
            headings: !cli.no_headings,
            timestamp: cli.timestamp,
            first_table: true,
            failed: false,
        }
    }

    fn write(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            self.failed = true;
        }
    }

    /// Fails once a write has failed (the reader went away).
    fn check(&self) -> Result<()> {
        if self.failed {
            Err("write to stdout failed".into())
        } else {
            Ok(())
        }
    }

    fn line(&mut self, text: &str) {
        self.write(&format!("{text}\n"));
    }

    fn json(&mut self, value: &Value) {
        self.line(&ovs_json(value, self.pretty));
    }

    fn table(&mut self, table: &Table) {
        let time = table.timestamp.then(now_utc);
        let text = match self.format {
            Format::Json => {
                let mut json = table_to_json(table);
                if let (Some(time), Value::Object(object)) = (&time, &mut json) {
                    object.insert("time".into(), Value::String(time.clone()));
                }
                format!("{}\n", ovs_json(&json, self.pretty))
            }
            format => {
                let mut text = String::new();
                if !std::mem::take(&mut self.first_table) {
                    text.push('\n');
                }
                if let Some(time) = time {
                    text.push_str(&time);
                    text.push('\n');
                }
                if let Some(caption) = &table.caption {
                    text.push_str(caption);
                    text.push('\n');
                }
                text.push_str(&match format {
                    Format::List => render_list(table, self.headings),
                    Format::Csv => render_csv(table, self.headings),
                    _ => render_table(table, self.headings),
                });
                text
            }
        };
        self.write(&text);
    }
}

/// The time now as `ovsdb-client --timestamp` prints it, in UTC:
/// `2024-05-01 12:34:56.789`.
fn now_utc() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// `{"caption": ..., "headings": [...], "data": [[...], ...]}`.
fn table_to_json(table: &Table) -> Value {
    let mut object = serde_json::Map::new();
    if let Some(caption) = &table.caption {
        object.insert("caption".into(), Value::String(caption.clone()));
    }
    object.insert(
        "headings".into(),
        Value::Array(table.headings.iter().cloned().map(Value::String).collect()),
    );
    let data = table
        .rows
        .iter()
        .map(|row| Value::Array(row.iter().map(Cell::json).collect()))
        .collect();
    object.insert("data".into(), Value::Array(data));
    Value::Object(object)
}

/// Columns as wide as their widest cell (or heading), apart by one
/// space, no spaces at the ends of lines; widths in bytes, as C counts.
fn render_table(table: &Table, headings: bool) -> String {
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| row.iter().map(Cell::text).collect())
        .collect();
    let widths: Vec<usize> = (0..table.headings.len())
        .map(|x| {
            let widest = cells.iter().map(|row| row[x].len()).max().unwrap_or(0);
            if headings {
                widest.max(table.headings[x].len())
            } else {
                widest
            }
        })
        .collect();
    let mut out = String::new();
    let mut line = |texts: &mut dyn Iterator<Item = String>| {
        let mut text = String::new();
        for (x, cell) in texts.enumerate() {
            if x > 0 {
                text.push(' ');
            }
            text.push_str(&cell);
            text.push_str(&" ".repeat(widths[x].saturating_sub(cell.len())));
        }
        out.push_str(text.trim_end_matches(' '));
        out.push('\n');
    };
    if headings {
        line(&mut table.headings.iter().cloned());
        line(&mut widths.iter().map(|w| "-".repeat(*w)));
    }
    for row in cells {
        line(&mut row.into_iter());
    }
    out
}

/// One `heading: value` line per cell (headings padded to 20), rows apart
/// by an empty line.
fn render_list(table: &Table, headings: bool) -> String {
    let mut out = String::new();
    for (y, row) in table.rows.iter().enumerate() {
        if y > 0 {
            out.push('\n');
        }
        for (heading, cell) in table.headings.iter().zip(row) {
            if headings {
                let _ = write!(out, "{heading:<20}: ");
            }
            out.push_str(&cell.text());
            out.push('\n');
        }
    }
    out
}

fn render_csv(table: &Table, headings: bool) -> String {
    let field = |text: &str| {
        if text.contains(['\n', '"', ',']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    if headings {
        let line: Vec<String> = table.headings.iter().map(|h| field(h)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    for row in &table.rows {
        let line: Vec<String> = row.iter().map(|c| field(&c.text())).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}
