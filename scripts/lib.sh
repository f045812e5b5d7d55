# Common helpers for the local stack scripts. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Everything the stack writes lives under $STACK (repo/.stack, gitignored).

# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/.stack"
LOGS="$STACK/logs"
RUN="$STACK/run"
DEPLOY="$ROOT/deploy/local"
RELEASE="$ROOT/target/release"
# ClickHouse 26.9 (chdb-core) lives in its own venv; scripts/install.sh fills it.
CLICKHOUSE_VENV="$STACK/clickhouse/venv"

# Ports of the local stack (the services' built-in defaults match these). Each can be
# moved by setting it in the environment, so a second stack (another checkout, with its
# own .stack/) can run beside the first: the scripts pass the ports on to every
# component (CLICKHOUSE_URL, KAFKA_BROKERS, *_LISTEN).
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-9000}
TANSU_PORT=${TANSU_PORT:-9092}
NGINX_PORT=${NGINX_PORT:-8000}
WRITE_API_PORT=${WRITE_API_PORT:-8081}
READ_API_PORT=${READ_API_PORT:-8082}
PROJECTOR_PORT=${PROJECTOR_PORT:-8083}
ARCHIVER_PORT=${ARCHIVER_PORT:-8084}

# What the services and tools are told (environment fallbacks of their flags).
export CLICKHOUSE_URL="http://127.0.0.1:$CLICKHOUSE_HTTP_PORT"
export KAFKA_BROKERS="127.0.0.1:$TANSU_PORT"
export WRITE_API_LISTEN="127.0.0.1:$WRITE_API_PORT"
export READ_API_LISTEN="127.0.0.1:$READ_API_PORT"
export PROJECTOR_LISTEN="127.0.0.1:$PROJECTOR_PORT"
export ARCHIVER_LISTEN="127.0.0.1:$ARCHIVER_PORT"
# The archive of every tag (the archiver writes it; projector rebuild --from-archive and
# archiver verify read it; ClickHouse reads it for the analysts' history, by absolute path).
export ARCHIVE_URL="${ARCHIVE_URL:-file://$STACK/archive}"
export READ_API_ARCHIVE_URL="${READ_API_ARCHIVE_URL:-$STACK/archive}"
export READ_API_PEER_METRICS="write-api=http://127.0.0.1:$WRITE_API_PORT/metrics,projector=http://127.0.0.1:$PROJECTOR_PORT/metrics"
# read-api keeps the profiles of this many shoppers in memory, current from the tag log
# (read-api --help); 0 turns it off.
export READ_API_PROFILE_CACHE_COOKIES="${READ_API_PROFILE_CACHE_COOKIES:-200000}"
# ... holding at most this many MiB of profiles (read-api --help).
export READ_API_PROFILE_CACHE_MIB="${READ_API_PROFILE_CACHE_MIB:-128}"
# With the profile cache, a profile is as fresh as the log whatever the projector's lag,
# so the projector inserts every 2 s instead of every 250 ms: a quarter of the inserts
# (each costs ClickHouse ~30 ms with its views) and fewer young parts for reads to open.
export PROJECTOR_BATCH_MAX_WAIT_MS="${PROJECTOR_BATCH_MAX_WAIT_MS:-2000}"

SERVICES=(write-api read-api projector archiver)
COMPONENTS=(clickhouse tansu write-api read-api projector archiver nginx)

# The sharded stack (make cluster-up, or make up SHARDS=2 PROJECTORS=2; docs/operations.md,
# "The sharded stack here"): SHARDS ClickHouse servers as the shards of the cluster
# $CLICKHOUSE_CLUSTER behind Distributed tables (shard i > 1 is the component
# clickhouse-i, ports CLICKHOUSE_HTTP_PORT_i / CLICKHOUSE_TCP_PORT_i, by default the
# first shard's + i - 1), and PROJECTORS projector instances sharing the partitions
# (instance i > 0 is projector-i, port PROJECTOR_PORT_i, by default PROJECTOR_PORT + 10 + i: PROJECTOR_PORT + 1 is the archiver's).
# up.sh records the shape in $STACK/topology, so down, status and stack.sh see it
# without being told; a stack keeps its shape until `make reset`.
TOPOLOGY_FILE="$STACK/topology"
if [[ -z "${SHARDS:-}${PROJECTORS:-}" && -f "$TOPOLOGY_FILE" ]]; then
    # shellcheck disable=SC1090
    source "$TOPOLOGY_FILE"
fi
SHARDS=${SHARDS:-1}
PROJECTORS=${PROJECTORS:-1}
[[ "$SHARDS" =~ ^[1-9]$ && "$PROJECTORS" =~ ^[1-9]$ ]] || {
    printf '[stack] ERROR: SHARDS and PROJECTORS must be 1 to 9 (got %s, %s)\n' "$SHARDS" "$PROJECTORS" >&2
    exit 1
}
EXTRA_SHARDS=()
for ((i = 2; i <= SHARDS; i++)); do EXTRA_SHARDS+=("clickhouse-$i"); done
EXTRA_PROJECTORS=()
for ((i = 1; i < PROJECTORS; i++)); do EXTRA_PROJECTORS+=("projector-$i"); done
SERVICES+=("${EXTRA_PROJECTORS[@]}")
COMPONENTS+=("${EXTRA_SHARDS[@]}" "${EXTRA_PROJECTORS[@]}")
export PROJECTOR_INSTANCES="$PROJECTORS"

# shard_port http|tcp N: shard N's port.
shard_port() {
    local kind="$1" shard="$2" var base
    if [[ "$kind" == http ]]; then var="CLICKHOUSE_HTTP_PORT_$shard" base="$CLICKHOUSE_HTTP_PORT"; else var="CLICKHOUSE_TCP_PORT_$shard" base="$CLICKHOUSE_TCP_PORT"; fi
    echo "${!var:-$((base + shard - 1))}"
}
if ((SHARDS > 1)); then
    export CLICKHOUSE_CLUSTER="${CLICKHOUSE_CLUSTER:-allezon_local}"
    urls=()
    for ((i = 1; i <= SHARDS; i++)); do urls+=("http://127.0.0.1:$(shard_port http "$i")"); done
    CLICKHOUSE_SHARD_URLS="$(IFS=,; echo "${urls[*]}")"
    export CLICKHOUSE_SHARD_URLS
    unset urls
fi

# Seconds to wait for a component to become healthy / to stop.
START_TIMEOUT="${START_TIMEOUT:-60}"
STOP_TIMEOUT="${STOP_TIMEOUT:-15}"

mkdir -p "$LOGS" "$RUN"

# Cargo is usually in ~/.cargo/bin, which non-login shells may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
    # shellcheck disable=SC1091
    source "$HOME/.cargo/env"
fi
case ":$PATH:" in
    *":$HOME/.cargo/bin:"*) ;;
    *) [[ -d "$HOME/.cargo/bin" ]] && PATH="$PATH:$HOME/.cargo/bin" ;;
esac
# Node.js from scripts/install.sh, on a machine that had none recent enough.
if [[ -d "$STACK/node/bin" ]]; then
    PATH="$STACK/node/bin:$PATH"
fi
export PATH

log() { printf '[stack] %s\n' "$*" >&2; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[stack] ERROR: %s\n' "$*" >&2
    exit 1
}

port_of() {
    case "$1" in
        clickhouse) echo "$CLICKHOUSE_HTTP_PORT" ;;
        tansu) echo "$TANSU_PORT" ;;
        nginx) echo "$NGINX_PORT" ;;
        write-api) echo "$WRITE_API_PORT" ;;
        read-api) echo "$READ_API_PORT" ;;
        projector) echo "$PROJECTOR_PORT" ;;
        clickhouse-[0-9]*) shard_port http "${1#clickhouse-}" ;;
        projector-[0-9]*)
            local var="PROJECTOR_PORT_${1#projector-}"
            echo "${!var:-$((PROJECTOR_PORT + 10 + ${1#projector-}))}"
            ;;
        archiver) echo "$ARCHIVER_PORT" ;;
        *) die "unknown component: $1" ;;
    esac
}

# binary_of SERVICE: the program a service runs (projector-N runs the projector).
binary_of() { echo "${1%-[0-9]*}"; }

# Executable name expected in /proc/<pid>/cmdline, guards against pid reuse.
exe_of() {
    case "$1" in
        clickhouse | clickhouse-[0-9]*) echo "serve.py" ;;
        *) binary_of "$1" ;;
    esac
}

pid_file() { echo "$RUN/$1.pid"; }
log_file() { echo "$LOGS/$1.log"; }

# Prints the pid of a component if its pid file exists and names a live process.
pid_of() {
    local name="$1" file pid
    file="$(pid_file "$name")"
    [[ -s "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A recycled pid belonging to some other program does not count.
    local cmdline
    if cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"; then
        [[ "$cmdline" == *"$(exe_of "$name")"* ]] || return 1
    fi
    echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

# pid_alive NAME: the recorded pid exists. Used while waiting for a component just
# started: right after start_bg the pid may still be the subshell about to exec the
# program, so its cmdline does not match yet (is_running would say "exited").
pid_alive() {
    local file pid
    file="$(pid_file "$1")"
    [[ -s "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME WORKDIR CMD [ARGS...]: runs CMD detached (own session, stdin
# closed, output appended to the component's log) and records its pid.
start_bg() {
    local name="$1" dir="$2"
    shift 2
    local logf
    logf="$(log_file "$name")"
    mkdir -p "$dir"
    printf '\n===== %s starting %s: %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$logf"
    (cd "$dir" && exec setsid "$@" </dev/null >>"$logf" 2>&1) &
    local pid=$!
    echo "$pid" >"$(pid_file "$name")"
    log "started $name (pid $pid, log $logf)"
}

# stop_pid NAME: SIGTERM, wait up to $STOP_TIMEOUT s, then SIGKILL.
stop_pid() {
    local name="$1" pid i
    if ! pid="$(pid_of "$name")"; then
        rm -f "$(pid_file "$name")"
        log "$name is not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$(pid_file "$name")"
    log "stopped $name"
}

show_log_tail() {
    local name="$1" lines="${2:-40}" f
    for f in "$(log_file "$name")" "${@:3}"; do
        [[ -f "$f" ]] || continue
        printf -- '----- last %s lines of %s -----\n' "$lines" "$f" >&2
        tail -n "$lines" "$f" >&2
        printf -- '-----\n' >&2
    done
}

# http_code URL: prints the HTTP status (000 if nothing answers).
http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# wait_http NAME URL [EXPECTED_BODY]: waits until URL answers 200 (and the body
# equals EXPECTED_BODY if given). Fails early if NAME's process dies.
wait_http() {
    local name="$1" url="$2" expect="${3:-}" deadline body code
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ -n "$expect" ]]; then
            body="$(curl -s --max-time 2 "$url" 2>/dev/null || true)"
            [[ "$(printf '%s' "$body" | tr -d '\r\n')" == "$expect" ]] && return 0
        else
            code="$(http_code "$url")"
            [[ "$code" == 200 ]] && return 0
        fi
        if ! pid_alive "$name"; then
            show_log_tail "$name" 40 "${EXTRA_LOGS[@]}"
            die "$name exited while waiting for $url"
        fi
        sleep 0.3
    done
    show_log_tail "$name" 40 "${EXTRA_LOGS[@]}"
    die "$name: $url not healthy after ${START_TIMEOUT}s (last status: ${code:-?})"
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_tcp NAME HOST PORT: waits until HOST:PORT accepts connections.
wait_tcp() {
    local name="$1" host="$2" port="$3" deadline
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        tcp_open "$host" "$port" && return 0
        if ! pid_alive "$name"; then
            show_log_tail "$name" 40
            die "$name exited while waiting for $host:$port"
        fi
        sleep 0.3
    done
    show_log_tail "$name" 40
    die "$name: $host:$port not accepting connections after ${START_TIMEOUT}s"
}

# Fails if something else (not started by these scripts) holds the port.
ensure_port_free() {
    local name="$1" port="$2"
    if tcp_open 127.0.0.1 "$port"; then
        die "port $port needed by $name is already in use by another process (not started by these scripts); stop it first (ss -ltnp 'sport = :$port')"
    fi
}

EXTRA_LOGS=()
