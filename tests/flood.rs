//! A flood of connections that are opened and dropped without a word, as a
//! port scan or a crashing client makes them, leaves no connection open on
//! the example servers: those whose client is gone end, and those that stay
//! silent are closed once the server's first-input timeout passes.

#[path = "../examples/bench_server.rs"]
#[allow(dead_code)]
mod bench_server;
#[path = "../examples/spec_server.rs"]
#[allow(dead_code)]
mod spec_server;

use std::net::SocketAddr;
use std::time::Duration;

use jsonrpc_transport::{ListenEndpoint, RunningServer};
use tokio::io::AsyncReadExt;

const FLOOD: usize = 2_000;
const SILENT: usize = 5;
const FIRST_INPUT: Duration = Duration::from_millis(800);

/// Opens `FLOOD` connections without waiting for any to complete, dropping
/// each at once.
fn flood(addr: SocketAddr) {
    use socket2::{Domain, Socket, Type};
    for _ in 0..FLOOD {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        socket.set_nonblocking(true).expect("non-blocking");
        // In progress, refused or done: the socket is dropped either way.
        let _ = socket.connect(&addr.into());
    }
}

fn port(server: &RunningServer) -> u16 {
    match server.local_endpoints() {
        [ListenEndpoint::Tcp { port, .. }] => *port,
        other => panic!("unexpected endpoints {other:?}"),
    }
}

async fn leaves_nothing_open(server: RunningServer) {
    let addr: SocketAddr = ([127, 0, 0, 1], port(&server)).into();
    // Connections that are kept open but never speak.
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    flood(addr);
    // Each silent connection is closed by the server: its read ends.
    for mut conn in silent {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(FIRST_INPUT * 10, conn.read(&mut buf))
            .await
            .expect("a silent connection was kept open past the first-input timeout");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "closed without a word: {read:?}"
        );
    }
    let deadline = tokio::time::Instant::now() + FIRST_INPUT * 10;
    while server.stats().connections_open > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections still open: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        server.stats().accepted > SILENT as u64,
        "{:?}",
        server.stats()
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_server_leaves_no_connection_open_after_a_flood() {
    let listen = "ptcp:0:127.0.0.1".parse().unwrap();
    let server = spec_server::start(listen, spec_server::FramingKind::Stream, Some(FIRST_INPUT))
        .await
        .unwrap();
    leaves_nothing_open(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_server_leaves_no_connection_open_after_a_flood() {
    let listen = vec!["ptcp:0:127.0.0.1".parse().unwrap()];
    let server = bench_server::start(bench_server::FramingKind::Stream, listen, Some(FIRST_INPUT))
        .await
        .unwrap();
    leaves_nothing_open(server).await;
}
