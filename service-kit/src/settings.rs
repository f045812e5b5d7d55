//! Command-line settings shared by the services, each flag with an environment
//! fallback (same names locally and in docker-compose). `--help` is the reference.

use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

/// The local stack's ClickHouse, the default of `--clickhouse-url`.
pub const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:8123";

/// The local stack's broker, the default of `--kafka-brokers`.
pub const DEFAULT_KAFKA_BROKERS: &str = "127.0.0.1:9092";

/// Where the Kafka-protocol broker and the tag topic are.
#[derive(Debug, Clone, Args)]
pub struct KafkaSettings {
    /// Bootstrap brokers, comma-separated host:port.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = DEFAULT_KAFKA_BROKERS
    )]
    pub brokers: String,
    /// Topic holding the user tags.
    #[arg(long = "kafka-topic", env = "KAFKA_TOPIC", default_value = "user-tags")]
    pub topic: String,
    /// Confluent schema registry URL; without it the schemas bundled in `schemas/` are used with fixed ids.
    #[arg(long = "schema-registry-url", env = "SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,
}

/// Where ClickHouse is.
#[derive(Debug, Clone, Args)]
pub struct ClickHouseSettings {
    /// ClickHouse HTTP endpoint.
    #[arg(
        long = "clickhouse-url",
        env = "CLICKHOUSE_URL",
        default_value = DEFAULT_CLICKHOUSE_URL
    )]
    pub url: String,
    /// Database holding the tables of `migrations/`.
    #[arg(
        long = "clickhouse-database",
        env = "CLICKHOUSE_DATABASE",
        default_value = "allezon"
    )]
    pub database: String,
    /// ClickHouse user.
    #[arg(
        long = "clickhouse-user",
        env = "CLICKHOUSE_USER",
        default_value = "default"
    )]
    pub user: String,
    /// ClickHouse password.
    #[arg(
        long = "clickhouse-password",
        env = "CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: String,
}

/// The servers of a sharded ClickHouse, one per shard, for the work that must run on
/// each shard's local tables rather than through the Distributed ones.
#[derive(Debug, Clone, Default, Args)]
pub struct ShardSettings {
    /// The HTTP URL of one server of each shard, when the tables are Distributed over a
    /// cluster: `migrate` makes the tables on each (a cluster without replication, such
    /// as the local sharded stack), the projector trims each shard's local tables.
    /// Unset: one server.
    #[arg(
        long = "clickhouse-shard-url",
        env = "CLICKHOUSE_SHARD_URLS",
        value_delimiter = ','
    )]
    pub urls: Vec<String>,
}

impl ShardSettings {
    /// `settings` pointed at each shard's server in turn (the same database and user).
    pub fn servers(&self, settings: &ClickHouseSettings) -> Vec<ClickHouseSettings> {
        self.urls
            .iter()
            .map(|url| ClickHouseSettings {
                url: url.clone(),
                ..settings.clone()
            })
            .collect()
    }
}

/// The sender's-retry rule (see `schemas::retries`): every reader of the log must use
/// the same values, so the projector and the archiver read the same variables.
#[derive(Debug, Clone, Args)]
pub struct SenderRetrySettings {
    /// A tag identical to one recorded at most this long before it (record time) in the
    /// same partition is a sender's retry and is projected once, in milliseconds.
    #[arg(long = "retry-window-ms", env = "PROJECTOR_RETRY_WINDOW_MS", default_value = "30000", value_parser = parse_millis)]
    pub window: Duration,
    /// ... and at most this many records before it, which bounds the log read again at
    /// start-up to remember recent tags.
    #[arg(
        long = "retry-window-records",
        env = "PROJECTOR_RETRY_WINDOW_RECORDS",
        default_value_t = 20_000
    )]
    pub records: u32,
}

/// Logging.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log filter (tracing EnvFilter syntax), e.g. `info,write_api=debug`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub filter: String,
    /// Log format: `json` for machines, `pretty` for people.
    #[arg(long = "log-format", env = "LOG_FORMAT", default_value = "json", value_parser = ["json", "pretty"])]
    pub format: String,
}

/// Parses a duration in milliseconds (`150`) for flags such as deadlines.
pub fn parse_millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("expected milliseconds, got {text:?}"))
}

/// Parses a listen address (`127.0.0.1:8081`).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("expected host:port, got {text:?}"))
}
