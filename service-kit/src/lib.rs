//! What every Allezon service shares, so no service copies another.
//!
//! Layout:
//! - [`settings`]: clap argument groups (Kafka, ClickHouse, HTTP, logging) with env fallbacks;
//! - [`telemetry`]: structured `tracing` logs;
//! - [`metrics`]: the Prometheus recorder behind `GET /metrics`;
//! - [`health`]: the `/health`, `/ready` and `/metrics` routes;
//! - [`http`]: serving a router with graceful shutdown;
//! - [`shutdown`]: the SIGTERM / Ctrl-C future that starts a graceful shutdown;
//! - [`clickhouse`]: a ClickHouse client that works on 18.16 and current releases;
//! - [`kafka`]: the base librdkafka configuration for the broker;
//! - [`tables`]: row shapes of the ClickHouse tables, shared by writer and reader.

pub mod clickhouse;
pub mod health;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod tables;
pub mod telemetry;
