//! The writer task: frames queued messages and writes them.
//!
//! It takes whatever is queued (the control lane first, so error replies and
//! cancels do not wait behind a backlog), frames it all into one buffer and
//! writes that with one flush, so many small messages cost few syscalls.
//! When the connection closes it writes what is still queued, then shuts the
//! write side down.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::outbox::Out;
use super::stats::add;
use super::{CloseReason, Shared};
use crate::codec::Framing;

/// Stop gathering more messages into one write past this many bytes.
const BATCH_BYTES: usize = 256 * 1024;

pub(crate) struct Writer<F> {
    pub(crate) framing: F,
    pub(crate) shared: Arc<Shared>,
}

impl<F: Framing> Writer<F> {
    pub(crate) async fn run<W: AsyncWrite + Unpin>(mut self, mut io: W) {
        // However the writer ends, nothing more can be queued after it.
        struct CloseOutbox<'a>(&'a Shared);
        impl Drop for CloseOutbox<'_> {
            fn drop(&mut self) {
                self.0.outbox.close();
            }
        }
        let shared = self.shared.clone();
        let _close = CloseOutbox(&shared);
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let mut batch = Vec::new();
        // Made once: a `cancelled()` future per pass would register a new
        // waiter on the token each time.
        let shutdown = self.shared.shutdown.clone().cancelled_owned();
        // A peer closed for falling behind is not read from: its pending
        // write is abandoned rather than left to the write deadline.
        let abandon = self.shared.abandon_writes.clone().cancelled_owned();
        tokio::pin!(shutdown, abandon);
        loop {
            tokio::select! {
                biased;
                more = shared.outbox.next_batch(&mut batch, BATCH_BYTES) => if !more { break },
                _ = &mut shutdown => break,
            };
            self.frame_all(&mut batch, &mut buf);
            let write = async {
                match self.shared.config.write_timeout {
                    None => Some(flush(&self.shared, &mut io, &mut buf).await),
                    Some(limit) => {
                        let timed =
                            tokio::time::timeout(limit, flush(&self.shared, &mut io, &mut buf));
                        match timed.await {
                            Ok(r) => Some(r),
                            Err(_) => {
                                tracing::warn!(deadline = ?limit, "peer stopped reading; closing");
                                self.shared.close(CloseReason::WriteStalled(limit));
                                None
                            }
                        }
                    }
                }
            };
            let written = tokio::select! {
                biased;
                _ = &mut abandon => return,
                written = write => match written {
                    Some(written) => written,
                    None => return,
                },
            };
            if let Err(e) = written {
                self.shared.close(CloseReason::Write(e.to_string().into()));
                return;
            }
        }
        // Closing: what was queued before the close still goes out.
        shared.outbox.close();
        while shared.outbox.take(&mut batch, usize::MAX) {
            self.frame_all(&mut batch, &mut buf);
        }
        // A peer that does not read holds this no longer than any write.
        let last = async {
            flush(&self.shared, &mut io, &mut buf).await?;
            io.shutdown().await
        };
        let last = async {
            match self.shared.config.write_timeout {
                None => last.await,
                Some(limit) => tokio::time::timeout(limit, last).await.unwrap_or(Ok(())),
            }
        };
        tokio::select! {
            biased;
            _ = &mut abandon => {}
            _ = last => {}
        }
    }

    /// Frames a batch of messages into `buf`. A message the framing refuses
    /// is dropped and logged; the ones around it still go out.
    fn frame_all(&mut self, batch: &mut Vec<Out>, buf: &mut BytesMut) {
        for message in batch.iter() {
            if let Err(e) = self.framing.encode(message.as_bytes(), buf) {
                tracing::error!(error = %e, "dropping an outgoing message the framing cannot carry");
            }
        }
        self.shared
            .buffers
            .give(batch.drain(..).filter_map(Out::into_owned));
    }
}

async fn flush<W: AsyncWrite + Unpin>(
    shared: &Shared,
    io: &mut W,
    buf: &mut BytesMut,
) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    io.write_all(buf).await?;
    io.flush().await?;
    add(&shared.counters.bytes_out, buf.len());
    buf.clear();
    Ok(())
}
