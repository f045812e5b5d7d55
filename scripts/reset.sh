#!/usr/bin/env bash
# Stops the local stack and deletes all its state (.stack/: data, logs, pids).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

"$here/down.sh"
[[ "$STACK" == */.stack ]] || die "refusing to delete unexpected path $STACK"
rm -rf -- "$STACK"
log "removed $STACK"
