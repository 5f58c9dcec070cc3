//! A server for exactly the methods that the examples section of the
//! JSON-RPC 2.0 specification (<https://www.jsonrpc.org/specification#examples>)
//! uses: `subtract`, `sum`, `get_data`, and the notifications `update`,
//! `notify_hello` and `notify_sum`. `foobar` and `foo.get` are left out on
//! purpose, since the spec uses them to show "Method not found".
//!
//! ```text
//! cargo run --example spec_server -- --listen ptcp:4000:127.0.0.1 --framing line
//! printf '%s\n' '{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}' | nc 127.0.0.1 4000
//! ```
//!
//! It is served by `jsonrpc_transport::Server` (connection limit, TCP
//! keepalive, silent connections closed, graceful shutdown) and listens on
//! endpoint strings like every example server: `ptcp:PORT[:IP]`,
//! `punix:PATH`. `tests/spec_examples.rs` includes this file as a module and
//! drives [`start`] with every request of the spec's examples.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jsonrpc_core::codec::{ContentLengthCodec, Framing, JsonStreamCodec, LineCodec};
use jsonrpc_core::{ErrorObject, NotificationMethod, Profile, Router};
use jsonrpc_transport::{ListenEndpoint, RunningServer, Server, TransportError};
use serde::Deserialize;

/// `subtract`'s params. Serde's derived `Deserialize` reads a struct from a
/// sequence (in field order) as well as from a map, so this one type takes
/// both `[42, 23]` and `{"subtrahend": 23, "minuend": 42}`.
#[derive(Debug, Deserialize)]
pub struct SubtractParams {
    pub minuend: i64,
    pub subtrahend: i64,
}

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingKind {
    /// One JSON text per line.
    Line,
    /// JSON texts back to back, with no delimiter.
    Stream,
    /// LSP-style `Content-Length` headers.
    ContentLength,
}

impl FromStr for FramingKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "line" => Ok(FramingKind::Line),
            "stream" => Ok(FramingKind::Stream),
            "content-length" => Ok(FramingKind::ContentLength),
            other => Err(format!(
                "unknown framing `{other}`: expected line, stream or content-length"
            )),
        }
    }
}

impl fmt::Display for FramingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingKind::Line => "line",
            FramingKind::Stream => "stream",
            FramingKind::ContentLength => "content-length",
        })
    }
}

/// The methods of the spec's examples.
pub fn router() -> Router {
    let mut router = Router::new();
    router
        .method_fn("subtract", |p: SubtractParams, _ctx| async move {
            p.minuend
                .checked_sub(p.subtrahend)
                .ok_or_else(|| ErrorObject::invalid_params("the difference overflows an i64"))
        })
        .method_fn("sum", |numbers: Vec<i64>, _ctx| async move {
            numbers
                .into_iter()
                .try_fold(0i64, i64::checked_add)
                .ok_or_else(|| ErrorObject::invalid_params("the sum overflows an i64"))
        })
        .method_fn("get_data", |(): (), _ctx| async move { Ok(("hello", 5)) });
    // The spec gives these no visible effect; they are registered so that
    // they name known methods and their params are checked, rather than
    // being dropped as unknown like `foobar`.
    router
        .notification::<Update, _, _>(|_numbers, _ctx| async {})
        .notification::<NotifyHello, _, _>(|_numbers, _ctx| async {})
        .notification::<NotifySum, _, _>(|_numbers, _ctx| async {});
    router
}

/// The spec's `update` notification: `[1, 2, 3, 4, 5]`.
pub struct Update;
impl NotificationMethod for Update {
    const NAME: &'static str = "update";
    type Params = Vec<i64>;
}

/// The spec's `notify_hello` notification: `[7]`.
pub struct NotifyHello;
impl NotificationMethod for NotifyHello {
    const NAME: &'static str = "notify_hello";
    type Params = Vec<i64>;
}

/// The spec's `notify_sum` notification: `[1, 2, 4]`.
pub struct NotifySum;
impl NotificationMethod for NotifySum {
    const NAME: &'static str = "notify_sum";
    type Params = Vec<i64>;
}

/// Starts serving [`router`] on `listen` with `framing`, under the strict
/// JSON-RPC 2.0 profile. A connection that sends nothing for
/// `first_input_timeout` is closed (the server's default is 30 s).
pub async fn start(
    listen: ListenEndpoint,
    framing: FramingKind,
    first_input_timeout: Option<Duration>,
) -> Result<RunningServer, TransportError> {
    async fn bind<F: Framing + Clone>(
        codec: F,
        listen: ListenEndpoint,
        first_input_timeout: Option<Duration>,
    ) -> Result<RunningServer, TransportError> {
        // A spec server speaks 2.0 only: a message without `"jsonrpc"`
        // (such as the spec's `{"foo": "boo"}`) is a 2.0 message gone wrong.
        Server::new(codec)
            .router(router())
            .profile(Profile::json_rpc_2())
            .first_input_timeout(first_input_timeout)
            .bind([listen])
            .await
    }
    match framing {
        FramingKind::Line => bind(LineCodec::new(), listen, first_input_timeout).await,
        FramingKind::Stream => bind(JsonStreamCodec::new(), listen, first_input_timeout).await,
        FramingKind::ContentLength => {
            bind(ContentLengthCodec::new(), listen, first_input_timeout).await
        }
    }
}

const USAGE: &str = "usage: spec_server [--listen ENDPOINT] [--framing line|stream|content-length]
  --listen ENDPOINT  where to listen: ptcp:PORT[:IP], punix:PATH
                     (default ptcp:0:127.0.0.1, an unused port)
  --framing KIND     how messages are delimited (default line)";

/// Command-line settings.
struct Args {
    listen: ListenEndpoint,
    framing: FramingKind,
}

/// Two flags do not need a parser crate.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        listen: ListenEndpoint::Tcp {
            port: 0,
            ip: [127, 0, 0, 1].into(),
        },
        framing: FramingKind::Line,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => parsed.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--framing" => parsed.framing = value()?.parse()?,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let server = start(args.listen, args.framing, Some(Duration::from_secs(30))).await?;
    for endpoint in server.local_endpoints() {
        println!(
            "spec_server listening on {endpoint} ({} framing)",
            args.framing
        );
    }
    tokio::signal::ctrl_c().await?;
    server.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
