//! A proxy between a replica and ovsdb-server that can hold what the
//! server sends and then let it all go at once: the replica's ingest is
//! then timed with the server's own pace taken out.
//!
//! The server's messages are framed (`JsonStreamCodec`) and forwarded
//! whole. While holding, they are kept instead; a message larger than
//! `hold_larger_than` (an initial dump) is always forwarded only once it is
//! complete. [`Proxy::released_at`] tells when the held bytes began to go.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use jsonrpc_core::codec::{Frame, JsonStreamCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedRead;

use crate::Result;

/// The largest message the proxy frames (a 100,000-row dump is ~12 MB).
const MAX_MESSAGE: usize = 1 << 30;

pub struct Proxy {
    pub socket: PathBuf,
    hold: mpsc::UnboundedSender<Command>,
    /// How many `update*` notifications are held now.
    held_updates: watch::Receiver<u64>,
    released: Arc<Mutex<Option<Instant>>>,
}

enum Command {
    Hold,
    Release,
}

impl Proxy {
    /// Listens at `socket` for one replica and connects it to `server`.
    pub fn start(socket: &Path, server: &Path, hold_larger_than: usize) -> Result<Proxy> {
        let listener = UnixListener::bind(socket)?;
        let (hold, commands) = mpsc::unbounded_channel();
        let (held_tx, held_updates) = watch::channel(0);
        let released = Arc::new(Mutex::new(None));
        let run = Run {
            server: server.to_owned(),
            hold_larger_than,
            held_tx,
            released: released.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) = run.serve(listener, commands).await {
                eprintln!("ovsdb_bench proxy: {e}");
            }
        });
        Ok(Proxy {
            socket: socket.to_owned(),
            hold,
            held_updates,
            released,
        })
    }

    /// From now on, keep what the server sends.
    pub fn hold(&self) {
        let _ = self.hold.send(Command::Hold);
    }

    /// Waits until `n` update notifications are held.
    pub async fn wait_for_updates(&mut self, n: u64) -> Result<()> {
        self.held_updates
            .wait_for(|held| *held >= n)
            .await
            .map_err(|_| "the proxy ended")?;
        Ok(())
    }

    /// Sends everything held, and forwards as it comes again.
    pub fn release(&self) {
        let _ = self.hold.send(Command::Release);
    }

    /// When the held bytes (or the large message) began to go out.
    pub fn released_at(&self) -> Option<Instant> {
        self.released.lock().ok().and_then(|at| *at)
    }
}

struct Run {
    server: PathBuf,
    hold_larger_than: usize,
    held_tx: watch::Sender<u64>,
    released: Arc<Mutex<Option<Instant>>>,
}

impl Run {
    async fn serve(
        self,
        listener: UnixListener,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) -> Result<()> {
        let (client, _) = listener.accept().await?;
        let server = UnixStream::connect(&self.server).await?;
        let (client_read, mut client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        // What the replica sends goes straight on.
        tokio::spawn(async move {
            let (mut from, mut to) = (client_read, server_write);
            let _ = tokio::io::copy(&mut from, &mut to).await;
        });
        let codec = JsonStreamCodec::new().with_max_frame(MAX_MESSAGE);
        let mut messages = FramedRead::new(server_read, codec);
        let mut held: Vec<u8> = Vec::new();
        let mut holding = false;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Hold) => holding = true,
                    Some(Command::Release) => {
                        holding = false;
                        self.mark_released();
                        client_write.write_all(&held).await?;
                        held = Vec::new();
                    }
                    None => {}
                },
                message = messages.next() => {
                    let Some(message) = message else { return Ok(()) };
                    let Frame::Complete(message) = message? else {
                        return Err("a message over the proxy's limit".into());
                    };
                    if holding {
                        held.extend_from_slice(&message);
                        if is_update(&message) {
                            self.held_tx.send_modify(|n| *n += 1);
                        }
                    } else {
                        if message.len() > self.hold_larger_than {
                            self.mark_released();
                        }
                        client_write.write_all(&message).await?;
                    }
                }
            }
        }
    }

    fn mark_released(&self) {
        if let Ok(mut at) = self.released.lock() {
            *at = Some(Instant::now());
        }
    }
}

/// An `update`, `update2` or `update3` notification. Its `method` member
/// stands before or after the (long) params, so a glance at both ends of
/// the message is enough.
fn is_update(message: &[u8]) -> bool {
    const GLANCE: usize = 64;
    const METHOD: &[u8] = br#""method":"update"#;
    let head = &message[..message.len().min(GLANCE)];
    let tail = &message[message.len().saturating_sub(GLANCE)..];
    [head, tail]
        .iter()
        .any(|part| part.windows(METHOD.len()).any(|w| w == METHOD))
}
