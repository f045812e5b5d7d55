#!/usr/bin/env bash
# Starts ClickHouse (Debian's clickhouse-server 18.16) as a plain background
# process with its data under .stack/clickhouse, HTTP 127.0.0.1:8123, native
# 127.0.0.1:9000, time zone UTC. No-op if it is already running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=clickhouse
dir="$STACK/clickhouse"
EXTRA_LOGS=("$LOGS/clickhouse-server.err.log")

command -v clickhouse-server >/dev/null || die "clickhouse-server not installed; run scripts/install.sh"

if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
else
    ensure_port_free "$name" "$CLICKHOUSE_HTTP_PORT"
    ensure_port_free "$name" "$CLICKHOUSE_TCP_PORT"
    mkdir -p "$dir"/{data,tmp,user_files,format_schemas}
    # Render the config with this checkout's stack path; users.xml is resolved
    # relative to the config file.
    sed "s#@STACK@#$STACK#g" "$DEPLOY/clickhouse/config.xml" >"$dir/config.xml"
    cp "$DEPLOY/clickhouse/users.xml" "$dir/users.xml"
    start_bg "$name" "$dir" clickhouse-server --config-file="$dir/config.xml"
fi

wait_http "$name" "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" "Ok."
log "$name ready: http://127.0.0.1:$CLICKHOUSE_HTTP_PORT (native 127.0.0.1:$CLICKHOUSE_TCP_PORT)"
