//! OVSDB workloads against a real ovsdb-server, for clients side by side.
//!
//! ```text
//! cargo run --release --example ovsdb_bench
//! ```
//!
//! Starts `ovsdb-server` (Debian's openvswitch-common) on a Unix socket in a
//! temporary directory with a one-table schema, and measures:
//! - transactions/s of single-row inserts, one at a time and 64 in flight,
//!   by a raw-socket client that writes pre-serialized requests and only
//!   counts the replies (the most the server gives any client);
//! - the time for python's `ovs.db.idl` (Debian's python3-openvswitch) to
//!   receive the monitor updates of 10,000 rows inserted after it synced,
//!   and to receive an initial dump of 100,000 rows, with its peak memory.
//!
//! Each client runs as its own process. Flags: `--txns N`, `--update-rows N`,
//! `--dump-rows N` change the sizes.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

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
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;

    println!(
        "transactions/s, single-row inserts ({} per run):",
        args.txns
    );
    for in_flight in [1, 64] {
        let server = OvsdbServer::start(dir.path(), &format!("txn{in_flight}")).await?;
        let rate = raw_inserts(&server.socket, args.txns, in_flight, 1).await?;
        println!("  raw socket, {in_flight:>2} in flight: {rate:>9.0} txn/s");
    }

    println!(
        "monitor updates of {} rows inserted after sync:",
        args.update_rows
    );
    let server = OvsdbServer::start(dir.path(), "updates").await?;
    let (secs, kib) = python_idl(&server, args.update_rows, true).await?;
    println!(
        "  python ovs.db.idl: {secs:>7.3} s, peak {:.1} MiB",
        kib as f64 / 1024.0
    );

    println!("initial dump of {} rows:", args.dump_rows);
    let server = OvsdbServer::start(dir.path(), "dump").await?;
    preload(&server.socket, args.dump_rows).await?;
    let (secs, kib) = python_idl(&server, args.dump_rows, false).await?;
    println!(
        "  python ovs.db.idl: {secs:>7.3} s, peak {:.1} MiB",
        kib as f64 / 1024.0
    );
    Ok(())
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

/// Runs python's IDL on the table until it holds `rows` rows; with `insert`,
/// inserts them once it has synced. Returns its seconds and
/// peak memory in KiB.
async fn python_idl(server: &OvsdbServer, rows: u64, insert: bool) -> Result<(f64, u64)> {
    let mut child = Command::new("/usr/bin/python3")
        .arg(repo().join("tests/peers/ovs/idl_bench.py"))
        .arg(format!("unix:{}", server.socket.display()))
        .arg(&server.schema)
        .arg("Rows")
        .arg(rows.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!("python3: {e}; install python3-openvswitch (scripts/install/ovs.sh)")
        })?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next_line()
        .await?
        .ok_or("idl_bench.py ended before READY")?;
    if !ready.starts_with("READY") {
        return Err(format!("idl_bench.py said {ready:?}").into());
    }
    if insert {
        insert_rows(&server.socket, rows).await?;
    }
    let done = lines
        .next_line()
        .await?
        .ok_or("idl_bench.py ended before DONE")?;
    let fields: Vec<&str> = done.split_whitespace().collect();
    match fields.as_slice() {
        ["DONE", secs, kib] => Ok((secs.parse()?, kib.parse()?)),
        _ => Err(format!("idl_bench.py said {done:?}").into()),
    }
}
