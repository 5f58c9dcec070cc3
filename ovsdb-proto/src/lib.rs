//! The OVSDB management protocol (RFC 7047) on `jsonrpc-core`: its data
//! model, shared by clients and servers.
//!
//! - [`atom`]: single values ([`atom::Atom`]) and their types.
//! - [`datum`]: whole column values, sets and maps ([`datum::Datum`]), and
//!   rows of them ([`datum::Row`]).
//! - [`error`]: error objects and the error strings clients match on.
//! - [`condition`]: `where` clauses, `[column, function, value]`.
//! - [`methods`]: every method as a type implementing `jsonrpc_core::Method`
//!   or `NotificationMethod`, shared by clients and servers.
//! - [`monitor`]: monitor requests and the updates they bring.
//! - [`mutation`]: the changes of `mutate`, `[column, mutator, value]`.
//! - [`operation`]: the operations of `transact` and their results.
//! - [`params`]: the methods' params, each a positional array.
//! - [`schema`]: database schemas, checked on load, and checking a datum
//!   against a column.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atom;
pub mod condition;
pub mod datum;
pub mod error;
pub mod methods;
pub mod monitor;
pub mod mutation;
pub mod operation;
pub mod params;
mod positional;
pub mod schema;
mod wire_names;
