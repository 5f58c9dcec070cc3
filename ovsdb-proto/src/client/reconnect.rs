//! A client that outlives its connections: [`OvsdbSession`] reconnects
//! with jittered exponential backoff, resumes its monitors after their
//! last transaction, and asks for its locks again.
//!
//! Each monitor is resumed with `monitor_cond_since` and the id of the
//! last transaction its stream delivered, so the user's stream goes on
//! across the reconnect with nothing missed and nothing twice. A server
//! that no longer has that transaction (a standalone server keeps no
//! history; a clustered one keeps a bounded one) answers with its full
//! contents: those come as [`SessionEvent::Resync`], which replaces the
//! view instead of adding to it.
//!
//! A session for a database ([`SessionOptions::database`]) tells each
//! server that passes its checks to report changes to its databases
//! (`set_db_change_aware`), as Open vSwitch's clients do. When a database
//! is then converted to a new schema (`ovsdb-client convert`), the server
//! cancels its monitors (`monitor_canceled`) instead of dropping the
//! connection: the session reads the new schema and monitors again from
//! nothing, on the same connection, so that locks stay held and calls go
//! on; the monitor's stream says so with [`SessionEvent::SchemaChanged`],
//! which carries the new schema and the rows as it has them. When the
//! session's database is removed from the server instead, the session
//! moves to another remote, and its monitors start over there the same
//! way. A server that does not know
//! `set_db_change_aware` (it answers "unknown method") is used as before:
//! a conversion drops the connection, and the monitors resume on the next
//! one.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use jsonrpc_core::SubscriptionError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::monitor::{MonitorId, MonitorRequests};
use crate::schema::DatabaseSchema;

use super::cluster::{self, Unusable};
use super::{
    parse_remotes, ClientError, ClientOptions, LockEvent, MonitorEvent, MonitorMethod,
    MonitorState, MonitorStream, NotUsed, OvsdbClient, RemoteFailure, Updates,
};

/// How an [`OvsdbSession`] connects, waits and backs off.
///
/// Three deadlines apply separately: connecting to one remote
/// ([`ClientOptions::connect_timeout`]), each call
/// ([`ClientOptions::call_timeout`]), and a monitor's first rows
/// ([`monitor_timeout`](Self::monitor_timeout)), which may be a large dump.
/// [`ready_timeout`](Self::ready_timeout) bounds how long a session call
/// waits for a connection to come (back) up.
///
/// ```
/// use std::time::Duration;
/// use ovsdb_proto::client::{ClientOptions, SessionOptions};
///
/// let options = SessionOptions::default()
///     .client(ClientOptions::default().call_timeout(Some(Duration::from_secs(5))))
///     .backoff(Duration::from_millis(100), Duration::from_secs(8))
///     .monitor_timeout(Duration::from_secs(60))
///     .leader_only("OVN_Northbound");
/// assert_eq!(options.get_backoff(), (Duration::from_millis(100), Duration::from_secs(8)));
/// ```
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub(crate) client: ClientOptions,
    backoff_min: Duration,
    backoff_max: Duration,
    monitor_timeout: Duration,
    ready_timeout: Duration,
    /// The database whose `_Server` row decides which servers may serve
    /// the session.
    pub(crate) database: Option<String>,
    pub(crate) leader_only: bool,
    /// The cluster whose members alone may serve the session.
    pub(crate) cluster_id: Option<crate::atom::Uuid>,
    shuffle_remotes: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            client: ClientOptions::default(),
            // Open vSwitch's reconnect uses 1 s to 8 s; a little quicker at
            // first, since most drops are a server restart.
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            monitor_timeout: Duration::from_secs(120),
            ready_timeout: Duration::from_secs(30),
            database: None,
            leader_only: false,
            cluster_id: None,
            shuffle_remotes: false,
        }
    }
}

impl SessionOptions {
    /// The options of each connection (connect and call deadlines, probes,
    /// TLS).
    pub fn client(mut self, client: ClientOptions) -> Self {
        self.client = client;
        self
    }

    /// The wait before reconnecting: `min` after a connection that stayed
    /// up at least as long as the last wait (as Open vSwitch's
    /// `reconnect.c` decides), doubling after each failed attempt, and
    /// after each connection that dropped sooner, up to `max`. Each wait is drawn
    /// at random between half of it and all of it, so that many clients
    /// of one restarted server do not come back at the same instant.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// How long a monitor's first rows (or, resumed, the changes since its
    /// last transaction) may take to arrive: the whole of starting,
    /// resuming or restarting a monitor (reading the database's schema
    /// again included) and of reading a server's `_Server` row, in place of
    /// the per-call deadline ([`ClientOptions::call_timeout`]), since a
    /// large database's rows may take longer than any call should. When it
    /// passes on a reconnect, the session takes the server as slow, not as
    /// refusing: it reconnects and tries again, and the monitor's stream
    /// goes on. [`OvsdbSession::monitor`] fails with
    /// [`ClientError::TimedOut`]. Default: 120 s.
    pub fn monitor_timeout(mut self, timeout: Duration) -> Self {
        self.monitor_timeout = timeout;
        self
    }

    /// How long [`OvsdbSession::client`], [`monitor`](OvsdbSession::monitor)
    /// and [`lock`](OvsdbSession::lock) wait for a connection. Default: 30 s.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The database the session is for: on each server it connects to,
    /// the session reads (and then follows) `_Server`'s row for `db`, and
    /// uses the server only while the row says it can serve it (see
    /// [`DatabaseStatus::check`](super::DatabaseStatus::check)): not a
    /// clustered server cut off from its cluster or not joined yet, not a
    /// relay that lost its source, not a server without the database, not
    /// a copy older than one already seen. When the row changes for the
    /// worse, the session moves to another remote
    /// ([`OvsdbSession::last_move`] says why). A server without `_Server`
    /// (older than Open vSwitch 2.9) is taken as it is.
    ///
    /// A server that passes is asked to report changes to its databases
    /// (`set_db_change_aware`), as Open vSwitch's clients do, so that a
    /// conversion of a monitored database restarts the session's monitors
    /// on the same connection ([`SessionEvent::SchemaChanged`]) instead of
    /// dropping it ([`OvsdbSession::is_change_aware`]).
    ///
    /// Without it the session takes any server that answers.
    pub fn database(mut self, db: &str) -> Self {
        self.database = Some(db.to_owned());
        self
    }

    /// As [`database`](Self::database), and also only a server whose row
    /// says it is the cluster's leader; standalone servers are taken as
    /// they are, relays never. See [`cluster`](super::cluster) for how
    /// leadership is followed.
    pub fn leader_only(mut self, db: &str) -> Self {
        self.database = Some(db.to_owned());
        self.leader_only = true;
        self
    }

    /// Only members of the cluster with id `cid` (the `cid` of their
    /// `_Server` row; `ovsdb-client` takes it as a `cid:UUID` remote), so
    /// that a server of another cluster, or a standalone or relay server,
    /// with a database of the same name is passed by
    /// ([`Unusable::OtherCluster`]). Applies with
    /// [`database`](Self::database) or [`leader_only`](Self::leader_only).
    pub fn cluster_id(mut self, cid: crate::atom::Uuid) -> Self {
        self.cluster_id = Some(cid);
        self
    }

    /// Puts the remotes in a random order, drawn once when the session
    /// starts, as Open vSwitch's clients do by default: many clients given
    /// the same cluster's servers then spread over them instead of all
    /// starting on the first. Default: `false`, the order given (the
    /// first remote first).
    pub fn shuffle_remotes(mut self, shuffle: bool) -> Self {
        self.shuffle_remotes = shuffle;
        self
    }

    /// The backoff's `(min, max)`.
    pub fn get_backoff(&self) -> (Duration, Duration) {
        (self.backoff_min, self.backoff_max)
    }
}

/// Exponential backoff with jitter.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    /// The step of the last wait drawn: how long a connection must stay up
    /// for the backoff to start over.
    last: Duration,
    random: RandomState,
    draws: u64,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
            last: Duration::ZERO,
            random: RandomState::new(),
            draws: 0,
        }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    /// A connection that was up for `up` went down: the backoff starts
    /// over only if it stayed up at least as long as the last wait, as
    /// Open vSwitch's `reconnect.c` does, so that a server that takes
    /// connections and drops them at once is not hammered every `min`.
    fn connection_lasted(&mut self, up: Duration) {
        if up >= self.last {
            self.reset();
        }
    }

    /// The next wait: between half the current step and all of it.
    fn next_wait(&mut self) -> Duration {
        let step = self.next;
        self.last = step;
        self.next = (step * 2).min(self.max);
        self.draws += 1;
        // A keyed hash of a counter is random enough for jitter and needs no
        // dependency.
        let permille = (self.random.hash_one(self.draws) % 1001) as u32;
        step / 2 + (step / 2) * permille / 1000
    }
}

/// What a [`SessionMonitor`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// Changes, applied on top of what came before. After a reconnect
    /// where the server still had the last transaction, the changes made
    /// while away come as one of these.
    Update(MonitorEvent),
    /// After a reconnect where the server could not resume (it no longer
    /// had the last transaction, or does not keep history): the full
    /// contents, as rows `initial`. Drop the old view and start from this.
    ///
    /// The rows may be of a new schema with no
    /// [`SchemaChanged`](Self::SchemaChanged) before them: when the
    /// database was converted while the session was away, or the
    /// conversion's `monitor_canceled` was lost with the connection, or
    /// the server is not change-aware
    /// ([`OvsdbSession::is_change_aware`]), the session only sees a
    /// resume that the server could not resume. Read the schema again
    /// (`get_schema`) if a column may have changed.
    Resync(Updates),
    /// The server canceled the monitor because its database changed, and
    /// the session monitored it again from nothing: the database's schema
    /// now, and the full contents as rows `initial`, with the columns the
    /// schema gives them. Drop the old view (and anything read from the
    /// old schema) and start from this. Changes come as
    /// [`Update`](Self::Update)s after it.
    ///
    /// After a conversion to a new schema (`ovsdb-client convert`), this
    /// comes on the same connection (locks stay held). After the
    /// session's database was removed from the server, it comes from the
    /// server the session moved to, whose schema may differ too.
    SchemaChanged {
        /// The database's new schema.
        schema: Box<DatabaseSchema>,
        /// Every row the monitor watches, as it is now.
        rows: Updates,
    },
}

/// What a [`SessionLock`] yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLockEvent {
    /// The lock is ours (again).
    Locked,
    /// Another client stole it; we wait behind it.
    Stolen,
    /// The connection dropped: the lock is no longer ours. The session asks
    /// for it again on the next connection ([`Locked`](Self::Locked) follows
    /// when granted).
    Lost,
}

/// A monitor's items; `None` ends the user's stream (the session still
/// holds a sender, so the channel alone would not).
type MonitorItem = Option<Result<SessionEvent, ClientError>>;
type MonitorSender = mpsc::UnboundedSender<MonitorItem>;
type LockSender = mpsc::UnboundedSender<Result<SessionLockEvent, ClientError>>;

/// What a monitor's forwarder tells the session and the user's stream
/// beyond the events themselves.
#[derive(Default)]
struct MonitorFlags {
    /// The server canceled the monitor (its database changed) and it has
    /// not been started again yet: it must be started from nothing, with
    /// the schema read again, not resumed after its last transaction.
    schema_changed: AtomicBool,
    /// The monitor cannot go on (its error was the stream's last item):
    /// it is not resumed, and the user's stream ends.
    ended: AtomicBool,
}

struct WatchedMonitor {
    /// Kept current by the forwarder: the last transaction delivered.
    state: Arc<Mutex<MonitorState>>,
    flags: Arc<MonitorFlags>,
    tx: MonitorSender,
    forwarder: Option<JoinHandle<()>>,
}

/// What a monitor's forwarder needs besides its stream.
struct Forwarding {
    client: OvsdbClient,
    shared: Arc<Shared>,
    state: Arc<Mutex<MonitorState>>,
    flags: Arc<MonitorFlags>,
    tx: MonitorSender,
}

struct HeldLock {
    key: u64,
    name: String,
    tx: LockSender,
    forwarder: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Registry {
    monitors: Vec<WatchedMonitor>,
    locks: Vec<HeldLock>,
}

pub(crate) struct Shared {
    remotes: Vec<String>,
    pub(crate) options: SessionOptions,
    /// The connection in use; `None` while reconnecting.
    current: watch::Sender<Option<OvsdbClient>>,
    /// Whose monitors and locks to bring back. Held while (re)starting
    /// them, so a reconnect and a new monitor do not interleave.
    registry: tokio::sync::Mutex<Registry>,
    /// When the session last left each remote (its connection was lost,
    /// its `_Server` row said it could no longer serve, or it could not be
    /// connected to or used): the least recently left are tried first.
    left: Mutex<HashMap<String, Instant>>,
    /// The highest log index of the database seen in a clustered server's
    /// `_Server` row: a server behind it is stale.
    min_index: AtomicI64,
    /// The last server left because of its `_Server` row.
    last_move: Mutex<Option<Moved>>,
    next_id: AtomicU64,
    connections: AtomicU64,
    /// Whether the connection in use took `set_db_change_aware`.
    change_aware: AtomicBool,
    /// Set by [`OvsdbSession::close`]: no more connections or streams.
    closed: AtomicBool,
    /// The remotes the last round of connecting tried and did not use, and
    /// why; `None` once a connection is in use. What a caller that times
    /// out waiting for a connection is told.
    last_round: Mutex<Option<Vec<RemoteFailure>>>,
}

impl Shared {
    /// The highest log index seen so far.
    pub(crate) fn min_index(&self) -> i64 {
        self.min_index.load(Ordering::Relaxed)
    }

    /// Notes a log index seen in a usable server's row.
    pub(crate) fn saw_index(&self, index: Option<i64>) {
        if let Some(index) = index {
            self.min_index.fetch_max(index, Ordering::Relaxed);
        }
    }

    /// Notes that the session left `remote` just now: it goes to the end
    /// of the order in which remotes are tried.
    pub(crate) fn left(&self, remote: &str) {
        if let Ok(mut left) = self.left.lock() {
            left.insert(remote.to_owned(), Instant::now());
        }
    }

    /// Notes that the session leaves `remote`, which it was using, because
    /// of what its `_Server` row says.
    pub(crate) fn moved_off(&self, remote: &str, reason: Unusable) {
        self.left(remote);
        if let Ok(mut last) = self.last_move.lock() {
            *last = Some(Moved {
                remote: remote.to_owned(),
                reason,
            });
        }
    }
}

/// A server an [`OvsdbSession`] was using and left because its `_Server`
/// row said it could no longer serve the session
/// ([`OvsdbSession::last_move`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The server's remote as the session writes it: the endpoint given,
    /// normalised (`tcp:127.0.0.1:6641`, `unix:/run/db.sock`), as
    /// [`OvsdbSession::remote`] and [`OvsdbClient::remote`] give it, not
    /// necessarily the text given.
    pub remote: String,
    /// What its row said.
    pub reason: Unusable,
}

/// Stops the supervisor when the last session handle goes.
struct Guard {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Guard {
    fn shut_down(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // Drops the supervisor's future, and with it the connection it is
        // making or resuming on and that connection's `_Server` follower
        // ([`Candidate`]).
        self.task.abort();
        // Wakes whoever waits for a connection, to find the session closed.
        if let Some(client) = self.shared.current.send_replace(None) {
            client.close();
        }
        // The streams end once nothing can send to them any more: the
        // forwarders end with the connection, and the registry's senders go
        // here (asynchronously: a resume in progress holds the registry
        // until the abort reaches it).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            runtime.spawn(async move {
                let mut registry = shared.registry.lock().await;
                registry.monitors.clear();
                registry.locks.clear();
            });
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A client that reconnects: monitors and locks taken through it live on
/// across connections. Clones share the session; it ends when the last
/// clone is dropped (or [`close`](Self::close) is called).
///
/// A transaction is not retried: if the connection drops before its reply
/// the transaction may or may not have committed
/// ([`ClientError::is_disconnected`]). Make the retry safe to repeat (a
/// `wait`, a unique index) before sending it again on
/// [`client`](Self::client). On a change-aware connection
/// ([`is_change_aware`](Self::is_change_aware)), a transaction still
/// waiting when its database is converted or removed is answered
/// "canceled" ([`ErrorKind::Canceled`](crate::error::ErrorKind::Canceled))
/// instead: it did not commit, and the connection stays.
///
/// ```no_run
/// use futures::StreamExt;
/// use ovsdb_proto::client::{OvsdbSession, SessionEvent, SessionOptions};
/// use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
///
/// # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
/// let session = OvsdbSession::connect("unix:/run/db.sock", SessionOptions::default()).await?;
/// let mut requests = MonitorRequests::new();
/// requests.insert("Host".into(), MonitorRequest::default().into());
/// let mut hosts = session.monitor("Test", requests).await?;
/// while let Some(event) = hosts.next().await {
///     match event? {
///         SessionEvent::Update(changes) => println!("{:?}", changes.updates.rows("Host")),
///         SessionEvent::Resync(all) => println!("start over from {:?}", all.rows("Host")),
///         SessionEvent::SchemaChanged { schema, rows } => {
///             println!("now version {}: start over from {:?}", schema.version, rows.rows("Host"))
///         }
///     }
/// }
/// session.client().await?.transact("Test").comment("hello").execute().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OvsdbSession {
    guard: Arc<Guard>,
}

impl std::fmt::Debug for OvsdbSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OvsdbSession")
            .field("remotes", &self.guard.shared.remotes)
            .finish_non_exhaustive()
    }
}

impl OvsdbSession {
    /// Starts a session on `remote` (one or several, comma-separated, as
    /// [`OvsdbClient::connect_with`] takes them) and waits for its first
    /// connection, within [`SessionOptions::ready_timeout`]. If none
    /// comes, the error says why: [`ClientError::NoUsableServer`] lists
    /// each remote of the last round tried with why it was not used (it
    /// could not be connected to, its `_Server` row did not pass, a call
    /// on it failed).
    pub async fn connect(remote: &str, options: SessionOptions) -> Result<Self, ClientError> {
        let session = Self::start(remote, options)?;
        session.client().await?;
        Ok(session)
    }

    /// Starts a session without waiting for it to connect (it keeps
    /// trying). Fails only on a remote that cannot be read.
    ///
    /// Must be called within a Tokio runtime.
    pub fn start(remote: &str, options: SessionOptions) -> Result<Self, ClientError> {
        let mut remotes: Vec<String> = parse_remotes(remote)?
            .iter()
            .map(ToString::to_string)
            .collect();
        if options.shuffle_remotes {
            shuffle(&mut remotes);
        }
        let (current, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            remotes,
            options,
            current,
            registry: tokio::sync::Mutex::new(Registry::default()),
            left: Mutex::new(HashMap::new()),
            min_index: AtomicI64::new(0),
            last_move: Mutex::new(None),
            next_id: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            change_aware: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            last_round: Mutex::new(None),
        });
        let task = tokio::spawn(supervise(shared.clone()));
        Ok(OvsdbSession {
            guard: Arc::new(Guard { shared, task }),
        })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.guard.shared
    }

    /// The connection in use, waiting for one (within
    /// [`SessionOptions::ready_timeout`]) while reconnecting. Transactions
    /// and other calls go through it. Timing out, it fails with
    /// [`ClientError::NoUsableServer`] (why the last round's remotes were
    /// not used) once a round has ended, else [`ClientError::TimedOut`].
    pub async fn client(&self) -> Result<OvsdbClient, ClientError> {
        let wait = self.shared().options.ready_timeout;
        wait_client(self.shared(), Instant::now() + wait).await
    }

    /// How many connections the session has made so far (1 after the
    /// first, 2 after one reconnect, ...).
    pub fn connections(&self) -> u64 {
        self.shared().connections.load(Ordering::Relaxed)
    }

    /// The remote of the connection in use, if connected.
    pub fn remote(&self) -> Option<String> {
        self.shared()
            .current
            .borrow()
            .as_ref()
            .map(|c| c.remote().to_owned())
    }

    /// The last time the session moved off a server because its `_Server`
    /// row said it could no longer serve the session (see
    /// [`SessionOptions::database`]): which server, and why. `None` if it
    /// never has.
    pub fn last_move(&self) -> Option<Moved> {
        self.shared().last_move.lock().ok().and_then(|m| m.clone())
    }

    /// Whether the server of the connection in use was told to report
    /// changes to its databases (`set_db_change_aware`) and took it: then
    /// a conversion of a monitored database comes as
    /// [`SessionEvent::SchemaChanged`] on the same connection. Only a
    /// session for a database ([`SessionOptions::database`]) asks, once
    /// the server's `_Server` row passes the session's checks (as Open
    /// vSwitch's clients do); a server without `_Server`, or one that
    /// answers "unknown method", is not asked or not aware.
    ///
    /// While the session reconnects, this is about the connection being
    /// tried (it starts `false` on each), not the one lost.
    pub fn is_change_aware(&self) -> bool {
        self.shared().change_aware.load(Ordering::Relaxed)
    }

    /// Forgets the highest log index seen, so that a server behind it is
    /// no longer taken for stale: for when the cluster was rebuilt or
    /// restored from a backup, and its indexes start again lower.
    pub fn reset_min_index(&self) {
        self.shared().min_index.store(0, Ordering::Relaxed);
    }

    /// Closes the connection in use, as if it had dropped: the session
    /// reconnects. For tests, and for moving off a server by hand.
    pub fn disconnect(&self) {
        if let Some(client) = self.shared().current.borrow().as_ref() {
            client.close();
        }
    }

    /// Stops the session: no more reconnects, the connection closes, and
    /// every monitor and lock stream ends.
    pub fn close(&self) {
        self.guard.shut_down();
    }

    /// Starts monitoring `requests` in `db` (as [`OvsdbClient::monitor`])
    /// on a monitor that is resumed on every new connection.
    ///
    /// A server that cannot serve `db` yet
    /// ([`ClientError::is_not_available_yet`]) is asked again after a wait
    /// (the session's backoff), on the same connection, until
    /// [`SessionOptions::ready_timeout`] and
    /// [`SessionOptions::monitor_timeout`] have passed; then that error is
    /// returned. Only when `db` is the session's own database
    /// ([`SessionOptions::database`]) does the session move to another
    /// server instead.
    pub async fn monitor(
        &self,
        db: &str,
        requests: MonitorRequests,
    ) -> Result<SessionMonitor, ClientError> {
        let shared = self.shared();
        let deadline =
            Instant::now() + shared.options.ready_timeout + shared.options.monitor_timeout;
        let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
        // Unique across the session's connections: a resumed monitor keeps
        // its id, so fresh ones must not take it.
        let id = MonitorId(serde_json::Value::from(format!("session-{n}")));
        let mut retry = Backoff::new(shared.options.backoff_min, shared.options.backoff_max);
        loop {
            if Instant::now() >= deadline {
                return Err(ClientError::TimedOut("a connection"));
            }
            let client = wait_client(shared, deadline).await?;
            let mut registry = shared.registry.lock().await;
            if shared.closed.load(Ordering::SeqCst) {
                return Err(ClientError::SessionClosed);
            }
            let state = MonitorState {
                db: db.to_owned(),
                id: id.clone(),
                requests: requests.clone(),
                method: MonitorMethod::MonitorCondSince,
                last_txn_id: None,
            };
            // The monitor timeout bounds the whole, in place of the
            // per-call deadline: a large database's first rows may take
            // longer than any call should.
            let started = tokio::time::timeout(
                shared.options.monitor_timeout,
                client.resume_monitor_within(state, None),
            )
            .await;
            match started {
                Err(_) => return Err(ClientError::TimedOut("a monitor's first rows")),
                // The connection dropped under us: wait for the next one
                // (which the session publishes once it has it).
                Ok(Err(e)) if e.is_disconnected() => {
                    drop(registry);
                    client.close();
                    continue;
                }
                // The session's own database cannot be served here yet:
                // the server is of no use to the session, which moves, as
                // after any connection lost (through the backoff).
                Ok(Err(e))
                    if e.is_not_available_yet()
                        && shared.options.database.as_deref() == Some(db) =>
                {
                    drop(registry);
                    tracing::debug!(remote = client.remote(), %db, "the session's database is not available yet; moving");
                    client.close();
                    continue;
                }
                // Another database: the connection is every other user's
                // too (their locks, their monitors), so it stays; ask again
                // on it after a wait, within the deadline.
                Ok(Err(e)) if e.is_not_available_yet() => {
                    drop(registry);
                    let wait = retry.next_wait();
                    if Instant::now() + wait >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(remote = client.remote(), %db, ?wait, "the database is not available yet; asking again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(mut stream)) => {
                    let initial = stream.take_initial();
                    let (tx, rx) = mpsc::unbounded_channel();
                    let state = Arc::new(Mutex::new(stream.state().clone()));
                    let flags = Arc::new(MonitorFlags::default());
                    let forwarder = tokio::spawn(forward_monitor(
                        stream,
                        Forwarding {
                            client: client.clone(),
                            shared: shared.clone(),
                            state: state.clone(),
                            flags: flags.clone(),
                            tx: tx.clone(),
                        },
                    ));
                    registry.monitors.push(WatchedMonitor {
                        state: state.clone(),
                        flags,
                        tx,
                        forwarder: Some(forwarder),
                    });
                    return Ok(SessionMonitor {
                        initial,
                        state,
                        rx,
                        done: false,
                    });
                }
            }
        }
    }

    /// Asks for the lock `name` (as [`OvsdbClient::lock`]), and again on
    /// every new connection.
    pub async fn lock(&self, name: &str) -> Result<SessionLock, ClientError> {
        let shared = self.shared();
        let deadline = Instant::now() + shared.options.ready_timeout;
        let key = shared.next_id.fetch_add(1, Ordering::Relaxed);
        loop {
            if Instant::now() >= deadline {
                return Err(ClientError::TimedOut("a connection"));
            }
            let client = wait_client(shared, deadline).await?;
            let mut registry = shared.registry.lock().await;
            if shared.closed.load(Ordering::SeqCst) {
                return Err(ClientError::SessionClosed);
            }
            match client.lock(name).await {
                Ok(lock) => {
                    let held = lock.is_held();
                    let (tx, rx) = mpsc::unbounded_channel();
                    let forwarder = tokio::spawn(forward_lock(lock, tx.clone()));
                    registry.locks.push(HeldLock {
                        key,
                        name: name.to_owned(),
                        tx,
                        forwarder: Some(forwarder),
                    });
                    return Ok(SessionLock {
                        shared: shared.clone(),
                        key,
                        name: name.to_owned(),
                        held,
                        rx,
                    });
                }
                Err(e) if e.is_disconnected() => {
                    drop(registry);
                    client.close();
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Waits until there is an open connection, or the deadline.
async fn wait_client(shared: &Shared, deadline: Instant) -> Result<OvsdbClient, ClientError> {
    let mut rx = shared.current.subscribe();
    let closed = &shared.closed;
    let wait = rx
        .wait_for(|c| closed.load(Ordering::SeqCst) || c.as_ref().is_some_and(|c| !c.is_closed()));
    let waited = match tokio::time::timeout_at(deadline.into(), wait).await {
        Ok(Ok(_)) if closed.load(Ordering::SeqCst) => Err(ClientError::SessionClosed),
        Ok(Ok(client)) => client.clone().ok_or(ClientError::SessionClosed),
        Ok(Err(_)) => Err(ClientError::SessionClosed),
        // A round that found a server and is resuming on it has nothing
        // to tell yet.
        Err(_) => Err(
            match shared.last_round.lock().ok().and_then(|r| r.clone()) {
                Some(failures) if !failures.is_empty() => ClientError::NoUsableServer(failures),
                _ => ClientError::TimedOut("a connection"),
            },
        ),
    };
    waited
}

/// Feeds one connection's monitor stream to the user's, noting its last
/// transaction as each update goes by.
///
/// If the stream fell behind (notifications were dropped), nothing more is
/// passed on and the connection is closed: the session resumes the
/// monitor after the last transaction delivered, so the dropped changes
/// come again instead of being missed.
///
/// If the server canceled the monitor (its database was converted or
/// removed, and the connection is change-aware), the monitor is started
/// again from nothing on the same connection, as Open vSwitch's clients
/// do on `monitor_canceled` ([`restart_monitor`]).
async fn forward_monitor(mut stream: MonitorStream, fwd: Forwarding) {
    loop {
        while let Some(item) = stream.next().await {
            if let Err(ClientError::Notification {
                source: SubscriptionError::Lagged(dropped),
                ..
            }) = &item
            {
                tracing::warn!(dropped, "a monitor fell behind; reconnecting to resume it");
                fwd.client.close();
                return;
            }
            if let Ok(mut kept) = fwd.state.lock() {
                kept.last_txn_id = stream.state().last_txn_id;
            }
            if fwd.tx.send(Some(item.map(SessionEvent::Update))).is_err() {
                // Nobody reads any more: stop the server sending.
                let _ = stream.cancel().await;
                return;
            }
        }
        if !stream.was_canceled() {
            // The connection closed: the session resumes the monitor on
            // the next one.
            return;
        }
        if fwd.tx.is_closed() {
            // Nobody reads the stream any more, and the server has already
            // dropped the monitor: nothing to start again.
            return;
        }
        // Noted first, so that if the connection drops before the monitor
        // is back (the session moves off a server that removed the
        // database), the next connection starts it over too, wherever it
        // is: a cancellation always ends in a `SchemaChanged`, whichever
        // of the session's watch and this forwarder acts first.
        fwd.flags.schema_changed.store(true, Ordering::SeqCst);
        let state = stream.state().clone();
        // Its subscriptions go before new ones are made under the same id.
        drop(stream);
        let timeout = fwd.shared.options.monitor_timeout;
        match restart_monitor(&fwd.client, &state, timeout).await {
            Ok((schema, mut fresh)) => {
                let rows = fresh.take_initial();
                if let Ok(mut kept) = fwd.state.lock() {
                    *kept = fresh.state().clone();
                }
                fwd.flags.schema_changed.store(false, Ordering::SeqCst);
                let event = SessionEvent::SchemaChanged { schema, rows };
                if fwd.tx.send(Some(Ok(event))).is_err() {
                    let _ = fresh.cancel().await;
                    return;
                }
                stream = fresh;
            }
            Err(e) => {
                restart_failed(&fwd, &state.db, e);
                return;
            }
        }
    }
}

/// Starts a monitor the server canceled again from nothing: the
/// database's schema as it is now, then the monitor under the same id
/// and requests with no last transaction, so that every row comes as the
/// new schema has it (a conversion also clears the server's transaction
/// history, so there is nothing to resume after).
async fn restart_monitor(
    client: &OvsdbClient,
    state: &MonitorState,
    timeout: Duration,
) -> Result<(Box<DatabaseSchema>, MonitorStream), ClientError> {
    let fresh = MonitorState {
        last_txn_id: None,
        ..state.clone()
    };
    // `timeout` bounds the whole, in place of the per-call deadline.
    let restarted = async {
        let params = crate::params::DbParams {
            db: state.db.clone(),
        };
        let schema = client
            .call_with_timeout::<crate::methods::GetSchema>(params, None)
            .await?;
        let stream = client.resume_monitor_within(fresh, None).await?;
        Ok((Box::new(schema), stream))
    };
    tokio::time::timeout(timeout, restarted)
        .await
        .map_err(|_| ClientError::TimedOut("a restarted monitor's rows"))?
}

/// A canceled monitor could not be started again on its connection.
fn restart_failed(fwd: &Forwarding, db: &str, e: ClientError) {
    let remote = fwd.client.remote();
    if e.is_disconnected() {
        // The session starts it over on the next connection.
        tracing::debug!(remote, error = %e, "lost the connection restarting a monitor");
    } else if e.server_error() == Some(&crate::error::ErrorKind::UnknownDatabase)
        && fwd.shared.options.database.as_deref() == Some(db)
    {
        // The session's database was removed from this server: another
        // remote serves it, as when the `_Server` row goes (whichever of
        // the two is seen first). The monitor starts over there, its
        // schema read again, as Open vSwitch's clients start over from the
        // top on `monitor_canceled`.
        tracing::debug!(remote, "the session's database was removed; moving");
        fwd.shared.moved_off(remote, Unusable::NoDatabase);
        fwd.client.close();
    } else if e.is_not_available_yet() || e.is_timed_out() {
        // For now only: try again on a new connection.
        tracing::debug!(remote, error = %e, "cannot restart a monitor here yet; reconnecting");
        fwd.client.close();
    } else {
        // For good (another database removed, requests the new schema
        // refuses): the stream ends with the error, as when a resume is
        // refused.
        tracing::debug!(remote, error = %e, "the server refused to restart a monitor");
        fwd.flags.ended.store(true, Ordering::SeqCst);
        let _ = fwd.tx.send(Some(Err(e)));
        let _ = fwd.tx.send(None);
    }
}

async fn forward_lock(mut lock: super::Lock, tx: LockSender) {
    while let Some(item) = lock.next().await {
        let event = item.map(|e| match e {
            LockEvent::Locked => SessionLockEvent::Locked,
            LockEvent::Stolen => SessionLockEvent::Stolen,
        });
        if tx.send(event).is_err() {
            let _ = lock.unlock().await;
            return;
        }
    }
}

/// A connection the supervisor made, and the task following its server's
/// `_Server` row: closed and stopped when dropped, so that however the
/// supervisor lets go of it (the session closed while it connects or
/// resumes aborts its task), nothing it made lives on.
struct Candidate {
    client: OvsdbClient,
    follow: Option<JoinHandle<()>>,
}

impl Drop for Candidate {
    fn drop(&mut self) {
        self.client.close();
        if let Some(follow) = &self.follow {
            follow.abort();
        }
    }
}

/// The session's life: connect, bring monitors and locks back, wait for
/// the connection to drop, let the streams drain, back off, again.
async fn supervise(shared: Arc<Shared>) {
    let mut backoff = Backoff::new(shared.options.backoff_min, shared.options.backoff_max);
    loop {
        let connected = connect_any(&shared).await;
        let candidate = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "no server to connect to; backing off");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        let client = candidate.client.clone();
        let resumed = {
            let mut registry = shared.registry.lock().await;
            if shared.closed.load(Ordering::SeqCst) {
                // Closed while connecting: nobody is to get this connection
                // (the candidate closes it as it goes).
                return;
            }
            let resumed = resume_all(&shared, &client, &mut registry).await;
            if resumed.is_ok() {
                if let Ok(mut last) = shared.last_round.lock() {
                    *last = None;
                }
                shared.connections.fetch_add(1, Ordering::Relaxed);
                shared.current.send_replace(Some(client.clone()));
            }
            resumed
        };
        match resumed {
            Ok(()) => {
                let up = Instant::now();
                client.peer().closed().await;
                backoff.connection_lasted(up.elapsed());
                tracing::debug!(remote = client.remote(), "connection lost; reconnecting");
                // However the server was lost (its row said it can no
                // longer serve, it stopped answering probes, it went away),
                // it is tried last, as Open vSwitch's clients go round their
                // remotes: a leader that was paused may still say it leads
                // for a moment when it resumes, before it hears of the new
                // term, and a server that just lost its cluster is unlikely
                // to be back yet.
                shared.left(client.remote());
            }
            Err(e) => {
                tracing::debug!(remote = client.remote(), error = %e, "resuming failed; reconnecting");
                // Tried last next time, as any server left: one that passes
                // its checks but cannot resume a monitor would otherwise come
                // first again every round, and the others never be tried.
                shared.left(client.remote());
                if let Ok(mut last) = shared.last_round.lock() {
                    last.get_or_insert_with(Vec::new).push(RemoteFailure {
                        remote: client.remote().to_owned(),
                        reason: NotUsed::Failed(Arc::new(e)),
                    });
                }
                client.close();
            }
        }
        shared.current.send_replace(None);
        drop(candidate);
        drain(&shared).await;
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// Tries each remote, the least recently left first, until one connects
/// and, for a session with a database, its `_Server` row says it can serve
/// the session. Each remote tried and not taken counts as left, so the
/// next round begins with the next one: the remotes are gone round in
/// turn, as Open vSwitch's clients do.
///
/// What the round tried and did not use is kept as
/// [`Shared::last_round`], for a caller that times out waiting.
async fn connect_any(shared: &Arc<Shared>) -> Result<Candidate, ClientError> {
    let mut failures = Vec::new();
    let tried = try_remotes(shared, &mut failures).await;
    if let Ok(mut last) = shared.last_round.lock() {
        *last = Some(failures.clone());
    }
    match tried {
        Some(candidate) => Ok(candidate),
        None => Err(ClientError::NoUsableServer(failures)),
    }
}

/// [`connect_any`]'s round: the first remote that can be used, noting in
/// `failures` each one that cannot.
async fn try_remotes(shared: &Arc<Shared>, failures: &mut Vec<RemoteFailure>) -> Option<Candidate> {
    for remote in order_remotes(shared) {
        tracing::debug!(%remote, "trying a remote");
        let mut candidate =
            match OvsdbClient::connect_with(&remote, shared.options.client.clone()).await {
                Ok(client) => Candidate {
                    client,
                    follow: None,
                },
                Err(ClientError::Connect(errors)) => {
                    shared.left(&remote);
                    failures.extend(errors.into_iter().map(|e| RemoteFailure {
                        remote: remote.clone(),
                        reason: NotUsed::Connect(Arc::new(e)),
                    }));
                    continue;
                }
                Err(e) => {
                    shared.left(&remote);
                    failures.push(RemoteFailure {
                        remote: remote.clone(),
                        reason: NotUsed::Failed(Arc::new(e)),
                    });
                    continue;
                }
            };
        let client = candidate.client.clone();
        shared.change_aware.store(false, Ordering::Relaxed);
        let Some(db) = &shared.options.database else {
            return Some(candidate);
        };
        match cluster::leadership(&client, db, shared.options.monitor_timeout).await {
            Ok(watch) => match cluster::check_for(&watch, shared) {
                Ok(status) => {
                    shared.saw_index(status.index);
                    if let Err(e) = make_change_aware(shared, &client).await {
                        tracing::debug!(%remote, error = %e, "set_db_change_aware failed; trying the next");
                        shared.left(&remote);
                        failures.push(RemoteFailure {
                            remote: remote.clone(),
                            reason: NotUsed::Failed(Arc::new(e)),
                        });
                        continue;
                    }
                    let task = tokio::spawn(cluster::follow(watch, client, shared.clone()));
                    candidate.follow = Some(task);
                    return Some(candidate);
                }
                Err(reason) => {
                    tracing::debug!(
                        %remote,
                        status = ?watch.status(),
                        %reason,
                        "the server cannot serve the session; trying the next"
                    );
                    failures.push(RemoteFailure {
                        remote: remote.clone(),
                        reason: NotUsed::Unusable(reason),
                    });
                }
            },
            // Older than `_Server`: nothing to check, taken as it is (as
            // Open vSwitch's clients do).
            Err(e) if cluster::lacks_server_db(&e) => {
                tracing::debug!(%remote, "the server has no _Server database; taking it as it is");
                return Some(candidate);
            }
            Err(e) => {
                tracing::debug!(%remote, error = %e, "cannot read _Server; trying the next");
                failures.push(RemoteFailure {
                    remote: remote.clone(),
                    reason: NotUsed::Failed(Arc::new(e)),
                });
            }
        }
        // The candidate closes the connection as it goes.
        shared.left(&remote);
    }
    None
}

/// Asks the server of a connection the session is about to use to report
/// changes to its databases, as Open vSwitch's clients do once a server
/// passes their checks, so that a conversion cancels the monitors
/// (which the session starts again) rather than drops the connection.
/// A server that answers with an error (an older one: "unknown method")
/// is used as it is, not aware; only a call that got no answer fails.
async fn make_change_aware(shared: &Shared, client: &OvsdbClient) -> Result<(), ClientError> {
    match client.set_db_change_aware(true).await {
        Ok(()) => {
            shared.change_aware.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e @ ClientError::Server { .. }) => {
            tracing::debug!(
                remote = client.remote(),
                error = %e,
                "the server is not change-aware; a conversion will drop the connection"
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Puts `remotes` in a random order.
fn shuffle(remotes: &mut [String]) {
    // A randomly keyed hash of each remote and its place is random enough
    // to spread clients, and needs no dependency.
    let random = RandomState::new();
    let mut keyed: Vec<(u64, String)> = remotes
        .iter()
        .enumerate()
        .map(|(i, r)| (random.hash_one((i, r)), r.clone()))
        .collect();
    keyed.sort();
    for (slot, (_, remote)) in remotes.iter_mut().zip(keyed) {
        *slot = remote;
    }
}

/// The remotes in the order to try them: those never left first, as
/// given, then the others, the least recently left first.
fn order_remotes(shared: &Shared) -> Vec<String> {
    let left = shared.left.lock().map(|d| d.clone()).unwrap_or_default();
    in_order(&shared.remotes, &left)
}

fn in_order(remotes: &[String], left: &HashMap<String, Instant>) -> Vec<String> {
    let mut remotes: Vec<(Option<Instant>, usize, &String)> = remotes
        .iter()
        .enumerate()
        .map(|(i, r)| (left.get(r).copied(), i, r))
        .collect();
    // None sorts before Some: never left first.
    remotes.sort();
    remotes.into_iter().map(|(_, _, r)| r.clone()).collect()
}

/// Resumes every monitor and asks for every lock on `client`. A dropped
/// connection, a deadline or a database the server cannot serve yet fails
/// the whole (the caller reconnects); any other refusal of the server ends
/// only the stream it concerns, with the error.
///
/// A monitor the server canceled on the last connection (its database
/// changed) and that was not started again there is started from nothing,
/// its schema read again ([`SessionEvent::SchemaChanged`]).
async fn resume_all(
    shared: &Arc<Shared>,
    client: &OvsdbClient,
    registry: &mut Registry,
) -> Result<(), ClientError> {
    registry
        .monitors
        .retain(|m| !m.tx.is_closed() && !m.flags.ended.load(Ordering::SeqCst));
    registry.locks.retain(|l| !l.tx.is_closed());
    let mut refused = Vec::new();
    for (i, watched) in registry.monitors.iter_mut().enumerate() {
        let state = match watched.state.lock() {
            Ok(state) => state.clone(),
            Err(_) => continue,
        };
        let timeout = shared.options.monitor_timeout;
        let resumed = if watched.flags.schema_changed.load(Ordering::SeqCst) {
            restart_monitor(client, &state, timeout)
                .await
                .map(|(schema, stream)| (Some(schema), stream))
        } else {
            tokio::time::timeout(timeout, client.resume_monitor_within(state, None))
                .await
                .map_err(|_| ClientError::TimedOut("a resumed monitor's rows"))?
                .map(|stream| (None, stream))
        };
        let (schema, mut stream) = match resumed {
            Ok(resumed) => resumed,
            // Slow, not refused: reconnect and try again.
            Err(e) if e.is_timed_out() => return Err(e),
            // Not for good: a relay that has not reached its source yet, a
            // clustered server that has not joined. Reconnect and try again.
            Err(e) if e.is_disconnected() || e.is_not_available_yet() => return Err(e),
            Err(e) => {
                let _ = watched.tx.send(Some(Err(e)));
                refused.push(i);
                continue;
            }
        };
        let changes = stream.take_initial();
        let event = if let Some(schema) = schema {
            watched.flags.schema_changed.store(false, Ordering::SeqCst);
            Some(SessionEvent::SchemaChanged {
                schema,
                rows: changes,
            })
        } else if stream.found() == Some(true) {
            // Only what changed while we were away: on top of the view.
            (!changes.is_empty()).then(|| {
                SessionEvent::Update(MonitorEvent {
                    updates: changes,
                    last_txn_id: stream.state().last_txn_id,
                })
            })
        } else {
            Some(SessionEvent::Resync(changes))
        };
        if let Ok(mut kept) = watched.state.lock() {
            *kept = stream.state().clone();
        }
        // Before the forwarder starts, so the stream's order holds.
        if let Some(event) = event {
            let _ = watched.tx.send(Some(Ok(event)));
        }
        watched.forwarder = Some(tokio::spawn(forward_monitor(
            stream,
            Forwarding {
                client: client.clone(),
                shared: shared.clone(),
                state: watched.state.clone(),
                flags: watched.flags.clone(),
                tx: watched.tx.clone(),
            },
        )));
    }
    for i in refused.into_iter().rev() {
        registry.monitors.remove(i);
    }
    let mut refused = Vec::new();
    for (i, held) in registry.locks.iter_mut().enumerate() {
        match client.lock(&held.name).await {
            Ok(lock) => {
                if lock.is_held() {
                    let _ = held.tx.send(Ok(SessionLockEvent::Locked));
                }
                held.forwarder = Some(tokio::spawn(forward_lock(lock, held.tx.clone())));
            }
            Err(e) if e.is_disconnected() || e.is_timed_out() => return Err(e),
            Err(e) => {
                let _ = held.tx.send(Err(e));
                refused.push(i);
            }
        }
    }
    for i in refused.into_iter().rev() {
        registry.locks.remove(i);
    }
    Ok(())
}

/// After a connection closed: waits until every stream has delivered what
/// the server sent on it (so each monitor's last transaction is final),
/// and tells each lock it is lost.
async fn drain(shared: &Shared) {
    let mut registry = shared.registry.lock().await;
    for watched in &mut registry.monitors {
        if let Some(forwarder) = watched.forwarder.take() {
            let _ = forwarder.await;
        }
    }
    for held in &mut registry.locks {
        if let Some(forwarder) = held.forwarder.take() {
            let _ = forwarder.await;
            let _ = held.tx.send(Ok(SessionLockEvent::Lost));
        }
    }
}

/// A monitor of an [`OvsdbSession`]: its first rows, then a stream of
/// [`SessionEvent`]s that goes on across reconnects, and across changes of
/// its database's schema ([`SessionEvent::SchemaChanged`]). It ends when
/// the session ends or the server refuses to resume it or to start it
/// again after its database changed (the error comes first); a server that cannot serve the database yet
/// ([`ClientError::is_not_available_yet`]) is not a refusal: the session
/// reconnects and asks again.
///
/// Events wait unread in the session without bound, so a reader that
/// stops costs memory rather than lost changes. An update that does not
/// decode comes as [`ClientError::Notification`] in its place, and the
/// stream goes on; dropping the monitor cancels it on the server.
pub struct SessionMonitor {
    initial: Updates,
    state: Arc<Mutex<MonitorState>>,
    rx: mpsc::UnboundedReceiver<MonitorItem>,
    done: bool,
}

impl std::fmt::Debug for SessionMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMonitor").finish_non_exhaustive()
    }
}

impl SessionMonitor {
    /// The rows there when the monitor began.
    pub fn initial(&self) -> &Updates {
        &self.initial
    }

    /// Takes the initial rows out, leaving none.
    pub fn take_initial(&mut self) -> Updates {
        let empty = match self.initial {
            Updates::Update(_) => Updates::Update(Default::default()),
            Updates::Update2(_) => Updates::Update2(Default::default()),
        };
        std::mem::replace(&mut self.initial, empty)
    }

    /// The monitor as it would be resumed now (its last transaction
    /// follows the updates delivered, read or not).
    pub fn state(&self) -> Option<MonitorState> {
        self.state.lock().ok().map(|s| s.clone())
    }
}

impl Stream for SessionMonitor {
    type Item = Result<SessionEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Some(item))) => Poll::Ready(Some(item)),
            Poll::Ready(Some(None)) | Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A lock of an [`OvsdbSession`], asked for again on each connection.
pub struct SessionLock {
    shared: Arc<Shared>,
    key: u64,
    name: String,
    held: bool,
    rx: mpsc::UnboundedReceiver<Result<SessionLockEvent, ClientError>>,
}

impl std::fmt::Debug for SessionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLock")
            .field("name", &self.name)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl SessionLock {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lock is held, as of the last event read.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Waits until the lock is held (at once if it is).
    pub async fn acquired(&mut self) -> Result<(), ClientError> {
        while !self.held {
            match self.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(ClientError::SessionClosed),
            }
        }
        Ok(())
    }

    /// Gives the lock up, on this connection and the next ones.
    pub async fn unlock(self) -> Result<(), ClientError> {
        let shared = &self.shared;
        let mut registry = shared.registry.lock().await;
        if let Some(i) = registry.locks.iter().position(|l| l.key == self.key) {
            let held = registry.locks.remove(i);
            if let Some(forwarder) = held.forwarder {
                forwarder.abort();
            }
        }
        drop(registry);
        let client = shared.current.borrow().clone();
        match client {
            Some(client) if !client.is_closed() => {
                let params = crate::params::LockParams {
                    lock: self.name.clone(),
                };
                client
                    .call::<crate::methods::Unlock>(params)
                    .await
                    .map(|_| ())
            }
            // Not connected: no server holds it for us.
            _ => Ok(()),
        }
    }
}

impl Stream for SessionLock {
    type Item = Result<SessionLockEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(Ok(event))) = &next {
            self.held = *event == SessionLockEvent::Locked;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(800));
        let mut backoff = Backoff::new(min, max);
        let mut step = min;
        for _ in 0..8 {
            let wait = backoff.next_wait();
            assert!(
                wait >= step / 2 && wait <= step,
                "{wait:?} for step {step:?}"
            );
            step = (step * 2).min(max);
        }
        backoff.reset();
        assert!(backoff.next_wait() <= min);
    }

    #[test]
    fn backoff_starts_over_only_after_a_connection_that_lasted() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(800));
        let mut backoff = Backoff::new(min, max);
        for _ in 0..3 {
            backoff.next_wait();
        }
        // The last wait's step was 400 ms: a connection up for less does
        // not count.
        backoff.connection_lasted(Duration::from_millis(399));
        assert!(backoff.next_wait() > Duration::from_millis(400));
        backoff.connection_lasted(Duration::from_millis(800));
        assert!(backoff.next_wait() <= min);
    }

    #[test]
    fn shuffled_remotes_are_the_same_remotes_in_some_order() {
        let given: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let mut orders = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut remotes = given.clone();
            shuffle(&mut remotes);
            let mut sorted = remotes.clone();
            sorted.sort();
            assert_eq!(sorted, given);
            orders.insert(remotes);
        }
        // 20 draws of 24 orders all alike: about 1 in 10^26.
        assert!(orders.len() > 1, "{orders:?}");
    }

    #[test]
    fn remotes_are_tried_least_recently_left_first() {
        let remotes: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let now = Instant::now();
        let mut deposed = HashMap::new();
        deposed.insert("a".to_owned(), now + Duration::from_secs(1));
        deposed.insert("c".to_owned(), now);
        assert_eq!(in_order(&remotes, &deposed), ["b", "d", "c", "a"]);
        assert_eq!(in_order(&remotes, &HashMap::new()), remotes);
    }
}
