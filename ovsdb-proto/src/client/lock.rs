//! Locks: `lock`, `steal`, `unlock`, and the `locked` and `stolen`
//! notifications as a stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use jsonrpc_core::Subscribe;

use crate::methods::{Lock as LockMethod, Locked, Steal, Stolen, Unlock};
use crate::params::LockParams;

use super::{ClientError, OvsdbClient};

/// What happened to a lock this connection asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    /// `locked`: the lock, waited for, is ours now.
    Locked,
    /// `stolen`: another client's `steal` took it; we wait behind the thief
    /// and get [`Locked`](LockEvent::Locked) again when it is released.
    Stolen,
}

/// A lock asked for with [`OvsdbClient::lock`] or [`OvsdbClient::steal`]:
/// whether it is held, and a stream of what happens to it.
///
/// ```no_run
/// use futures::StreamExt;
/// use ovsdb_proto::client::{LockEvent, OvsdbClient};
///
/// # async fn demo(client: OvsdbClient) -> Result<(), ovsdb_proto::client::ClientError> {
/// let mut lock = client.lock("leader").await?;
/// lock.acquired().await?; // waits for `locked` unless it was granted at once
/// client.transact("Test").assert_lock("leader").comment("as leader").execute().await?;
/// if let Some(Ok(LockEvent::Stolen)) = lock.next().await {
///     println!("someone stole it");
/// }
/// lock.unlock().await?;
/// # Ok(()) }
/// ```
pub struct Lock {
    client: OvsdbClient,
    name: String,
    held: bool,
    events: BoxStream<'static, Result<LockEvent, ClientError>>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("name", &self.name)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl OvsdbClient {
    /// `lock`: asks for the lock `name`. If another client holds it, the
    /// lock is granted later (a [`LockEvent::Locked`] on its stream).
    /// Asking again for a lock this connection asked for, without
    /// unlocking it, is a "syntax error".
    pub async fn lock(&self, name: &str) -> Result<Lock, ClientError> {
        self.ask_for_lock(name, false).await
    }

    /// `steal`: takes the lock `name` at once, from whoever holds it (they
    /// see [`LockEvent::Stolen`]).
    pub async fn steal(&self, name: &str) -> Result<Lock, ClientError> {
        self.ask_for_lock(name, true).await
    }

    async fn ask_for_lock(&self, name: &str, steal: bool) -> Result<Lock, ClientError> {
        let capacity = self.options().stream_capacity;
        let options = Subscribe::new()
            .key("/0", &name)
            .map_err(|e| ClientError::InvalidRequest(format!("lock name {name:?}: {e}")))?
            .capacity(capacity);
        // Subscribed before asking: `locked` may follow the reply at once.
        let locked = self
            .peer()
            .subscribe_with::<Locked>(options.clone())
            .map(|r| {
                r.map(|_| LockEvent::Locked)
                    .map_err(|source| ClientError::Notification {
                        method: "locked",
                        source,
                    })
            });
        let stolen = self.peer().subscribe_with::<Stolen>(options).map(|r| {
            r.map(|_| LockEvent::Stolen)
                .map_err(|source| ClientError::Notification {
                    method: "stolen",
                    source,
                })
        });
        let params = LockParams { lock: name.into() };
        let reply = if steal {
            self.call::<Steal>(params).await?
        } else {
            self.call::<LockMethod>(params).await?
        };
        Ok(Lock {
            client: self.clone(),
            name: name.to_owned(),
            held: reply.locked,
            events: futures::stream::select(locked, stolen).boxed(),
        })
    }
}

impl Lock {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this connection holds the lock, as of the last event read.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Waits until the lock is held (at once if it is). Fails if the
    /// connection closes first.
    pub async fn acquired(&mut self) -> Result<(), ClientError> {
        while !self.held {
            match self.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(ClientError::ConnectionClosed),
            }
        }
        Ok(())
    }

    /// `unlock`: gives the lock up, or stops waiting for it.
    pub async fn unlock(self) -> Result<(), ClientError> {
        let params = LockParams {
            lock: self.name.clone(),
        };
        self.client.call::<Unlock>(params).await.map(|_| ())
    }
}

impl Stream for Lock {
    type Item = Result<LockEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.events.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(event))) = &next {
            self.held = *event == LockEvent::Locked;
        }
        next
    }
}
