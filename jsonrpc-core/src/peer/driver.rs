//! The reader, and the life of a connection from start to close.
//!
//! The reader decodes frames and takes each message in turn, in arrival
//! order: a reply completes its call, a request or a notification has its
//! handler started (see [`serve`] for what that guarantees), a request past
//! `max_concurrent_requests` is refused at once. It never waits for a
//! handler to finish, except at `max_notification_tasks` notification
//! handlers waiting, as a notification cannot be refused.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::task::TaskTracker;

use super::lock;
use super::serve::{self, Answer, BatchEntry, Reply};
use super::stats::{add, bump};
use super::writer::Writer;
use super::{CloseReason, PeerHandle, Shared};
use crate::codec::{Frame, FrameTooLarge, Framing};
use crate::message::read_head;
use crate::message::{
    Id, Incoming, Invalid, InvalidKind, Message, MessageParser, Notification, Request, Response,
};
use crate::profile::{ErrorId, NullId, OnInvalid};
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
    let tracker = TaskTracker::new();
    let parser = MessageParser::new(config.profile.get_dialect())
        .reject_unknown_members(config.profile.get_reject_unknown_members())
        .max_batch(config.max_batch);
    let mut reader_state = Reader {
        framing,
        parser,
        shared: shared.clone(),
        router,
        peer: peer.clone(),
        tracker: tracker.clone(),
    };
    if let Some(probe) = config.inactivity_probe.clone() {
        tokio::spawn(super::probe::run(probe, peer.clone()));
    }
    let end = reader_state.read_all(reader).await;
    drop(reader_state);
    match end {
        // Half-closed on our side as well: no reply could go out, so the
        // handlers are not waited for.
        ReadEnd::Drain(reason) if shared.outbox.is_closed() => shared.close(reason),
        ReadEnd::Drain(reason) => {
            // No reply can come any more: our calls fail now. The peer's
            // requests still get their replies, within the drain deadline.
            shared.pending.close(reason.clone());
            tracker.close();
            let drained = tracker.wait();
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
    // Every handler task ends at its next poll now that the connection is
    // closed (see `serve::spawn_handler`): wait for them, so that `closed()`
    // (and a server's `on_close`) come after the last of them.
    tracker.close();
    tracker.wait().await;
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
        // Until the peer's first byte: when its silence ends the connection.
        let silence_limit = self.shared.config.first_input_timeout;
        let mut silent_until = silence_limit.map(|limit| tokio::time::Instant::now() + limit);
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
                        // Closed meanwhile (by a limit, or from outside):
                        // nothing more of what was read is handled.
                        if let Some(reason) = self.shared.closing() {
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
                _ = sleep_until_some(silent_until) => {
                    let limit = silence_limit.unwrap_or_default();
                    tracing::debug!(?limit, "the peer sent nothing since it connected; closing");
                    return ReadEnd::Close(CloseReason::Silent(limit));
                }
            };
            match read {
                Ok(0) => return self.finish(&mut buf).await,
                Ok(n) => {
                    silent_until = None;
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
                    if let Some(reason) = self.shared.closing() {
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
            Frame::Complete(Incoming::Batch(items)) if self.shared.config.profile.get_batches() => {
                self.on_batch(items).await
            }
            Frame::Complete(Incoming::Batch(_)) => self.on_invalid(Invalid {
                id: Id::null(),
                dialect: self.shared.outgoing_dialect(),
                kind: InvalidKind::Request,
                reason: "this protocol has no batches".into(),
            }),
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
            Message::Request(req) => match self.as_notification(req) {
                Ok(req) => self.on_request(req),
                Err(n) => self.on_notification(n).await,
            },
            Message::Notification(n) => self.on_notification(n).await,
        }
    }

    /// A request with a null id, as a notification if the profile says so.
    fn as_notification(&self, req: Request) -> Result<Request, Notification> {
        if req.id.is_null() && self.shared.config.profile.get_null_id() == NullId::Notification {
            return Err(Notification {
                method: req.method,
                params: req.params,
                dialect: req.dialect,
            });
        }
        Ok(req)
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
        match self.shared.slots.try_take() {
            Some(slot) => serve::start(req, slot, &self.router, &self.peer, &self.tracker),
            None => {
                tracing::debug!(method = %req.method, id = %req.id, "too many requests running; refusing");
                let reply = serve::overloaded(&req, &self.shared);
                serve::reply_now(&self.shared, Reply::One(Answer::Made(reply)));
            }
        }
    }

    fn is_priority(&self, method: &str) -> bool {
        self.shared
            .config
            .priority_methods
            .iter()
            .any(|m| m == method)
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
        // Subscribers first, then the router's handler, if it has one
        // (a notification only subscribed to is no unknown method).
        if self.shared.deliver(&n) && !self.router.has_route(&n.method) {
            return;
        }
        serve::notify(n, &self.router, &self.peer, &self.tracker).await;
    }

    fn on_invalid(&self, invalid: Invalid) -> Result<(), CloseReason> {
        if let Some(reply) = self.invalid_entry(invalid)? {
            serve::reply_now(&self.shared, Reply::One(Answer::Made(reply)));
        }
        Ok(())
    }

    /// What an invalid message leads to, alone or in a batch: the close the
    /// profile asks for, or the error reply it gets (if any). A bad reply to
    /// one of our calls fails that call, and only it.
    fn invalid_entry(&self, invalid: Invalid) -> Result<Option<Response>, CloseReason> {
        bump(&self.shared.counters.invalid_received);
        tracing::warn!(id = %invalid.id, reason = %invalid.reason, kind = ?invalid.kind, "invalid message");
        self.close_on(&invalid)?;
        if invalid.kind == InvalidKind::Response {
            let waiter = invalid
                .id
                .as_u64()
                .and_then(|id| self.shared.pending.take(id));
            if let Some(waiter) = waiter {
                let _ = waiter.send(Err(invalid.reason.clone()));
            }
        }
        Ok(self.answer(&invalid))
    }

    /// Whether the profile closes the connection on this invalid message.
    fn close_on(&self, invalid: &Invalid) -> Result<(), CloseReason> {
        let profile = &self.shared.config.profile;
        let rule = match invalid.kind {
            InvalidKind::Parse => profile.get_on_parse_error(),
            InvalidKind::Request => profile.get_on_invalid_request(),
            InvalidKind::Response => OnInvalid::Answer,
        };
        match (rule, invalid.kind) {
            (OnInvalid::Answer, _) => Ok(()),
            (OnInvalid::Close, InvalidKind::Parse) => {
                Err(CloseReason::Malformed(invalid.reason.as_str().into()))
            }
            (OnInvalid::Close, _) => Err(CloseReason::Invalid(invalid.reason.as_str().into())),
        }
    }

    /// The error reply for an invalid message, if it gets one, with the id
    /// and wording the profile says.
    fn answer(&self, invalid: &Invalid) -> Option<Response> {
        let error = invalid.error()?;
        let profile = &self.shared.config.profile;
        let error = profile.word(&error, invalid.dialect);
        let id = match (invalid.kind, profile.get_invalid_request_id()) {
            (InvalidKind::Request, ErrorId::Request) => invalid.id.clone(),
            _ => Id::null(),
        };
        Some(Response::err(id, error, invalid.dialect))
    }

    /// A frame too large to read: skipped, but its first bytes usually say
    /// whose it is. A reply to one of our calls fails that call at once; a
    /// request is answered -32600 with its id (as the profile says for
    /// invalid requests), so its caller need not wait for a timeout.
    fn on_oversized(&self, too_large: FrameTooLarge) {
        bump(&self.shared.counters.oversized_frames);
        tracing::warn!(error = %too_large, "dropped an oversized frame");
        let head = read_head(&too_large.head);
        if !head.has_method {
            let ours = head.id.as_ref().and_then(Id::as_u64);
            if let Some(waiter) = ours.and_then(|id| self.shared.pending.take(id)) {
                let _ = waiter.send(Err(too_large.to_string()));
                return;
            }
        }
        let dialect = self.shared.outgoing_dialect();
        let profile = &self.shared.config.profile;
        let error = profile.word(&ErrorObject::invalid_request(&too_large), dialect);
        let id = match (head.has_method, profile.get_invalid_request_id()) {
            (true, ErrorId::Request) => head.id.unwrap_or_else(Id::null),
            _ => Id::null(),
        };
        let reply = Response::err(id, error, dialect);
        serve::reply_now(&self.shared, Reply::One(Answer::Made(reply)));
    }

    async fn on_batch(&mut self, items: Vec<Result<Message, Invalid>>) -> Result<(), CloseReason> {
        // The parser refuses a batch past `max_batch` (see `MessageParser::max_batch`).
        // A batch's requests take one slot together.
        let has_requests = items
            .iter()
            .any(|item| matches!(item, Ok(Message::Request(_))));
        let slot = has_requests.then(|| self.shared.slots.try_take()).flatten();
        let mut entries = Vec::with_capacity(items.len());
        // In the batch's order, like messages one by one.
        for item in items {
            match item {
                Ok(Message::Request(req)) => {
                    let req = match self.as_notification(req) {
                        Ok(req) => req,
                        Err(n) => {
                            self.on_notification(n).await;
                            continue;
                        }
                    };
                    bump(&self.shared.counters.requests_received);
                    entries.push(match slot {
                        Some(_) => BatchEntry::start(req, &self.router, &self.peer),
                        None => BatchEntry::Answer(serve::overloaded(&req, &self.shared)),
                    });
                }
                Ok(Message::Notification(n)) => self.on_notification(n).await,
                Ok(Message::Response(r)) => self.on_reply(r),
                Err(invalid) => match self.invalid_entry(invalid) {
                    Ok(Some(reply)) => entries.push(BatchEntry::Answer(reply)),
                    Ok(None) => {}
                    Err(reason) => {
                        for entry in entries {
                            entry.abandon(&self.peer);
                        }
                        return Err(reason);
                    }
                },
            }
        }
        if !entries.is_empty() {
            serve::finish_batch(entries, slot, &self.peer, &self.tracker);
        }
        Ok(())
    }
}
