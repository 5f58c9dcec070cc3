//! The target's startup state: which methods may be called when.
//!
//! A target started with `--wait-for-rpc` stays in [`Phase::Startup`],
//! where only methods that configure it before its subsystems start may be
//! called, until `framework_start_init`; then it is [`Phase::Running`] and
//! those methods are refused. Each method is registered with the phases it
//! may be called in ([`When`]).

use jsonrpc_core::ErrorObject;
use tokio::sync::watch;

/// Where the target is in its startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for `framework_start_init` (`--wait-for-rpc`).
    Startup,
    /// Subsystems initialized.
    Running,
}

/// The phases a method may be called in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only before `framework_start_init`.
    Startup,
    /// Only after it (most methods).
    Runtime,
    /// In either.
    Always,
}

impl When {
    /// Whether a method registered so may be called in `phase`.
    pub fn allows(self, phase: Phase) -> bool {
        matches!(
            (self, phase),
            (When::Always, _) | (When::Startup, Phase::Startup) | (When::Runtime, Phase::Running)
        )
    }

    /// The -1 error SPDK sends for a method called in a phase it is not for.
    pub(crate) fn refusal(self) -> ErrorObject {
        let message = match self {
            When::Startup => {
                "Method may only be called before framework is initialized. Use --wait-for-rpc command line parameter and then issue this RPC before the framework_start_init RPC."
            }
            _ => "Method may only be called after framework is initialized using framework_start_init RPC.",
        };
        ErrorObject::new(INVALID_STATE, message)
    }
}

/// SPDK's code for a method called in the wrong phase.
pub const INVALID_STATE: i64 = -1;

/// A handle on the target's phase, shared by its handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Framework {
    phase: watch::Sender<Phase>,
}

impl Framework {
    /// A framework in `phase`.
    pub fn new(phase: Phase) -> Self {
        Framework {
            phase: watch::Sender::new(phase),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves to [`Phase::Running`]; false if it was running already.
    pub fn start(&self) -> bool {
        self.phase.send_if_modified(|phase| {
            let was_startup = *phase == Phase::Startup;
            *phase = Phase::Running;
            was_startup
        })
    }

    /// Waits until the framework is running.
    pub async fn running(&self) {
        let mut phase = self.phase.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = phase.wait_for(|p| *p == Phase::Running).await;
    }
}
