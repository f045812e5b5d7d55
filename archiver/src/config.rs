//! archiver settings: flags with environment fallbacks; `archiver --help` is the reference.

use clap::{Parser, Subcommand};
use service_kit::settings::{
    parse_listen, parse_millis, KafkaSettings, LogSettings, SenderRetrySettings,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Archives every record of the tag topic into immutable Parquet files, by day and
/// partition, for good.
#[derive(Debug, Clone, Parser)]
#[command(name = "archiver", version)]
pub struct Config {
    /// What to do (default: archive the log continuously).
    #[command(subcommand)]
    pub mode: Option<Mode>,
    /// Address of the /health, /ready and /metrics endpoints.
    #[arg(long, env = "ARCHIVER_LISTEN", default_value = "127.0.0.1:8084", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// This instance's number, from 0 to `instances - 1`. Instance i archives the
    /// partitions p with p mod instances = i, assigned directly (no consumer-group
    /// coordinator); it resumes where its files end.
    #[arg(long, env = "ARCHIVER_INSTANCE", default_value_t = 0)]
    pub instance: u32,
    /// How many archiver instances share the topic's partitions.
    #[arg(long, env = "ARCHIVER_INSTANCES", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
    /// Consumer group the archiver commits the end of its files under, for lag tooling
    /// and `archiver verify` (positions are always resumed from the files).
    #[arg(long, env = "ARCHIVER_GROUP_ID", default_value = "allezon-archiver")]
    pub group_id: String,
    /// Where the archive lives: a directory (`file:///path`, or a path relative to the
    /// working directory) or an S3-compatible bucket (`s3://bucket/prefix`, credentials
    /// and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT, AWS_ALLOW_HTTP).
    #[arg(long, env = "ARCHIVE_URL", default_value = ".stack/archive")]
    pub archive_url: String,
    /// A partition's open file is closed (written, renamed into place, listed in its
    /// manifest) at most this long after its first record arrived, in milliseconds: the
    /// archive's freshness while tags flow.
    #[arg(long = "roll-interval-ms", env = "ARCHIVER_ROLL_INTERVAL_MS", default_value = "60000", value_parser = parse_millis)]
    pub roll_interval: Duration,
    /// ... or once it holds this many records (a catch-up writes bounded files).
    #[arg(long, env = "ARCHIVER_MAX_FILE_RECORDS", default_value_t = 1_000_000)]
    pub max_file_records: usize,
    /// The sender's-retry rule (the projector's: the same variables).
    #[command(flatten)]
    pub retries: SenderRetrySettings,
    /// Kafka connection and topic.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

/// Other modes than continuous archiving.
#[derive(Debug, Clone, Subcommand)]
pub enum Mode {
    /// Proves the archive complete: per partition, the files' ranges follow each other
    /// with no gap and no overlap from the first archived offset, every file holds one
    /// row per offset of its range with the kinds its manifest counts, and the archive
    /// reaches the offset the archiver committed. Exit 0 when it passes, 1 when not, 2
    /// when it could not run.
    Verify {
        /// Write the report as JSON here.
        #[arg(long)]
        json_out: Option<PathBuf>,
    },
}

impl Config {
    /// Defaults for the local stack (as with no flags and no environment).
    pub fn local_defaults() -> Self {
        Self::parse_from(["archiver"])
    }
}
