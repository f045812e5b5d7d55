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
    /// How long the producer may wait to batch messages, in milliseconds. 10 sends a
    /// produce request per about 10 tags at the contract's 1,000/s: measured at the
    /// contract's load through the front door (docs/clickhouse-cost.md, "Shoppers the
    /// log holds whole"), the broker took 0.30 core and write-api 0.15 (5 ms: 0.40 and
    /// 0.18), tags p50 10.5 ms and p99 22.9 ms (5 ms: 7.8 and 24.1). 20 ms saves another
    /// 0.07 core but puts p99 at 31 ms, past the 20 ms the soak holds tags to.
    #[arg(long, env = "WRITE_API_LINGER_MS", default_value_t = 10)]
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
