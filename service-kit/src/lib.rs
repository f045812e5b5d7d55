//! What every Allezon service shares, so no service copies another.
//!
//! Layout:
//! - [`error`]: an error and its causes on one line, for logs;
//! - [`settings`]: clap argument groups (Kafka, ClickHouse, HTTP, logging) with env fallbacks;
//! - [`telemetry`]: structured `tracing` logs;
//! - [`metrics`]: the Prometheus recorder behind `GET /metrics`;
//! - [`health`]: the `/health`, `/ready` and `/metrics` routes;
//! - [`http`]: serving a router with graceful shutdown;
//! - [`shutdown`]: the SIGTERM / Ctrl-C future that starts a graceful shutdown;
//! - [`clickhouse`]: the ClickHouse client (rows validated) and its readiness probe;
//! - [`kafka`]: the base librdkafka configuration for the broker.

pub mod clickhouse;
pub mod error;
pub mod health;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
