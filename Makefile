# Local development stack and checks. The logic lives in scripts/*.sh.
#   make up      install missing deps, build release binaries, start ClickHouse,
#                Tansu (+topics), migrations, write-api, read-api, projector, archiver, nginx
#   make down    stop everything (data kept in .stack/)
#   make reset   down + delete .stack/
#   make status  one line per component
#   make logs    follow all logs
#   make lint    cargo fmt --check + clippy -D warnings
#   make test    install, lint, validate docker-compose.yml, make up, cargo test --workspace --release
#                (the chaos slice among them: it kills and restarts the projector and freezes
#                ClickHouse, about 3 minutes, and leaves the stack whole), then the web
#                console's browser tests (make console-test)
#   make console console/dist from console/src (npm ci, tsc, vite build); commit console/dist
#   make console-test         the console in Chromium against the running stack
#   make console-screenshots  the same, saving the screenshots of docs/console.md
#   make bench   every benchmark (bench-write, bench-projector, bench-read, bench-burst, bench-archive, bench-e2e),
#                then the one report docs/benchmarks.md (target/release/bench, the bench crate)
#   make bench-burst  bursts of 200 profile queries on an idle stack, twice the measured capacity,
#                the recovery (read-api's overload handling; about 3 minutes once bench read's
#                day is loaded) -> docs/bench-burst.md
#   make chaos   the checking run at 1,000 tags/s while each component is killed and
#                restarted in turn, ClickHouse frozen once (about 25 minutes) -> the table
#                of docs/reliability.md, .stack/chaos/report.json
#   make soak    a day of tags loaded, then the contract's load for 75 minutes (30 on the day's
#                retention, 45 with 15-minute windows), per minute -> docs/soak.md (about 95 minutes)
#   make cluster-up    the sharded stack: two ClickHouse shards behind Distributed tables, two
#                projector instances (= make up SHARDS=2 PROJECTORS=2; make down stops it)
#   make cluster-test  cluster-up, then a checked run at 1,000 tags/s with per-role CPU from
#                /proc, the cluster's operations (trim per shard, retention), and a checked
#                run while projector-1 and clickhouse-2 are killed -9 and restarted (~12 min)
# One component: scripts/stack.sh {start|stop|restart} {clickhouse|tansu|nginx|write-api|read-api|projector|archiver}

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Where the tests and the benchmarks find the stack: the ports scripts/lib.sh uses (each
# may be moved by setting it in the environment, for a second stack beside the first).
CLICKHOUSE_HTTP_PORT ?= 8123
TANSU_PORT ?= 9092
NGINX_PORT ?= 8000
WRITE_API_PORT ?= 8081
READ_API_PORT ?= 8082
PROJECTOR_PORT ?= 8083
ARCHIVER_PORT ?= 8084
TEST_ENV := CLICKHOUSE_URL=http://127.0.0.1:$(CLICKHOUSE_HTTP_PORT) KAFKA_BROKERS=127.0.0.1:$(TANSU_PORT) \
	ALLEZON_URL=http://127.0.0.1:$(NGINX_PORT) READ_API_URL=http://127.0.0.1:$(READ_API_PORT) \
	WRITE_API_URL=http://127.0.0.1:$(WRITE_API_PORT) ARCHIVER_URL=http://127.0.0.1:$(ARCHIVER_PORT)
# The benchmarks also watch the projector directly; logs for people.
BENCH := $(TEST_ENV) PROJECTOR_URL=http://127.0.0.1:$(PROJECTOR_PORT) \
	LOG_FORMAT=$${LOG_FORMAT:-pretty} target/release/bench

.PHONY: up down reset status logs install build lint test chaos cluster-up cluster-test console console-test console-screenshots \
	bench bench-write bench-projector bench-read bench-analysts bench-burst bench-archive bench-e2e bench-report soak

up:
	scripts/up.sh

down:
	scripts/down.sh

# The sharded stack (scripts/lib.sh; docs/operations.md, "The sharded stack here"). A stack
# keeps its shape until make reset.
cluster-up:
	SHARDS=2 PROJECTORS=2 scripts/up.sh

cluster-test:
	scripts/cluster-test.sh

reset:
	scripts/reset.sh

status:
	scripts/status.sh

logs:
	scripts/logs.sh

install:
	scripts/install.sh

build:
	cargo build --release --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --release -- -D warnings

# Sequential on purpose (install, lint, the stack, the tests), even under make -j.
# Install first: clippy compiles librdkafka, which needs the build tools it installs.
test:
	scripts/install.sh
	$(MAKE) --no-print-directory lint
	scripts/check-compose.sh
	scripts/up.sh
	$(TEST_ENV) cargo test --workspace --release
	console/run.sh test

# The web console (console/, served by read-api at /console). Its build, console/dist, is
# committed and embedded in read-api, so `cargo build` needs no Node.js; rebuild it after
# changing console/src or console/index.html.
console:
	console/run.sh build

# The console in Debian's Chromium (playwright-core) against the running stack: make up first.
console-test:
	console/run.sh test

# The same tests, writing their screenshots to docs/console/ (docs/console.md shows them).
console-screenshots:
	console/run.sh screenshots

# The platform under faults, on the local stack (it kills and restarts its components;
# the stack is whole again afterwards): chaos/src/run.rs. Nothing else may use the
# stack meanwhile.
chaos:
	scripts/up.sh
	mkdir -p .stack/chaos
	$(TEST_ENV) target/release/chaos run --doc docs/reliability.md --json-out .stack/chaos/report.json

# Benchmarks (the bench crate; `target/release/bench <part> --help` lists every size and
# duration, each a flag with an environment fallback, the defaults being the full run).
# Each part writes its figures to .stack/bench/<part>.json; `bench report` assembles
# docs/benchmarks.md (each figure beside its limit) and the
# detail reports docs/bench-{write,projector,read,burst}.md. Never part of `make test`.
# Sequential on purpose: each benchmark needs the machine's cores to itself. The report is
# written even when the whole-platform run finds a wrong answer; make then fails.
bench: up
	$(BENCH) write
	$(BENCH) projector
	$(BENCH) read
	$(BENCH) burst
	$(BENCH) archive
	$(BENCH) e2e; status=$$?; $(BENCH) report; exit $$status

# write-api's CPU per tag beside a no-op server's, latency from three sides, flat-out context
bench-write: up
	$(BENCH) write
	$(BENCH) report

# Projector catch-up on a 1,000,000-tag backlog beside the raw consume rate
bench-projector: up
	$(BENCH) projector
	$(BENCH) report

# read-api on 86,400,000 tags loaded into a scratch database (kept between runs;
# `target/release/bench read --force-load` reloads), under 1,000 tags/s of ingestion
bench-read: up
	$(BENCH) read
	$(BENCH) report

# The analysts' series and top-N alone (about 15 minutes), on bench read's loaded day,
# in place of those of the last bench read's results (which must exist)
bench-analysts: up
	$(BENCH) read --analysts-only
	$(BENCH) report

# read-api's overload handling on bench read's loaded day (loaded first when missing),
# through the front door: 200 profile queries at once on an idle stack (5 rounds), the
# sustained capacity (closed loop), twice it for 20 s (fast 503s for the excess), then the
# contract's 100/s at once (recovery)
bench-burst: up
	$(BENCH) burst
	$(BENCH) report

# The archive: bytes per tag, the archiver's CPU at 1,000 tags/s, freshness, and a rebuild
# from the archive timed against one from the broker (scratch topics) -> docs/bench-archive.md
bench-archive: up
	$(BENCH) archive

# The whole platform at 1,000 tags/s through the front door (loadgen run, contract lags):
# correctness, latency, freshness, peak memory, bytes per tag
bench-e2e: up
	$(BENCH) e2e; status=$$?; $(BENCH) report; exit $$status

# Days, not minutes (about 90 minutes on this machine kind: the day's load ~15, the
# hold 30, three 15-minute retention windows, the final round and the write path's
# floor): a day of tags loaded, then the contract's load through the front door, every
# answer checked, recorded per minute; docs/soak.md and its plots docs/soak/*.png.
# `target/release/bench soak --help` gives every size; `--report-only` rewrites the
# report from .stack/bench/soak.json.
soak: up
	$(BENCH) soak

# docs/benchmarks.md and the detail reports from the figures already in .stack/bench
bench-report:
	$(BENCH) report
