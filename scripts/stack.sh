#!/usr/bin/env bash
# Starts, stops or restarts one component of the local stack (tests use it to
# take the broker or ClickHouse away and bring it back).
# Usage: scripts/stack.sh {start|stop|restart} {clickhouse|tansu|nginx|write-api|read-api|projector|archiver}
# (a sharded stack adds clickhouse-N and projector-N: lib.sh)
# `start` waits until the component is healthy; `stop` sends SIGTERM, waits up
# to STOP_TIMEOUT (15) s, then SIGKILL. Data is kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

usage() {
    echo "usage: $0 {start|stop|restart} {${COMPONENTS[*]// /|}}" >&2
    exit 2
}
(($# == 2)) || usage
action="$1"
name="$2"
case " ${COMPONENTS[*]} " in
    *" $name "*) ;;
    *) usage ;;
esac

start() {
    case "$name" in
        clickhouse | clickhouse-[0-9]*) "$here/start-clickhouse.sh" "$name" ;;
        tansu) "$here/start-tansu.sh" ;;
        nginx) "$here/start-nginx.sh" ;;
        *) "$here/start-services.sh" "$name" ;;
    esac
}

case "$action" in
    start) start ;;
    stop) stop_pid "$name" ;;
    restart)
        stop_pid "$name"
        start
        ;;
    *) usage ;;
esac
