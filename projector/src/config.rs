//! projector settings: flags with environment fallbacks; `projector --help` is the reference.

use clap::{Parser, Subcommand};
use schemas::EventTime;
use service_kit::settings::{
    parse_listen, parse_millis, ClickHouseSettings, KafkaSettings, LogSettings,
    SenderRetrySettings, ShardSettings,
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
    /// This instance's number, from 0 to `instances - 1`. Instance i projects the
    /// partitions p with p mod instances = i, assigned directly (no consumer-group
    /// coordinator), so a restarted instance resumes within seconds.
    #[arg(long, env = "PROJECTOR_INSTANCE", default_value_t = 0)]
    pub instance: u32,
    /// How many projector instances share the topic's partitions.
    #[arg(long, env = "PROJECTOR_INSTANCES", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
    /// Consumer group the projector commits its positions under, for lag tooling only
    /// (positions are always resumed from ClickHouse).
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
    /// How long one ClickHouse request may take before it is abandoned and retried
    /// (inserts are retried with the same deduplication token, so a late one that
    /// lands anyway is not counted twice), in milliseconds.
    #[arg(long, env = "PROJECTOR_CLICKHOUSE_TIMEOUT_MS", default_value = "10000", value_parser = parse_millis)]
    pub clickhouse_timeout: Duration,
    /// The sender's-retry rule (shared with the archiver).
    #[command(flatten)]
    pub retries: SenderRetrySettings,
    /// A batch left unfinished by a crash is inserted again at start-up only if it is
    /// younger than this, in seconds: ClickHouse remembers the last 10,000 batch tokens,
    /// and an older batch might be counted twice (it is reported instead; see
    /// `projector reconcile`).
    #[arg(long, env = "PROJECTOR_REPLAY_MAX_AGE_S", default_value_t = 3600)]
    pub replay_max_age_s: u64,
    /// Tags kept per cookie and action in the profile store (the contract's 200);
    /// instance 0 trims older ones.
    #[arg(long, env = "PROJECTOR_TRIM_KEEP", default_value_t = 200)]
    pub trim_keep: u64,
    /// How far above the kept count a cookie and action may grow before a trim run.
    #[arg(long, env = "PROJECTOR_TRIM_SLACK", default_value_t = 50)]
    pub trim_slack: u64,
    /// Event time behind each cookie and action's newest tag inside which the trimmer
    /// deletes nothing, in milliseconds: a profile query whose range ends there gets the
    /// same answer as with nothing trimmed.
    #[arg(long = "trim-recent-ms", env = "PROJECTOR_TRIM_RECENT_MS", default_value = "60000", value_parser = parse_millis)]
    pub trim_recent: Duration,
    /// Time between trim runs, in milliseconds (0: no trimming).
    #[arg(long = "trim-interval-ms", env = "PROJECTOR_TRIM_INTERVAL_MS", default_value = "120000", value_parser = parse_millis)]
    pub trim_interval: Duration,
    /// Time between rewrites of the profile store that give the trimmed rows' disk back
    /// (OPTIMIZE ... FINAL), in seconds (0: never).
    #[arg(long, env = "PROJECTOR_RECLAIM_INTERVAL_S", default_value_t = 86_400)]
    pub reclaim_interval_s: u64,
    /// Kafka connection and topic.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// ClickHouse connection.
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
    /// A sharded ClickHouse's shards: the trimmer runs on each one's local tables.
    #[command(flatten)]
    pub shards: ShardSettings,
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
        /// Start from the profiles of a snapshot database (`projector snapshot`): tags
        /// the log no longer holds are kept.
        #[arg(long)]
        from_snapshot: Option<String>,
        /// Start from the archive (the archiver's files: every record the broker may no
        /// longer hold), then continue from the broker where the archive ends.
        #[arg(long)]
        from_archive: bool,
        /// Where the archive lives (as the archiver's `--archive-url`).
        #[arg(long, env = "ARCHIVE_URL", default_value = ".stack/archive")]
        archive_url: String,
        /// Folder of the ClickHouse migrations.
        #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
        migrations_dir: PathBuf,
    },
    /// Copies the profile store into a new database, for a later
    /// `rebuild --from-snapshot` to keep tags older than the log.
    Snapshot {
        /// Database to copy into (created; must not hold a user_tags table).
        #[arg(long)]
        target_database: String,
    },
    /// Replays the log into a scratch database and compares every minute and every
    /// dimension combination of a window with the live aggregates; exits 1 when they
    /// differ.
    Reconcile {
        /// First minute of the window, UTC: `2026-03-01T12:00:00`.
        #[arg(long, value_parser = parse_minute)]
        from: EventTime,
        /// First minute after the window, UTC.
        #[arg(long, value_parser = parse_minute)]
        to: EventTime,
        /// The scratch database (default: `<database>_reconcile_<unix time>`).
        #[arg(long)]
        scratch_database: Option<String>,
        /// Keep the scratch database afterwards, for inspection.
        #[arg(long)]
        keep: bool,
        /// Write the report (every difference) as JSON here.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// Write the outcome as Prometheus text here (for a textfile collector).
        #[arg(long)]
        metrics_out: Option<PathBuf>,
        /// Folder of the ClickHouse migrations.
        #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
        migrations_dir: PathBuf,
    },
}

/// A whole minute, `YYYY-MM-DDTHH:MM:SS`, UTC.
fn parse_minute(text: &str) -> Result<EventTime, String> {
    let time = EventTime::parse_query_seconds(text).map_err(|error| error.to_string())?;
    if time.millis() % 60_000 != 0 {
        return Err("expected a whole minute".to_owned());
    }
    Ok(time)
}

impl Config {
    /// Defaults for the local stack (as with no flags and no environment).
    pub fn local_defaults() -> Self {
        Self::parse_from(["projector"])
    }

    /// The trimming policy in effect (`None`: this instance does not trim).
    pub fn trim_policy(&self) -> Option<crate::trim::TrimPolicy> {
        (self.instance == 0 && !self.trim_interval.is_zero()).then_some(crate::trim::TrimPolicy {
            keep: self.trim_keep,
            slack: self.trim_slack,
            recent: self.trim_recent,
            interval: self.trim_interval,
            reclaim_interval: Duration::from_secs(self.reclaim_interval_s),
        })
    }

    /// The dead-letter topic in effect.
    pub(crate) fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}-dead-letter", self.kafka.topic))
    }
}
