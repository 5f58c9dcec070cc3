//! Helpers shared by the peer tests: a raw, hand-driven side of a connection
//! that reads and writes JSON lines, so a test controls every byte the peer
//! under test sees.

#![allow(dead_code)]

use std::time::Duration;

use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{Peer, PeerConfig, PeerHandle, Router};
use serde_json::Value;
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};

/// Long enough that only a hang (a bug) reaches it.
pub const HANG: Duration = Duration::from_secs(10);

/// The far end of a connection, driven by the test line by line.
pub struct RawSide {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    writer: WriteHalf<DuplexStream>,
}

impl RawSide {
    pub async fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).await.unwrap();
        self.writer.write_all(b"\n").await.unwrap();
    }

    /// Writes bytes as they are, reporting a closed connection.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send(&value.to_string()).await;
    }

    /// The next message from the peer, or panics if none comes.
    pub async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(HANG, self.lines.next_line())
            .await
            .expect("no message from the peer in time")
            .unwrap()
            .expect("connection closed");
        serde_json::from_str(&line).unwrap()
    }

    /// The next message's text exactly as the peer wrote it.
    pub async fn recv_text(&mut self) -> String {
        tokio::time::timeout(HANG, self.lines.next_line())
            .await
            .expect("no message from the peer in time")
            .unwrap()
            .expect("connection closed")
    }

    /// `None` if the connection ended without another message.
    pub async fn recv_or_eof(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(HANG, self.lines.next_line())
            .await
            .expect("neither a message nor end of input in time")
            .ok()??;
        Some(serde_json::from_str(&line).unwrap())
    }

    pub async fn shutdown_write(&mut self) {
        self.writer.shutdown().await.unwrap();
    }
}

/// A peer under test (line-framed) and the raw side facing it.
pub fn peer_and_raw(router: Router, config: PeerConfig) -> (PeerHandle, RawSide) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let peer = Peer::new(LineCodec::new())
        .router(router)
        .config(config)
        .spawn(ours);
    let (r, w) = tokio::io::split(theirs);
    (
        peer,
        RawSide {
            lines: BufReader::new(r).lines(),
            writer: w,
        },
    )
}

/// Two peers connected in memory.
pub fn pair(
    server: Router,
    server_config: PeerConfig,
    client: Router,
    client_config: PeerConfig,
) -> (PeerHandle, PeerHandle) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let s = Peer::new(LineCodec::new())
        .router(server)
        .config(server_config)
        .spawn(a);
    let c = Peer::new(LineCodec::new())
        .router(client)
        .config(client_config)
        .spawn(b);
    (s, c)
}

/// Runs `f` and fails the test if it does not finish: a hang is a bug.
pub async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f)
        .await
        .expect("timed out: the peer hangs")
}
