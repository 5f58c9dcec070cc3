//! The shared transport suite (`jsonrpc-transport/tests/suite/mod.rs`) over
//! stdio: each connection is a child process, `jsonrpc-stdio-server` from
//! this package, spoken to through its stdin and stdout with `Content-Length`
//! framing. It lives in the root package because only a package's own tests
//! learn where its binaries are (`CARGO_BIN_EXE_*`). The child also has to
//! exit by itself once its stdin closes, which the last test checks.

#[macro_use]
#[path = "../jsonrpc-transport/tests/suite/mod.rs"]
mod suite;

use std::io;
use std::pin::Pin;
use std::process::Stdio as Piped;
use std::task::{Context, Poll};

use jsonrpc_core::codec::ContentLengthCodec;
use jsonrpc_core::{CallError, CloseReason, Peer};
use suite::server_side::{Add, MAX_FRAME};
use suite::{within, BoxIo, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const SERVER: &str = env!("CARGO_BIN_EXE_jsonrpc-stdio-server");

fn spawn_server() -> Child {
    Command::new(SERVER)
        .stdin(Piped::piped())
        .stdout(Piped::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting jsonrpc-stdio-server")
}

/// A child's stdout and stdin as one connection; dropping it kills the child.
struct ChildIo {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl AsyncRead for ChildIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

/// Every connection is a new child process.
struct StdioTransport;

impl Transport for StdioTransport {
    type Codec = ContentLengthCodec;

    fn codec(&self, max_frame: usize) -> ContentLengthCodec {
        ContentLengthCodec::new().with_max_frame(max_frame)
    }

    async fn open(&self) -> BoxIo {
        let mut child = spawn_server();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Box::pin(ChildIo {
            _child: child,
            stdin,
            stdout,
        })
    }
}

async fn stdio() -> StdioTransport {
    StdioTransport
}

mod over_stdio {
    transport_suite!(super::stdio);
}

/// The child serves until its stdin closes, then exits with status 0: a
/// client that shuts its connection down does not leave a server behind.
#[tokio::test]
async fn stdio_server_exits_when_its_stdin_closes() {
    let mut child = spawn_server();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let peer =
        Peer::new(ContentLengthCodec::new().with_max_frame(MAX_FRAME)).spawn_split(stdout, stdin);
    assert_eq!(within("add", peer.call::<Add>((40, 2))).await.unwrap(), 42);
    // Our shutdown closes our write side: the child's stdin.
    assert_eq!(
        within("shutdown", peer.shutdown()).await,
        CloseReason::Local
    );
    let status = within("the child to exit", child.wait()).await.unwrap();
    assert!(status.success(), "the child ended with {status}");
}

/// A stdio server killed while calls are pending: each pending call fails at
/// once with `ConnectionClosed(PeerClosed)` (the child's stdout ended), and
/// so does any later call; nothing waits for a reply that cannot come.
#[tokio::test]
async fn pending_calls_fail_when_the_stdio_server_is_killed() {
    let mut child = spawn_server();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut inbox = suite::Inbox::new(rx);
    let peer = Peer::new(ContentLengthCodec::new().with_max_frame(MAX_FRAME))
        .router(suite::client_router(tx))
        .spawn_split(stdout, stdin);
    let calls: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|tag| {
            let peer = peer.clone();
            tokio::spawn(async move {
                peer.call_raw_typed::<_, serde_json::Value>("wait_cancel", (tag,))
                    .await
            })
        })
        .collect();
    for _ in 0..3 {
        let (method, _) = inbox.next().await;
        assert_eq!(method, "started");
    }
    assert_eq!(peer.stats().calls_pending, 3);

    child.start_kill().unwrap();
    for call in calls {
        match within("a pending call", call).await.unwrap() {
            Err(CallError::ConnectionClosed(CloseReason::PeerClosed)) => {}
            other => panic!("expected ConnectionClosed(PeerClosed), got {other:?}"),
        }
    }
    match within("a later call", peer.call::<Add>((1, 1))).await {
        Err(CallError::ConnectionClosed(CloseReason::PeerClosed)) => {}
        other => panic!("expected ConnectionClosed(PeerClosed), got {other:?}"),
    }
    let status = within("the child to be reaped", child.wait())
        .await
        .unwrap();
    assert!(!status.success(), "the child was killed: {status}");
}
