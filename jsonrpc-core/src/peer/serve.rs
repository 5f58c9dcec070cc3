//! Serving the peer's calls: the dispatcher, handler runs, batches, notifications.
//!
//! Requests wait in a bounded queue for one of `max_concurrent_requests`
//! slots, then run: on the reader until they first wait, and as their own
//! tasks from there (or from the start, without `inline_handlers`). A batch takes one slot and runs its
//! entries concurrently with each other; its replies go out as one array in
//! the order of the requests. Notifications run one at a time, in order.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Context;

use futures::future::join_all;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::stats::{bump, Counters};
use super::{PeerHandle, Shared};
use crate::message::{Notification, Request, Response};
use crate::{ErrorObject, RequestContext, Router};

/// Work for the dispatcher.
pub(crate) enum Work {
    Request(Request),
    /// A batch's entries in order: a request to run, or an answer already known.
    Batch(Vec<BatchEntry>),
}

/// Work waiting for a slot, and since when.
pub(crate) struct Queued {
    pub(crate) work: Work,
    pub(crate) since: tokio::time::Instant,
}

pub(crate) enum BatchEntry {
    Run(Request),
    Answer(Response),
}

/// Takes queued requests, waits for a free slot, and starts each.
///
/// The reader starts a request itself when a slot is free and nothing is
/// queued ahead of it; this task only serves the ones that had to wait, in
/// the order they came.
pub(crate) async fn dispatch(
    mut queue: mpsc::Receiver<Queued>,
    router: Arc<Router>,
    peer: PeerHandle,
    tracker: TaskTracker,
) {
    let shared = peer.shared.clone();
    // Made once: a `cancelled()` future per loop pass would register a new
    // waiter on the token each time.
    let shutdown = shared.shutdown.clone().cancelled_owned();
    tokio::pin!(shutdown);
    let wait_limit = shared.config.queue_timeout;
    loop {
        let Queued { work, since } = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            w = queue.recv() => match w { Some(w) => w, None => break },
        };
        // Requests must not wait for a slot forever: when the handlers that
        // hold the slots are themselves waiting on requests queued at the
        // peer, only giving up on the queue breaks the cycle.
        let slot = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            s = shared.slots.clone().acquire_owned() => match s { Ok(s) => Some(s), Err(_) => break },
            _ = tokio::time::sleep_until(since + wait_limit) => None,
        };
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        match slot {
            Some(slot) => start(work, slot, &router, &peer, &tracker),
            None => {
                tracing::debug!(waited = ?wait_limit, "no free slot in time; refusing");
                shared.admitted.fetch_sub(1, Ordering::AcqRel);
                refuse(work, &shared, &router);
            }
        }
    }
}

/// Answers every request in `work` with the overload error, at once.
pub(crate) fn refuse(work: Work, shared: &Shared, router: &Router) {
    let overloaded = |req: &Request| {
        bump(&shared.counters.requests_rejected);
        let error = router.format_error(&ErrorObject::overloaded(), req.dialect);
        Response::err(req.id.clone(), error, req.dialect)
    };
    let reply = match work {
        Work::Request(req) => Reply::One(overloaded(&req)),
        Work::Batch(entries) => Reply::Batch(
            entries
                .into_iter()
                .map(|entry| match entry {
                    BatchEntry::Run(req) => overloaded(&req),
                    BatchEntry::Answer(resp) => resp,
                })
                .collect(),
        ),
    };
    reply_now(shared, reply);
}

/// Runs admitted work in its own task, holding `slot` until it is done.
pub(crate) fn start(
    work: Work,
    slot: OwnedSemaphorePermit,
    router: &Arc<Router>,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let router = router.clone();
    let peer = peer.clone();
    let inline = peer.shared.config.inline_handlers;
    let run = async move {
        match work {
            Work::Request(req) => {
                let resp = run_request(&router, &peer, req).await;
                send_reply(&peer.shared, Reply::One(resp)).await;
            }
            Work::Batch(entries) => run_batch(&router, &peer, entries).await,
        }
        drop(slot);
        // Give back the place this work took when it was admitted.
        peer.shared.admitted.fetch_sub(1, Ordering::AcqRel);
    };
    run_here_or_spawn(run, inline, tracker);
}

/// Runs `work` to its first wait right here (when `inline`), and gives it a
/// task only if it is not done by then (see [`PeerConfig::inline_handlers`]).
///
/// The first poll gets a waker that does nothing. That loses no wake-up:
/// a future that returns `Pending` is handed to a new task, which polls it
/// again at once, and that poll registers the task's real waker and sees
/// anything that became ready in between.
///
/// [`PeerConfig::inline_handlers`]: super::PeerConfig::inline_handlers
fn run_here_or_spawn(
    work: impl Future<Output = ()> + Send + 'static,
    inline: bool,
    tracker: &TaskTracker,
) {
    if !inline {
        tracker.spawn(work);
        return;
    }
    let mut work = Box::pin(work);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    if work.as_mut().poll(&mut cx).is_pending() {
        tracker.spawn(work);
    }
}

/// Runs a priority request at once, with no slot, and sends its reply on
/// the control lane, ahead of queued calls and replies.
pub(crate) fn start_priority(
    req: Request,
    router: &Arc<Router>,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let router = router.clone();
    let peer = peer.clone();
    let inline = peer.shared.config.inline_handlers;
    let run = async move {
        let resp = run_request(&router, &peer, req).await;
        reply_now(&peer.shared, Reply::One(resp));
    };
    run_here_or_spawn(run, inline, tracker);
}

/// Runs one request through the router.
///
/// Its cancellation token is the connection's own unless the protocol has an
/// on-wire cancel, which needs a token per request: most connections thus
/// spend nothing on tokens per request.
async fn run_request(router: &Router, peer: &PeerHandle, req: Request) -> Response {
    let shared = &peer.shared;
    let counters: &Counters = &shared.counters;
    let track_cancel = shared.config.wire_cancel.is_some();
    let token = if track_cancel {
        let token = shared.shutdown.child_token();
        lock(&shared.in_flight).insert(req.id.clone(), token.clone());
        token
    } else {
        shared.shutdown.clone()
    };
    let id = track_cancel.then(|| req.id.clone());
    let span = tracing::debug_span!("rpc.request", method = %req.method, id = %req.id);
    let ctx = RequestContext::new(Some(req.id.clone()), req.dialect, token, peer.clone());
    counters.requests_in_flight.fetch_add(1, Ordering::Relaxed);
    let resp = router.handle(req, ctx).instrument(span).await;
    counters.requests_in_flight.fetch_sub(1, Ordering::Relaxed);
    bump(&counters.requests_handled);
    if let Some(id) = id {
        lock(&shared.in_flight).remove(&id);
    }
    resp
}

async fn run_batch(router: &Router, peer: &PeerHandle, entries: Vec<BatchEntry>) {
    let replies = join_all(entries.into_iter().map(|entry| async move {
        match entry {
            BatchEntry::Run(req) => run_request(router, peer, req).await,
            BatchEntry::Answer(resp) => resp,
        }
    }))
    .await;
    if !replies.is_empty() {
        send_reply(&peer.shared, Reply::Batch(replies)).await;
    }
}

/// Handles notifications one at a time, in the order they arrived.
pub(crate) async fn notifications(
    mut queue: mpsc::Receiver<Notification>,
    router: Arc<Router>,
    peer: PeerHandle,
) {
    let shared = peer.shared.clone();
    let shutdown = shared.shutdown.clone().cancelled_owned();
    tokio::pin!(shutdown);
    loop {
        let n = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            n = queue.recv() => match n { Some(n) => n, None => break },
        };
        let span = tracing::debug_span!("rpc.notification", method = %n.method);
        let ctx = RequestContext::new(None, n.dialect, shared.shutdown.clone(), peer.clone());
        router.handle_notification(n, ctx).instrument(span).await;
    }
}

/// What goes back to the peer for one frame it sent: one response, or a
/// batch's responses in request order.
pub(crate) enum Reply {
    One(Response),
    Batch(Vec<Response>),
}

impl Reply {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Reply::One(r) => r.write_json(out),
            Reply::Batch(rs) => Response::write_batch(rs, out),
        }
    }
}

/// Serializes a reply. One that would exceed the frame limit (the peer could
/// not take it) is replaced by errors that say so, with the same ids.
fn encode_reply(shared: &Shared, reply: Reply) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    reply.write(&mut out);
    if out.len() <= shared.max_frame {
        return out;
    }
    let limit = shared.max_frame;
    tracing::error!(
        size = out.len(),
        limit,
        "reply exceeds the frame limit; answering with errors"
    );
    let limited = match reply {
        Reply::One(r) => Reply::One(too_large(r, limit)),
        Reply::Batch(rs) => Reply::Batch(rs.into_iter().map(|r| too_large(r, limit)).collect()),
    };
    out.clear();
    limited.write(&mut out);
    out
}

/// Queues a reply behind the calls and replies already waiting.
pub(crate) async fn send_reply(shared: &Shared, reply: Reply) {
    let out = encode_reply(shared, reply);
    // The writer is gone only when the connection is closed; nobody can be told.
    let _ = shared.outgoing.send(out).await;
}

/// Queues a reply on the control lane, ahead of queued traffic, without
/// waiting (see [`Shared::queue_control`]): for replies the reader sends
/// itself and for priority methods.
pub(crate) fn reply_now(shared: &Shared, reply: Reply) {
    shared.queue_control(encode_reply(shared, reply));
}

fn too_large(r: Response, limit: usize) -> Response {
    let error = ErrorObject::internal_error(format!(
        "the reply exceeds the connection's frame limit of {limit} bytes"
    ));
    Response::error_object(r.id, &error, r.dialect)
}

pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
