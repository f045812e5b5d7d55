//! bench: the platform's benchmarks, each figure beside its limit measured in the same run.
//!
//! Layout:
//! - [`open_loop`]: requests fired at fixed due times, latency measured from the due time;
//! - [`process`]: CPU time of a process and of its threads, from `/proc`;
//! - [`consume`]: the raw consume rate of a topic with the projector's consumer settings,
//!   with or without decoding (`bench-projector consume`);
//! - [`catch_up`]: the real projector binary on a backlog, timed until ClickHouse holds
//!   every row (`bench-projector catch-up`);
//! - [`read`]: profile and aggregate queries, through read-api or as the same SQL
//!   straight to ClickHouse (`bench-read`);
//! - [`loader`]: tags of loadgen's stream straight into a scratch database, as the
//!   projector would write them;
//! - readings and arithmetic for the reports: [`machine`] (the machine and the commit),
//!   [`nginx_log`] (the front door's `rt=`), [`prometheus`] (a service's `/metrics`),
//!   [`stats`] (medians, histogram quantiles), [`verdict`] (a figure against its limit);
//!   [`process`] also reads memory.

pub mod catch_up;
pub mod consume;
pub mod loader;
pub mod machine;
pub mod nginx_log;
pub mod open_loop;
pub mod process;
pub mod prometheus;
pub mod read;
pub mod stats;
pub mod verdict;
