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
//! lock, where a channel paid its own synchronization for every message on
//! both ends (measured: about a twentieth of the cost of serving a small
//! call).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Why a message was not queued; it is handed back.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The lane is at its limit.
    Full(Vec<u8>),
    /// The writer is gone: the connection has closed.
    Closed(Vec<u8>),
}

pub(crate) struct Outbox {
    lanes: Mutex<Lanes>,
    outgoing_limit: usize,
    control_limit: usize,
    /// Wakes the writer when a message is queued.
    queued: Notify,
    /// Wakes senders waiting for room when the writer takes messages.
    room: Notify,
}

#[derive(Default)]
struct Lanes {
    control: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
    closed: bool,
}

impl Outbox {
    pub(crate) fn new(outgoing_limit: usize, control_limit: usize) -> Self {
        Outbox {
            lanes: Mutex::default(),
            outgoing_limit: outgoing_limit.max(1),
            control_limit: control_limit.max(1),
            queued: Notify::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lanes> {
        // Each operation leaves the lanes whole (pushes and pops), so a
        // panic elsewhere while holding the lock cannot corrupt them.
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message` on the outgoing lane if there is room.
    pub(crate) fn try_send(&self, message: Vec<u8>) -> Result<(), Refused> {
        self.push(message, false)
    }

    /// Queues `message` on the control lane if there is room.
    pub(crate) fn try_send_control(&self, message: Vec<u8>) -> Result<(), Refused> {
        self.push(message, true)
    }

    fn push(&self, message: Vec<u8>, control: bool) -> Result<(), Refused> {
        {
            let mut lanes = self.lock();
            if lanes.closed {
                return Err(Refused::Closed(message));
            }
            let (lane, limit) = if control {
                (&mut lanes.control, self.control_limit)
            } else {
                (&mut lanes.outgoing, self.outgoing_limit)
            };
            if lane.len() >= limit {
                return Err(Refused::Full(message));
            }
            lane.push_back(message);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// Queues `message` on the outgoing lane, waiting for room; hands it
    /// back if the connection closes first.
    pub(crate) async fn send(&self, message: Vec<u8>) -> Result<(), Vec<u8>> {
        // Usually there is room: no waiter to register then.
        let mut message = match self.try_send(message) {
            Ok(()) => return Ok(()),
            Err(Refused::Closed(m)) => return Err(m),
            Err(Refused::Full(m)) => m,
        };
        loop {
            // Registered before trying, so room made in between still wakes us.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_send(message) {
                Ok(()) => return Ok(()),
                Err(Refused::Closed(m)) => return Err(m),
                Err(Refused::Full(m)) => message = m,
            }
            room.await;
        }
    }

    /// For the writer: moves queued messages into `batch`, the control lane's
    /// first, until their bytes reach `max_bytes` (at least one message),
    /// waiting while both lanes are empty. False once the outbox is closed
    /// and empty.
    pub(crate) async fn next_batch(&self, batch: &mut Vec<Vec<u8>>, max_bytes: usize) -> bool {
        if self.take(batch, max_bytes) {
            return true;
        }
        loop {
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
    pub(crate) fn take(&self, batch: &mut Vec<Vec<u8>>, max_bytes: usize) -> bool {
        let mut bytes = 0;
        let was_full;
        {
            let mut lanes = self.lock();
            was_full = lanes.outgoing.len() >= self.outgoing_limit;
            while bytes < max_bytes {
                let Some(message) = lanes
                    .control
                    .pop_front()
                    .or_else(|| lanes.outgoing.pop_front())
                else {
                    break;
                };
                bytes += message.len().max(1);
                batch.push(message);
            }
        }
        // Only senders of the outgoing lane ever wait, and only when it was full.
        if was_full && bytes > 0 {
            self.room.notify_waiters();
        }
        bytes > 0
    }

    /// The writer is gone: refuse new messages, and release senders waiting
    /// for room. What is still queued stays for [`take`](Self::take).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.room.notify_waiters();
        self.queued.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_control_lane_goes_first_and_each_lane_has_its_limit() {
        let outbox = Outbox::new(2, 1);
        outbox.try_send(b"1".to_vec()).unwrap();
        outbox.try_send(b"2".to_vec()).unwrap();
        assert!(matches!(outbox.try_send(b"3".to_vec()), Err(Refused::Full(m)) if m == b"3"));
        outbox.try_send_control(b"c".to_vec()).unwrap();
        assert!(matches!(
            outbox.try_send_control(b"d".to_vec()),
            Err(Refused::Full(_))
        ));
        let mut batch = Vec::new();
        assert!(outbox.take(&mut batch, 1 << 20));
        assert_eq!(batch, [b"c".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        assert!(!outbox.take(&mut batch, 1 << 20), "nothing is left");
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
        let outbox = Arc::new(Outbox::new(1, 1));
        outbox.try_send(b"a".to_vec()).unwrap();
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.send(b"b".to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
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
            Err(b"c".to_vec())
        );
        // Closed and drained: the writer is told there is nothing more.
        batch.clear();
        assert!(outbox.next_batch(&mut batch, 1 << 20).await);
        assert_eq!(batch, [b"b".to_vec()]);
        batch.clear();
        assert!(!outbox.next_batch(&mut batch, 1 << 20).await);
    }
}
