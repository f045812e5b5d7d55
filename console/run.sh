#!/usr/bin/env bash
# The analysts' web console (console/): its npm packages, its build, its browser tests.
#   console/run.sh build        console/dist from console/src (Vite + TypeScript); the
#                                   build is committed and embedded in read-api, so a plain
#                                   `cargo build` needs no Node.js
#   console/run.sh test         the browser tests: Debian's Chromium driven by
#                                   playwright-core against the running stack (make up first)
#   console/run.sh screenshots  the same tests, saving their screenshots in docs/console/
# Packages come from console/package-lock.json (`npm ci`), installed again only when the
# lock file changed since the last install.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

CONSOLE="$ROOT/console"

command -v node >/dev/null 2>&1 || die "node not found; scripts/install.sh installs it"
command -v npm >/dev/null 2>&1 || die "npm not found; scripts/install.sh installs it"

packages() {
    local stamp="$CONSOLE/node_modules/.installed-from-lock"
    if [[ -f "$stamp" ]] && cmp -s "$CONSOLE/package-lock.json" "$stamp"; then
        return
    fi
    log "npm ci in console/"
    (cd "$CONSOLE" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$CONSOLE/package-lock.json" "$stamp"
}

browser_tests() {
    [[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || die "chromium not found; scripts/install.sh installs it"
    [[ -x "$RELEASE/read-api" ]] || die "$RELEASE/read-api not built; make up builds it"
    # The stack's ports (lib.sh): the front door for the test's tags and pages; the
    # ClickHouse and peers for the read-api with keys the test starts itself.
    export ALLEZON_URL="${ALLEZON_URL:-http://127.0.0.1:$NGINX_PORT}"
    export READ_API_BIN="$RELEASE/read-api"
    (cd "$CONSOLE" && node --test --test-concurrency=1 --test-timeout=300000 tests/*.test.mjs)
}

case "${1:-}" in
    build)
        packages
        (cd "$CONSOLE" && npm run --silent build)
        log "built console/dist (commit it: read-api embeds it)"
        ;;
    test)
        packages
        browser_tests
        ;;
    screenshots)
        packages
        export CONSOLE_SCREENSHOTS="$ROOT/docs/console"
        browser_tests
        log "screenshots in docs/console/"
        ;;
    *)
        die "usage: console/run.sh {build|test|screenshots}"
        ;;
esac
