//! Clustered databases: which server leads, read from its `_Server`
//! database, and a session that stays on the leader
//! ([`SessionOptions::leader_only`](super::SessionOptions::leader_only)).
//!
//! Each server of a Raft cluster serves the database, but only the
//! leader commits: a follower forwards transactions, and may serve stale
//! data while cut off from the cluster. A writer that wants its commits
//! acknowledged by the server that made them connects to the leader. The
//! session monitors `_Server`'s `Database` row for the database on each
//! server it connects to: it takes a server whose row says
//! `leader: true` and `connected: true` (as a standalone server's always
//! does), and leaves it as soon as the row says otherwise. The
//! server it left is tried last on the reconnect, since it has just
//! stopped leading and another has most likely taken over. So is a leader
//! whose connection was lost any other way (it stopped answering the
//! client's probes, it went away): a leader paused past the election
//! timeout still says `leader: true` for a moment when it resumes, until
//! it hears of the new term.
//!
//! ```no_run
//! use ovsdb_proto::client::{OvsdbSession, SessionOptions};
//!
//! # async fn demo() -> Result<(), ovsdb_proto::client::ClientError> {
//! let remotes = "unix:/run/s1.sock,unix:/run/s2.sock,unix:/run/s3.sock";
//! let session = OvsdbSession::connect(remotes, SessionOptions::default().leader_only("Test")).await?;
//! println!("the leader is at {:?}", session.remote());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::atom::{Atom, Uuid};
use crate::condition::{Condition, Function};
use crate::datum::Row;
use crate::monitor::{MonitorRequest, MonitorRequests, RowUpdate2};

use super::reconnect::Shared;
use super::{ClientError, MonitorStream, OvsdbClient, Updates};

/// The database holding every server's view of its databases.
pub const SERVER_DB: &str = "_Server";

/// One server's view of one of its databases, from `_Server`'s
/// `Database` table.
///
/// ```
/// use ovsdb_proto::client::DatabaseStatus;
///
/// let follower = DatabaseStatus { model: "clustered".into(), connected: true, leader: false };
/// assert!(!follower.leads());
/// let cut_off = DatabaseStatus { model: "clustered".into(), connected: false, leader: true };
/// assert!(!cut_off.leads());
/// let standalone = DatabaseStatus { model: "standalone".into(), connected: true, leader: true };
/// assert!(standalone.leads());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// `"standalone"`, `"clustered"` or `"relay"`.
    pub model: String,
    /// Whether the server is in touch with the cluster (always true when
    /// standalone).
    pub connected: bool,
    /// Whether the server leads the cluster (always true when standalone).
    pub leader: bool,
}

impl DatabaseStatus {
    /// Whether a writer may stay here: the row says `leader` and
    /// `connected`. A standalone server always does; a relay never does
    /// (it forwards writes rather than commit them).
    pub fn leads(&self) -> bool {
        self.leader && self.connected
    }

    /// Reads the columns out of a full row. `update2` leaves out the
    /// columns at their default (`false`, `""`), so a missing one is that.
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
        })
    }

    /// Applies an `update2` modify: a scalar column's difference is its
    /// new value.
    fn modify(&mut self, diff: &Row) {
        if let Some(connected) = boolean(diff, "connected") {
            self.connected = connected;
        }
        if let Some(leader) = boolean(diff, "leader") {
            self.leader = leader;
        }
    }
}

fn boolean(row: &Row, column: &str) -> Option<bool> {
    match row.get(column)?.as_atom()? {
        Atom::Boolean(b) => Some(*b),
        _ => None,
    }
}

/// A monitor of one database's `_Server` row on one server: its status
/// now, kept current by [`update`](Self::update).
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

    /// Waits for the next change of the row, and returns whether the
    /// server still leads. `Err` when the monitor ends (the connection
    /// closed) or fails.
    pub async fn update(&mut self) -> Result<bool, ClientError> {
        match self.stream.next().await {
            Some(Ok(event)) => {
                self.apply(&event.updates);
                Ok(self.leads())
            }
            Some(Err(e)) => Err(e),
            None => Err(ClientError::ConnectionClosed),
        }
    }
}

/// Starts monitoring `db`'s row in `_Server` on `client`, within
/// `timeout`.
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
        columns: Some(vec![
            "name".into(),
            "model".into(),
            "connected".into(),
            "leader".into(),
        ]),
        conditions: Some(vec![Condition::new("name", Function::Equal, db)]),
        select: None,
    };
    let mut requests = MonitorRequests::new();
    requests.insert("Database".into(), request.into());
    let mut stream = tokio::time::timeout(timeout, client.monitor(SERVER_DB, requests))
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

/// The session's watch over the server it is on: when the server stops
/// leading, marks it deposed and closes the connection (the session
/// reconnects elsewhere).
pub(crate) async fn follow(mut watch: Leadership, client: OvsdbClient, shared: Arc<Shared>) {
    loop {
        match watch.update().await {
            Ok(true) => continue,
            Ok(false) => {
                tracing::debug!(
                    remote = client.remote(),
                    status = ?watch.status(),
                    "the server no longer leads; moving"
                );
                if let Ok(mut deposed) = shared.deposed.lock() {
                    deposed.insert(client.remote().to_owned(), Instant::now());
                }
                client.close();
                return;
            }
            // The connection closed (the session notices on its own), or
            // the watch broke: without it leadership is no longer followed,
            // so move on rather than stay blind.
            Err(e) => {
                tracing::debug!(remote = client.remote(), error = %e, "the _Server watch ended");
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
        };
        status.modify(&row(&[("leader", Atom::Boolean(false))]));
        assert!(status.connected && !status.leader && !status.leads());
        // Junk in a diff changes nothing.
        status.modify(&row(&[("connected", Atom::from("yes"))]));
        assert!(status.connected);
    }
}
