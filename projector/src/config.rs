//! projector settings: flags with environment fallbacks; `projector --help` is the reference.

use clap::{Parser, Subcommand};
use service_kit::settings::{
    parse_listen, parse_millis, ClickHouseSettings, KafkaSettings, LogSettings,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Materializes the tag log into ClickHouse (profiles and minute aggregates).
#[derive(Debug, Clone, Parser)]
#[command(name = "projector", version)]
pub struct Config {
    /// What to do (default: project the log continuously).
    #[command(subcommand)]
    pub mode: Option<Mode>,
    /// Address of the /health, /ready and /metrics endpoints.
    #[arg(long, env = "PROJECTOR_LISTEN", default_value = "127.0.0.1:8083", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Consumer group; instances in one group share the partitions.
    #[arg(long, env = "PROJECTOR_GROUP_ID", default_value = "allezon-projector")]
    pub group_id: String,
    /// Topic receiving undecodable messages (default: `<topic>-dead-letter`).
    #[arg(long, env = "PROJECTOR_DEAD_LETTER_TOPIC")]
    pub dead_letter_topic: Option<String>,
    /// Largest batch, in rows (one insert, one block: keep it well under 1,048,576).
    #[arg(long, env = "PROJECTOR_BATCH_MAX_ROWS", default_value_t = 50_000)]
    pub batch_max_rows: usize,
    /// Oldest a batch may get before it is inserted, in milliseconds.
    #[arg(long, env = "PROJECTOR_BATCH_MAX_WAIT_MS", default_value = "250", value_parser = parse_millis)]
    pub batch_max_wait: Duration,
    /// Aggregates older than this many hours behind the newest tag are dropped.
    #[arg(long, env = "PROJECTOR_RETENTION_HOURS", default_value_t = 24)]
    pub retention_hours: u32,
    /// How often retention runs, in milliseconds.
    #[arg(long, env = "PROJECTOR_RETENTION_INTERVAL_MS", default_value = "60000", value_parser = parse_millis)]
    pub retention_interval: Duration,
    /// Kafka connection and topic.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// ClickHouse connection.
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

/// Other modes than continuous projection.
#[derive(Debug, Clone, Subcommand)]
pub enum Mode {
    /// Replays the whole topic into fresh tables in another database, then exits.
    /// Switch by pointing read-api and the projector at that database
    /// (CLICKHOUSE_DATABASE): the log is the source of truth.
    Rebuild {
        /// Database to build into (created and migrated; must not hold projected data).
        #[arg(long)]
        target_database: String,
        /// Folder of the ClickHouse migrations.
        #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
        migrations_dir: PathBuf,
    },
}

impl Config {
    /// Defaults for the local stack (as with no flags and no environment).
    pub fn local_defaults() -> Self {
        Self::parse_from(["projector"])
    }

    /// The dead-letter topic in effect.
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}-dead-letter", self.kafka.topic))
    }
}
