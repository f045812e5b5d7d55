#!/usr/bin/env bash
# Follows all logs of the local stack (Ctrl-C to stop).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

shopt -s nullglob
files=("$LOGS"/*.log)
((${#files[@]})) || die "no logs yet in $LOGS (start the stack with: make up)"
exec tail -n 20 -F "${files[@]}"
