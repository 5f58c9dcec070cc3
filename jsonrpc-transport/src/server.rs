//! A server: accept loops on one or more endpoints, one peer per connection.
//!
//! Every connection gets its own [`Peer`] serving the one shared router;
//! an [`on_open`](Server::on_open) hook can give each its own state (or its
//! own router), and an [`on_close`](Server::on_close) hook tears it down. The
//! server caps how many connections are open at once: a connection past the
//! cap is accepted and closed at once (and counted as refused), so its client
//! learns right away instead of waiting in the kernel's backlog. Accept errors
//! (such as running out of file descriptors) are logged and retried after a
//! growing pause rather than ending the server.
//!
//! [`RunningServer::shutdown`] stops accepting, lets every connection finish
//! the requests it is running (up to a deadline), closes them, and removes
//! the Unix socket files.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpc_core::codec::Framing;
use jsonrpc_core::{CloseReason, ConnectionId, Peer, PeerConfig, PeerHandle, Profile, Router};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{Keepalive, ListenEndpoint, Listener, ServerTls, TransportError};

/// Builds a server.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use jsonrpc_core::{codec::JsonStreamCodec, ErrorObject, Router};
/// use jsonrpc_transport::Server;
///
/// let mut router = Router::new();
/// router.method_fn("echo", |p: serde_json::Value, _| async move { Ok::<_, ErrorObject>(p) });
/// let server = Server::new(JsonStreamCodec::new())
///     .router(router)
///     .max_connections(64)
///     .bind(["punix:/tmp/demo.sock".parse()?, "ptcp:0:127.0.0.1".parse()?])
///     .await?;
/// println!("listening on {:?}", server.local_endpoints());
/// server.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
pub struct Server<F> {
    framing: F,
    router: Arc<Router>,
    peer_config: PeerConfig,
    max_connections: usize,
    handshake_timeout: Duration,
    tls: Option<ServerTls>,
    on_open: Option<OnOpen<F>>,
    on_close: Option<OnClose>,
    keepalive: Option<Keepalive>,
    first_input_timeout: Option<Duration>,
}

/// The hook run as each connection opens (see [`Server::on_open`]).
pub type OnOpen<F> = Arc<dyn Fn(Peer<F>) -> Peer<F> + Send + Sync>;
/// The hook run once each connection has closed (see [`Server::on_close`]).
pub type OnClose = Arc<dyn Fn(&PeerHandle, &CloseReason) + Send + Sync>;

impl<F: Framing + Clone> Server<F> {
    /// A server whose connections use `framing`, with an empty router.
    pub fn new(framing: F) -> Self {
        Server {
            framing,
            router: Arc::new(Router::new()),
            peer_config: PeerConfig::default(),
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            tls: None,
            on_open: None,
            on_close: None,
            keepalive: Some(Keepalive::default()),
            first_input_timeout: Some(Duration::from_secs(30)),
        }
    }

    /// The router every connection serves.
    pub fn router(mut self, router: impl Into<Arc<Router>>) -> Self {
        self.router = router.into();
        self
    }

    /// Settings for each connection's peer (limits, probe, timeouts). The
    /// profile set with [`profile`](Self::profile) is part of them: set it
    /// after this. [`first_input_timeout`](Self::first_input_timeout) is the
    /// server's own and applies on top.
    pub fn peer_config(mut self, config: PeerConfig) -> Self {
        self.peer_config = config;
        self
    }

    /// The protocol's wire rules for every connection (see [`Profile`]); a
    /// shorthand for setting [`PeerConfig::profile`].
    pub fn profile(mut self, profile: Profile) -> Self {
        self.peer_config = self.peer_config.profile(profile);
        self
    }

    /// How many connections may be open at once; one more is accepted and
    /// closed at once. Default: 1024.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a TLS handshake may take. Default: 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// TCP keepalive on accepted `ptcp:` and `pssl:` connections (`None`:
    /// off), so that a client that vanished without a word is found and
    /// its connection closed. Default: on, with [`Keepalive::default`].
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Closes a connection whose client has sent nothing at all this long
    /// after connecting (see [`PeerConfig::first_input_timeout`]); `None`
    /// keeps silent connections. Default: 30 s.
    pub fn first_input_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.first_input_timeout = timeout;
        self
    }

    /// TLS settings for `pssl:` endpoints.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Runs `hook` on each connection as it opens, before its first message
    /// is read: it gets the connection's [`Peer`] as the server set it up
    /// (its [`info`](Peer::info) says who connected) and returns it, with
    /// the connection's state ([`Peer::state`]), or a router of its own.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::collections::HashSet;
    /// use jsonrpc_core::{codec::JsonStreamCodec, ErrorObject, RequestContext, Router};
    /// use jsonrpc_transport::Server;
    ///
    /// /// The keys one client watches.
    /// #[derive(Default)]
    /// struct Watches(HashSet<String>);
    ///
    /// let mut router = Router::new();
    /// router.method_fn("watch", |(key,): (String,), ctx: RequestContext| {
    ///     ctx.with_state(|w: &mut Watches| w.0.insert(key));
    ///     async { Ok::<_, ErrorObject>(()) }
    /// });
    /// let server = Server::new(JsonStreamCodec::new())
    ///     .router(router)
    ///     .on_open(|peer| peer.state(Watches::default()))
    ///     .on_close(|peer, reason| {
    ///         let watches = peer.take_state::<Watches>().unwrap_or_default();
    ///         tracing::info!(id = %peer.id(), %reason, watched = watches.0.len(), "gone");
    ///     })
    ///     .bind(["ptcp:0:127.0.0.1".parse()?])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_open(mut self, hook: impl Fn(Peer<F>) -> Peer<F> + Send + Sync + 'static) -> Self {
        self.on_open = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` exactly once for each connection that opened, once it
    /// has closed, whatever closed it: the client, an I/O error or reset, a
    /// limit, [`RunningServer::shutdown`], or dropping the server. It gets
    /// the connection's handle (its id, info and state) and why it closed;
    /// it is synchronous, and may spawn work that must wait.
    pub fn on_close(
        mut self,
        hook: impl Fn(&PeerHandle, &CloseReason) + Send + Sync + 'static,
    ) -> Self {
        self.on_close = Some(Arc::new(hook));
        self
    }

    /// Binds every endpoint (all or none) and starts serving.
    pub async fn bind(
        self,
        endpoints: impl IntoIterator<Item = ListenEndpoint>,
    ) -> Result<RunningServer, TransportError> {
        let mut listeners = Vec::new();
        for endpoint in endpoints {
            let listener = Listener::bind(&endpoint, self.tls.as_ref()).await?;
            listeners.push(listener.keepalive(self.keepalive));
        }
        Ok(self.serve(listeners))
    }

    /// Starts serving on listeners bound elsewhere.
    pub fn serve(self, listeners: Vec<Listener>) -> RunningServer {
        let shared = Arc::new(Shared {
            slots: Arc::new(Semaphore::new(self.max_connections)),
            stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
            live: Mutex::default(),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let endpoints = listeners
            .iter()
            .map(|l| l.local_endpoint().clone())
            .collect();
        let accept_tasks = listeners
            .into_iter()
            .map(|listener| {
                let conn = Connection {
                    framing: self.framing.clone(),
                    router: self.router.clone(),
                    config: self
                        .peer_config
                        .clone()
                        .first_input_timeout(self.first_input_timeout),
                    handshake_timeout: self.handshake_timeout,
                    on_open: self.on_open.clone(),
                    on_close: self.on_close.clone(),
                };
                tokio::spawn(accept_loop(listener, conn, shared.clone()))
            })
            .collect();
        RunningServer {
            shared,
            endpoints,
            accept_tasks,
        }
    }
}

struct Shared {
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    tracker: TaskTracker,
    live: Mutex<HashMap<ConnectionId, PeerHandle>>,
    accepted: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, PeerHandle>> {
        jsonrpc_core::sync::lock(&self.live)
    }
}

/// What each accepted connection is set up with.
#[derive(Clone)]
struct Connection<F> {
    framing: F,
    router: Arc<Router>,
    config: PeerConfig,
    handshake_timeout: Duration,
    on_open: Option<OnOpen<F>>,
    on_close: Option<OnClose>,
}

async fn accept_loop<F: Framing + Clone>(
    listener: Listener,
    conn: Connection<F>,
    shared: Arc<Shared>,
) {
    let endpoint = listener.local_endpoint().to_string();
    let mut pause = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.stop.cancelled() => break,
        };
        let accepted = match accepted {
            Ok(a) => {
                pause = Duration::from_millis(10);
                a
            }
            Err(e) => {
                // Out of descriptors or memory, or a connection reset before
                // we took it: none of these should end the server.
                tracing::warn!(%endpoint, error = %e, retry_in = ?pause, "accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shared.stop.cancelled() => break,
                }
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%endpoint, peer = accepted.peer(), "connection limit reached; closing the new connection");
            drop(accepted);
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let (conn, shared2) = (conn.clone(), shared.clone());
        shared.tracker.spawn(async move {
            let peer_name = accepted.peer().to_owned();
            let stream = match accepted.establish(conn.handshake_timeout).await {
                Ok(s) => s,
                Err(e) => {
                    shared2.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(peer = %peer_name, error = %e, "connection setup failed");
                    return;
                }
            };
            let mut setup = Peer::new(conn.framing)
                .router(conn.router)
                .config(conn.config)
                .connection(stream.connection_info());
            if let Some(on_open) = &conn.on_open {
                setup = on_open(setup);
            }
            let peer = stream.into_peer(setup);
            let id = peer.id();
            tracing::debug!(peer = %peer_name, %id, "connection open");
            shared2.live().insert(id, peer.clone());
            // A shutdown that began before we registered must still reach us.
            if shared2.stop.is_cancelled() {
                peer.close();
            }
            let reason = peer.closed().await;
            // Free the slot before the count drops, so a client that sees
            // room by the count is never refused for want of a slot.
            drop(slot);
            shared2.live().remove(&id);
            tracing::debug!(peer = %peer_name, %id, %reason, "connection closed");
            if let Some(on_close) = &conn.on_close {
                on_close(&peer, &reason);
            }
        });
    }
    tracing::debug!(%endpoint, "no longer accepting");
}

/// Counters of a running server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections open now.
    pub connections_open: usize,
    /// Connections accepted since the start.
    pub accepted: u64,
    /// Connections closed at once because the limit was reached.
    pub refused: u64,
    /// Connections whose setup (a TLS handshake) failed.
    pub failed: u64,
}

/// A server that is accepting connections.
///
/// Dropping it stops the server at once: accepting ends and every connection
/// is closed. [`shutdown`](Self::shutdown) stops it gracefully.
pub struct RunningServer {
    shared: Arc<Shared>,
    endpoints: Vec<ListenEndpoint>,
    accept_tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("endpoints", &self.endpoints)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RunningServer {
    /// Where it listens (with real ports where 0 was asked for).
    pub fn local_endpoints(&self) -> &[ListenEndpoint] {
        &self.endpoints
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            connections_open: self.shared.live().len(),
            accepted: get(&self.shared.accepted),
            refused: get(&self.shared.refused),
            failed: get(&self.shared.failed),
        }
    }

    /// Handles to every open connection.
    pub fn connections(&self) -> Vec<PeerHandle> {
        self.shared.live().values().cloned().collect()
    }

    /// Stops accepting, lets each connection finish the requests it is
    /// running for up to `deadline`, closes whatever is left, and waits until
    /// every connection has ended. Unix socket files are removed.
    pub async fn shutdown(mut self, deadline: Duration) {
        self.shared.stop.cancel();
        for task in std::mem::take(&mut self.accept_tasks) {
            // The listeners (and their socket files) go with their loops.
            let _ = task.await;
        }
        let peers = self.connections();
        let graceful = futures::future::join_all(peers.iter().map(|p| p.shutdown()));
        if tokio::time::timeout(deadline, graceful).await.is_err() {
            tracing::warn!(
                ?deadline,
                "connections still busy at the shutdown deadline; closing them"
            );
            for peer in &peers {
                peer.close();
            }
        }
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if !self.shared.stop.is_cancelled() {
            self.shared.stop.cancel();
            for peer in self.shared.live().values() {
                peer.close();
            }
        }
    }
}
