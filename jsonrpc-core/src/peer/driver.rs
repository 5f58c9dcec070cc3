//! The reader, and the life of a connection from start to close.
//!
//! The reader decodes frames and hands each message on without waiting for any
//! handler: replies complete their calls, requests go to the bounded request
//! queue (or are refused at once when it is full), notifications go to the
//! ordered notification queue. It only waits when that last queue is full, as
//! a notification cannot be refused.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::lock;
use super::serve::{self, Answer, BatchEntry, Queued, Reply, Work};
use super::stats::{add, bump};
use super::writer::Writer;
use super::{CloseReason, PeerHandle, Shared};
use crate::codec::{Frame, FrameTooLarge, Framing};
use crate::message::{
    Id, Incoming, Invalid, InvalidKind, Message, MessageParser, Notification, Request, Response,
};
use crate::{ErrorObject, Router};

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Read at least this much at a time.
const READ_CHUNK: usize = 8 * 1024;
/// A read buffer past this size is given up once it is empty.
const LARGE_BUFFER: usize = 4 * READ_CHUNK;

/// How reading ended.
enum ReadEnd {
    /// No more input will be read (the peer closed its sending side, or we
    /// were asked to shut down gracefully): finish the peer's requests, then
    /// close for this reason.
    Drain(CloseReason),
    /// The connection must close now.
    Close(CloseReason),
}

/// Runs a connection until it has closed and every task has ended.
pub(crate) async fn run<R, W, F>(
    reader: R,
    writer_io: W,
    framing: F,
    router: Arc<Router>,
    peer: PeerHandle,
    writer: Writer<F>,
) where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
    F: Framing,
{
    let shared = peer.shared.clone();
    let config = &shared.config;
    let writer_task = tokio::spawn(writer.run(writer_io));
    // Admission is counted by the reader, so this channel never fills.
    let (requests, request_rx) =
        mpsc::channel(config.max_concurrent_requests.max(1) + config.request_queue);
    let (notifications, notification_rx) = mpsc::channel(config.notification_queue.max(1));
    let tracker = TaskTracker::new();
    let dispatcher = tokio::spawn(serve::dispatch(
        request_rx,
        router.clone(),
        peer.clone(),
        tracker.clone(),
    ));
    let notifier = tokio::spawn(serve::notifications(
        notification_rx,
        router.clone(),
        peer.clone(),
    ));
    let parser = MessageParser::new(config.dialect)
        .reject_unknown_members(config.reject_unknown_members)
        .max_batch(config.max_batch);
    let mut reader_state = Reader {
        framing,
        parser,
        shared: shared.clone(),
        router,
        peer: peer.clone(),
        tracker: tracker.clone(),
        requests,
        notifications,
    };
    if let Some(probe) = config.inactivity_probe.clone() {
        tokio::spawn(super::probe::run(probe, peer.clone()));
    }
    let end = reader_state.read_all(reader).await;
    // Closing the queues lets the dispatcher and notifier finish what is queued.
    drop(reader_state);
    match end {
        ReadEnd::Drain(reason) => {
            // No reply can come any more: our calls fail now. The peer's
            // requests still get their replies, within the drain deadline.
            shared.pending.close(reason.clone());
            let drained = async {
                let _ = dispatcher.await;
                let _ = notifier.await;
                tracker.close();
                tracker.wait().await;
            };
            // A close() while draining (a server's shutdown deadline, say)
            // ends the wait too: it has cancelled the handlers already.
            tokio::select! {
                r = tokio::time::timeout(config.drain_timeout, drained) => {
                    if r.is_err() {
                        tracing::warn!(
                            deadline = ?config.drain_timeout,
                            "handlers still running at the drain deadline; cancelling them"
                        );
                    }
                }
                _ = shared.shutdown.cancelled() => {}
            }
            shared.close(reason);
        }
        ReadEnd::Close(reason) => {
            tracing::debug!(%reason, "connection closing");
            shared.close(reason);
        }
    }
    tracker.close();
    let _ = writer_task.await;
    shared.finished.cancel();
}

struct Reader<F> {
    framing: F,
    parser: MessageParser,
    shared: Arc<Shared>,
    router: Arc<Router>,
    peer: PeerHandle,
    tracker: TaskTracker,
    requests: mpsc::Sender<Queued>,
    notifications: mpsc::Sender<Notification>,
}

impl<F: Framing> Reader<F> {
    async fn read_all<R: AsyncRead + Unpin>(&mut self, mut io: R) -> ReadEnd {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        // Made once: a `cancelled()` future per read would register a new
        // waiter on the token each time.
        let shutdown = self.shared.shutdown.clone().cancelled_owned();
        let stop_reading = self.shared.stop_reading.clone().cancelled_owned();
        tokio::pin!(shutdown, stop_reading);
        let frame_limit = self.shared.config.read_frame_timeout;
        // Since when an unfinished message has been waiting for its rest.
        let mut partial_since: Option<tokio::time::Instant> = None;
        loop {
            loop {
                match self.framing.decode_with(&mut buf, &mut self.parser) {
                    Ok(Some(frame)) => {
                        partial_since = None;
                        if let Err(reason) = self.on_frame(frame).await {
                            return ReadEnd::Close(reason);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return ReadEnd::Close(CloseReason::Read(e.to_string().into())),
                }
            }
            if buf.is_empty() {
                partial_since = None;
            } else if partial_since.is_none() {
                partial_since = Some(tokio::time::Instant::now());
            }
            let deadline = partial_since
                .zip(frame_limit)
                .map(|(since, limit)| since + limit);
            // A buffer grown for a large frame goes back to small once it
            // is empty (see `codec::take_frame` for what frames keep).
            if buf.is_empty() && buf.capacity() > LARGE_BUFFER {
                buf = BytesMut::with_capacity(READ_CHUNK);
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 2 {
                buf.reserve(READ_CHUNK);
            }
            let read = tokio::select! {
                biased;
                _ = &mut shutdown => return ReadEnd::Close(CloseReason::Local),
                _ = &mut stop_reading => return ReadEnd::Drain(CloseReason::Local),
                r = io.read_buf(&mut buf) => r,
                _ = sleep_until_some(deadline) => {
                    let limit = frame_limit.unwrap_or_default();
                    tracing::warn!(?limit, "a message took too long to arrive; closing");
                    return ReadEnd::Close(CloseReason::FrameTimeout(limit));
                }
            };
            match read {
                Ok(0) => return self.finish(&mut buf).await,
                Ok(n) => {
                    add(&self.shared.counters.bytes_in, n);
                    self.shared.touch();
                }
                Err(e) => return ReadEnd::Close(CloseReason::Read(e.to_string().into())),
            }
        }
    }

    /// Decodes what is left at end of input.
    async fn finish(&mut self, buf: &mut BytesMut) -> ReadEnd {
        loop {
            match self.framing.decode_with_eof(buf, &mut self.parser) {
                Ok(Some(frame)) => {
                    if let Err(reason) = self.on_frame(frame).await {
                        return ReadEnd::Close(reason);
                    }
                }
                Ok(None) => return ReadEnd::Drain(CloseReason::PeerClosed),
                Err(e) => {
                    tracing::warn!(error = %e, "input ended inside a message");
                    return ReadEnd::Drain(CloseReason::PeerClosed);
                }
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame<Incoming>) -> Result<(), CloseReason> {
        match frame {
            Frame::Complete(Incoming::Single(Ok(message))) => {
                self.on_message(message).await;
                Ok(())
            }
            Frame::Complete(Incoming::Single(Err(invalid))) => self.on_invalid(invalid),
            Frame::Complete(Incoming::Batch(items)) => self.on_batch(items).await,
            Frame::Oversized(too_large) => {
                self.on_oversized(too_large);
                Ok(())
            }
        }
    }

    async fn on_message(&mut self, message: Message) {
        self.shared.heard(match &message {
            Message::Request(r) => r.dialect,
            Message::Notification(n) => n.dialect,
            Message::Response(r) => r.dialect,
        });
        match message {
            Message::Response(r) => self.on_reply(r),
            Message::Request(req) => self.on_request(req),
            Message::Notification(n) => self.on_notification(n).await,
        }
    }

    fn on_reply(&self, reply: Response) {
        let counters = &self.shared.counters;
        let waiter = reply
            .id
            .as_u64()
            .and_then(|id| self.shared.pending.take(id));
        if let Some(waiter) = waiter {
            // Counted before the caller can see its reply, so a caller that
            // reads the counters right after its call sees it counted.
            bump(&counters.replies_received);
            let _ = waiter.send(Ok(reply.outcome));
        } else {
            bump(&counters.late_replies);
            tracing::debug!(id = %reply.id, "dropping a reply that no call is waiting for");
        }
    }

    fn on_request(&self, req: Request) {
        bump(&self.shared.counters.requests_received);
        if self.is_priority(&req.method) {
            serve::start_priority(req, &self.router, &self.peer, &self.tracker);
            return;
        }
        if !self.admit() {
            tracing::debug!(method = %req.method, id = %req.id, "request queue full; refusing");
            serve::refuse(Work::Request(req), &self.shared, &self.router);
            return;
        }
        self.run_or_queue(Work::Request(req));
    }

    /// Starts admitted work at once when a slot is free and nothing waits
    /// ahead of it; queues it for the dispatcher otherwise.
    fn run_or_queue(&self, work: Work) {
        let shared = &self.shared;
        if shared.queued.load(Ordering::Acquire) == 0 {
            if let Some(slot) = shared.slots.try_take() {
                serve::start(work, slot, &self.router, &self.peer, &self.tracker);
                return;
            }
        }
        shared.queued.fetch_add(1, Ordering::AcqRel);
        // Admission keeps the queue within its capacity, so this only fails
        // once the dispatcher is gone (the connection is closing).
        let queued = Queued {
            work,
            since: tokio::time::Instant::now(),
        };
        if self.requests.try_send(queued).is_err() {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            shared.admitted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn is_priority(&self, method: &str) -> bool {
        self.shared
            .config
            .priority_methods
            .iter()
            .any(|m| m == method)
    }

    /// Takes a place among the requests running or waiting, if one is free.
    fn admit(&self) -> bool {
        let config = &self.shared.config;
        let limit = config.max_concurrent_requests.max(1) + config.request_queue;
        let admitted = &self.shared.admitted;
        if admitted.fetch_add(1, Ordering::AcqRel) < limit {
            return true;
        }
        admitted.fetch_sub(1, Ordering::AcqRel);
        false
    }

    async fn on_notification(&mut self, n: Notification) {
        bump(&self.shared.counters.notifications_received);
        if let Some(cancel) = &self.shared.config.wire_cancel {
            if n.method == cancel.method() {
                bump(&self.shared.counters.cancels_received);
                if let Some(id) = cancel.id_in(&n.params) {
                    if let Some(token) = lock(&self.shared.in_flight).get(&id) {
                        token.cancel();
                    }
                }
                return;
            }
        }
        // Usually there is room; only a full queue makes reading wait.
        let n = match self.notifications.try_send(n) {
            Err(mpsc::error::TrySendError::Full(n)) => n,
            _ => return,
        };
        tokio::select! {
            _ = self.notifications.send(n) => {}
            _ = self.shared.shutdown.cancelled() => {}
        }
    }

    fn on_invalid(&self, invalid: Invalid) -> Result<(), CloseReason> {
        bump(&self.shared.counters.invalid_received);
        tracing::warn!(id = %invalid.id, reason = %invalid.reason, kind = ?invalid.kind, "invalid message");
        if invalid.kind == InvalidKind::Parse && self.shared.config.close_on_parse_error {
            return Err(CloseReason::Malformed(invalid.reason.into()));
        }
        // A bad reply to one of our calls fails that call, and only it.
        if invalid.kind == InvalidKind::Response {
            let waiter = invalid
                .id
                .as_u64()
                .and_then(|id| self.shared.pending.take(id));
            if let Some(waiter) = waiter {
                let _ = waiter.send(Err(invalid.reason.clone()));
            }
        }
        if let Some(reply) = self.answer(&invalid) {
            serve::reply_now(&self.shared, Reply::One(Answer::Made(reply)));
        }
        Ok(())
    }

    /// The error reply for an invalid message, if it gets one.
    fn answer(&self, invalid: &Invalid) -> Option<Response> {
        let error = invalid.error()?;
        let error = self.router.format_error(&error, invalid.dialect);
        Some(Response::err(invalid.id.clone(), error, invalid.dialect))
    }

    fn on_oversized(&self, too_large: FrameTooLarge) {
        bump(&self.shared.counters.oversized_frames);
        tracing::warn!(error = %too_large, "dropped an oversized frame");
        let dialect = self.shared.outgoing_dialect();
        let error = self
            .router
            .format_error(&ErrorObject::invalid_request(&too_large), dialect);
        let reply = Response::err(Id::null(), error, dialect);
        serve::reply_now(&self.shared, Reply::One(Answer::Made(reply)));
    }

    async fn on_batch(&mut self, items: Vec<Result<Message, Invalid>>) -> Result<(), CloseReason> {
        // The parser refuses a batch past `max_batch` (see `MessageParser::max_batch`).
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(Message::Request(req)) => {
                    bump(&self.shared.counters.requests_received);
                    entries.push(BatchEntry::Run(req));
                }
                Ok(Message::Notification(n)) => self.on_notification(n).await,
                Ok(Message::Response(r)) => self.on_reply(r),
                Err(invalid) => {
                    bump(&self.shared.counters.invalid_received);
                    if let Some(reply) = self.answer(&invalid) {
                        entries.push(BatchEntry::Answer(reply));
                    }
                }
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        if self.admit() {
            self.run_or_queue(Work::Batch(entries));
        } else {
            serve::refuse(Work::Batch(entries), &self.shared, &self.router);
        }
        Ok(())
    }
}
