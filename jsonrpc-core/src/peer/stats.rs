//! Counters a connection keeps, and the snapshot users read.
//!
//! Each counter is a relaxed atomic bumped on the path that already does the
//! work, so keeping them costs a few uncontended increments per message.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) calls_sent: AtomicU64,
    pub(crate) notifications_sent: AtomicU64,
    pub(crate) notifications_dropped: AtomicU64,
    pub(crate) cancels_sent: AtomicU64,
    pub(crate) cancels_received: AtomicU64,
    pub(crate) replies_received: AtomicU64,
    pub(crate) late_replies: AtomicU64,
    pub(crate) requests_received: AtomicU64,
    pub(crate) requests_in_flight: AtomicU64,
    pub(crate) requests_handled: AtomicU64,
    pub(crate) requests_rejected: AtomicU64,
    pub(crate) notifications_received: AtomicU64,
    pub(crate) invalid_received: AtomicU64,
    pub(crate) oversized_frames: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// A snapshot of one connection's counters ([`PeerHandle::stats`](crate::PeerHandle::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Our calls sent.
    pub calls_sent: u64,
    /// Our calls waiting for a reply right now.
    pub calls_pending: u64,
    /// Our notifications sent.
    pub notifications_sent: u64,
    /// Our notifications dropped because the peer was lagging
    /// ([`Overflow::Lag`](crate::Overflow::Lag)).
    pub notifications_dropped: u64,
    /// Our messages waiting for the writer right now: how far behind the
    /// peer's reading is (at most `outgoing_queue`).
    pub outgoing_backlog: u64,
    /// On-wire cancels sent for our dropped or timed-out calls (not counted
    /// in `notifications_sent`).
    pub cancels_sent: u64,
    /// On-wire cancels received from the peer (also counted in
    /// `notifications_received`).
    pub cancels_received: u64,
    /// Replies received that matched a waiting call.
    pub replies_received: u64,
    /// Replies received for no waiting call (the call timed out or was
    /// cancelled, or the id was never ours); dropped.
    pub late_replies: u64,
    /// Requests received from the peer.
    pub requests_received: u64,
    /// The peer's requests being handled right now.
    pub requests_in_flight: u64,
    /// The peer's requests answered.
    pub requests_handled: u64,
    /// The peer's requests refused because the queue was full (-32000).
    pub requests_rejected: u64,
    /// Notifications received from the peer.
    pub notifications_received: u64,
    /// Messages received that were not valid JSON-RPC.
    pub invalid_received: u64,
    /// Frames dropped for being over the size limit.
    pub oversized_frames: u64,
    /// Bytes read from the connection.
    pub bytes_in: u64,
    /// Bytes written to the connection.
    pub bytes_out: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self, calls_pending: usize) -> PeerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PeerStats {
            calls_sent: get(&self.calls_sent),
            calls_pending: calls_pending as u64,
            notifications_sent: get(&self.notifications_sent),
            notifications_dropped: get(&self.notifications_dropped),
            outgoing_backlog: 0,
            cancels_sent: get(&self.cancels_sent),
            cancels_received: get(&self.cancels_received),
            replies_received: get(&self.replies_received),
            late_replies: get(&self.late_replies),
            requests_received: get(&self.requests_received),
            requests_in_flight: get(&self.requests_in_flight),
            requests_handled: get(&self.requests_handled),
            requests_rejected: get(&self.requests_rejected),
            notifications_received: get(&self.notifications_received),
            invalid_received: get(&self.invalid_received),
            oversized_frames: get(&self.oversized_frames),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
        }
    }
}
