#!/usr/bin/env bash
# Installs SPDK's python JSON-RPC client (PyPI package `spdk`: the module
# `spdk.rpc.client` with `JSONRPCClient`, and the `spdk-rpc` command) into the
# shared peer virtualenv target/peers/venv, for tests/peer_spdk.rs.
#
# The venv is shared with other peers' install scripts: it is created only if
# absent and never removed. Quiet and quick when the pinned version is already
# installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

SPDK_VERSION="26.9"
VENV="target/peers/venv"

if [ ! -x "$VENV/bin/python" ]; then
    command -v python3 >/dev/null || {
        echo "python3 is missing: install it (apt-get install python3 python3-venv)" >&2
        exit 1
    }
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi

installed="$("$VENV/bin/python" -c \
    'import importlib.metadata as m; print(m.version("spdk"))' 2>/dev/null || true)"
if [ "$installed" != "$SPDK_VERSION" ] || [ ! -x "$VENV/bin/spdk-rpc" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "spdk==$SPDK_VERSION"
fi

# Fail here, not in the tests, if the install did not give what they use.
"$VENV/bin/python" -c 'from spdk.rpc.client import JSONRPCClient, JSONRPCException' >/dev/null
[ -x "$VENV/bin/spdk-rpc" ] || {
    echo "spdk $SPDK_VERSION installed no spdk-rpc command in $VENV/bin" >&2
    exit 1
}
