//! TCP, Unix-socket, stdio and TLS transports for `jsonrpc-core` (issue #3; not built yet).
