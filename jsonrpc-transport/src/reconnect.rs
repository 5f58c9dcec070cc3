//! A client that stays connected: reconnects with exponential backoff and
//! re-runs a hook after every connect.
//!
//! Open vSwitch clients back off from 1 s to 8 s between attempts; those are
//! the defaults here. The hook runs on each new connection before calls are
//! let through, which is where a protocol re-establishes what lived on the
//! old connection (OVSDB monitors and locks). State changes are published as
//! a stream for whoever wants to watch them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream as FuturesStream;
use jsonrpc_core::codec::Framing;
use jsonrpc_core::{
    CallError, Caller, CloseReason, Method, NotificationMethod, NotifyError, Peer, PeerConfig,
    PeerHandle, Router,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{connect, ConnectOptions, Endpoint};

/// Where a reconnecting client stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Trying to connect.
    Connecting,
    /// Connected, and the hook has run.
    Connected,
    /// Not connected; the next attempt comes after `retry_in`.
    Disconnected {
        /// Why the last connection ended or the last attempt failed.
        reason: String,
        /// The pause before the next attempt.
        retry_in: Duration,
    },
    /// [`ReconnectingClient::close`] was called; no more attempts.
    Closed,
}

/// What calls do while there is no connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhileDisconnected {
    /// Fail at once with `CallError::ConnectionClosed(CloseReason::NotConnected)`.
    FailFast,
    /// Wait up to this long for a connection, then fail as above.
    Wait(Duration),
}

/// The hook run on each new connection; an error drops the connection and
/// counts as a failed attempt.
pub type OnConnect = Arc<
    dyn Fn(PeerHandle) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync,
>;

/// Settings of a reconnecting client.
#[derive(Clone)]
pub struct ReconnectOptions {
    /// The first pause after a failure. Default: 1 s.
    pub min_backoff: Duration,
    /// The longest pause; each failure doubles it up to this. Default: 8 s.
    pub max_backoff: Duration,
    /// How each attempt connects.
    pub connect: ConnectOptions,
    /// What calls do while disconnected. Default: fail fast.
    pub while_disconnected: WhileDisconnected,
    /// The router that serves the server's calls to us.
    pub router: Arc<Router>,
    /// Settings of each connection's peer.
    pub peer_config: PeerConfig,
}

impl Default for ReconnectOptions {
    fn default() -> Self {
        ReconnectOptions {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            connect: ConnectOptions::default(),
            while_disconnected: WhileDisconnected::FailFast,
            router: Arc::new(Router::new()),
            peer_config: PeerConfig::default(),
        }
    }
}

/// A client that reconnects by itself.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use jsonrpc_core::codec::JsonStreamCodec;
/// use jsonrpc_transport::{ReconnectOptions, ReconnectingClient};
/// let client = ReconnectingClient::spawn(
///     "tcp:127.0.0.1:6640".parse()?,
///     JsonStreamCodec::new(),
///     ReconnectOptions::default(),
///     |peer| async move {
///         // Re-create monitors, take locks, ... on every new connection.
///         let _ = peer;
///         Ok(())
///     },
/// );
/// # Ok(()) }
/// ```
///
/// Clones share one client; dropping the last clone stops it, as
/// [`close`](Self::close) does.
///
/// It is a [`Caller`], so a client that `api!` generates calls through it
/// (`KvClient::new(reconnecting)`) just as through a single connection's
/// `PeerHandle`.
#[derive(Clone)]
pub struct ReconnectingClient {
    current: watch::Receiver<Option<PeerHandle>>,
    state: watch::Receiver<ConnectionState>,
    stop: CancellationToken,
    _stop_when_dropped: Arc<tokio_util::sync::DropGuard>,
    while_disconnected: WhileDisconnected,
}

impl ReconnectingClient {
    /// Starts connecting to `endpoint` in the background.
    pub fn spawn<F, H, Fut>(
        endpoint: Endpoint,
        framing: F,
        options: ReconnectOptions,
        on_connect: H,
    ) -> Self
    where
        F: Framing + Clone,
        H: Fn(PeerHandle) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let hook: OnConnect = Arc::new(move |peer| Box::pin(on_connect(peer)));
        let (current_tx, current) = watch::channel(None);
        let (state_tx, state) = watch::channel(ConnectionState::Connecting);
        let stop = CancellationToken::new();
        let while_disconnected = options.while_disconnected;
        tokio::spawn(supervise(
            endpoint,
            framing,
            options,
            hook,
            current_tx,
            state_tx,
            stop.clone(),
        ));
        ReconnectingClient {
            current,
            state,
            _stop_when_dropped: Arc::new(stop.clone().drop_guard()),
            stop,
            while_disconnected,
        }
    }

    /// The current connection, as [`WhileDisconnected`] says to get it.
    pub async fn peer(&self) -> Result<PeerHandle, CloseReason> {
        if let Some(peer) = self.current.borrow().clone() {
            return Ok(peer);
        }
        let WhileDisconnected::Wait(limit) = self.while_disconnected else {
            return Err(CloseReason::NotConnected);
        };
        let mut current = self.current.clone();
        let wait = async move { current.wait_for(|p| p.is_some()).await.map(|p| p.clone()) };
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(Some(peer))) => Ok(peer),
            _ => Err(CloseReason::NotConnected),
        }
    }

    /// Calls `M` on the current connection.
    pub async fn call<M: Method>(
        &self,
        params: M::Params,
    ) -> Result<M::Result, CallError<M::Error>> {
        let peer = self.peer().await.map_err(CallError::ConnectionClosed)?;
        peer.call::<M>(params).await
    }

    /// Sends notification `N` on the current connection.
    pub async fn notify<N: NotificationMethod>(
        &self,
        params: N::Params,
    ) -> Result<(), NotifyError> {
        let peer = self.peer().await.map_err(CallError::ConnectionClosed)?;
        peer.notify::<N>(params).await
    }

    /// Where the client stands now.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// Every state change from now on (the current state first).
    pub fn states(&self) -> impl FuturesStream<Item = ConnectionState> + Send + 'static {
        let rx = self.state.clone();
        futures::stream::unfold((rx, true), |(mut rx, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let state = rx.borrow_and_update().clone();
            Some((state, (rx, false)))
        })
    }

    /// Stops reconnecting and closes the current connection.
    pub fn close(&self) {
        self.stop.cancel();
    }
}

/// Each call and notification goes to the connection of the moment, found as
/// [`WhileDisconnected`] says.
impl Caller for ReconnectingClient {
    fn call<M: Method>(
        &self,
        params: M::Params,
    ) -> impl Future<Output = Result<M::Result, CallError<M::Error>>> + Send {
        // Inherent methods win over trait methods: this is the client's own.
        ReconnectingClient::call::<M>(self, params)
    }

    fn notify<N: NotificationMethod>(
        &self,
        params: N::Params,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send {
        ReconnectingClient::notify::<N>(self, params)
    }
}

async fn supervise<F: Framing + Clone>(
    endpoint: Endpoint,
    framing: F,
    options: ReconnectOptions,
    hook: OnConnect,
    current: watch::Sender<Option<PeerHandle>>,
    state: watch::Sender<ConnectionState>,
    stop: CancellationToken,
) {
    let mut backoff = options.min_backoff;
    loop {
        state.send_replace(ConnectionState::Connecting);
        let fresh = framing.clone();
        let attempt = async {
            let stream = connect(&endpoint, &options.connect)
                .await
                .map_err(|e| e.to_string())?;
            let peer = stream.into_peer(
                Peer::new(fresh)
                    .router(options.router.clone())
                    .config(options.peer_config.clone()),
            );
            if let Err(e) = hook(peer.clone()).await {
                peer.close();
                return Err(format!("the on-connect hook failed: {e}"));
            }
            Ok(peer)
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = stop.cancelled() => break,
        };
        let reason = match result {
            Ok(peer) => {
                tracing::info!(%endpoint, "connected");
                backoff = options.min_backoff;
                current.send_replace(Some(peer.clone()));
                state.send_replace(ConnectionState::Connected);
                let reason = tokio::select! {
                    r = peer.closed() => r.to_string(),
                    _ = stop.cancelled() => {
                        current.send_replace(None);
                        peer.close();
                        break;
                    }
                };
                current.send_replace(None);
                reason
            }
            Err(reason) => reason,
        };
        tracing::info!(%endpoint, %reason, retry_in = ?backoff, "disconnected");
        state.send_replace(ConnectionState::Disconnected {
            reason,
            retry_in: backoff,
        });
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
    state.send_replace(ConnectionState::Closed);
}
