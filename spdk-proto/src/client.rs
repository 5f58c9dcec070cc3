//! A typed client for an SPDK target's JSON-RPC socket.
//!
//! One connection carries many calls at once: the target may answer them in
//! any order, and replies are matched by id. The client is cheap to clone
//! and safe to share between tasks.

use std::time::Duration;

use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_core::{
    BatchCall, BatchReplies, ErrorObject, Method, Peer, PeerConfig, PeerHandle, Profile, RawJson,
};
use jsonrpc_transport::{connect, ConnectOptions, Endpoint, EndpointError, TransportError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::SpdkError;

/// Where SPDK targets listen unless told otherwise (`spdk_tgt -r`).
pub const DEFAULT_SOCKET: &str = "/var/tmp/spdk.sock";

/// The largest request an SPDK target reads (its receive buffer since
/// v26.05; 32 KiB before). A larger one resets the connection.
pub const MAX_REQUEST: usize = 256 * 1024;

/// The largest reply an SPDK target writes.
pub const MAX_REPLY: usize = 32 * 1024 * 1024;

/// How a [`SpdkClient`] connects and calls.
///
/// ```
/// use std::time::Duration;
/// use spdk_proto::ClientOptions;
/// let options = ClientOptions::default()
///     .call_timeout(Some(Duration::from_secs(5)))
///     .max_request(32 * 1024); // a target older than v26.05
/// assert_eq!(options.get_max_request(), 32 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    call_timeout: Option<Duration>,
    connect_timeout: Duration,
    max_request: usize,
    max_reply: usize,
    max_pending_calls: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            call_timeout: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            max_request: MAX_REQUEST,
            max_reply: MAX_REPLY,
            max_pending_calls: 4096,
        }
    }
}

impl ClientOptions {
    /// The deadline of each call (a batch counts as one), unless the call
    /// sets its own. Default: 60 s, as SPDK's own client.
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long connecting may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest request the target reads: larger ones fail with
    /// [`SpdkError::RequestTooLarge`] before they are sent. Default:
    /// [`MAX_REQUEST`].
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.max_request = bytes;
        self
    }

    /// The largest reply accepted; a larger one fails its call. Default:
    /// [`MAX_REPLY`].
    pub fn max_reply(mut self, bytes: usize) -> Self {
        self.max_reply = bytes;
        self
    }

    /// How many calls may wait for replies at once; more wait their turn.
    /// Default: 4096.
    pub fn max_pending_calls(mut self, calls: usize) -> Self {
        self.max_pending_calls = calls;
        self
    }

    /// The current `max_request`.
    pub fn get_max_request(&self) -> usize {
        self.max_request
    }

    /// The connection settings these options make.
    fn peer_config(&self) -> PeerConfig {
        PeerConfig::default()
            .profile(Profile::spdk())
            .call_timeout(self.call_timeout)
            .max_outgoing_frame(Some(self.max_request))
            .max_pending_calls(self.max_pending_calls)
    }
}

/// A client of one SPDK target.
///
/// ```no_run
/// use spdk_proto::methods::{BdevMallocCreate, BdevMallocCreateParams, SpdkGetVersion};
/// use spdk_proto::SpdkClient;
///
/// # async fn demo() -> Result<(), spdk_proto::SpdkError> {
/// let spdk = SpdkClient::connect("/var/tmp/spdk.sock").await?;
/// let version = spdk.call::<SpdkGetVersion>(()).await?;
/// let mut params = BdevMallocCreateParams::new(512, 131072);
/// params.name = Some("Malloc0".into());
/// let name = spdk.call::<BdevMallocCreate>(params).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SpdkClient {
    peer: PeerHandle,
    /// For the calls made with raw params, which take their deadline as given.
    call_timeout: Option<Duration>,
}

impl SpdkClient {
    /// Connects to a target with the default options.
    ///
    /// `target` is a socket path (`/var/tmp/spdk.sock`; one starting with
    /// `/` or `.` may hold colons), or an endpoint: `unix:PATH`,
    /// `tcp:HOST:PORT` (a target behind SPDK's `rpc_http_proxy` or a TCP
    /// forwarder), `ssl:HOST:PORT`.
    pub async fn connect(target: &str) -> Result<Self, SpdkError> {
        Self::connect_with(target, &ClientOptions::default()).await
    }

    /// Connects to a target with `options`.
    pub async fn connect_with(target: &str, options: &ClientOptions) -> Result<Self, SpdkError> {
        let endpoint = parse_target(target).map_err(TransportError::from)?;
        let connect_options = ConnectOptions::default().timeout(options.connect_timeout);
        let stream = connect(&endpoint, &connect_options).await?;
        Ok(SpdkClient {
            peer: stream.into_peer(Self::peer_for(options)),
            call_timeout: options.call_timeout,
        })
    }

    /// A client over a connection already made (any byte stream: a Unix
    /// socket, an in-memory pipe in tests, ...).
    pub fn over<T>(io: T, options: &ClientOptions) -> Self
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        SpdkClient {
            peer: Self::peer_for(options).spawn(io),
            call_timeout: options.call_timeout,
        }
    }

    fn peer_for(options: &ClientOptions) -> Peer<JsonStreamCodec> {
        Peer::new(JsonStreamCodec::new().with_max_frame(options.max_reply))
            .config(options.peer_config())
    }

    /// Calls method `M` and waits for its typed result.
    pub async fn call<M: Method<Error = ErrorObject>>(
        &self,
        params: M::Params,
    ) -> Result<M::Result, SpdkError> {
        self.peer
            .call::<M>(params)
            .await
            .map_err(|e| SpdkError::of_call(M::NAME, e))
    }

    /// Like [`call`](Self::call) with its own deadline (`None`: wait
    /// forever). When the deadline passes the call is forgotten: a reply
    /// that comes later is dropped.
    pub async fn call_with_timeout<M: Method<Error = ErrorObject>>(
        &self,
        params: M::Params,
        timeout: Option<Duration>,
    ) -> Result<M::Result, SpdkError> {
        self.peer
            .call_with_timeout::<M>(params, timeout)
            .await
            .map_err(|e| SpdkError::of_call(M::NAME, e))
    }

    /// Calls a method by name, for methods this crate has no type for (a
    /// target's own plugins). `params` of `()` send none.
    pub async fn call_by_name<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, SpdkError> {
        self.peer
            .call_raw_typed(method, params)
            .await
            .map_err(|e| SpdkError::of_call(method.to_owned(), e))
    }

    /// Calls `method` with params that are JSON already, returning the
    /// result as JSON; used to replay configuration files.
    pub async fn call_raw(
        &self,
        method: &str,
        params: Option<RawJson>,
    ) -> Result<RawJson, SpdkError> {
        let timeout = self.call_timeout;
        self.peer
            .call_raw(method, params, timeout)
            .await
            .map_err(|e| SpdkError::of_call(method.to_owned(), e.decode_rpc()))
    }

    /// The deadline each call gets unless it is given its own.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// Starts a batch: calls sent together as one JSON array (targets since
    /// v26.05; older ones refuse arrays).
    pub fn batch(&self) -> SpdkBatch<'_> {
        SpdkBatch {
            inner: self.peer.batch(),
            methods: Vec::new(),
        }
    }

    /// The connection underneath, for its statistics, its close reason, or
    /// calls of your own.
    pub fn peer(&self) -> &PeerHandle {
        &self.peer
    }

    /// Closes the connection; calls still waiting fail.
    pub fn close(&self) {
        self.peer.close();
    }
}

/// Reads a target as SPDK tools take it: a path is a Unix socket. A path
/// is anything without a colon, or anything starting with `/` or `.`
/// (so `/run/a:b.sock` is a path, not an endpoint).
fn parse_target(target: &str) -> Result<Endpoint, EndpointError> {
    let is_path = !target.contains(':') || target.starts_with(['/', '.']);
    if is_path {
        Ok(Endpoint::Unix(target.into()))
    } else {
        target.parse()
    }
}

/// Calls to send to the target as one batch; see [`SpdkClient::batch`].
///
/// ```no_run
/// use spdk_proto::methods::{BdevGetBdevs, BdevGetBdevsParams, SpdkGetVersion};
/// # async fn demo(spdk: spdk_proto::SpdkClient) -> Result<(), spdk_proto::SpdkError> {
/// let mut batch = spdk.batch();
/// let version = batch.call::<SpdkGetVersion>(())?;
/// let bdevs = batch.call::<BdevGetBdevs>(BdevGetBdevsParams::default())?;
/// let mut replies = batch.send().await?;
/// println!("{} has {} bdevs", replies.get(version)?.version, replies.get(bdevs)?.len());
/// # Ok(()) }
/// ```
pub struct SpdkBatch<'a> {
    inner: jsonrpc_core::Batch<'a>,
    /// The methods in the batch, to name in an error about all of them.
    methods: Vec<String>,
}

impl SpdkBatch<'_> {
    /// Adds a call to method `M`.
    pub fn call<M: Method<Error = ErrorObject>>(
        &mut self,
        params: M::Params,
    ) -> Result<BatchCall<M>, SpdkError> {
        let call = self
            .inner
            .call::<M>(params)
            .map_err(|e| SpdkError::of_call(M::NAME, e))?;
        self.methods.push(M::NAME.to_owned());
        Ok(call)
    }

    /// Adds a call by name with params that are JSON already (a plugin's
    /// method, a configuration file's entry).
    pub fn call_raw(&mut self, method: &str, params: Option<RawJson>) -> RawBatchCall {
        self.methods.push(method.to_owned());
        RawBatchCall {
            inner: self.inner.call_raw(method, params),
            method: method.to_owned(),
        }
    }

    /// Sends the batch and waits for every reply, within the client's
    /// call deadline for the whole batch.
    pub async fn send(self) -> Result<SpdkReplies, SpdkError> {
        let name = batch_name(&self.methods);
        let replies = self
            .inner
            .send()
            .await
            .map_err(|e| SpdkError::of_call(name, e))?;
        Ok(SpdkReplies { inner: replies })
    }

    /// Like [`send`](Self::send) with a deadline of its own for the whole
    /// batch (`None`: wait forever).
    pub async fn send_with_timeout(
        self,
        timeout: Option<Duration>,
    ) -> Result<SpdkReplies, SpdkError> {
        let name = batch_name(&self.methods);
        let replies = self
            .inner
            .send_with_timeout(timeout)
            .await
            .map_err(|e| SpdkError::of_call(name, e))?;
        Ok(SpdkReplies { inner: replies })
    }

    /// How many calls the batch holds.
    pub fn len(&self) -> usize {
        self.methods.len()
    }

    /// True when nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
    }
}

/// How a batch is named in errors: its methods, the first few of them.
fn batch_name(methods: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut name = format!(
        "batch [{}",
        methods
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if methods.len() > SHOWN {
        name.push_str(&format!(", and {} more", methods.len() - SHOWN));
    }
    name.push(']');
    name
}

/// The ticket of a call added by name to an [`SpdkBatch`].
#[must_use = "a call's result is read with its ticket"]
pub struct RawBatchCall {
    inner: jsonrpc_core::RawBatchCall,
    method: String,
}

/// The replies to a sent [`SpdkBatch`].
pub struct SpdkReplies {
    inner: BatchReplies,
}

impl SpdkReplies {
    /// The typed result of the call `call` stands for.
    pub fn get<M: Method<Error = ErrorObject>>(
        &mut self,
        call: BatchCall<M>,
    ) -> Result<M::Result, SpdkError> {
        self.inner
            .get(call)
            .map_err(|e| SpdkError::of_call(M::NAME, e))
    }

    /// The result of a call added by name, as JSON.
    pub fn get_raw(&mut self, call: RawBatchCall) -> Result<RawJson, SpdkError> {
        self.inner
            .get_raw(call.inner)
            .map_err(|e| SpdkError::of_call(call.method, e.decode_rpc()))
    }
}
