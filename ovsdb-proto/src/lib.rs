//! The OVSDB management protocol (RFC 7047, with the extensions of
//! ovsdb-server 3.x) on `jsonrpc-core`: its data model and its methods,
//! shared by clients and servers, and a typed client ([`client`]).
//!
//! From values up to calls:
//! - [`atom`]: single values ([`atom::Atom`]) and their types.
//! - [`datum`]: whole column values, sets and maps ([`datum::Datum`]), kept
//!   canonical, and rows of them ([`datum::Row`]).
//! - [`schema`]: database schemas, checked on load, and checking a datum
//!   against a column.
//! - [`condition`]: `where` clauses, `[column, function, value]`.
//! - [`mutation`]: the changes of `mutate`, `[column, mutator, value]`.
//! - [`operation`]: the operations of `transact` and their results.
//! - [`monitor`]: monitor requests and the updates they bring.
//! - [`error`]: error objects and the error strings clients match on.
//! - [`params`]: the methods' params, each a positional array (OVSDB speaks
//!   JSON-RPC 1.0).
//! - [`methods`]: every method as a type implementing `jsonrpc_core::Method`
//!   or `NotificationMethod`.
//! - [`client`]: a typed client on these: transactions, monitors as
//!   streams, locks.
//!
//! Every type serializes to exactly the wire form. Datums, rows, updates
//! and operation results are decoded straight from the text, never through
//! a `serde_json::Value` tree, so large replies cost no more than their
//! contents; only the small values the protocol leaves as free-form JSON
//! (monitor ids, `echo`'s params, the id `cancel` names) are kept as values.
//!
//! ```
//! use ovsdb_proto::methods::Transact;
//! use ovsdb_proto::operation::OperationResult;
//! use jsonrpc_core::Method;
//!
//! let params: <Transact as Method>::Params = serde_json::from_str(
//!     r#"["Open_vSwitch",{"op":"select","table":"Bridge","where":[["name","==","br0"]]}]"#)?;
//! assert_eq!(params.operations.len(), 1);
//! let reply: <Transact as Method>::Result = serde_json::from_str(r#"[{"rows":[]}]"#)?;
//! assert_eq!(reply.0, vec![OperationResult::Rows(vec![])]);
//! # Ok::<(), serde_json::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atom;
pub mod client;
pub mod condition;
pub mod datum;
pub mod error;
pub mod methods;
pub mod monitor;
pub mod mutation;
pub mod operation;
pub mod params;
mod positional;
mod row;
pub mod schema;
mod wire_names;
