#!/usr/bin/env bash
# Starts nginx as the front door on 127.0.0.1:$NGINX_PORT (8000) with deploy/local/nginx.conf
# rendered into .stack/nginx/ (pid, temp files under .stack/nginx, logs under
# .stack/logs). If it is already running with an outdated config, reloads it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=nginx
dir="$STACK/nginx"
conf="$dir/nginx.conf"
EXTRA_LOGS=("$LOGS/nginx-error.log")

command -v nginx >/dev/null || die "nginx not installed; run scripts/install.sh"

mkdir -p "$dir/tmp"
new="$(mktemp "$dir/nginx.conf.XXXXXX")"
trap 'rm -f "$new"' EXIT
chmod 644 "$new"
sed -e "s#@STACK@#$STACK#g" -e "s#@NGINX_PORT@#$NGINX_PORT#g" \
    -e "s#@WRITE_API_PORT@#$WRITE_API_PORT#g" -e "s#@READ_API_PORT@#$READ_API_PORT#g" \
    "$DEPLOY/nginx.conf" >"$new"
# -e: error log used before the config is read (default would be /var/log/nginx).
nginx_cmd=(nginx -p "$dir/" -e "$LOGS/nginx-error.log")
if ! out="$("${nginx_cmd[@]}" -t -c "$new" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "invalid nginx config (deploy/local/nginx.conf)"
fi

if pid="$(pid_of "$name")"; then
    if cmp -s "$new" "$conf"; then
        log "$name already running (pid $pid)"
    else
        mv "$new" "$conf"
        kill -HUP "$pid"
        log "$name already running (pid $pid); config changed, reloaded"
    fi
else
    ensure_port_free "$name" "$NGINX_PORT"
    mv "$new" "$conf"
    start_bg "$name" "$dir" "${nginx_cmd[@]}" -c "$conf"
fi

wait_http "$name" "http://127.0.0.1:$NGINX_PORT/health"
log "$name ready: http://127.0.0.1:$NGINX_PORT"
