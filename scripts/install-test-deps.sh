#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain: the real
# JSON-RPC peers the interoperability tests talk to. Each peer has its own
# script in scripts/install/; this runs them all. Peers that come from PyPI or
# npm go under target/peers/ (ignored by git), so a developer's machine and CI
# install the same way and nothing lands outside the repository but Debian
# packages.
#
# Run as root on a Debian machine (CI does); `apt-get` needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
    echo "cargo is missing: install Rust from https://rustup.rs" >&2
    exit 1
}

for script in scripts/install/*.sh; do
    [ -e "$script" ] || continue
    echo "== $script"
    bash "$script"
done
