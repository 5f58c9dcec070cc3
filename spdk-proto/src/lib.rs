//! SPDK JSON-RPC methods on `jsonrpc-core`: not built yet.

#![forbid(unsafe_code)]
