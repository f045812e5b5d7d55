#!/usr/bin/env bash
# The sharded stack under the contract's load (make cluster-test; docs/operations.md,
# "The sharded stack here"). Brings up two ClickHouse shards behind Distributed tables
# and two projector instances (make cluster-up), then:
#   1. what each role costs (docs/capacity.md): the CPU every component (and each
#      ClickHouse thread kind) uses, read from /proc, idle for 20 s, then under
#      ingestion alone, then under the contract's mix (a profile query every 10 tags, an
#      aggregates query every 1,000), both runs loadgen through the front door at 1,000
#      tags/s with every answer checked;
#   2. the cluster's operations on the live stack: the trimmer on each shard's local
#      tables, retention altered on every shard, a rebuild into the cluster and a
#      reconcile of its aggregates (cargo test -p projector --test cluster -- --ignored);
#   3. the checking run with faults (chaos run): projector-1 and then clickhouse-2
#      killed with kill -9 and restarted by scripts/stack.sh, one fault per slot; it
#      fails on any tag lost, counted twice or answered wrong, or a path not recovered.
# Results go to .stack/cluster/ (cpu-{idle,ingest,full}.tsv, the loadgen reports
# {ingest,full}.json, ops.log, chaos.json). The stack
# is left running (make down stops it). Sizes: CLUSTER_STEADY_TAGS (90,000),
# CLUSTER_SLOT_SECONDS (60), CLUSTER_RATE (1,000).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SHARDS=2 PROJECTORS=2
source "$here/lib.sh"

out="$STACK/cluster"
mkdir -p "$out"
steady_tags="${CLUSTER_STEADY_TAGS:-90000}"
rate="${CLUSTER_RATE:-1000}"
slot="${CLUSTER_SLOT_SECONDS:-60}"
front_door="http://127.0.0.1:$NGINX_PORT"

"$here/up.sh"

# CPU ticks a process has used (utime + stime); nginx counts its workers too.
ticks_of() {
    local pid="$1" total child
    total=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    for child in $(pgrep -P "$pid" || true); do
        total=$((total + $(sed 's/^.*) //' "/proc/$child/stat" | awk '{print $12 + $13}')))
    done
    echo "$total"
}
# Every component's ticks, and each ClickHouse server's by thread name (what merges,
# queries and inserts, the log each cost): "name pid ticks" lines.
snapshot() {
    local name pid task
    for name in "${COMPONENTS[@]}"; do
        pid="$(pid_of "$name")" || continue
        printf '%s %s %s\n' "$name" "$pid" "$(ticks_of "$pid")"
        [[ "$name" == clickhouse* ]] || continue
        for task in /proc/"$pid"/task/*; do
            printf '%s:%s %s %s\n' "$name" "$(tr -d ' ' <"$task/comm" 2>/dev/null | sed 's/[0-9]*$//')" "$pid" \
                "$(sed 's/^.*) //' "$task/stat" 2>/dev/null | awk '{print $12 + $13}')"
        done
    done
    awk '/^cpu / {print "machine 0", $2 + $3 + $4 + $7 + $8}' /proc/stat
}
rss_mib() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo -; }
# cores NAME: per-component cores between $out/cpu-NAME.before and .after over $seconds
# (threads of one name summed; a component restarted in between is left out), and RSS.
cores() {
    local label="$1"
    printf '# %s: cores per component over %.1f s (machine: every process on it, other sessions included); RSS MiB at the end\n' "$label" "$seconds"
    awk -v s="$seconds" '
        NR == FNR { before[$1 " " $2] += $3; next }
        { after[$1 " " $2] += $3 }
        END {
            for (key in after) if (key in before) {
                split(key, part, " ")
                printf "%s\t%.4f\t%s\n", part[1], (after[key] - before[key]) / 100 / s, part[2]
            }
        }' "$out/cpu-$label.before" "$out/cpu-$label.after" | sort |
        while IFS=$'\t' read -r name value pid; do
            rss=-
            [[ "$name" == *:* || "$name" == machine ]] || rss="$(rss_mib "$pid")"
            printf '%s\t%s\t%s\n' "$name" "$value" "$rss"
        done
}
# window LABEL SECONDS: snapshots around SECONDS of sleep, then the cores table.
window() {
    local label="$1" t0 t1
    snapshot >"$out/cpu-$label.before"
    t0=$(date +%s.%N)
    sleep "$2"
    snapshot >"$out/cpu-$label.after"
    t1=$(date +%s.%N)
    seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
    cores "$label" >"$out/cpu-$label.tsv"
}
# measure LABEL TAGS PROFILE_EVERY AGGREGATE_EVERY: loadgen through the front door with
# every answer checked, its CPU read from 20 s into the sending to 10 s before its end.
measure() {
    local label="$1" tags="$2" start pid
    log "$label: $tags tags at $rate/s, a profile query every $3 tags, an aggregates query every $4 (0: none)"
    start="$("$RELEASE/loadgen" next-start)"
    "$RELEASE/loadgen" run --url "$front_door" --start "$start" --tags "$tags" --rate "$rate" \
        --profile-every "$3" --aggregate-every "$4" --profile-lag-ms 10000 --aggregate-lag-ms 60000 \
        --no-progress --json-out "$out/$label.json" >"$out/$label.log" 2>&1 &
    pid=$!
    sleep 20
    window "$label" $((tags / rate - 30))
    wait "$pid" || true
    tail -n 20 "$out/$label.log" >&2
    # These runs measure: a request refused with a 503 on this shared machine does not
    # fail them (loadgen's own exit status does); a wrong answer or a lost tag does.
    jq -e '([.profiles, .aggregates, .final_profiles, .final_aggregates] | map(.wrong) | add) == 0
           and .lost_tags == 0 and .tags.accepted > 0' "$out/$label.json" >/dev/null \
        || die "$label: a wrong answer or a lost tag (see $out/$label.log)"
    log "$label: 0 wrong, 0 lost; failed (503 or late): $(jq -c '{tags: .tags.failed, profiles: (.profiles.errors + .final_profiles.errors), aggregates: (.aggregates.errors + .final_aggregates.errors)}' "$out/$label.json")"
}

# 1. What each role costs: idle, ingestion alone, then the contract's mix.
((steady_tags / rate >= 60)) || die "CLUSTER_STEADY_TAGS must give 60 s of sending or more"
log "idle: 20 s"
window idle 20
measure ingest "$steady_tags" 0 0
measure full "$steady_tags" 10 1000
for label in idle ingest full; do cat "$out/cpu-$label.tsv" >&2; done

# 2. The cluster's operations on the live stack.
log "cluster operations: trimming per shard, retention on every shard, rebuild and reconcile"
if ! (cd "$ROOT" && cargo test --release -p projector --test cluster -- --ignored --test-threads 1) \
    >"$out/ops.log" 2>&1; then
    tail -n 40 "$out/ops.log" >&2
    die "cluster operations failed (see $out/ops.log)"
fi
grep -E '^test |test result' "$out/ops.log" >&2 || true

# 3. The checking run while a projector instance and a shard are killed.
log "chaos: kill -9 projector-1, then clickhouse-2, ${slot} s apart, at $rate tags/s"
status=0
(cd "$ROOT" && "$RELEASE/chaos" run --url "$front_door" --faults projector-1,clickhouse-2 \
    --no-baseline --slot-seconds "$slot" --lead-seconds 15 --tail-seconds 20 --rate "$rate" \
    --stack-root "$ROOT" --json-out "$out/chaos.json") >"$out/chaos.log" 2>&1 || status=$?
grep -v '^{' "$out/chaos.log" >&2 || true
((status == 0)) || die "chaos run failed (exit $status; $out/chaos.log)"
log "cluster test passed: steady run and faults, 0 wrong, 0 lost (reports in $out)"
