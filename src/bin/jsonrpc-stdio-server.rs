//! A JSON-RPC server on its own stdin and stdout, for the stdio part of the
//! transport suite (`tests/transport_stdio.rs`): it serves the suite's router
//! (`jsonrpc-transport/tests/suite/server_side.rs`) with `Content-Length`
//! framing, as a language server does, and exits when its stdin closes:
//! status 0 when the other side closed, 1 for any other end.

#[path = "../../jsonrpc-transport/tests/suite/server_side.rs"]
mod server_side;

use jsonrpc_core::codec::ContentLengthCodec;
use jsonrpc_core::{CloseReason, Peer};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let peer = Peer::new(ContentLengthCodec::new().with_max_frame(server_side::MAX_FRAME))
        .router(server_side::router())
        .config(server_side::server_config())
        .spawn_split(tokio::io::stdin(), tokio::io::stdout());
    let reason = peer.closed().await;
    // Exit at once: a runtime being dropped would wait for the blocking
    // thread that reads stdin.
    std::process::exit(if reason == CloseReason::PeerClosed {
        0
    } else {
        1
    });
}
