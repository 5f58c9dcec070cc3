//! A load generator for any JSON-RPC 2.0 server, on the framework's client.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/bench_server --listen punix:/tmp/bench.sock --ignore-stdin &
//! target/release/examples/load --connect unix:/tmp/bench.sock --connections 1 --in-flight 64 --calls 500000
//! ```
//!
//! Each connection is one [`PeerHandle`] shared by `--in-flight` worker
//! tasks; each worker loops "call, await the reply" until `--calls` calls
//! (over all connections) have been made, or `--max-secs` has passed. Every
//! call's latency is recorded (from just before the call to its reply being
//! decoded); the tool prints calls/s, latency percentiles and the errors,
//! then a `RESULT` line with the same figures for scripts.
//!
//! `--method add` sends `{"jsonrpc":"2.0","id":N,"method":"add","params":[N,7]}`
//! and checks the sum; `--method echo` sends the same params to `echo` and
//! checks they come back. A reply with the wrong value counts as an error.
//!
//! `--spawn-server ours|ceiling` starts `bench_server` or `ceiling_server`
//! in this process, on its own runtime and a temporary Unix socket, instead of
//! `--connect`: handy for a quick look, but server and client then share one
//! process; run the server as its own process for figures worth quoting.

// Each server example stands alone with its own `support`, so embedding both
// here loads that file more than once: harmless, as it is only functions.
#![allow(clippy::duplicate_mod)]

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "bench_server.rs"]
mod bench_server;
#[allow(dead_code)]
#[path = "ceiling_server.rs"]
mod ceiling_server;

use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bench_server::FramingKind;
use clap::{Parser, ValueEnum};
use jsonrpc_core::codec::{ContentLengthCodec, Framing, JsonStreamCodec, LineCodec};
use jsonrpc_core::{CallError, Method, Peer, PeerHandle};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, ListenEndpoint};

/// `add`: `[a, b]` -> `a + b`.
struct Add;
impl Method for Add {
    const NAME: &'static str = "add";
    type Params = (i64, i64);
    type Result = i64;
    type Error = serde_json::Value;
}

/// `echo`: the params come back as the result.
struct Echo;
impl Method for Echo {
    const NAME: &'static str = "echo";
    type Params = (i64, i64);
    type Result = (i64, i64);
    type Error = serde_json::Value;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MethodKind {
    /// `add` with `[N, 7]`; the sum is checked.
    Add,
    /// `echo` with `[N, 7]`; the echo is checked.
    Echo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServerKind {
    /// bench_server: the framework's server.
    Ours,
    /// ceiling_server: the hand-written one (`add` only).
    Ceiling,
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for JSON-RPC 2.0 servers over TCP or Unix sockets")]
struct Args {
    /// Server to load: unix:PATH or tcp:HOST:PORT.
    #[arg(
        long,
        value_name = "ENDPOINT",
        required_unless_present = "spawn_server"
    )]
    connect: Option<Endpoint>,
    /// Start this server in-process on a temporary Unix socket instead of
    /// --connect (convenient; a separate server process measures better).
    #[arg(long, value_enum, conflicts_with = "connect")]
    spawn_server: Option<ServerKind>,
    /// Connections to open.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    connections: u64,
    /// Calls in flight on each connection (worker tasks per connection).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    in_flight: u64,
    /// Calls to make and measure, over all connections.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// Calls to make first, not measured (connections and caches warm up).
    #[arg(long, default_value_t = 10_000)]
    warmup: u64,
    /// Stop making calls after this many seconds, whatever --calls says.
    #[arg(long, default_value_t = 300)]
    max_secs: u64,
    /// How messages are delimited.
    #[arg(long, value_enum, default_value_t = FramingKind::Stream)]
    framing: FramingKind,
    /// Which method to call.
    #[arg(long, value_enum, default_value_t = MethodKind::Add)]
    method: MethodKind,
    /// Tokio worker threads of the client; 1 (the default) runs a
    /// single-threaded runtime, which leaves the other core of a 2-core
    /// machine to the server.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Tokio worker threads of a --spawn-server server.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
}

/// A server started in this process (`--spawn-server`).
enum Spawned {
    Ours(bench_server::FramingKind, jsonrpc_transport::RunningServer),
    Ceiling(ceiling_server::Ceiling),
}

fn ceiling_framing(f: FramingKind) -> ceiling_server::ReplyFraming {
    match f {
        FramingKind::Stream => ceiling_server::ReplyFraming::Stream,
        FramingKind::Line => ceiling_server::ReplyFraming::Line,
        FramingKind::ContentLength => ceiling_server::ReplyFraming::ContentLength,
    }
}

fn main() -> std::process::ExitCode {
    support::exit_code("load", run_main())
}

fn run_main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if args.spawn_server == Some(ServerKind::Ceiling) && args.method != MethodKind::Add {
        return Err("the ceiling server answers `add` only".into());
    }
    // A spawned server gets its own runtime (its own threads), as it would
    // as a separate process.
    let mut server_runtime = None;
    let mut spawned = None;
    let endpoint = match (&args.connect, args.spawn_server) {
        (Some(e), _) => e.clone(),
        (None, Some(kind)) => {
            // Multi-threaded even for one thread: its workers then run the
            // server without anyone calling `block_on`.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.server_threads.max(1))
                .enable_all()
                .build()?;
            let path: PathBuf =
                std::env::temp_dir().join(format!("jsonrpc-load-{}.sock", std::process::id()));
            let listen = vec![ListenEndpoint::Unix(path.clone())];
            spawned = Some(match kind {
                ServerKind::Ours => {
                    let s = rt.block_on(bench_server::start(args.framing, listen, None))?;
                    Spawned::Ours(args.framing, s)
                }
                ServerKind::Ceiling => Spawned::Ceiling(
                    rt.block_on(ceiling_server::start(ceiling_framing(args.framing), listen))?,
                ),
            });
            server_runtime = Some(rt);
            Endpoint::Unix(path)
        }
        (None, None) => return Err("give --connect ENDPOINT or --spawn-server".into()),
    };
    if let Some(s) = &spawned {
        let what = match s {
            Spawned::Ours(f, _) => format!("bench_server (framing {})", f.name()),
            Spawned::Ceiling(_) => "ceiling_server".to_owned(),
        };
        println!(
            "spawned {what} on {endpoint} with {} thread(s)",
            args.server_threads
        );
    }

    let outcome = support::runtime(args.threads)?.block_on(run(&args, &endpoint));

    if let (Some(rt), Some(s)) = (server_runtime, spawned) {
        match s {
            Spawned::Ours(_, server) => rt.block_on(server.shutdown(Duration::from_secs(5))),
            Spawned::Ceiling(server) => rt.block_on(server.shutdown()),
        }
    }
    outcome
}

/// Connects, warms up, measures, prints.
async fn run(args: &Args, endpoint: &Endpoint) -> Result<(), Box<dyn Error>> {
    let mut peers = Vec::new();
    for _ in 0..args.connections {
        let stream = connect(endpoint, &ConnectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        peers.push(into_peer(stream, args.framing));
    }
    println!(
        "load: `{}` on {endpoint}, framing {}, {} connection(s) x {} in flight, \
         {} calls (+{} warmup), client {} thread(s)",
        match args.method {
            MethodKind::Add => "add",
            MethodKind::Echo => "echo",
        },
        args.framing.name(),
        args.connections,
        args.in_flight,
        args.calls,
        args.warmup,
        args.threads,
    );
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    if args.warmup > 0 {
        let warm = phase(&peers, args, args.warmup, deadline).await;
        if warm.errors > 0 {
            println!(
                "warmup: {} of {} calls failed; first error: {}",
                warm.errors,
                warm.ok + warm.errors,
                warm.first_error.as_deref().unwrap_or("?")
            );
        }
    }
    let steal_before = cpu_steal();
    let mut result = phase(&peers, args, args.calls, deadline).await;
    result.steal_pct = steal_before
        .zip(cpu_steal())
        .and_then(|((t0, s0), (t1, s1))| {
            (t1 > t0).then(|| 100.0 * (s1.saturating_sub(s0)) as f64 / (t1 - t0) as f64)
        });
    for peer in &peers {
        peer.close();
    }
    report(&result);
    match (result.ok, result.errors) {
        (0, _) => Err("no call succeeded".into()),
        (_, 0) => Ok(()),
        (_, n) => Err(format!("{n} call(s) failed").into()),
    }
}

fn into_peer(stream: jsonrpc_transport::Stream, framing: FramingKind) -> PeerHandle {
    fn with<F: Framing + Clone>(stream: jsonrpc_transport::Stream, codec: F) -> PeerHandle {
        stream.into_peer(Peer::new(codec))
    }
    match framing {
        FramingKind::Stream => with(stream, JsonStreamCodec::new()),
        FramingKind::Line => with(stream, LineCodec::new()),
        FramingKind::ContentLength => with(stream, ContentLengthCodec::new()),
    }
}

/// What one measured run gave.
struct PhaseResult {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    /// Latency of each successful call, in nanoseconds, sorted.
    latencies: Vec<u64>,
    stopped_by_deadline: bool,
    /// Share of the machine's CPU time the hypervisor took during the run.
    steal_pct: Option<f64>,
}

/// The machine's CPU time so far and the part of it stolen by the
/// hypervisor, in clock ticks (Linux `/proc/stat`; None elsewhere).
fn cpu_steal() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal
    (ticks.len() == 8).then(|| (ticks.iter().sum(), ticks[7]))
}

/// Makes `calls` calls with `in_flight` workers on each connection.
async fn phase(peers: &[PeerHandle], args: &Args, calls: u64, deadline: Instant) -> PhaseResult {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let workers = peers.len() as u64 * args.in_flight;
    // Grows past this if needed; no huge up-front allocation for huge --calls.
    let per_worker = (calls / workers.max(1) + 1).min(1 << 16) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for peer in peers {
        for _ in 0..args.in_flight {
            let w = Worker {
                peer: peer.clone(),
                method: args.method,
                next: next.clone(),
                total: calls,
                deadline,
                errors: errors.clone(),
                first_error: first_error.clone(),
            };
            tasks.push(tokio::spawn(w.run(Vec::with_capacity(per_worker))));
        }
    }
    let mut per_task = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(l) => per_task.push(l),
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                let _ = first_error.set(format!("a worker task failed: {e}"));
            }
        }
    }
    let elapsed = started.elapsed();
    let mut latencies = Vec::with_capacity(per_task.iter().map(Vec::len).sum());
    for l in per_task {
        latencies.extend_from_slice(&l);
    }
    latencies.sort_unstable();
    PhaseResult {
        ok: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.get().cloned(),
        elapsed,
        latencies,
        stopped_by_deadline: Instant::now() >= deadline,
        steal_pct: None,
    }
}

/// One of the tasks sharing a connection: call, await, record, repeat.
struct Worker {
    peer: PeerHandle,
    method: MethodKind,
    next: Arc<AtomicU64>,
    total: u64,
    deadline: Instant,
    errors: Arc<AtomicU64>,
    first_error: Arc<OnceLock<String>>,
}

impl Worker {
    async fn run(self, mut latencies: Vec<u64>) -> Vec<u64> {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            if n >= self.total {
                break;
            }
            let a = n as i64;
            let start = Instant::now();
            if start >= self.deadline {
                break;
            }
            let outcome = match self.method {
                MethodKind::Add => check(self.peer.call::<Add>((a, 7)).await, |s| *s == a + 7),
                MethodKind::Echo => check(self.peer.call::<Echo>((a, 7)).await, |p| *p == (a, 7)),
            };
            match outcome {
                Ok(()) => latencies.push(start.elapsed().as_nanos() as u64),
                Err(e) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    let _ = self.first_error.set(e);
                    if self.peer.is_closed() {
                        break;
                    }
                }
            }
        }
        latencies
    }
}

/// A call's outcome: fine, or what was wrong with it.
fn check<T: std::fmt::Debug>(
    reply: Result<T, CallError<serde_json::Value>>,
    right: impl FnOnce(&T) -> bool,
) -> Result<(), String> {
    match reply {
        Ok(v) if right(&v) => Ok(()),
        Ok(v) => Err(format!("wrong result {v:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn report(r: &PhaseResult) {
    let secs = r.elapsed.as_secs_f64();
    let rate = r.ok as f64 / secs;
    let pct = |p: f64| -> Duration {
        if r.latencies.is_empty() {
            return Duration::ZERO;
        }
        // Nearest rank.
        let rank = ((p / 100.0) * r.latencies.len() as f64).ceil() as usize;
        Duration::from_nanos(r.latencies[rank.clamp(1, r.latencies.len()) - 1])
    };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (p50, p99, p999) = (pct(50.0), pct(99.0), pct(99.9));
    let max = Duration::from_nanos(r.latencies.last().copied().unwrap_or(0));
    println!(
        "calls      {} ok, {} errors{}",
        r.ok,
        r.errors,
        if r.stopped_by_deadline {
            " (stopped at --max-secs)"
        } else {
            ""
        }
    );
    if let Some(e) = &r.first_error {
        println!("first error: {e}");
    }
    println!("elapsed    {secs:.3} s");
    println!("throughput {rate:.0} calls/s");
    println!(
        "latency    p50 {:.1} us, p99 {:.1} us, p999 {:.1} us, max {:.1} us",
        us(p50),
        us(p99),
        us(p999),
        us(max)
    );
    if let Some(steal) = r.steal_pct {
        println!(
            "cpu steal  {steal:.0}% (the hypervisor ran others while this machine waited){}",
            if steal >= 5.0 {
                ": figures are low and noisy"
            } else {
                ""
            }
        );
    }
    println!(
        "RESULT calls_per_s={rate:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} ok={} errors={} steal_pct={}",
        us(p50),
        us(p99),
        us(p999),
        us(max),
        r.ok,
        r.errors,
        r.steal_pct.map_or("n/a".to_owned(), |s| format!("{s:.0}"))
    );
}
