//! What every Allezon service shares, so no service copies another.
//!
//! Layout:
//! - [`assignment`]: which partitions of the tag topic an instance owns (instance `i`
//!   of `n` owns `p mod n = i`, assigned directly, no group coordinator);
//! - [`error`]: an error and its causes on one line, for logs;
//! - [`settings`]: clap argument groups (Kafka, ClickHouse, HTTP, logging) with env fallbacks;
//! - [`telemetry`]: structured `tracing` logs;
//! - [`metrics`]: the Prometheus recorder behind `GET /metrics`;
//! - [`metric_names`]: every metric of every service, named once (recorded and read
//!   back through it);
//! - [`health`]: the `/health`, `/ready` and `/metrics` routes;
//! - [`http`]: serving a router with graceful shutdown;
//! - [`shutdown`]: the SIGTERM / Ctrl-C future that starts a graceful shutdown;
//! - [`clickhouse`]: the ClickHouse client (rows validated) and its readiness probe;
//! - [`kafka`]: the base librdkafka configuration for the broker, the consumer settings
//!   of a reader that assigns its partitions itself, watermarks, exact reads of offset
//!   ranges, the read-back of the records before a resume point, the broker probe;
//! - [`backoff`]: the one retry policy (100 ms doubling to 5 s) of the blocking loops
//!   (cancellable) and of bounded async retries (`retry_async`);
//! - [`clock`]: the wall clock in epoch milliseconds;
//! - [`worker`]: a blocking loop on its own thread beside the HTTP endpoints, stopped
//!   with them.

pub mod assignment;
pub mod backoff;
pub mod clickhouse;
pub mod clock;
pub mod error;
pub mod health;
pub mod http;
pub mod kafka;
pub mod metric_names;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod worker;
