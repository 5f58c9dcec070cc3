//! The OVSDB management protocol (RFC 7047) on `jsonrpc-core` (a later stage; not built yet).
