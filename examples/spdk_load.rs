//! SPDK calls per second, side by side: our [`SpdkClient`] against SPDK's
//! python `JSONRPCClient`, and an SPDK target on the framework against the
//! hand-written ceiling server.
//!
//! ```text
//! scripts/install/spdk.sh                          # SPDK's python client
//! cargo run --release --example spdk_load
//! cargo run --release --example spdk_load -- --target-bin target/release/examples/spdk_target
//! ```
//!
//! Every call is `spdk_get_version` (a 56-byte request, a 126-byte reply),
//! on one Unix connection:
//!
//! - SPDK's python client (`tests/peers/spdk/spdk_bench.py`, the venv's
//!   python): one call at a time, then 64 at a time (`add_request` x 64,
//!   `flush`, `recv` x 64: how `rpc.py` pipelines).
//! - Our `SpdkClient`: one call at a time, then 64 in flight (64 calls
//!   awaited together on the client's one thread), typed results decoded.
//! - The server: the target's calls/s at 64 in flight against those of
//!   `examples/ceiling_server.rs` (the least work a tokio server can do for a
//!   small call: no parser, no queues) answering `add` (a 62-byte request,
//!   a 44-byte reply), both driven by the framework's client with raw calls
//!   (replies checked as text, not decoded), in alternating rounds; the
//!   ratio is the median of the rounds' ratios.
//! - Beside each client's calls/s, its CPU time per call (the client
//!   process's, for python; the client thread's, for ours).
//!
//! The target is, by default, an [`SpdkRouter`] answering `spdk_get_version`,
//! served in this process on a runtime of its own (one thread, as the
//! ceiling): the server stack of the mock target and of any SPDK-compatible
//! server on this framework, measured without depending on a binary, and
//! under the same conditions as the ceiling. `--target-bin` runs the mock
//! target (`examples/spdk_target`) as a child process instead. The client
//! runs on one thread; on a 2-core machine the server has the other.

#![allow(clippy::duplicate_mod)]

#[path = "support/mod.rs"]
mod support;

#[path = "support/spdk.rs"]
mod spdk_support;

#[allow(dead_code)]
#[path = "ceiling_server.rs"]
mod ceiling_server;

use std::error::Error;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{Method, Peer, PeerHandle, RawJson};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, ListenEndpoint};
use spdk_proto::methods::SpdkGetVersion;
use spdk_proto::server::{Phase, SpdkRouter};
use spdk_proto::SpdkClient;

#[derive(Debug, Parser)]
#[command(
    about = "spdk_get_version calls/s: SpdkClient vs SPDK's python client, target vs ceiling"
)]
struct Args {
    /// Run this SPDK target binary (`-r SOCKET`) instead of serving one in
    /// this process.
    #[arg(long, value_name = "PATH")]
    target_bin: Option<PathBuf>,
    /// Calls per measured run at 64 in flight.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// Calls of our client's sequential run.
    #[arg(long, default_value_t = 20_000)]
    sequential_calls: u64,
    /// Calls of each python run.
    #[arg(long, default_value_t = 5_000)]
    python_calls: u64,
    /// Calls in flight on the connection.
    #[arg(long, default_value_t = 64)]
    in_flight: u64,
    /// Target/ceiling rounds (each one run of each).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// `add`: `[a, b]` -> `a + b`, what the ceiling server answers.
struct Add;
impl Add {
    const NAME: &'static str = "add";
}

fn main() -> std::process::ExitCode {
    support::exit_code("spdk_load", run_main())
}

/// The target being measured.
enum Target {
    InProcess(jsonrpc_transport::RunningServer),
    Child(spdk_support::ChildTarget),
}

fn run_main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let target_path = dir.path().join("spdk.sock");
    let ceiling_path = dir.path().join("ceiling.sock");
    // The servers' runtime: one worker thread, as a separate process would
    // have; multi-threaded so that it runs without anyone blocking on it.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (running_target, what) = match &args.target_bin {
        Some(bin) => (
            Target::Child(spdk_support::ChildTarget::start_on(bin, &target_path, &[])?),
            format!("{} (child process)", bin.display()),
        ),
        None => {
            let router = SpdkRouter::new(spdk_support::version(), Phase::Running);
            let server = servers.block_on(spdk_support::serve(router, &target_path));
            (
                Target::InProcess(server),
                "SpdkRouter in this process, 1 thread".to_owned(),
            )
        }
    };
    let ceiling_running = servers.block_on(ceiling_server::start(
        ceiling_server::ReplyFraming::Line,
        vec![ListenEndpoint::Unix(ceiling_path.clone())],
    ))?;
    let socket = target_path.to_str().ok_or("non-UTF-8 temporary path")?;
    println!("spdk_load: spdk_get_version on {what}; client 1 thread");
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }

    let py_seq = python(socket, &["seq", &args.python_calls.to_string()])?;
    let depth = args.in_flight.to_string();
    let py_pipe = python(socket, &["pipe", &args.python_calls.to_string(), &depth])?;

    let client = support::runtime(1)?;
    let (ours_seq, rounds) = client.block_on(async {
        let spdk = SpdkClient::connect(socket).await?;
        let version = |_| {
            let spdk = spdk.clone();
            async move {
                let v = spdk.call::<SpdkGetVersion>(()).await?;
                check(v.fields.major == 26, "wrong version")
            }
        };
        measure(args.sequential_calls / 10, 1, version).await?;
        let ours_seq = measure(args.sequential_calls, 1, version).await?;
        let endpoint = Endpoint::Unix(ceiling_path.clone());
        let stream = connect(&endpoint, &ConnectOptions::default()).await?;
        let ceiling_peer: PeerHandle = stream.into_peer(Peer::new(JsonStreamCodec::new()));
        // The servers are compared with the same client work for both: a
        // raw call, its reply checked as text, not decoded into a type.
        let raw_version = |_| {
            let peer = spdk.peer().clone();
            async move {
                let reply = peer.call_raw(SpdkGetVersion::NAME, None, None).await?;
                check(reply.get().contains("\"SPDK v"), "wrong version")
            }
        };
        let add = |n: u64| {
            let peer = ceiling_peer.clone();
            async move {
                let params = RawJson::from_value(&(n, 7))?;
                let sum = peer.call_raw(Add::NAME, Some(params), None).await?;
                check(sum.get() == (n + 7).to_string(), "wrong sum")
            }
        };
        measure(args.calls / 10, args.in_flight, version).await?;
        measure(args.calls / 10, args.in_flight, add).await?;
        let mut rounds = Vec::new();
        for _ in 0..args.rounds.max(1) {
            let typed = measure(args.calls, args.in_flight, version).await?;
            let target = measure(args.calls, args.in_flight, raw_version).await?;
            let ceiling = measure(args.calls, args.in_flight, add).await?;
            rounds.push((typed, target, ceiling));
        }
        ceiling_peer.close();
        spdk.close();
        Ok::<_, Box<dyn Error>>((ours_seq, rounds))
    })?;

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // The round whose target rate is the median stands for "64 in flight".
    let mut by_rate = rounds.clone();
    by_rate.sort_by(|a, b| a.0.rate.total_cmp(&b.0.rate));
    let ours_pipe = by_rate[by_rate.len() / 2].0;
    let target = median(rounds.iter().map(|r| r.1.rate).collect());
    let ceiling = median(rounds.iter().map(|r| r.2.rate).collect());
    let ratios: Vec<f64> = rounds.iter().map(|(_, t, c)| t.rate / c.rate).collect();
    let ratio = median(ratios.clone());
    let (low, high) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
    let k = |rate: f64| format!("{:.1}k", rate / 1000.0);
    let cpu = |run: Run| run.cpu_us.map_or("?".to_owned(), |c| format!("{c:.1} µs"));
    println!();
    println!("| client, spdk_get_version, one connection | calls/s | client CPU per call |");
    println!("|---|---|---|");
    for (name, run) in [
        ("SPDK python JSONRPCClient, sequential".to_owned(), py_seq),
        (
            format!("SPDK python JSONRPCClient, {} pipelined", args.in_flight),
            py_pipe,
        ),
        ("SpdkClient, sequential".to_owned(), ours_seq),
        (
            format!("SpdkClient, {} in flight", args.in_flight),
            ours_pipe,
        ),
    ] {
        println!("| {name} | {} | {} |", k(run.rate), cpu(run));
    }
    let cpu_ratio = |a: Run, b: Run| {
        a.cpu_us
            .zip(b.cpu_us)
            .map_or("?".to_owned(), |(a, b)| format!("{:.1}x", a / b))
    };
    println!(
        "ours / python: sequential {:.1}x the calls/s at {} less CPU per call \
         (target: 20x); {} in flight against pipelined {:.1}x at {} less",
        ours_seq.rate / py_seq.rate,
        cpu_ratio(py_seq, ours_seq),
        args.in_flight,
        ours_pipe.rate / py_pipe.rate,
        cpu_ratio(py_pipe, ours_pipe),
    );
    println!();
    println!(
        "| server, {} in flight, raw calls, {} alternating rounds | calls/s |",
        args.in_flight,
        rounds.len()
    );
    println!("|---|---|");
    println!("| target: spdk_get_version | {} |", k(target));
    println!("| ceiling_server: add | {} |", k(ceiling));
    println!(
        "| target / ceiling | {:.0}% (rounds {:.0}-{:.0}%; target 70%) |",
        ratio * 100.0,
        low * 100.0,
        high * 100.0
    );
    println!(
        "RESULT python_seq={:.0} python_pipe={:.0} ours_seq={:.0} ours_pipe={:.0} ceiling={ceiling:.0} \
         ours_vs_python_seq={:.2} target_vs_ceiling={ratio:.3}",
        py_seq.rate,
        py_pipe.rate,
        ours_seq.rate,
        ours_pipe.rate,
        ours_seq.rate / py_seq.rate,
    );

    servers.block_on(ceiling_running.shutdown());
    match running_target {
        Target::InProcess(server) => servers.block_on(server.shutdown(Duration::from_secs(5))),
        Target::Child(child) => child.stop(),
    }
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

/// What one run gave.
#[derive(Clone, Copy)]
struct Run {
    /// Calls per second.
    rate: f64,
    /// The client's CPU time per call, in microseconds.
    cpu_us: Option<f64>,
}

/// Makes `calls` calls, `in_flight` at a time on one task (the client's
/// one thread); any failure stops the run.
async fn measure<F, Fut>(calls: u64, in_flight: u64, call: F) -> Result<Run, Box<dyn Error>>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), Box<dyn Error>>>,
{
    let next = AtomicU64::new(0);
    let worker = || async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= calls {
                return Ok::<(), Box<dyn Error>>(());
            }
            call(n).await?;
        }
    };
    let (started, cpu) = (Instant::now(), thread_cpu());
    let outcomes = futures::future::join_all((0..in_flight.max(1)).map(|_| worker())).await;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| (b - a).as_secs_f64());
    outcomes.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(Run {
        rate: calls as f64 / secs,
        cpu_us: cpu.map(|c| c * 1e6 / calls as f64),
    })
}

/// The CPU time of the calling thread so far (Linux: utime + stime of
/// `/proc/thread-self/stat`, in clock ticks of 10 ms, so a run of a few
/// seconds reads to 1%); None elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th, stime the 15th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `tests/peers/spdk/spdk_bench.py SOCKET ARGS` with the venv's
/// python.
fn python(socket: &str, args: &[&str]) -> Result<Run, Box<dyn Error>> {
    let python = spdk_support::venv_bin("python");
    if !python.exists() {
        return Err(format!(
            "{} does not exist. {}",
            python.display(),
            spdk_support::INSTALL_HINT
        )
        .into());
    }
    let script = spdk_support::repo().join("tests/peers/spdk/spdk_bench.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(socket)
        .args(args)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "spdk_bench.py {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let field = |name: &str| {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .flat_map(str::split_whitespace)
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let rate = field("calls_per_s")
        .ok_or_else(|| format!("no calls_per_s in spdk_bench.py's output:\n{stdout}"))?;
    Ok(Run {
        rate,
        cpu_us: field("cpu_us_per_call"),
    })
}
