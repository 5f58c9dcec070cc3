//! Per-connection settings: dialect, limits, timeouts and the on-wire cancel.
//!
//! Every queue a connection has is bounded by a setting here; the defaults are
//! listed on each setter.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::message::{to_raw, DialectMode, Id, RawJson, RawParams};
use crate::Profile;

/// Settings for one connection.
///
/// ```
/// use std::time::Duration;
/// use jsonrpc_core::{DialectMode, PeerConfig, WireCancel};
/// let config = PeerConfig::default()
///     .dialect(DialectMode::V2)
///     .max_concurrent_requests(16)
///     .call_timeout(Some(Duration::from_secs(30)))
///     .wire_cancel(Some(WireCancel::lsp()));
/// assert_eq!(config.get_max_concurrent_requests(), 16);
/// ```
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub(crate) profile: Profile,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) max_notification_tasks: usize,
    pub(crate) notification_task_wait: Duration,
    pub(crate) outgoing_queue: usize,
    pub(crate) control_queue: usize,
    pub(crate) max_batch: usize,
    pub(crate) max_outgoing_frame: Option<usize>,
    pub(crate) max_pending_calls: usize,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) drain_timeout: Duration,
    pub(crate) cancel_grace: Duration,
    pub(crate) wire_cancel: Option<WireCancel>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) inactivity_probe: Option<InactivityProbe>,
    pub(crate) priority_methods: Vec<Cow<'static, str>>,
    pub(crate) read_frame_timeout: Option<Duration>,
    pub(crate) first_input_timeout: Option<Duration>,
    pub(crate) inline_handlers: bool,
    pub(crate) overflow: super::Overflow,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            profile: Profile::default(),
            max_concurrent_requests: 256,
            max_notification_tasks: 1024,
            notification_task_wait: Duration::from_secs(1),
            outgoing_queue: 1024,
            control_queue: 4096,
            max_batch: 1024,
            max_outgoing_frame: None,
            max_pending_calls: 4096,
            call_timeout: None,
            drain_timeout: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(1),
            wire_cancel: None,
            write_timeout: Some(Duration::from_secs(30)),
            inactivity_probe: None,
            priority_methods: Vec::new(),
            read_frame_timeout: None,
            first_input_timeout: None,
            inline_handlers: true,
            overflow: super::Overflow::Close,
        }
    }
}

impl PeerConfig {
    /// Which dialects are accepted, and which our calls use: a shorthand for
    /// setting the profile's [`dialect`](Profile::dialect).
    pub fn dialect(mut self, dialect: DialectMode) -> Self {
        self.profile = self.profile.dialect(dialect);
        self
    }

    /// The profile's dialect.
    pub fn get_dialect(&self) -> DialectMode {
        self.profile.get_dialect()
    }
}

builder_fields! { PeerConfig {
    /// The protocol's wire rules (see [`Profile`]): dialect, what a null id
    /// means, what invalid input gets, how the framework's errors are
    /// worded. Default: [`Profile::json_rpc_2`].
    profile / get_profile: Profile;
    /// How many of the peer's requests may be running at once (a batch
    /// counts as one). Every request is started as it is read, so that
    /// requests start in arrival order; one more is answered at once with
    /// -32000 "Server overloaded", so reading (and with it, replies to our
    /// own calls) never waits for handlers. Default: 256.
    max_concurrent_requests / get_max_concurrent_requests: usize;
    /// How many notification handlers (and priority requests) may be
    /// waiting at once. A notification handler runs on the reader until it
    /// first has to wait, and goes on in a task of its own from there. A
    /// notification cannot be refused with an error; at this many, reading
    /// waits up to `notification_task_wait` for one to finish, then closes
    /// the connection
    /// ([`CloseReason::NotificationBacklog`](crate::CloseReason::NotificationBacklog)).
    /// Default: 1024.
    max_notification_tasks / get_max_notification_tasks: usize;
    /// How long reading waits for a notification handler to finish when
    /// `max_notification_tasks` are waiting. Long enough for slow handlers
    /// to catch up in a burst; short, because a handler may be waiting for a
    /// reply that only the waiting reader could read, and then the
    /// connection is better closed than wedged. Default: 1 s.
    notification_task_wait / get_notification_task_wait: Duration;
    /// How many outgoing messages may wait for the writer. Calls and replies
    /// wait for room. Default: 1024.
    outgoing_queue / get_outgoing_queue: usize;
    /// How many messages the connection itself may queue ahead of calls and
    /// replies: the replies the reader sends at once (overload and protocol
    /// errors, priority methods) and on-wire cancels. The reader never waits
    /// for room (that could deadlock two peers), so when this fills — the
    /// peer sends requests far faster than it reads replies — the connection
    /// is closed with [`CloseReason::Overwhelmed`](crate::CloseReason::Overwhelmed);
    /// a cancel that finds no room is just not sent. Default: 4096.
    control_queue / get_control_queue: usize;
    /// The most entries an incoming batch may have; a larger one is an
    /// invalid request. Default: 1024.
    max_batch / get_max_batch: usize;
    /// The largest message we send: a call, notification, batch or reply
    /// over it is refused here, before it is written
    /// ([`CallError::TooLarge`](crate::CallError::TooLarge)), rather than
    /// breaking a peer that takes less than it sends (an SPDK target reads
    /// requests of up to 256 KiB and answers with up to 32 MiB).
    /// Default: none, which means the framing's own `max_frame`.
    max_outgoing_frame / get_max_outgoing_frame: Option<usize>;
    /// How many of our calls may wait for replies at once. A call past it
    /// waits (within its deadline) for an earlier one to finish, so a flood of
    /// callers cannot grow the pending map, or the peer's queue, without
    /// bound. Default: 4096.
    max_pending_calls / get_max_pending_calls: usize;
    /// The deadline for each of our calls, unless the call sets its own.
    /// Default: none.
    call_timeout / get_call_timeout: Option<Duration>;
    /// After the peer closes its sending side, how long running handlers may
    /// take to finish and have their replies written before the connection is
    /// closed and they are cancelled. Default: 30 s.
    drain_timeout / get_drain_timeout: Duration;
    /// Once the connection has closed, how long handlers still running have
    /// to notice their cancellation (their token fires at the close) and
    /// finish; past it they are dropped, so that nothing of the connection
    /// runs on after [`PeerHandle::closed`](crate::PeerHandle::closed)
    /// returns. Default: 1 s.
    cancel_grace / get_cancel_grace: Duration;
    /// The protocol's cancel notification, sent when one of our calls is
    /// dropped or times out, and honoured when the peer sends it. Default: none.
    wire_cancel / get_wire_cancel: Option<WireCancel>;
    /// How long one write may make no progress before the peer is taken to
    /// have stopped reading and the connection is closed
    /// ([`CloseReason::WriteStalled`](crate::CloseReason::WriteStalled)). With
    /// the bounded outgoing queue, this is what keeps a peer that never reads
    /// from holding memory or callers forever. Default: 30 s.
    write_timeout / get_write_timeout: Option<Duration>;
    /// Probe the peer after this much silence; close if it does not answer.
    /// Default: none.
    inactivity_probe / get_inactivity_probe: Option<InactivityProbe>;
    /// Methods whose requests skip `max_concurrent_requests`, and whose
    /// replies go out ahead of queued messages: cheap calls that must be
    /// answered even when every slot is busy, such as OVSDB's `echo` probe.
    /// Their handlers should answer without waiting; one that waits counts
    /// against `max_notification_tasks` (past it, it is answered -32000).
    /// Default: none.
    priority_methods / get_priority_methods: Vec<Cow<'static, str>>;
    /// How long a message may take to arrive once it has begun (counted
    /// from when the previous one finished): past it the connection closes
    /// with [`CloseReason::FrameTimeout`](crate::CloseReason::FrameTimeout).
    /// Bounds a slowloris that drips bytes forever, which the inactivity
    /// probe cannot, since every byte is activity. Set it well above the time
    /// the largest legitimate message takes on the slowest link (OVSDB
    /// initial syncs run to hundreds of MB). Default: none.
    read_frame_timeout / get_read_frame_timeout: Option<Duration>;
    /// How long a new connection may stay silent before the peer's first
    /// byte: past it the connection closes with
    /// [`CloseReason::Silent`](crate::CloseReason::Silent). Servers set it so
    /// that connections nobody uses (a client that vanished right after
    /// connecting, a port scan) do not hold a place for good; a server whose
    /// clients wait for it to speak first leaves it off. Default: none
    /// (`jsonrpc_transport::Server` sets 30 s).
    first_input_timeout / get_first_input_timeout: Option<Duration>;
    /// Poll each request's handler first on the connection's reader, and
    /// give it a task of its own only if it has to wait. Most handlers
    /// answer without waiting, and a task per request is then the largest
    /// cost of serving it; and what a handler does before it first waits
    /// is then ordered with the connection's other messages (see
    /// [`Peer`](crate::Peer)). The price: that work delays reading the next
    /// message of that connection (never other connections, nor replies
    /// already queued). Turn it off when request handlers compute for long
    /// before they first wait and a multi-threaded runtime should spread one
    /// connection's requests over its threads: every request's future then
    /// runs in a task of its own, and only the call of the handler (for a
    /// closure, the code before its `async` block; decoding typed params)
    /// stays on the reader, in order. Notification handlers are always
    /// polled first on the reader. Default: `true`.
    inline_handlers / get_inline_handlers: bool;
    /// What [`PeerHandle::try_send`](crate::PeerHandle::try_send) and
    /// `try_notify` do when the outgoing queue is full: close the
    /// connection, or drop and mark it lagging. Default:
    /// [`Overflow::Close`](crate::Overflow::Close).
    overflow / get_overflow: super::Overflow;
}}

/// A request sent after a stretch of silence from the peer, to learn whether
/// it is still there (OVSDB's `echo`). Any reply, even an error, counts as an
/// answer; no reply within `idle` closes the connection.
///
/// ```
/// use std::time::Duration;
/// use jsonrpc_core::InactivityProbe;
/// let probe = InactivityProbe::new(Duration::from_secs(5), "echo");
/// assert_eq!(probe.method(), "echo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InactivityProbe {
    idle: Duration,
    method: Cow<'static, str>,
    params: Option<String>,
}

impl InactivityProbe {
    /// Calls `method` with no params after `idle` without input.
    pub fn new(idle: Duration, method: impl Into<Cow<'static, str>>) -> Self {
        InactivityProbe {
            idle,
            method: method.into(),
            params: None,
        }
    }

    /// Sends these params with the probe (JSON text; OVSDB sends `[]`).
    pub fn params(mut self, params: impl serde::Serialize) -> Self {
        self.params = serde_json::to_string(&params).ok();
        self
    }

    /// The silence that triggers a probe, and the time it has to be answered.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The method called.
    pub fn method(&self) -> &str {
        &self.method
    }

    pub(crate) fn raw_params(&self) -> RawParams {
        self.params.as_ref().and_then(|p| RawJson::parse(p).ok())
    }
}

/// A protocol's cancel notification: which method, and where the id goes.
///
/// ```
/// use jsonrpc_core::{Id, WireCancel};
/// let lsp = WireCancel::lsp();
/// assert_eq!(lsp.method(), "$/cancelRequest");
/// assert_eq!(lsp.params_for(&Id::from(3u64)).get(), r#"{"id":3}"#);
/// let ovsdb = WireCancel::positional("cancel");
/// assert_eq!(ovsdb.params_for(&Id::from(3u64)).get(), "[3]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireCancel {
    method: Cow<'static, str>,
    key: Option<Cow<'static, str>>,
}

impl WireCancel {
    /// LSP's `$/cancelRequest` with params `{"id": id}`.
    pub fn lsp() -> Self {
        Self::named("$/cancelRequest", "id")
    }

    /// A notification `method` with params `{key: id}`.
    pub fn named(method: impl Into<Cow<'static, str>>, key: impl Into<Cow<'static, str>>) -> Self {
        WireCancel {
            method: method.into(),
            key: Some(key.into()),
        }
    }

    /// A notification `method` with params `[id]` (OVSDB's `cancel`).
    pub fn positional(method: impl Into<Cow<'static, str>>) -> Self {
        WireCancel {
            method: method.into(),
            key: None,
        }
    }

    /// The notification's method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The params that cancel the call with `id`.
    pub fn params_for(&self, id: &Id) -> RawJson {
        match &self.key {
            Some(key) => {
                let mut map = serde_json::Map::new();
                map.insert(
                    key.to_string(),
                    serde_json::to_value(id).unwrap_or_default(),
                );
                to_raw(&map)
            }
            None => to_raw(&[id]),
        }
    }

    /// The id a received cancel notification names, if its params hold one.
    pub fn id_in(&self, params: &RawParams) -> Option<Id> {
        let text = params.as_ref()?.get();
        match &self.key {
            Some(key) => {
                let map: std::collections::HashMap<String, &RawValue> =
                    serde_json::from_str(text).ok()?;
                Id::from_raw(map.get(key.as_ref())?).ok()
            }
            None => {
                let list: Vec<&RawValue> = serde_json::from_str(text).ok()?;
                Id::from_raw(list.first()?).ok()
            }
        }
    }
}
