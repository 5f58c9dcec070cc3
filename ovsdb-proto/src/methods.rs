//! Every OVSDB method as a type, for clients and servers alike.
//!
//! Each call implements `jsonrpc_core::Method` and each one-way message
//! `jsonrpc_core::NotificationMethod`, fixing its wire name and the types of
//! its params and result, so a client and a server built on these cannot
//! disagree. Every call fails with a [`ReplyError`]: an error object, or a
//! bare string such as `"unknown method"`.
//!
//! Calls from client to server: [`ListDbs`], [`GetSchema`], [`Transact`],
//! [`Monitor`], [`MonitorCond`], [`MonitorCondChange`],
//! [`MonitorCondSince`], [`MonitorCancel`], [`Lock`], [`Steal`],
//! [`Unlock`], [`GetServerId`], [`SetDbChangeAware`], [`Convert`]; and
//! [`Cancel`] (a notification). [`Echo`] goes either way. From server to
//! client, all notifications: [`Update`], [`Update2`], [`Update3`],
//! [`Locked`], [`Stolen`], [`MonitorCanceled`].

use jsonrpc_core::{Method, NotificationMethod};

use crate::atom::Uuid;
use crate::error::ReplyError;
use crate::monitor::{MonitorCondSinceResult, TableUpdates, TableUpdates2};
use crate::operation::TransactResults;
use crate::params::*;
use crate::schema::DatabaseSchema;

macro_rules! call {
    ($(#[$doc:meta])* $name:ident = $wire:literal, $params:ty => $result:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;

        impl Method for $name {
            const NAME: &'static str = $wire;
            type Params = $params;
            type Result = $result;
            type Error = ReplyError;
        }
    };
}

macro_rules! notification {
    ($(#[$doc:meta])* $name:ident = $wire:literal, $params:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;

        impl NotificationMethod for $name {
            const NAME: &'static str = $wire;
            type Params = $params;
        }
    };
}

call! {
    /// `list_dbs`: the names of the server's databases.
    ListDbs = "list_dbs", NoParams => Vec<String>
}
call! {
    /// `get_schema`: a database's schema.
    GetSchema = "get_schema", DbParams => DatabaseSchema
}
call! {
    /// `transact`: runs operations as one transaction.
    Transact = "transact", TransactParams => TransactResults
}
notification! {
    /// `cancel`: gives up on a `transact` still waiting (on a `wait`).
    Cancel = "cancel", CancelParams
}
call! {
    /// `monitor`: watches tables; the reply holds the initial rows, and
    /// [`Update`] brings the changes.
    Monitor = "monitor", MonitorParams => TableUpdates
}
call! {
    /// `monitor_cond`: watches the rows that match conditions; changes come
    /// as [`Update2`].
    MonitorCond = "monitor_cond", MonitorParams => TableUpdates2
}
call! {
    /// `monitor_cond_change`: changes the conditions of a monitor.
    MonitorCondChange = "monitor_cond_change", MonitorCondChangeParams => EmptyResult
}
call! {
    /// `monitor_cond_since`: like [`MonitorCond`], resuming after a known
    /// transaction; changes come as [`Update3`].
    MonitorCondSince = "monitor_cond_since", MonitorCondSinceParams => MonitorCondSinceResult
}
call! {
    /// `monitor_cancel`: stops a monitor.
    MonitorCancel = "monitor_cancel", MonitorIdParams => EmptyResult
}
call! {
    /// `lock`: asks for a lock; [`Locked`] follows if it is not granted at once.
    Lock = "lock", LockParams => LockResult
}
call! {
    /// `steal`: takes a lock from whoever holds it ([`Stolen`] tells them).
    Steal = "steal", LockParams => LockResult
}
call! {
    /// `unlock`: gives up a lock, or the wait for it.
    Unlock = "unlock", LockParams => EmptyResult
}
call! {
    /// `echo`: returns its params; both sides send it to check the other is alive.
    Echo = "echo", Vec<serde_json::Value> => Vec<serde_json::Value>
}
call! {
    /// `get_server_id`: the server's id, a UUID.
    GetServerId = "get_server_id", NoParams => Uuid
}
call! {
    /// `set_db_change_aware`: asks to be told, rather than disconnected, when
    /// a database changes or a call is canceled.
    SetDbChangeAware = "set_db_change_aware", SetDbChangeAwareParams => EmptyResult
}
call! {
    /// `convert`: converts a database to a new schema.
    Convert = "convert", ConvertParams => EmptyResult
}
notification! {
    /// `update`: changes seen by a [`Monitor`].
    Update = "update", UpdateParams
}
notification! {
    /// `update2`: changes seen by a [`MonitorCond`].
    Update2 = "update2", Update2Params
}
notification! {
    /// `update3`: changes seen by a [`MonitorCondSince`].
    Update3 = "update3", Update3Params
}
notification! {
    /// `locked`: a lock asked for earlier is now held.
    Locked = "locked", LockParams
}
notification! {
    /// `stolen`: a lock held was taken by another client's [`Steal`].
    Stolen = "stolen", LockParams
}
notification! {
    /// `monitor_canceled`: the server ended a monitor (its database went away).
    MonitorCanceled = "monitor_canceled", MonitorIdParams
}

#[cfg(test)]
mod tests;
