#!/usr/bin/env bash
# Validates docker-compose.yml and the cluster override deploy/compose/cluster.yml,
# checks that the Dockerfile builds with the Rust of rust-toolchain.toml
# (no Docker engine runs here, but `docker-compose config` parses and resolves them)
# and checks that every service the README's production section and
# docs/operations.md rely on is defined, and that the files they mount exist.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

command -v docker-compose >/dev/null || die "docker-compose not installed (scripts/install.sh installs it)"
services=$(docker-compose -f docker-compose.yml config --services) || die "docker-compose.yml does not validate"
expected=(kafka kafka-topics schema-registry clickhouse migrate nginx prometheus grafana
          write-api-1 write-api-2 read-api-1 read-api-2 projector-1 projector-2
          archiver minio minio-bucket)
for service in "${expected[@]}"; do
    grep -qx "$service" <<<"$services" || die "docker-compose.yml lacks service $service"
done
for file in deploy/compose/nginx.conf deploy/compose/prometheus.yml \
            deploy/compose/grafana/dashboards/allezon.json deploy/compose/clickhouse/archive-s3.xml Dockerfile; do
    [[ -f $file ]] || die "docker-compose.yml mounts or builds $file, which is missing"
done
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' deploy/compose/grafana/dashboards/allezon.json \
    || die "grafana dashboard is not valid JSON"
python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' deploy/compose/clickhouse/archive-s3.xml \
    || die "deploy/compose/clickhouse/archive-s3.xml is not valid XML"
grep -q 'ARCHIVE_URL: s3://' docker-compose.yml || die "docker-compose.yml: the archiver writes no bucket"
log "docker-compose.yml valid: ${#expected[@]} services present"

cluster_services=$(docker-compose -f docker-compose.yml -f deploy/compose/cluster.yml config --services) \
    || die "docker-compose.yml with deploy/compose/cluster.yml does not validate"
for service in "${expected[@]}" clickhouse-keeper clickhouse-2; do
    grep -qx "$service" <<<"$cluster_services" || die "the cluster override lacks service $service"
done
for file in keeper.xml cluster.xml replica-1.xml replica-2.xml users.xml; do
    python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "deploy/compose/clickhouse-cluster/$file" \
        || die "deploy/compose/clickhouse-cluster/$file is missing or not valid XML"
done
log "deploy/compose/cluster.yml valid: keeper and two ClickHouse replicas"

# The image builds with the toolchain the repository pins (rust-toolchain.toml).
pinned=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
[[ -n "$pinned" ]] || die "rust-toolchain.toml names no channel"
grep -q "^FROM rust:$pinned-" Dockerfile \
    || die "Dockerfile builds with another Rust than rust-toolchain.toml's $pinned"
log "Dockerfile builds with Rust $pinned, as rust-toolchain.toml pins"
