//! Fault tests for the transports: peers that vanish mid-message or
//! mid-call, a server restarted under a reconnecting client, a client that
//! stops reading, a connection flood past the limit, slowloris clients,
//! oversized frames, Unix socket file hygiene, graceful shutdown and
//! half-closed connections.
//!
//! Each fault test ends by checking that the server still serves a fresh
//! client and that nothing leaked: the process's open file descriptors
//! (`/proc/self/fd`) and the runtime's live tasks return to the baseline
//! taken once the server was up and one warm-up connection had come and
//! gone. File descriptors are per process, so these tests run one at a
//! time, each on a current-thread runtime of its own created and dropped
//! while it holds the lock ([`serial`]); its task count is its own. Waits
//! are bounded (10 s) and fail the test when exceeded; no test passes or
//! fails on how long something took.

#[allow(unused_macros)]
#[macro_use]
mod suite;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jsonrpc_core::codec::{ContentLengthCodec, JsonStreamCodec};
use jsonrpc_core::{
    CallError, CloseReason, ErrorObject, InactivityProbe, Peer, PeerHandle, RequestContext, Router,
};
use jsonrpc_transport::{
    connect, ConnectOptions, ConnectionState, Endpoint, ListenEndpoint, Listener, ReconnectOptions,
    ReconnectingClient, RunningServer, Server, TransportError, WhileDisconnected,
};
use serde_json::{json, Value};
use suite::server_side::{self, Add, MAX_FRAME};
use suite::{eventually, within, Raw, HANG};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UnixStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::sleep;

/// Fault tests count the process's file descriptors: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs one fault test on a current-thread runtime of its own, alone: the
/// lock is taken before the runtime exists and released after it is gone,
/// so no other test's sockets or runtime descriptors come or go meanwhile.
fn serial(test: impl std::future::Future<Output = ()>) {
    let _alone = jsonrpc_core::sync::lock(&SERIAL);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(test);
    // Dropped here, before the lock: its tasks and descriptors go first.
}

// ---------------------------------------------------------------------------
// Leak accounting
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    fds: usize,
    tasks: usize,
}

fn usage() -> Usage {
    Usage {
        fds: std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .count(),
        tasks: tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    }
}

/// The usage once it has stopped changing (tasks of a closed connection
/// take a turn or two of the runtime to end).
async fn settled() -> Usage {
    within("usage to settle", async {
        let mut last = usage();
        loop {
            sleep(Duration::from_millis(20)).await;
            let now = usage();
            if now == last {
                return now;
            }
            last = now;
        }
    })
    .await
}

/// Waits (bounded) until no more descriptors and tasks are in use than at
/// `baseline`; fails the test with both counts otherwise.
async fn assert_no_leak(baseline: Usage) {
    let deadline = tokio::time::Instant::now() + HANG;
    loop {
        let now = usage();
        if now.fds <= baseline.fds && now.tasks <= baseline.tasks {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("leak: {now:?} still in use, baseline {baseline:?}");
        }
        sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

/// The suite's router plus methods for faults:
///
/// | method | does |
/// |---|---|
/// | `gated` | waits for a permit of the fixture's gate, returns `"released"` |
/// | `hang` `[tag]` | waits for its token, reports `tag` as cancelled, then waits for a permit of the fixture's `release` before answering |
/// | `until_cancelled` `[tag]` | waits for its token, reports `tag` as cancelled, answers -32800 |
/// | `flood` `[count, size]` | sends `count` notifications of `size` bytes, returns how many went |
/// | `sleepy` `[ms]` | sleeps `ms`, returns it |
fn fault_router(
    gate: Arc<Semaphore>,
    release: Arc<Semaphore>,
    cancelled: mpsc::UnboundedSender<String>,
) -> Router {
    let mut router = server_side::router();
    router.method_fn("gated", move |(): (), _| {
        let gate = gate.clone();
        async move {
            gate.acquire().await.expect("gate open").forget();
            Ok::<_, ErrorObject>("released")
        }
    });
    let reported = cancelled.clone();
    router.method_fn("hang", move |(tag,): (String,), ctx: RequestContext| {
        let (cancelled, release) = (cancelled.clone(), release.clone());
        async move {
            ctx.cancelled().await;
            let _ = cancelled.send(tag);
            // Like a server that dies, it does not answer (before the
            // test lets it, when nobody is listening any more).
            release.acquire().await.expect("release open").forget();
            Err::<(), _>(ErrorObject::new(
                ErrorObject::REQUEST_CANCELLED,
                "cancelled",
            ))
        }
    });
    router.method_fn(
        "until_cancelled",
        move |(tag,): (String,), ctx: RequestContext| {
            let cancelled = reported.clone();
            async move {
                ctx.cancelled().await;
                let _ = cancelled.send(tag);
                Err::<(), _>(ErrorObject::new(
                    ErrorObject::REQUEST_CANCELLED,
                    "cancelled",
                ))
            }
        },
    );
    router.method_fn(
        "flood",
        |(count, size): (usize, usize), ctx: RequestContext| async move {
            let peer = ctx.peer().expect("a connection").clone();
            let payload = jsonrpc_core::RawJson::from_value(&["x".repeat(size)]).unwrap();
            for sent in 0..count {
                if peer
                    .notify_raw("flood", Some(payload.clone()))
                    .await
                    .is_err()
                {
                    return Ok::<_, ErrorObject>(sent);
                }
            }
            Ok(count)
        },
    );
    router.method_fn("sleepy", |(ms,): (u64,), _| async move {
        sleep(Duration::from_millis(ms)).await;
        Ok::<_, ErrorObject>(ms)
    });
    router
}

/// A running server, how to reach it, and what its handlers report.
struct Fixture {
    server: Option<RunningServer>,
    listen: ListenEndpoint,
    endpoint: Endpoint,
    gate: Arc<Semaphore>,
    /// Lets `hang` handlers finish.
    release: Arc<Semaphore>,
    cancelled: mpsc::UnboundedReceiver<String>,
    /// Kept so the fixture can start an identical server again.
    router: Arc<Router>,
    _dir: Option<tempfile::TempDir>,
}

type Tweak = fn(Server<JsonStreamCodec>) -> Server<JsonStreamCodec>;

fn no_tweak(server: Server<JsonStreamCodec>) -> Server<JsonStreamCodec> {
    server
}

fn builder(router: Arc<Router>) -> Server<JsonStreamCodec> {
    Server::new(JsonStreamCodec::new().with_max_frame(MAX_FRAME))
        .router(router)
        .peer_config(server_side::server_config())
}

impl Fixture {
    async fn tcp(tweak: Tweak) -> Fixture {
        Self::start("ptcp:0:127.0.0.1".parse().unwrap(), None, tweak).await
    }

    async fn unix(tweak: Tweak) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let listen = ListenEndpoint::Unix(dir.path().join("faults.sock"));
        Self::start(listen, Some(dir), tweak).await
    }

    async fn start(
        listen: ListenEndpoint,
        dir: Option<tempfile::TempDir>,
        tweak: Tweak,
    ) -> Fixture {
        let gate = Arc::new(Semaphore::new(0));
        let release = Arc::new(Semaphore::new(0));
        let (tx, cancelled) = mpsc::unbounded_channel();
        let router = Arc::new(fault_router(gate.clone(), release.clone(), tx));
        let server = tweak(builder(router.clone())).bind([listen]).await.unwrap();
        let listen = server.local_endpoints()[0].clone();
        let endpoint = match &listen {
            ListenEndpoint::Tcp { port, .. } => Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: *port,
            },
            ListenEndpoint::Unix(path) => Endpoint::Unix(path.clone()),
            ListenEndpoint::Ssl { .. } => unreachable!("no TLS here"),
        };
        Fixture {
            server: Some(server),
            listen,
            endpoint,
            gate,
            release,
            cancelled,
            router,
            _dir: dir,
        }
    }

    /// Starts the same server again on the same endpoint.
    async fn restart(&mut self, tweak: Tweak) {
        assert!(self.server.is_none(), "stop the old server first");
        let server = tweak(builder(self.router.clone()))
            .bind([self.listen.clone()])
            .await
            .expect("binding the same endpoint again");
        self.server = Some(server);
    }

    fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
    }

    fn addr(&self) -> SocketAddr {
        match self.listen {
            ListenEndpoint::Tcp { port, ip } => SocketAddr::new(ip, port),
            _ => panic!("not a TCP fixture"),
        }
    }

    fn socket_path(&self) -> PathBuf {
        match &self.listen {
            ListenEndpoint::Unix(path) => path.clone(),
            _ => panic!("not a Unix fixture"),
        }
    }

    /// A client peer on a new connection.
    async fn client(&self) -> PeerHandle {
        let stream = within(
            "connect",
            connect(&self.endpoint, &ConnectOptions::default()),
        )
        .await
        .expect("connect");
        stream.into_peer(Peer::new(JsonStreamCodec::new()))
    }

    /// A raw connection speaking the JSON stream.
    async fn raw(&self) -> Raw<JsonStreamCodec> {
        let stream = within(
            "connect",
            connect(&self.endpoint, &ConnectOptions::default()),
        )
        .await
        .expect("connect");
        Raw::new(Box::pin(stream), JsonStreamCodec::new())
    }

    /// Waits until the server has exactly `open` connections.
    async fn open_connections(&self, open: usize) {
        let server = self.server();
        eventually(&format!("{open} open connections"), || {
            server.stats().connections_open == open
        })
        .await;
    }

    /// The server's side of its only connection.
    async fn only_connection(&self) -> PeerHandle {
        self.open_connections(1).await;
        self.server().connections().remove(0)
    }

    /// A new client is served, then leaves.
    async fn serves_a_new_client(&self) {
        let client = self.client().await;
        assert_eq!(
            within("a call from a new client", client.call::<Add>((20, 22)))
                .await
                .expect("the server serves a new client"),
            42
        );
        within("the new client leaving", client.shutdown()).await;
    }

    /// The baseline usage: the server is up and a warm-up client has come and gone.
    async fn baseline(&self) -> Usage {
        self.serves_a_new_client().await;
        self.open_connections(0).await;
        settled().await
    }
}

fn expect_closed<T: std::fmt::Debug>(result: Result<T, CallError>) -> CloseReason {
    match result {
        Err(CallError::ConnectionClosed(reason)) => reason,
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Peers that vanish
// ---------------------------------------------------------------------------

/// A peer that writes half a JSON value and goes away (a clean close, then a
/// reset) costs the server that connection only: the server's side ends with
/// `PeerClosed` (input ended inside a message) or a read error (reset).
#[test]
fn peer_vanishes_mid_message() {
    serial(async {
        let f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;
        let half = br#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,"#;

        let mut stream = TcpStream::connect(f.addr()).await.unwrap();
        stream.write_all(half).await.unwrap();
        let server_side = f.only_connection().await;
        drop(stream);
        assert_eq!(
            within("the server side to close", server_side.closed()).await,
            CloseReason::PeerClosed
        );

        let mut stream = TcpStream::connect(f.addr()).await.unwrap();
        stream.write_all(half).await.unwrap();
        let server_side = f.only_connection().await;
        stream.set_zero_linger().unwrap();
        drop(stream);
        match within("the server side to close", server_side.closed()).await {
            CloseReason::Read(e) => assert!(e.contains("reset"), "{e}"),
            other => panic!("expected a read error from the reset, got {other:?}"),
        }

        // The same over a Unix socket.
        let u = Fixture::unix(no_tweak).await;
        let mut stream = UnixStream::connect(u.socket_path()).await.unwrap();
        stream.write_all(half).await.unwrap();
        let server_side = u.only_connection().await;
        drop(stream);
        assert_eq!(
            within("the server side to close", server_side.closed()).await,
            CloseReason::PeerClosed
        );
        u.serves_a_new_client().await;
        drop(u);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// Starts three calls the server's `hang` handler never answers, and waits
/// until all three run there; gives the calls and the server's side.
async fn three_hanging_calls(
    f: &Fixture,
    client: &PeerHandle,
) -> (
    Vec<tokio::task::JoinHandle<Result<Value, CallError>>>,
    PeerHandle,
) {
    let calls = (0..3)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .call_raw_typed::<_, Value>("hang", (format!("call {i}"),))
                    .await
            })
        })
        .collect();
    let server_side = f.only_connection().await;
    eventually("three calls running on the server", || {
        server_side.stats().requests_in_flight == 3
    })
    .await;
    (calls, server_side)
}

/// The server drops a connection while the client has calls pending: every
/// pending call fails at once with `ConnectionClosed(PeerClosed)`, the
/// server's handlers for them are cancelled, and later calls fail at once.
#[test]
fn pending_calls_fail_when_the_server_drops_the_connection() {
    serial(async {
        let mut f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let client = f.client().await;
        let (calls, server_side) = three_hanging_calls(&f, &client).await;
        server_side.close();
        for call in calls {
            let result = within("a pending call", call).await.unwrap();
            assert_eq!(expect_closed(result), CloseReason::PeerClosed);
        }
        let mut cancelled: Vec<String> = Vec::new();
        for _ in 0..3 {
            cancelled.push(
                within("a handler cancelled", f.cancelled.recv())
                    .await
                    .unwrap(),
            );
        }
        cancelled.sort();
        assert_eq!(cancelled, ["call 0", "call 1", "call 2"]);
        assert_eq!(
            expect_closed(within("a later call", client.call::<Add>((1, 1))).await),
            CloseReason::PeerClosed
        );
        drop(client);
        f.release.add_permits(3);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// The whole server goes away (dropped: no graceful shutdown) while a
/// client has calls pending: they fail at once with `ConnectionClosed`; a
/// server started again on the same port serves new clients.
#[test]
fn pending_calls_fail_when_the_server_is_killed() {
    serial(async {
        let mut f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let client = f.client().await;
        let (calls, server_side) = three_hanging_calls(&f, &client).await;
        drop(server_side);
        drop(f.server.take());
        for call in calls {
            let result = within("a pending call", call).await.unwrap();
            assert_eq!(expect_closed(result), CloseReason::PeerClosed);
        }
        assert!(client.is_closed());
        drop(client);
        for _ in 0..3 {
            within("a handler cancelled", f.cancelled.recv())
                .await
                .unwrap();
        }
        f.release.add_permits(3);
        // The listener goes with its accept loop, which ends on its own turn.
        let err = within("the listener to close", async {
            loop {
                match connect(&f.endpoint, &ConnectOptions::default()).await {
                    Ok(_) => sleep(Duration::from_millis(5)).await,
                    Err(e) => return e,
                }
            }
        })
        .await;
        assert!(matches!(err, TransportError::Connect { .. }), "{err}");

        f.restart(no_tweak).await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

// ---------------------------------------------------------------------------
// Reconnecting client
// ---------------------------------------------------------------------------

/// A `ReconnectingClient` rides out a server restart: its state goes
/// Connected, Disconnected (while the server is away), Connected again;
/// the on-connect hook runs on each connection (and can call the server);
/// a call made while disconnected (`WhileDisconnected::Wait`) goes through
/// once the server is back. A fail-fast client with no server fails calls
/// at once with `NotConnected`.
#[test]
fn reconnecting_client_survives_a_server_restart() {
    serial(async {
        let mut f = Fixture::unix(no_tweak).await;
        let baseline = f.baseline().await;

        let options = ReconnectOptions {
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            while_disconnected: WhileDisconnected::Wait(HANG),
            ..ReconnectOptions::default()
        };
        let hook_runs = Arc::new(AtomicUsize::new(0));
        let runs = hook_runs.clone();
        let client = ReconnectingClient::spawn(
            f.endpoint.clone(),
            JsonStreamCodec::new(),
            options,
            move |peer: PeerHandle| {
                let runs = runs.clone();
                async move {
                    // The hook talks to the server before anyone else may.
                    let n = peer.call::<Add>((1, 1)).await.map_err(|e| e.to_string())?;
                    if n != 2 {
                        return Err(format!("1 + 1 = {n}"));
                    }
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        );
        let mut states = Box::pin(client.states());
        let mut seen = Vec::new();
        wait_for(&mut states, |s| *s == ConnectionState::Connected, &mut seen).await;
        assert_eq!(hook_runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            within("a call", client.call::<Add>((2, 3))).await.unwrap(),
            5
        );

        within("shutdown", f.server.take().unwrap().shutdown(HANG)).await;
        // Attempts go on (and fail) while the server is away. (A watch
        // channel keeps only the latest state, so the first Disconnected,
        // for the closed connection, may be replaced before it is read.)
        let failed_attempt = |s: &ConnectionState| match s {
            ConnectionState::Disconnected { reason, .. } => reason.contains("cannot connect"),
            _ => false,
        };
        wait_for(&mut states, failed_attempt, &mut seen).await;
        let waiting = client.clone();
        let waiting_call = tokio::spawn(async move { waiting.call::<Add>((3, 4)).await });

        f.restart(no_tweak).await;
        wait_for(&mut states, |s| *s == ConnectionState::Connected, &mut seen).await;
        assert_eq!(hook_runs.load(Ordering::SeqCst), 2);
        assert_eq!(
            within("the waiting call", waiting_call)
                .await
                .unwrap()
                .unwrap(),
            7
        );
        assert_eq!(
            within("a call", client.call::<Add>((5, 6))).await.unwrap(),
            11
        );

        client.close();
        wait_for(&mut states, |s| *s == ConnectionState::Closed, &mut seen).await;
        assert_eq!(within("the end of the states", states.next()).await, None);
        let order: Vec<&str> = seen
            .iter()
            .map(|s| match s {
                ConnectionState::Connecting => "connecting",
                ConnectionState::Connected => "connected",
                ConnectionState::Disconnected { .. } => "disconnected",
                ConnectionState::Closed => "closed",
            })
            .collect();
        let mut deduped = order.clone();
        deduped.dedup();
        let connected_at: Vec<usize> = deduped
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == "connected")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(connected_at.len(), 2, "{order:?}");
        assert!(
            deduped[connected_at[0]..connected_at[1]].contains(&"disconnected"),
            "{order:?}"
        );
        assert_eq!(deduped.last(), Some(&"closed"));
        // Why each disconnect happened, and the backoff: 20 ms doubling to 50 ms.
        for state in &seen {
            if let ConnectionState::Disconnected { reason, retry_in } = state {
                assert!(
                    reason == "the peer closed the connection" || reason.contains("cannot connect"),
                    "{reason}"
                );
                assert!(
                    [20, 40, 50].map(Duration::from_millis).contains(retry_in),
                    "{retry_in:?}"
                );
            }
        }
        drop(states);

        // Fail fast: no server, no waiting.
        let nowhere = Endpoint::Unix(f.socket_path().with_file_name("nobody.sock"));
        let fail_fast = ReconnectingClient::spawn(
            nowhere,
            JsonStreamCodec::new(),
            ReconnectOptions {
                min_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
                ..ReconnectOptions::default()
            },
            |_| async { Ok(()) },
        );
        assert_eq!(
            expect_closed(within("a fail-fast call", fail_fast.call::<Add>((1, 1))).await),
            CloseReason::NotConnected
        );
        fail_fast.close();
        let closed = fail_fast.clone();
        eventually("the fail-fast client to close", move || {
            closed.state() == ConnectionState::Closed
        })
        .await;
        drop(fail_fast);
        drop(client);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

// ---------------------------------------------------------------------------
// Clients that misbehave
// ---------------------------------------------------------------------------

fn stall_fast(server: Server<JsonStreamCodec>) -> Server<JsonStreamCodec> {
    server.peer_config(
        server_side::server_config()
            .write_timeout(Some(Duration::from_millis(200)))
            .outgoing_queue(16),
    )
}

/// A client that asks for a stream of notifications and never reads them
/// is disconnected once a write makes no progress for the write timeout
/// (`CloseReason::WriteStalled`); the server serves others meanwhile and after.
#[test]
fn client_that_stops_reading_is_disconnected() {
    serial(async {
        let f = Fixture::tcp(stall_fast).await;
        let baseline = f.baseline().await;

        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut deaf = socket.connect(f.addr()).await.unwrap();
        // Up to 160 MiB: far more than any socket buffers hold.
        deaf.write_all(br#"{"jsonrpc":"2.0","id":1,"method":"flood","params":[10000,16384]}"#)
            .await
            .unwrap();
        let server_side = f.only_connection().await;
        f.serves_a_new_client().await;
        assert_eq!(
            within("the stalled connection to close", server_side.closed()).await,
            CloseReason::WriteStalled(Duration::from_millis(200))
        );
        let sent = server_side.stats().notifications_sent;
        assert!(
            sent < 10_000,
            "the flood stopped when the writer gave up ({sent} sent)"
        );
        drop(deaf);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

fn two_connections(server: Server<JsonStreamCodec>) -> Server<JsonStreamCodec> {
    server.max_connections(2)
}

/// Past `max_connections`, each new connection is accepted and closed at
/// once and counted in `stats().refused`; the clients already connected
/// are not affected, and a freed slot takes a new client.
///
/// What a refused client observes: its `connect` succeeds (the kernel
/// completes the TCP handshake before the server sees the connection), then
/// the connection ends with no message: a raw read returns end of stream,
/// and a peer's pending call fails with `ConnectionClosed`.
#[test]
fn connection_flood_past_max_connections() {
    serial(async {
        let f = Fixture::tcp(two_connections).await;
        let baseline = f.baseline().await;
        let accepted_before = f.server().stats().accepted;

        let first = f.client().await;
        let second = f.client().await;
        assert_eq!(within("first", first.call::<Add>((1, 1))).await.unwrap(), 2);
        assert_eq!(
            within("second", second.call::<Add>((2, 2))).await.unwrap(),
            4
        );
        f.open_connections(2).await;

        for _ in 0..4 {
            let mut refused = TcpStream::connect(f.addr())
                .await
                .expect("a refused client still connects");
            let mut byte = [0u8; 1];
            let n = within("the refused connection to end", refused.read(&mut byte))
                .await
                .expect("a clean end, not an error");
            assert_eq!(n, 0, "a refused connection gets no data");
        }
        let refused_peer = f.client().await;
        let reason =
            expect_closed(within("a refused peer's call", refused_peer.call::<Add>((3, 3))).await);
        assert!(
            matches!(
                reason,
                CloseReason::PeerClosed | CloseReason::Write(_) | CloseReason::Read(_)
            ),
            "{reason:?}"
        );
        drop(refused_peer);
        let server = f.server();
        eventually("five refusals counted", || server.stats().refused == 5).await;
        assert_eq!(server.stats().accepted, accepted_before + 2);
        assert_eq!(server.stats().connections_open, 2);

        assert_eq!(
            within("first again", first.call::<Add>((5, 5)))
                .await
                .unwrap(),
            10
        );
        assert_eq!(
            within("second again", second.call::<Add>((6, 6)))
                .await
                .unwrap(),
            12
        );

        within("first leaving", first.shutdown()).await;
        f.open_connections(1).await;
        f.serves_a_new_client().await;
        assert_eq!(f.server().stats().refused, 5);
        within("second leaving", second.shutdown()).await;
        assert_no_leak(baseline).await;
    })
}

fn probe_fast(server: Server<JsonStreamCodec>) -> Server<JsonStreamCodec> {
    server.peer_config(
        server_side::server_config().inactivity_probe(Some(InactivityProbe::new(
            Duration::from_millis(300),
            "echo",
        ))),
    )
}

/// Reads states (recording each in `seen`) until one is `wanted`.
async fn wait_for<S>(
    states: &mut S,
    wanted: impl Fn(&ConnectionState) -> bool,
    seen: &mut Vec<ConnectionState>,
) -> ConnectionState
where
    S: futures::Stream<Item = ConnectionState> + Unpin,
{
    within("a connection state", async {
        loop {
            let state = states.next().await.expect("the state stream ended");
            seen.push(state.clone());
            if wanted(&state) {
                return state;
            }
        }
    })
    .await
}

/// Writes `bytes` one at a time, `gap` apart; stops early if the server has
/// already dropped the connection (what follows checks that it had reason to).
async fn drip(stream: &mut TcpStream, bytes: &[u8], gap: Duration) {
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            return;
        }
        sleep(gap).await;
    }
}

/// A slowloris client sends a request one byte at a time; other clients are
/// served all the while. Once it stops (mid-message, never answering), the
/// inactivity probe drops it (`ProbeUnanswered`).
///
/// While it keeps dripping, the probe never fires: any input counts as
/// activity, and there is no deadline for finishing a message. Only a
/// server shutdown (next test) or the probe after it pauses ends it.
#[test]
fn slowloris_is_dropped_by_the_inactivity_probe() {
    serial(async {
        let f = Fixture::tcp(probe_fast).await;
        let baseline = f.baseline().await;

        let mut slow = TcpStream::connect(f.addr()).await.unwrap();
        let server_side = f.only_connection().await;
        let request = br#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#;
        let (head, _) = request.split_at(request.len() - 5);
        let other = f.client().await;
        let served = async {
            for i in 0..10 {
                assert_eq!(other.call::<Add>((i, i)).await.unwrap(), 2 * i);
                sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::join!(drip(&mut slow, head, Duration::from_millis(10)), served);
        within("the other client leaving", other.shutdown()).await;

        assert_eq!(
            within("the probe to drop the slowloris", server_side.closed()).await,
            CloseReason::ProbeUnanswered(Duration::from_millis(300))
        );
        // What the slowloris got: the probe it never answered, then the end.
        let mut got = Vec::new();
        within("reading to the end", slow.read_to_end(&mut got))
            .await
            .unwrap();
        let messages: Vec<Value> = serde_json::Deserializer::from_slice(&got)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("JSON values");
        // The probe, and (the connection has an on-wire cancel) its cancel.
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["method"], "echo");
        assert_eq!(messages[1]["method"], "$/cancelRequest");
        assert_eq!(messages[1]["params"]["id"], messages[0]["id"]);
        drop(slow);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// A slowloris mid-message does not hold up a graceful shutdown: it has no
/// request running, so its connection is closed at once and shutdown
/// returns long before its deadline.
#[test]
fn slowloris_does_not_delay_shutdown() {
    serial(async {
        let mut f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let mut slow = TcpStream::connect(f.addr()).await.unwrap();
        drip(
            &mut slow,
            br#"{"jsonrpc":"2.0","id":1,"#,
            Duration::from_millis(5),
        )
        .await;
        let server_side = f.only_connection().await;
        // A deadline longer than the hang guard: waiting for it fails the test.
        within("shutdown", f.server.take().unwrap().shutdown(HANG * 3)).await;
        assert_eq!(server_side.closed().await, CloseReason::Local);
        let mut rest = Vec::new();
        let n = within("the slowloris to see the end", slow.read_to_end(&mut rest))
            .await
            .unwrap();
        assert_eq!(n, 0);
        drop(slow);

        f.restart(no_tweak).await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

// ---------------------------------------------------------------------------
// Oversized frames
// ---------------------------------------------------------------------------

/// A frame over `max_frame` is answered with an invalid-request error (id
/// null) and skipped; the same connection then serves a normal call. With
/// `Content-Length` framing a declared length over the limit is skipped the
/// same way, body unread into memory.
#[test]
fn oversized_frames_are_refused_and_the_connection_goes_on() {
    serial(async {
        let f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let mut raw = f.raw().await;
        let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": ["y".repeat(4 * MAX_FRAME)]});
        for round in 0..3 {
            raw.send_json(&huge).await;
            raw.send_json(
                &json!({"jsonrpc": "2.0", "id": 2 + round, "method": "add", "params": [round, 1]}),
            )
            .await;
            let refused = raw.recv_reply().await;
            assert_eq!(refused["id"], 1, "the id read from the frame's first bytes");
            assert_eq!(refused["error"]["code"], ErrorObject::INVALID_REQUEST);
            assert_eq!(
                raw.recv_reply().await,
                json!({"jsonrpc": "2.0", "id": 2 + round, "result": round + 1})
            );
        }
        let server_side = f.only_connection().await;
        assert_eq!(server_side.stats().oversized_frames, 3);
        drop(raw);

        // Content-Length framing on a server of its own.
        let server = Server::new(ContentLengthCodec::new().with_max_frame(MAX_FRAME))
            .router(f.router.clone())
            .bind(["ptcp:0:127.0.0.1".parse().unwrap()])
            .await
            .unwrap();
        let ListenEndpoint::Tcp { port, .. } = server.local_endpoints()[0] else {
            unreachable!()
        };
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut raw = Raw::new(Box::pin(stream), ContentLengthCodec::new());
        let body = "z".repeat(4 * MAX_FRAME);
        raw.io
            .write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
            .await
            .unwrap();
        raw.send(r#"{"jsonrpc":"2.0","id":7,"method":"add","params":[3,4]}"#)
            .await;
        let refused = raw.recv_reply().await;
        assert_eq!(refused["error"]["code"], ErrorObject::INVALID_REQUEST);
        assert_eq!(
            raw.recv_reply().await,
            json!({"jsonrpc": "2.0", "id": 7, "result": 7})
        );
        drop(raw);
        within(
            "the content-length server's shutdown",
            server.shutdown(HANG),
        )
        .await;

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

// ---------------------------------------------------------------------------
// Unix socket hygiene
// ---------------------------------------------------------------------------

fn inode(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("the socket file").ino()
}

/// A socket file left by a dead server is replaced; the server serves on it
/// and removes it when it shuts down.
#[test]
fn unix_stale_socket_file_is_replaced() {
    serial(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        // A std listener leaves its file behind when dropped, as a crashed server does.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());

        let f = Fixture::start(ListenEndpoint::Unix(path.clone()), None, no_tweak).await;
        let baseline = f.baseline().await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;

        within("shutdown", f.server.unwrap().shutdown(HANG)).await;
        assert!(!path.exists(), "the socket file is removed on shutdown");
    })
}

/// A socket file a live server accepts on is not taken over: binding it
/// fails with `SocketInUse`, and the live server keeps its file and serves.
#[test]
fn unix_live_socket_is_not_stolen() {
    serial(async {
        let f = Fixture::unix(no_tweak).await;
        let baseline = f.baseline().await;
        let path = f.socket_path();
        let live = inode(&path);

        let err = builder(f.router.clone())
            .bind([f.listen.clone()])
            .await
            .expect_err("a live socket is not stolen");
        match err {
            TransportError::SocketInUse { endpoint } => {
                assert_eq!(endpoint, format!("punix:{}", path.display()))
            }
            other => panic!("expected SocketInUse, got {other}"),
        }
        let err = Listener::bind(&f.listen, None)
            .await
            .expect_err("a live socket is not stolen");
        assert!(matches!(err, TransportError::SocketInUse { .. }), "{err}");
        assert_eq!(inode(&path), live);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// The socket file goes with the server: on shutdown, and on drop. A file
/// another server has put in its place since is left alone.
#[test]
fn unix_socket_file_is_removed_with_its_server_only() {
    serial(async {
        let mut f = Fixture::unix(no_tweak).await;
        let baseline = f.baseline().await;
        let path = f.socket_path();

        within("shutdown", f.server.take().unwrap().shutdown(HANG)).await;
        assert!(!path.exists(), "removed on shutdown");

        f.restart(no_tweak).await;
        assert!(path.exists());
        drop(f.server.take());
        eventually("the file to go with a dropped server", || !path.exists()).await;

        // A successor binds the same path after the file was removed by hand;
        // the first server's shutdown must leave the successor's file alone.
        f.restart(no_tweak).await;
        std::fs::remove_file(&path).unwrap();
        let successor = builder(f.router.clone())
            .bind([f.listen.clone()])
            .await
            .unwrap();
        let theirs = inode(&path);
        within(
            "the first server's shutdown",
            f.server.take().unwrap().shutdown(HANG),
        )
        .await;
        // (While the first server lives, its socket holds its inode, so the
        // successor's file cannot have the same inode number.)
        assert_eq!(inode(&path), theirs, "the successor's file is still there");
        f.server = Some(successor);
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

// ---------------------------------------------------------------------------
// Graceful shutdown and half-close
// ---------------------------------------------------------------------------

/// Graceful shutdown: new connections are refused as soon as it begins;
/// calls in flight finish and their replies arrive; then the connections
/// close (clients see `PeerClosed`), and shutdown returns once the calls are
/// done, not at its deadline.
#[test]
fn graceful_shutdown_finishes_calls_in_flight() {
    serial(async {
        let mut f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let clients = [f.client().await, f.client().await];
        let calls: Vec<_> = clients
            .iter()
            .map(|c| {
                let c = c.clone();
                tokio::spawn(async move { c.call_raw_typed::<_, String>("gated", ()).await })
            })
            .collect();
        let server = f.server.take().unwrap();
        let in_flight = || -> u64 {
            server
                .connections()
                .iter()
                .map(|p| p.stats().requests_in_flight)
                .sum()
        };
        eventually("two calls in flight", || in_flight() == 2).await;

        // A deadline longer than the hang guard: waiting for it fails the test.
        let shutdown = tokio::spawn(server.shutdown(HANG * 3));
        let endpoint = f.endpoint.clone();
        within("new connections to be refused", async {
            while connect(&endpoint, &ConnectOptions::default()).await.is_ok() {
                sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        tokio::task::yield_now().await;
        assert!(
            !shutdown.is_finished(),
            "shutdown waits for the calls in flight"
        );

        f.gate.add_permits(2);
        for call in calls {
            assert_eq!(
                within("a call in flight", call).await.unwrap().unwrap(),
                "released"
            );
        }
        within("shutdown", shutdown).await.unwrap();
        for c in &clients {
            assert_eq!(
                within("client closed", c.closed()).await,
                CloseReason::PeerClosed
            );
        }
        drop(clients);

        f.restart(no_tweak).await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// A shutdown whose deadline passes closes what is left: a handler still
/// running has its token fired, and the client's call ends. The handler
/// here answers its cancel at once; whether that answer is written before
/// the connection's writer finishes is a race inside the closing
/// connection, so the client sees either that answer (-32800) or
/// `ConnectionClosed(PeerClosed)`, never a hang.
#[test]
fn shutdown_past_its_deadline_cancels_handlers() {
    serial(async {
        let mut f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;

        let client = f.client().await;
        let caller = client.clone();
        let call = tokio::spawn(async move {
            caller
                .call_raw_typed::<_, Value>("until_cancelled", ("at shutdown",))
                .await
        });
        let server_side = f.only_connection().await;
        eventually("the call in flight", || {
            server_side.stats().requests_in_flight == 1
        })
        .await;
        // The deadline is short; the hang guard around it is not.
        within(
            "shutdown",
            f.server
                .take()
                .unwrap()
                .shutdown(Duration::from_millis(100)),
        )
        .await;
        assert_eq!(
            within("the handler's cancel", f.cancelled.recv())
                .await
                .unwrap(),
            "at shutdown"
        );
        match within("the call", call).await.unwrap() {
            Err(CallError::Rpc(e)) => assert_eq!(e.code, ErrorObject::REQUEST_CANCELLED),
            Err(CallError::ConnectionClosed(CloseReason::PeerClosed)) => {}
            other => panic!("expected the cancel's answer or ConnectionClosed, got {other:?}"),
        }
        drop(client);

        f.restart(no_tweak).await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

fn long_drain(server: Server<JsonStreamCodec>) -> Server<JsonStreamCodec> {
    server.peer_config(server_side::server_config().drain_timeout(HANG * 3))
}

/// `RunningServer::shutdown(deadline)` returns soon after its deadline even
/// when a handler does not return once cancelled: the server closes what is
/// left at the deadline and its clients see the connection end.
///
/// Today it waits for the peer's `drain_timeout` instead (30 s by default;
/// set longer than the hang guard here): `shutdown` first calls each peer's
/// graceful `shutdown()`, which puts the connection's driver in its drain
/// wait for running handlers; the `close()` at the deadline cancels the
/// handlers' tokens but does not end that wait, so the connection does not
/// end until the handler returns or `drain_timeout` passes.
#[test]
fn shutdown_deadline_holds_when_a_handler_ignores_its_cancel() {
    serial(async {
        let mut f = Fixture::tcp(long_drain).await;
        let baseline = f.baseline().await;

        let client = f.client().await;
        let caller = client.clone();
        let call = tokio::spawn(async move {
            caller
                .call_raw_typed::<_, Value>("hang", ("at shutdown",))
                .await
        });
        let server_side = f.only_connection().await;
        eventually("the call in flight", || {
            server_side.stats().requests_in_flight == 1
        })
        .await;
        let shutdown = tokio::spawn(
            f.server
                .take()
                .unwrap()
                .shutdown(Duration::from_millis(100)),
        );
        assert_eq!(
            within("the handler's cancel", f.cancelled.recv())
                .await
                .unwrap(),
            "at shutdown"
        );
        assert!(within("the call", call)
            .await
            .unwrap()
            .unwrap_err()
            .is_closed());
        let finished = within("shutdown past its deadline", shutdown).await;
        f.release.add_permits(1);
        finished.unwrap();
        drop(client);

        f.restart(long_drain).await;
        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}

/// Writes five requests, shuts the write side, and reads to the end: every
/// reply arrives before the server closes its side.
async fn half_close(f: &Fixture) {
    let mut raw = f.raw().await;
    for id in 1..=5u64 {
        raw.send_json(
            &json!({"jsonrpc": "2.0", "id": id, "method": "sleepy", "params": [10 * id]}),
        )
        .await;
    }
    let server_side = f.only_connection().await;
    raw.io.shutdown().await.expect("shutting the write side");
    let mut replies = BTreeMap::new();
    while let Some(reply) = raw.recv().await {
        replies.insert(reply["id"].as_u64().unwrap(), reply["result"].clone());
    }
    let expected: BTreeMap<u64, Value> = (1..=5).map(|id| (id, json!(10 * id))).collect();
    assert_eq!(replies, expected);
    assert_eq!(
        within("the server side to close", server_side.closed()).await,
        CloseReason::PeerClosed
    );
}

/// Half-close over TCP and a Unix socket: a client that sends its requests
/// and then shuts its write side gets every reply before the server closes.
#[test]
fn half_closed_client_gets_every_reply() {
    serial(async {
        let f = Fixture::tcp(no_tweak).await;
        let baseline = f.baseline().await;
        half_close(&f).await;

        let u = Fixture::unix(no_tweak).await;
        half_close(&u).await;
        u.serves_a_new_client().await;
        drop(u);

        f.serves_a_new_client().await;
        assert_no_leak(baseline).await;
    })
}
