//! write-api settings: flags with environment fallbacks; `write-api --help` is the reference.

use clap::Parser;
use service_kit::settings::{parse_listen, parse_millis, KafkaSettings, LogSettings};
use std::net::SocketAddr;
use std::time::Duration;

/// Records user tags on the Kafka log (POST /user_tags).
#[derive(Debug, Clone, Parser)]
#[command(name = "write-api", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WRITE_API_LISTEN", default_value = "127.0.0.1:8081", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Deadline for the broker's acknowledgement, in milliseconds; past it the answer is 503.
    #[arg(long, env = "WRITE_API_PRODUCE_DEADLINE_MS", default_value = "150", value_parser = parse_millis)]
    pub produce_deadline: Duration,
    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, env = "WRITE_API_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// How long the producer may wait to batch messages, in milliseconds. 5 sends a
    /// produce request per about 5 tags at the contract's 1,000/s instead of one per tag:
    /// measured with `bench write` on this machine kind against 1 ms, write-api's CPU
    /// -19..-27% and the broker's -30..-39%, for tags p50 and p99 +3.4 ms
    /// (docs/soak-findings.md, "The write path").
    #[arg(long, env = "WRITE_API_LINGER_MS", default_value_t = 5)]
    pub linger_ms: u32,
    /// Kafka connection and topic.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

impl Config {
    /// Defaults for the local stack (as with no flags and no environment).
    pub fn local_defaults() -> Self {
        Self::parse_from(["write-api"])
    }
}
