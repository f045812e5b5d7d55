//! bench: the platform's benchmarks, each figure beside its limit measured in the same
//! run, and the report that puts them together (`make bench`).
//!
//! One binary, `bench`, with a subcommand per part (`write`, `projector`, `read`, `burst`,
//! `e2e`, `soak`, `load`, `report`), rather than a binary per part: the parts share their flags (where
//! the stack is, where results go, logging) and most of their machinery (the stack, the
//! loader, `/proc`, open-loop load), `--help` lists every part in one place, and one
//! build artifact is what the Makefile calls. The second binary, `bench-noop-server`,
//! exists because it must be its own process: it is the no-op server whose CPU per
//! request is the write path's floor, read from `/proc` apart from the load generator's.
//!
//! Layout:
//! - [`parts`]: the benchmarks ([`parts::write`], [`parts::projector`], [`parts::read`],
//!   [`parts::burst`], [`parts::e2e`], [`parts::soak`]) and their results files under
//!   `.stack/bench/`;
//! - [`report`]: `docs/benchmarks.md` and the detail reports, from the results files;
//! - [`loader`]: tags of loadgen's stream straight into a scratch database (read, e2e,
//!   later the soak);
//! - [`loaded_day`]: the loaded day the read-path parts share (`read`, `burst`): its
//!   flags, loading or reusing it, settling, warming, moving the services onto it;
//! - [`stack`]: the local stack (URLs, the components a benchmark needs, services on a
//!   scratch topic and database, scratch topics); its processes (pids checked against
//!   `/proc/<pid>/cmdline`, `scripts/stack.sh`) through the `stack-control` crate;
//! - [`database`]: what is asked of ClickHouse besides the measured queries (parts,
//!   settling, page cache, `system.query_log`); [`query_cost`]: its fixed price per
//!   query (`SELECT 1`);
//! - load: [`open_loop`] (requests at due times, answers classified), [`closed_loop`]
//!   (clients sending back to back: throughput), [`queries`]
//!   (profile and aggregates requests over the loaded data, to read-api or as its SQL),
//!   [`background_ingest`] (tags at a fixed rate while something else is measured),
//!   [`consume`] and [`catch_up`] (the projector's limit and its catch-up), [`noop`]
//!   (the write path's floor);
//! - readings and arithmetic: [`process`] (`/proc`: CPU, memory; one process's readings
//!   from `stack-control`), [`platform_cpu`]
//!   (every component's CPU over a window, beside the platform's limit), [`machine`] (the
//!   machine and the commit), [`nginx_log`] (the front door's `rt=`), [`prometheus`]
//!   (a service's `/metrics`), [`stats`] (medians, histogram quantiles), [`verdict`]
//!   (a figure against its limit);
//! - [`error`]: why a benchmark could not run.
//!
//! Benchmarks never run in `make test`; the unit tests cover the pure parts and
//! `tests/loader.rs` loads a few thousand tags into the real ClickHouse.

pub mod background_ingest;
pub mod capacity;
pub mod catch_up;
pub mod closed_loop;
pub mod consume;
pub mod database;
pub mod error;
pub mod loaded_day;
pub mod loader;
pub mod machine;
pub mod nginx_log;
pub mod noop;
pub mod open_loop;
pub mod parts;
pub mod platform_cpu;
pub mod plot;
pub mod process;
pub mod prometheus;
pub mod queries;
pub mod query_cost;
pub mod report;
pub mod stack;
pub mod stats;
pub mod verdict;
