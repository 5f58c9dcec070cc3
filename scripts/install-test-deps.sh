#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain.
#
# Today the suite needs nothing else: jsonrpc-core's tests run in memory and
# over loopback. The real-peer suites (Open vSwitch's python ovs.jsonrpc, SPDK's
# JSONRPCClient, pyright and jedi-language-server) add their installs here when
# they land, so that `.ci/run` and a developer's machine install the same way.
set -euo pipefail

command -v cargo >/dev/null || {
    echo "cargo is missing: install Rust from https://rustup.rs" >&2
    exit 1
}
echo "test dependencies: nothing beyond cargo needed yet"
