#!/usr/bin/env bash
# Applies the ClickHouse migrations (migrations/*.sql) with the release
# `migrate` binary. Output goes to .stack/logs/migrate.log; on failure it is
# shown and the script exits non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export RUST_LOG="${RUST_LOG:-info}"

bin="$RELEASE/migrate"
[[ -x "$bin" ]] || die "$bin not found; build it with: cargo build --release --workspace"

logf="$(log_file migrate)"
printf '\n===== %s %s --dir %s\n' "$(date -u +%FT%TZ)" "$bin" "$ROOT/migrations" >>"$logf"
if out="$("$bin" --dir "$ROOT/migrations" 2>&1)"; then
    printf '%s\n' "$out" >>"$logf"
    log "migrations applied (output in $logf)"
else
    rc=$?
    printf '%s\n' "$out" >>"$logf"
    printf -- '----- migrate output -----\n%s\n-----\n' "$out" >&2
    die "migrate failed (exit $rc)"
fi
