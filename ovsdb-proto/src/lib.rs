//! The OVSDB management protocol (RFC 7047) on `jsonrpc-core`: not built yet.

#![forbid(unsafe_code)]
