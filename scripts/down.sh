#!/usr/bin/env bash
# Stops every component of the local stack (front door first, storage last so
# the services can flush). Data under .stack/ is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for name in nginx write-api read-api projector "${EXTRA_PROJECTORS[@]}" archiver tansu clickhouse "${EXTRA_SHARDS[@]}"; do
    stop_pid "$name"
done
log "stack stopped (data kept in $STACK)"
