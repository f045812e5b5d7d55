#!/usr/bin/env bash
# Installs what the local stack needs, only what is missing (fast when all is
# present): nginx, docker-compose (validates the production compose file), curl,
# chromium (the web console's browser tests), Node.js and npm (the console's build and
# tests; the machine's own are used when present) from apt; gcc, make, zlib1g-dev,
# pkg-config for rdkafka's vendored librdkafka build; zookeeper (about 33 MB with the
# machine's Java; the migrations' cluster test starts a private one); ClickHouse 26.9
# (PyPI chdb-core, pinned, in a venv under .stack/clickhouse/venv: see
# deploy/local/clickhouse/serve.py); the Tansu broker from crates.io.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TANSU_VERSION=0.6.0
# ClickHouse 26.9.2.1 inside. serve.py checks this version: change both together.
CHDB_VERSION=26.9.0

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
# package -> command it provides (any nginx flavour will do)
declare -A commands=(
    [nginx-light]=nginx
    [docker-compose]=docker-compose
    [curl]=curl
    [chromium]=chromium
    [nodejs]=node
)
for pkg in nginx-light docker-compose curl chromium nodejs; do
    command -v "${commands[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
# Debian's npm goes with Debian's nodejs; a Node.js from elsewhere brings its own.
if ! command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi
for pkg in gcc make zlib1g-dev pkg-config zookeeper; do
    pkg_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]})); then
    ((EUID == 0)) || die "missing packages (${missing[*]}) and not root: install them with apt-get"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
else
    log "system packages present"
fi

if command -v tansu >/dev/null 2>&1; then
    log "tansu present ($(tansu --version 2>/dev/null || echo '?'))"
else
    command -v cargo >/dev/null || die "cargo not found (install Rust with rustup first)"
    log "installing tansu $TANSU_VERSION with cargo (about 12-15 minutes on 2 cores)"
    cargo install tansu --version "$TANSU_VERSION" --features libsql,dynostore --locked
fi

# ClickHouse: the chdb-core wheel (181 MB, ClickHouse's clickhouse-local as a library)
# in a venv of its own; pandas/pyarrow, which it declares, are not needed to serve.
if "$CLICKHOUSE_VENV/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('chdb-core') != '$CHDB_VERSION')" 2>/dev/null; then
    log "clickhouse present (chdb-core $CHDB_VERSION in $CLICKHOUSE_VENV)"
else
    command -v python3 >/dev/null || die "python3 not found (needed to serve ClickHouse)"
    log "installing clickhouse 26.9 (chdb-core $CHDB_VERSION from PyPI, about 180 MB) into $CLICKHOUSE_VENV"
    rm -rf "$CLICKHOUSE_VENV"
    if ! python3 -m venv "$CLICKHOUSE_VENV" 2>/dev/null; then
        ((EUID == 0)) || die "python3 cannot create a venv; install python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        python3 -m venv "$CLICKHOUSE_VENV"
    fi
    "$CLICKHOUSE_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "chdb-core==$CHDB_VERSION"
fi
