//! A typed Language Server Protocol client on jsonrpc-core, with no LSP code in
//! the framework: LSP is JSON-RPC 2.0 with `Content-Length` framing between two
//! symmetric peers, which is `Peer::new(ContentLengthCodec::new())` plus a
//! router for what the server asks of its client.
//!
//! It starts a real language server as a child process and talks to it over
//! the child's stdin and stdout:
//!
//! 1. `initialize`, with a workspace folder on the fixture project
//!    (`tests/peers/lsp/project`), then `initialized`;
//! 2. `textDocument/didOpen` of `app.py`;
//! 3. a `textDocument/completion` call dropped as soon as it is on the wire,
//!    which makes the peer send `$/cancelRequest` ([`WireCancel::lsp`]);
//! 4. `textDocument/completion` at the end of `os.pa` (offers `path`) and
//!    `textDocument/hover` over a call of `greet` (its signature and
//!    docstring);
//! 5. `shutdown`, `exit`, and the child's exit status.
//!
//! Meanwhile the router answers the server's own requests
//! (`workspace/configuration`, `client/registerCapability`,
//! `window/workDoneProgress/create`) and takes its notifications
//! (`window/logMessage`, `textDocument/publishDiagnostics`, `$/progress`...).
//! The server numbers its requests from 0 as we do, so both sides use the same
//! ids at once; the peer keeps the two id spaces apart.
//!
//! Every method is declared once, in one `api!` block for both directions,
//! using lsp-types only for the params and result types: [`LspClient`] sends
//! what goes to the server, and the client's handlers implement
//! [`LspClientHandler`] for what comes back. A tap on the child's pipes records every frame,
//! which is how the `$/cancelRequest` is seen on the wire.
//!
//! ```text
//! scripts/install/lsp.sh            # pyright and jedi-language-server under target/peers/
//! cargo run --example lsp_client -- --server pyright
//! cargo run --example lsp_client -- --server jedi
//! cargo run --example lsp_client -- --server "/path/to/some-language-server --stdio"
//! ```
//!
//! `tests/peer_lsp.rs` runs [`run_session`] against both servers and checks
//! the [`SessionReport`].

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use jsonrpc_core::codec::{ContentLengthCodec, Frame};
use jsonrpc_core::{
    api, CloseReason, DialectMode, ErrorObject, Method, Peer, PeerConfig, PeerStats,
    RequestContext, WireCancel,
};
use lsp_types as lsp;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::codec::Decoder;

// ---------------------------------------------------------------------------
// The protocol, declared with our own `api!`.
// ---------------------------------------------------------------------------

api! {
    /// The Language Server Protocol, the part of it this example uses: what a
    /// client sends its language server, and what the server sends back.
    pub Lsp;
    to_server {
        /// The first call: the client's capabilities in, the server's out.
        method initialize: Initialize("initialize", lsp::InitializeParams) -> lsp::InitializeResult;
        /// The client has taken the `initialize` result in.
        notification initialized: Initialized("initialized", lsp::InitializedParams);
        /// A document is open; the client owns its text from now on.
        notification did_open: DidOpen("textDocument/didOpen", lsp::DidOpenTextDocumentParams);
        /// Completion items at a position.
        method completion: Completion("textDocument/completion", lsp::CompletionParams)
            -> Option<lsp::CompletionResponse>;
        /// Hover information at a position.
        method hover: HoverRequest("textDocument/hover", lsp::HoverParams) -> Option<lsp::Hover>;
        /// Asks the server to get ready to exit; no params, a `null` result.
        method shutdown: Shutdown("shutdown", ()) -> ();
        /// Tells the server to exit; no params.
        notification exit: Exit("exit", ());
    }
    to_client {
        /// The settings for each section asked for, one value per item.
        method configuration: WorkspaceConfiguration("workspace/configuration", lsp::ConfigurationParams)
            -> Vec<Value>;
        /// The server registers capabilities dynamically (file watchers...).
        method register_capability: RegisterCapability("client/registerCapability", lsp::RegistrationParams)
            -> ();
        /// The server drops dynamically registered capabilities.
        method unregister_capability: UnregisterCapability(
            "client/unregisterCapability",
            lsp::UnregistrationParams
        ) -> ();
        /// The server asks for a progress token it will report on.
        method work_done_progress_create: WorkDoneProgressCreate(
            "window/workDoneProgress/create",
            lsp::WorkDoneProgressCreateParams
        ) -> ();
        /// A line for the client's log.
        notification log_message: LogMessage("window/logMessage", lsp::LogMessageParams);
        /// A message to show the user.
        notification show_message: ShowMessage("window/showMessage", lsp::ShowMessageParams);
        /// The diagnostics of one document (replacing the previous ones).
        notification publish_diagnostics: PublishDiagnostics(
            "textDocument/publishDiagnostics",
            lsp::PublishDiagnosticsParams
        );
        /// Progress on a token from `window/workDoneProgress/create`.
        notification progress: Progress("$/progress", lsp::ProgressParams);
        /// Telemetry: any JSON.
        notification telemetry: Telemetry("telemetry/event", Value);
    }
}

// ---------------------------------------------------------------------------
// Our side of the conversation: the router's handlers and what they saw.
// ---------------------------------------------------------------------------

/// What the router served: the server's requests answered and its
/// notifications taken.
#[derive(Debug, Default, Clone)]
pub struct Served {
    /// `workspace/configuration` requests answered.
    pub configuration_requests: usize,
    /// The sections those requests asked for, in order.
    pub configuration_sections: Vec<Option<String>>,
    /// `client/registerCapability` requests answered.
    pub register_requests: usize,
    /// The methods registered through them.
    pub registered_methods: Vec<String>,
    /// `client/unregisterCapability` requests answered.
    pub unregister_requests: usize,
    /// `window/workDoneProgress/create` requests answered.
    pub progress_creates: usize,
    /// `window/logMessage` notifications.
    pub log_messages: usize,
    /// `window/showMessage` notifications.
    pub show_messages: usize,
    /// `$/progress` notifications.
    pub progress_notifications: usize,
    /// `telemetry/event` notifications.
    pub telemetry_events: usize,
    /// `textDocument/publishDiagnostics`: the latest diagnostics per URI.
    pub diagnostics: HashMap<String, Vec<lsp::Diagnostic>>,
}

impl Served {
    /// The server's requests this router answered, whatever the method.
    pub fn requests(&self) -> usize {
        self.configuration_requests
            + self.register_requests
            + self.unregister_requests
            + self.progress_creates
    }
}

/// The client's handlers. Cheap to clone; clones share what they record.
#[derive(Clone, Default)]
pub struct ClientHandlers {
    served: Arc<Mutex<Served>>,
    /// Bumped on every `publishDiagnostics`, so a session can wait for one.
    diagnostics_seen: Arc<watch::Sender<usize>>,
}

impl ClientHandlers {
    /// A snapshot of what has been served so far.
    pub fn served(&self) -> Served {
        lock(&self.served).clone()
    }

    fn record(&self, f: impl FnOnce(&mut Served)) {
        f(&mut lock(&self.served));
    }

    /// Waits until diagnostics for `uri` have been published, or `limit` passes.
    async fn diagnostics_for(&self, uri: &str, limit: Duration) -> bool {
        let mut seen = self.diagnostics_seen.subscribe();
        let wait = async {
            loop {
                if lock(&self.served).diagnostics.contains_key(uri) {
                    return;
                }
                if seen.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
            && lock(&self.served).diagnostics.contains_key(uri)
    }
}

/// The settings this client hands out, per section: pyright asks for
/// `python` (reading `python.analysis` inside it) and `pyright`. Any other
/// section gets `null` ("no settings"), as the specification allows.
fn settings_for(section: Option<&str>) -> Value {
    let analysis = json!({
        "typeCheckingMode": "standard",
        "diagnosticMode": "openFilesOnly",
    });
    match section {
        Some("python") => json!({ "analysis": analysis }),
        Some("python.analysis") => analysis,
        Some("pyright") => json!({}),
        _ => Value::Null,
    }
}

impl LspClientHandler for ClientHandlers {
    async fn configuration(
        &self,
        params: lsp::ConfigurationParams,
        _: RequestContext,
    ) -> Result<Vec<Value>, ErrorObject> {
        let answer = params
            .items
            .iter()
            .map(|item| settings_for(item.section.as_deref()))
            .collect();
        self.record(|s| {
            s.configuration_requests += 1;
            s.configuration_sections
                .extend(params.items.into_iter().map(|i| i.section));
        });
        Ok(answer)
    }

    async fn register_capability(
        &self,
        params: lsp::RegistrationParams,
        _: RequestContext,
    ) -> Result<(), ErrorObject> {
        self.record(|s| {
            s.register_requests += 1;
            s.registered_methods
                .extend(params.registrations.into_iter().map(|r| r.method));
        });
        Ok(())
    }

    async fn unregister_capability(
        &self,
        _: lsp::UnregistrationParams,
        _: RequestContext,
    ) -> Result<(), ErrorObject> {
        self.record(|s| s.unregister_requests += 1);
        Ok(())
    }

    async fn work_done_progress_create(
        &self,
        _: lsp::WorkDoneProgressCreateParams,
        _: RequestContext,
    ) -> Result<(), ErrorObject> {
        self.record(|s| s.progress_creates += 1);
        Ok(())
    }

    async fn log_message(&self, _: lsp::LogMessageParams, _: RequestContext) {
        self.record(|s| s.log_messages += 1);
    }

    async fn show_message(&self, _: lsp::ShowMessageParams, _: RequestContext) {
        self.record(|s| s.show_messages += 1);
    }

    async fn publish_diagnostics(&self, params: lsp::PublishDiagnosticsParams, _: RequestContext) {
        self.record(|s| {
            s.diagnostics
                .insert(params.uri.as_str().to_owned(), params.diagnostics);
        });
        self.diagnostics_seen.send_modify(|n| *n += 1);
    }

    async fn progress(&self, _: lsp::ProgressParams, _: RequestContext) {
        self.record(|s| s.progress_notifications += 1);
    }

    async fn telemetry(&self, _: Value, _: RequestContext) {
        self.record(|s| s.telemetry_events += 1);
    }
}

use jsonrpc_core::sync::lock;

// ---------------------------------------------------------------------------
// A tap on the child's pipes: every frame that crossed them, in order.
// ---------------------------------------------------------------------------

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Written by us to the server's stdin.
    ToServer,
    /// Read by us from the server's stdout.
    FromServer,
}

/// One frame as it crossed a pipe.
#[derive(Debug, Clone)]
pub struct WireFrame {
    /// Which way it went.
    pub dir: Dir,
    /// Its JSON body.
    pub body: Value,
}

impl WireFrame {
    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        self.body.get("method").and_then(Value::as_str)
    }

    /// The id of a request or reply.
    pub fn id(&self) -> Option<&Value> {
        self.body.get("id")
    }

    /// True for a request (a method and an id).
    pub fn is_request(&self) -> bool {
        self.method().is_some() && self.id().is_some()
    }

    /// True for a reply (an id and no method).
    pub fn is_reply(&self) -> bool {
        self.method().is_none() && self.id().is_some()
    }
}

#[derive(Default)]
struct WireLog {
    frames: Vec<WireFrame>,
    /// Frames the tap could not read: a framing error, or a body that is not JSON.
    errors: Vec<String>,
    to_server: BytesMut,
    from_server: BytesMut,
    to_codec: ContentLengthCodec,
    from_codec: ContentLengthCodec,
}

/// Every frame that crossed the child's pipes, decoded with our own
/// [`ContentLengthCodec`] from the exact bytes written and read.
#[derive(Clone)]
pub struct Wire {
    log: Arc<Mutex<WireLog>>,
    /// How many frames have been logged.
    count: Arc<watch::Sender<usize>>,
}

impl Default for Wire {
    fn default() -> Self {
        Wire {
            log: Arc::default(),
            count: Arc::new(watch::channel(0).0),
        }
    }
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = lock(&self.log);
        f.debug_struct("Wire")
            .field("frames", &log.frames.len())
            .field("errors", &log.errors)
            .finish()
    }
}

impl Wire {
    fn record(&self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut log = lock(&self.log);
        let log = &mut *log;
        let (buf, codec) = match dir {
            Dir::ToServer => (&mut log.to_server, &mut log.to_codec),
            Dir::FromServer => (&mut log.from_server, &mut log.from_codec),
        };
        buf.extend_from_slice(bytes);
        let mut added = Vec::new();
        loop {
            match codec.decode(buf) {
                Ok(Some(Frame::Complete(body))) => match serde_json::from_slice(&body) {
                    Ok(body) => added.push(WireFrame { dir, body }),
                    Err(e) => log
                        .errors
                        .push(format!("{dir:?}: a body that is not JSON: {e}")),
                },
                Ok(Some(Frame::Oversized(e))) => log.errors.push(format!("{dir:?}: {e}")),
                Ok(None) => break,
                Err(e) => {
                    log.errors.push(format!("{dir:?}: {e}"));
                    buf.clear();
                    break;
                }
            }
        }
        if !added.is_empty() {
            log.frames.extend(added);
            let n = log.frames.len();
            self.count.send_replace(n);
        }
    }

    /// Every frame so far, in the order each pipe carried them.
    pub fn frames(&self) -> Vec<WireFrame> {
        lock(&self.log).frames.clone()
    }

    /// What the tap could not decode (empty on a healthy connection).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.log).errors.clone()
    }

    /// The first frame, from position `from` on, that `pred` accepts, with
    /// its position.
    pub fn find(
        &self,
        from: usize,
        pred: impl Fn(&WireFrame) -> bool,
    ) -> Option<(usize, WireFrame)> {
        let log = lock(&self.log);
        log.frames
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, f)| pred(f))
            .map(|(i, f)| (i, f.clone()))
    }

    /// Waits for the first frame, from position `from` on, that `pred`
    /// accepts; gives its position and the frame.
    pub async fn wait_for(
        &self,
        from: usize,
        limit: Duration,
        pred: impl Fn(&WireFrame) -> bool,
    ) -> Option<(usize, WireFrame)> {
        let mut count = self.count.subscribe();
        let wait = async {
            loop {
                if let Some(found) = self.find(from, &pred) {
                    return Some(found);
                }
                if count.changed().await.is_err() {
                    return self.find(from, &pred);
                }
            }
        };
        tokio::time::timeout(limit, wait).await.ok().flatten()
    }

    /// How many frames have been logged.
    pub fn len(&self) -> usize {
        lock(&self.log).frames.len()
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The numeric ids of the requests that went `dir`.
    pub fn request_ids(&self, dir: Dir) -> BTreeSet<u64> {
        lock(&self.log)
            .frames
            .iter()
            .filter(|f| f.dir == dir && f.is_request())
            .filter_map(|f| f.id().and_then(Value::as_u64))
            .collect()
    }

    /// The requests that went `dir`, each as `method#id` and how it was
    /// answered (`result`, the error code, or `unanswered`).
    pub fn requests(&self, dir: Dir) -> Vec<(String, String)> {
        let frames = self.frames();
        frames
            .iter()
            .filter(|f| f.dir == dir && f.is_request())
            .map(|req| {
                let reply = frames
                    .iter()
                    .find(|f| f.dir != dir && f.is_reply() && f.id() == req.id());
                let outcome = match reply {
                    None => "unanswered".to_owned(),
                    Some(r) => match r.body.pointer("/error/code") {
                        Some(code) => format!("error {code}"),
                        None => "result".to_owned(),
                    },
                };
                let id = req.id().map(Value::to_string).unwrap_or_default();
                (
                    format!("{}#{id}", req.method().unwrap_or_default()),
                    outcome,
                )
            })
            .collect()
    }

    /// Requests that went `dir` without exactly one reply the other way with
    /// the same id, as `(method, id, replies)`.
    pub fn unanswered(&self, dir: Dir) -> Vec<(String, Value, usize)> {
        let frames = self.frames();
        frames
            .iter()
            .filter(|f| f.dir == dir && f.is_request())
            .filter_map(|req| {
                let replies = frames
                    .iter()
                    .filter(|f| f.dir != dir && f.is_reply() && f.id() == req.id())
                    .count();
                (replies != 1).then(|| {
                    let method = req.method().unwrap_or_default().to_owned();
                    (method, req.id().cloned().unwrap_or_default(), replies)
                })
            })
            .collect()
    }
}

/// The child's stdin, with every byte written logged to a [`Wire`].
struct TapWrite<W> {
    inner: W,
    wire: Wire,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for TapWrite<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.wire.record(Dir::ToServer, &buf[..n]);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The child's stdout, with every byte read logged to a [`Wire`].
struct TapRead<R> {
    inner: R,
    wire: Wire,
}

impl<R: AsyncRead + Unpin> AsyncRead for TapRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            self.wire.record(Dir::FromServer, &buf.filled()[before..]);
        }
        poll
    }
}

// ---------------------------------------------------------------------------
// Which server, and where the fixture project is.
// ---------------------------------------------------------------------------

/// How to start a language server that speaks LSP on its stdin and stdout.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// A short name for messages.
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The workspace root (this package's directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The small Python project the session opens.
pub fn fixture_project() -> PathBuf {
    workspace_root().join("tests/peers/lsp/project")
}

/// The script that installs the servers this example knows by name.
pub const INSTALL_HINT: &str =
    "install it with scripts/install-test-deps.sh (or just scripts/install/lsp.sh)";

impl ServerCommand {
    /// pyright, as `scripts/install/lsp.sh` installs it.
    pub fn pyright() -> Self {
        ServerCommand {
            name: "pyright".into(),
            program: workspace_root()
                .join("target/peers/node/node_modules/.bin/pyright-langserver"),
            args: vec!["--stdio".into()],
        }
    }

    /// jedi-language-server, as `scripts/install/lsp.sh` installs it.
    pub fn jedi() -> Self {
        ServerCommand {
            name: "jedi-language-server".into(),
            program: workspace_root().join("target/peers/venv/bin/jedi-language-server"),
            args: Vec::new(),
        }
    }

    /// `pyright`, `jedi`, or a command line (split at whitespace).
    pub fn parse(spec: &str) -> Result<Self, String> {
        match spec {
            "pyright" => Ok(Self::pyright()),
            "jedi" | "jedi-language-server" => Ok(Self::jedi()),
            other => {
                let mut words = other.split_whitespace().map(str::to_owned);
                let program = words.next().ok_or("an empty server command")?;
                Ok(ServerCommand {
                    name: program.clone(),
                    program: program.into(),
                    args: words.collect(),
                })
            }
        }
    }

    /// An error saying how to install the server, if its program is missing.
    /// (A bare program name is looked up on `PATH` when started instead.)
    pub fn check_installed(&self) -> Result<(), String> {
        let bare = self.program.components().count() == 1 && self.program.is_relative();
        if bare || self.program.is_file() {
            return Ok(());
        }
        Err(format!(
            "{} is not installed: {} is missing; {INSTALL_HINT}",
            self.name,
            self.program.display()
        ))
    }
}

/// `file://` URI of an absolute path, percent-encoding what a URI path cannot
/// hold as is.
pub fn file_uri(path: &Path) -> lsp::Uri {
    let mut text = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                text.push(char::from(byte))
            }
            other => text.push_str(&format!("%{other:02X}")),
        }
    }
    text.parse().expect("a percent-encoded file URI parses")
}

/// The LSP position (UTF-16 units; the fixture is ASCII) just after the first
/// `needle` in `text`, moved back by `back` characters.
fn position_after(text: &str, needle: &str, back: u32) -> Option<lsp::Position> {
    text.lines().enumerate().find_map(|(line, content)| {
        let col = content.find(needle)? + needle.len();
        Some(lsp::Position::new(
            u32::try_from(line).ok()?,
            u32::try_from(col).ok()?.checked_sub(back)?,
        ))
    })
}

// ---------------------------------------------------------------------------
// The session.
// ---------------------------------------------------------------------------

/// Bounds on the session's steps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Each call's deadline (the peer's `call_timeout`); `initialize` gets
    /// the same, and pyright can take a few seconds there.
    pub call: Duration,
    /// How long to wait for diagnostics of the opened file, for the
    /// server's reply to the dropped call, and for the child to exit.
    pub wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call: Duration::from_secs(60),
            wait: Duration::from_secs(30),
        }
    }
}

/// What happened to the call that was dropped.
#[derive(Debug, Clone)]
pub struct DroppedCall {
    /// The dropped call's method.
    pub method: &'static str,
    /// Its id.
    pub id: u64,
    /// Tries needed: a try is repeated when the reply wins the race with the
    /// drop (then no cancel is due).
    pub tries: u32,
    /// Where the request and the `$/cancelRequest` for it are in the wire
    /// log (the request comes first).
    pub request_at: usize,
    /// See `request_at`.
    pub cancel_at: usize,
    /// The `$/cancelRequest` params as written.
    pub cancel_params: Value,
    /// The server's reply to the cancelled id, as read off the wire: an LSP
    /// server answers every request, a cancelled one with -32800
    /// (RequestCancelled) if it honours the cancel in time.
    pub server_reply: Value,
}

impl DroppedCall {
    /// True if the server answered the cancelled call with RequestCancelled.
    pub fn honoured(&self) -> bool {
        self.server_reply
            .pointer("/error/code")
            .and_then(Value::as_i64)
            == Some(lsp::error_codes::REQUEST_CANCELLED)
    }
}

/// What one session produced.
#[derive(Debug)]
pub struct SessionReport {
    /// The server's name.
    pub server: String,
    /// What `initialize` returned.
    pub initialize: lsp::InitializeResult,
    /// The completion items at the end of `os.pa`.
    pub completion: Vec<lsp::CompletionItem>,
    /// The hover over the call of `greet`.
    pub hover: Option<lsp::Hover>,
    /// The hover's text, whatever form its contents took.
    pub hover_text: String,
    /// The dropped call and its `$/cancelRequest`.
    pub dropped: DroppedCall,
    /// What the router served.
    pub served: Served,
    /// True if the opened file's diagnostics arrived before shutdown.
    pub diagnostics_arrived: bool,
    /// The connection's counters once it closed.
    pub stats: PeerStats,
    /// Why the connection closed.
    pub close_reason: CloseReason,
    /// The child's exit status.
    pub exit_status: ExitStatus,
    /// Every frame that crossed the pipes.
    pub wire: Wire,
    /// What the server wrote to stderr.
    pub stderr: String,
}

impl SessionReport {
    /// Ids that both sides used for their own requests in this session.
    pub fn shared_request_ids(&self) -> Vec<u64> {
        let ours = self.wire.request_ids(Dir::ToServer);
        let theirs = self.wire.request_ids(Dir::FromServer);
        ours.intersection(&theirs).copied().collect()
    }
}

/// The text of a hover, whatever form its contents took.
pub fn hover_text(hover: &lsp::Hover) -> String {
    fn marked(s: &lsp::MarkedString) -> String {
        match s {
            lsp::MarkedString::String(s) => s.clone(),
            lsp::MarkedString::LanguageString(ls) => ls.value.clone(),
        }
    }
    match &hover.contents {
        lsp::HoverContents::Scalar(s) => marked(s),
        lsp::HoverContents::Array(list) => list.iter().map(marked).collect::<Vec<_>>().join("\n"),
        lsp::HoverContents::Markup(m) => m.value.clone(),
    }
}

/// The items of a completion response, whichever form it took.
pub fn completion_items(response: Option<lsp::CompletionResponse>) -> Vec<lsp::CompletionItem> {
    match response {
        None => Vec::new(),
        Some(lsp::CompletionResponse::Array(items)) => items,
        Some(lsp::CompletionResponse::List(list)) => list.items,
    }
}

/// What the client tells the server it can do: enough for the servers to
/// send the requests this example answers.
fn client_capabilities() -> lsp::ClientCapabilities {
    let markdown_first = Some(vec![lsp::MarkupKind::Markdown, lsp::MarkupKind::PlainText]);
    lsp::ClientCapabilities {
        workspace: Some(lsp::WorkspaceClientCapabilities {
            configuration: Some(true),
            workspace_folders: Some(true),
            did_change_watched_files: Some(lsp::DidChangeWatchedFilesClientCapabilities {
                dynamic_registration: Some(true),
                relative_pattern_support: Some(true),
            }),
            did_change_configuration: Some(lsp::DidChangeConfigurationClientCapabilities {
                dynamic_registration: Some(true),
            }),
            ..Default::default()
        }),
        text_document: Some(lsp::TextDocumentClientCapabilities {
            synchronization: Some(lsp::TextDocumentSyncClientCapabilities {
                dynamic_registration: Some(false),
                ..Default::default()
            }),
            completion: Some(lsp::CompletionClientCapabilities {
                completion_item: Some(lsp::CompletionItemCapability {
                    documentation_format: markdown_first.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            hover: Some(lsp::HoverClientCapabilities {
                dynamic_registration: Some(false),
                content_format: markdown_first,
            }),
            publish_diagnostics: Some(lsp::PublishDiagnosticsClientCapabilities::default()),
            ..Default::default()
        }),
        window: Some(lsp::WindowClientCapabilities {
            work_done_progress: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A child's stderr, collected in the background.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    const KEEP: usize = 64 * 1024;
    let text = Arc::new(Mutex::new(String::new()));
    if let Some(mut stderr) = child.stderr.take() {
        let text = text.clone();
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                let mut all = lock(&text);
                all.push_str(&String::from_utf8_lossy(&chunk[..n]));
                if all.len() > 2 * KEEP {
                    let cut = all.len() - KEEP;
                    let cut = (cut..all.len())
                        .find(|&i| all.is_char_boundary(i))
                        .unwrap_or(0);
                    all.drain(..cut);
                }
            }
        });
    }
    text
}

/// Runs `fut` within `limit`, naming the step in the error.
async fn step<T, E: std::fmt::Display>(
    name: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{name}: {e}")),
        Err(_) => Err(format!("{name}: no answer within {limit:?}")),
    }
}

/// Runs the whole session against `server` with the project at `project`
/// as its workspace folder, opening `app.py`.
///
/// The error says which step failed and ends with the server's stderr.
pub async fn run_session(
    server: &ServerCommand,
    project: &Path,
    limits: Limits,
) -> Result<SessionReport, String> {
    server.check_installed()?;
    let mut child = Command::new(&server.program)
        .args(&server.args)
        .current_dir(project)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "starting {} ({}): {e}; {INSTALL_HINT}",
                server.name,
                server.program.display()
            )
        })?;
    let stderr = collect_stderr(&mut child);
    let result = drive(server, project, limits, &mut child).await;
    let stderr_text = lock(&stderr).clone();
    match result {
        Ok(mut report) => {
            report.stderr = stderr_text;
            Ok(report)
        }
        Err(e) => {
            let _ = child.start_kill();
            Err(format!(
                "{} session failed: {e}\n--- {} stderr ---\n{stderr_text}",
                server.name, server.name
            ))
        }
    }
}

async fn drive(
    server: &ServerCommand,
    project: &Path,
    limits: Limits,
    child: &mut Child,
) -> Result<SessionReport, String> {
    let wire = Wire::default();
    let stdin = child.stdin.take().ok_or("the child has no stdin pipe")?;
    let stdout = child.stdout.take().ok_or("the child has no stdout pipe")?;

    // The client's side: LSP is JSON-RPC 2.0 only; the handlers answer the
    // server's requests; a dropped call tells the server with `$/cancelRequest`.
    let handlers = ClientHandlers::default();
    let config = PeerConfig::default()
        .dialect(DialectMode::V2)
        .call_timeout(Some(limits.call))
        .wire_cancel(Some(WireCancel::lsp()));
    let peer = Peer::new(ContentLengthCodec::new())
        .router(handlers.clone().into_router())
        .config(config)
        .spawn_split(
            TapRead {
                inner: stdout,
                wire: wire.clone(),
            },
            TapWrite {
                inner: stdin,
                wire: wire.clone(),
            },
        );
    let client = LspClient::new(peer.clone());

    // 1. initialize, initialized.
    let project = project
        .canonicalize()
        .map_err(|e| format!("the project {}: {e}", project.display()))?;
    let root_uri = file_uri(&project);
    #[allow(deprecated)] // root_uri: older servers still read it
    let params = lsp::InitializeParams {
        process_id: Some(std::process::id()),
        root_uri: Some(root_uri.clone()),
        workspace_folders: Some(vec![lsp::WorkspaceFolder {
            uri: root_uri,
            name: "project".into(),
        }]),
        capabilities: client_capabilities(),
        client_info: Some(lsp::ClientInfo {
            name: "jsonrpc-core lsp_client example".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        ..Default::default()
    };
    let initialize = step("initialize", limits.call, client.initialize(params)).await?;
    step(
        "initialized",
        limits.call,
        client.initialized(lsp::InitializedParams {}),
    )
    .await?;

    // 2. didOpen app.py.
    let path = project.join("app.py");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let uri = file_uri(&path);
    let document = lsp::TextDocumentIdentifier { uri: uri.clone() };
    step(
        "textDocument/didOpen",
        limits.call,
        client.did_open(lsp::DidOpenTextDocumentParams {
            text_document: lsp::TextDocumentItem {
                uri: uri.clone(),
                language_id: "python".into(),
                version: 1,
                text: text.clone(),
            },
        }),
    )
    .await?;

    let complete_at = position_after(&text, "here = os.pa", 0).ok_or("app.py lacks `os.pa`")?;
    let hover_at = position_after(&text, "print(greet", 2).ok_or("app.py lacks `greet(`")?;
    let completion_params = lsp::CompletionParams {
        text_document_position: lsp::TextDocumentPositionParams {
            text_document: document.clone(),
            position: complete_at,
        },
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
        context: Some(lsp::CompletionContext {
            trigger_kind: lsp::CompletionTriggerKind::INVOKED,
            trigger_character: None,
        }),
    };

    // 3. A call dropped once it is on the wire: the peer sends $/cancelRequest.
    let dropped = drop_a_call(&client, &wire, &completion_params, limits).await?;

    // 4. Completion and hover, typed.
    let completion = step(
        "textDocument/completion",
        limits.call,
        client.completion(completion_params),
    )
    .await?;
    let completion = completion_items(completion);
    let hover = step(
        "textDocument/hover",
        limits.call,
        client.hover(lsp::HoverParams {
            text_document_position_params: lsp::TextDocumentPositionParams {
                text_document: document,
                position: hover_at,
            },
            work_done_progress_params: Default::default(),
        }),
    )
    .await?;
    let hover_text = hover.as_ref().map(hover_text).unwrap_or_default();

    // The server has looked at the file once its diagnostics are out.
    let diagnostics_arrived = handlers.diagnostics_for(uri.as_str(), limits.wait).await;

    // 5. shutdown, exit; the server exits and closes its end.
    step("shutdown", limits.call, client.shutdown(())).await?;
    step("exit", limits.call, client.exit(())).await?;
    let exit_status = step("waiting for the server to exit", limits.wait, child.wait()).await?;
    let close_reason = match tokio::time::timeout(limits.wait, peer.closed()).await {
        Ok(reason) => reason,
        Err(_) => return Err("the connection did not close after the server exited".into()),
    };
    Ok(SessionReport {
        server: server.name.clone(),
        initialize,
        completion,
        hover,
        hover_text,
        dropped,
        served: handlers.served(),
        diagnostics_arrived,
        stats: peer.stats(),
        close_reason,
        exit_status,
        wire,
        stderr: String::new(),
    })
}

/// Starts a completion call, drops it as soon as its request has been
/// written to the server's stdin, and follows what comes of it on the wire:
/// the peer's `$/cancelRequest` for its id, then the server's reply to it
/// (which nobody is waiting for any more: the peer counts it as late).
///
/// It waits for the request to reach the pipe before dropping the call, so
/// that the server has the request in hand when the cancel comes and there is
/// something for it to cancel. (A call dropped while still queued is
/// cancelled too, its cancel queued right behind it: see tests/peer_lsp.rs,
/// `cancel_of_a_queued_call_goes_out_after_its_request`.)
async fn drop_a_call(
    client: &LspClient,
    wire: &Wire,
    params: &lsp::CompletionParams,
    limits: Limits,
) -> Result<DroppedCall, String> {
    const TRIES: u32 = 5;
    let method = Completion::NAME;
    let late_before = client.caller().stats().late_replies;
    for tries in 1..=TRIES {
        let from = wire.len();
        let mut call = Box::pin(client.completion(params.clone()));
        let sent = async {
            wire.wait_for(from, limits.call, |f| {
                f.dir == Dir::ToServer && f.method() == Some(method) && f.is_request()
            })
            .await
        };
        let (request_at, request) = tokio::select! {
            biased;
            sent = sent => sent.ok_or("the completion request never reached the wire")?,
            // The reply beat us to it: nothing to cancel. Try again.
            _ = &mut call => continue,
        };
        drop(call);
        let id = request
            .id()
            .and_then(Value::as_u64)
            .ok_or("our request has no numeric id")?;
        let is_cancel = |f: &WireFrame| {
            f.dir == Dir::ToServer
                && f.method() == Some("$/cancelRequest")
                && f.body.pointer("/params/id").and_then(Value::as_u64) == Some(id)
        };
        let is_reply =
            |f: &WireFrame| f.dir == Dir::FromServer && f.is_reply() && f.id() == request.id();
        // The cancel goes out at once, unless the reply got in first.
        let cancel = wire
            .wait_for(0, Duration::from_secs(5), |f| is_cancel(f))
            .await;
        let Some((cancel_at, cancel)) = cancel else {
            if wire.find(0, is_reply).is_some() {
                continue;
            }
            return Err(format!("dropping call {id} sent no $/cancelRequest"));
        };
        let (_, reply) = wire
            .wait_for(0, limits.wait, |f| is_reply(f))
            .await
            .ok_or_else(|| format!("the server never answered the cancelled call {id}"))?;
        // The reader hands the reply to the peer just after the tap logs it.
        let counted = async {
            while client.caller().stats().late_replies == late_before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(limits.wait, counted)
            .await
            .map_err(|_| format!("the reply to the dropped call {id} was not counted as late"))?;
        return Ok(DroppedCall {
            method,
            id,
            tries,
            request_at,
            cancel_at,
            cancel_params: cancel.body.get("params").cloned().unwrap_or_default(),
            server_reply: reply.body,
        });
    }
    Err(format!(
        "the server answered {TRIES} calls before they could be dropped"
    ))
}

// ---------------------------------------------------------------------------
// The command line.
// ---------------------------------------------------------------------------

/// Talk LSP to a language server over its stdio.
#[derive(clap::Parser, Debug)]
struct Args {
    /// `pyright`, `jedi`, or a command line that starts a server on stdio.
    #[arg(long, default_value = "pyright")]
    server: String,
    /// The workspace folder; it must hold `app.py` like the fixture project.
    #[arg(long, default_value_os_t = fixture_project())]
    project: PathBuf,
}

fn print_report(report: &SessionReport) {
    let info = report.initialize.server_info.as_ref();
    println!(
        "server: {} {}",
        info.map_or(report.server.as_str(), |i| i.name.as_str()),
        info.and_then(|i| i.version.as_deref()).unwrap_or("")
    );
    let labels: Vec<&str> = report
        .completion
        .iter()
        .map(|i| i.label.as_str())
        .filter(|l| l.starts_with("pa"))
        .collect();
    println!(
        "completion at `os.pa`: {} items; starting with `pa`: {labels:?}",
        report.completion.len()
    );
    println!(
        "hover over `greet`:\n    {}",
        report.hover_text.replace('\n', "\n    ")
    );
    let d = &report.dropped;
    println!(
        "dropped {} call id {}: $/cancelRequest {} sent (frame {} after the request at frame {}); \
         the server answered it {} (counted as a late reply)",
        d.method,
        d.id,
        d.cancel_params,
        d.cancel_at,
        d.request_at,
        if d.honoured() {
            "with RequestCancelled".to_owned()
        } else {
            format!("anyway: {}", truncate(&d.server_reply.to_string(), 80))
        },
    );
    let s = &report.served;
    println!(
        "served the server's requests: {} workspace/configuration (sections {:?}), \
         {} client/registerCapability ({:?}), {} window/workDoneProgress/create",
        s.configuration_requests,
        s.configuration_sections,
        s.register_requests,
        s.registered_methods,
        s.progress_creates
    );
    println!(
        "took notifications: {} logMessage, {} showMessage, {} $/progress, diagnostics for {} documents",
        s.log_messages,
        s.show_messages,
        s.progress_notifications,
        s.diagnostics.len()
    );
    println!(
        "the server's requests and our answers: {:?}",
        report.wire.requests(Dir::FromServer)
    );
    println!(
        "ids both sides used for their own requests: {:?}",
        report.shared_request_ids()
    );
    println!("stats: {:?}", report.stats);
    println!(
        "connection closed ({}); server exited with {}",
        report.close_reason, report.exit_status
    );
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let server = match ServerCommand::parse(&args.server) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match run_session(&server, &args.project, Limits::default()).await {
        Ok(report) => {
            print_report(&report);
            if report.exit_status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
