//! Monitors: what a client asks to be told about, and the updates it is
//! told (RFC 7047 sections 4.1.5 and 4.1.6; ovsdb-server(7) for
//! `monitor_cond`, `update2` and `update3`).
//!
//! A monitor request names, per table, the columns to watch, which kinds
//! of change to report and (for `monitor_cond`) which rows. Updates come
//! back per table and per row UUID: `update` as the row's old and new
//! values ([`RowUpdate`]), `update2` and `update3` as what happened to the
//! row ([`RowUpdate2`]); a `modify` there holds only the changed columns
//! (for sets, the elements added or removed; for maps, the pairs changed,
//! added or removed).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{
    self, value::MapAccessDeserializer, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::atom::Uuid;
use crate::condition::Condition;
use crate::datum::Row;
use crate::positional::positional;

/// The id a client gives a monitor; any JSON value (ovsdb-server's own
/// client uses an array). It is small, so it is kept as a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MonitorId(pub serde_json::Value);

impl From<&str> for MonitorId {
    fn from(id: &str) -> Self {
        MonitorId(serde_json::Value::from(id))
    }
}

fn yes() -> bool {
    true
}

/// Which kinds of change a monitor reports; each defaults to `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSelect {
    /// The rows there when the monitor starts, in the reply.
    #[serde(default = "yes")]
    pub initial: bool,
    /// Inserted rows.
    #[serde(default = "yes")]
    pub insert: bool,
    /// Deleted rows.
    #[serde(default = "yes")]
    pub delete: bool,
    /// Modified rows.
    #[serde(default = "yes")]
    pub modify: bool,
}

impl Default for MonitorSelect {
    fn default() -> Self {
        MonitorSelect {
            initial: true,
            insert: true,
            delete: true,
            modify: true,
        }
    }
}

/// What to watch in one table.
///
/// ```
/// use ovsdb_proto::monitor::MonitorRequest;
///
/// let r: MonitorRequest = serde_json::from_str(
///     r#"{"columns":["name"],"where":[["name","==","br0"]],"select":{"initial":false}}"#)?;
/// assert!(!r.select.unwrap().initial && r.select.unwrap().modify);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorRequest {
    /// The columns to report; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// Which rows to report (`monitor_cond` and later only); all when absent.
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Which kinds of change to report; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<MonitorSelect>,
}

/// The requests for one table: an array of them, or (an older form still
/// accepted on input) one request alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRequests(pub Vec<MonitorRequest>);

impl From<MonitorRequest> for TableRequests {
    fn from(r: MonitorRequest) -> Self {
        TableRequests(vec![r])
    }
}

impl Serialize for TableRequests {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TableRequests {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EitherVisitor;
        impl<'de> Visitor<'de> for EitherVisitor {
            type Value = TableRequests;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a monitor request or an array of them")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TableRequests, A::Error> {
                MonitorRequest::deserialize(MapAccessDeserializer::new(map))
                    .map(TableRequests::from)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TableRequests, A::Error> {
                let mut all = Vec::new();
                while let Some(r) = seq.next_element()? {
                    all.push(r);
                }
                Ok(TableRequests(all))
            }
        }
        deserializer.deserialize_any(EitherVisitor)
    }
}

/// The requests of one monitor, by table.
pub type MonitorRequests = BTreeMap<String, TableRequests>;

/// A row's change as `update` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowUpdate {
    /// The row before (absent for an insert); for a modify, only the
    /// columns that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Row>,
    /// The row after (absent for a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Row>,
}

/// The changes to one table, by row UUID, as `update` reports them.
pub type TableUpdate = BTreeMap<Uuid, RowUpdate>;

/// The changes `update` (and `monitor`'s reply) reports, by table.
pub type TableUpdates = BTreeMap<String, TableUpdate>;

/// A row's change as `update2` and `update3` report it.
///
/// ```
/// use ovsdb_proto::monitor::RowUpdate2;
///
/// assert_eq!(serde_json::from_str::<RowUpdate2>(r#"{"delete":null}"#)?, RowUpdate2::Delete);
/// assert_eq!(serde_json::to_string(&RowUpdate2::Delete)?, r#"{"delete":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowUpdate2 {
    /// A row there when the monitor started.
    Initial(Row),
    /// An inserted row.
    Insert(Row),
    /// A deleted row.
    Delete,
    /// A modified row: only the changed columns, as differences.
    Modify(Row),
}

impl Serialize for RowUpdate2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            RowUpdate2::Initial(row) => map.serialize_entry("initial", row)?,
            RowUpdate2::Insert(row) => map.serialize_entry("insert", row)?,
            RowUpdate2::Delete => map.serialize_entry("delete", &())?,
            RowUpdate2::Modify(row) => map.serialize_entry("modify", row)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RowUpdate2 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneMemberVisitor;
        impl<'de> Visitor<'de> for OneMemberVisitor {
            type Value = RowUpdate2;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with one of initial, insert, delete or modify")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowUpdate2, A::Error> {
                let key = map
                    .next_key::<std::borrow::Cow<'de, str>>()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let update = match &*key {
                    "initial" => RowUpdate2::Initial(map.next_value()?),
                    "insert" => RowUpdate2::Insert(map.next_value()?),
                    "modify" => RowUpdate2::Modify(map.next_value()?),
                    "delete" => {
                        map.next_value::<de::IgnoredAny>()?;
                        RowUpdate2::Delete
                    }
                    other => {
                        return Err(de::Error::unknown_field(
                            other,
                            &["initial", "insert", "delete", "modify"],
                        ))
                    }
                };
                match map.next_key::<de::IgnoredAny>()? {
                    None => Ok(update),
                    Some(_) => Err(de::Error::invalid_length(2, &self)),
                }
            }
        }
        deserializer.deserialize_map(OneMemberVisitor)
    }
}

/// The changes to one table, by row UUID, as `update2` reports them.
pub type TableUpdate2 = BTreeMap<Uuid, RowUpdate2>;

/// The changes `update2`, `update3` (and `monitor_cond`'s reply) report, by table.
pub type TableUpdates2 = BTreeMap<String, TableUpdate2>;

positional! {
    /// The reply to `monitor_cond_since`: `[found, last_txn_id, updates]`.
    pub struct MonitorCondSinceResult {
        /// Whether the server still had the transaction the client asked
        /// to start after; if not, `updates` holds every row as `initial`.
        pub found: bool,
        /// The id of the last transaction the updates include (all zeros
        /// from a standalone server).
        pub last_txn_id: Uuid,
        /// The changes since that transaction, or the whole contents.
        pub updates: TableUpdates2,
    }
    extra = refuse
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    const U: &str = "550e8400-e29b-41d4-a716-446655440000";

    #[test]
    fn requests_on_the_wire() {
        let text = r#"{"Bridge":[{"columns":["name"],"select":{"initial":true,"insert":true,"delete":false,"modify":true}}],"Port":[{"columns":["name"],"where":[["name","==","p1"]]},{"where":[true]}]}"#;
        let requests: MonitorRequests = from_str(text).unwrap();
        assert_eq!(requests["Port"].0.len(), 2);
        assert_eq!(to_string(&requests).unwrap(), text);
        let alone: MonitorRequests = from_str(r#"{"T":{"columns":["a"]}}"#).unwrap();
        assert_eq!(to_string(&alone).unwrap(), r#"{"T":[{"columns":["a"]}]}"#);
        assert!(from_str::<MonitorRequests>(r#"{"T":{"colums":[]}}"#).is_err());
        assert!(from_str::<MonitorRequests>(r#"{"T":3}"#).is_err());
    }

    #[test]
    fn updates_on_the_wire() {
        let text =
            format!(r#"{{"Bridge":{{"{U}":{{"old":{{"name":"a"}},"new":{{"name":"b"}}}}}}}}"#);
        let updates: TableUpdates = from_str(&text).unwrap();
        let row = &updates["Bridge"][&Uuid::parse_str(U).unwrap()];
        assert!(row.old.is_some() && row.new.is_some());
        assert_eq!(to_string(&updates).unwrap(), text);
        assert!(from_str::<TableUpdates>(r#"{"Bridge":{"not-a-uuid":{}}}"#).is_err());
    }

    #[test]
    fn updates2_on_the_wire() {
        for form in [
            r#"{"initial":{"name":"a"}}"#,
            r#"{"insert":{"name":"a"}}"#,
            r#"{"delete":null}"#,
            r#"{"modify":{"ports":["set",[]]}}"#,
        ] {
            let text = format!(r#"{{"Bridge":{{"{U}":{form}}}}}"#);
            let updates: TableUpdates2 = from_str(&text).unwrap();
            assert_eq!(to_string(&updates).unwrap(), text);
        }
        for bad in [
            r#"{}"#,
            r#"{"upsert":{}}"#,
            r#"{"insert":{},"delete":null}"#,
            "null",
        ] {
            assert!(from_str::<RowUpdate2>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn monitor_cond_since_result() {
        let text = r#"[false,"00000000-0000-0000-0000-000000000000",{}]"#;
        let r: MonitorCondSinceResult = from_str(text).unwrap();
        assert!(!r.found && r.last_txn_id.is_nil());
        assert_eq!(to_string(&r).unwrap(), text);
        assert!(from_str::<MonitorCondSinceResult>(
            r#"[false,"00000000-0000-0000-0000-000000000000"]"#
        )
        .is_err());
        assert!(from_str::<MonitorCondSinceResult>(
            r#"[false,"00000000-0000-0000-0000-000000000000",{},1]"#
        )
        .is_err());
    }
}
