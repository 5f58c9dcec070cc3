//! Spare message buffers, handed back by the writer for the next message.
//!
//! Every outgoing message is written into a buffer of its own, which waits in
//! the outgoing queue until the writer frames it. When the peer sends many
//! requests at once, dozens of those buffers are alive together, which is
//! more than the allocator's per-thread cache keeps of one size, so each
//! would take its slow path twice (measured: about a tenth of the cost of
//! serving a small call). Small buffers go back into this pool instead.
//!
//! The pool is bounded in count and in the size of what it keeps, so an idle
//! connection holds at most `MAX_SPARE * MAX_SPARE_CAPACITY` bytes here.

use std::sync::Mutex;

/// How many spare buffers a connection keeps.
const MAX_SPARE: usize = 64;
/// Larger buffers are freed, not kept.
const MAX_SPARE_CAPACITY: usize = 1024;
/// The capacity of a new buffer: most messages fit.
const NEW_CAPACITY: usize = 128;

#[derive(Default)]
pub(crate) struct Buffers {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Buffers {
    /// An empty buffer: a spare one if there is one.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.lock()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(NEW_CAPACITY))
    }

    /// Keeps buffers for later messages, those that are small while the
    /// pool has room; a whole batch under one lock.
    pub(crate) fn give(&self, bufs: impl IntoIterator<Item = Vec<u8>>) {
        let mut spare = self.lock();
        for mut buf in bufs {
            if spare.len() >= MAX_SPARE {
                break;
            }
            if buf.capacity() <= MAX_SPARE_CAPACITY {
                buf.clear();
                spare.push(buf);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // Each operation is one push or pop: a panic cannot leave it half done.
        super::lock(&self.spare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_number_of_small_cleared_buffers() {
        let buffers = Buffers::default();
        let mut small = buffers.take();
        small.extend_from_slice(b"{}");
        let ptr = small.as_ptr();
        buffers.give([small]);
        let again = buffers.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the same buffer came back");

        buffers.give([Vec::with_capacity(MAX_SPARE_CAPACITY + 1)]);
        assert_eq!(buffers.lock().len(), 0, "a large buffer is not kept");

        for _ in 0..MAX_SPARE + 10 {
            buffers.give([Vec::with_capacity(16)]);
        }
        assert_eq!(buffers.lock().len(), MAX_SPARE);
    }
}
