//! Fan-out: one publisher, many subscribers, one of which never reads.
//!
//! ```text
//! cargo run --release --example fanout
//! cargo run --release --example fanout -- --subscribers 200 --notifications 2000
//! ```
//!
//! A server (`jsonrpc_transport::Server` on a `punix:` socket in a temporary
//! folder) has `--subscribers` connections; a publisher in the same process
//! sends `--notifications` notifications to every one of them, each a
//! [`SharedNotification`] (serialized once) queued with
//! [`PeerHandle::try_send`], which never waits. Three runs, each with a
//! fresh server and fresh subscribers:
//!
//! * A: every subscriber reads;
//! * B: one subscriber connects and never reads; the server's connections
//!   have the default [`Overflow::Close`];
//! * C: the same with [`Overflow::Lag`].
//!
//! For each run the tool prints the time from the first notification until
//! every reading subscriber has received all of them, the notifications
//! delivered per second over all subscribers, how long the publish loop took
//! (the writers run on its thread whenever it yields, so this includes their
//! work; of that, the time spent in `try_send` and its longest round, one
//! notification to every subscriber), what became of the stuck subscriber,
//! the CPU time of the server's thread and of the subscribers' (the machine
//! may be shared, and wall time alone then misleads), and this process's
//! memory (VmRSS before and after, and VmHWM, the peak, during the run).
//! Then B/A and C/A of the delivery time: a subscriber that stops reading
//! should not slow the others down (target: within 2x).
//!
//! The subscribers run in a child process, this same program started again
//! with the hidden `--socket` flag: plain tokio `UnixStream`s that count the
//! bytes they read (every notification has the same size, one per line), so
//! they cost little next to the server, and the server's process holds
//! only the server and the publisher, whose memory is what is measured. The child
//! says on its standard output when all have connected and when all have
//! received everything; it exits when its standard input ends.
//!
//! The server runs on one thread, the subscribers on another (a 2-core
//! machine). The publisher is a task on the server's thread: after every
//! `--outgoing-queue / 8` notifications it yields to the connections'
//! writers, so that subscribers that read keep up; otherwise the writers
//! could not run before the loop ended and every queue would overflow. It
//! yields, it never waits for any one subscriber.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{
    CloseReason, Overflow, PeerConfig, PeerHandle, SharedNotification, TrySendError,
};
use jsonrpc_transport::{ListenEndpoint, RunningServer, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdout};

/// How long one run (connecting, publishing, delivering) may take before
/// the tool gives up on it; also how long a child lives at most.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// File descriptors each process needs beyond one per subscriber: the
/// runtime, the listener, pipes, standard streams.
const SPARE_FDS: u64 = 64;

#[derive(Debug, Parser)]
#[command(about = "Fan-out benchmark: one publisher, many Unix-socket subscribers, one stuck")]
struct Args {
    /// Subscribers (connections) in each run.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(2..))]
    subscribers: u64,
    /// Notifications the publisher sends to every subscriber.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    notifications: u64,
    /// Bytes of each notification's params (at least 16).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    size: u64,
    /// Each connection's outgoing queue, in messages (`PeerConfig::outgoing_queue`).
    #[arg(long, default_value_t = PeerConfig::default().get_outgoing_queue())]
    outgoing_queue: usize,
    /// Run as the subscribers' process, connecting to this socket.
    #[arg(long, hide = true)]
    socket: Option<PathBuf>,
    /// In the subscribers' process: one subscriber never reads.
    #[arg(long, hide = true)]
    stuck: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let name = if args.socket.is_some() {
        "fanout (subscribers)"
    } else {
        "fanout"
    };
    support::exit_code(name, run_main(args))
}

fn run_main(args: Args) -> Result<(), Box<dyn Error>> {
    raise_fd_limit(args.subscribers + SPARE_FDS)?;
    let runtime = support::runtime(1)?;
    match args.socket.clone() {
        Some(path) => runtime.block_on(subscribers::run(&args, &path)),
        None => runtime.block_on(bench(&args)),
    }
}

/// Raises the soft limit on open files to the hard limit, and fails if
/// that is still below `needed`.
fn raise_fd_limit(needed: u64) -> Result<(), Box<dyn Error>> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|e| format!("cannot raise the limit on open files: {e}"))?;
    if limit < needed {
        return Err(format!(
            "{needed} file descriptors are needed but the limit is {limit}; \
             raise the hard limit (`ulimit -Hn`) or pass fewer --subscribers"
        )
        .into());
    }
    Ok(())
}

/// The three runs.
#[derive(Debug, Clone, Copy)]
enum Run {
    AllRead,
    StuckClose,
    StuckLag,
}

impl Run {
    fn label(self) -> &'static str {
        match self {
            Run::AllRead => "A: all read",
            Run::StuckClose => "B: 1 stuck, Close",
            Run::StuckLag => "C: 1 stuck, Lag",
        }
    }

    fn stuck(self) -> bool {
        !matches!(self, Run::AllRead)
    }

    fn overflow(self) -> Overflow {
        match self {
            Run::StuckLag => Overflow::Lag,
            Run::AllRead | Run::StuckClose => Overflow::Close,
        }
    }
}

/// What one run gave.
struct Outcome {
    run: Run,
    /// Reading subscribers that received every notification, and all of them.
    complete: u64,
    reading: u64,
    /// Notifications the child counted, over all subscribers.
    delivered: u64,
    /// From the first notification until the child said all had arrived.
    delivery: Duration,
    /// The publish loop, yields to the writers included.
    publish: Duration,
    /// Of that, the time spent in `try_send` rounds, and the longest round.
    in_try_send: Duration,
    longest_round: Duration,
    /// Connections a `try_send` found closed, by reason (`Lagged(1024)`):
    /// how many, and the first notification that found one closed.
    closed: BTreeMap<String, (u64, u64)>,
    /// Connections lagging at the end, and notifications dropped for them.
    lagging: u64,
    dropped: u64,
    /// The lowest notification number at which a connection began lagging.
    first_drop: Option<u64>,
    /// Connections whose `on_close` had run when delivery was complete.
    on_close_by_then: usize,
    /// CPU time of the server's thread (server and publisher) and of the
    /// subscribers' thread over the run: the machine is shared, so wall time
    /// alone can mislead.
    server_cpu: Option<Duration>,
    subscribers_cpu: Option<Duration>,
    rss_before: u64,
    rss_after: u64,
    hwm: u64,
}

async fn bench(args: &Args) -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("jsonrpc-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    println!(
        "fanout: {} subscribers on Unix sockets, {} notifications of {} bytes of params each, \
         outgoing queue {}, publisher yields every {} notifications",
        args.subscribers,
        args.notifications,
        args.size,
        args.outgoing_queue,
        yield_every(args),
    );
    let mut outcomes = Vec::new();
    let mut failure = None;
    for run in [Run::AllRead, Run::StuckClose, Run::StuckLag] {
        let socket = dir.join(format!("run-{}.sock", outcomes.len()));
        match one_run(args, run, &socket).await {
            Ok(outcome) => {
                print_outcome(&outcome, args);
                outcomes.push(outcome);
            }
            Err(e) => {
                failure = Some(format!("run {}: {e}", run.label()));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !outcomes.is_empty() {
        print_table(&outcomes, args);
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// How many notifications the publisher sends between two yields: an
/// eighth of a queue, so a subscriber that reads is far from full whenever
/// its writer gets to run.
fn yield_every(args: &Args) -> u64 {
    (args.outgoing_queue as u64 / 8).max(1)
}

/// Starts a server and the subscribers, publishes, waits for delivery,
/// measures, tears down.
async fn one_run(args: &Args, run: Run, socket: &Path) -> Result<Outcome, Box<dyn Error>> {
    let closes: Arc<Mutex<Vec<CloseReason>>> = Arc::default();
    let config = PeerConfig::default()
        .outgoing_queue(args.outgoing_queue)
        .overflow(run.overflow());
    let server = Server::new(LineCodec::new())
        .peer_config(config)
        .max_connections(args.subscribers as usize)
        .on_close({
            let closes = closes.clone();
            move |_, reason| {
                closes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(reason.clone())
            }
        })
        .bind([ListenEndpoint::Unix(socket.to_owned())])
        .await?;

    let mut child = start_subscribers(args, run, socket)?;
    let outcome = async {
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        expect_line(&mut lines, "connected").await?;
        let subscribers = wait_for_connections(&server, args.subscribers).await?;
        let outcome = publish_and_measure(args, run, subscribers, &mut lines, &closes).await?;
        Ok::<_, Box<dyn Error>>(outcome)
    }
    .await;

    // The child exits when its standard input ends; its stuck subscriber's
    // socket goes with it, which also frees a writer stuck on that socket.
    drop(child.stdin.take());
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    server.shutdown(Duration::from_secs(5)).await;
    outcome
}

/// Starts this program again as the subscribers' process.
fn start_subscribers(args: &Args, run: Run, socket: &Path) -> Result<Child, Box<dyn Error>> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("--socket")
        .arg(socket)
        .arg("--subscribers")
        .arg(args.subscribers.to_string())
        .arg("--notifications")
        .arg(args.notifications.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if run.stuck() {
        command.arg("--stuck");
    }
    Ok(command
        .spawn()
        .map_err(|e| format!("cannot start the subscribers' process: {e}"))?)
}

/// Reads the child's next line, which must begin with `word`; returns the rest.
async fn expect_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    word: &str,
) -> Result<String, Box<dyn Error>> {
    let line = tokio::time::timeout(RUN_TIMEOUT, lines.next_line())
        .await
        .map_err(|_| format!("the subscribers did not say `{word}` within {RUN_TIMEOUT:?}"))??
        .ok_or("the subscribers' process ended early (its error is above)")?;
    match line.strip_prefix(word) {
        Some(rest) => Ok(rest.trim().to_owned()),
        None => Err(format!("expected `{word}` from the subscribers, got `{line}`").into()),
    }
}

/// Waits until the server has set up every connection, and returns them.
///
/// `on_open` is handed the connection's `Peer` before it starts, not a
/// handle to it, so the set of subscribers comes from the server itself.
async fn wait_for_connections(
    server: &RunningServer,
    count: u64,
) -> Result<Vec<PeerHandle>, Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = server.stats();
        if stats.connections_open as u64 == count {
            return Ok(server.connections());
        }
        if stats.refused > 0 || Instant::now() >= deadline {
            return Err(format!(
                "{} of {count} subscribers are connected ({} refused)",
                stats.connections_open, stats.refused
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn publish_and_measure(
    args: &Args,
    run: Run,
    subscribers: Vec<PeerHandle>,
    lines: &mut Lines<BufReader<ChildStdout>>,
    closes: &Mutex<Vec<CloseReason>>,
) -> Result<Outcome, Box<dyn Error>> {
    reset_peak_memory();
    let (rss_before, _) = memory()?;
    let cpu_before = thread_cpu();
    let started = Instant::now();
    // A task of its own rather than this function's future: when a task
    // yields it goes behind every writer that is ready, while `block_on`'s
    // own future is polled again after a few dozen tasks, which would starve
    // most of a thousand writers.
    let publisher = tokio::spawn(publish(
        subscribers.clone(),
        args.notifications,
        args.size as usize,
        yield_every(args),
    ));
    let published = publisher
        .await
        .map_err(|e| format!("the publisher failed: {e}"))??;
    let publish = started.elapsed();

    // Counted now: what the connections did while the publisher ran.
    let lagging: Vec<&PeerHandle> = subscribers.iter().filter(|p| p.lagged() > 0).collect();
    let dropped = subscribers
        .iter()
        .map(|p| p.stats().notifications_dropped)
        .sum();
    // A lagging subscriber will never have every notification, and nothing
    // here resynchronizes it as an application would: close it, so that its
    // reader stops waiting once the queue has drained.
    for peer in &lagging {
        peer.close();
    }

    let received = expect_line(lines, "received").await?;
    let delivery = started.elapsed();
    let server_cpu = thread_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let on_close_by_then = closes.lock().unwrap_or_else(|e| e.into_inner()).len();
    let (rss_after, hwm) = memory()?;
    let [complete, reading, delivered, subscribers_ns] = parse_received(&received)?;

    let mut closed = BTreeMap::new();
    for (seq, reason) in published.closed_at.into_iter().flatten() {
        let entry = closed.entry(format!("{reason:?}")).or_insert((0, seq));
        entry.0 += 1;
        entry.1 = entry.1.min(seq);
    }
    Ok(Outcome {
        run,
        complete,
        reading,
        delivered,
        delivery,
        publish,
        in_try_send: published.in_try_send,
        longest_round: published.longest_round,
        closed,
        lagging: lagging.len() as u64,
        dropped,
        first_drop: published.first_drop,
        on_close_by_then,
        server_cpu,
        subscribers_cpu: (subscribers_ns > 0).then(|| Duration::from_nanos(subscribers_ns)),
        rss_before,
        rss_after,
        hwm,
    })
}

/// What the publish loop saw.
struct Published {
    /// For each connection, the first notification that found it closed, and why.
    closed_at: Vec<Option<(u64, CloseReason)>>,
    /// The first notification dropped for a lagging connection.
    first_drop: Option<u64>,
    in_try_send: Duration,
    longest_round: Duration,
}

/// Sends `notifications` notifications to every subscriber, each serialized
/// once, yielding to the writers after every `every` of them.
async fn publish(
    subscribers: Vec<PeerHandle>,
    notifications: u64,
    size: usize,
    every: u64,
) -> Result<Published, String> {
    let mut published = Published {
        closed_at: vec![None; subscribers.len()],
        first_drop: None,
        in_try_send: Duration::ZERO,
        longest_round: Duration::ZERO,
    };
    for seq in 0..notifications {
        // Params `[seq,"xxx…"]`, padded to exactly `size` bytes.
        let pad = size.saturating_sub(format!("[{seq},\"\"]").len());
        let notification = SharedNotification::new("update", &(seq, "x".repeat(pad)))
            .map_err(|e| format!("cannot serialize notification {seq}: {e}"))?;
        let round = Instant::now();
        for (peer, closed) in subscribers.iter().zip(&mut published.closed_at) {
            match peer.try_send(&notification) {
                Ok(()) => {}
                Err(TrySendError::Lagging) => {
                    published.first_drop.get_or_insert(seq);
                }
                Err(TrySendError::Closed(reason)) => {
                    closed.get_or_insert((seq, reason));
                }
                Err(e) => return Err(format!("notification {seq}: {e}")),
            }
        }
        let round = round.elapsed();
        published.in_try_send += round;
        published.longest_round = published.longest_round.max(round);
        if (seq + 1) % every == 0 {
            tokio::task::yield_now().await;
        }
    }
    Ok(published)
}

/// `COMPLETE READING DELIVERED CPU_NS`, as the child prints them.
fn parse_received(line: &str) -> Result<[u64; 4], Box<dyn Error>> {
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad counts from the subscribers `{line}`: {e}"))?;
    numbers
        .try_into()
        .map_err(|_| format!("bad counts from the subscribers `{line}`").into())
}

/// CPU time the calling thread has used (Linux's schedstat, in ns). The
/// server's runtime and the subscribers' have one thread each, so this is
/// all of their work.
fn thread_cpu() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Starts this process's peak memory (VmHWM) over from its current size,
/// so each run's peak is its own. Linux only; elsewhere the peak is the
/// process's.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's resident memory now and at its peak (VmRSS, VmHWM), in KiB.
fn memory() -> Result<(u64, u64), Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(hwm)) => Ok((rss, hwm)),
        _ => Err("no VmRSS or VmHWM in /proc/self/status".into()),
    }
}

fn print_outcome(o: &Outcome, args: &Args) {
    let mut stuck = Vec::new();
    for (reason, (count, seq)) in &o.closed {
        stuck.push(format!(
            "{count} closed by try_send from notification {seq}: {reason}"
        ));
    }
    if o.lagging > 0 {
        stuck.push(format!(
            "{} lagging from notification {}, {} notifications dropped",
            o.lagging,
            o.first_drop.map_or("?".to_owned(), |s| s.to_string()),
            o.dropped
        ));
    }
    if stuck.is_empty() {
        stuck.push("no connection closed or lagging".to_owned());
    }
    println!(
        "{}: {} of {} reading subscribers received all {} notifications in {:.3} s; \
         {}; on_close had run for {} connection(s) by then",
        o.run.label(),
        o.complete,
        o.reading,
        args.notifications,
        o.delivery.as_secs_f64(),
        stuck.join("; "),
        o.on_close_by_then,
    );
}

fn print_table(outcomes: &[Outcome], args: &Args) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let secs =
        |d: Option<Duration>| d.map_or("n/a".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
    println!();
    println!(
        "| run | complete | delivery | notifications/s | publish loop (in try_send, longest round) | closed or lagging | CPU server / subscribers | VmRSS before -> after | VmHWM (peak in run) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let mut fates: Vec<String> = o
            .closed
            .iter()
            .map(|(reason, (count, seq))| format!("{count} closed at #{seq}, {reason}"))
            .collect();
        if o.lagging > 0 {
            fates.push(format!("{} lagging, {} dropped", o.lagging, o.dropped));
        }
        if fates.is_empty() {
            fates.push("none".to_owned());
        }
        println!(
            "| {} | {}/{} | {:.3} s | {:.2} M/s | {:.3} s ({:.3} s, {:.2} ms) | {} | {} / {} | {:.1} -> {:.1} MiB | {:.1} MiB |",
            o.run.label(),
            o.complete,
            o.reading,
            o.delivery.as_secs_f64(),
            o.delivered as f64 / o.delivery.as_secs_f64() / 1e6,
            o.publish.as_secs_f64(),
            o.in_try_send.as_secs_f64(),
            o.longest_round.as_secs_f64() * 1e3,
            fates.join("; "),
            secs(o.server_cpu),
            secs(o.subscribers_cpu),
            mib(o.rss_before),
            mib(o.rss_after),
            mib(o.hwm),
        );
    }
    if let Some(a) = outcomes.first() {
        let ratios: Vec<String> = outcomes[1..]
            .iter()
            .map(|o| {
                let name = o.run.label().split(':').next().unwrap_or("?");
                format!(
                    "{name}/A {:.2}x",
                    o.delivery.as_secs_f64() / a.delivery.as_secs_f64()
                )
            })
            .collect();
        if !ratios.is_empty() {
            println!();
            println!(
                "delivery time: {} (target: within 2x); {} subscribers x {} notifications",
                ratios.join(", "),
                args.subscribers,
                args.notifications
            );
        }
    }
}

/// The subscribers' process.
mod subscribers {
    use super::*;
    use tokio_util::sync::CancellationToken;

    /// Bytes each read takes at most: a few of the server's batches.
    const READ_BUFFER: usize = 32 * 1024;

    /// Connects every subscriber, says `connected`, counts what arrives, and
    /// says `received COMPLETE READING DELIVERED CPU_NS` once every reading
    /// subscriber has all its notifications (or its connection ended), with
    /// the CPU time that took (0 if unknown). Then holds the connections
    /// until standard input ends.
    pub async fn run(args: &Args, socket: &Path) -> Result<(), Box<dyn Error>> {
        let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
        let stdin_closed = stdin_closed();
        let mut streams = Vec::with_capacity(args.subscribers as usize);
        for _ in 0..args.subscribers {
            streams.push(connect(socket, deadline).await?);
        }
        let _stuck = if args.stuck { streams.pop() } else { None };
        let reading = streams.len() as u64;
        println!("connected");
        let cpu_before = thread_cpu();

        let mut readers = tokio::task::JoinSet::new();
        for stream in streams {
            readers.spawn(count(stream, args.notifications));
        }
        // Connections that are done stay open until the end, so that every
        // close the server sees during a run is its own doing.
        let mut done = Vec::new();
        let all_counted = async {
            let (mut complete, mut delivered) = (0, 0);
            while let Some(counted) = readers.join_next().await {
                let (counted, stream) = counted.unwrap_or((0, None));
                delivered += counted;
                complete += u64::from(counted == args.notifications);
                done.extend(stream);
            }
            (complete, delivered)
        };
        tokio::select! {
            (complete, delivered) = all_counted => {
                let cpu = thread_cpu().zip(cpu_before).map_or(0, |(after, before)| {
                    after.saturating_sub(before).as_nanos()
                });
                println!("received {complete} {reading} {delivered} {cpu}");
            }
            _ = tokio::time::sleep_until(deadline) => return Err("timed out waiting for notifications".into()),
            _ = stdin_closed.cancelled() => return Ok(()),
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stdin_closed.cancelled() => {}
        }
        Ok(())
    }

    /// Connects to `socket`, trying again while its backlog is full (a
    /// non-blocking connect to a Unix socket then fails at once).
    async fn connect(
        socket: &Path,
        deadline: tokio::time::Instant,
    ) -> Result<UnixStream, Box<dyn Error>> {
        loop {
            match UnixStream::connect(socket).await {
                Ok(stream) => return Ok(stream),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => return Err(format!("cannot connect to {}: {e}", socket.display()).into()),
            }
        }
    }

    /// Reads until `expected` notifications have arrived or the connection
    /// ends; returns how many arrived, and the connection unless it ended.
    ///
    /// The publisher pads every notification to the same size, so the first
    /// line gives the size and the rest is counted in bytes: no scanning, so
    /// the subscribers cost far less than the server, even in a debug build.
    /// A last byte that is not a newline means the sizes differed after all,
    /// and the count is then reported short.
    async fn count(mut stream: UnixStream, expected: u64) -> (u64, Option<UnixStream>) {
        let mut buf = vec![0; READ_BUFFER];
        let mut bytes = 0u64;
        let mut line = None;
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return (line.map_or(0, |len| bytes / len), None),
                Ok(n) => n,
            };
            if line.is_none() {
                let newline = buf[..n].iter().position(|&b| b == b'\n');
                line = newline.map(|i| bytes + i as u64 + 1);
            }
            bytes += n as u64;
            if let Some(len) = line.filter(|len| bytes >= expected * len) {
                let exact = bytes == expected * len && buf[n - 1] == b'\n';
                let seen = if exact { expected } else { bytes / len - 1 };
                return (seen, Some(stream));
            }
        }
    }

    /// Cancelled once standard input ends (the parent is done, or gone).
    ///
    /// A thread of its own, not tokio's stdin: a read still blocked when the
    /// process ends would keep the runtime from shutting down.
    fn stdin_closed() -> CancellationToken {
        let token = CancellationToken::new();
        let closed = token.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            closed.cancel();
        });
        token
    }
}
