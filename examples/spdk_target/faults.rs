//! Faults injected at run time by `mock_inject_fault`, for the tests of
//! software that drives SPDK: what a slow, lossy or dying target does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpc_core::{ErrorObject, RequestContext, Router};
use serde::Deserialize;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Delay,
    DropReply,
    OutOfOrder,
    HalfClose,
}

/// The params of `mock_inject_fault`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectParams {
    pub fault: FaultKind,
    /// Only calls of this method; any method but `mock_*` if absent.
    pub method: Option<String>,
    /// How many calls it applies to (default 1; out_of_order: the size of
    /// the group whose replies are reversed, default 2).
    pub count: Option<u32>,
    /// delay: how long; out_of_order: the longest a held reply waits for
    /// its group to fill (default 1000).
    pub delay_ms: Option<u64>,
}

struct Fault {
    kind: FaultKind,
    method: Option<String>,
    remaining: u32,
    delay: Duration,
    /// out_of_order: the replies held so far, first call first.
    held: Vec<oneshot::Sender<()>>,
}

#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Fault>>>);

/// What one call's reply goes through.
pub enum Action {
    None,
    Delay(Duration),
    Drop,
    HalfClose,
    Hold(oneshot::Receiver<()>, Duration),
    /// The last of an out_of_order group: reply now, then free the held
    /// ones, newest first.
    Release(Vec<oneshot::Sender<()>>),
}

/// The gap between the released replies of an out_of_order group, long
/// enough for each to be written before the next completes.
const RELEASE_GAP: Duration = Duration::from_millis(25);

impl Faults {
    pub fn inject(&self, p: InjectParams) {
        let count = p.count.unwrap_or(match p.fault {
            FaultKind::OutOfOrder => 2,
            _ => 1,
        });
        let default_ms = if p.fault == FaultKind::OutOfOrder {
            1000
        } else {
            0
        };
        if let Ok(mut faults) = self.0.lock() {
            faults.push(Fault {
                kind: p.fault,
                method: p.method,
                remaining: count,
                delay: Duration::from_millis(p.delay_ms.unwrap_or(default_ms)),
                held: Vec::new(),
            });
        }
    }

    pub fn clear(&self) {
        if let Ok(mut faults) = self.0.lock() {
            // Dropping the held senders frees the held replies.
            faults.clear();
        }
    }

    /// The fault a call of `method` gets, used up as it is taken.
    pub fn take(&self, method: &str) -> Action {
        let Ok(mut faults) = self.0.lock() else {
            return Action::None;
        };
        let Some(at) = faults
            .iter()
            .position(|f| f.remaining > 0 && f.method.as_deref().is_none_or(|m| m == method))
        else {
            return Action::None;
        };
        let fault = &mut faults[at];
        fault.remaining -= 1;
        let action = match fault.kind {
            FaultKind::Delay => Action::Delay(fault.delay),
            FaultKind::DropReply => Action::Drop,
            FaultKind::HalfClose => Action::HalfClose,
            FaultKind::OutOfOrder if fault.remaining == 0 => {
                Action::Release(std::mem::take(&mut fault.held))
            }
            FaultKind::OutOfOrder => {
                let (tx, rx) = oneshot::channel();
                fault.held.push(tx);
                Action::Hold(rx, fault.delay)
            }
        };
        if fault.remaining == 0 {
            faults.remove(at);
        }
        action
    }
}

impl Action {
    /// Waits as the fault says before the reply goes out. A reply that must
    /// never come waits for its connection to close.
    pub async fn apply(self, ctx: &RequestContext) {
        match self {
            Action::None => {}
            Action::Delay(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = ctx.cancelled() => {}
                }
            }
            Action::Drop => ctx.cancelled().await,
            Action::HalfClose => {
                // The target stops writing but goes on reading; the reply
                // has nowhere to go and is dropped.
                if let Some(peer) = ctx.peer() {
                    peer.close_write();
                }
            }
            Action::Hold(rx, longest) => {
                tokio::select! {
                    _ = rx => {}
                    _ = tokio::time::sleep(longest) => {}
                    _ = ctx.cancelled() => {}
                }
            }
            Action::Release(held) => {
                tokio::spawn(async move {
                    for tx in held.into_iter().rev() {
                        tokio::time::sleep(RELEASE_GAP).await;
                        let _ = tx.send(());
                    }
                });
            }
        }
    }
}

/// Registers `mock_inject_fault` and `mock_clear_faults` on the finished
/// router, past `rpc_get_methods`' list: a client comparing the method list
/// with a real target's sees the same one.
pub fn register(router: &mut Router, faults: &Faults) {
    let f = faults.clone();
    router.method_fn("mock_inject_fault", move |p: InjectParams, _| {
        f.inject(p);
        async move { Ok::<bool, ErrorObject>(true) }
    });
    let f = faults.clone();
    router.method_fn("mock_clear_faults", move |(): (), _| {
        f.clear();
        async move { Ok::<bool, ErrorObject>(true) }
    });
}
