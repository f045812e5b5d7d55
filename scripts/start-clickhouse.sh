#!/usr/bin/env bash
# Starts ClickHouse 26.9 (chdb-core's clickhouse-local serving HTTP and native, see
# deploy/local/clickhouse/serve.py) as a plain background process with its data under
# .stack/clickhouse/data, HTTP 127.0.0.1:8123, native 127.0.0.1:9000, time zone UTC.
# No-op if it is already running.
# Usage: scripts/start-clickhouse.sh [clickhouse-N]: on a sharded stack (SHARDS > 1, see
# lib.sh) shard N's server (data under .stack/clickhouse-N/data); every shard's server
# gets the cluster in its remote_servers (deploy/local/clickhouse/cluster.xml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-clickhouse}"
case "$name" in
    clickhouse) shard=1 dir="$STACK/clickhouse" ;;
    clickhouse-[0-9]*) shard="${name#clickhouse-}" dir="$STACK/$name" ;;
    *) die "unknown clickhouse server: $name" ;;
esac
((shard <= SHARDS)) || die "$name: the stack has $SHARDS shard(s)"
http_port="$(shard_port http "$shard")"
tcp_port="$(shard_port tcp "$shard")"
server_log="$LOGS/clickhouse-server"
((shard == 1)) || server_log="$LOGS/$name-server"
EXTRA_LOGS=("$server_log.err.log")

[[ -x "$CLICKHOUSE_VENV/bin/python" ]] || die "clickhouse not installed; run scripts/install.sh"

# The cluster's servers, one shard each, and this server's macros.
cluster_config() {
    local i shards=""
    for ((i = 1; i <= SHARDS; i++)); do
        shards+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$(shard_port tcp "$i")</port></replica></shard>"
    done
    sed -e "s#@CLUSTER@#$CLICKHOUSE_CLUSTER#g" -e "s#@SHARDS@#$shards#" -e "s#@SHARD@#$shard#g" \
        "$DEPLOY/clickhouse/cluster.xml" | tr '\n' ' '
}

if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
else
    ensure_port_free "$name" "$http_port"
    ensure_port_free "$name" "$tcp_port"
    mkdir -p "$dir/data"
    extra=""
    ((SHARDS == 1)) || extra="$(cluster_config)"
    sed -e "s#@STACK@/logs/clickhouse-server#$server_log#g" -e "s#@STACK@/clickhouse/users.xml#$dir/users.xml#g" \
        -e "s#@STACK@#$STACK#g" -e "s#@HTTP_PORT@#$http_port#g" -e "s#@TCP_PORT@#$tcp_port#g" \
        "$DEPLOY/clickhouse/config.xml" | awk -v extra="$extra" '/^<\/clickhouse>/ && extra != "" { print extra } { print }' >"$dir/config.xml"
    cp "$DEPLOY/clickhouse/users.xml" "$dir/users.xml"
    start_bg "$name" "$dir" "$CLICKHOUSE_VENV/bin/python" "$DEPLOY/clickhouse/serve.py" "$dir" "$dir/data"
fi

wait_http "$name" "http://127.0.0.1:$http_port/ping" "Ok."
log "$name ready: http://127.0.0.1:$http_port (native 127.0.0.1:$tcp_port)"
