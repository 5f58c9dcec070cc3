//! Transaction operations and their results (RFC 7047 section 5.2, and
//! ovsdb-server(7) for `uuid` in `insert`).
//!
//! A `transact` call carries [`Operation`]s; its reply holds one
//! [`OperationResult`] per operation, in order. When an operation fails,
//! its slot holds the error and every later slot is `null`
//! ([`OperationResult::NotExecuted`]). An error found only at commit
//! (a broken reference, a duplicate index value, too many rows) comes as
//! one extra result after the others ([`TransactResults::commit_error`]).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::atom::{Atom, Uuid};
use crate::condition::Condition;
use crate::datum::Row;
use crate::error::{ErrorFields, OvsdbError};
use crate::mutation::Mutation;
use crate::wire_names::wire_names;

wire_names! {
    /// What a `wait` operation waits for.
    WaitUntil, "\"==\" or \"!=\"" {
        /// Until the selected rows equal the given rows.
        Equal => "==",
        /// Until they differ.
        NotEqual => "!=",
    }
}

/// One operation of a transaction.
///
/// ```
/// use ovsdb_proto::operation::Operation;
///
/// let op: Operation = serde_json::from_str(
///     r#"{"op":"insert","table":"Bridge","row":{"name":"br0"},"uuid-name":"new_br"}"#)?;
/// assert!(matches!(&op, Operation::Insert { uuid_name: Some(n), .. } if n == "new_br"));
/// let commit: Operation = serde_json::from_str(r#"{"op":"commit","durable":false}"#)?;
/// assert_eq!(commit, Operation::Commit { durable: false });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Operation {
    /// Adds a row.
    Insert {
        /// The table.
        table: String,
        /// The new row's columns; the others take their defaults.
        row: Row,
        /// A name later operations of the transaction use for the new
        /// row's UUID (`["named-uuid", name]`).
        #[serde(rename = "uuid-name", default, skip_serializing_if = "Option::is_none")]
        uuid_name: Option<String>,
        /// The UUID the new row gets, instead of a fresh one (OVS 2.13+).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uuid: Option<Uuid>,
    },
    /// Reads the rows that match.
    Select {
        /// The table.
        table: String,
        /// Which rows.
        #[serde(rename = "where")]
        conditions: Vec<Condition>,
        /// Which columns to return; all of them when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        columns: Option<Vec<String>>,
    },
    /// Changes the given columns of the rows that match.
    Update {
        /// The table.
        table: String,
        /// Which rows.
        #[serde(rename = "where")]
        conditions: Vec<Condition>,
        /// The new values.
        row: Row,
    },
    /// Applies mutations to the rows that match.
    Mutate {
        /// The table.
        table: String,
        /// Which rows.
        #[serde(rename = "where")]
        conditions: Vec<Condition>,
        /// The changes, in order.
        mutations: Vec<Mutation>,
    },
    /// Deletes the rows that match.
    Delete {
        /// The table.
        table: String,
        /// Which rows.
        #[serde(rename = "where")]
        conditions: Vec<Condition>,
    },
    /// Waits until the matching rows' `columns` equal (or differ from) `rows`.
    Wait {
        /// The table.
        table: String,
        /// Which rows.
        #[serde(rename = "where")]
        conditions: Vec<Condition>,
        /// The columns compared.
        columns: Vec<String>,
        /// Equal or different.
        until: WaitUntil,
        /// The rows compared with.
        rows: Vec<Row>,
        /// How long to wait, in milliseconds; forever when absent. 0 fails
        /// at once with "timed out" unless the condition already holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u64>,
    },
    /// Asks for the transaction to be on disk before the reply when `durable`.
    Commit {
        /// Whether to wait for the disk.
        durable: bool,
    },
    /// Fails the transaction with "aborted".
    Abort,
    /// Adds a comment to the database log.
    Comment {
        /// The text.
        comment: String,
    },
    /// Fails the transaction with "not owner" unless the client holds `lock`.
    Assert {
        /// The lock's name.
        lock: String,
    },
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationResult {
    /// `{}`: success with nothing to report (`wait`, `commit`, `comment`, `assert`, `abort`).
    Done,
    /// `{"count": n}`: rows changed by `update`, `mutate` or `delete`.
    Count(u64),
    /// `{"uuid": ["uuid", ...]}`: the row `insert` added.
    Inserted(Uuid),
    /// `{"rows": [...]}`: the rows `select` read.
    Rows(Vec<Row>),
    /// The error this operation (or the commit) failed with.
    Error(OvsdbError),
    /// `null`: not run, because an earlier operation failed.
    NotExecuted,
}

impl Serialize for OperationResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OperationResult::Error(e) => return e.serialize(serializer),
            OperationResult::NotExecuted => return serializer.serialize_unit(),
            _ => {}
        }
        let mut map = serializer.serialize_map(None)?;
        match self {
            OperationResult::Count(n) => map.serialize_entry("count", n)?,
            OperationResult::Inserted(u) => map.serialize_entry("uuid", &Atom::Uuid(*u))?,
            OperationResult::Rows(rows) => map.serialize_entry("rows", rows)?,
            _ => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OperationResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ResultVisitor)
    }
}

struct ResultVisitor;

impl<'de> Visitor<'de> for ResultVisitor {
    type Value = OperationResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operation result object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<OperationResult, E> {
        Ok(OperationResult::NotExecuted)
    }

    fn visit_none<E: de::Error>(self) -> Result<OperationResult, E> {
        Ok(OperationResult::NotExecuted)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OperationResult, A::Error> {
        let mut error = ErrorFields::default();
        let mut result = OperationResult::Done;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "count" => result = OperationResult::Count(map.next_value()?),
                "uuid" => match map.next_value::<Atom>()? {
                    Atom::Uuid(u) => result = OperationResult::Inserted(u),
                    _ => return Err(de::Error::custom("an insert result's uuid is not a UUID")),
                },
                "rows" => result = OperationResult::Rows(map.next_value()?),
                other => {
                    if !error.take(other, &mut map)? {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
        }
        Ok(error.finish().map_or(result, OperationResult::Error))
    }
}

/// The reply to `transact`: one result per operation, and after them one
/// more if the commit itself failed.
///
/// ```
/// use ovsdb_proto::operation::TransactResults;
///
/// let r: TransactResults = serde_json::from_str(
///     r#"[{"count":1},{"error":"constraint violation","details":"maxRows"}]"#)?;
/// assert_eq!(r.commit_error(1).map(|e| e.error.as_str()), Some("constraint violation"));
/// assert_eq!(r.first_error().map(|(at, _)| at), Some(1));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TransactResults(pub Vec<OperationResult>);

impl TransactResults {
    /// The first error and its position: an operation's, or the commit's
    /// (at the position one past the last operation).
    pub fn first_error(&self) -> Option<(usize, &OvsdbError)> {
        self.0.iter().enumerate().find_map(|(at, r)| match r {
            OperationResult::Error(e) => Some((at, e)),
            _ => None,
        })
    }

    /// The error the commit failed with, for a transaction of `operations`
    /// operations: the extra result past theirs.
    pub fn commit_error(&self, operations: usize) -> Option<&OvsdbError> {
        match self.0.get(operations) {
            Some(OperationResult::Error(e)) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
