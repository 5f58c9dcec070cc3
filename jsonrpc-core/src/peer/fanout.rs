//! Sending one notification to many connections: serialized once, and
//! never waiting for a slow receiver.
//!
//! A server that pushes (OVSDB's `update2` after a commit, a pub/sub
//! `changed`) sends the same message to every subscriber. Waiting for room
//! in each one's outgoing queue would let one client that stops reading
//! hold up everyone else's; serializing it per connection would repeat the
//! same work. So a [`SharedNotification`] is serialized once per dialect and
//! shared by reference, and [`PeerHandle::try_send`] never waits: when a
//! connection's outgoing queue is full, its [`Overflow`] policy decides
//! (close it, or drop the message and mark it lagging until the application
//! has resynced it). The backlog shows in [`PeerStats`](super::PeerStats).
//!
//! Since nothing waits, a publisher that sends a burst in a tight loop can
//! outrun every connection's writer (on a current-thread runtime the
//! writers do not run at all until it yields): with [`Overflow::Close`]
//! even healthy subscribers would then be closed. A publisher yields to the
//! runtime between rounds (`tokio::task::yield_now().await`), or sizes
//! `outgoing_queue` for its largest burst.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::outbox::{Out, Refused};
use super::stats::bump;
use super::{CloseReason, PeerHandle};
use crate::codec::FrameTooLarge;
use crate::message::{write_notification_head, Dialect, RawJson};
use crate::method::{write_params_text, NotificationMethod};

/// What a connection does when a notification sent with
/// [`PeerHandle::try_send`] or [`PeerHandle::try_notify`] finds its
/// outgoing queue full: the peer is reading slower than we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Close the connection ([`CloseReason::Lagged`]); a client that
    /// reconnects and resynchronizes (as OVSDB clients do with
    /// `monitor_cond_since`) misses nothing. The default.
    #[default]
    Close,
    /// Drop the notification and mark the connection lagging: every later
    /// `try_send` is dropped too, so the peer never sees a stream with a
    /// hole in it, until the application has resynchronized it and calls
    /// [`PeerHandle::take_lagged`].
    Lag,
}

/// Why [`PeerHandle::try_send`] or [`PeerHandle::try_notify`] did not queue
/// a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError {
    /// The connection is closed (or was just closed by the
    /// [`Overflow::Close`] policy).
    #[error("the connection is closed: {0}")]
    Closed(CloseReason),
    /// The connection is lagging ([`Overflow::Lag`]): the notification was
    /// dropped.
    #[error("the peer is lagging behind; the notification was dropped")]
    Lagging,
    /// The params cannot be sent in the connection's dialect (JSON-RPC 1.0
    /// takes only arrays), or could not be serialized.
    #[error("the params cannot be sent: {0}")]
    Encode(Arc<str>),
    /// The message is larger than the connection's frame limit.
    #[error(transparent)]
    TooLarge(#[from] FrameTooLarge),
}

/// A notification serialized once, to send to any number of connections.
///
/// Its params are serialized when it is made; its message text is written
/// once for each dialect it is sent in, on first use, and shared by every
/// connection's outgoing queue from then on.
///
/// ```
/// use jsonrpc_core::{codec::LineCodec, Peer, SharedNotification};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (a, _b) = tokio::io::duplex(4096);
/// let (c, _d) = tokio::io::duplex(4096);
/// let subscribers = [Peer::new(LineCodec::new()).spawn(a), Peer::new(LineCodec::new()).spawn(c)];
/// let changed = SharedNotification::new("changed", &("key", 42)).unwrap();
/// for peer in &subscribers {
///     // Never waits; a subscriber that stopped reading is dealt with by
///     // its connection's `Overflow` policy.
///     peer.try_send(&changed).unwrap();
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct SharedNotification {
    method: Box<str>,
    params: RawJson,
    /// The message in 1.0 and in 2.0, written on first use.
    encoded: [OnceLock<Result<Bytes, Arc<str>>>; 2],
}

impl SharedNotification {
    /// Serializes `params` for notification `method`.
    pub fn new(method: &str, params: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        Ok(Self::raw(method, RawJson::from_value(params)?))
    }

    /// Serializes `params` for notification `N`.
    pub fn of<N: NotificationMethod>(params: &N::Params) -> Result<Self, serde_json::Error> {
        Self::new(N::NAME, params)
    }

    /// A notification whose params are JSON text already.
    pub fn raw(method: &str, params: RawJson) -> Self {
        SharedNotification {
            method: method.into(),
            params,
            encoded: Default::default(),
        }
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The whole message in `dialect`, written the first time it is asked for.
    fn encoded(&self, dialect: Dialect) -> Result<Bytes, TrySendError> {
        let slot = match dialect {
            Dialect::V1 => &self.encoded[0],
            Dialect::V2 => &self.encoded[1],
        };
        let encoded = slot.get_or_init(|| {
            let mut out = Vec::with_capacity(self.params.get().len() + 48);
            write_notification_head(&self.method, dialect, &mut out);
            write_params_text(self.params.as_bytes(), dialect, &mut out)
                .map_err(|e| Arc::from(e.to_string()))?;
            out.push(b'}');
            Ok(Bytes::from(out))
        });
        encoded.clone().map_err(TrySendError::Encode)
    }
}

impl PeerHandle {
    /// Queues `notification` for this connection without waiting, sharing
    /// its bytes with every other connection it is sent to.
    ///
    /// When the outgoing queue is full, the connection's
    /// [`Overflow`](super::PeerConfig::overflow) policy applies: the
    /// connection is closed, or the notification is dropped and the
    /// connection marked lagging (see [`take_lagged`](Self::take_lagged)).
    pub fn try_send(&self, notification: &SharedNotification) -> Result<(), TrySendError> {
        let bytes = notification.encoded(self.shared.outgoing_dialect())?;
        self.try_queue(Out::Shared(bytes))
    }

    /// Serializes notification `N` and queues it without waiting, as
    /// [`try_send`](Self::try_send) does.
    pub fn try_notify<N: NotificationMethod>(&self, params: N::Params) -> Result<(), TrySendError> {
        let dialect = self.shared.outgoing_dialect();
        let message = self
            .serialize::<std::convert::Infallible>(|out| {
                write_notification_head(N::NAME, dialect, out);
                crate::method::write_typed_params(&params, dialect, out)
            })
            .map_err(|e| match e {
                crate::CallError::TooLarge(e) => TrySendError::TooLarge(e),
                other => TrySendError::Encode(Arc::from(other.to_string())),
            })?;
        self.try_queue(Out::Owned(message))
    }

    /// How many notifications were dropped since the connection began
    /// lagging ([`Overflow::Lag`]); 0 if it is not lagging.
    pub fn lagged(&self) -> u64 {
        self.shared.lagged.load(Ordering::Acquire)
    }

    /// Ends the lagging state once the application has resynchronized the
    /// peer (sent it what it missed, or told it to start over), and says how
    /// many notifications were dropped. Later `try_send`s queue again.
    pub fn take_lagged(&self) -> u64 {
        self.shared.lagged.swap(0, Ordering::AcqRel)
    }

    fn try_queue(&self, message: Out) -> Result<(), TrySendError> {
        let shared = &self.shared;
        let size = message.as_bytes().len();
        if size > shared.max_frame {
            return Err(TrySendError::TooLarge(FrameTooLarge {
                framing: "outgoing",
                limit: shared.max_frame,
                size,
                head: bytes::Bytes::new(),
            }));
        }
        let dropped = || {
            bump(&shared.counters.notifications_dropped);
            shared.lagged.fetch_add(1, Ordering::AcqRel);
            Err(TrySendError::Lagging)
        };
        if shared.lagged.load(Ordering::Acquire) > 0 {
            return dropped();
        }
        match shared.outbox.try_send(message) {
            Ok(()) => {
                bump(&shared.counters.notifications_sent);
                Ok(())
            }
            Err(Refused::Closed) => Err(TrySendError::Closed(shared.close_reason())),
            Err(Refused::Full(_)) => match shared.config.overflow {
                Overflow::Lag => {
                    tracing::debug!(id = %self.id(), "outgoing queue full; the peer is lagging");
                    dropped()
                }
                Overflow::Close => {
                    let limit = shared.config.outgoing_queue;
                    tracing::warn!(id = %self.id(), limit, "outgoing queue full; closing a peer that fell behind");
                    shared.close(CloseReason::Lagged(limit));
                    Err(TrySendError::Closed(shared.close_reason()))
                }
            },
        }
    }
}
