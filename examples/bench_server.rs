//! The framework's server for load tests: `add` and `echo` over any framing,
//! on any number of TCP and Unix endpoints.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/bench_server --listen punix:/tmp/bench.sock --listen ptcp:7000:127.0.0.1
//! target/release/examples/load --connect unix:/tmp/bench.sock --in-flight 64 --calls 500000
//! ```
//!
//! It prints each endpoint it listens on (`listening on punix:/tmp/bench.sock`,
//! with the real port when 0 was asked for) and serves until Ctrl-C,
//! SIGTERM, or the end of its standard input, then shuts down gracefully:
//! stops accepting, lets running requests finish, removes socket files.
//! A shell runs a background job (`bench_server ... &`) with its standard
//! input at end of file already, so pass `--ignore-stdin` there.
//!
//! Methods:
//!
//! * `add`: params `[a, b]` (two i64), result `a + b` (an error on overflow);
//! * `echo`: result is the params as they came, byte for byte.
//!
//! `examples/load.rs` includes this file as a module to start the same
//! server in-process (`load --spawn-server ours`).

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use jsonrpc_core::codec::{ContentLengthCodec, Framing, JsonStreamCodec, LineCodec};
use jsonrpc_core::{ErrorObject, RawJson, Router};
use jsonrpc_transport::{ListenEndpoint, RunningServer, Server};

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FramingKind {
    /// JSON texts back to back, no delimiter (OVSDB, SPDK).
    Stream,
    /// One JSON text per line.
    Line,
    /// LSP-style `Content-Length` headers.
    ContentLength,
}

impl FramingKind {
    /// The name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FramingKind::Stream => "stream",
            FramingKind::Line => "line",
            FramingKind::ContentLength => "content-length",
        }
    }
}

#[derive(Debug, Parser)]
#[command(about = "JSON-RPC server (the framework's) with `add` and `echo`, for load tests")]
struct Args {
    /// Where to listen: punix:PATH or ptcp:PORT[:IP] (port 0: any free port).
    /// May be given several times.
    #[arg(long, required = true, value_name = "ENDPOINT")]
    listen: Vec<ListenEndpoint>,
    /// How messages are delimited.
    #[arg(long, value_enum, default_value_t = FramingKind::Stream)]
    framing: FramingKind,
    /// Tokio worker threads; 1 (the default) runs a single-threaded runtime,
    /// the fastest on a 2-core machine with the load tool on the other core.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Keep running when standard input ends (for `bench_server ... &`).
    #[arg(long)]
    ignore_stdin: bool,
    /// How long shutdown waits for running requests.
    #[arg(long, default_value_t = 5)]
    shutdown_secs: u64,
}

/// The router: `add` and `echo`.
pub fn router() -> Router {
    let mut router = Router::new();
    router
        .method_fn("add", |(a, b): (i64, i64), _ctx| async move {
            a.checked_add(b)
                .ok_or_else(|| ErrorObject::invalid_params("the sum overflows an i64"))
        })
        .method_fn("echo", |params: RawJson, _ctx| async move {
            Ok::<_, ErrorObject>(params)
        });
    router
}

/// Binds every endpoint and starts serving [`router`] with `framing`. A
/// connection that sends nothing for `first_input_timeout` is closed.
pub async fn start(
    framing: FramingKind,
    listen: Vec<ListenEndpoint>,
    first_input_timeout: Option<Duration>,
) -> Result<RunningServer, jsonrpc_transport::TransportError> {
    async fn bind<F: Framing + Clone>(
        codec: F,
        listen: Vec<ListenEndpoint>,
        first_input_timeout: Option<Duration>,
    ) -> Result<RunningServer, jsonrpc_transport::TransportError> {
        Server::new(codec)
            .router(router())
            .first_input_timeout(first_input_timeout)
            .bind(listen)
            .await
    }
    match framing {
        FramingKind::Stream => bind(JsonStreamCodec::new(), listen, first_input_timeout).await,
        FramingKind::Line => bind(LineCodec::new(), listen, first_input_timeout).await,
        FramingKind::ContentLength => {
            bind(ContentLengthCodec::new(), listen, first_input_timeout).await
        }
    }
}

fn main() -> std::process::ExitCode {
    support::exit_code("bench_server", run_main())
}

fn run_main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let runtime = support::runtime(args.threads)?;
    runtime.block_on(async move {
        let server = start(args.framing, args.listen, Some(Duration::from_secs(30))).await?;
        for endpoint in server.local_endpoints() {
            println!("listening on {endpoint}");
        }
        println!(
            "framing {}, {} thread(s); methods: add, echo",
            args.framing.name(),
            args.threads
        );
        let why = support::stop_signal(!args.ignore_stdin).await;
        println!("{why}: shutting down");
        let stats = server.stats();
        server
            .shutdown(Duration::from_secs(args.shutdown_secs))
            .await;
        println!(
            "stopped ({} connection(s) accepted, {} refused)",
            stats.accepted, stats.refused
        );
        Ok(())
    })
}
