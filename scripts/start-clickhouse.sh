#!/usr/bin/env bash
# Starts ClickHouse 26.9 (chdb-core's clickhouse-local serving HTTP and native, see
# deploy/local/clickhouse/serve.py) as a plain background process with its data under
# .stack/clickhouse/data, HTTP 127.0.0.1:8123, native 127.0.0.1:9000, time zone UTC.
# No-op if it is already running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=clickhouse
dir="$STACK/clickhouse"
EXTRA_LOGS=("$LOGS/clickhouse-server.err.log")

[[ -x "$CLICKHOUSE_VENV/bin/python" ]] || die "clickhouse not installed; run scripts/install.sh"

if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
else
    ensure_port_free "$name" "$CLICKHOUSE_HTTP_PORT"
    ensure_port_free "$name" "$CLICKHOUSE_TCP_PORT"
    mkdir -p "$dir/data"
    sed -e "s#@STACK@#$STACK#g" -e "s#@HTTP_PORT@#$CLICKHOUSE_HTTP_PORT#g" -e "s#@TCP_PORT@#$CLICKHOUSE_TCP_PORT#g" \
        "$DEPLOY/clickhouse/config.xml" >"$dir/config.xml"
    cp "$DEPLOY/clickhouse/users.xml" "$dir/users.xml"
    start_bg "$name" "$dir" "$CLICKHOUSE_VENV/bin/python" "$DEPLOY/clickhouse/serve.py" "$dir" "$dir/data"
fi

wait_http "$name" "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" "Ok."
log "$name ready: http://127.0.0.1:$CLICKHOUSE_HTTP_PORT (native 127.0.0.1:$CLICKHOUSE_TCP_PORT)"
