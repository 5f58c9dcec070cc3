//! OVSDB workloads against a real ovsdb-server, for clients side by side.
//!
//! ```text
//! cargo run --release --example ovsdb_bench
//! ```
//!
//! Starts `ovsdb-server` (Debian's openvswitch-common) on a Unix socket in a
//! temporary directory with a one-table schema, and measures, for our
//! `OvsdbClient` beside the others:
//! - transactions/s of single-row inserts, one at a time and 64 in flight,
//!   beside a raw-socket client that writes pre-serialized requests and
//!   only counts the replies (the most the server gives any client);
//! - the time to receive the monitor updates of 10,000 rows inserted after
//!   the monitor started, and an initial dump of 100,000 rows, into a
//!   replica of the table, with the process's peak memory, beside python's
//!   `ovs.db.idl` (Debian's python3-openvswitch).
//!
//! Each replica runs as its own process (this program again, with
//! `--replica`), so peak memory is the client's alone. Each replica runs
//! twice: straight from the server (the time the server sets the pace of),
//! and through a proxy that holds the server's messages until it has sent
//! them all, then lets them go at once (the time from then on is the
//! replica's own ingest). Flags: `--txns N`,
//! `--update-rows N`, `--dump-rows N` change the sizes.

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use ovsdb_proto::atom::{Atom, Uuid};
use ovsdb_proto::client::{OvsdbClient, Updates};
use ovsdb_proto::datum::{Datum, Row, Set};
use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests, RowUpdate2};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

mod proxy;

use proxy::Proxy;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The schema the workloads use: one root table of small rows.
const SCHEMA: &str = r#"{
  "name": "Bench",
  "version": "1.0.0",
  "tables": {
    "Rows": {
      "columns": {
        "name": {"type": "string"},
        "value": {"type": "integer"},
        "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}}
      },
      "isRoot": true
    }
  }
}"#;

#[derive(Parser)]
#[command(about = "OVSDB client workloads against a real ovsdb-server")]
struct Args {
    /// Single-row insert transactions per run.
    #[arg(long, default_value_t = 20_000)]
    txns: u64,
    /// Rows inserted while a monitor watches.
    #[arg(long, default_value_t = 10_000)]
    update_rows: u64,
    /// Rows in the table before a monitor starts (the initial dump).
    #[arg(long, default_value_t = 100_000)]
    dump_rows: u64,
    /// Run as our replica process: `--replica REMOTE EXPECT` (internal).
    #[arg(long, num_args = 2, value_names = ["REMOTE", "EXPECT"], hide = true)]
    replica: Option<Vec<String>>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // A replica runs on one thread, as python's IDL does: its memory is
    // then one heap's, not one per worker thread.
    let mut runtime = match args.replica {
        Some(_) => tokio::runtime::Builder::new_current_thread(),
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    if let Some(replica) = &args.replica {
        return run_replica(&replica[0], replica[1].parse()?).await;
    }
    let dir = tempfile::tempdir()?;

    println!(
        "transactions/s, single-row inserts ({} per run):",
        args.txns
    );
    for in_flight in [1, 64] {
        let server = OvsdbServer::start(dir.path(), &format!("raw{in_flight}")).await?;
        let raw = raw_inserts(&server.socket, args.txns, in_flight, 1).await?;
        let server = OvsdbServer::start(dir.path(), &format!("ours{in_flight}")).await?;
        let ours = our_inserts(&server.socket, args.txns, in_flight).await?;
        println!(
            "  {in_flight:>2} in flight: ours {ours:>7.0} txn/s, raw socket {raw:>7.0} txn/s, ours/raw {:.0}%",
            100.0 * ours / raw
        );
    }

    println!(
        "monitor updates of {} rows inserted after sync:",
        args.update_rows
    );
    let server = OvsdbServer::start(dir.path(), "updates-raw").await?;
    let secs = raw_replica(&server, args.update_rows, true).await?;
    println!("  raw socket: {secs:>7.3} s (the server's pace: nothing parsed)");
    replicas(dir.path(), "updates", args.update_rows, true).await?;

    println!("initial dump of {} rows:", args.dump_rows);
    let server = OvsdbServer::start(dir.path(), "dump-raw").await?;
    preload(&server.socket, args.dump_rows).await?;
    let secs = raw_replica(&server, args.dump_rows, false).await?;
    println!("  raw socket: {secs:>7.3} s (the server's pace: nothing parsed)");
    replicas(dir.path(), "dump", args.dump_rows, false).await?;
    Ok(())
}

/// Our replica and python's, each straight from the server, then through
/// a proxy that holds the server's messages and sends them at once (the
/// time from then on is the replica's ingest alone).
async fn replicas(dir: &Path, name: &str, rows: u64, insert: bool) -> Result<()> {
    let mut ingest = Vec::new();
    for replica in [Replica::Ours, Replica::Python] {
        let mut secs = [0.0; 2];
        let mut peak = 0;
        for (at, held) in [false, true].into_iter().enumerate() {
            let server = OvsdbServer::start(dir, &format!("{name}-{replica:?}-{held}")).await?;
            if !insert {
                preload(&server.socket, rows).await?;
            }
            let run = replicate(replica, &server, rows, insert, held).await?;
            secs[at] = run.secs;
            if !held {
                peak = run.peak_kib;
            }
        }
        println!(
            "  {replica:?}: {:>7.3} s, peak {:>6.1} MiB; held, then sent at once: {:>7.3} s",
            secs[0],
            peak as f64 / 1024.0,
            secs[1]
        );
        ingest.push(secs[1]);
    }
    if let [ours, python] = ingest[..] {
        println!(
            "  ingest (held, then sent at once): ours {:.1}x python's speed",
            python / ours
        );
    }
    Ok(())
}

// ------------------------------------------------------------- our client

/// The same inserts as [`raw_inserts`], through `OvsdbClient`: each
/// transaction built, sent, and its typed reply read.
async fn our_inserts(socket: &Path, txns: u64, in_flight: u64) -> Result<f64> {
    let client = OvsdbClient::connect(&format!("unix:{}", socket.display())).await?;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let workers = (0..in_flight).map(|_| {
        let client = client.clone();
        let next = next.clone();
        tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= txns {
                    return Ok::<_, ovsdb_proto::client::ClientError>(());
                }
                client
                    .transact("Bench")
                    .insert("Rows", row(n))
                    .execute()
                    .await?;
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker??;
    }
    Ok(txns as f64 / start.elapsed().as_secs_f64())
}

/// The row `insert_request` writes as text.
fn row(n: u64) -> Row {
    let n = n as i64;
    let tags: Set = [Atom::from("a"), Atom::from("b")].into_iter().collect();
    Row::from([
        (
            "name".to_owned(),
            Datum::from(Atom::from(format!("row-{n}"))),
        ),
        ("value".to_owned(), Datum::from(Atom::from(n))),
        ("tags".to_owned(), Datum::from(tags)),
    ])
}

/// Our replica: monitors the table with `OvsdbClient` and keeps every row
/// in a map, until it holds `expect`; speaks `idl_bench.py`'s lines.
async fn run_replica(remote: &str, expect: usize) -> Result<()> {
    let client = OvsdbClient::connect(remote).await?;
    let requests = MonitorRequests::from([("Rows".to_owned(), MonitorRequest::default().into())]);
    let mut start = Instant::now();
    let mut monitor = client.monitor("Bench", requests).await?;
    let mut replica: HashMap<Uuid, Row> = HashMap::new();
    apply(&mut replica, monitor.take_initial());
    println!("READY {}", replica.len());
    if replica.len() < expect {
        start = Instant::now();
        while replica.len() < expect {
            let event = monitor.next().await.ok_or("the monitor ended")??;
            apply(&mut replica, event.updates);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("DONE {secs:.6} {}", peak_rss_kib()?);
    Ok(())
}

/// Applies one notification's changes to the replica.
fn apply(replica: &mut HashMap<Uuid, Row>, updates: Updates) {
    match updates {
        Updates::Update2(tables) => {
            for (uuid, change) in tables.into_values().flatten() {
                match change {
                    RowUpdate2::Initial(row) | RowUpdate2::Insert(row) => {
                        replica.insert(uuid, row);
                    }
                    RowUpdate2::Delete => {
                        replica.remove(&uuid);
                    }
                    RowUpdate2::Modify(diff) => {
                        if let Some(row) = replica.get_mut(&uuid) {
                            row.extend(diff);
                        }
                    }
                }
            }
        }
        Updates::Update(tables) => {
            for (uuid, change) in tables.into_values().flatten() {
                match change.new {
                    Some(row) => {
                        replica.insert(uuid, row);
                    }
                    None => {
                        replica.remove(&uuid);
                    }
                }
            }
        }
    }
}

/// This process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("VmHWM without a value")?
        .parse()?)
}

// ------------------------------------------------------------ the server

/// A real ovsdb-server on a fresh database, killed on drop.
struct OvsdbServer {
    socket: PathBuf,
    schema: PathBuf,
    _child: Child,
}

impl OvsdbServer {
    async fn start(dir: &Path, name: &str) -> Result<Self> {
        let schema = dir.join("bench.ovsschema");
        std::fs::write(&schema, SCHEMA)?;
        let db = dir.join(format!("{name}.db"));
        let socket = dir.join(format!("{name}.sock"));
        let created = Command::new("ovsdb-tool")
            .arg("create")
            .arg(&db)
            .arg(&schema)
            .status()
            .await
            .map_err(|e| {
                format!("ovsdb-tool: {e}; install openvswitch-common (scripts/install/ovs.sh)")
            })?;
        if !created.success() {
            return Err("ovsdb-tool create failed".into());
        }
        let child = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", socket.display()))
            .arg(format!(
                "--unixctl={}",
                dir.join(format!("{name}.ctl")).display()
            ))
            .arg(format!(
                "--log-file={}",
                dir.join(format!("{name}.log")).display()
            ))
            .arg("--no-chdir")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!("ovsdb-server: {e}; install openvswitch-common (scripts/install/ovs.sh)")
            })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).await.is_err() {
            if Instant::now() > deadline {
                return Err("ovsdb-server did not start listening".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(OvsdbServer {
            socket,
            schema,
            _child: child,
        })
    }
}

// ---------------------------------------------------- the raw-socket client

/// One transaction inserting `rows` rows, numbered from `first`, as bytes.
fn insert_request(id: u64, first: u64, rows: u64) -> Vec<u8> {
    let ops: Vec<String> = (first..first + rows)
        .map(|n| {
            format!(
                r#"{{"op":"insert","table":"Rows","row":{{"name":"row-{n}","value":{n},"tags":["set",["a","b"]]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"id":{id},"method":"transact","params":["Bench",{}]}}"#,
        ops.join(",")
    )
    .into_bytes()
}

/// Sends `txns` transactions of `rows_each` rows, `in_flight` at a time,
/// every request serialized before the clock starts; returns transactions/s.
async fn raw_inserts(socket: &Path, txns: u64, in_flight: u64, rows_each: u64) -> Result<f64> {
    let requests: Vec<Vec<u8>> = (0..txns)
        .map(|i| insert_request(i, i * rows_each, rows_each))
        .collect();
    let (mut read, mut write) = UnixStream::connect(socket).await?.into_split();
    // The reader publishes how many replies it has seen; the writer keeps
    // `in_flight` requests ahead of that.
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(0u64);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut counter = ReplyCounter::default();
        let mut buf = vec![0u8; 64 * 1024];
        while counter.replies < txns {
            let n = read.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::other("ovsdb-server closed the connection"));
            }
            counter.feed(&buf[..n]);
            if counter.failed {
                return Err(std::io::Error::other("a transaction failed"));
            }
            seen_tx.send_replace(counter.replies);
        }
        Ok(())
    });
    for (sent, request) in (0u64..).zip(&requests) {
        while sent >= *seen_rx.borrow_and_update() + in_flight {
            if seen_rx.changed().await.is_err() {
                break;
            }
        }
        write.write_all(request).await?;
    }
    reader.await??;
    Ok(txns as f64 / start.elapsed().as_secs_f64())
}

/// Counts complete top-level JSON texts in a byte stream (replies), and
/// notices a reply whose result holds an `"error"`.
#[derive(Default)]
struct ReplyCounter {
    depth: u32,
    in_string: bool,
    escaped: bool,
    replies: u64,
    failed: bool,
}

impl ReplyCounter {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.replies += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
        // A success carries `"error":null`; a failure an error object or
        // string (one cut between two reads is missed: a bench, not a test).
        self.failed |= bytes
            .windows(9)
            .any(|w| w == br#""error":{"# || w == br#""error":""#);
    }
}

/// The least time any replica can take: a raw socket asks for the same
/// monitor and only counts the messages that come back (the reply, then,
/// with `insert`, one `update2` per transaction of 100 rows).
async fn raw_replica(server: &OvsdbServer, rows: u64, insert: bool) -> Result<f64> {
    let (mut read, mut write) = UnixStream::connect(&server.socket).await?.into_split();
    let request = br#"{"id":0,"method":"monitor_cond","params":["Bench",null,{"Rows":[{}]}]}"#;
    let mut start = Instant::now();
    write.write_all(request).await?;
    let mut counter = ReplyCounter::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut expect = 1;
    if insert {
        while counter.replies < 1 {
            let n = read.read(&mut buf).await?;
            counter.feed(buf.get(..n).unwrap_or_default());
        }
        expect += rows.div_ceil(100);
        start = Instant::now();
        let socket = server.socket.clone();
        tokio::spawn(async move { insert_rows(&socket, rows).await.map_err(|e| e.to_string()) });
    }
    while counter.replies < expect {
        let n = read.read(&mut buf).await?;
        if n == 0 {
            return Err("ovsdb-server closed the connection".into());
        }
        counter.feed(buf.get(..n).unwrap_or_default());
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Fills the table with `rows` rows, 1,000 to a transaction.
async fn preload(socket: &Path, rows: u64) -> Result<()> {
    const PER_TXN: u64 = 1_000;
    raw_inserts(socket, rows.div_ceil(PER_TXN), 8, PER_TXN).await?;
    Ok(())
}

/// Inserts `rows` rows while a monitor watches: 100 to a transaction, 64
/// transactions in flight, so that the server sends the updates faster
/// than a client applies them and what is measured is the client.
async fn insert_rows(socket: &Path, rows: u64) -> Result<()> {
    const PER_TXN: u64 = 100;
    raw_inserts(socket, rows.div_ceil(PER_TXN), 64, PER_TXN).await?;
    Ok(())
}

// ------------------------------------------------------------ python's IDL

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A replica process.
#[derive(Debug, Clone, Copy)]
enum Replica {
    /// `OvsdbClient` (this program with `--replica`).
    Ours,
    /// `ovs.db.idl` (`tests/peers/ovs/idl_bench.py`).
    Python,
}

/// How one replica run went.
struct ReplicaRun {
    /// As the replica measured it; through the proxy, from the release.
    secs: f64,
    peak_kib: u64,
}

/// A message larger than this is a dump: the proxy forwards it only once
/// the server has sent all of it.
const DUMP_BYTES: usize = 1 << 20;

/// Runs a replica of the table until it holds `rows` rows; with `insert`,
/// inserts them once it has synced. With `held`, the replica reads through
/// a [`Proxy`] that holds the updates (or the dump) until the server has
/// sent them all, and the time is from their release to the replica's end.
async fn replicate(
    replica: Replica,
    server: &OvsdbServer,
    rows: u64,
    insert: bool,
    held: bool,
) -> Result<ReplicaRun> {
    let mut proxy = match held {
        true => Some(Proxy::start(
            &server.socket.with_extension("proxy"),
            &server.socket,
            DUMP_BYTES,
        )?),
        false => None,
    };
    let socket = proxy.as_ref().map_or(&server.socket, |p| &p.socket);
    let remote = format!("unix:{}", socket.display());
    let mut command = match replica {
        Replica::Ours => {
            let mut c = Command::new(std::env::current_exe()?);
            c.arg("--replica").arg(&remote).arg(rows.to_string());
            c
        }
        Replica::Python => {
            let mut c = Command::new("/usr/bin/python3");
            c.arg(repo().join("tests/peers/ovs/idl_bench.py"))
                .arg(&remote)
                .arg(&server.schema)
                .arg("Rows")
                .arg(rows.to_string());
            c
        }
    };
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "{replica:?} replica: {e}; install python3-openvswitch (scripts/install/ovs.sh)"
            )
        })?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next_line()
        .await?
        .ok_or("the replica ended before READY")?;
    if !ready.starts_with("READY") {
        return Err(format!("the replica said {ready:?}").into());
    }
    if insert {
        if let Some(proxy) = &proxy {
            proxy.hold();
        }
        insert_rows(&server.socket, rows).await?;
        if let Some(proxy) = &mut proxy {
            // One update per transaction of 100 rows (see `insert_rows`).
            proxy.wait_for_updates(rows.div_ceil(100)).await?;
            proxy.release();
        }
    }
    let done = lines
        .next_line()
        .await?
        .ok_or("the replica ended before DONE")?;
    let done_at = Instant::now();
    let fields: Vec<&str> = done.split_whitespace().collect();
    let (secs, peak_kib) = match fields.as_slice() {
        ["DONE", secs, kib] => (secs.parse()?, kib.parse()?),
        _ => return Err(format!("the replica said {done:?}").into()),
    };
    let secs = match proxy {
        Some(proxy) => {
            let released = proxy.released_at().ok_or("the proxy released nothing")?;
            done_at.duration_since(released).as_secs_f64()
        }
        None => secs,
    };
    Ok(ReplicaRun { secs, peak_kib })
}
