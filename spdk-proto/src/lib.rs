//! SPDK JSON-RPC methods on `jsonrpc-core` (a later stage; not built yet).
