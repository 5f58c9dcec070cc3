//! Slots: how many of something may run at once (the peer's requests, and
//! notification handlers that have to wait).
//!
//! A counter and a [`Notify`] rather than a semaphore: every request takes
//! and gives back a slot, and a semaphore's release takes a lock each time,
//! which showed in the cost of serving a small call. Here both are an atomic
//! operation when nobody waits. Only the reader ever waits for a slot, and
//! only briefly (see `serve::notify`), so waking one waiter per release is
//! all the fairness needed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

pub(crate) struct Slots {
    running: AtomicUsize,
    limit: usize,
    freed: Notify,
}

/// A slot held: given back when dropped, however the work holding it ends.
pub(crate) struct Slot(Arc<Slots>);

impl Slots {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Slots {
            running: AtomicUsize::new(0),
            limit: limit.max(1),
            freed: Notify::new(),
        })
    }

    /// A slot, if one is free now.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Slot> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }

    /// Waits for a free slot.
    pub(crate) async fn take(self: &Arc<Self>) -> Slot {
        loop {
            // Registered before looking, so a slot freed in between still
            // wakes this waiter.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = self.try_take() {
                return slot;
            }
            freed.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn at_most_the_limit_is_taken_and_a_freed_slot_wakes_the_waiter() {
        let slots = Slots::new(2);
        let a = slots.try_take().expect("first");
        let _b = slots.try_take().expect("second");
        assert!(slots.try_take().is_none(), "the limit holds");
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "no slot is free yet");
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken when a slot was freed")
            .unwrap();
        assert!(
            slots.try_take().is_none(),
            "the waiter holds the freed slot"
        );
        drop(c);
        assert!(slots.try_take().is_some());
    }
}
