//! Outgoing batches: several calls and notifications sent as one JSON array.
//!
//! A [`Batch`] is filled first (each call serialized as it is added) and sent
//! whole; its replies come back as [`BatchReplies`], read one call at a time
//! by the typed ticket ([`BatchCall`]) its `call` returned. The replies are
//! matched by id like any other, so a peer that answers the entries in any
//! order, or in separate messages, is read just as well.

use std::marker::PhantomData;
use std::time::Duration;

use super::pending::outcome;
use super::{bump, decode_reply, CallError, PeerHandle};
use crate::message::{write_notification_head, write_raw_params, write_request_head, Dialect};
use crate::method::write_typed_params;
use crate::{Id, Method, NotificationMethod, NotifyError, RawJson, RawParams};

/// Calls and notifications to send to the peer as one batch.
///
/// Made by [`PeerHandle::batch`]. Nothing is sent until [`send`](Batch::send).
///
/// ```no_run
/// # use jsonrpc_core::{ErrorObject, Method, PeerHandle};
/// # struct Add;
/// # impl Method for Add {
/// #     const NAME: &'static str = "add";
/// #     type Params = (i64, i64);
/// #     type Result = i64;
/// #     type Error = ErrorObject;
/// # }
/// # async fn demo(peer: PeerHandle) -> Result<(), jsonrpc_core::CallError> {
/// let mut batch = peer.batch();
/// let three = batch.call::<Add>((1, 2))?;
/// let seven = batch.call::<Add>((3, 4))?;
/// let mut replies = batch.send().await?;
/// assert_eq!(replies.get(three)?, 3);
/// assert_eq!(replies.get(seven)?, 7);
/// # Ok(()) }
/// ```
pub struct Batch<'a> {
    peer: &'a PeerHandle,
    dialect: Dialect,
    /// `[` and the entries so far, comma-separated.
    body: Vec<u8>,
    /// The ids of the calls, in the order they were added.
    ids: Vec<u64>,
    entries: usize,
}

/// The ticket for one call in a [`Batch`]: hand it to [`BatchReplies::get`]
/// for that call's typed result.
#[must_use = "a call's result is read with its ticket"]
pub struct BatchCall<M> {
    index: usize,
    method: PhantomData<fn() -> M>,
}

/// The ticket for a call added by name ([`Batch::call_raw`]): hand it to
/// [`BatchReplies::get_raw`] for that call's result as JSON.
#[must_use = "a call's result is read with its ticket"]
pub struct RawBatchCall {
    index: usize,
}

/// The replies to a sent [`Batch`]'s calls.
pub struct BatchReplies {
    /// Each call's outcome, until [`get`](Self::get) takes it.
    outcomes: Vec<Option<Result<RawJson, CallError<RawJson>>>>,
}

impl PeerHandle {
    /// Starts a batch of calls and notifications to send together.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            peer: self,
            dialect: self.shared.outgoing_dialect(),
            body: vec![b'['],
            ids: Vec::new(),
            entries: 0,
        }
    }
}

impl<'a> Batch<'a> {
    /// Adds a call to method `M`; its params are serialized now, so an error
    /// in them shows here.
    pub fn call<M: Method>(
        &mut self,
        params: M::Params,
    ) -> Result<BatchCall<M>, CallError<M::Error>> {
        let index = self.push_call(M::NAME, |out, dialect| {
            write_typed_params(&params, dialect, out)
        })?;
        Ok(BatchCall {
            index,
            method: PhantomData,
        })
    }

    /// Adds a call by name with params that are JSON already, for methods
    /// known only at run time (replaying a configuration file, a proxy).
    pub fn call_raw(&mut self, method: &str, params: RawParams) -> RawBatchCall {
        let written = self.push_call::<RawJson>(method, |out, dialect| {
            write_raw_params(&params, dialect, out);
            Ok(())
        });
        // Params that are JSON already cannot fail to be written.
        RawBatchCall {
            index: written.unwrap_or(usize::MAX),
        }
    }

    /// Appends a request with a fresh id; its index among the calls.
    fn push_call<E>(
        &mut self,
        method: &str,
        params: impl FnOnce(&mut Vec<u8>, Dialect) -> serde_json::Result<()>,
    ) -> Result<usize, CallError<E>> {
        let id = self
            .peer
            .shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dialect = self.dialect;
        self.push(|out| {
            write_request_head(&Id::from(id), method, dialect, out);
            params(out, dialect)
        })?;
        self.ids.push(id);
        Ok(self.ids.len() - 1)
    }

    /// Adds notification `N`.
    pub fn notify<N: NotificationMethod>(&mut self, params: N::Params) -> Result<(), NotifyError> {
        let dialect = self.dialect;
        self.push(|out| {
            write_notification_head(N::NAME, dialect, out);
            write_typed_params(&params, dialect, out)
        })
    }

    /// How many calls and notifications the batch holds.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Appends one message, taking it back whole if it cannot be written.
    fn push<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> Result<(), CallError<E>> {
        let start = self.body.len();
        if self.entries > 0 {
            self.body.push(b',');
        }
        match write(&mut self.body) {
            Ok(()) => {
                self.body.push(b'}');
                self.entries += 1;
                Ok(())
            }
            Err(e) => {
                self.body.truncate(start);
                Err(CallError::Encode(e))
            }
        }
    }

    /// Sends the batch and waits for the replies to all its calls, within
    /// the connection's [`call_timeout`](crate::PeerConfig::call_timeout).
    ///
    /// A batch of notifications only returns once it is handed to the
    /// writer; an empty batch sends nothing. Dropping the future gives up on
    /// every call of the batch at once, as for a single call.
    pub async fn send(self) -> Result<BatchReplies, CallError> {
        let timeout = self.peer.shared.config.call_timeout;
        self.send_with_timeout(timeout).await
    }

    /// Like [`send`](Self::send) with its own deadline (`None`: wait forever).
    pub async fn send_with_timeout(
        self,
        timeout: Option<Duration>,
    ) -> Result<BatchReplies, CallError> {
        match timeout {
            None => self.send_unbounded().await,
            Some(limit) => tokio::time::timeout(limit, self.send_unbounded())
                .await
                .unwrap_or(Err(CallError::Timeout(limit))),
        }
    }

    async fn send_unbounded(mut self) -> Result<BatchReplies, CallError> {
        if self.entries == 0 {
            return Ok(BatchReplies {
                outcomes: Vec::new(),
            });
        }
        self.body.push(b']');
        let peer = self.peer;
        let shared = &peer.shared;
        let closed = || CallError::ConnectionClosed(shared.close_reason());
        let raw_closed = || CallError::<RawJson>::ConnectionClosed(shared.close_reason());
        peer.check_outgoing(&self.body)?;
        // Every call of the batch holds a pending slot, as if made alone;
        // a batch larger than the limit takes all the slots rather than
        // waiting for more than there are.
        let limit = shared.config.max_pending_calls.max(1);
        let wanted = u32::try_from(self.ids.len().min(limit)).unwrap_or(u32::MAX);
        let _slots = match wanted {
            0 => None,
            n => Some(
                shared
                    .call_slots
                    .acquire_many(n)
                    .await
                    .map_err(|_| closed())?,
            ),
        };
        let mut guard = Registered {
            peer,
            ids: Vec::with_capacity(self.ids.len()),
            sent: false,
        };
        let mut replies = Vec::with_capacity(self.ids.len());
        for &id in &self.ids {
            replies.push(
                shared
                    .pending
                    .register(id)
                    .map_err(CallError::ConnectionClosed)?,
            );
            guard.ids.push(id);
        }
        shared
            .outbox
            .send(std::mem::take(&mut self.body))
            .await
            .map_err(|_| closed())?;
        guard.sent = true;
        for _ in &self.ids {
            bump(&shared.counters.calls_sent);
        }
        let mut outcomes = Vec::with_capacity(replies.len());
        for (reply, id) in replies.into_iter().zip(&self.ids) {
            outcomes.push(Some(outcome(reply.await, raw_closed)));
            // Answered: nothing left to take back for this one.
            guard.ids.retain(|pending| pending != id);
        }
        Ok(BatchReplies { outcomes })
    }
}

/// Takes back the pending entries of a batch given up on before all its
/// replies came (an error, a timeout, the caller dropping the future).
struct Registered<'a> {
    peer: &'a PeerHandle,
    ids: Vec<u64>,
    sent: bool,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        for &id in &self.ids {
            self.peer.give_up(id, self.sent);
        }
    }
}

impl BatchReplies {
    /// The typed reply to the call `call` stands for.
    pub fn get<M: Method>(&mut self, call: BatchCall<M>) -> Result<M::Result, CallError<M::Error>> {
        decode_reply(self.take(call.index))
    }

    /// The reply to a call added by name, as JSON.
    pub fn get_raw(&mut self, call: RawBatchCall) -> Result<RawJson, CallError<RawJson>> {
        self.take(call.index)
    }

    fn take(&mut self, index: usize) -> Result<RawJson, CallError<RawJson>> {
        match self.outcomes.get_mut(index).and_then(Option::take) {
            Some(outcome) => outcome,
            // A ticket is used once, so only a ticket from another batch
            // can miss.
            None => Err(CallError::InvalidReply(format!(
                "no call {index} in this batch of {}",
                self.outcomes.len()
            ))),
        }
    }

    /// How many calls the batch had.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// True when the batch had no calls.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }
}
