#!/usr/bin/env bash
# Installs what the local stack needs, only what is missing (fast when all is
# present): ClickHouse 18.16 server+client, nginx, docker-compose (validates the
# production compose file), curl from apt; gcc, make, zlib1g-dev, pkg-config for
# rdkafka's vendored librdkafka build; zookeeper (about 33 MB with the machine's Java;
# the migrations' cluster test starts a private one); the Tansu broker from crates.io.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TANSU_VERSION=0.6.0

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
# package -> command it provides (any nginx flavour will do)
declare -A commands=(
    [clickhouse-server]=clickhouse-server
    [clickhouse-client]=clickhouse-client
    [nginx-light]=nginx
    [docker-compose]=docker-compose
    [curl]=curl
)
for pkg in clickhouse-server clickhouse-client nginx-light docker-compose curl; do
    command -v "${commands[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
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
