#!/usr/bin/env bash
# Installs Open vSwitch's python library (`ovs.jsonrpc`, `ovs.stream`, ...)
# for Debian's /usr/bin/python3: tests/peer_ovs.rs runs it as a real JSON-RPC
# 1.0 peer. The Debian package installs for Debian's python only; the
# `python3` first on PATH may be another interpreter (pyenv), so the tests
# call /usr/bin/python3 by path.
#
# Run as root on Debian (CI does). Idempotent, and silent when the library is
# already there.
set -euo pipefail

PY=/usr/bin/python3
PKG=python3-openvswitch

have_ovs() {
    [ -x "$PY" ] && "$PY" -c 'import ovs.jsonrpc, ovs.stream' >/dev/null 2>&1
}

if have_ovs; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_pkg() {
    apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null
}
# Refresh the package lists only when they do not know the package, or when
# installing from them fails (lists older than the mirror).
if ! apt-cache show "$PKG" >/dev/null 2>&1; then
    apt-get update -qq
fi
if ! install_pkg; then
    apt-get update -qq
    install_pkg
fi

if ! have_ovs; then
    echo "$PKG is installed, but '$PY -c \"import ovs.jsonrpc\"' still fails" >&2
    exit 1
fi
echo "installed $PKG for $PY"
