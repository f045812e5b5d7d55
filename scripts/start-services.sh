#!/usr/bin/env bash
# Starts the Rust services from target/release (build them first with
# `cargo build --release --workspace`) and waits for their /ready:
#   write-api :8081, read-api :8082, projector :8083, archiver :8084 (and projector-N,
#   instance N of PROJECTORS, on a stack with several: lib.sh).
# Usage: scripts/start-services.sh [write-api|read-api|projector|projector-N|archiver ...] (default: all)
# A service already running is left alone, unless its binary is newer than the
# running process (binary mtime > pid file mtime): then it is restarted.
# Settings come from the environment; the services' defaults match this stack.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export RUST_LOG="${RUST_LOG:-info}"

names=("$@")
((${#names[@]})) || names=("${SERVICES[@]}")

started=()
for name in "${names[@]}"; do
    case " ${SERVICES[*]} " in
        *" $name "*) ;;
        *) die "unknown service: $name (expected one of: ${SERVICES[*]})" ;;
    esac
    bin="$RELEASE/$(binary_of "$name")"
    [[ -x "$bin" ]] || die "$bin not found; build it with: cargo build --release --workspace"
    if pid="$(pid_of "$name")"; then
        if [[ "$bin" -nt "$(pid_file "$name")" ]]; then
            log "$name (pid $pid) runs an older build; restarting"
            stop_pid "$name"
        else
            log "$name already running (pid $pid)"
            started+=("$name")
            continue
        fi
    fi
    ensure_port_free "$name" "$(port_of "$name")"
    case "$name" in
        projector-[0-9]*)
            start_bg "$name" "$ROOT" env PROJECTOR_INSTANCE="${name#projector-}" \
                PROJECTOR_LISTEN="127.0.0.1:$(port_of "$name")" "$bin"
            ;;
        *) start_bg "$name" "$ROOT" "$bin" ;;
    esac
    started+=("$name")
done

for name in "${started[@]}"; do
    wait_http "$name" "http://127.0.0.1:$(port_of "$name")/ready"
    log "$name ready: http://127.0.0.1:$(port_of "$name")"
done
