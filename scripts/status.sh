#!/usr/bin/env bash
# One line per component of the local stack: running/stopped, pid, port, health.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

health() {
    local name="$1" port="$2"
    case "$name" in
        clickhouse) [[ "$(curl -s --max-time 2 "http://127.0.0.1:$port/ping" || true)" == "Ok."* ]] && echo ok || echo down ;;
        tansu) tcp_open 127.0.0.1 "$port" && echo ok || echo down ;;
        nginx) [[ "$(http_code "http://127.0.0.1:$port/health")" == 200 ]] && echo ok || echo down ;;
        *)
            local code
            code="$(http_code "http://127.0.0.1:$port/ready")"
            case "$code" in
                200) echo ready ;;
                000) echo down ;;
                *) echo "not-ready($code)" ;;
            esac
            ;;
    esac
}

for name in "${COMPONENTS[@]}"; do
    port="$(port_of "$name")"
    if pid="$(pid_of "$name")"; then
        printf '%-11s running  pid %-8s port %-5s %s\n' "$name" "$pid" "$port" "$(health "$name" "$port")"
    else
        printf '%-11s stopped  pid %-8s port %s\n' "$name" "-" "$port"
    fi
done
