#!/usr/bin/env bash
# Read-path benchmark (issue 5). Writes docs/bench-read.md.
#
#   1. Loads a realistic volume straight into a scratch ClickHouse database migrated with
#      the real migrations (so the materialized views fill minute_aggregates from the same
#      inserts): 1,000 tags/s for 24 h of event time = 86,400,000 tags, about 1,000,000
#      cookies, dimensions skewed like loadgen's TagStream (a quarter of the draws hit the
#      16 hottest values). Rows are generated inside ClickHouse (INSERT ... SELECT FROM
#      numbers(..)), one hour of event time per insert. The database is kept: a later run
#      skips loading when it already holds the full volume (--force-load reloads it).
#   2. Starts a read-api instance on a spare port against that database.
#   3. Drives it open loop (bench-read, bench/src/bin/bench-read.rs): profiles at 100 and
#      1,000 queries/s, aggregates for 10-minute windows over all 8 filter combinations;
#      each beside the same SQL (read_api::store::Store) sent straight to ClickHouse.
#
# Usage: scripts/bench-read.sh [--force-load] [--load-only]
# Environment: BENCH_READ_DB (bench_read), BENCH_READ_ROWS (86400000), BENCH_SECONDS (20),
#              BENCH_REPEATS (3), BENCH_READ_PORT (18082).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DB=${BENCH_READ_DB:-bench_read}
ROWS=${BENCH_READ_ROWS:-86400000}
CHUNK=3600000 # one hour of event time at 1,000 tags/s
SECONDS_RUN=${BENCH_SECONDS:-20}
REPEATS=${BENCH_REPEATS:-3}
PORT=${BENCH_READ_PORT:-18082}
STREAM_START_MS=1772323200000 # 2026-03-01T00:00:00Z, as loadgen/src/stream.rs
CH=http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/
OUT=docs/bench-read.md
FORCE_LOAD=0
LOAD_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --force-load) FORCE_LOAD=1 ;;
        --load-only) LOAD_ONLY=1 ;;
        *) die "unknown argument: $arg (expected --force-load, --load-only)" ;;
    esac
done
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_READ_DB must be a plain identifier"

ch() { curl -sS --fail-with-body "$CH" --data-binary "$1"; }

# skewed SIZE SALT: a value in 0..SIZE, a quarter of the draws among the 16 hottest
# (TagStream::skewed), from a hash of the row number.
skewed() { echo "if(cityHash64(number, $2) % 4 = 0, intDiv(cityHash64(number, $2), 4) % 16, intDiv(cityHash64(number, $2), 4) % $1)"; }

# load_rows LO HI: tags number LO..HI, event time STREAM_START_MS + number (1 ms apart).
# Values have loadgen's shapes: cookie00000000000042, C07, CAMPAIGN_321, Brand_7,
# Category_12, one BUY in five, product ids and prices 1..99,999 (JSON integers).
load_rows() {
    ch "INSERT INTO $DB.user_tags (cookie, action, time_ms, country, device, origin, product_id,
        product_id_is_text, brand_id, category_id, price, kafka_topic, kafka_partition, kafka_offset)
    SELECT
        concat('cookie', substring(toString(100000000000000 + $(skewed 1000000 1)), 2)),
        CAST(if(cityHash64(number, 2) % 5 = 0, 'BUY', 'VIEW') AS Enum8('VIEW' = 1, 'BUY' = 2)),
        toInt64($STREAM_START_MS + number),
        concat('C', substring(toString(100 + $(skewed 100 3)), 2)),
        CAST(['PC', 'MOBILE', 'TV'][cityHash64(number, 4) % 3 + 1] AS Enum8('PC' = 1, 'MOBILE' = 2, 'TV' = 3)),
        concat('CAMPAIGN_', toString($(skewed 1000 5))),
        toString(1 + cityHash64(number, 6) % 99999),
        toUInt8(0),
        concat('Brand_', toString($(skewed 250 7))),
        concat('Category_', toString($(skewed 67 8))),
        toInt32(1 + cityHash64(number, 9) % 99999),
        'bench-read-load',
        toInt32(number % 4),
        toInt64(intDiv(number, 4))
    FROM numbers($1, $(($2 - $1)))"
}

loaded_rows() {
    ch "SELECT rows FROM $DB.bench_read_loaded" 2>/dev/null || echo 0
}

load() {
    local free_gb lo hi started
    free_gb=$(df --output=avail -BG "$STACK/clickhouse" | tail -1 | tr -dc 0-9)
    # Measured on a 1,000,000-row trial: user_tags 37 B/row, minute_aggregates 28 B/tag.
    ((free_gb >= 20)) || die "only ${free_gb} GiB free under $STACK/clickhouse; loading $ROWS tags needs about 6 GiB, 20 required"
    log "loading $ROWS tags into $DB (about 70,000 tags/s here; ${free_gb} GiB free)"
    ch "DROP DATABASE IF EXISTS $DB" >/dev/null
    CLICKHOUSE_DATABASE=$DB "$RELEASE/migrate" --dir migrations >/dev/null 2>&1 || die "migrating $DB failed"
    started=$SECONDS
    for ((lo = 0; lo < ROWS; lo += CHUNK)); do
        hi=$((lo + CHUNK < ROWS ? lo + CHUNK : ROWS))
        load_rows "$lo" "$hi"
        log "  $hi / $ROWS tags ($((SECONDS - started)) s)"
    done
    # The marker says the load finished: an interrupted load is redone from scratch.
    ch "CREATE TABLE $DB.bench_read_loaded (rows UInt64, seconds UInt32) ENGINE = TinyLog" >/dev/null
    ch "INSERT INTO $DB.bench_read_loaded VALUES ($ROWS, $((SECONDS - started)))" >/dev/null
    log "loaded $ROWS tags in $((SECONDS - started)) s"
}

# The stack must be up (make up); it is not rebuilt here, others may be mid-edit.
[[ "$(curl -s "${CH}ping")" == "Ok." ]] || die "ClickHouse does not answer on $CH: run make up"
if ((FORCE_LOAD)) || [[ "$(loaded_rows)" != "$ROWS" ]]; then
    load
else
    log "$DB already holds $ROWS tags (--force-load reloads)"
fi
((LOAD_ONLY)) && exit 0

AGG_RATE=${BENCH_AGG_RATE:-20}
AGG_SECONDS=${BENCH_AGG_SECONDS:-10}
WORK=$(mktemp -d)
READ_API_PID=
cleanup() {
    if [[ -n "$READ_API_PID" ]] && kill -0 "$READ_API_PID" 2>/dev/null; then
        kill -TERM "$READ_API_PID" 2>/dev/null || true
        wait "$READ_API_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log "building bench and read-api"
cargo build --release -p bench -p read-api >/dev/null 2>&1 || die "cargo build --release -p bench -p read-api failed"
tcp_open 127.0.0.1 "$PORT" && die "port $PORT is taken; set BENCH_READ_PORT"
log "starting read-api on :$PORT against $DB"
READ_API_LISTEN=127.0.0.1:$PORT CLICKHOUSE_DATABASE=$DB RUST_LOG=warn \
    "$RELEASE/read-api" </dev/null >>"$LOGS/bench-read-api.log" 2>&1 &
READ_API_PID=$!
for _ in $(seq 100); do
    [[ "$(http_code "http://127.0.0.1:$PORT/ready")" == 200 ]] && break
    kill -0 "$READ_API_PID" 2>/dev/null || die "read-api exited (log: $LOGS/bench-read-api.log)"
    sleep 0.2
done

data_end=$((STREAM_START_MS + ROWS))
# ClickHouse keeps running queries whose client gave up (an overload leaves up to
# max_concurrent_queries behind): each measurement starts once they are done.
drain() {
    local i
    for ((i = 0; i < 600; i++)); do
        (($(ch "SELECT count() FROM system.processes") <= 1)) && return 0
        sleep 0.1
    done
    warn "ClickHouse still busy after 60 s; measuring anyway"
}
bench() {
    drain
    "$RELEASE/bench-read" "$@" --clickhouse-database "$DB" --data-end-ms "$data_end" >/dev/null
}
# both NAME ARGS...: the same requests (same seed) through read-api and straight to
# ClickHouse; which goes first alternates between runs.
both() {
    local name=$1
    shift
    if ((run % 2)); then
        bench "$@" --read-api "http://127.0.0.1:$PORT" --json-out "$WORK/$name.http.$run.json"
        bench "$@" --direct --json-out "$WORK/$name.direct.$run.json"
    else
        bench "$@" --direct --json-out "$WORK/$name.direct.$run.json"
        bench "$@" --read-api "http://127.0.0.1:$PORT" --json-out "$WORK/$name.http.$run.json"
    fi
}

# A server with this machine's memory holds the 5 GiB of these tables in the page cache;
# right after a reboot or a load, the first minutes would measure the disk instead.
log "warm-up: reading $DB's files into the page cache"
find "$STACK/clickhouse/data/data/$DB" -type f -exec cat {} + >/dev/null
log "warm-up: 10 s of profiles and one pass of aggregates"
run=0
bench profiles --rate 100 --seconds 10 --seed 999 --read-api "http://127.0.0.1:$PORT"
for mask in 0 1 2 3 4 5 6 7; do bench aggregates --mask "$mask" --rate 20 --seconds 2 --seed 999 --direct; done

for run in $(seq "$REPEATS"); do
    for rate in 100 1000; do
        log "run $run/$REPEATS: profiles at $rate/s for ${SECONDS_RUN} s, read-api and direct"
        both "profiles$rate" profiles --rate "$rate" --seconds "$SECONDS_RUN" --seed "$((run * 10 + rate))"
    done
    log "run $run/$REPEATS: aggregates, 8 filter combinations, $AGG_RATE/s for ${AGG_SECONDS} s each, read-api and direct"
    for mask in 0 1 2 3 4 5 6 7; do
        both "aggregates$mask" aggregates --mask "$mask" --rate "$AGG_RATE" --seconds "$AGG_SECONDS" --seed "$((run * 10 + mask))"
    done
done

# What ClickHouse reads per query: a short pass of the direct SQL with query logging on
# (off during the timed runs), then system.query_log.
log "sampling rows read per query (query_log)"
ch "SYSTEM FLUSH LOGS" >/dev/null
since=$(ch "SELECT toUInt64(now())")
sleep 1
"$RELEASE/bench-read" profiles --rate 50 --seconds 10 --seed 4242 --direct --data-end-ms "$data_end" \
    --clickhouse-database "$DB" --clickhouse-url "${CH}?log_queries=1" >/dev/null
for mask in 0 1 2 3 4 5 6 7; do
    "$RELEASE/bench-read" aggregates --mask "$mask" --rate 20 --seconds 2 --seed 4242 --direct --data-end-ms "$data_end" \
        --clickhouse-database "$DB" --clickhouse-url "${CH}?log_queries=1" >/dev/null
done
sleep 1
ch "SYSTEM FLUSH LOGS" >/dev/null
ch "SELECT if(query LIKE '%FROM user_tags%', 'profile', concat('aggregates mask ', extract(query, 'filter_mask = ([0-9])'))) AS kind,
        count() AS queries, quantileExact(0.5)(read_rows) AS p50_rows, quantileExact(0.99)(read_rows) AS p99_rows,
        quantileExact(0.5)(query_duration_ms) AS p50_ms, quantileExact(0.99)(query_duration_ms) AS p99_ms
    FROM system.query_log
    WHERE type = 2 AND event_time >= toDateTime($since)
      AND (query LIKE '%FROM user_tags%' OR query LIKE '%FROM minute_aggregates%')
    GROUP BY kind ORDER BY kind FORMAT JSONEachRow" >"$WORK/query_log.jsonl" || true
ch "SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
    WHERE database = '$DB' AND active GROUP BY table ORDER BY table FORMAT JSONEachRow" >"$WORK/parts.jsonl"
loaded_seconds=$(ch "SELECT seconds FROM $DB.bench_read_loaded")

mkdir -p docs
python3 - "$WORK" "$REPEATS" "$DB" "$ROWS" "$SECONDS_RUN" "$AGG_RATE" "$AGG_SECONDS" "$loaded_seconds" >"$OUT" <<'PY'
import json, os, statistics, subprocess, sys
work, repeats, db, rows, seconds, agg_rate, agg_seconds, loaded_seconds = sys.argv[1:]
repeats = int(repeats)
def runs(name, path):
    return [json.load(open(f"{work}/{name}.{path}.{i}.json")) for i in range(1, repeats + 1)]
def med(name, path, key):
    values = [r["latency"][key] if key in r["latency"] else r[key] for r in runs(name, path)]
    return statistics.median(values)
def failed(name, path):
    return sum(r["failed"] for r in runs(name, path))
def sent(name, path):
    return sum(r["sent"] for r in runs(name, path))
cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].split(":", 1)[1].strip()
mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
sh = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
parts = [json.loads(line) for line in open(f"{work}/parts.jsonl") if line.strip()]
logged = [json.loads(line) for line in open(f"{work}/query_log.jsonl") if line.strip()]
ok = lambda value, limit: "yes" if value < limit else "**no**"
names = {0: "none", 1: "origin", 2: "brand_id", 3: "origin + brand_id", 4: "category_id",
         5: "origin + category_id", 6: "brand_id + category_id", 7: "all three"}
print(f"""# Read path benchmark

Produced by `make bench-read` (scripts/bench-read.sh) on {sh("date", "-u", "+%Y-%m-%d")}.
Machine: {os.cpu_count()} cores ({cpu}), {mem} GiB; ClickHouse 18.16, {sh("git", "rev-parse", "--short", "HEAD")}.
The load generator, read-api and ClickHouse share the machine's cores; the live stack keeps
running beside it; the tables' files are read into the page cache first. Medians of {repeats} runs; each read-api figure is beside the same SQL
(read-api's own `Store`) sent straight to ClickHouse in the same run, with the same requests
(same seed), the order of the two alternating between runs.

## Data

{int(rows):,} tags loaded straight into the scratch database `{db}` (migrated with the real
migrations, so the materialized views filled `minute_aggregates` from the same inserts): 24 h
of event time at 1,000 tags/s from 2026-03-01T00:00:00Z, 1,000,000 cookies, 100 countries,
1,000 origins, 250 brands, 67 categories, one BUY in five, each dimension skewed like
loadgen's stream (a quarter of the draws hit the 16 hottest values, so each hot cookie has
about 1.35 million tags, the others about 65). Loading took {loaded_seconds} s
(INSERT ... SELECT FROM numbers, one hour per insert). Parts at measurement time:

| table | active parts | rows | bytes on disk |
|---|---|---|---|""")
for p in parts:
    print(f"| {p['table']} | {p['parts']} | {int(p['rows']):,} | {int(p['bytes']) / 2**30:.2f} GiB |")
print(f"""
## User profiles

Open loop for {seconds} s per run (latency from each request's due time, so queueing counts;
failures, i.e. non-200 answers or past the 200 ms client deadline, count in the percentiles
at the time they took). Cookies drawn with the data's skew; time range ending in the last
hour of the data, 1 to 60 minutes long, millisecond precision; default limit (200).
A profile is one ClickHouse query for the newest 2 × (`limit` + 64) rows of the range by
partial sort (`ORDER BY time_ms DESC LIMIT`), plus one for a single action when that read
holds too few of it; read-api's query settings on both paths.
A quarter of the queries ask about one of the 16 hot cookies (about 940 tags a minute, so up
to 56,000 rows in the range): they set the p99.

| rate | path | p50 | p99 | max | failed / sent | target p99 < 10 ms |
|---|---|---|---|---|---|---|""")
for rate in (100, 1000):
    for path, label in (("http", "read-api"), ("direct", "same SQL, direct")):
        name = f"profiles{rate}"
        p99 = med(name, path, "p99_ms")
        print(f"| {rate}/s | {label} | {med(name, path, 'p50_ms'):.2f} ms | {p99:.2f} ms | "
              f"{med(name, path, 'max_ms'):.1f} ms | {failed(name, path)} / {sent(name, path)} | "
              f"{ok(p99, 10) if path == 'http' else ''} |")
print(f"""
## Aggregates

10-minute ranges on whole minutes anywhere in the 24 h, random action, both aggregates,
filter values drawn with the data's skew (values that exist); {agg_rate} queries/s for
{agg_seconds} s per filter combination and run, open loop, 60 s client deadline.

| filters | read-api p50 | read-api p99 | direct p50 | direct p99 | failed / sent | target p99 < 50 ms |
|---|---|---|---|---|---|---|""")
for mask in range(8):
    name = f"aggregates{mask}"
    p99 = med(name, "http", "p99_ms")
    print(f"| {names[mask]} | {med(name, 'http', 'p50_ms'):.2f} ms | {p99:.2f} ms | "
          f"{med(name, 'direct', 'p50_ms'):.2f} ms | {med(name, 'direct', 'p99_ms'):.2f} ms | "
          f"{failed(name, 'http') + failed(name, 'direct')} / {sent(name, 'http') + sent(name, 'direct')} | {ok(p99, 50)} |")
if logged:
    print("""
## What ClickHouse reads per query

A separate short pass of the direct SQL with `log_queries=1` (off during the timed runs),
from `system.query_log`:

| query | queries | rows read p50 | rows read p99 | server time p50 | server time p99 |
|---|---|---|---|---|---|""")
    for q in logged:
        print(f"| {q['kind']} | {q['queries']} | {int(q['p50_rows']):,} | {int(q['p99_rows']):,} | {q['p50_ms']} ms | {q['p99_ms']} ms |")
PY
log "report written to $OUT"
cat "$OUT"

# Key figures for docs/benchmarks.md (scripts/bench.sh): medians of the runs; for
# aggregates, the worst filter combination.
mkdir -p "${BENCH_OUT:-$STACK/bench}"
python3 - "$WORK" "$REPEATS" >"${BENCH_OUT:-$STACK/bench}/read.json" <<'PY'
import json, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
def med(name, path, key):
    return statistics.median(json.load(open(f"{work}/{name}.{path}.{i}.json"))["latency"][key]
                             for i in range(1, repeats + 1))
def figures(name):
    return {"p50_ms": med(name, "http", "p50_ms"), "p99_ms": med(name, "http", "p99_ms"),
            "direct_p99_ms": med(name, "direct", "p99_ms")}
aggregates = [figures(f"aggregates{mask}") for mask in range(8)]
print(json.dumps({
    "profile_100": figures("profiles100"),
    "profile_1000": figures("profiles1000"),
    "aggregates": {key: max(a[key] for a in aggregates) for key in ("p50_ms", "p99_ms", "direct_p99_ms")},
}))
PY
