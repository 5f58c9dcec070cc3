#!/usr/bin/env bash
# Installs the two language servers tests/peer_lsp.rs and
# examples/lsp_client.rs talk to, pinned, under target/peers/ (ignored by git):
#
#   pyright               target/peers/node/node_modules/.bin/pyright-langserver --stdio
#   jedi-language-server  target/peers/venv/bin/jedi-language-server
#
# Idempotent and quiet when both are already at the pinned versions. The
# virtualenv is shared with other peers' scripts: it is created only if absent
# and never deleted.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYRIGHT_VERSION=1.1.414
JEDI_LS_VERSION=0.47.0

PEERS=target/peers
NODE_PREFIX=$PEERS/node
VENV=$PEERS/venv

# pyright, from npm.
installed_pyright() {
    local pkg=$NODE_PREFIX/node_modules/pyright/package.json
    [ -f "$pkg" ] || return 1
    node -e 'process.stdout.write(require(process.argv[1]).version)' "$(realpath "$pkg")"
}
if [ "$(installed_pyright 2>/dev/null || true)" != "$PYRIGHT_VERSION" ] ||
    [ ! -x "$NODE_PREFIX/node_modules/.bin/pyright-langserver" ]; then
    command -v npm >/dev/null || {
        echo "npm is missing: install Node.js 20 and npm (apt-get install nodejs npm)" >&2
        exit 1
    }
    echo "installing pyright $PYRIGHT_VERSION into $NODE_PREFIX"
    mkdir -p "$NODE_PREFIX"
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error \
        "pyright@$PYRIGHT_VERSION" >/dev/null
fi

# jedi-language-server, from PyPI, into the shared virtualenv.
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating the virtualenv $VENV"
    mkdir -p "$PEERS"
    python3 -m venv "$VENV"
fi
installed_jedi_ls() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("jedi-language-server"), end="")'
}
if [ "$(installed_jedi_ls 2>/dev/null || true)" != "$JEDI_LS_VERSION" ] ||
    [ ! -x "$VENV/bin/jedi-language-server" ]; then
    echo "installing jedi-language-server $JEDI_LS_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "jedi-language-server==$JEDI_LS_VERSION"
fi
