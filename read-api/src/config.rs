//! read-api settings: flags with environment fallbacks; `read-api --help` is the reference.

use crate::analytics::ingest::Peer;
use clap::Parser;
use service_kit::settings::{
    parse_listen, parse_millis, ClickHouseSettings, KafkaSettings, LogSettings,
};
use std::net::SocketAddr;
use std::time::Duration;

/// Answers user-profile and aggregate queries from ClickHouse.
#[derive(Debug, Clone, Parser)]
#[command(name = "read-api", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "READ_API_LISTEN", default_value = "127.0.0.1:8082", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Deadline for a user-profile answer from ClickHouse, in milliseconds; past it the
    /// answer is 503 (the contract gives the whole request 200 ms).
    #[arg(long = "query-deadline-ms", env = "READ_API_QUERY_DEADLINE_MS", default_value = "150", value_parser = parse_millis)]
    pub query_deadline: Duration,
    /// Deadline for an aggregates answer from ClickHouse, in milliseconds (the contract allows 60 s).
    #[arg(long = "aggregates-deadline-ms", env = "READ_API_AGGREGATES_DEADLINE_MS", default_value = "5000", value_parser = parse_millis)]
    pub aggregates_deadline: Duration,
    /// Aggregates queries this instance runs in ClickHouse at once; more requests queue
    /// while they can still be answered within their deadline and are refused (503)
    /// when they cannot. Each query runs on one ClickHouse thread: about twice
    /// ClickHouse's cores is a good value.
    #[arg(long, env = "READ_API_MAX_CONCURRENT_QUERIES", default_value_t = 4)]
    pub max_concurrent_queries: usize,
    /// Profile queries (lone reads or batches) this instance runs in ClickHouse at once.
    /// At most ClickHouse's cores: the batches of a burst run beside each other, and
    /// batches sharing a core slow each other down where admission expects them not to.
    #[arg(long, env = "READ_API_PROFILE_SLOTS", default_value_t = 2)]
    pub profile_slots: usize,
    /// The most profile requests read together in one ClickHouse query when requests
    /// pile up (every profile slot busy); a lone request is read alone.
    #[arg(long, env = "READ_API_PROFILE_BATCH", default_value_t = 32)]
    pub profile_batch: usize,
    /// Deadline for one read of the analysts' API (`/v1/`), in milliseconds.
    #[arg(long = "analytics-deadline-ms", env = "READ_API_ANALYTICS_DEADLINE_MS", default_value = "10000", value_parser = parse_millis)]
    pub analytics_deadline: Duration,
    /// Reads of the analysts' API this instance runs in ClickHouse at once (apart from
    /// the contract's, so a day-long scan never queues a profile read). Each uses two
    /// ClickHouse threads.
    #[arg(
        long,
        env = "READ_API_ANALYTICS_CONCURRENT_QUERIES",
        default_value_t = 1
    )]
    pub analytics_concurrent_queries: usize,
    /// API keys for `/v1/` and `/console`, comma-separated; none (the default) leaves
    /// them open. Never asked on the contract's endpoints.
    #[arg(
        long,
        env = "READ_API_KEYS",
        default_value = "",
        hide_env_values = true
    )]
    pub api_keys: String,
    /// The services whose Prometheus metrics feed the ingest panel (`/v1/ingest`),
    /// `service=url` comma-separated; replicas of a service are summed.
    #[arg(
        long,
        env = "READ_API_PEER_METRICS",
        default_value = "write-api=http://127.0.0.1:8081/metrics,projector=http://127.0.0.1:8083/metrics",
        value_parser = parse_peers
    )]
    pub peer_metrics: std::vec::Vec<Peer>,
    /// Shoppers whose profiles this instance keeps in memory, kept current from the tag
    /// log (its own reader of the topic, from the projector's watermark on): a repeated
    /// profile read then costs ClickHouse nothing, and sees a tag as soon as the broker
    /// has it. 0 (the default) turns it off: every profile read goes to ClickHouse.
    /// Needs the broker (`--kafka-*`) and the projector as the only writer of
    /// `user_tags`; `make up` and docker-compose turn it on.
    #[arg(
        long = "profile-cache-cookies",
        env = "READ_API_PROFILE_CACHE_COOKIES",
        default_value_t = 0
    )]
    pub profile_cache_cookies: usize,
    /// Memory the cached profiles may hold at most, MiB: their tags and keys as the
    /// program holds them (the allocator's overhead and the tail aside). The least
    /// recently asked shoppers go first, whichever of this and `--profile-cache-cookies`
    /// is reached first: a shopper with a full history holds hundreds of tags (tens of
    /// kilobytes), a new one a few (about a kilobyte), so the cookie count alone does
    /// not bound the memory.
    #[arg(
        long = "profile-cache-mib",
        env = "READ_API_PROFILE_CACHE_MIB",
        default_value_t = 128
    )]
    pub profile_cache_mib: usize,
    /// Tags the profile cache holds from the log at most (those the projector may not
    /// have written to ClickHouse yet, about a quarter of a kilobyte each); past it the
    /// cache empties and answers again once the projector has caught up.
    #[arg(
        long = "profile-cache-tail-tags",
        env = "READ_API_PROFILE_CACHE_TAIL_TAGS",
        default_value_t = 1_000_000
    )]
    pub profile_cache_tail_tags: usize,
    /// The tag log (read only by the profile cache).
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Where ClickHouse reads the tag archive for the analysts' older ranges: an absolute
    /// directory on ClickHouse's machine (read with `file()`), or an S3-compatible bucket
    /// URL `http(s)://host/bucket/prefix` (read with `s3()`, credentials in ClickHouse's
    /// own configuration). Empty: no archive; the cube answers every range.
    #[arg(long, env = "READ_API_ARCHIVE_URL", default_value = "")]
    pub archive_url: String,
    /// A series or top-N whose range starts more than this long before the cube's newest
    /// minute is read from the archive (the cube keeps 24 hours of ingestion), minutes.
    #[arg(long, env = "READ_API_CUBE_WINDOW_MINUTES", default_value_t = 1440)]
    pub cube_window_minutes: u32,
    /// ClickHouse connection and database.
    #[command(flatten)]
    pub clickhouse: ClickHouseSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
}

/// `--peer-metrics`: the whole list is one value.
fn parse_peers(text: &str) -> Result<std::vec::Vec<Peer>, String> {
    crate::analytics::ingest::parse_peers(text)
}

impl Config {
    /// Defaults for the local stack (as with no flags and no environment).
    pub fn local_defaults() -> Self {
        Self::parse_from(["read-api"])
    }
}
