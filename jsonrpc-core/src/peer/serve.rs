//! Serving the peer's calls: the dispatcher, handler runs, batches, notifications.
//!
//! Requests wait in a bounded queue for one of `max_concurrent_requests`
//! slots, then run: on the reader until they first wait, and as their own
//! tasks from there (or from the start, without `inline_handlers`; batches
//! always get a task). A batch takes one slot and runs its
//! entries concurrently with each other; its replies go out as one array in
//! the order of the requests. Notifications run one at a time, in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Context;

use futures::future::join_all;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::outbox::Refused;
use super::slots::Slot;
use super::stats::{bump, Counters};
use super::{lock, PeerHandle, Shared};
use crate::message::{write_array, Dialect, Id, Notification, Request, Response};
use crate::router::Handling;
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
            s = shared.slots.take() => Some(s),
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
        Answer::Made(Response::err(req.id.clone(), error, req.dialect))
    };
    let reply = match work {
        Work::Request(req) => Reply::One(overloaded(&req)),
        Work::Batch(entries) => Reply::Batch(
            entries
                .into_iter()
                .map(|entry| match entry {
                    BatchEntry::Run(req) => overloaded(&req),
                    BatchEntry::Answer(resp) => Answer::Made(resp),
                })
                .collect(),
        ),
    };
    reply_now(shared, reply);
}

/// Starts admitted work, holding `slot` until its reply is queued.
pub(crate) fn start(
    work: Work,
    slot: Slot,
    router: &Arc<Router>,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    match work {
        Work::Request(req) => serve(req, router, peer, tracker, move |answer, peer, tracker| {
            reply_and_release(answer, slot, peer, tracker)
        }),
        // Batches are rare enough that they always get a task.
        Work::Batch(entries) => {
            let (router, peer) = (router.clone(), peer.clone());
            tracker.spawn(async move {
                run_batch(&router, &peer, entries).await;
                release(slot, &peer.shared);
            });
        }
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
    serve(req, router, peer, tracker, |answer, peer, _| {
        reply_now(&peer.shared, Reply::One(answer))
    });
}

/// Serves one request and hands its answer to `reply`: right here, on
/// the reader, when the handler finishes without waiting (most do, and a
/// task per request would then be the largest cost of serving it), and
/// otherwise in a task of its own (see [`PeerConfig::inline_handlers`]).
/// `reply` is lent the connection rather than given it, so that the usual
/// case takes no reference counts for the reply.
///
/// The first poll gets a waker that does nothing. That loses no wake-up: a
/// handler that returns `Pending` is handed to a new task, which polls it
/// again at once, and that poll registers the task's real waker and sees
/// anything that became ready in between.
///
/// [`PeerConfig::inline_handlers`]: super::PeerConfig::inline_handlers
fn serve(
    req: Request,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
    reply: impl FnOnce(Answer, &PeerHandle, &TaskTracker) + Send + 'static,
) {
    let mut serving = Serving::begin(router, peer, req);
    if peer.shared.config.inline_handlers {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let polled = {
            let _entered = serving.span.enter();
            serving.handling.poll_done(&mut cx)
        };
        if polled.is_ready() {
            reply(serving.finish(peer), peer, tracker);
            return;
        }
    }
    let (peer, tracker2) = (peer.clone(), tracker.clone());
    tracker.spawn(async move {
        let answer = serving.run(&peer).await;
        reply(answer, &peer, &tracker2)
    });
}

/// Queues a request's reply behind the calls and replies already waiting,
/// then gives back its slot and its place among the admitted. Without room
/// in the queue, a task waits for it, so the reader never does.
fn reply_and_release(answer: Answer, slot: Slot, peer: &PeerHandle, tracker: &TaskTracker) {
    let shared = &peer.shared;
    let out = encode_reply(shared, Reply::One(answer));
    match shared.outbox.try_send(out) {
        // Closed: the connection is closing and nobody can be told.
        Ok(()) | Err(Refused::Closed) => release(slot, shared),
        Err(Refused::Full(out)) => {
            let shared = shared.clone();
            tracker.spawn(async move {
                let _ = shared.outbox.send(out).await;
                release(slot, &shared);
            });
        }
    }
}

/// Gives back a slot, and the place the work took when it was admitted.
fn release(slot: Slot, shared: &Shared) {
    drop(slot);
    shared.admitted.fetch_sub(1, Ordering::AcqRel);
}

/// A request going through the router, and the bookkeeping around it.
struct Serving {
    handling: Handling,
    span: tracing::Span,
    /// Whether its cancel token is registered under its id.
    cancellable: bool,
}

impl Serving {
    /// Its cancellation token is the connection's own unless the protocol
    /// has an on-wire cancel, which needs a token per request: most
    /// connections thus spend nothing on tokens per request.
    fn begin(router: &Router, peer: &PeerHandle, req: Request) -> Self {
        let shared = &peer.shared;
        let track_cancel = shared.config.wire_cancel.is_some();
        let token = track_cancel.then(|| {
            let token = shared.shutdown.child_token();
            lock(&shared.in_flight).insert(req.id.clone(), token.clone());
            token
        });
        let span = tracing::debug_span!("rpc.request", method = %req.method, id = %req.id);
        let ctx = RequestContext::new(Some(req.id.clone()), req.dialect, token, peer.clone());
        shared
            .counters
            .requests_in_flight
            .fetch_add(1, Ordering::Relaxed);
        Serving {
            handling: router.handle(req, ctx),
            span,
            cancellable: track_cancel,
        }
    }

    async fn run(mut self, peer: &PeerHandle) -> Answer {
        let span = self.span.clone();
        std::future::poll_fn(|cx| self.handling.poll_done(cx))
            .instrument(span)
            .await;
        self.finish(peer)
    }

    /// The handler is done: its answer, written later straight from its result.
    fn finish(self, peer: &PeerHandle) -> Answer {
        let shared = &peer.shared;
        let counters: &Counters = &shared.counters;
        counters.requests_in_flight.fetch_sub(1, Ordering::Relaxed);
        bump(&counters.requests_handled);
        if self.cancellable {
            lock(&shared.in_flight).remove(self.handling.id());
        }
        Answer::Handled(self.handling)
    }
}

async fn run_batch(router: &Router, peer: &PeerHandle, entries: Vec<BatchEntry>) {
    let replies = join_all(entries.into_iter().map(|entry| async move {
        match entry {
            BatchEntry::Run(req) => Serving::begin(router, peer, req).run(peer).await,
            BatchEntry::Answer(resp) => Answer::Made(resp),
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
        let ctx = RequestContext::new(None, n.dialect, None, peer.clone());
        router.handle_notification(n, ctx).instrument(span).await;
    }
}

/// What goes back to the peer for one frame it sent: one answer, or a
/// batch's answers in request order.
pub(crate) enum Reply {
    One(Answer),
    Batch(Vec<Answer>),
}

impl Reply {
    fn write(&mut self, out: &mut Vec<u8>) {
        match self {
            Reply::One(answer) => answer.write(out),
            Reply::Batch(answers) => write_array(answers, out, |answer, out| answer.write(out)),
        }
    }
}

/// The reply to one request: a handled request's, written from the
/// handler's result, or one made before any handler ran.
pub(crate) enum Answer {
    Handled(Handling),
    Made(Response),
}

impl Answer {
    /// Writes the reply; a handled request's only once (its result goes).
    fn write(&mut self, out: &mut Vec<u8>) {
        match self {
            Answer::Handled(handling) => handling.write_reply(out),
            Answer::Made(resp) => resp.write_json(out),
        }
    }

    fn id_and_dialect(&self) -> (&Id, Dialect) {
        match self {
            Answer::Handled(handling) => (handling.id(), handling.dialect()),
            Answer::Made(resp) => (&resp.id, resp.dialect),
        }
    }
}

/// Serializes a reply. One that would exceed the frame limit (the peer could
/// not take it) is replaced by errors that say so, with the same ids.
fn encode_reply(shared: &Shared, mut reply: Reply) -> Vec<u8> {
    let mut out = shared.buffers.take();
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
    let mut limited = match reply {
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
    let _ = shared.outbox.send(out).await;
}

/// Queues a reply on the control lane, ahead of queued traffic, without
/// waiting (see [`Shared::queue_control`]): for replies the reader sends
/// itself and for priority methods.
pub(crate) fn reply_now(shared: &Shared, reply: Reply) {
    shared.queue_control(encode_reply(shared, reply));
}

fn too_large(answer: Answer, limit: usize) -> Answer {
    let error = ErrorObject::internal_error(format!(
        "the reply exceeds the connection's frame limit of {limit} bytes"
    ));
    let (id, dialect) = answer.id_and_dialect();
    Answer::Made(Response::error_object(id.clone(), &error, dialect))
}
