#!/usr/bin/env bash
# Whole-platform scenario (issue: loadgen). Restarts the three services on a scratch
# topic, consumer group and database (so every run starts from the same empty state,
# whatever the local stack has accumulated, and their peak memory covers this run
# only), then runs `loadgen run` through the front door at the
# reference harness's 1,000 tags/s with the contract's lags (10 s profiles, 60 s
# aggregates), a freshness probe every 1,000 tags and the final round. Afterwards it
# records each component's peak resident memory (VmHWM) and the bytes ClickHouse holds
# per stored tag. Writes $BENCH_OUT/e2e.json (loadgen's report), $BENCH_OUT/memory.json
# and $BENCH_OUT/storage.json for scripts/bench.sh, and fails if any answer was wrong.
# Environment: BENCH_E2E_TAGS (300000 = 5 minutes of event time), BENCH_OUT (.stack/bench).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

TAGS=${BENCH_E2E_TAGS:-300000}
OUT=${BENCH_OUT:-$STACK/bench}
mkdir -p "$OUT"

scripts/up.sh >/dev/null
cargo build --release -p loadgen >/dev/null 2>&1

# The scratch state. Its topics stay (in Tansu 0.6 `tansu topic delete` deletes every
# topic); its database is dropped at the end, and the services go back to the defaults.
SCRATCH=bench_e2e_$(date +%s)
restart_services() {
    local service
    for service in "${SERVICES[@]}"; do
        scripts/stack.sh restart "$service" >/dev/null
    done
}
restore() {
    unset KAFKA_TOPIC CLICKHOUSE_DATABASE PROJECTOR_GROUP_ID PROJECTOR_DEAD_LETTER_TOPIC
    restart_services || warn "restarting the services on the defaults failed: run make up"
    curl -sS "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" --data-binary "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null || true
}
trap restore EXIT
tansu topic create "$SCRATCH" --partitions "${TOPIC_PARTITIONS:-4}" --broker "tcp://127.0.0.1:$TANSU_PORT" >/dev/null
tansu topic create "$SCRATCH-dead-letter" --partitions 1 --broker "tcp://127.0.0.1:$TANSU_PORT" >/dev/null
export KAFKA_TOPIC=$SCRATCH CLICKHOUSE_DATABASE=$SCRATCH PROJECTOR_GROUP_ID=$SCRATCH \
    PROJECTOR_DEAD_LETTER_TOPIC=$SCRATCH-dead-letter
"$RELEASE/migrate" --dir migrations >/dev/null 2>&1 || die "migrating $SCRATCH failed"
log "services on the scratch topic and database $SCRATCH"
restart_services

start=$("$RELEASE/loadgen" next-start)
log "loadgen run: $TAGS tags at 1,000/s from $start (contract lags, freshness probes)"
status=0
"$RELEASE/loadgen" --json-out "$OUT/e2e.json" run --url "http://127.0.0.1:$NGINX_PORT" \
    --start "$start" --tags "$TAGS" --rate 1000 --freshness-every 1000 --no-progress || status=$?

# Peak resident memory of each component since it started, in MiB.
{
    printf '{'
    sep=''
    for name in "${COMPONENTS[@]}"; do
        if pid=$(pid_of "$name"); then
            mib=$(awk '/^VmHWM:/{printf "%.1f", $2 / 1024}' "/proc/$pid/status")
            printf '%s"%s": %s' "$sep" "$name" "$mib"
            sep=', '
        fi
    done
    printf '}\n'
} >"$OUT/memory.json"

# Compressed bytes ClickHouse holds per stored tag, by table (active parts only).
curl -sS --fail-with-body "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/" --data-binary "
    SELECT
        (SELECT sum(rows) FROM system.parts WHERE database = '$SCRATCH' AND table = 'user_tags' AND active) AS tags,
        (SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = '$SCRATCH' AND table = 'user_tags' AND active) AS user_tags_bytes,
        (SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = '$SCRATCH' AND table = 'minute_aggregates' AND active) AS minute_aggregates_bytes,
        (SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = '$SCRATCH' AND active) AS all_bytes
    FORMAT JSONEachRow" >"$OUT/storage.json"

log "wrote $OUT/e2e.json, $OUT/memory.json, $OUT/storage.json"
exit "$status"
