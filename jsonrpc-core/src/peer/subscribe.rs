//! Subscriptions: a typed stream of one notification method the peer sends.
//!
//! An OVSDB client reads `update2` for one monitor id; a language client
//! watches `textDocument/publishDiagnostics`. [`PeerHandle::subscribe`] gives
//! such a stream, optionally keyed by one value in the params. It is fed by
//! the reader as each notification arrives, before the next message is
//! read, so it is ordered with replies: an `update` that came before a
//! `transact` reply is on the stream by the time that call returns.
//!
//! Each stream is bounded. The reader never waits for a subscriber: when a
//! stream is full, notifications for it are dropped and counted, and the
//! stream yields [`SubscriptionError::Lagged`] with the count in their
//! place, then goes on with what came after. A stream ends when the
//! connection closes.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{lock, PeerHandle, Shared};
use crate::message::{Notification, RawJson, RawParams};
use crate::method::{decode_params, NotificationMethod};

/// How to subscribe: which notifications (all of a method, or those whose
/// params hold a given value at a given place) and how many may wait.
///
/// ```
/// use jsonrpc_core::Subscribe;
/// // OVSDB's `update2` params are `[monitor id, updates]`: take the
/// // updates of monitor "ports" only.
/// let ports = Subscribe::new().key("/0", &"ports").unwrap().capacity(256);
/// ```
#[derive(Debug, Clone)]
pub struct Subscribe {
    key: Option<(String, Value)>,
    capacity: usize,
}

impl Default for Subscribe {
    fn default() -> Self {
        Subscribe {
            key: None,
            capacity: 1024,
        }
    }
}

impl Subscribe {
    /// Every notification of the method, up to 1024 waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only notifications whose params hold `value` at `pointer` (a JSON
    /// pointer, RFC 6901: `/0` is the first positional param, `/uri` a
    /// named one, `/textDocument/uri` one inside it). Values are compared
    /// as JSON, so `1` matches `1.0` only if both are written alike.
    pub fn key(
        mut self,
        pointer: impl Into<String>,
        value: &impl serde::Serialize,
    ) -> Result<Self, serde_json::Error> {
        self.key = Some((pointer.into(), serde_json::to_value(value)?));
        Ok(self)
    }

    /// How many notifications may wait to be read; past it they are
    /// dropped and reported as [`SubscriptionError::Lagged`]. Default: 1024.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }
}

/// What a subscription yields instead of a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// This many notifications were dropped here because the stream was
    /// full: the subscriber reads slower than the peer sends.
    #[error("{0} notifications were dropped: the subscriber fell behind")]
    Lagged(u64),
    /// A notification's params did not fit the subscription's type.
    #[error("a notification's params do not fit: {error}; params were {params}")]
    Decode {
        /// Why they did not fit.
        error: String,
        /// The params as received.
        params: String,
    },
}

/// What the reader puts on a stream.
enum Event {
    Params(RawParams),
    /// Notifications were dropped here; the count grows until it is read.
    Gap(Arc<AtomicU64>),
}

/// Set in a gap's count once the subscriber has read it.
const GAP_READ: u64 = 1 << 63;

/// One subscription, as the reader sees it.
struct Entry {
    id: u64,
    key: Option<(String, Value)>,
    /// Its queue has one place more than the subscription's capacity, kept
    /// free for a gap report.
    tx: mpsc::Sender<Event>,
    /// The gap report on the queue, not read yet: later notifications are
    /// dropped and counted in it, so none arrives out of place.
    gap: Option<Arc<AtomicU64>>,
}

/// Every subscription of a connection, by method.
#[derive(Default)]
pub(crate) struct Subscriptions {
    by_method: std::sync::Mutex<FxHashMap<Box<str>, Vec<Entry>>>,
    /// How many there are: the reader skips the lock when none.
    count: AtomicU64,
    next_id: AtomicU64,
}

impl Subscriptions {
    fn add(
        &self,
        method: &str,
        key: Option<(String, Value)>,
        capacity: usize,
    ) -> (u64, mpsc::Receiver<Event>) {
        // One place more, for a gap report.
        let (tx, rx) = mpsc::channel(capacity.max(1) + 1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            id,
            key,
            tx,
            gap: None,
        };
        let mut by_method = lock(&self.by_method);
        by_method.entry(method.into()).or_default().push(entry);
        // Counted under the lock, so it never disagrees with the map.
        self.count.fetch_add(1, Ordering::AcqRel);
        (id, rx)
    }

    fn remove(&self, method: &str, id: u64) {
        let mut by_method = lock(&self.by_method);
        if let Some(entries) = by_method.get_mut(method) {
            let before = entries.len();
            entries.retain(|e| e.id != id);
            let removed = before - entries.len();
            if entries.is_empty() {
                by_method.remove(method);
            }
            self.count.fetch_sub(removed as u64, Ordering::AcqRel);
        }
    }

    /// Hands `n` to every subscription it matches, without waiting; true
    /// if there was at least one.
    pub(crate) fn deliver(&self, n: &Notification) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut by_method = lock(&self.by_method);
        let Some(entries) = by_method.get_mut(n.method.as_str()) else {
            return false;
        };
        // Each pointer is looked up once per notification, however many
        // subscriptions key on it (an OVSDB client's monitors all use `/0`).
        let mut found: Vec<(String, Option<Value>)> = Vec::new();
        for entry in entries.iter_mut() {
            if let Some((pointer, expected)) = &entry.key {
                let index = match found.iter().position(|(p, _)| p == pointer) {
                    Some(index) => index,
                    None => {
                        found.push((pointer.clone(), value_at(&n.params, pointer)));
                        found.len() - 1
                    }
                };
                if found[index].1.as_ref() != Some(expected) {
                    continue;
                }
            }
            entry.offer(&n.params);
        }
        true
    }

    /// Ends every stream (the connection has closed): what is queued is
    /// still read, then the streams end.
    pub(crate) fn close(&self) {
        let all = {
            let mut by_method = lock(&self.by_method);
            self.count.store(0, Ordering::Release);
            std::mem::take(&mut *by_method)
        };
        drop(all);
    }
}

impl Entry {
    /// Queues `params`, or counts them in a gap report when the stream is
    /// full. Dropped notifications are always the newest, so the report
    /// stands exactly where they would have been.
    fn offer(&mut self, params: &RawParams) {
        if let Some(gap) = &self.gap {
            let counted = gap.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n & GAP_READ == 0).then_some(n + 1)
            });
            if counted.is_ok() {
                return;
            }
            // The subscriber has read the report, and everything before it.
            self.gap = None;
        }
        if self.tx.capacity() > 1 {
            let _ = self.tx.try_send(Event::Params(params.clone()));
        } else {
            // The last place, kept for this.
            let gap = Arc::new(AtomicU64::new(1));
            if self.tx.try_send(Event::Gap(gap.clone())).is_ok() {
                self.gap = Some(gap);
            }
        }
    }
}

/// The value in `params` at `pointer`, if there is one. Walks only the
/// members on the way (as raw JSON, no tree of the whole params), so a
/// keyed subscription on multi-megabyte updates stays cheap.
fn value_at(params: &RawParams, pointer: &str) -> Option<Value> {
    let mut at: &str = params.as_ref()?.get();
    if !pointer.is_empty() {
        let path = pointer.strip_prefix('/')?;
        for token in path.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            at = match at.trim_start().as_bytes().first() {
                Some(b'[') => {
                    let index: usize = token.parse().ok()?;
                    let items: Vec<&RawValue> = serde_json::from_str(at).ok()?;
                    items.get(index)?.get()
                }
                Some(b'{') => {
                    let members: FxHashMap<String, &RawValue> = serde_json::from_str(at).ok()?;
                    members.get(&token)?.get()
                }
                _ => return None,
            };
        }
    }
    serde_json::from_str(at).ok()
}

/// A typed stream of one notification method from the peer (see
/// [`PeerHandle::subscribe`]). Dropping it unsubscribes.
pub struct Subscription<P> {
    rx: mpsc::Receiver<Event>,
    peer: PeerHandle,
    method: Box<str>,
    id: u64,
    _params: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for Subscription<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("method", &self.method)
            .field("connection", &self.peer.id())
            .finish_non_exhaustive()
    }
}

impl<P: DeserializeOwned> Stream for Subscription<P> {
    type Item = Result<P, SubscriptionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // What is queued already is taken at once: `poll_recv` alone may
        // answer `Pending` when the task has used up its scheduling budget,
        // and a notification that arrived before a call's reply must be
        // there when the call has returned, however the stream is polled.
        let event = match self.rx.try_recv() {
            Ok(event) => Some(event),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            Err(mpsc::error::TryRecvError::Empty) => futures::ready!(self.rx.poll_recv(cx)),
        };
        Poll::Ready(match event {
            None => None,
            Some(Event::Gap(gap)) => {
                let missed = gap.fetch_or(GAP_READ, Ordering::AcqRel) & !GAP_READ;
                Some(Err(SubscriptionError::Lagged(missed)))
            }
            Some(Event::Params(params)) => {
                Some(
                    decode_params::<P>(&params).map_err(|e| SubscriptionError::Decode {
                        error: e.message,
                        params: params.as_ref().map_or("null", RawJson::get).to_owned(),
                    }),
                )
            }
        })
    }
}

impl<P> Drop for Subscription<P> {
    fn drop(&mut self) {
        self.peer.shared.subscriptions.remove(&self.method, self.id);
    }
}

impl PeerHandle {
    /// A typed stream of every notification `N` the peer sends from now on
    /// (see [`Subscription`]; [`subscribe_with`](Self::subscribe_with) to
    /// take only some of them).
    ///
    /// The stream is fed as each notification is read, ahead of the
    /// messages after it: a notification the peer sent before the reply to
    /// one of our calls is on the stream when that call returns. The
    /// router's handler for `N`, if there is one, runs as well.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use jsonrpc_core::{codec::LineCodec, ErrorObject, NotificationMethod, Peer, RequestContext, Router};
    ///
    /// struct Changed;
    /// impl NotificationMethod for Changed {
    ///     const NAME: &'static str = "changed";
    ///     type Params = (String, u64);
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // A server whose `put` tells the caller what changed, then replies.
    /// let mut router = Router::new();
    /// router.method_fn("put", |(key, value): (String, u64), ctx: RequestContext| async move {
    ///     let peer = ctx.peer().unwrap();
    ///     peer.notify::<Changed>((key, value)).await.map_err(ErrorObject::internal_error)?;
    ///     Ok::<_, ErrorObject>(true)
    /// });
    /// let (a, b) = tokio::io::duplex(4096);
    /// let _server = Peer::new(LineCodec::new()).router(router).spawn(a);
    /// let client = Peer::new(LineCodec::new()).spawn(b);
    ///
    /// let mut changes = client.subscribe::<Changed>();
    /// let _: bool = client.call_raw_typed("put", ("k", 7)).await.unwrap();
    /// // The change came before the reply, so it is there already.
    /// let change = changes.next().await.unwrap().unwrap();
    /// assert_eq!(change, ("k".to_owned(), 7));
    /// # }
    /// ```
    pub fn subscribe<N: NotificationMethod>(&self) -> Subscription<N::Params> {
        self.subscribe_with::<N>(Subscribe::new())
    }

    /// A typed stream of the notifications `N` that `options` select.
    pub fn subscribe_with<N: NotificationMethod>(
        &self,
        options: Subscribe,
    ) -> Subscription<N::Params> {
        let (id, rx) = self
            .shared
            .subscriptions
            .add(N::NAME, options.key, options.capacity);
        if self.shared.shutdown.is_cancelled() {
            // Closed already: the stream ends at once.
            self.shared.subscriptions.remove(N::NAME, id);
        }
        Subscription {
            rx,
            peer: self.clone(),
            method: N::NAME.into(),
            id,
            _params: PhantomData,
        }
    }
}

impl Shared {
    /// Hands a notification to its subscribers; true if it had any.
    pub(crate) fn deliver(&self, n: &Notification) -> bool {
        self.subscriptions.deliver(n)
    }
}
