//! The params of every OVSDB method, as positional arrays.
//!
//! JSON-RPC 1.0 params are always an array, so each type here is written
//! and read as one (`["db", monitor_id, requests]`), never as an object.
//! The names of the fields are the RFC's names for the positions.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::atom::Uuid;
use crate::monitor::{MonitorId, MonitorRequests, TableUpdates, TableUpdates2};
use crate::operation::Operation;
use crate::positional::positional;
use crate::schema::DatabaseSchema;

/// No params: written as `[]`; any array is accepted (ovsdb-server ignores
/// extra params of `list_dbs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoParams;

impl Serialize for NoParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_seq(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyArray;
        impl<'de> Visitor<'de> for AnyArray {
            type Value = NoParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_unit<E: de::Error>(self) -> Result<NoParams, E> {
                Ok(NoParams)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoParams, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(NoParams)
            }
        }
        deserializer.deserialize_any(AnyArray)
    }
}

/// A reply with nothing to say: written as `{}`, and any reply is accepted
/// as one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyResult;

impl Serialize for EmptyResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::ser::SerializeMap::end(serializer.serialize_map(Some(0))?)
    }
}

impl<'de> Deserialize<'de> for EmptyResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| EmptyResult)
    }
}

positional! {
    /// `[db]`: `get_schema`. Extra elements are ignored, as ovsdb-server does.
    pub struct DbParams {
        /// The database's name.
        pub db: String,
    }
    extra = ignore
}

/// `[db, operation...]`: `transact`.
///
/// ```
/// use ovsdb_proto::operation::Operation;
/// use ovsdb_proto::params::TransactParams;
///
/// let p: TransactParams = serde_json::from_str(r#"["Open_vSwitch",{"op":"abort"}]"#)?;
/// assert_eq!(p.operations, vec![Operation::Abort]);
/// assert_eq!(serde_json::to_string(&p)?, r#"["Open_vSwitch",{"op":"abort"}]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TransactParams {
    /// The database's name.
    pub db: String,
    /// The operations, in order.
    pub operations: Vec<Operation>,
}

impl Serialize for TransactParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(1 + self.operations.len()))?;
        seq.serialize_element(&self.db)?;
        for op in &self.operations {
            seq.serialize_element(op)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for TransactParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TransactVisitor;
        impl<'de> Visitor<'de> for TransactVisitor {
            type Value = TransactParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the array [db, operation...]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TransactParams, A::Error> {
                let db = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let mut operations = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(op) = seq.next_element()? {
                    operations.push(op);
                }
                Ok(TransactParams { db, operations })
            }
        }
        deserializer.deserialize_seq(TransactVisitor)
    }
}

positional! {
    /// `[id]`: `cancel`, naming the request to cancel by its JSON-RPC id.
    pub struct CancelParams {
        /// The id of the request to cancel.
        pub id: serde_json::Value,
    }
    extra = refuse
}

positional! {
    /// `[db, monitor_id, requests]`: `monitor` and `monitor_cond`.
    pub struct MonitorParams {
        /// The database's name.
        pub db: String,
        /// The id updates will carry.
        pub monitor_id: MonitorId,
        /// What to watch, by table.
        pub requests: MonitorRequests,
    }
    extra = refuse
}

positional! {
    /// `[monitor_id, new_monitor_id, requests]`: `monitor_cond_change`.
    /// The requests carry only `columns` and `where`.
    pub struct MonitorCondChangeParams {
        /// The monitor to change.
        pub monitor_id: MonitorId,
        /// The id updates carry from now on.
        pub new_monitor_id: MonitorId,
        /// The new conditions, by table.
        pub requests: MonitorRequests,
    }
    extra = refuse
}

positional! {
    /// `[db, monitor_id, requests, last_txn_id]`: `monitor_cond_since`.
    pub struct MonitorCondSinceParams {
        /// The database's name.
        pub db: String,
        /// The id updates will carry.
        pub monitor_id: MonitorId,
        /// What to watch, by table.
        pub requests: MonitorRequests,
        /// The last transaction the client has seen; all zeros for none.
        pub last_txn_id: Uuid,
    }
    extra = refuse
}

positional! {
    /// `[monitor_id]`: `monitor_cancel` and `monitor_canceled`.
    pub struct MonitorIdParams {
        /// The monitor.
        pub monitor_id: MonitorId,
    }
    extra = refuse
}

positional! {
    /// `[lock]`: `lock`, `steal`, `unlock`, `locked` and `stolen`.
    pub struct LockParams {
        /// The lock's name.
        pub lock: String,
    }
    extra = refuse
}

positional! {
    /// `[aware]`: `set_db_change_aware`.
    pub struct SetDbChangeAwareParams {
        /// Whether the client wants to hear of database changes and
        /// cancellations instead of being disconnected.
        pub aware: bool,
    }
    extra = refuse
}

positional! {
    /// `[db, schema]`: `convert`.
    pub struct ConvertParams {
        /// The database's name.
        pub db: String,
        /// The schema to convert it to.
        pub schema: DatabaseSchema,
    }
    extra = refuse
}

positional! {
    /// `[monitor_id, updates]`: `update`.
    pub struct UpdateParams {
        /// The monitor.
        pub monitor_id: MonitorId,
        /// What changed.
        pub updates: TableUpdates,
    }
    extra = refuse
}

positional! {
    /// `[monitor_id, updates]`: `update2`.
    pub struct Update2Params {
        /// The monitor.
        pub monitor_id: MonitorId,
        /// What changed.
        pub updates: TableUpdates2,
    }
    extra = refuse
}

positional! {
    /// `[monitor_id, last_txn_id, updates]`: `update3`.
    pub struct Update3Params {
        /// The monitor.
        pub monitor_id: MonitorId,
        /// The transaction these changes end with.
        pub last_txn_id: Uuid,
        /// What changed.
        pub updates: TableUpdates2,
    }
    extra = refuse
}

/// The reply to `lock` and `steal`: `{"locked": bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockResult {
    /// Whether the client holds the lock now (otherwise `locked` comes later).
    pub locked: bool,
}
