#!/usr/bin/env bash
# Brings the whole local stack up (each part only if not already running) and
# waits until it is healthy:
#   install missing deps -> cargo build --release --workspace -> ClickHouse ->
#   Tansu (+ topics) -> migrations -> write-api, read-api, projector, archiver -> nginx.
# A service whose binary is newer than its running process is restarted.
# Set SKIP_BUILD=1 to use the binaries already in target/release.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

"$here/install.sh"

# The stack's shape (lib.sh): a stack made with one shape is not restarted with another.
shape="SHARDS=$SHARDS PROJECTORS=$PROJECTORS"
if [[ -f "$TOPOLOGY_FILE" ]]; then
    [[ "$(tr '\n' ' ' <"$TOPOLOGY_FILE" | xargs)" == "$shape" ]] \
        || die "this stack was made with $(tr '\n' ' ' <"$TOPOLOGY_FILE" | xargs), not $shape: make down && make reset first"
elif [[ -d "$STACK/clickhouse/data" ]] && ((SHARDS > 1)); then
    die "this stack was made with one ClickHouse server, not $SHARDS shards: make down && make reset first"
fi
printf 'SHARDS=%s\nPROJECTORS=%s\n' "$SHARDS" "$PROJECTORS" >"$TOPOLOGY_FILE"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release --workspace"
    (cd "$ROOT" && cargo build --release --workspace) || die "cargo build failed"
fi

"$here/start-clickhouse.sh"
for name in "${EXTRA_SHARDS[@]}"; do "$here/start-clickhouse.sh" "$name"; done
"$here/start-tansu.sh"
"$here/migrate.sh"
"$here/start-services.sh"
"$here/start-nginx.sh"

cat <<MSG

Local stack is up.
  front door   http://127.0.0.1:$NGINX_PORT   (/user_tags -> write-api; /user_profiles/{cookie}, /aggregates -> read-api; /health)
  write-api    http://127.0.0.1:$WRITE_API_PORT  (/health /ready)
  read-api     http://127.0.0.1:$READ_API_PORT  (/health /ready)
  projector    http://127.0.0.1:$PROJECTOR_PORT  (/health /ready)
  archiver     http://127.0.0.1:$ARCHIVER_PORT  (/health /ready; the archive in $STACK/archive, archiver verify)
  ClickHouse   http://127.0.0.1:$CLICKHOUSE_HTTP_PORT  (native 127.0.0.1:$CLICKHOUSE_TCP_PORT; clickhouse-client --host 127.0.0.1)
  shape        $shape${CLICKHOUSE_SHARD_URLS:+ (cluster $CLICKHOUSE_CLUSTER: $CLICKHOUSE_SHARD_URLS)}
  Kafka/Tansu  127.0.0.1:$TANSU_PORT  (topics user-tags, user-tags-dead-letter)
  logs         $LOGS   (make logs)
  state        $STACK   (make down keeps it, make reset deletes it)
MSG
