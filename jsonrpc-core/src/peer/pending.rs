//! Our calls waiting for their replies, keyed by the id we gave them.
//!
//! Every entry leaves this map exactly once: when its reply arrives, when its
//! caller gives up (a timeout or a dropped future), or when the connection
//! closes. A reply whose entry is already gone is reported to the caller of
//! [`Pending::complete`] and counted as late, never kept.

use std::sync::Mutex;

use crate::RawJson;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use super::{CallError, CloseReason};

/// What a waiting call is handed: the reply's outcome (the result, or the
/// error value), or why the reply that came for it could not be used.
pub(crate) type Outcome = Result<Result<RawJson, RawJson>, String>;

#[derive(Default)]
pub(crate) struct Pending {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Keyed by ids this side hands out from a counter, never ones the peer
    /// chooses (a reply's id is only looked up, and an unknown one finds
    /// nothing), so the peer cannot aim collisions at one bucket: SipHash's
    /// flood resistance would buy nothing here, at a fifth of the map's cost.
    calls: FxHashMap<u64, oneshot::Sender<Outcome>>,
    closed: Option<CloseReason>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every operation is a single insert/remove), so poisoning is ignored.
        super::lock(&self.inner)
    }

    /// Registers call `id`, unless the connection has closed.
    pub(crate) fn register(&self, id: u64) -> Result<oneshot::Receiver<Outcome>, CloseReason> {
        let mut inner = self.lock();
        if let Some(reason) = &inner.closed {
            return Err(reason.clone());
        }
        let (tx, rx) = oneshot::channel();
        inner.calls.insert(id, tx);
        Ok(rx)
    }

    /// Takes out the caller waiting for `id`, if any, to hand it its reply.
    /// (The caller may give up in the meantime; the entry was ours to remove
    /// either way.)
    pub(crate) fn take(&self, id: u64) -> Option<oneshot::Sender<Outcome>> {
        self.lock().calls.remove(&id)
    }

    /// Forgets call `id`; true if it was still waiting.
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.lock().calls.remove(&id).is_some()
    }

    /// Fails every waiting call (their receivers see the sender dropped) and
    /// refuses new ones with `reason`.
    pub(crate) fn close(&self, reason: CloseReason) {
        let calls = {
            let mut inner = self.lock();
            inner.closed.get_or_insert(reason);
            std::mem::take(&mut inner.calls)
        };
        drop(calls);
    }

    /// Why new calls are refused, once they are.
    pub(crate) fn closed_reason(&self) -> Option<CloseReason> {
        self.lock().closed.clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().calls.len()
    }
}

/// What a pending reply channel gave, as a call's raw outcome.
pub(crate) fn outcome(
    received: Result<Outcome, oneshot::error::RecvError>,
    closed: impl FnOnce() -> CallError<RawJson>,
) -> Result<RawJson, CallError<RawJson>> {
    match received {
        Ok(Ok(Ok(result))) => Ok(result),
        Ok(Ok(Err(error))) => Err(CallError::Rpc(error)),
        Ok(Err(reason)) => Err(CallError::InvalidReply(reason)),
        Err(_) => Err(closed()),
    }
}
