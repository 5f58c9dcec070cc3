//! The peer: one JSON-RPC connection, both client and server.
//!
//! A connection is a reader, a writer, and the handlers that wait:
//!
//! ```text
//!            +--> replies ----------> pending calls (by id) --> callers
//! reader ----+--> requests ---------> handler, polled here first --+--> task if it waits
//!  (one      +--> notifications ----> handler, polled here first --+
//!  message
//!  at a time)
//! callers, handlers, cancels --> outgoing (bounded) --+
//! reader's own error replies, priority replies -------+--> writer (control lane first)
//! ```
//!
//! # Arrival order
//!
//! Per connection, messages take effect in the order they arrived. The
//! reader takes one message at a time: a reply completes its call; a request
//! or a notification has its handler called and polled once, right there.
//! So everything a handler does before its first `.await` that has to wait
//! has happened before the reader looks at the next message: before any
//! later notification or request on this connection is handled, and before
//! any later reply reaches its caller. An OVSDB client thus applies the
//! `update` that precedes its `transact` reply before that reply returns; a
//! language server applies `didChange` before it starts on the completion
//! that follows.
//!
//! # Never wedged
//!
//! The reader never waits for a handler. A handler that has to wait goes on
//! in a task of its own, unordered from then on, so work that awaits — a
//! call to the same peer, I/O, a lock — belongs after the handler's ordered
//! part, and can never stop the connection from reading the replies it
//! waits for. Limits are kept by refusing, not by waiting: a request past
//! [`max_concurrent_requests`](PeerConfig::max_concurrent_requests) is
//! answered -32000 at once. A notification cannot be refused: when one more
//! handler would wait than
//! [`max_notification_tasks`](PeerConfig::max_notification_tasks), reading
//! waits a short while
//! ([`notification_task_wait`](PeerConfig::notification_task_wait)) for one
//! to finish, and then closes the connection
//! ([`CloseReason::NotificationBacklog`]) rather than wedge it. When the
//! connection closes, the handlers still running see their cancellation
//! token fire and have [`cancel_grace`](PeerConfig::cancel_grace) to finish
//! before they are dropped; [`PeerHandle::closed`] returns after the last
//! of them.
//!
//! When the peer closes its sending side, our pending calls fail at once with
//! [`CallError::ConnectionClosed`], running handlers get up to
//! [`PeerConfig::drain_timeout`] to finish and have their replies written, and
//! then the connection closes. Any other close (an I/O error,
//! [`PeerHandle::close`]) cancels every running handler's token at once.

mod batch;
mod buffers;
mod config;
mod connection;
mod driver;
mod error;
mod fanout;
mod outbox;
mod pending;
mod probe;
mod serve;
mod slots;
mod stats;
mod subscribe;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::TryAcquireError;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use batch::{Batch, BatchCall, BatchReplies, RawBatchCall};
pub use config::{InactivityProbe, PeerConfig, WireCancel};
pub use connection::{ConnectionId, ConnectionInfo};
pub use error::{CallError, CloseReason, NotifyError};
pub use fanout::{Overflow, SharedNotification, TrySendError};
pub use stats::PeerStats;
pub use subscribe::{Subscribe, Subscription, SubscriptionError};

use crate::codec::{FrameTooLarge, Framing};
use crate::message::{
    write_notification_head, write_raw_params, write_request_head, Dialect, DialectMode, Id,
    RawJson, RawParams,
};
use crate::method::{write_typed_params, Method, NotificationMethod};
use crate::Router;
use outbox::Refused;
use pending::Pending;
use stats::{bump, Counters};

/// Sets up a connection: its framing, router and settings.
///
/// Its messages take effect in arrival order, and it never waits for a
/// handler to finish (see [the module](self) for both guarantees): a
/// handler's work up to its first `.await` that has to wait is ordered with
/// the connection's other messages; from there on it runs concurrently.
///
/// ```
/// use jsonrpc_core::{codec::LineCodec, ErrorObject, Peer, Router};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (a, b) = tokio::io::duplex(4096);
/// let mut router = Router::new();
/// router.method_fn("add", |(x, y): (i64, i64), _| async move { Ok::<_, ErrorObject>(x + y) });
/// let _server = Peer::new(LineCodec::new()).router(router).spawn(a);
/// let client = Peer::new(LineCodec::new()).spawn(b);
/// let sum: i64 = client.call_raw_typed("add", (2, 3)).await.unwrap();
/// assert_eq!(sum, 5);
/// # }
/// ```
pub struct Peer<F> {
    framing: F,
    router: Arc<Router>,
    config: PeerConfig,
    info: ConnectionInfo,
    state: Option<Box<dyn std::any::Any + Send>>,
}

impl<F: Framing + Clone> Peer<F> {
    /// A connection with this framing, an empty router and default settings.
    pub fn new(framing: F) -> Self {
        Peer {
            framing,
            router: Arc::new(Router::new()),
            config: PeerConfig::default(),
            info: ConnectionInfo::new(),
            state: None,
        }
    }

    /// Serves incoming calls with `router` (shared; an `Arc<Router>` is fine).
    pub fn router(mut self, router: impl Into<Arc<Router>>) -> Self {
        self.router = router.into();
        self
    }

    /// Uses these settings.
    pub fn config(mut self, config: PeerConfig) -> Self {
        self.config = config;
        self
    }

    /// Describes the connection (transports set the other end's address
    /// and TLS subject); by default it has a fresh id and nothing else.
    pub fn connection(mut self, info: ConnectionInfo) -> Self {
        self.info = info;
        self
    }

    /// What this connection will be known as.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Keeps `state` for this connection: the application's own value,
    /// reached from every handler through
    /// [`RequestContext::with_state`](crate::RequestContext::with_state) and
    /// from outside through [`PeerHandle::with_state`]. It lives as long as
    /// the connection's last handle.
    ///
    /// ```
    /// use jsonrpc_core::{codec::LineCodec, ErrorObject, Peer, RequestContext, Router};
    ///
    /// /// What one client has put, kept per connection.
    /// #[derive(Default)]
    /// struct Session { puts: u64 }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut router = Router::new();
    /// router.method_fn("put", |_: (String,), ctx: RequestContext| {
    ///     let puts = ctx.with_state(|s: &mut Session| { s.puts += 1; s.puts });
    ///     async move { Ok::<_, ErrorObject>(puts) }
    /// });
    /// let (a, b) = tokio::io::duplex(4096);
    /// let server = Peer::new(LineCodec::new()).router(router).state(Session::default()).spawn(a);
    /// let client = Peer::new(LineCodec::new()).spawn(b);
    /// let n: u64 = client.call_raw_typed("put", ("x",)).await.unwrap();
    /// assert_eq!(n, 1);
    /// assert_eq!(server.with_state(|s: &mut Session| s.puts), Some(1));
    /// # }
    /// ```
    pub fn state<S: std::any::Any + Send>(mut self, state: S) -> Self {
        self.state = Some(Box::new(state));
        self
    }

    /// Starts the connection on `io` and returns a handle to it. Needs a tokio
    /// runtime.
    pub fn spawn<T>(self, io: T) -> PeerHandle
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(io);
        self.spawn_split(r, w)
    }

    /// Starts the connection on separate read and write halves (such as
    /// `TcpStream::into_split`, or stdin and stdout).
    pub fn spawn_split<R, W>(self, reader: R, writer: W) -> PeerHandle
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let config = self.config;
        let shared = Arc::new(Shared {
            info: self.info,
            state: connection::State::new(self.state),
            max_frame: config
                .max_outgoing_frame
                .unwrap_or_else(|| self.framing.max_frame()),
            next_id: AtomicU64::new(0),
            call_slots: tokio::sync::Semaphore::new(config.max_pending_calls.max(1)),
            pending: Pending::default(),
            buffers: Default::default(),
            outbox: outbox::Outbox::new(config.outgoing_queue, config.control_queue),
            counters: Counters::default(),
            shutdown: CancellationToken::new(),
            abandon_writes: CancellationToken::new(),
            stop_reading: CancellationToken::new(),
            finished: CancellationToken::new(),
            last_input_ms: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
            subscriptions: Default::default(),
            peer_dialect: Default::default(),
            started: tokio::time::Instant::now(),
            reason: OnceLock::new(),
            in_flight: Mutex::default(),
            slots: slots::Slots::new(config.max_concurrent_requests),
            notification_slots: slots::Slots::new(config.max_notification_tasks),
            config,
        });
        let handle = PeerHandle {
            shared: shared.clone(),
        };
        let writer_task = writer::Writer {
            framing: self.framing.clone(),
            shared: shared.clone(),
        };
        tokio::spawn(driver::run(
            reader,
            writer,
            self.framing,
            self.router,
            handle.clone(),
            writer_task,
        ));
        handle
    }
}

/// State shared by a connection's tasks and handles.
pub(crate) struct Shared {
    info: ConnectionInfo,
    /// The application's state for this connection.
    state: connection::State,
    config: PeerConfig,
    /// The largest message we send (see `PeerConfig::max_outgoing_frame`).
    max_frame: usize,
    next_id: AtomicU64,
    /// One permit per call that may be pending at once.
    call_slots: tokio::sync::Semaphore,
    pending: Pending,
    /// Spare buffers for outgoing messages.
    buffers: buffers::Buffers,
    /// Encoded messages waiting for the writer.
    outbox: outbox::Outbox,
    counters: Counters,
    /// Fires when the connection starts closing: stops reading and cancels
    /// every handler (their tokens are children of this one).
    shutdown: CancellationToken,
    /// Fires when the peer is closed for falling behind: what is queued for
    /// it is dropped and a write in progress is abandoned.
    abandon_writes: CancellationToken,
    /// Fires to stop reading and close once running handlers are done.
    stop_reading: CancellationToken,
    /// Fires when every task of the connection has ended.
    finished: CancellationToken,
    /// The dialect the peer last spoke: 0 not yet, 1 for 1.0, 2 for 2.0.
    peer_dialect: std::sync::atomic::AtomicU8,
    /// When input last arrived, in milliseconds since `started`.
    last_input_ms: AtomicU64,
    /// Notifications dropped since the connection began lagging
    /// ([`Overflow::Lag`]); 0 when it is not.
    lagged: AtomicU64,
    /// Streams of notifications the application subscribed to.
    subscriptions: subscribe::Subscriptions,
    started: tokio::time::Instant,
    reason: OnceLock<CloseReason>,
    /// One slot per request (a batch counts as one) that may run at once.
    slots: Arc<slots::Slots>,
    /// One slot per notification handler that may go on waiting at once.
    notification_slots: Arc<slots::Slots>,
    /// Tokens of the peer's requests being handled, for on-wire cancels.
    in_flight: Mutex<std::collections::HashMap<Id, CancellationToken>>,
}

// Every lock in the peer guards state that each operation leaves whole.
pub(crate) use crate::sync::lock;

impl Shared {
    /// Begins closing for `reason` (the first reason given wins).
    fn close(&self, reason: CloseReason) {
        let reason = self.reason.get_or_init(|| reason).clone();
        let lagged = matches!(reason, CloseReason::Lagged(_));
        self.pending.close(reason);
        // Callers waiting for a slot, or for room in the outgoing queue,
        // learn of the close at once (even if the writer is stuck on a
        // peer that does not read); what is queued still goes out.
        self.call_slots.close();
        self.outbox.close();
        if lagged {
            self.abandon_writes.cancel();
        }
        self.shutdown.cancel();
        // After the cancel: a subscription made from now on sees it, and
        // ends at once (see `subscribe_with`).
        self.subscriptions.close();
    }

    /// Why the connection is closing, once it is (a cheap check: no lock).
    fn closing(&self) -> Option<CloseReason> {
        self.reason.get().cloned()
    }

    /// The dialect our own calls and notifications are written in: the
    /// configured one, or on a detecting connection the one the peer last
    /// spoke (2.0 until it has spoken), so a 1.0 peer such as OVSDB's is
    /// called back in 1.0.
    fn outgoing_dialect(&self) -> Dialect {
        match self.config.profile.get_dialect() {
            DialectMode::V1 => Dialect::V1,
            DialectMode::V2 => Dialect::V2,
            DialectMode::Detect => match self.peer_dialect.load(Ordering::Relaxed) {
                1 => Dialect::V1,
                _ => Dialect::V2,
            },
        }
    }

    /// Remembers the dialect of a message the peer sent.
    fn heard(&self, dialect: Dialect) {
        if self.config.profile.get_dialect() == DialectMode::Detect {
            let code = match dialect {
                Dialect::V1 => 1,
                Dialect::V2 => 2,
            };
            self.peer_dialect.store(code, Ordering::Relaxed);
        }
    }

    /// Notes that input arrived now.
    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_input_ms.store(now, Ordering::Relaxed);
    }

    /// How long since input last arrived.
    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_input_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    fn close_reason(&self) -> CloseReason {
        self.reason
            .get()
            .cloned()
            .or_else(|| self.pending.closed_reason())
            .unwrap_or(CloseReason::Local)
    }

    /// Queues bytes on the control lane without waiting.
    ///
    /// The reader queues its own replies here, and the reader must never wait
    /// on the writer: two peers whose readers both waited for their writers,
    /// while both writers waited for the other side to read, would be stuck
    /// for good. So when the lane is full — the peer sends requests much
    /// faster than it reads our replies — the connection is closed with a
    /// reason, rather than a reply being lost (its caller would wait forever)
    /// or the queue growing without bound.
    fn queue_control(&self, out: Vec<u8>) {
        if let Err(Refused::Full(_)) = self.outbox.try_send_control(out) {
            let limit = self.config.control_queue;
            tracing::warn!(
                limit,
                "control queue full: the peer is not reading our replies; closing"
            );
            self.close(CloseReason::Overwhelmed(limit));
        }
    }

    /// Queues an on-wire cancel behind its request: on the outgoing lane,
    /// which is first in, first out, so the cancel can never reach the peer
    /// before the request it names. When that lane is full the cancel is
    /// dropped, which costs the work of a call nobody waits for and a late
    /// reply.
    fn send_cancel(&self, method: &str, params: &RawParams) {
        let mut out = self.buffers.take();
        let dialect = self.outgoing_dialect();
        write_notification_head(method, dialect, &mut out);
        write_raw_params(params, dialect, &mut out);
        out.push(b'}');
        match self.outbox.try_send(out) {
            Ok(()) => bump(&self.counters.cancels_sent),
            Err(Refused::Full(_)) => tracing::debug!("outgoing queue full; not sending a cancel"),
            Err(Refused::Closed) => {}
        }
    }
}

/// A handle to a running connection: make calls, send notifications, reach
/// its state, read counters, close. Cheap to clone; every clone talks to the
/// same connection. Handles compare equal, and hash alike, when they are
/// handles to the same connection, so they can key a map of subscribers.
#[derive(Clone)]
pub struct PeerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerHandle")
            .field("id", &self.shared.info.id())
            .field("closed", &self.shared.shutdown.is_cancelled())
            .finish()
    }
}

impl PartialEq for PeerHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for PeerHandle {}

impl std::hash::Hash for PeerHandle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl PeerHandle {
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.shared.info.id()
    }

    /// The connection's wire rules.
    pub fn profile(&self) -> &crate::Profile {
        &self.shared.config.profile
    }

    /// What is known about the connection: its id, the other end's address
    /// and TLS subject.
    pub fn info(&self) -> &ConnectionInfo {
        &self.shared.info
    }

    /// Runs `f` with exclusive access to the connection's state (see
    /// [`Peer::state`]); `None` if it has none, or none of type `S`.
    ///
    /// `f` is synchronous, so the lock is never held across an `.await` and
    /// a handler cannot wedge the connection with it. Like any lock it is
    /// not reentrant: calling `with_state` again from inside `f`, on the
    /// same connection, blocks for good.
    pub fn with_state<S: std::any::Any, R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        self.shared.state.with(f)
    }

    /// Takes the connection's state out, if it is an `S` (say, to tear it
    /// down once the connection has closed); later calls find none.
    pub fn take_state<S: std::any::Any>(&self) -> Option<S> {
        self.shared.state.take()
    }

    /// Calls method `M` and waits for its typed reply, within the connection's
    /// default [`call_timeout`](PeerConfig::call_timeout).
    ///
    /// Dropping the returned future gives up on the call: its pending entry is
    /// removed at once and, if the connection has a [`WireCancel`], the peer is
    /// told.
    pub async fn call<M: Method>(
        &self,
        params: M::Params,
    ) -> Result<M::Result, CallError<M::Error>> {
        self.call_with_timeout::<M>(params, self.shared.config.call_timeout)
            .await
    }

    /// Like [`call`](Self::call) with its own deadline (`None`: wait forever).
    pub async fn call_with_timeout<M: Method>(
        &self,
        params: M::Params,
        timeout: Option<Duration>,
    ) -> Result<M::Result, CallError<M::Error>> {
        // The closure owns the params rather than borrowing them, so the
        // future is `Send` whenever the params are (a borrow would need them
        // to be `Sync` too), as `Caller` promises.
        let params = move |dialect, out: &mut Vec<u8>| write_typed_params(&params, dialect, out);
        decode_reply(self.call_with(M::NAME, params, timeout).await)
    }

    /// Calls `method` with params serialized from `params` and reads the result
    /// as `R`, with no [`Method`] type: handy for one-off calls.
    pub async fn call_raw_typed<P, R>(&self, method: &str, params: P) -> Result<R, CallError>
    where
        P: serde::Serialize,
        R: serde::de::DeserializeOwned,
    {
        let params = move |dialect, out: &mut Vec<u8>| write_typed_params(&params, dialect, out);
        decode_reply(
            self.call_with(method, params, self.shared.config.call_timeout)
                .await,
        )
    }

    /// Calls `method` with raw params; the error of an error reply is raw JSON.
    ///
    /// The deadline covers the whole call: waiting for room in the outgoing
    /// queue (a peer that does not read) as well as waiting for the reply.
    pub async fn call_raw(
        &self,
        method: &str,
        params: RawParams,
        timeout: Option<Duration>,
    ) -> Result<RawJson, CallError<RawJson>> {
        let params = |dialect, out: &mut Vec<u8>| {
            write_raw_params(&params, dialect, out);
            Ok(())
        };
        self.call_with(method, params, timeout).await
    }

    /// Makes a call whose params `write_params` writes into the request.
    async fn call_with(
        &self,
        method: &str,
        write_params: impl FnOnce(Dialect, &mut Vec<u8>) -> serde_json::Result<()>,
        timeout: Option<Duration>,
    ) -> Result<RawJson, CallError<RawJson>> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let dialect = self.shared.outgoing_dialect();
        let request = self.serialize(|out| {
            write_request_head(&Id::from(id), method, dialect, out);
            write_params(dialect, out)
        })?;
        let span = tracing::debug_span!("rpc.call", method, id);
        let call = self.call_unbounded(id, request).instrument(span);
        match timeout {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or(Err(CallError::Timeout(limit))),
        }
    }

    async fn call_unbounded(
        &self,
        id: u64,
        request: Vec<u8>,
    ) -> Result<RawJson, CallError<RawJson>> {
        let shared = &self.shared;
        let closed = || CallError::ConnectionClosed(shared.close_reason());
        // Held until this call is over, however it ends. Trying first skips
        // making and polling an `Acquire` future when a slot is free, the
        // usual case; it cannot overtake waiting callers, as a freed permit
        // goes to the waiters before anyone can try for it.
        let _slot = match shared.call_slots.try_acquire() {
            Ok(slot) => slot,
            Err(TryAcquireError::NoPermits) => {
                shared.call_slots.acquire().await.map_err(|_| closed())?
            }
            Err(TryAcquireError::Closed) => return Err(closed()),
        };
        let reply = shared
            .pending
            .register(id)
            .map_err(CallError::ConnectionClosed)?;
        // From here on, leaving early (an error, a timeout, the caller
        // dropping us) must take the entry out again: the guard does that.
        let mut guard = PendingGuard {
            peer: self,
            id,
            sent: false,
            done: false,
        };
        shared.outbox.send(request).await.map_err(|_| closed())?;
        guard.sent = true;
        bump(&shared.counters.calls_sent);
        let outcome = reply.await;
        guard.done = true;
        pending::outcome(outcome, closed)
    }

    /// Sends notification `N`.
    pub async fn notify<N: NotificationMethod>(
        &self,
        params: N::Params,
    ) -> Result<(), NotifyError> {
        // Owned, not borrowed: see `call_with_timeout`.
        let params = move |dialect, out: &mut Vec<u8>| write_typed_params(&params, dialect, out);
        self.notify_with(N::NAME, params).await
    }

    /// Sends a notification with raw params.
    pub async fn notify_raw(&self, method: &str, params: RawParams) -> Result<(), NotifyError> {
        let params = |dialect, out: &mut Vec<u8>| {
            write_raw_params(&params, dialect, out);
            Ok(())
        };
        self.notify_with(method, params).await
    }

    /// Sends a notification whose params `write_params` writes into it.
    async fn notify_with(
        &self,
        method: &str,
        write_params: impl FnOnce(Dialect, &mut Vec<u8>) -> serde_json::Result<()>,
    ) -> Result<(), NotifyError> {
        let shared = &self.shared;
        if shared.shutdown.is_cancelled() {
            return Err(CallError::ConnectionClosed(shared.close_reason()));
        }
        let dialect = shared.outgoing_dialect();
        let bytes = self.serialize(|out| {
            write_notification_head(method, dialect, out);
            write_params(dialect, out)
        })?;
        shared
            .outbox
            .send(bytes)
            .await
            .map_err(|_| CallError::ConnectionClosed(shared.close_reason()))?;
        bump(&shared.counters.notifications_sent);
        Ok(())
    }

    /// Writes a request or notification with `write_head_and_params` and
    /// closes it, refusing one the peer could not take.
    fn serialize<E>(
        &self,
        write_head_and_params: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> Result<Vec<u8>, CallError<E>> {
        let mut out = self.shared.buffers.take();
        write_head_and_params(&mut out).map_err(CallError::Encode)?;
        out.push(b'}');
        self.check_outgoing(&out)?;
        Ok(out)
    }

    /// Refuses a message larger than the peer takes.
    fn check_outgoing<E>(&self, message: &[u8]) -> Result<(), CallError<E>> {
        if message.len() > self.shared.max_frame {
            return Err(CallError::TooLarge(FrameTooLarge {
                framing: "outgoing",
                limit: self.shared.max_frame,
                size: message.len(),
                head: bytes::Bytes::new(),
            }));
        }
        Ok(())
    }

    /// Gives up on our call `id`: takes its pending entry out and, if the
    /// request went out (`sent`) and the protocol has a cancel message, tells
    /// the peer.
    fn give_up(&self, id: u64, sent: bool) {
        let shared = &self.shared;
        if !shared.pending.remove(id) {
            return;
        }
        if let Some(cancel) = &shared.config.wire_cancel {
            if sent && !shared.shutdown.is_cancelled() {
                let id = Id::from(id);
                let params = Some(cancel.params_for(&id));
                shared.send_cancel(cancel.method(), &params);
            }
        }
    }

    /// Fires when the connection starts closing.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    /// A snapshot of this connection's counters.
    pub fn stats(&self) -> PeerStats {
        let shared = &self.shared;
        let mut stats = shared.counters.snapshot(shared.pending.len());
        stats.outgoing_backlog = shared.outbox.backlog() as u64;
        stats
    }

    /// Closes the connection: pending calls fail, running handlers are
    /// cancelled, queued messages are still written.
    pub fn close(&self) {
        self.shared.close(CloseReason::Local);
    }

    /// Half-closes the connection: stops sending. What is queued is still
    /// written, then the write side is shut down, so the peer reads end of
    /// input. Reading goes on: replies to our pending calls still arrive and
    /// the peer's messages are still handled, but nothing more is sent (a
    /// new call fails with [`CallError::ConnectionClosed`], a reply is
    /// dropped). The connection closes once the peer closes its side too;
    /// with an [`inactivity_probe`](PeerConfig::inactivity_probe), which
    /// cannot ask any more, also after twice its interval of silence.
    ///
    /// A client uses it to say "no more requests" and still collect its
    /// replies, as SPDK's tools do; a test server, to act out a peer that
    /// goes away without answering.
    pub fn close_write(&self) {
        self.shared.outbox.close();
    }

    /// Closes gracefully: stops reading, lets running handlers finish and
    /// their replies go out (within [`drain_timeout`](PeerConfig::drain_timeout)),
    /// then closes. Our own pending calls fail at once, as no reply can be
    /// read any more. Returns when the connection has closed.
    pub async fn shutdown(&self) -> CloseReason {
        self.shared.stop_reading.cancel();
        self.closed().await
    }

    /// True once the connection has begun closing.
    pub fn is_closed(&self) -> bool {
        self.shared.shutdown.is_cancelled()
    }

    /// Waits until every task of the connection has ended, and says why it closed.
    pub async fn closed(&self) -> CloseReason {
        self.shared.finished.cancelled().await;
        self.shared.close_reason()
    }
}

/// Takes a call's entry out of the pending map unless its reply arrived, and
/// tells the peer through the protocol's cancel notification, if it has one.
struct PendingGuard<'a> {
    peer: &'a PeerHandle,
    id: u64,
    /// The request went out, so the peer may be working on it.
    sent: bool,
    /// The reply (or the close) arrived: nothing to clean up.
    done: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.peer.give_up(self.id, self.sent);
        }
    }
}

/// Reads a raw reply as the method's result, or its error as the method's error.
fn decode_reply<R: serde::de::DeserializeOwned, E: serde::de::DeserializeOwned>(
    reply: Result<RawJson, CallError<RawJson>>,
) -> Result<R, CallError<E>> {
    let raw = reply.map_err(CallError::decode_rpc)?;
    raw.decode().map_err(|error| CallError::Decode {
        error,
        reply: raw.get().to_owned(),
    })
}
