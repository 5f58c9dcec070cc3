//! The shared transport suite (`suite/mod.rs`) run over TCP, Unix sockets,
//! TLS with client certificates and in-memory pairs, plus what only TLS has:
//! certificate checks in both directions. The stdio transport runs the same
//! suite from the root package's `tests/transport_stdio.rs`, where the child
//! server binary's path is known.
//!
//! Socket transports use a [`Server`] from `Server::bind` and `connect`, with
//! the raw-JSON-stream framing; the in-memory pair uses the line framing.
//! TLS certificates (a CA, a server certificate for `localhost` and
//! 127.0.0.1, a client certificate, and an unrelated second CA) are made with
//! rcgen into a temporary directory at test time.

#[macro_use]
mod suite;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonrpc_core::codec::{JsonStreamCodec, LineCodec};
use jsonrpc_core::{
    CallError, CloseReason, ConnectionId, ErrorObject, Peer, PeerHandle, RequestContext, Router,
};
use jsonrpc_transport::{
    connect, memory_pair, ClientTls, ConnectOptions, Endpoint, ListenEndpoint, RunningServer,
    Server, ServerTls, TlsError, TransportError,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use suite::server_side::{self, Add, MAX_FRAME};
use suite::{eventually, within, BoxIo, Transport};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// PEM files for the TLS tests.
struct Pki {
    _dir: TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A CA that signed none of the above.
    other_ca: PathBuf,
}

fn write(dir: &Path, name: &str, pem: String) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("writing a PEM file");
    path
}

fn make_ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params.self_signed(&key).unwrap(), key)
}

fn make_leaf(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    (params.signed_by(&key, ca, ca_key).unwrap(), key)
}

/// The certificates, made once per test binary.
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (ca, ca_key) = make_ca("suite CA");
        let (server, server_key) = make_leaf(
            &["localhost", "127.0.0.1"],
            "suite server",
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            &ca_key,
        );
        let (client, client_key) = make_leaf(
            &[],
            "suite client",
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
            &ca_key,
        );
        let (other_ca, _) = make_ca("someone else's CA");
        Pki {
            ca: write(d, "ca.pem", ca.pem()),
            server_cert: write(d, "server-cert.pem", server.pem()),
            server_key: write(d, "server-key.pem", server_key.serialize_pem()),
            client_cert: write(d, "client-cert.pem", client.pem()),
            client_key: write(d, "client-key.pem", client_key.serialize_pem()),
            other_ca: write(d, "other-ca.pem", other_ca.pem()),
            _dir: dir,
        }
    })
}

/// Server TLS that requires a client certificate signed by the suite's CA.
fn server_tls() -> ServerTls {
    let p = pki();
    ServerTls::from_pem_files(&p.server_cert, &p.server_key, Some(&p.ca)).unwrap()
}

/// Client TLS that trusts the suite's CA and presents the client certificate.
fn client_tls() -> ClientTls {
    let p = pki();
    ClientTls::from_pem_files(&p.ca, Some((&p.client_cert, &p.client_key))).unwrap()
}

// ---------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------

fn server_builder() -> Server<JsonStreamCodec> {
    Server::new(JsonStreamCodec::new().with_max_frame(MAX_FRAME))
        .router(server_side::router())
        .peer_config(server_side::server_config())
}

/// A `Server` on a socket, reached with `connect`.
struct SocketTransport {
    server: RunningServer,
    endpoint: Endpoint,
    options: ConnectOptions,
    _dir: Option<TempDir>,
}

impl Transport for SocketTransport {
    type Codec = JsonStreamCodec;

    fn codec(&self, max_frame: usize) -> JsonStreamCodec {
        JsonStreamCodec::new().with_max_frame(max_frame)
    }

    async fn open(&self) -> BoxIo {
        Box::pin(
            connect(&self.endpoint, &self.options)
                .await
                .expect("connect"),
        )
    }

    async fn connect(&self, peer: Peer<JsonStreamCodec>) -> PeerHandle {
        let stream = connect(&self.endpoint, &self.options)
            .await
            .expect("connect");
        stream.into_peer(peer)
    }

    async fn server_side(&self, open: usize) -> Option<Vec<PeerHandle>> {
        eventually("the server to register its connections", || {
            self.server.stats().connections_open == open
        })
        .await;
        Some(self.server.connections())
    }
}

/// Connects to whatever `Server::bind` made of `listen`.
fn connect_endpoint(server: &RunningServer, host: &str) -> Endpoint {
    match &server.local_endpoints()[0] {
        ListenEndpoint::Tcp { port, .. } => Endpoint::Tcp {
            host: host.into(),
            port: *port,
        },
        ListenEndpoint::Ssl { port, .. } => Endpoint::Ssl {
            host: host.into(),
            port: *port,
        },
        ListenEndpoint::Unix(path) => Endpoint::Unix(path.clone()),
    }
}

async fn tcp() -> SocketTransport {
    let server = server_builder()
        .bind(["ptcp:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    SocketTransport {
        endpoint: connect_endpoint(&server, "127.0.0.1"),
        server,
        options: ConnectOptions::default(),
        _dir: None,
    }
}

async fn unix() -> SocketTransport {
    let dir = tempfile::tempdir().unwrap();
    let listen = ListenEndpoint::Unix(dir.path().join("suite.sock"));
    let server = server_builder().bind([listen]).await.unwrap();
    SocketTransport {
        endpoint: connect_endpoint(&server, ""),
        server,
        options: ConnectOptions::default(),
        _dir: Some(dir),
    }
}

async fn tls() -> SocketTransport {
    let server = server_builder()
        .tls(server_tls())
        .bind(["pssl:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    SocketTransport {
        endpoint: connect_endpoint(&server, "127.0.0.1"),
        server,
        options: ConnectOptions::default().tls(client_tls()),
        _dir: None,
    }
}

/// A fresh in-memory pair per connection, its server peer spawned here.
struct MemoryTransport {
    router: Arc<Router>,
    servers: Mutex<Vec<PeerHandle>>,
}

impl Transport for MemoryTransport {
    type Codec = LineCodec;

    fn codec(&self, max_frame: usize) -> LineCodec {
        LineCodec::new().with_max_frame(max_frame)
    }

    async fn open(&self) -> BoxIo {
        let (server_end, client_end) = memory_pair(64 * 1024);
        let server = Peer::new(self.codec(MAX_FRAME))
            .router(self.router.clone())
            .config(server_side::server_config())
            .spawn(server_end);
        self.servers.lock().unwrap().push(server);
        Box::pin(client_end)
    }

    async fn server_side(&self, open: usize) -> Option<Vec<PeerHandle>> {
        let servers: Vec<PeerHandle> = self
            .servers
            .lock()
            .unwrap()
            .iter()
            .filter(|p| !p.is_closed())
            .cloned()
            .collect();
        assert_eq!(servers.len(), open);
        Some(servers)
    }
}

async fn memory() -> MemoryTransport {
    MemoryTransport {
        router: Arc::new(server_side::router()),
        servers: Mutex::default(),
    }
}

mod over_tcp {
    transport_suite!(super::tcp);
}

mod over_unix {
    transport_suite!(super::unix);
}

mod over_tls {
    transport_suite!(super::tls);
}

mod over_memory {
    transport_suite!(super::memory);
}

// ---------------------------------------------------------------------------
// TLS specifics
// ---------------------------------------------------------------------------

/// A server that requires client certificates turns away a client without
/// one: the handshake fails on the server (counted in `stats().failed`) and
/// the client never gets a working connection. The server goes on serving
/// clients that do present a certificate.
///
/// What the client sees depends on the TLS version: in TLS 1.3 the client
/// finishes its side of the handshake before the server checks the client
/// certificate, so `connect` succeeds and the rejection arrives as an alert
/// on the first read or write: the client's pending call fails with
/// `ConnectionClosed(Read or Write("received fatal alert: CertificateRequired"))`. A
/// TLS 1.2 handshake would fail in `connect` instead; both are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_without_certificate_is_rejected() {
    let t = tls().await;
    let anonymous =
        ConnectOptions::default().tls(ClientTls::from_pem_files(&pki().ca, None).unwrap());
    match within(
        "connecting without a certificate",
        connect(&t.endpoint, &anonymous),
    )
    .await
    {
        Err(TransportError::Tls(TlsError::Handshake { .. })) => {}
        Err(other) => panic!("expected a TLS handshake error, got {other}"),
        Ok(stream) => {
            let peer = stream.into_peer(Peer::new(t.codec(MAX_FRAME)));
            match within("a call without a certificate", peer.call::<Add>((1, 2))).await {
                // The alert ends the TLS stream for both halves; whichever
                // of the reader and the writer meets it first names it.
                Err(CallError::ConnectionClosed(
                    CloseReason::Read(alert) | CloseReason::Write(alert),
                )) => assert!(alert.contains("CertificateRequired"), "{alert}"),
                Err(e) => panic!("expected the server's alert, got {e:?}"),
                Ok(sum) => panic!("a client without a certificate was served: {sum}"),
            }
        }
    }
    eventually("the failed handshake to be counted", || {
        t.server.stats().failed == 1
    })
    .await;
    let stats = t.server.stats();
    assert_eq!(stats.connections_open, 0);

    let c = suite::client(&t).await;
    assert_eq!(
        within("a certified client", c.peer.call::<Add>((2, 3)))
            .await
            .unwrap(),
        5
    );
    assert_eq!(t.server.stats().failed, 1);
    eventually("the certified client's connection", || {
        t.server.stats().connections_open == 1
    })
    .await;
}

/// A client that does not trust the server's CA refuses the server: `connect`
/// fails with a TLS handshake error (the server counts a failed setup too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_that_does_not_trust_the_server_fails() {
    let t = tls().await;
    let p = pki();
    let distrustful = ConnectOptions::default().tls(
        ClientTls::from_pem_files(&p.other_ca, Some((&p.client_cert, &p.client_key))).unwrap(),
    );
    match within(
        "connecting to an untrusted server",
        connect(&t.endpoint, &distrustful),
    )
    .await
    {
        Err(TransportError::Tls(TlsError::Handshake { peer, source })) => {
            assert_eq!(peer, "127.0.0.1");
            assert!(
                source.to_string().to_lowercase().contains("certificate"),
                "{source}"
            );
        }
        Err(other) => panic!("expected a TLS handshake error, got {other}"),
        Ok(_) => panic!("connected to a server whose CA is not trusted"),
    }
    eventually("the failed handshake to be counted", || {
        t.server.stats().failed == 1
    })
    .await;

    // The name checked is the one connected to: `localhost` is in the
    // certificate too.
    let by_name = Endpoint::Ssl {
        host: "localhost".into(),
        port: match t.endpoint {
            Endpoint::Ssl { port, .. } => port,
            _ => unreachable!(),
        },
    };
    let stream = within("connect by name", connect(&by_name, &t.options))
        .await
        .expect("localhost is a name in the server certificate");
    let peer = stream.into_peer(Peer::new(t.codec(MAX_FRAME)));
    assert_eq!(within("add", peer.call::<Add>((20, 22))).await.unwrap(), 42);
}

/// A server whose TLS has no client CA serves clients without certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_without_client_ca_serves_anyone() {
    let p = pki();
    let server = server_builder()
        .tls(ServerTls::from_pem_files(&p.server_cert, &p.server_key, None).unwrap())
        .bind(["pssl:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    let anonymous = ConnectOptions::default().tls(ClientTls::from_pem_files(&p.ca, None).unwrap());
    let stream = within(
        "connect",
        connect(&connect_endpoint(&server, "127.0.0.1"), &anonymous),
    )
    .await
    .unwrap();
    let peer = stream.into_peer(Peer::new(JsonStreamCodec::new()));
    assert_eq!(within("add", peer.call::<Add>((1, 1))).await.unwrap(), 2);
    assert_eq!(server.stats().failed, 0);
}

/// A client that connects to a TLS endpoint and never starts the handshake
/// is dropped at the handshake timeout (counted as failed) without holding
/// up other clients: the accept loop never waits on a handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_timeout_drops_a_silent_client() {
    let server = server_builder()
        .tls(server_tls())
        .handshake_timeout(std::time::Duration::from_millis(200))
        .bind(["pssl:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    let endpoint = connect_endpoint(&server, "127.0.0.1");
    let Endpoint::Ssl { port, .. } = endpoint else {
        unreachable!()
    };
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let stream = within(
        "a certified client",
        connect(&endpoint, &ConnectOptions::default().tls(client_tls())),
    )
    .await
    .unwrap();
    let peer = stream.into_peer(Peer::new(JsonStreamCodec::new()));
    assert_eq!(within("add", peer.call::<Add>((1, 2))).await.unwrap(), 3);

    let mut buf = Vec::new();
    let read = within("the silent client to be dropped", async {
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut buf).await
    })
    .await;
    assert_eq!(read.unwrap(), 0, "the connection just ends: {buf:?}");
    eventually("the timed-out handshake to be counted", || {
        server.stats().failed == 1
    })
    .await;
    assert_eq!(
        within("add again", peer.call::<Add>((2, 2))).await.unwrap(),
        4
    );
}

/// `ssl:` and `pssl:` endpoints without TLS settings are refused up front.
#[tokio::test]
async fn ssl_endpoints_need_tls_settings() {
    let err = server_builder()
        .bind(["pssl:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::TlsRequired { .. }), "{err}");

    let t = tls().await;
    let err = connect(&t.endpoint, &ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::TlsRequired { .. }), "{err}");
    assert_eq!(t.server.stats().accepted, 0, "nothing was even sent");
}

// ---------------------------------------------------------------------------
// Wire cancel ordering
// ---------------------------------------------------------------------------

/// A call dropped while its request still waits in the outgoing queue (the
/// peer reads slowly) must not have its `$/cancelRequest` overtake the
/// request: a server that sees the cancel first ignores it (no such request
/// yet) and then runs the request with nobody to cancel it.
///
/// Today the cancel goes on the control lane, which the writer empties
/// before the outgoing queue, so it is written ahead of its request.
#[tokio::test(flavor = "current_thread")]
async fn a_cancel_never_overtakes_its_request() {
    let (client_end, server_end) = memory_pair(1024);
    let client = Peer::new(LineCodec::new())
        .config(suite::client_config())
        .spawn(client_end);
    // More than the pipe holds: the writer is stuck in this write until the
    // other end reads.
    let filler = jsonrpc_core::RawJson::from_value(&["x".repeat(8 * 1024)]).ok();
    client.notify_raw("filler", filler).await.unwrap();
    tokio::task::yield_now().await;
    let caller = client.clone();
    let call = tokio::spawn(async move {
        caller
            .call_raw_typed::<_, serde_json::Value>("slow", ())
            .await
    });
    let sent = client.clone();
    eventually("the call to be queued", move || {
        sent.stats().calls_sent == 1
    })
    .await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());

    let mut raw = suite::Raw::new(Box::pin(server_end), LineCodec::new());
    let mut methods = Vec::new();
    for _ in 0..3 {
        let message = raw.recv().await.expect("three messages");
        methods.push(message["method"].as_str().unwrap().to_owned());
    }
    assert_eq!(methods, ["filler", "slow", "$/cancelRequest"]);
}

// ---------------------------------------------------------------------------
// Connections: identity, state, open and close hooks
// ---------------------------------------------------------------------------

/// What one client has done on its connection, kept as its state.
#[derive(Default)]
struct Session {
    calls: u64,
}

/// Who the server says a caller is.
#[derive(serde::Deserialize, Debug)]
struct Whoami {
    id: u64,
    remote: Option<String>,
    subject: Option<String>,
    calls: u64,
}

/// Every hook run, in order: `(opened?, connection, close reason)`.
type HookLog = Arc<Mutex<Vec<(bool, ConnectionId, Option<CloseReason>)>>>;

/// A server that keeps a `Session` per connection and logs its hooks.
fn hooked_server(log: &HookLog) -> Server<JsonStreamCodec> {
    let mut router = Router::new();
    router.method_fn("whoami", |_: (), ctx: RequestContext| {
        let calls = ctx.with_state(|s: &mut Session| {
            s.calls += 1;
            s.calls
        });
        let info = ctx.connection().expect("on a connection").clone();
        async move {
            Ok::<_, ErrorObject>(serde_json::json!({
                "id": info.id().get(),
                "remote": info.remote_addr(),
                "subject": info.tls_subject(),
                "calls": calls,
            }))
        }
    });
    let (opened, closed) = (log.clone(), log.clone());
    Server::new(JsonStreamCodec::new())
        .router(router)
        .on_open(move |peer| {
            opened.lock().unwrap().push((true, peer.info().id(), None));
            peer.state(Session::default())
        })
        .on_close(move |peer, reason| {
            let session = peer.take_state::<Session>();
            assert!(session.is_some(), "the state is there until taken");
            closed
                .lock()
                .unwrap()
                .push((false, peer.id(), Some(reason.clone())));
        })
}

/// Each connection's hooks ran once each, opened before closed.
fn assert_each_opened_and_closed_once(log: &HookLog, connections: usize) {
    let log = log.lock().unwrap();
    let opened: Vec<_> = log.iter().filter(|e| e.0).map(|e| e.1).collect();
    let closed: Vec<_> = log.iter().filter(|e| !e.0).map(|e| e.1).collect();
    assert_eq!(opened.len(), connections, "{log:?}");
    let mut sorted_open = opened.clone();
    sorted_open.sort();
    sorted_open.dedup();
    assert_eq!(sorted_open.len(), connections, "ids are distinct: {log:?}");
    let mut sorted_closed = closed.clone();
    sorted_closed.sort();
    assert_eq!(sorted_open, sorted_closed, "closed once each: {log:?}");
    for id in &opened {
        let open_at = log.iter().position(|e| e.0 && e.1 == *id);
        let close_at = log.iter().position(|e| !e.0 && e.1 == *id);
        assert!(open_at < close_at, "{id} closed before it opened: {log:?}");
    }
}

async fn whoami(peer: &PeerHandle) -> Whoami {
    within("whoami", peer.call_raw_typed("whoami", ()))
        .await
        .expect("whoami")
}

/// Over TCP, Unix and TLS: each connection has its own id and state, knows
/// its remote address (and over TLS the client certificate's subject), and
/// its close hook runs exactly once whether the client closes, resets, or
/// the server shuts down gracefully.
async fn connections_have_identity_state_and_hooks(listen: &str, options: ConnectOptions) {
    let log = HookLog::default();
    let mut server = hooked_server(&log);
    if listen.starts_with("pssl:") {
        server = server.tls(server_tls());
    }
    let dir = tempfile::tempdir().unwrap();
    let listen = listen.replace("DIR", &dir.path().display().to_string());
    let server = server.bind([listen.parse().unwrap()]).await.unwrap();
    let endpoint = connect_endpoint(&server, "127.0.0.1");
    let open = || async {
        let stream = connect(&endpoint, &options).await.expect("connect");
        let local = match &stream {
            jsonrpc_transport::Stream::Tcp(s) => s.local_addr().ok().map(|a| a.to_string()),
            jsonrpc_transport::Stream::TlsClient(s) => {
                s.get_ref().0.local_addr().ok().map(|a| a.to_string())
            }
            _ => None,
        };
        (stream.into_peer(Peer::new(JsonStreamCodec::new())), local)
    };

    let (a, a_local) = open().await;
    let (b, _) = open().await;
    let (first, again, other) = (whoami(&a).await, whoami(&a).await, whoami(&b).await);
    assert_eq!(
        (first.calls, again.calls, other.calls),
        (1, 2, 1),
        "state per connection"
    );
    assert_eq!(first.id, again.id);
    assert_ne!(first.id, other.id);
    let server_ids: Vec<u64> = server.connections().iter().map(|p| p.id().get()).collect();
    assert!(server_ids.contains(&first.id) && server_ids.contains(&other.id));
    match (&endpoint, a_local) {
        (Endpoint::Unix(_), _) => assert_eq!(first.remote.as_deref(), Some("unix:(unnamed)")),
        (_, local) => assert_eq!(first.remote, local, "the client's own address"),
    }
    match &endpoint {
        Endpoint::Ssl { .. } => {
            let subject = first.subject.expect("a client certificate");
            assert!(subject.contains("CN=suite client"), "{subject}");
        }
        _ => assert_eq!(first.subject, None),
    }

    // The client closes.
    a.close();
    eventually("a's close hook", || log.lock().unwrap().len() == 3).await;

    // The client resets (TCP only: a RST, no orderly close).
    if let Endpoint::Tcp { host, port } = &endpoint {
        let socket = tokio::net::TcpStream::connect((host.as_str(), *port))
            .await
            .unwrap();
        let mut raw = socket;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        raw.write_all(br#"{"jsonrpc":"2.0","id":1,"method":"whoami"}"#)
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = within("a reply before the reset", raw.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0);
        socket2::SockRef::from(&raw)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        drop(raw);
        eventually("the reset connection's close hook", || {
            log.lock().unwrap().len() == 5
        })
        .await;
    }

    // The server shuts down with connections open.
    let (_c, _) = open().await;
    eventually("c registered", || server.stats().connections_open == 2).await;
    within(
        "shutdown",
        server.shutdown(std::time::Duration::from_secs(2)),
    )
    .await;
    let reset = matches!(endpoint, Endpoint::Tcp { .. });
    assert_each_opened_and_closed_once(&log, 3 + usize::from(reset));
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_have_identity_state_and_hooks() {
    connections_have_identity_state_and_hooks("ptcp:0:127.0.0.1", ConnectOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_connections_have_identity_state_and_hooks() {
    connections_have_identity_state_and_hooks("punix:DIR/hooks.sock", ConnectOptions::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_have_identity_state_and_hooks() {
    let options = ConnectOptions::default().tls(client_tls());
    connections_have_identity_state_and_hooks("pssl:0:127.0.0.1", options).await;
}

/// Dropping a running server closes its connections; each close hook runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_server_runs_every_close_hook() {
    let log = HookLog::default();
    let server = hooked_server(&log)
        .bind(["ptcp:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    let endpoint = connect_endpoint(&server, "127.0.0.1");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let stream = connect(&endpoint, &ConnectOptions::default())
            .await
            .unwrap();
        let peer = stream.into_peer(Peer::new(JsonStreamCodec::new()));
        whoami(&peer).await;
        clients.push(peer);
    }
    drop(server);
    eventually("every close hook", || log.lock().unwrap().len() == 6).await;
    assert_each_opened_and_closed_once(&log, 3);
    for client in &clients {
        within("the client sees the close", client.closed()).await;
    }
}

/// Past `max_connections` a connection is accepted and closed at once: it
/// never opened, so neither hook runs for it, and the counts stay right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_run_no_hooks() {
    let log = HookLog::default();
    let server = hooked_server(&log)
        .max_connections(1)
        .bind(["ptcp:0:127.0.0.1".parse().unwrap()])
        .await
        .unwrap();
    let endpoint = connect_endpoint(&server, "127.0.0.1");
    let first = connect(&endpoint, &ConnectOptions::default())
        .await
        .unwrap();
    let first = first.into_peer(Peer::new(JsonStreamCodec::new()));
    whoami(&first).await;
    let second = connect(&endpoint, &ConnectOptions::default())
        .await
        .unwrap();
    let second = second.into_peer(Peer::new(JsonStreamCodec::new()));
    within("the refused connection closes", second.closed()).await;
    eventually("counted as refused", || server.stats().refused == 1).await;
    first.close();
    eventually("the first one's close hook", || {
        log.lock().unwrap().len() == 2
    })
    .await;
    assert_each_opened_and_closed_once(&log, 1);
    assert_eq!(server.stats().accepted, 1);
}
