//! Clustered and relayed databases: whether a server can serve a
//! session its database, read from the server's `_Server` database, and
//! a session that follows it ([`SessionOptions::database`]), or that also
//! stays on the leader ([`SessionOptions::leader_only`]).
//!
//! Each server of a Raft cluster serves the database, but only the
//! leader commits: a follower forwards transactions, and serves stale
//! data while cut off from the cluster. A relay serves a copy of its
//! source's. A session for a database monitors `_Server`'s `Database`
//! row for it on each server it connects to, and takes the server only
//! if the row says it can serve the session, as Open vSwitch's own
//! clients (`lib/ovsdb-cs.c`, `python/ovs/db/idl.py`) decide
//! ([`DatabaseStatus::check`]): a clustered server must have joined, be
//! connected to its cluster and not be behind the highest log index the
//! session has seen; a relay must have reached its source and still be
//! connected to it; any server must have the database. In leader-only
//! mode the row must also say `leader: true` (a standalone server's
//! always does; a relay's never). As soon as the row says otherwise, the
//! session leaves the server ([`OvsdbSession::last_move`] says why).
//!
//! A server the session left is tried last on the reconnect, since it has
//! most likely not recovered yet (another leads, its cluster is still out
//! of reach). So is one whose connection was lost any other way (it
//! stopped answering the client's probes, it went away): a leader paused
//! past the election timeout still says `leader: true` for a moment when
//! it resumes, until it hears of the new term. The remotes are thus gone
//! round in turn, as Open vSwitch's clients do.
//!
//! What ovsdb-server 3.1 says, seen in this crate's tests: a relay that
//! loses its source while up keeps saying `connected: true` for 30 s
//! (against flapping), and one started without its source has no schema;
//! a clustered server whose Raft log write fails says `connected: false`
//! and keeps serving; a follower that leaves its cluster removes the
//! database and drops its clients.
//!
//! [`OvsdbSession::last_move`]: super::OvsdbSession::last_move
//! [`SessionOptions::database`]: super::SessionOptions::database
//! [`SessionOptions::leader_only`]: super::SessionOptions::leader_only
//!
//! ```no_run
//! use ovsdb_proto::client::{OvsdbSession, SessionOptions};
//!
//! # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
//! let remotes = "unix:/run/s1.sock,unix:/run/s2.sock,unix:/run/s3.sock";
//! let session = OvsdbSession::connect(remotes, SessionOptions::default().leader_only("Test")).await?;
//! println!("the leader is at {:?}", session.remote());
//!
//! // Any member that can serve the database will do for a reader.
//! let reader = OvsdbSession::connect(remotes, SessionOptions::default().database("Test")).await?;
//! if let Some(moved) = reader.last_move() {
//!     println!("left {}: {}", moved.remote, moved.reason);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::atom::{Atom, Uuid};
use crate::condition::{Condition, Function};
use crate::datum::{Datum, Row};
use crate::monitor::{MonitorRequest, MonitorRequests, RowUpdate2};

use super::reconnect::Shared;
use super::{ClientError, MonitorStream, OvsdbClient, Updates};

/// The database holding every server's view of its databases.
pub const SERVER_DB: &str = "_Server";

/// One server's view of one of its databases, from `_Server`'s
/// `Database` table.
///
/// ```
/// use ovsdb_proto::client::{DatabaseStatus, Unusable};
///
/// let follower = DatabaseStatus {
///     model: "clustered".into(),
///     connected: true,
///     leader: false,
///     has_schema: true,
///     cid: None,
///     index: Some(7),
/// };
/// assert!(!follower.leads());
/// assert_eq!(follower.check(false, 0), Ok(()));
/// assert_eq!(follower.check(true, 0), Err(Unusable::NotLeader));
/// // Behind what the client has already seen elsewhere.
/// assert_eq!(follower.check(false, 9), Err(Unusable::Stale { index: 7, seen: 9 }));
/// let cut_off = DatabaseStatus { connected: false, leader: true, ..follower.clone() };
/// assert!(!cut_off.leads());
/// assert_eq!(cut_off.check(false, 0), Err(Unusable::Disconnected));
/// let standalone = DatabaseStatus {
///     model: "standalone".into(),
///     connected: true,
///     leader: true,
///     has_schema: true,
///     cid: None,
///     index: None,
/// };
/// assert!(standalone.leads());
/// assert_eq!(standalone.check(true, 9), Ok(()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// `"standalone"`, `"clustered"` or `"relay"`.
    pub model: String,
    /// Whether the server is in touch with the cluster, or a relay with
    /// its source (always true when standalone).
    pub connected: bool,
    /// Whether the server leads the cluster (always true when standalone,
    /// never for a relay).
    pub leader: bool,
    /// Whether the row carries the database's schema: a clustered server
    /// that has not joined its cluster yet, or a relay that has not
    /// reached its source yet, has none.
    pub has_schema: bool,
    /// The cluster's id, when clustered.
    pub cid: Option<Uuid>,
    /// The last log index the server applied, when clustered: how far its
    /// copy has got.
    pub index: Option<i64>,
}

/// Why a server cannot serve a session its database: what its `_Server`
/// row says, checked as Open vSwitch's own clients check it (see
/// [`DatabaseStatus::check`]).
///
/// More reasons may come, as Open vSwitch's clients check more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unusable {
    /// The server has no row for the database: it does not have it (any
    /// more; it may have been removed).
    #[error("the server does not have the database")]
    NoDatabase,
    /// No schema yet: a clustered server that has not joined its cluster,
    /// a relay that has not reached its source.
    #[error("the server has no copy of the database yet")]
    NotJoined,
    /// A clustered server cut off from its cluster, or a relay from its
    /// source: its copy may be stale and it cannot commit.
    #[error("the server is disconnected from its cluster or relay source")]
    Disconnected,
    /// The session is leader-only and the server does not lead (a
    /// follower, or a relay, which never does).
    #[error("the server is not the cluster's leader")]
    NotLeader,
    /// The server's copy is older than one the session has already seen
    /// (on this server or another): it would take the session back in
    /// time.
    #[error("the server's copy (log index {index}) is older than one already seen ({seen})")]
    Stale {
        /// The server's applied log index.
        index: i64,
        /// The highest index the session has seen.
        seen: i64,
    },
    /// The session wants one cluster
    /// ([`SessionOptions::cluster_id`](super::SessionOptions::cluster_id))
    /// and the server's database is not of it: another cluster's (`cid`
    /// its id), or not clustered (`cid` is `None`).
    #[error("the server's database is not of the cluster wanted (its cluster: {cid:?})")]
    OtherCluster {
        /// The server's cluster id, if any.
        cid: Option<Uuid>,
    },
}

impl DatabaseStatus {
    /// Whether a writer may stay here: the row says `leader` and
    /// `connected`. A standalone server always does; a relay never does
    /// (it forwards writes rather than commit them).
    pub fn leads(&self) -> bool {
        self.leader && self.connected
    }

    /// Whether a session may use this server, as Open vSwitch's clients
    /// decide (`ovsdb_cs_check_server_db` in its `lib/ovsdb-cs.c`): a
    /// clustered server must have joined, be connected to its cluster,
    /// lead if `leader_only`, and not be behind `min_index` (the highest
    /// log index the session has seen); a relay must have reached its
    /// source and still be connected to it, and never suits `leader_only`;
    /// any other server only needs the database's schema.
    pub fn check(&self, leader_only: bool, min_index: i64) -> Result<(), Unusable> {
        match self.model.as_str() {
            "clustered" => {
                if !self.has_schema {
                    Err(Unusable::NotJoined)
                } else if !self.connected {
                    Err(Unusable::Disconnected)
                } else if leader_only && !self.leader {
                    Err(Unusable::NotLeader)
                } else {
                    match self.index {
                        // A server that reports no index has applied
                        // nothing to compare (Open vSwitch's Python client
                        // skips the check then too).
                        Some(index) if index < min_index => Err(Unusable::Stale {
                            index,
                            seen: min_index,
                        }),
                        _ => Ok(()),
                    }
                }
            }
            "relay" => {
                if !self.has_schema {
                    Err(Unusable::NotJoined)
                } else if !self.connected {
                    Err(Unusable::Disconnected)
                } else if leader_only {
                    Err(Unusable::NotLeader)
                } else {
                    Ok(())
                }
            }
            _ if !self.has_schema => Err(Unusable::NotJoined),
            _ => Ok(()),
        }
    }

    /// Reads the columns out of a full row. `update2` leaves out the
    /// columns at their default (`false`, `""`, the empty set), so a
    /// missing one is that.
    fn from_row(row: &Row) -> Option<DatabaseStatus> {
        let model = match row.get("model").map(|d| d.as_atom()) {
            None => String::new(),
            Some(Some(Atom::String(s))) => s.clone(),
            Some(_) => return None,
        };
        Some(DatabaseStatus {
            model,
            connected: boolean(row, "connected").unwrap_or(false),
            leader: boolean(row, "leader").unwrap_or(false),
            has_schema: optional(row.get("schema"), None).is_some(),
            cid: uuid(optional(row.get("cid"), None)),
            index: integer(optional(row.get("index"), None)),
        })
    }

    /// Applies an `update2` modify: a scalar column's difference is its
    /// new value; an optional one's (a set of at most one) is the
    /// symmetric difference with the old.
    fn modify(&mut self, diff: &Row) {
        if let Some(connected) = boolean(diff, "connected") {
            self.connected = connected;
        }
        if let Some(leader) = boolean(diff, "leader") {
            self.leader = leader;
        }
        if let Some(Atom::String(model)) = diff.get("model").and_then(|d| d.as_atom()) {
            self.model = model.clone();
        }
        if let Some(d) = diff.get("schema") {
            // Only whether there is one is kept, which the count tells: one
            // atom is the old schema out or a new one in, two are one
            // replacing the other.
            self.has_schema = (usize::from(self.has_schema) + d.len()) % 2 == 1;
        }
        if let Some(d) = diff.get("cid") {
            let old = self.cid.map(Atom::Uuid);
            self.cid = uuid(optional(Some(d), old.as_ref()));
        }
        if let Some(d) = diff.get("index") {
            let old = self.index.map(Atom::Integer);
            self.index = integer(optional(Some(d), old.as_ref()));
        }
    }
}

fn boolean(row: &Row, column: &str) -> Option<bool> {
    match row.get(column)?.as_atom()? {
        Atom::Boolean(b) => Some(*b),
        _ => None,
    }
}

/// The value of an optional column (a set of at most one) from a full
/// value (`old` is `None`) or from a diff against `old`: the symmetric
/// difference, if it leaves exactly one atom.
fn optional(datum: Option<&Datum>, old: Option<&Atom>) -> Option<Atom> {
    let atoms = datum?.as_set()?;
    let mut left: Vec<&Atom> = old.into_iter().collect();
    for atom in atoms.iter() {
        match left.iter().position(|a| *a == atom) {
            Some(i) => {
                left.remove(i);
            }
            None => left.push(atom),
        }
    }
    match left.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

fn uuid(atom: Option<Atom>) -> Option<Uuid> {
    match atom? {
        Atom::Uuid(u) => Some(u),
        _ => None,
    }
}

fn integer(atom: Option<Atom>) -> Option<i64> {
    match atom? {
        Atom::Integer(i) => Some(i),
        _ => None,
    }
}

/// A monitor of one database's `_Server` row on one server: its status
/// now, kept current by [`update`](Self::update) or
/// [`changed`](Self::changed).
#[derive(Debug)]
pub struct Leadership {
    stream: MonitorStream,
    rows: BTreeMap<Uuid, DatabaseStatus>,
}

impl Leadership {
    /// The database's status; `None` if the server does not have it.
    pub fn status(&self) -> Option<&DatabaseStatus> {
        // One row per database name.
        self.rows.values().next()
    }

    /// Whether the server leads (see [`DatabaseStatus::leads`]); false if
    /// it does not have the database.
    pub fn leads(&self) -> bool {
        self.status().is_some_and(DatabaseStatus::leads)
    }

    /// Whether a session may use the server (see
    /// [`DatabaseStatus::check`]); [`Unusable::NoDatabase`] if it does not
    /// have the database.
    pub fn check(&self, leader_only: bool, min_index: i64) -> Result<&DatabaseStatus, Unusable> {
        let status = self.status().ok_or(Unusable::NoDatabase)?;
        status.check(leader_only, min_index).map(|()| status)
    }

    fn apply(&mut self, updates: &Updates) {
        let Updates::Update2(tables) = updates else {
            return;
        };
        for (uuid, update) in tables.get("Database").into_iter().flatten() {
            match update {
                RowUpdate2::Initial(row) | RowUpdate2::Insert(row) => {
                    match DatabaseStatus::from_row(row) {
                        Some(status) => {
                            self.rows.insert(*uuid, status);
                        }
                        None => {
                            self.rows.remove(uuid);
                        }
                    }
                }
                RowUpdate2::Modify(diff) => {
                    if let Some(status) = self.rows.get_mut(uuid) {
                        status.modify(diff);
                    }
                }
                RowUpdate2::Delete => {
                    self.rows.remove(uuid);
                }
            }
        }
    }

    /// Waits for the next change of the row (its removal included). `Err`
    /// when the monitor ends (the connection closed) or fails.
    pub async fn changed(&mut self) -> Result<(), ClientError> {
        match self.stream.next().await {
            Some(Ok(event)) => {
                self.apply(&event.updates);
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => Err(ClientError::ConnectionClosed),
        }
    }

    /// Waits for the next change of the row, and returns whether the
    /// server still leads. `Err` when the monitor ends (the connection
    /// closed) or fails.
    pub async fn update(&mut self) -> Result<bool, ClientError> {
        self.changed().await?;
        Ok(self.leads())
    }
}

/// Starts monitoring `db`'s row in `_Server` on `client`, within
/// `timeout`.
///
/// A server without a `_Server` database (older than Open vSwitch 2.9)
/// fails with [`ClientError::Server`] ("unknown database").
///
/// ```no_run
/// use std::time::Duration;
/// use ovsdb_proto::client::{leadership, OvsdbClient};
///
/// # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
/// let client = OvsdbClient::connect("unix:/run/s1.sock").await?;
/// let mut watch = leadership(&client, "Test", Duration::from_secs(5)).await?;
/// println!("leads: {}", watch.leads());
/// while watch.update().await? {}
/// println!("lost leadership");
/// # Ok(()) }
/// ```
pub async fn leadership(
    client: &OvsdbClient,
    db: &str,
    timeout: Duration,
) -> Result<Leadership, ClientError> {
    let request = MonitorRequest {
        // Every column the server has: older servers lack some (`cid`,
        // `index`), and naming one they lack would fail the monitor.
        columns: None,
        conditions: Some(vec![Condition::new("name", Function::Equal, db)]),
        select: None,
    };
    let mut requests = MonitorRequests::new();
    requests.insert("Database".into(), request.into());
    let state = super::MonitorState {
        db: SERVER_DB.to_owned(),
        id: client.fresh_monitor_id(),
        requests,
        method: super::MonitorMethod::MonitorCondSince,
        last_txn_id: None,
    };
    // `timeout` bounds the whole, in place of the per-call deadline.
    let mut stream = tokio::time::timeout(timeout, client.resume_monitor_within(state, None))
        .await
        .map_err(|_| ClientError::TimedOut("the _Server database's rows"))??;
    let initial = stream.take_initial();
    let mut watch = Leadership {
        stream,
        rows: BTreeMap::new(),
    };
    watch.apply(&initial);
    Ok(watch)
}

/// Whether the server `watch` follows can serve the session: of the
/// cluster it wants, if it wants one, then as [`Leadership::check`].
pub(crate) fn check_for<'w>(
    watch: &'w Leadership,
    shared: &Shared,
) -> Result<&'w DatabaseStatus, Unusable> {
    if let (Some(wanted), Some(status)) = (shared.options.cluster_id, watch.status()) {
        if status.cid != Some(wanted) {
            return Err(Unusable::OtherCluster { cid: status.cid });
        }
    }
    watch.check(shared.options.leader_only, shared.min_index())
}

/// Whether `e` says the server has no `_Server` database: a server older
/// than the database, which the session takes as it is.
pub(crate) fn lacks_server_db(e: &ClientError) -> bool {
    e.server_error() == Some(&crate::error::ErrorKind::UnknownDatabase)
}

/// The session's watch over the server it is on: while the row says the
/// server can serve the session, the highest log index seen is kept; when
/// it says otherwise, the reason is noted, the server is marked to be
/// tried last and the connection is closed (the session reconnects
/// elsewhere).
pub(crate) async fn follow(mut watch: Leadership, client: OvsdbClient, shared: Arc<Shared>) {
    loop {
        if let Err(e) = watch.changed().await {
            // The connection closed (the session notices on its own), or
            // the watch broke: without it the server is no longer
            // followed, so move on rather than stay blind.
            tracing::debug!(remote = client.remote(), error = %e, "the _Server watch ended");
            // Tried last, as any server left (the session may still be
            // resuming on it, and would otherwise try it first again).
            shared.left(client.remote());
            client.close();
            return;
        }
        match check_for(&watch, &shared) {
            Ok(status) => shared.saw_index(status.index),
            Err(reason) => {
                tracing::debug!(
                    remote = client.remote(),
                    status = ?watch.status(),
                    %reason,
                    "the server can no longer serve the session; moving"
                );
                shared.moved_off(client.remote(), reason);
                client.close();
                return;
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::datum::Datum;

    fn row(columns: &[(&str, Atom)]) -> Row {
        columns
            .iter()
            .map(|(name, atom)| (name.to_string(), Datum::from(atom.clone())))
            .collect()
    }

    #[test]
    fn columns_at_their_default_are_left_out_and_read_as_false() {
        let follower = row(&[("model", Atom::from("clustered"))]);
        let status = DatabaseStatus::from_row(&follower).expect("a status");
        assert!(!status.connected && !status.leader);
        // A column of the wrong type is not taken for a status.
        let odd = row(&[("model", Atom::Integer(1))]);
        assert_eq!(DatabaseStatus::from_row(&odd), None);
    }

    #[test]
    fn a_modify_changes_only_the_columns_it_names() {
        let mut status = DatabaseStatus {
            model: "clustered".into(),
            connected: true,
            leader: true,
            has_schema: true,
            cid: None,
            index: Some(3),
        };
        status.modify(&row(&[("leader", Atom::Boolean(false))]));
        assert!(status.connected && !status.leader && !status.leads());
        // Junk in a diff changes nothing.
        status.modify(&row(&[("connected", Atom::from("yes"))]));
        assert!(status.connected);
        assert_eq!(status.index, Some(3));
    }

    fn set(atoms: &[Atom]) -> Datum {
        Datum::Set(crate::datum::Set::try_from_vec(atoms.to_vec()).expect("a set"))
    }

    #[test]
    fn an_optional_columns_diff_is_the_symmetric_difference() {
        let full: Row = [
            ("model".to_string(), Datum::from(Atom::from("clustered"))),
            ("connected".to_string(), Datum::from(Atom::Boolean(true))),
            ("schema".to_string(), Datum::from(Atom::from("{}"))),
            ("index".to_string(), Datum::from(Atom::Integer(5))),
        ]
        .into_iter()
        .collect();
        let mut status = DatabaseStatus::from_row(&full).expect("a status");
        assert!(status.has_schema && status.cid.is_none());
        assert_eq!(status.index, Some(5));
        // 5 out, 9 in.
        let diff: Row = [(
            "index".to_string(),
            set(&[Atom::Integer(5), Atom::Integer(9)]),
        )]
        .into_iter()
        .collect();
        status.modify(&diff);
        assert_eq!(status.index, Some(9));
        // Cleared: the old value out.
        let diff: Row = [("index".to_string(), set(&[Atom::Integer(9)]))]
            .into_iter()
            .collect();
        status.modify(&diff);
        assert_eq!(status.index, None);
        // The schema replaced, then removed.
        let two = set(&[Atom::from("{}"), Atom::from("{\"a\":1}")]);
        status.modify(&[("schema".to_string(), two)].into_iter().collect());
        assert!(status.has_schema);
        let one = set(&[Atom::from("{\"a\":1}")]);
        status.modify(&[("schema".to_string(), one)].into_iter().collect());
        assert!(!status.has_schema);
        assert_eq!(status.check(false, 0), Err(Unusable::NotJoined));
    }

    #[test]
    fn a_relay_is_checked_as_open_vswitch_does() {
        let relay = DatabaseStatus {
            model: "relay".into(),
            connected: true,
            leader: false,
            has_schema: true,
            cid: None,
            index: None,
        };
        assert_eq!(relay.check(false, 100), Ok(()));
        assert_eq!(relay.check(true, 0), Err(Unusable::NotLeader));
        let lost = DatabaseStatus {
            connected: false,
            ..relay.clone()
        };
        assert_eq!(lost.check(false, 0), Err(Unusable::Disconnected));
        let not_yet = DatabaseStatus {
            has_schema: false,
            ..relay
        };
        assert_eq!(not_yet.check(false, 0), Err(Unusable::NotJoined));
    }
}
