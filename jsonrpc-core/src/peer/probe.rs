//! The inactivity probe: after a stretch of silence, ask the peer something.
//!
//! Any input resets the clock, so a busy connection is never probed. The probe
//! is a normal call and its reply is read by the same reader, ahead of any
//! handler work, so a peer whose handlers are all busy still answers in time.

use super::{CloseReason, PeerHandle};
use crate::InactivityProbe;

pub(crate) async fn run(probe: InactivityProbe, peer: PeerHandle) {
    let shared = peer.shared.clone();
    let idle = probe.idle();
    loop {
        let quiet = shared.idle_for();
        // Half-closed on our side (`close_write`), nothing can be asked:
        // silence for as long as a probe and its answer would take means
        // the peer is gone, as an unanswered probe would.
        let half_closed = shared.outbox.is_closed();
        let limit = if half_closed {
            idle.saturating_mul(2)
        } else {
            idle
        };
        if quiet < limit {
            tokio::select! {
                _ = tokio::time::sleep(limit - quiet) => continue,
                _ = shared.shutdown.cancelled() => return,
            }
        }
        if half_closed {
            tracing::warn!(after = ?limit, "half-closed peer silent; closing");
            shared.close(CloseReason::ProbeUnanswered(idle));
            return;
        }
        tracing::debug!(method = probe.method(), "peer silent; probing");
        // Any reply, even an error, shows the peer is there.
        match peer
            .call_raw(probe.method(), probe.raw_params(), Some(idle))
            .await
        {
            Ok(_) | Err(crate::CallError::Rpc(_)) => {}
            Err(crate::CallError::Timeout(_)) => {
                tracing::warn!(after = ?idle, "inactivity probe unanswered; closing");
                shared.close(CloseReason::ProbeUnanswered(idle));
                return;
            }
            Err(_) => return,
        }
    }
}
