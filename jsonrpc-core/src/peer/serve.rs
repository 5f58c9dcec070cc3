//! Serving the peer's calls: requests, batches and notifications.
//!
//! Everything the peer sends is started by the reader, in the order it
//! arrived: the reader calls the handler and polls its future once, right
//! there. What a handler does before its first `.await` that has to wait
//! has therefore happened before the reader looks at the next message. A
//! handler that has to wait goes on in a task of its own and holds nothing
//! up: requests then run concurrently (at most `max_concurrent_requests`
//! at once; one more is answered -32000 at once), and so do notification
//! handlers (at most `max_notification_tasks`; at that limit reading waits
//! for one to finish). A batch's entries start in order too; its replies go
//! out as one array in the order of the requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::Context;

use futures::future::join_all;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::outbox::Refused;
use super::slots::Slot;
use super::stats::{bump, Counters};
use super::{lock, PeerHandle, Shared};
use crate::message::{write_array, Dialect, Id, Notification, RawJson, Request, Response};
use crate::router::Handling;
use crate::{ErrorObject, RequestContext, Router};

/// One entry of a batch, in the batch's order.
pub(crate) enum BatchEntry {
    /// A request, started as it was read.
    Run(Serving),
    /// An answer known without running anything (an invalid entry's error,
    /// or a refusal).
    Answer(Response),
}

/// The overload error (-32000) for a request that found no free slot.
pub(crate) fn overloaded(req: &Request, shared: &Shared) -> Response {
    bump(&shared.counters.requests_rejected);
    let error = shared
        .config
        .profile
        .word(&ErrorObject::overloaded(), req.dialect);
    Response::err(req.id.clone(), error, req.dialect)
}

/// Starts an admitted request, holding `slot` until its reply is queued.
pub(crate) fn start(
    req: Request,
    slot: Slot,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    serve(req, router, peer, tracker, move |answer, peer, tracker| {
        reply_and_release(Reply::One(answer), slot, peer, tracker)
    });
}

/// A batch's requests were started as they were read; this answers the
/// batch once they are all done, holding their `slot` until its reply is
/// queued: at once when none of them had to wait, else from a task. A batch
/// that ran nothing (no slot) is answered on the control lane, as the
/// reader's own replies are.
pub(crate) fn finish_batch(
    entries: Vec<BatchEntry>,
    slot: Option<Slot>,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let all_done = entries.iter().all(|entry| match entry {
        BatchEntry::Run(serving) => serving.done,
        BatchEntry::Answer(_) => true,
    });
    let slot = match slot {
        Some(slot) if !all_done => slot,
        slot => {
            let answers = entries
                .into_iter()
                .map(|entry| entry.finish(peer))
                .collect();
            match slot {
                Some(slot) => reply_and_release(Reply::Batch(answers), slot, peer, tracker),
                None => reply_now(&peer.shared, Reply::Batch(answers)),
            }
            return;
        }
    };
    let (peer, tracker2) = (peer.clone(), tracker.clone());
    tracker.spawn(async move {
        let answers = join_all(entries.into_iter().map(|entry| entry.run(&peer))).await;
        reply_and_release(Reply::Batch(answers), slot, &peer, &tracker2);
    });
}

impl BatchEntry {
    /// Starts a batch's request, as [`start`] starts a single one.
    pub(crate) fn start(req: Request, router: &Router, peer: &PeerHandle) -> Self {
        let mut serving = Serving::begin(router, peer, req);
        serving.poll_first(peer);
        BatchEntry::Run(serving)
    }

    fn finish(self, peer: &PeerHandle) -> Answer {
        match self {
            BatchEntry::Run(serving) => serving.finish(peer),
            BatchEntry::Answer(resp) => Answer::Made(resp),
        }
    }

    async fn run(self, peer: &PeerHandle) -> Answer {
        match self {
            BatchEntry::Run(serving) => serving.run(peer).await,
            BatchEntry::Answer(resp) => Answer::Made(resp),
        }
    }
}

/// Runs a priority request at once, with no slot, and sends its reply on
/// the control lane, ahead of queued calls and replies.
pub(crate) fn start_priority(
    req: Request,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    serve(req, router, peer, tracker, |answer, peer, _| {
        reply_now(&peer.shared, Reply::One(answer))
    });
}

/// Handles a notification: its handler is called and polled once here, on
/// the reader; if it has to wait, it goes on in a task of its own. At
/// `max_notification_tasks` such tasks, this waits for one to finish (the
/// one place the reader waits on handlers: a notification cannot be
/// refused).
pub(crate) async fn notify(
    n: Notification,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let span = tracing::debug_span!("rpc.notification", method = %n.method);
    let ctx = RequestContext::new(None, n.dialect, None, peer.clone());
    let dialect = n.dialect;
    let mut notifying = router.handle_notification(n, ctx);
    let polled = {
        let _entered = span.enter();
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        Pin::new(&mut notifying).poll(&mut cx)
    };
    if let std::task::Poll::Ready(outcome) = polled {
        answer_failed(outcome, dialect, &peer.shared);
        return;
    }
    let shared = &peer.shared;
    let slot = match shared.notification_slots.try_take() {
        Some(slot) => slot,
        None => tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            slot = shared.notification_slots.take() => slot,
        },
    };
    let peer = peer.clone();
    tracker.spawn(async move {
        let outcome = notifying.instrument(span).await;
        answer_failed(outcome, dialect, &peer.shared);
        drop(slot);
    });
}

/// Answers a failed notification with its error and id `null`, if the
/// profile says to (SPDK does).
fn answer_failed(outcome: Result<(), RawJson>, dialect: Dialect, shared: &Shared) {
    if let Err(error) = outcome {
        if shared.config.profile.get_answer_failed_notifications() {
            let reply = Response::err(Id::null(), error, dialect);
            reply_now(shared, Reply::One(Answer::Made(reply)));
        }
    }
}

/// Serves one request and hands its answer to `reply`: right here, on
/// the reader, when the handler finishes without waiting (most do, and a
/// task per request would then be the largest cost of serving it), and
/// otherwise in a task of its own (see [`PeerConfig::inline_handlers`]).
/// `reply` is lent the connection rather than given it, so that the usual
/// case takes no reference counts for the reply.
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
    if serving.poll_first(peer) {
        reply(serving.finish(peer), peer, tracker);
        return;
    }
    let (peer, tracker2) = (peer.clone(), tracker.clone());
    tracker.spawn(async move {
        let answer = serving.run(&peer).await;
        reply(answer, &peer, &tracker2)
    });
}

/// Queues a reply behind the calls and replies already waiting, then gives
/// back the slot its requests held. Without room in the queue, a task waits
/// for it, so the reader never does.
fn reply_and_release(reply: Reply, slot: Slot, peer: &PeerHandle, tracker: &TaskTracker) {
    let shared = &peer.shared;
    let out = encode_reply(shared, reply);
    match shared.outbox.try_send(out) {
        // Closed: the connection is closing and nobody can be told.
        Ok(()) | Err(Refused::Closed) => drop(slot),
        Err(Refused::Full(out)) => {
            let shared = shared.clone();
            tracker.spawn(async move {
                let _ = shared.outbox.send(out).await;
                drop(slot);
            });
        }
    }
}

/// A request going through the router, and the bookkeeping around it.
pub(crate) struct Serving {
    handling: Handling,
    span: tracing::Span,
    /// Whether its cancel token is registered under its id.
    cancellable: bool,
    /// The handler has finished (its first poll did not have to wait).
    done: bool,
}

impl Serving {
    /// Calls the handler. Its cancellation token is the connection's own
    /// unless the protocol has an on-wire cancel, which needs a token per
    /// request: most connections thus spend nothing on tokens per request.
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
        let handling = {
            let _entered = span.enter();
            router.handle(req, ctx)
        };
        Serving {
            handling,
            span,
            cancellable: track_cancel,
            done: false,
        }
    }

    /// Polls the handler once, here (unless the connection starts handlers
    /// in tasks); true if it finished.
    ///
    /// The poll gets a waker that does nothing. That loses no wake-up: a
    /// handler that returns `Pending` is handed to a task, which polls it
    /// again at once, and that poll registers the task's real waker and sees
    /// anything that became ready in between.
    fn poll_first(&mut self, peer: &PeerHandle) -> bool {
        if peer.shared.config.inline_handlers {
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            let _entered = self.span.enter();
            self.done = self.handling.poll_done(&mut cx).is_ready();
        }
        self.done
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
