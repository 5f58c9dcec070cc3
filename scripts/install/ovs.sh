#!/usr/bin/env bash
# Installs Open vSwitch for the tests that run it as a real peer:
# - its python library (`ovs.jsonrpc`, `ovs.stream`, ...) for Debian's
#   /usr/bin/python3: tests/peer_ovs.rs runs it as a real JSON-RPC 1.0 peer.
#   The Debian package installs for Debian's python only; the `python3`
#   first on PATH may be another interpreter (pyenv), so the tests call
#   /usr/bin/python3 by path.
# - openvswitch-common (ovsdb-tool, ovsdb-server, ovsdb-client) and
#   openvswitch-switch (ovs-vsctl, vswitch.ovsschema): ovsdb-proto's tests
#   check their schemas with ovsdb-tool. Their services are not started:
#   the tests start what they need themselves.
#
# Run as root on Debian (CI does). Idempotent, and silent when everything is
# already there.
set -euo pipefail

PY=/usr/bin/python3
PKGS=(python3-openvswitch openvswitch-common openvswitch-switch)

have_ovs() {
    [ -x "$PY" ] && "$PY" -c 'import ovs.jsonrpc, ovs.stream' >/dev/null 2>&1 &&
        command -v ovsdb-tool >/dev/null 2>&1 &&
        command -v ovs-vsctl >/dev/null 2>&1
}

if have_ovs; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# invoke-rc.d asks /usr/sbin/policy-rc.d whether it may start a service;
# 101 means "no". Put one in place for the install only, unless the machine
# already has its own.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod +x "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
fi

install_pkgs() {
    apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
}
# Refresh the package lists only when they do not know a package, or when
# installing from them fails (lists older than the mirror).
if ! apt-cache show "${PKGS[@]}" >/dev/null 2>&1; then
    apt-get update -qq
fi
if ! install_pkgs; then
    apt-get update -qq
    install_pkgs
fi

if ! have_ovs; then
    echo "${PKGS[*]} are installed, but '$PY -c \"import ovs.jsonrpc\"', ovsdb-tool or ovs-vsctl still fails" >&2
    exit 1
fi
echo "installed ${PKGS[*]}"
