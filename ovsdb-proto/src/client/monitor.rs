//! Monitors as streams: `monitor`, `monitor_cond` and
//! `monitor_cond_since`, with the fallback real clients use.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use jsonrpc_core::{NotificationMethod, Subscribe, Subscription, SubscriptionError};

use crate::atom::Uuid;
use crate::condition::Condition;
use crate::error::{ErrorKind, ReplyError};
use crate::methods::{
    Monitor, MonitorCancel, MonitorCanceled, MonitorCond, MonitorCondChange, MonitorCondSince,
    Update, Update2, Update3,
};
use crate::monitor::{MonitorId, MonitorRequest, MonitorRequests, TableUpdates, TableUpdates2};
use crate::params::{
    MonitorCondChangeParams, MonitorCondSinceParams, MonitorIdParams, MonitorParams, Update2Params,
    Update3Params, UpdateParams,
};

use super::{ClientError, OvsdbClient};

/// Which monitor method a monitor uses, newest first. Each brings its
/// changes in its own notification: `update`, `update2`, `update3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MonitorMethod {
    /// `monitor_cond_since`, changes as `update3` with the last
    /// transaction id (OVS 2.12 and later).
    MonitorCondSince,
    /// `monitor_cond`, changes as `update2` (OVS 2.6 and later).
    MonitorCond,
    /// `monitor` (RFC 7047), changes as `update`: no conditions.
    Monitor,
}

impl MonitorMethod {
    /// The method's wire name.
    pub fn name(self) -> &'static str {
        match self {
            MonitorMethod::MonitorCondSince => "monitor_cond_since",
            MonitorMethod::MonitorCond => "monitor_cond",
            MonitorMethod::Monitor => "monitor",
        }
    }

    /// The older method to try when the server does not know this one.
    fn older(self) -> Option<MonitorMethod> {
        match self {
            MonitorMethod::MonitorCondSince => Some(MonitorMethod::MonitorCond),
            MonitorMethod::MonitorCond => Some(MonitorMethod::Monitor),
            MonitorMethod::Monitor => None,
        }
    }

    /// Whether the method takes conditions (and `monitor_cond_change`).
    pub fn has_conditions(self) -> bool {
        self != MonitorMethod::Monitor
    }
}

/// Everything needed to ask for a monitor again: a reconnecting layer
/// keeps this and hands it to [`OvsdbClient::resume_monitor`] on the new
/// connection, which resumes after `last_txn_id` where the server can.
///
/// ```no_run
/// use ovsdb_proto::client::{MonitorStream, OvsdbClient};
///
/// # async fn demo(old: MonitorStream) -> Result<(), ovsdb_proto::client::ClientError> {
/// // The old connection is gone; its monitor's state is not.
/// let state = old.state().clone();
/// let fresh = OvsdbClient::connect("tcp:127.0.0.1:6640").await?;
/// let resumed = fresh.resume_monitor(state).await?;
/// if resumed.found() == Some(true) {
///     // `initial()` holds only what changed while we were away.
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorState {
    /// The database.
    pub db: String,
    /// The monitor's id; the server's notifications carry it.
    pub id: MonitorId,
    /// What is watched, with the conditions as last changed.
    pub requests: MonitorRequests,
    /// The newest method to try first; after a fallback, the one the server took.
    pub method: MonitorMethod,
    /// The last transaction the client has seen (`monitor_cond_since`
    /// only; all zeros from a standalone server).
    pub last_txn_id: Option<Uuid>,
}

/// Changes, as the monitor's method reports them.
#[derive(Debug, Clone, PartialEq)]
pub enum Updates {
    /// From `monitor` (and `update`): old and new values of each row.
    Update(TableUpdates),
    /// From `monitor_cond` and `monitor_cond_since` (and `update2`,
    /// `update3`): what happened to each row, modifies as differences.
    Update2(TableUpdates2),
}

impl Updates {
    /// How many tables have changes.
    pub fn len(&self) -> usize {
        match self {
            Updates::Update(u) => u.len(),
            Updates::Update2(u) => u.len(),
        }
    }

    /// Whether no table has changes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows of `table` that changed.
    pub fn rows(&self, table: &str) -> Vec<Uuid> {
        match self {
            Updates::Update(u) => u.get(table).map(|t| t.keys().copied().collect()),
            Updates::Update2(u) => u.get(table).map(|t| t.keys().copied().collect()),
        }
        .unwrap_or_default()
    }
}

/// One notification of a monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorEvent {
    /// What changed.
    pub updates: Updates,
    /// The transaction that ends these changes (`update3` only).
    pub last_txn_id: Option<Uuid>,
}

/// Where a monitor's notifications come from.
enum Feed {
    V1(Subscription<UpdateParams>),
    V2(Subscription<Update2Params>),
    V3(Subscription<Update3Params>),
}

impl Feed {
    fn subscribe(
        client: &OvsdbClient,
        method: MonitorMethod,
        id: &MonitorId,
    ) -> Result<Feed, ClientError> {
        let peer = client.peer();
        let options = keyed(client, id)?;
        Ok(match method {
            MonitorMethod::Monitor => Feed::V1(peer.subscribe_with::<Update>(options)),
            MonitorMethod::MonitorCond => Feed::V2(peer.subscribe_with::<Update2>(options)),
            MonitorMethod::MonitorCondSince => Feed::V3(peer.subscribe_with::<Update3>(options)),
        })
    }
}

/// A subscription to the notifications whose first param is `id`.
fn keyed(client: &OvsdbClient, id: &MonitorId) -> Result<Subscribe, ClientError> {
    let capacity = client.options().stream_capacity;
    Subscribe::new()
        .key("/0", id)
        .map(|s| s.capacity(capacity))
        .map_err(|e| ClientError::InvalidRequest(format!("monitor id {:?}: {e}", id.0)))
}

/// A running monitor: the rows there when it began
/// ([`initial`](Self::initial)), then a stream of [`MonitorEvent`]s.
///
/// The stream is fed as the server's notifications arrive, ahead of the
/// replies after them: an update caused by our own transaction is on the
/// stream by the time the transaction returns. It ends when the
/// connection closes, when the monitor is canceled, or when the server
/// cancels it (`monitor_canceled`). If it falls behind by more than
/// [`stream_capacity`](super::ClientOptions::stream_capacity) updates it
/// yields [`ClientError::Notification`] in their place: the view is then
/// incomplete and the monitor must be started again.
///
/// ```no_run
/// use futures::StreamExt;
/// use ovsdb_proto::client::{OvsdbClient, Updates};
/// use ovsdb_proto::monitor::{MonitorRequest, MonitorRequests};
///
/// # async fn demo(client: OvsdbClient) -> Result<(), ovsdb_proto::client::ClientError> {
/// let mut requests = MonitorRequests::new();
/// requests.insert("Host".into(), MonitorRequest::default().into());
/// let mut hosts = client.monitor("Test", requests).await?;
/// while let Some(event) = hosts.next().await {
///     let event = event?;
///     println!("hosts changed: {:?}", event.updates.rows("Host"));
/// }
/// # Ok(()) }
/// ```
pub struct MonitorStream {
    client: OvsdbClient,
    state: MonitorState,
    initial: Updates,
    found: Option<bool>,
    feed: Feed,
    canceled: Subscription<MonitorIdParams>,
    ended: bool,
    /// Whether it ended because the server canceled the monitor.
    canceled_by_server: bool,
}

impl std::fmt::Debug for MonitorStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorStream")
            .field("state", &self.state)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl OvsdbClient {
    /// Starts monitoring `requests` in `db`, with the newest method the
    /// server knows: `monitor_cond_since`, else `monitor_cond`, else
    /// `monitor`, falling back only when the server answers exactly
    /// `"unknown method"`. Falling back to `monitor`, which has no
    /// conditions, is refused when a request has a `where`.
    pub async fn monitor(
        &self,
        db: &str,
        requests: MonitorRequests,
    ) -> Result<MonitorStream, ClientError> {
        let state = MonitorState {
            db: db.to_owned(),
            id: self.fresh_monitor_id(),
            requests,
            method: MonitorMethod::MonitorCondSince,
            last_txn_id: None,
        };
        self.resume_monitor(state).await
    }

    /// Starts a monitor as `state` describes it: with its id, trying its
    /// method first (and older ones after it, as [`monitor`](Self::monitor)
    /// does), and with `monitor_cond_since`, after its `last_txn_id`.
    ///
    /// The id must not be in use on this connection.
    pub async fn resume_monitor(&self, state: MonitorState) -> Result<MonitorStream, ClientError> {
        self.resume_monitor_within(state, self.options().get_call_timeout())
            .await
    }

    /// [`resume_monitor`](Self::resume_monitor) with `per_call` as each
    /// request's deadline instead of the client's (`None`: none), for a
    /// caller that bounds the whole itself: a large database's first rows
    /// may take longer than any call should.
    pub(crate) async fn resume_monitor_within(
        &self,
        state: MonitorState,
        per_call: Option<std::time::Duration>,
    ) -> Result<MonitorStream, ClientError> {
        let mut state = state;
        let canceled = self
            .peer()
            .subscribe_with::<MonitorCanceled>(keyed(self, &state.id)?);
        loop {
            let method = state.method;
            // Subscribed before asking, so no update is missed: the first
            // ones may arrive right behind the reply.
            let feed = Feed::subscribe(self, method, &state.id)?;
            match self.start(&state, method, per_call).await {
                Ok((initial, found, last)) => {
                    if last.is_some() {
                        state.last_txn_id = last;
                    }
                    return Ok(MonitorStream {
                        client: self.clone(),
                        state,
                        initial,
                        found,
                        feed,
                        canceled,
                        ended: false,
                        canceled_by_server: false,
                    });
                }
                Err(ClientError::Server {
                    error: ReplyError::Bare(ErrorKind::UnknownMethod),
                    method: name,
                }) => {
                    let older = method.older().ok_or(ClientError::Server {
                        method: name,
                        error: ReplyError::Bare(ErrorKind::UnknownMethod),
                    })?;
                    if !older.has_conditions() && has_conditions(&state.requests) {
                        return Err(ClientError::InvalidRequest(format!(
                            "the server knows neither {} nor monitor_cond, and plain monitor \
                             cannot take the requests' conditions",
                            method.name()
                        )));
                    }
                    tracing::debug!(
                        from = method.name(),
                        to = older.name(),
                        "unknown method; falling back"
                    );
                    state.method = older;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends the monitor request: the initial rows, whether the server
    /// found the last transaction, and the transaction they end with.
    async fn start(
        &self,
        state: &MonitorState,
        method: MonitorMethod,
        per_call: Option<std::time::Duration>,
    ) -> Result<(Updates, Option<bool>, Option<Uuid>), ClientError> {
        let params = MonitorParams {
            db: state.db.clone(),
            monitor_id: state.id.clone(),
            requests: state.requests.clone(),
        };
        Ok(match method {
            MonitorMethod::Monitor => {
                let initial = self.call_with_timeout::<Monitor>(params, per_call).await?;
                (Updates::Update(initial), None, None)
            }
            MonitorMethod::MonitorCond => {
                let initial = self
                    .call_with_timeout::<MonitorCond>(params, per_call)
                    .await?;
                (Updates::Update2(initial), None, None)
            }
            MonitorMethod::MonitorCondSince => {
                let params = MonitorCondSinceParams {
                    db: params.db,
                    monitor_id: params.monitor_id,
                    requests: params.requests,
                    last_txn_id: state.last_txn_id.unwrap_or(Uuid::nil()),
                };
                let reply = self
                    .call_with_timeout::<MonitorCondSince>(params, per_call)
                    .await?;
                (
                    Updates::Update2(reply.updates),
                    Some(reply.found),
                    Some(reply.last_txn_id),
                )
            }
        })
    }
}

fn has_conditions(requests: &MonitorRequests) -> bool {
    requests
        .values()
        .flat_map(|t| t.0.iter())
        .any(|r| r.conditions.is_some())
}

impl MonitorStream {
    /// The rows there when the monitor began (or, resumed with
    /// `monitor_cond_since` and [`found`](Self::found), the changes since
    /// its last transaction).
    pub fn initial(&self) -> &Updates {
        &self.initial
    }

    /// Takes the initial rows out, leaving none (they can be large).
    pub fn take_initial(&mut self) -> Updates {
        let empty = match self.initial {
            Updates::Update(_) => Updates::Update(TableUpdates::new()),
            Updates::Update2(_) => Updates::Update2(TableUpdates2::new()),
        };
        std::mem::replace(&mut self.initial, empty)
    }

    /// For `monitor_cond_since`: whether the server still had the last
    /// transaction asked for, so [`initial`](Self::initial) holds only the
    /// changes since.
    pub fn found(&self) -> Option<bool> {
        self.found
    }

    /// What a reconnecting layer needs to ask for this monitor again; its
    /// `last_txn_id` follows the updates read from the stream.
    pub fn state(&self) -> &MonitorState {
        &self.state
    }

    /// The method the server took.
    pub fn method(&self) -> MonitorMethod {
        self.state.method
    }

    /// Whether the stream ended because the server canceled the monitor
    /// (`monitor_canceled`, sent only to a client that called
    /// [`set_db_change_aware`](OvsdbClient::set_db_change_aware)): its
    /// database was converted to a new schema or removed, while the
    /// connection stays up. `false` while the stream runs, and when it
    /// ended because the connection closed or the monitor was canceled
    /// by us.
    pub fn was_canceled(&self) -> bool {
        self.canceled_by_server
    }

    /// `monitor_cond_change`: watches the rows matching new conditions
    /// from now on, per table (tables not named keep theirs). The updates
    /// the change causes (rows that now match come as inserts, rows that no
    /// longer match as deletes) are on the stream by the time this returns.
    ///
    /// Only conditions change: ovsdb-server refuses a change that carries
    /// `columns` ("changing columns is unsupported"), so none is sent.
    pub async fn change_conditions(
        &mut self,
        conditions: BTreeMap<String, Vec<Condition>>,
    ) -> Result<(), ClientError> {
        if !self.state.method.has_conditions() {
            return Err(ClientError::InvalidRequest(
                "monitor_cond_change needs a monitor started with monitor_cond or \
                 monitor_cond_since; the server took plain monitor"
                    .into(),
            ));
        }
        let requests: MonitorRequests = conditions
            .iter()
            .map(|(table, conditions)| {
                let request = MonitorRequest {
                    columns: None,
                    conditions: Some(conditions.clone()),
                    select: None,
                };
                (table.clone(), request.into())
            })
            .collect();
        // The id stays the same, so the stream's subscription goes on.
        let params = MonitorCondChangeParams {
            monitor_id: self.state.id.clone(),
            new_monitor_id: self.state.id.clone(),
            requests,
        };
        self.client.call::<MonitorCondChange>(params).await?;
        // Kept for a replay.
        for (table, conditions) in conditions {
            let kept = self.state.requests.entry(table).or_default();
            if kept.0.is_empty() {
                kept.0.push(MonitorRequest::default());
            }
            for request in &mut kept.0 {
                request.conditions = Some(conditions.clone());
            }
        }
        Ok(())
    }

    /// `monitor_cancel`: stops the monitor. The updates read so far stay
    /// read; none come after.
    pub async fn cancel(mut self) -> Result<(), ClientError> {
        self.ended = true;
        let params = MonitorIdParams {
            monitor_id: self.state.id.clone(),
        };
        self.client.call::<MonitorCancel>(params).await.map(|_| ())
    }
}

/// Names a subscription error after its notification.
fn notification_error<N: NotificationMethod>(e: SubscriptionError) -> ClientError {
    ClientError::Notification {
        method: N::NAME,
        source: e,
    }
}

impl Stream for MonitorStream {
    type Item = Result<MonitorEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        // Updates come first: those the server sent before canceling the
        // monitor are still delivered.
        let next = match &mut this.feed {
            Feed::V1(s) => Pin::new(s).poll_next(cx).map(|item| {
                item.map(|r| {
                    r.map(|p| MonitorEvent {
                        updates: Updates::Update(p.updates),
                        last_txn_id: None,
                    })
                    .map_err(notification_error::<Update>)
                })
            }),
            Feed::V2(s) => Pin::new(s).poll_next(cx).map(|item| {
                item.map(|r| {
                    r.map(|p| MonitorEvent {
                        updates: Updates::Update2(p.updates),
                        last_txn_id: None,
                    })
                    .map_err(notification_error::<Update2>)
                })
            }),
            Feed::V3(s) => Pin::new(s).poll_next(cx).map(|item| {
                item.map(|r| {
                    r.map(|p| MonitorEvent {
                        updates: Updates::Update2(p.updates),
                        last_txn_id: Some(p.last_txn_id),
                    })
                    .map_err(notification_error::<Update3>)
                })
            }),
        };
        match next {
            Poll::Ready(Some(Ok(event))) => {
                if let Some(last) = event.last_txn_id {
                    this.state.last_txn_id = Some(last);
                }
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                // The connection closed; a cancellation that came before
                // that is still told (`was_canceled`), so the caller knows
                // the database changed, not only that the connection went.
                if let Poll::Ready(Some(_)) = Pin::new(&mut this.canceled).poll_next(cx) {
                    tracing::debug!(id = ?this.state.id, "the server canceled the monitor");
                    this.canceled_by_server = true;
                }
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => match Pin::new(&mut this.canceled).poll_next(cx) {
                Poll::Ready(Some(_)) => {
                    tracing::debug!(id = ?this.state.id, "the server canceled the monitor");
                    this.ended = true;
                    this.canceled_by_server = true;
                    Poll::Ready(None)
                }
                // The connection closed: the feed ends too, and says so.
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            },
        }
    }
}
