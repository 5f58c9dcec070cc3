//! A typed OVSDB client: connect, read schemas, run transactions, watch
//! tables, take locks.
//!
//! ```no_run
//! use futures::StreamExt;
//! use ovsdb_proto::atom::Atom;
//! use ovsdb_proto::client::OvsdbClient;
//! use ovsdb_proto::datum::Row;
//! use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
//!
//! # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
//! let client = OvsdbClient::connect("unix:/var/run/openvswitch/db.sock").await?;
//! let schema = client.get_schema("Open_vSwitch").await?;
//!
//! let mut requests = MonitorRequests::new();
//! requests.insert("Bridge".into(), MonitorRequest::default().into());
//! let mut bridges = client.monitor("Open_vSwitch", requests).await?;
//! println!("{} tables at first", bridges.initial().len());
//!
//! let mut row = Row::new();
//! row.insert("name".into(), Atom::from("br-new").into());
//! let done = client.transact("Open_vSwitch").insert("Bridge", row).named("br").execute().await?;
//! println!("inserted {:?}", done.uuid_of("br"));
//! // Our own insert arrived before the transaction's reply.
//! let update = bridges.next().await;
//! # Ok(()) }
//! ```
//!
//! The client is one connection ([`OvsdbClient`], cheap to clone). It
//! answers the server's `echo` probes on its own, ahead of any other work,
//! and probes the server after a silence ([`ClientOptions::probe_interval`]).
//! Monitors ([`MonitorStream`]) and locks ([`Lock`]) are streams, fed in
//! the order the server sent them, so an update caused by our own
//! transaction is on its stream before that transaction's reply returns.
//!
//! What each monitor and lock asked for is kept in a plain value
//! ([`MonitorState`], the lock's name) so that a layer that reconnects can
//! ask for them again, resuming monitors after their last transaction id:
//! [`OvsdbSession`] is that layer, and can keep to a cluster's leader
//! ([`cluster`]).

pub mod cluster;
mod error;
mod lock;
mod monitor;
mod reconnect;
mod transact;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{
    InactivityProbe, Method, Peer, PeerConfig, PeerHandle, Profile, RequestContext, Router,
    WireCancel,
};
use jsonrpc_transport::{connect, ClientTls, ConnectOptions, Endpoint};

pub use cluster::{leadership, DatabaseStatus, Leadership, Unusable};
pub use error::{ClientError, NotUsed, RemoteFailure, TransactError};
pub use lock::{Lock, LockEvent};
pub use monitor::{MonitorEvent, MonitorMethod, MonitorState, MonitorStream, Updates};
pub use reconnect::{
    Moved, OvsdbSession, SessionEvent, SessionLock, SessionLockEvent, SessionMonitor,
    SessionOptions,
};
pub use transact::{OpResult, Outcome, Transaction};

use crate::error::ReplyError;
use crate::methods::{Echo, GetSchema, GetServerId, ListDbs, SetDbChangeAware};
use crate::params::{DbParams, NoParams, SetDbChangeAwareParams};
use crate::schema::DatabaseSchema;

/// The largest message the client reads by default: initial monitor dumps
/// of big databases run to hundreds of megabytes.
pub const DEFAULT_MAX_MESSAGE: usize = 1024 * 1024 * 1024;

/// How an [`OvsdbClient`] connects and calls.
///
/// ```
/// use std::time::Duration;
/// use ovsdb_proto::client::ClientOptions;
///
/// let options = ClientOptions::default()
///     .connect_timeout(Duration::from_secs(2))
///     .call_timeout(Some(Duration::from_secs(30)))
///     .probe_interval(Some(Duration::from_secs(5)));
/// assert_eq!(options.get_call_timeout(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    connect_timeout: Duration,
    call_timeout: Option<Duration>,
    probe_interval: Option<Duration>,
    max_message: usize,
    tls: Option<ClientTls>,
    stream_capacity: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Some(Duration::from_secs(60)),
            // What ovsdb-server and Open vSwitch's clients use.
            probe_interval: Some(Duration::from_secs(5)),
            max_message: DEFAULT_MAX_MESSAGE,
            tls: None,
            stream_capacity: 4096,
        }
    }
}

impl ClientOptions {
    /// How long connecting to one remote may take (TLS handshake
    /// included). With several remotes each gets this long. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The deadline of each call (`None`: wait forever). A transaction
    /// with a `wait` operation may need longer. Default: 60 s.
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// After this much silence from the server, send it an `echo`; no
    /// answer within as long again closes the connection. `None`: never
    /// probe (the server's own probes are still answered). Default: 5 s.
    pub fn probe_interval(mut self, interval: Option<Duration>) -> Self {
        self.probe_interval = interval;
        self
    }

    /// The largest message read from the server. Default:
    /// [`DEFAULT_MAX_MESSAGE`].
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// TLS settings for `ssl:` remotes.
    ///
    /// TLS session resumption is turned off
    /// ([`ClientTls::without_resumption`]): ovsdb-server (3.1 among others)
    /// hands out session tickets but refuses them with an `internal_error`
    /// alert, which would fail every connection after the first, such as
    /// an [`OvsdbSession`]'s reconnects.
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls.without_resumption());
        self
    }

    /// How many updates (or lock events) may wait unread on one stream;
    /// past it the stream reports that it fell behind. Default: 4096.
    pub fn stream_capacity(mut self, capacity: usize) -> Self {
        self.stream_capacity = capacity;
        self
    }

    /// The current `connect_timeout`.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The current `call_timeout`.
    pub fn get_call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// The current `probe_interval`.
    pub fn get_probe_interval(&self) -> Option<Duration> {
        self.probe_interval
    }

    fn peer_config(&self) -> PeerConfig {
        let probe = self
            .probe_interval
            .map(|idle| InactivityProbe::new(idle, "echo").params(Vec::<()>::new()));
        PeerConfig::default()
            .profile(Profile::ovsdb())
            .call_timeout(self.call_timeout)
            .inactivity_probe(probe)
            // The server's probe is answered ahead of queued calls, and even
            // when every request slot is busy.
            .priority_methods(vec!["echo".into()])
            // A transaction given up on (its deadline passed, its future was
            // dropped) is canceled on the server too, so a `wait` does not
            // linger there; ovsdb-server ignores a `cancel` naming any other
            // call.
            .wire_cancel(Some(WireCancel::positional("cancel")))
    }
}

/// Reads a remote: one endpoint or several joined by commas, as
/// `ovsdb-client` and `ovs-vsctl --db` take them.
fn parse_remotes(remote: &str) -> Result<Vec<Endpoint>, ClientError> {
    let invalid = |reason: String| ClientError::Remote {
        remote: remote.to_owned(),
        reason,
    };
    let endpoints = remote
        .split(',')
        .map(|one| one.trim().parse::<Endpoint>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if endpoints.is_empty() {
        return Err(invalid("no endpoint".into()));
    }
    Ok(endpoints)
}

/// The server's `echo` answered: its params back, as ovsdb-server does.
fn echo_router() -> Router {
    let mut router = Router::new();
    router.method::<Echo, _, _>(|params, _: RequestContext| async move { Ok(params) });
    router
}

/// A connection to an OVSDB server. Clones share the connection.
///
/// ```no_run
/// use ovsdb_proto::client::OvsdbClient;
///
/// # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
/// let client = OvsdbClient::connect("tcp:127.0.0.1:6640").await?;
/// assert!(client.list_dbs().await?.contains(&"Open_vSwitch".to_owned()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OvsdbClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    peer: PeerHandle,
    options: ClientOptions,
    /// Where we are connected.
    remote: String,
    /// For monitor ids unique on this connection.
    next_monitor: AtomicU64,
}

impl OvsdbClient {
    /// Connects with the default options. See
    /// [`connect_with`](Self::connect_with).
    pub async fn connect(remote: &str) -> Result<Self, ClientError> {
        Self::connect_with(remote, ClientOptions::default()).await
    }

    /// Connects to `remote`: `tcp:HOST:PORT`, `unix:PATH`, `ssl:HOST:PORT`
    /// (with [`ClientOptions::tls`]), or several of them joined by commas
    /// (`tcp:A:6641,tcp:B:6641`), tried in order until one connects.
    pub async fn connect_with(remote: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let endpoints = parse_remotes(remote)?;
        let mut connect_options = ConnectOptions::default().timeout(options.connect_timeout);
        if let Some(tls) = &options.tls {
            connect_options = connect_options.tls(tls.clone());
        }
        let mut failures = Vec::new();
        for endpoint in endpoints {
            match connect(&endpoint, &connect_options).await {
                Ok(stream) => {
                    let peer = stream.into_peer(Self::peer_for(&options));
                    return Ok(Self::from_peer(peer, endpoint.to_string(), options));
                }
                Err(e) => {
                    tracing::debug!(%endpoint, error = %e, "cannot connect; trying the next remote");
                    failures.push(e);
                }
            }
        }
        Err(ClientError::Connect(failures))
    }

    /// A client over a connection already made (any byte stream: a socket
    /// connected by hand, an in-memory pipe in tests).
    pub fn over<T>(io: T, options: ClientOptions) -> Self
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let peer = Self::peer_for(&options).spawn(io);
        Self::from_peer(peer, "(stream)".into(), options)
    }

    fn peer_for(options: &ClientOptions) -> Peer<JsonStreamCodec> {
        Peer::new(JsonStreamCodec::new().with_max_frame(options.max_message))
            .router(echo_router())
            .config(options.peer_config())
    }

    fn from_peer(peer: PeerHandle, remote: String, options: ClientOptions) -> Self {
        OvsdbClient {
            inner: Arc::new(Inner {
                peer,
                options,
                remote,
                next_monitor: AtomicU64::new(0),
            }),
        }
    }

    /// The connection underneath, for methods this client has no wrapper
    /// for (`peer().call::<GetServerId>(NoParams)`).
    pub fn peer(&self) -> &PeerHandle {
        &self.inner.peer
    }

    /// The remote this client connected to.
    pub fn remote(&self) -> &str {
        &self.inner.remote
    }

    /// The options it was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Whether the connection has closed (or begun closing).
    pub fn is_closed(&self) -> bool {
        self.inner.peer.is_closed()
    }

    /// Closes the connection; monitors and locks end.
    pub fn close(&self) {
        self.inner.peer.close();
    }

    /// Calls `M` within the client's call deadline, naming `M` in errors.
    pub async fn call<M: Method<Error = ReplyError>>(
        &self,
        params: M::Params,
    ) -> Result<M::Result, ClientError> {
        self.inner
            .peer
            .call::<M>(params)
            .await
            .map_err(|e| ClientError::of_call(M::NAME, e))
    }

    /// Like [`call`](Self::call) with its own deadline (`None`: wait for
    /// ever).
    pub async fn call_with_timeout<M: Method<Error = ReplyError>>(
        &self,
        params: M::Params,
        timeout: Option<Duration>,
    ) -> Result<M::Result, ClientError> {
        self.inner
            .peer
            .call_with_timeout::<M>(params, timeout)
            .await
            .map_err(|e| ClientError::of_call(M::NAME, e))
    }

    /// `list_dbs`: the names of the server's databases.
    pub async fn list_dbs(&self) -> Result<Vec<String>, ClientError> {
        self.call::<ListDbs>(NoParams).await
    }

    /// `get_schema`: a database's schema, checked as it is read.
    pub async fn get_schema(&self, db: &str) -> Result<DatabaseSchema, ClientError> {
        self.call::<GetSchema>(DbParams { db: db.into() }).await
    }

    /// `echo`: sends `params` and returns what came back (the server
    /// returns them unchanged).
    pub async fn echo(
        &self,
        params: Vec<serde_json::Value>,
    ) -> Result<Vec<serde_json::Value>, ClientError> {
        self.call::<Echo>(params).await
    }

    /// `get_server_id`: the server's id (a server keeps it across
    /// restarts only when clustered).
    pub async fn get_server_id(&self) -> Result<crate::atom::Uuid, ClientError> {
        self.call::<GetServerId>(NoParams).await
    }

    /// `set_db_change_aware`: with `true`, the server tells this client of
    /// a database's removal or conversion (`monitor_canceled`) and answers
    /// a canceled transaction with "canceled", instead of disconnecting or
    /// saying nothing.
    pub async fn set_db_change_aware(&self, aware: bool) -> Result<(), ClientError> {
        self.call::<SetDbChangeAware>(SetDbChangeAwareParams { aware })
            .await
            .map(|_| ())
    }

    /// A transaction on `db`, to fill with operations and
    /// [`execute`](Transaction::execute).
    pub fn transact(&self, db: &str) -> Transaction {
        Transaction::new(self.clone(), db)
    }

    /// A monitor id not used before on this connection.
    fn fresh_monitor_id(&self) -> crate::monitor::MonitorId {
        let n = self.inner.next_monitor.fetch_add(1, Ordering::Relaxed);
        crate::monitor::MonitorId(serde_json::Value::from(format!("m{n}")))
    }
}

#[cfg(test)]
mod tests;
