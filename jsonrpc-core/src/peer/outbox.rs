//! The queue between everything that sends and the writer: two bounded
//! lanes of encoded messages.
//!
//! The outgoing lane carries calls, notifications and replies, first in,
//! first out; a sender waits for room when it is full. The control lane
//! carries what the connection sends on its own (error replies from the
//! reader, priority replies, …) and goes out first; nobody waits on it (see
//! [`Shared::queue_control`](super::Shared)).
//!
//! One lock over both lanes rather than two channels: each message then
//! costs a push under the lock, and the writer takes a whole batch under one
//! lock and gives its places back at once, where a channel paid its own
//! synchronization for every message on both ends (measured: about a
//! twentieth of the cost of serving a small call).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{Notify, Semaphore, TryAcquireError};

/// One encoded message waiting for the writer: written for this connection
/// alone, or shared with other connections (a notification sent to many,
/// serialized once).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Out {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Out {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Out::Owned(v) => v,
            Out::Shared(b) => b,
        }
    }

    /// The buffer, if it is this connection's to reuse.
    pub(crate) fn into_owned(self) -> Option<Vec<u8>> {
        match self {
            Out::Owned(v) => Some(v),
            Out::Shared(_) => None,
        }
    }
}

impl From<Vec<u8>> for Out {
    fn from(v: Vec<u8>) -> Self {
        Out::Owned(v)
    }
}

/// Why a message was not queued.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The lane is at its limit.
    Full(Out),
    /// The writer is gone: the connection has closed (the message is dropped).
    Closed,
}

pub(crate) struct Outbox {
    lanes: Mutex<Lanes>,
    control_limit: usize,
    outgoing_limit: usize,
    /// One permit per free place on the outgoing lane. tokio's semaphore
    /// hands freed places to waiting senders first come, first served, and
    /// a sender that does not wait cannot take one from under them.
    room: Semaphore,
    /// Wakes the writer when a message is queued.
    queued: Notify,
}

#[derive(Default)]
struct Lanes {
    control: VecDeque<Out>,
    outgoing: VecDeque<Out>,
    closed: bool,
}

impl Outbox {
    pub(crate) fn new(outgoing_limit: usize, control_limit: usize) -> Self {
        Outbox {
            lanes: Mutex::default(),
            control_limit: control_limit.max(1),
            outgoing_limit: outgoing_limit.clamp(1, Semaphore::MAX_PERMITS),
            room: Semaphore::new(outgoing_limit.clamp(1, Semaphore::MAX_PERMITS)),
            queued: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lanes> {
        // Each operation leaves the lanes whole (pushes and pops), so a
        // panic elsewhere while holding the lock cannot corrupt them.
        super::lock(&self.lanes)
    }

    /// Queues `message` on the outgoing lane if there is room.
    pub(crate) fn try_send(&self, message: impl Into<Out>) -> Result<(), Refused> {
        let message = message.into();
        match self.room.try_acquire() {
            Ok(place) => {
                place.forget();
                self.push_outgoing(message).map_err(|_| Refused::Closed)
            }
            Err(TryAcquireError::NoPermits) => Err(Refused::Full(message)),
            Err(TryAcquireError::Closed) => Err(Refused::Closed),
        }
    }

    /// Queues `message` on the outgoing lane, waiting for room; hands it
    /// back if the connection closes first.
    pub(crate) async fn send(&self, message: impl Into<Out>) -> Result<(), Out> {
        let message = message.into();
        match self.room.acquire().await {
            Ok(place) => {
                place.forget();
                self.push_outgoing(message)
            }
            Err(_) => Err(message),
        }
    }

    /// Queues a message whose place is taken (the writer gives it back).
    fn push_outgoing(&self, message: Out) -> Result<(), Out> {
        {
            let mut lanes = self.lock();
            if lanes.closed {
                return Err(message);
            }
            lanes.outgoing.push_back(message);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// Queues `message` on the control lane if there is room.
    pub(crate) fn try_send_control(&self, message: impl Into<Out>) -> Result<(), Refused> {
        let message = message.into();
        {
            let mut lanes = self.lock();
            if lanes.closed {
                return Err(Refused::Closed);
            }
            if lanes.control.len() >= self.control_limit {
                return Err(Refused::Full(message));
            }
            lanes.control.push_back(message);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// For the writer: moves queued messages into `batch`, the control lane's
    /// first, until their bytes reach `max_bytes` (at least one message),
    /// waiting while both lanes are empty. False once the outbox is closed
    /// and empty.
    pub(crate) async fn next_batch(&self, batch: &mut Vec<Out>, max_bytes: usize) -> bool {
        if self.take(batch, max_bytes) {
            return true;
        }
        loop {
            // Registered before looking, so a message queued in between
            // still wakes the writer.
            let queued = self.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            if self.take(batch, max_bytes) {
                return true;
            }
            if self.lock().closed {
                return false;
            }
            queued.await;
        }
    }

    /// Moves what is queued into `batch` without waiting (see
    /// [`next_batch`](Self::next_batch)); true if anything was moved.
    pub(crate) fn take(&self, batch: &mut Vec<Out>, max_bytes: usize) -> bool {
        let mut bytes = 0;
        let mut freed = 0;
        {
            let mut lanes = self.lock();
            while bytes < max_bytes {
                let message = match lanes.control.pop_front() {
                    Some(message) => message,
                    None => match lanes.outgoing.pop_front() {
                        Some(message) => {
                            freed += 1;
                            message
                        }
                        None => break,
                    },
                };
                bytes += message.as_bytes().len().max(1);
                batch.push(message);
            }
        }
        // Once per batch, not per message: the semaphore takes a lock here.
        if freed > 0 {
            self.room.add_permits(freed);
        }
        bytes > 0
    }

    /// How many messages wait on the outgoing lane (or are being queued).
    pub(crate) fn backlog(&self) -> usize {
        self.outgoing_limit
            .saturating_sub(self.room.available_permits())
    }

    /// True once nothing more can be queued.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The writer is gone: refuse new messages, and release senders waiting
    /// for room. What is still queued stays for [`take`](Self::take).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.room.close();
        self.queued.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::task::JoinHandle;

    use super::*;

    #[test]
    fn the_control_lane_goes_first_and_each_lane_has_its_limit() {
        let outbox = Outbox::new(2, 1);
        outbox.try_send(b"1".to_vec()).unwrap();
        outbox.try_send(b"2".to_vec()).unwrap();
        assert!(
            matches!(outbox.try_send(b"3".to_vec()), Err(Refused::Full(m)) if m.as_bytes() == b"3")
        );
        outbox.try_send_control(b"c".to_vec()).unwrap();
        assert!(matches!(
            outbox.try_send_control(b"d".to_vec()),
            Err(Refused::Full(_))
        ));
        let mut batch = Vec::new();
        assert!(outbox.take(&mut batch, 1 << 20));
        assert_eq!(
            batch,
            [
                b"c".to_vec().into(),
                b"1".to_vec().into(),
                Out::from(b"2".to_vec())
            ]
        );
        assert!(!outbox.take(&mut batch, 1 << 20), "nothing is left");
    }

    /// An outgoing lane of one place, taken by `a`, and a sender waiting to
    /// queue `b`.
    async fn full_with_a_waiter() -> (Arc<Outbox>, JoinHandle<Result<(), Out>>) {
        let outbox = Arc::new(Outbox::new(1, 1));
        outbox.try_send(b"a".to_vec()).unwrap();
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.send(b"b".to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        (outbox, waiting)
    }

    #[tokio::test]
    async fn freed_room_goes_to_the_sender_that_waited_first() {
        let (outbox, waiting) = full_with_a_waiter().await;
        let mut batch = Vec::new();
        assert!(outbox.take(&mut batch, 1 << 20));
        // The freed place is the waiter's: a sender that does not wait
        // cannot take it.
        assert!(matches!(
            outbox.try_send(b"c".to_vec()),
            Err(Refused::Full(_))
        ));
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(sent.expect("the waiter got the place").unwrap().is_ok());
        batch.clear();
        assert!(outbox.take(&mut batch, 1 << 20));
        assert_eq!(batch, [Out::from(b"b".to_vec())]);
    }

    #[test]
    fn a_batch_stops_at_its_byte_budget() {
        let outbox = Outbox::new(10, 10);
        for _ in 0..5 {
            outbox.try_send(vec![b'x'; 100]).unwrap();
        }
        let mut batch = Vec::new();
        outbox.take(&mut batch, 250);
        assert_eq!(batch.len(), 3, "stops once 250 bytes are reached");
    }

    #[tokio::test]
    async fn a_sender_waits_for_room_and_close_releases_it() {
        let (outbox, waiting) = full_with_a_waiter().await;
        assert!(!waiting.is_finished(), "no room yet");
        let mut batch = Vec::new();
        assert!(outbox.next_batch(&mut batch, 1 << 20).await);
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(sent.expect("room wakes the sender").unwrap().is_ok());

        let blocked = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.send(b"c".to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.close();
        let refused = tokio::time::timeout(Duration::from_secs(5), blocked).await;
        assert_eq!(
            refused.expect("close wakes it").unwrap(),
            Err(Out::from(b"c".to_vec()))
        );
        // Closed and drained: the writer is told there is nothing more.
        batch.clear();
        assert!(outbox.next_batch(&mut batch, 1 << 20).await);
        assert_eq!(batch, [Out::from(b"b".to_vec())]);
        batch.clear();
        assert!(!outbox.next_batch(&mut batch, 1 << 20).await);
    }
}
