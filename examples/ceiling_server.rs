//! The ceiling: a hand-written tokio server, without the framework, that
//! answers the load tool's `add` requests as fast as this machine can.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/ceiling_server --listen punix:/tmp/ceiling.sock
//! target/release/examples/load --connect unix:/tmp/ceiling.sock --in-flight 64 --calls 500000
//! ```
//!
//! It knows exactly what `load --method add` sends,
//! `{"jsonrpc":"2.0","id":N,"method":"add","params":[A,B]}`, and cheats
//! honestly on it: no JSON parser, no framing codec, no queues, no tasks per
//! request. Per connection, one task reads whatever has arrived, takes each
//! `{`..`}` in it (the request has no nested object, so the first `}` ends
//! it), copies the bytes after `"id":` up to the next `,`, reads the two
//! integers after `"params":[`, and appends
//! `{"jsonrpc":"2.0","id":N,"result":SUM}` to one output buffer, written
//! with a single `write_all` per read. That is the least work a server can do
//! for these bytes, so its calls/s is what the framework is measured against.
//!
//! Anything before a `{` is skipped, which covers all three framings on input
//! (whitespace, newlines, `Content-Length` headers); `--framing` decides how
//! the replies are framed. A request it cannot read closes the connection.
//! Same `--listen` flags as `bench_server` (`ptcp:PORT[:IP]`, `punix:PATH`).

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::io;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use jsonrpc_transport::ListenEndpoint;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// How replies are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplyFraming {
    /// Back to back, no delimiter.
    Stream,
    /// One reply per line.
    Line,
    /// A `Content-Length` header before each reply.
    ContentLength,
}

#[derive(Debug, Parser)]
#[command(about = "Hand-written JSON-RPC `add` server: the ceiling for load tests")]
struct Args {
    /// Where to listen: punix:PATH or ptcp:PORT[:IP] (port 0: any free port).
    /// May be given several times.
    #[arg(long, required = true, value_name = "ENDPOINT")]
    listen: Vec<ListenEndpoint>,
    /// How replies are delimited (requests are read in any of the three).
    #[arg(long, value_enum, default_value_t = ReplyFraming::Stream)]
    framing: ReplyFraming,
    /// Tokio worker threads; 1 (the default) runs a single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Keep running when standard input ends (for `ceiling_server ... &`).
    #[arg(long)]
    ignore_stdin: bool,
}

/// Read at least this much at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A running ceiling server.
pub struct Ceiling {
    endpoints: Vec<ListenEndpoint>,
    stop: CancellationToken,
    accept_tasks: Vec<JoinHandle<()>>,
    socket_files: Vec<PathBuf>,
}

impl Ceiling {
    /// Where it listens (with the real port where 0 was asked for).
    pub fn local_endpoints(&self) -> &[ListenEndpoint] {
        &self.endpoints
    }

    /// Stops accepting, closes every connection, removes socket files.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.accept_tasks {
            let _ = task.await;
        }
        for path in &self.socket_files {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum Bound {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Binds every endpoint and starts answering.
pub async fn start(framing: ReplyFraming, listen: Vec<ListenEndpoint>) -> io::Result<Ceiling> {
    let mut bound = Vec::new();
    let mut endpoints = Vec::new();
    let mut socket_files = Vec::new();
    for endpoint in listen {
        match endpoint {
            ListenEndpoint::Tcp { port, ip } => {
                let listener = TcpListener::bind((ip, port)).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot listen on ptcp:{port}:{ip}: {e}"))
                })?;
                let port = listener.local_addr()?.port();
                endpoints.push(ListenEndpoint::Tcp { port, ip });
                bound.push(Bound::Tcp(listener));
            }
            ListenEndpoint::Unix(path) => {
                remove_stale_socket(&path)?;
                let listener = UnixListener::bind(&path).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot listen on punix:{}: {e}", path.display()),
                    )
                })?;
                socket_files.push(path.clone());
                endpoints.push(ListenEndpoint::Unix(path));
                bound.push(Bound::Unix(listener));
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the ceiling server speaks plain TCP and Unix only, not {other}"),
                ))
            }
        }
    }
    let stop = CancellationToken::new();
    let accept_tasks = bound
        .into_iter()
        .map(|listener| tokio::spawn(accept_loop(listener, framing, stop.clone())))
        .collect();
    Ok(Ceiling {
        endpoints,
        stop,
        accept_tasks,
        socket_files,
    })
}

/// Removes a socket file left by a server that did not clean up; refuses to
/// remove anything that is not a socket.
fn remove_stale_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(_) => Ok(()),
    }
}

async fn accept_loop(listener: Bound, framing: ReplyFraming, stop: CancellationToken) {
    // Dropping the set when accepting stops closes every connection.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok(Conn::Tcp(s)) => {
                let _ = s.set_nodelay(true);
                connections.spawn(connection(s, framing));
            }
            Ok(Conn::Unix(s)) => {
                connections.spawn(connection(s, framing));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Bound) -> io::Result<Conn> {
    match listener {
        Bound::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
        Bound::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
    }
}

/// Serves one connection; errors end it (and are reported).
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(io: S, framing: ReplyFraming) {
    if let Err(e) = serve(io, framing).await {
        if e.kind() != io::ErrorKind::ConnectionReset && e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("connection closed: {e}");
        }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    framing: ReplyFraming,
) -> io::Result<()> {
    let mut input: Vec<u8> = Vec::with_capacity(2 * READ_CHUNK);
    let mut output: Vec<u8> = Vec::with_capacity(2 * READ_CHUNK);
    let mut body: Vec<u8> = Vec::with_capacity(64);
    loop {
        if input.capacity() - input.len() < READ_CHUNK / 2 {
            input.reserve(READ_CHUNK);
        }
        if io.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut pos = 0;
        // Each complete `{...}` in the buffer is one request.
        while let Some(open) = find(&input[pos..], b'{') {
            let start = pos + open;
            let Some(close) = find(&input[start..], b'}') else {
                break;
            };
            let end = start + close + 1;
            let request = &input[start..end];
            let (id, a, b) = read_add(request).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "not a request this server reads: {}",
                        String::from_utf8_lossy(request)
                    ),
                )
            })?;
            body.clear();
            body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
            body.extend_from_slice(id);
            body.extend_from_slice(br#","result":"#);
            write_i64(&mut body, a.wrapping_add(b));
            body.push(b'}');
            match framing {
                ReplyFraming::Stream => output.extend_from_slice(&body),
                ReplyFraming::Line => {
                    output.extend_from_slice(&body);
                    output.push(b'\n');
                }
                ReplyFraming::ContentLength => {
                    output.extend_from_slice(b"Content-Length: ");
                    write_i64(&mut output, body.len() as i64);
                    output.extend_from_slice(b"\r\n\r\n");
                    output.extend_from_slice(&body);
                }
            }
            pos = end;
        }
        input.drain(..pos);
        if !output.is_empty() {
            io.write_all(&output).await?;
            output.clear();
        }
    }
}

fn find(haystack: &[u8], byte: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == byte)
}

fn find_seq(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The id's bytes as sent, and the two addends, of one `add` request.
fn read_add(request: &[u8]) -> Option<(&[u8], i64, i64)> {
    let id_at = find_seq(request, br#""id":"#)? + 5;
    let id_len = request[id_at..]
        .iter()
        .position(|&b| b == b',' || b == b'}')?;
    let id = &request[id_at..id_at + id_len];
    let params_at = find_seq(request, br#""params":["#)? + 10;
    let (a, rest) = read_i64(&request[params_at..])?;
    let rest = rest.strip_prefix(b",")?;
    let (b, _) = read_i64(rest)?;
    Some((id, a, b))
}

/// Reads a decimal i64 from the front of `s`.
fn read_i64(s: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        return None;
    }
    let mut value: i64 = 0;
    for &d in &digits[..len] {
        value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    let value = if negative {
        value
    } else {
        value.checked_neg()?
    };
    Some((value, &digits[len..]))
}

/// Appends `v` in decimal.
fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn main() -> std::process::ExitCode {
    support::exit_code("ceiling_server", run_main())
}

fn run_main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let runtime = support::runtime(args.threads)?;
    runtime.block_on(async move {
        let server = start(args.framing, args.listen).await?;
        for endpoint in server.local_endpoints() {
            println!("listening on {endpoint}");
        }
        println!(
            "ceiling: replies framed {}, {} thread(s); method: add only",
            match args.framing {
                ReplyFraming::Stream => "stream",
                ReplyFraming::Line => "line",
                ReplyFraming::ContentLength => "content-length",
            },
            args.threads
        );
        let why = support::stop_signal(!args.ignore_stdin).await;
        println!("{why}: shutting down");
        server.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_load_tools_request() {
        let req = br#"{"jsonrpc":"2.0","id":42,"method":"add","params":[-7,100]}"#;
        assert_eq!(read_add(req), Some((&b"42"[..], -7, 100)));
        assert_eq!(
            read_i64(b"-9223372036854775808]").map(|r| r.0),
            Some(i64::MIN)
        );
        let mut out = Vec::new();
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, b"-9223372036854775808");
    }
}
