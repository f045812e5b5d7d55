#!/usr/bin/env bash
# Validates docker-compose.yml (no Docker engine runs here, but `docker-compose config`
# parses and resolves it) and checks that every service the README's production
# section relies on is defined, and that the files it mounts exist.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

command -v docker-compose >/dev/null || die "docker-compose not installed (scripts/install.sh installs it)"
services=$(docker-compose -f docker-compose.yml config --services) || die "docker-compose.yml does not validate"
expected=(kafka kafka-topics schema-registry clickhouse migrate nginx prometheus grafana
          write-api-1 write-api-2 read-api-1 read-api-2 projector-1 projector-2)
for service in "${expected[@]}"; do
    grep -qx "$service" <<<"$services" || die "docker-compose.yml lacks service $service"
done
for file in deploy/compose/nginx.conf deploy/compose/prometheus.yml \
            deploy/compose/grafana/dashboards/allezon.json Dockerfile; do
    [[ -f $file ]] || die "docker-compose.yml mounts or builds $file, which is missing"
done
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' deploy/compose/grafana/dashboards/allezon.json \
    || die "grafana dashboard is not valid JSON"
log "docker-compose.yml valid: ${#expected[@]} services present"
