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
use tokio::sync::mpsc;

use super::stats::add;
use super::{CloseReason, Shared};
use crate::codec::Framing;

/// Stop gathering more messages into one write past this many bytes.
const BATCH_BYTES: usize = 256 * 1024;

pub(crate) struct Writer<F> {
    pub(crate) framing: F,
    pub(crate) shared: Arc<Shared>,
    pub(crate) outgoing: mpsc::Receiver<Vec<u8>>,
    pub(crate) control: mpsc::Receiver<Vec<u8>>,
}

impl<F: Framing> Writer<F> {
    pub(crate) async fn run<W: AsyncWrite + Unpin>(mut self, mut io: W) {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        // Made once: a `cancelled()` future per pass would register a new
        // waiter on the token each time.
        let shutdown = self.shared.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        loop {
            let first = tokio::select! {
                biased;
                Some(m) = self.control.recv() => m,
                Some(m) = self.outgoing.recv() => m,
                _ = &mut shutdown => break,
            };
            self.frame(first, &mut buf);
            while buf.len() < BATCH_BYTES {
                let Some(next) = self
                    .control
                    .try_recv()
                    .or_else(|_| self.outgoing.try_recv())
                    .ok()
                else {
                    break;
                };
                self.frame(next, &mut buf);
            }
            let written = match self.shared.config.write_timeout {
                None => flush(&self.shared, &mut io, &mut buf).await,
                Some(limit) => {
                    match tokio::time::timeout(limit, flush(&self.shared, &mut io, &mut buf)).await
                    {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!(deadline = ?limit, "peer stopped reading; closing");
                            self.shared.close(CloseReason::WriteStalled(limit));
                            return;
                        }
                    }
                }
            };
            if let Err(e) = written {
                self.shared.close(CloseReason::Write(e.to_string().into()));
                return;
            }
        }
        // Closing: what was queued before the close still goes out.
        while let Ok(m) = self
            .control
            .try_recv()
            .or_else(|_| self.outgoing.try_recv())
        {
            self.frame(m, &mut buf);
        }
        if flush(&self.shared, &mut io, &mut buf).await.is_ok() {
            let _ = io.shutdown().await;
        }
    }

    /// Frames one message into `buf`. A message the framing refuses is
    /// dropped and logged; the ones around it still go out.
    fn frame(&mut self, message: Vec<u8>, buf: &mut BytesMut) {
        if let Err(e) = self.framing.encode(&message, buf) {
            tracing::error!(error = %e, "dropping an outgoing message the framing cannot carry");
        }
        self.shared.buffers.give(message);
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
