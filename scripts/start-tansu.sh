#!/usr/bin/env bash
# Starts the Tansu broker (Kafka protocol, 127.0.0.1:9092) with durable SQLite
# storage in .stack/tansu/tansu.db, then creates the topics if missing:
# user-tags and user-tags-dead-letter, $TOPIC_PARTITIONS partitions (default 2), records
# kept $TOPIC_RETENTION_MS (default 7 days: cleanup.policy=delete; Tansu deletes older
# records in its maintenance, once a day here). No-op for whatever already exists (a
# topic's partitions and retention are set when it is created).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=tansu
dir="$STACK/tansu"
# Two partitions: enough for the sharded stack's two projectors, and each partition in a
# produce request costs Tansu five SQLite statements (its producer and watermark rows)
# beside one per record: at 1,000 tags/s with write-api's 10 ms linger, 2 partitions
# instead of 4 took the broker from 0.28 to 0.21 core and the platform from 0.67 to 0.58
# (docs/clickhouse-cost.md). Production's Kafka topic has its own count (docker-compose.yml).
partitions="${TOPIC_PARTITIONS:-2}"
retention_ms="${TOPIC_RETENTION_MS:-604800000}"
topics=(user-tags user-tags-dead-letter)
broker_url="tcp://127.0.0.1:$TANSU_PORT"

command -v tansu >/dev/null || die "tansu not installed; run scripts/install.sh"

if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
else
    ensure_port_free "$name" "$TANSU_PORT"
    # The path after sqlite:// is relative to the working directory ($dir).
    # maintenance_interval: Tansu's maintenance (at start, then every 10 minutes by
    # default) deletes records past retention with one DELETE that scans every record
    # while it holds SQLite's write lock: produce requests wait for it (6-7 s on a
    # 650 MB log here, measured 2026-12-04: every tag in those seconds answered 503).
    # Once a day at the contract's 7-day retention deletes the same records, later.
    start_bg "$name" "$dir" tansu broker \
        --listener-url "$broker_url" \
        --advertised-listener-url "$broker_url" \
        --storage-engine "sqlite://tansu.db?maintenance_interval=${TANSU_MAINTENANCE_INTERVAL:-24h}"
fi

wait_tcp "$name" 127.0.0.1 "$TANSU_PORT"

# Topics: create only the missing ones so re-running is harmless.
# (Tansu is IPv4 only: use 127.0.0.1, not localhost.)
list_topics() { tansu topic list --broker "$broker_url" 2>&1; }
existing=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if existing="$(list_topics)"; then break; fi
    ((attempt == 10)) && { printf '%s\n' "$existing" >&2; die "cannot list topics on $broker_url"; }
    sleep 0.5
done
for topic in "${topics[@]}"; do
    # The list is JSON: [{"error_code":0,"name":"user-tags",...,"partitions":[...]},...]
    if [[ "$existing" == *"\"name\":\"$topic\""* ]]; then
        log "topic $topic exists"
    elif out="$(tansu topic create "$topic" --partitions "$partitions" --broker "$broker_url" \
        --config cleanup.policy=delete --config "retention.ms=$retention_ms" 2>&1)"; then
        log "created topic $topic ($partitions partitions, records kept ${retention_ms} ms)"
    elif [[ "$out" == *"already exists"* ]]; then
        log "topic $topic exists"
    else
        printf '%s\n' "$out" >&2
        die "cannot create topic $topic"
    fi
done
log "$name ready: 127.0.0.1:$TANSU_PORT (data $dir/tansu.db)"
