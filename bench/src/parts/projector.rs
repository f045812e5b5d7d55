//! `bench projector`: the projector's catch-up on a backlog beside the raw consume rate
//! of the same broker.
//!
//! A backlog of `--tags` Avro tags (Confluent framing, key = cookie, produced with
//! write-api's producer settings) goes into a scratch topic. Each run reads that same
//! backlog from the beginning: a consumer with the projector's settings that only
//! receives ([`crate::consume`], the limit), the same decoding every tag and building its
//! row (everything but the insert), and the real projector binary projecting into a
//! freshly migrated scratch database, timed until ClickHouse's resume offsets reach the
//! high watermarks ([`crate::catch_up`]), its rows and aggregates then counted. CPU of
//! the projector (per thread), ClickHouse and the broker is recorded.
//!
//! The live stack is left alone (its topic and database are not touched, nothing is
//! stopped). Scratch databases are dropped after each run; the scratch topic stays
//! (never `tansu topic delete`). `PROJECTOR_*` settings in the environment (e.g.
//! `PROJECTOR_BATCH_MAX_ROWS`) reach the projector.

use crate::catch_up::{CatchUpOptions, CatchUpReport};
use crate::consume::{ConsumeReport, Work};
use crate::database;
use crate::error::BenchError;
use crate::machine::RunInfo;
use crate::parts::{median_of, save, Part};
use crate::stack::{Component, Stack};
use crate::stats::Latency;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The catch-up target, tags/s.
pub const TARGET_RATE: f64 = 50_000.0;

/// Flags of `bench projector` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct ProjectorOptions {
    /// Tags in the backlog.
    #[arg(
        long = "tags",
        env = "BENCH_PROJECTOR_TAGS",
        default_value_t = 1_000_000
    )]
    pub tags: u64,
    /// Repeats (the report gives medians).
    #[arg(long, env = "BENCH_REPEATS", default_value_t = 3)]
    pub repeats: u32,
    /// Partitions of the scratch topic.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
    /// A librdkafka setting over the projector's for the raw consumers, `NAME=VALUE`
    /// (repeatable), to try fetch settings before proposing them for the projector.
    #[arg(long, value_parser = parse_option)]
    pub consumer_option: Vec<(String, String)>,
    /// Longest one measurement may take, seconds.
    #[arg(long, env = "BENCH_PROJECTOR_TIMEOUT_S", default_value_t = 900)]
    pub timeout_s: u64,
    /// The migrations applied to each scratch database.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    pub migrations_dir: PathBuf,
}

/// `NAME=VALUE` into a pair.
pub fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| "expected NAME=VALUE".to_owned())
}

/// One run on the backlog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectorRun {
    /// Receive only.
    pub raw: ConsumeReport,
    /// Receive, decode, build rows.
    pub decode: ConsumeReport,
    /// The real projector.
    pub catch_up: CatchUpReport,
}

/// Everything `bench projector` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectorResults {
    /// Where and when.
    pub info: RunInfo,
    /// The scratch topic.
    pub topic: String,
    /// Partitions of it.
    pub partitions: u32,
    /// Tags produced into it.
    pub backlog: u64,
    /// How fast the backlog was produced, tags/s.
    pub produce_rate: f64,
    /// Acknowledgement latency while producing.
    pub produce_latency: Latency,
    /// `PROJECTOR_BATCH_MAX_ROWS` as set for the run (unset: the default).
    pub batch_max_rows: Option<String>,
    /// Extra consumer settings of the raw consumers.
    pub consumer_options: Vec<(String, String)>,
    /// The runs.
    pub runs: Vec<ProjectorRun>,
}

impl ProjectorResults {
    /// Median over runs.
    pub fn median(&self, figure: impl Fn(&ProjectorRun) -> Option<f64>) -> Option<f64> {
        median_of(&self.runs, figure)
    }

    /// Median catch-up rate.
    pub fn catch_up_rate(&self) -> Option<f64> {
        self.median(|run| Some(run.catch_up.rate))
    }

    /// Median raw consume rate.
    pub fn raw_rate(&self) -> Option<f64> {
        self.median(|run| Some(run.raw.rate))
    }
}

/// Runs `bench projector` and writes `projector.json` into `results_dir`.
pub async fn run(
    stack: &Stack,
    options: &ProjectorOptions,
    results_dir: &Path,
) -> Result<ProjectorResults, BenchError> {
    let clickhouse_pid = stack.require_pid(Component::ClickHouse)?;
    let broker_pid = stack.require_pid(Component::Tansu)?;
    stack.check_own().await?;
    let full_size = options.tags >= 1_000_000 && options.repeats >= 3;
    let info = RunInfo::now(&stack.settings.repo_root, full_size);
    let stamp = info_stamp();
    let topic = format!("bench_projector_{stamp}");
    stack.create_topic(&topic, options.partitions).await?;
    tracing::info!(tags = options.tags, topic, "producing the backlog");
    let kafka = stack.kafka(&topic);
    let produced = loadgen::ceiling::measure(&kafka, options.tags, 5_000).await?;
    let timeout = Duration::from_secs(options.timeout_s);
    let server = service_kit::clickhouse::server_client(&stack.settings.clickhouse);
    let migrations_dir = stack.settings.repo_root.join(&options.migrations_dir);
    let mut runs = Vec::new();
    for run in 1..=options.repeats {
        tracing::info!(
            run,
            repeats = options.repeats,
            "raw consume, then consume + decode + rows"
        );
        let raw = consume(&kafka, Work::Raw, &options.consumer_option, timeout).await?;
        let decode = consume(&kafka, Work::Decode, &options.consumer_option, timeout).await?;
        let database = format!("bench_projector_{stamp}_{run}");
        database::drop_database(&server, &database).await?;
        migrations::apply(&server, &database, &migrations_dir).await?;
        tracing::info!(
            run,
            repeats = options.repeats,
            database,
            "projector catch-up"
        );
        let catch_up = crate::catch_up::measure(CatchUpOptions {
            projector: stack.binary("projector"),
            kafka: kafka.clone(),
            clickhouse: stack.clickhouse(&database),
            log: stack.logs_dir().join("bench-projector.log"),
            clickhouse_pid: Some(clickhouse_pid),
            broker_pid: Some(broker_pid),
            timeout,
        })
        .await;
        database::drop_database(&server, &database).await?;
        runs.push(ProjectorRun {
            raw,
            decode,
            catch_up: catch_up?,
        });
    }
    let results = ProjectorResults {
        info,
        topic,
        partitions: options.partitions,
        backlog: produced.acknowledged,
        produce_rate: produced.rate,
        produce_latency: Latency::from(&produced.latency),
        batch_max_rows: std::env::var("PROJECTOR_BATCH_MAX_ROWS").ok(),
        consumer_options: options.consumer_option.clone(),
        runs,
    };
    save(results_dir, Part::Projector, &results)?;
    Ok(results)
}

async fn consume(
    kafka: &service_kit::settings::KafkaSettings,
    work: Work,
    overrides: &[(String, String)],
    timeout: Duration,
) -> Result<ConsumeReport, BenchError> {
    let runtime = tokio::runtime::Handle::current();
    let (kafka, overrides) = (kafka.clone(), overrides.to_vec());
    Ok(tokio::task::spawn_blocking(move || {
        crate::consume::measure(&kafka, work, &overrides, timeout, &runtime)
    })
    .await??)
}

fn info_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
