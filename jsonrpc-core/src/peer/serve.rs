//! Serving the peer's calls: requests, batches and notifications.
//!
//! Everything the peer sends is started by the reader, in the order it
//! arrived: the reader calls the handler and polls its future once, right
//! there. What a handler does before its first `.await` that has to wait
//! has therefore happened before the reader looks at the next message. A
//! handler that has to wait goes on in a task of its own and holds nothing
//! up: requests then run concurrently (at most `max_concurrent_requests`
//! at once; one more is answered -32000 at once), and so do notification
//! handlers (at most `max_notification_tasks`; past it, reading waits
//! briefly for room, then closes the connection). A batch's entries start in order too; its replies go out as
//! one array in the order of the requests. Handler tasks end when the
//! connection closes (see [`spawn_handler`]).

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
/// Its reply is queued right here, on the reader, when the handler finishes
/// without waiting (most do, and a task per request would then be the
/// largest cost of serving it), and otherwise from a task of its own.
pub(crate) fn start(
    req: Request,
    slot: Slot,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let mut serving = Serving::begin(router, peer, req);
    if serving.poll_first(peer) {
        reply_and_release(Reply::One(serving.finish(peer)), slot, peer, tracker);
        return;
    }
    let (peer2, tracker2) = (peer.clone(), tracker.clone());
    spawn_handler(tracker, peer, async move {
        let answer = serving.run(&peer2).await;
        reply_and_release(Reply::One(answer), slot, &peer2, &tracker2)
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
    let (peer2, tracker2) = (peer.clone(), tracker.clone());
    spawn_handler(tracker, peer, async move {
        let answers = join_all(entries.into_iter().map(|entry| entry.run(&peer2))).await;
        reply_and_release(Reply::Batch(answers), slot, &peer2, &tracker2);
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

    /// Gives up on the entry unanswered (the connection is closing).
    pub(crate) fn abandon(self, peer: &PeerHandle) {
        if let BatchEntry::Run(serving) = self {
            serving.abandon(peer);
        }
    }

    async fn run(self, peer: &PeerHandle) -> Answer {
        match self {
            BatchEntry::Run(serving) => serving.run(peer).await,
            BatchEntry::Answer(resp) => Answer::Made(resp),
        }
    }
}

/// Runs a priority request at once, with no request slot, and sends its
/// reply on the control lane, ahead of queued calls and replies. Priority
/// handlers are meant to answer at once; one that has to wait goes on in a
/// task counted with the notification handlers' (`max_notification_tasks`),
/// and past that it is answered -32000.
pub(crate) fn start_priority(
    req: Request,
    router: &Router,
    peer: &PeerHandle,
    tracker: &TaskTracker,
) {
    let mut serving = Serving::begin(router, peer, req);
    if serving.poll_first(peer) {
        reply_now(&peer.shared, Reply::One(serving.finish(peer)));
        return;
    }
    let Some(slot) = peer.shared.notification_slots.try_take() else {
        let (id, dialect) = (serving.handling.id().clone(), serving.handling.dialect());
        serving.abandon(peer);
        bump(&peer.shared.counters.requests_rejected);
        let error = peer
            .shared
            .config
            .profile
            .word(&ErrorObject::overloaded(), dialect);
        reply_now(
            &peer.shared,
            Reply::One(Answer::Made(Response::err(id, error, dialect))),
        );
        return;
    };
    let peer2 = peer.clone();
    spawn_handler(tracker, peer, async move {
        let answer = serving.run(&peer2).await;
        reply_now(&peer2.shared, Reply::One(answer));
        drop(slot);
    });
}

/// Handles a notification: its handler is called and polled once here, on
/// the reader; if it has to wait, it goes on in a task of its own. At
/// `max_notification_tasks` such tasks the reader gives them
/// `notification_task_wait` to make room, and closes the connection if none
/// does: it cannot wait longer, as those handlers may be waiting for
/// replies only the reader can deliver.
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
        None => {
            let wait = shared.config.notification_task_wait;
            tokio::select! {
                biased;
                _ = shared.shutdown.cancelled() => return,
                _ = shared.stop_reading.cancelled() => return,
                slot = shared.notification_slots.take() => slot,
                _ = tokio::time::sleep(wait) => {
                    let limit = shared.config.max_notification_tasks;
                    tracing::warn!(
                        limit,
                        ?wait,
                        "notification handlers are not finishing; closing the connection"
                    );
                    shared.close(super::CloseReason::NotificationBacklog(limit));
                    return;
                }
            }
        }
    };
    let peer2 = peer.clone();
    spawn_handler(tracker, peer, async move {
        let outcome = notifying.instrument(span).await;
        answer_failed(outcome, dialect, &peer2.shared);
        drop(slot);
    });
}

/// Spawns the rest of a handler's work. When the connection closes, the
/// handler's cancellation token fires and it has `cancel_grace` to notice
/// and finish; past that it is dropped. So a closed connection has no
/// handler left running once `closed()` returns, however its handlers
/// treat their tokens.
pub(crate) fn spawn_handler(
    tracker: &TaskTracker,
    peer: &PeerHandle,
    work: impl Future<Output = ()> + Send + 'static,
) {
    let closed = peer.shared.shutdown.clone().cancelled_owned();
    let grace = peer.shared.config.cancel_grace;
    tracker.spawn(async move {
        let dropped_after_grace = async move {
            closed.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = work => {}
            () = dropped_after_grace => {
                tracing::debug!(?grace, "a handler still running after the close was dropped");
            }
        }
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
            // Ends on its own when the connection closes: the outbox refuses.
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
        bump(&peer.shared.counters.requests_handled);
        self.leave(peer);
        Answer::Handled(self.handling)
    }

    /// Gives up on the request unanswered (the handler is dropped).
    fn abandon(self, peer: &PeerHandle) {
        self.leave(peer);
    }

    /// Takes the request out of the connection's bookkeeping.
    fn leave(&self, peer: &PeerHandle) {
        let shared = &peer.shared;
        let counters: &Counters = &shared.counters;
        counters.requests_in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.cancellable {
            lock(&shared.in_flight).remove(self.handling.id());
        }
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
