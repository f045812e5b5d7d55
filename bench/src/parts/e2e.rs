//! `bench e2e`: the whole platform at the reference harness's 1,000 tags/s through the
//! front door, every answer checked.
//!
//! A scratch topic and database (so every run starts from the same state whatever the
//! local stack holds): the database is first given `--preload-tags` tags by
//! [`crate::loader`] (the platform is not empty, as in production), then the three
//! services restart on the scratch topic and database (their peak memory then covers
//! this run only; ClickHouse's peak is reset when `/proc` allows). `loadgen run` sends
//! `--tags` tags from the first whole minute after the preloaded ones, with the
//! contract's lags (10 s profiles, 60 s aggregates), freshness probes and the final
//! round. While it sends, every component's CPU from `/proc` over a window that starts
//! [`CPU_WARM_UP_S`] after the start and ends [`CPU_END_MARGIN_S`] before sending does
//! ([`crate::platform_cpu`]: the whole platform's cores at the contract's load beside
//! its limit, per process, and ClickHouse's per thread). Afterwards: each component's
//! peak resident memory (`VmHWM`), the bytes ClickHouse holds per stored tag and
//! ClickHouse's CPU per `SELECT 1` ([`crate::query_cost`]; the stack has just worked
//! at the contract's load, as a user's would have). The services go back to the defaults
//! and the scratch database is dropped. The command fails when any answer was wrong.

use crate::database::{self, TableParts};
use crate::error::BenchError;
use crate::loader::{LoadOptions, LoadReport};
use crate::machine::RunInfo;
use crate::parts::{save, Part};
use crate::platform_cpu::{self, PlatformCpu};
use crate::process::{self, Memory};
use crate::query_cost::{self, SelectOneCost, SELECT_ONE_QUERIES};
use crate::stack::{Component, Scratch, Stack, COMPONENTS};
use crate::stats::Latency;
use clap::Args;
use loadgen::harness::HarnessOptions;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Memory budgets of the services (ours: a service should fit a small container).
pub const MEMORY_BUDGETS_MIB: [(&str, f64); 3] = [
    ("write-api", 256.0),
    ("read-api", 256.0),
    ("projector", 512.0),
];

/// The CPU window starts this long after `loadgen run` starts sending (connections,
/// caches and the services' first batches settle), at most a quarter of the sending.
pub const CPU_WARM_UP_S: f64 = 30.0;
/// The CPU window ends this long before sending is due to end, at most a tenth of it
/// (the window never covers the lags' wait and the final round, which are not the
/// contract's load).
pub const CPU_END_MARGIN_S: f64 = 5.0;

/// Flags of `bench e2e` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct E2eOptions {
    /// Tags `loadgen run` sends (300,000: 5 minutes of event time).
    #[arg(long = "tags", env = "BENCH_E2E_TAGS", default_value_t = 300_000)]
    pub tags: u64,
    /// Tags per second.
    #[arg(long, env = "BENCH_E2E_RATE", default_value_t = 1000)]
    pub rate: u32,
    /// Tags loaded into the scratch database first (0: start empty).
    #[arg(long, env = "BENCH_E2E_PRELOAD_TAGS", default_value_t = 8_640_000)]
    pub preload_tags: u64,
    /// Rows per insert of the preload.
    #[arg(long, env = "BENCH_LOAD_CHUNK_ROWS", default_value_t = 1_000_000)]
    pub chunk_rows: u64,
    /// Seed of the stream (the preload uses the next one).
    #[arg(long, env = "BENCH_E2E_SEED", default_value_t = 1)]
    pub seed: u64,
    /// A freshness probe every this many tags.
    #[arg(long, env = "BENCH_E2E_FRESHNESS_EVERY", default_value_t = 1000)]
    pub freshness_every: u64,
    /// Time after a 204 within which a tag must show in profiles, ms (contract: 10,000).
    #[arg(long, env = "BENCH_E2E_PROFILE_LAG_MS", default_value_t = 10_000)]
    pub profile_lag_ms: u64,
    /// Time after a 204 within which a tag must count in aggregates, ms (contract: 60,000).
    #[arg(long, env = "BENCH_E2E_AGGREGATE_LAG_MS", default_value_t = 60_000)]
    pub aggregate_lag_ms: u64,
    /// Partitions of the scratch topic.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
    /// The migrations applied to the scratch database.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    pub migrations_dir: PathBuf,
}

/// The figures of `loadgen run`'s report the summary needs (the whole report is kept too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarnessFigures {
    /// Event time covered, seconds.
    pub event_time_seconds: f64,
    /// Lags after a 204 before a query may depend on a tag: profiles, aggregates, ms.
    pub lags_ms: [u64; 2],
    /// Tags.
    pub tags: TagFigures,
    /// Profile queries while tags flowed.
    pub profiles: QueryFigures,
    /// Aggregates queries while tags flowed.
    pub aggregates: QueryFigures,
    /// Profiles of the final round.
    pub final_profiles: QueryFigures,
    /// Aggregates of the final round.
    pub final_aggregates: QueryFigures,
    /// Tags answered 204 and missing.
    pub lost_tags: u64,
    /// Freshness probes.
    pub freshness: Option<FreshnessFigures>,
    /// Whether every check passed.
    pub passed: bool,
}

/// Tags of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagFigures {
    /// Sent.
    pub sent: u64,
    /// Answered 204.
    pub accepted: u64,
    /// Failed.
    pub failed: u64,
    /// Rate asked for.
    pub target_rate: u32,
    /// Latency of the accepted ones.
    pub latency: Latency,
}

/// One kind of query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryFigures {
    /// Asked.
    pub asked: u64,
    /// Answered right.
    pub correct: u64,
    /// Answered wrong.
    pub wrong: u64,
    /// Failed (status, transport, deadline).
    pub errors: u64,
    /// Latency.
    pub latency: Latency,
}

/// Freshness probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreshnessFigures {
    /// Tags probed.
    pub probes: u64,
    /// Seen in time.
    pub visible: u64,
    /// From 204 to visible.
    pub latency: Latency,
}

impl HarnessFigures {
    /// The four kinds of queries.
    pub fn queries(&self) -> [&QueryFigures; 4] {
        [
            &self.profiles,
            &self.aggregates,
            &self.final_profiles,
            &self.final_aggregates,
        ]
    }
}

/// Everything `bench e2e` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E2eResults {
    /// Where and when.
    pub info: RunInfo,
    /// The scratch topic and database.
    pub scratch: String,
    /// The preload.
    pub preload: Option<LoadReport>,
    /// `loadgen run`'s figures.
    pub harness: HarnessFigures,
    /// `loadgen run`'s whole report.
    pub harness_report: serde_json::Value,
    /// Peak and current resident memory of each component after the run.
    pub memory: Vec<(String, Memory)>,
    /// Whether ClickHouse's peak was reset before the run.
    pub clickhouse_peak_reset: bool,
    /// The scratch database's parts after the run.
    pub parts: Vec<TableParts>,
    /// Every component's CPU over a window of the sending (absent in results from before
    /// it was measured, or when the sending was too short for a window).
    #[serde(default)]
    pub platform_cpu: Option<PlatformCpu>,
    /// ClickHouse's CPU per `SELECT 1` after the run (absent in results from before it
    /// was measured, or when it failed).
    #[serde(default)]
    pub select_one: Option<SelectOneCost>,
}

impl E2eResults {
    /// Compressed bytes of `table` (all tables when `None`) per tag the platform took
    /// (the preload and the run's accepted tags; the trimmer keeps fewer rows than that
    /// in `user_tags`, which is the point of it).
    pub fn bytes_per_tag(&self, table: Option<&str>) -> Option<f64> {
        let tags =
            self.preload.as_ref().map_or(0, |preload| preload.tags) + self.harness.tags.accepted;
        bytes_per_tag(&self.parts, table, tags)
    }
}

/// Compressed bytes of `table` (all tables when `None`) of `parts` per tag of `tags`.
pub fn bytes_per_tag(parts: &[TableParts], table: Option<&str>, tags: u64) -> Option<f64> {
    let bytes: u64 = parts
        .iter()
        .filter(|parts| table.is_none_or(|name| parts.table == name))
        .map(|parts| parts.compressed_bytes)
        .sum();
    crate::stats::ratio(bytes as f64, tags as f64)
}

/// Runs `bench e2e`, writes `e2e.json` into `results_dir`, and returns the results
/// (their `harness.passed` says whether every answer was right).
pub async fn run(
    stack: &Stack,
    options: &E2eOptions,
    results_dir: &Path,
) -> Result<E2eResults, BenchError> {
    stack.check_up().await?;
    let full_size = options.tags >= 300_000 && options.preload_tags >= 8_640_000;
    let info = RunInfo::now(&stack.settings.repo_root, full_size);
    let scratch = Scratch::new("bench_e2e", None);
    let server = service_kit::clickhouse::server_client(&stack.settings.clickhouse);
    stack
        .create_topic(&scratch.topic, options.partitions)
        .await?;
    stack.create_topic(&scratch.dead_letter_topic(), 1).await?;
    let outcome = measure(stack, options, &scratch).await;
    let dropped = database::drop_database(&server, &scratch.database).await;
    let (preload, harness_report, memory, clickhouse_peak_reset, parts, platform_cpu) = outcome?;
    dropped?;
    let select_one = match query_cost::select_one(
        &server,
        stack.pid(Component::ClickHouse),
        SELECT_ONE_QUERIES,
    )
    .await
    {
        Ok(cost) => Some(cost),
        Err(error) => {
            tracing::warn!(error = %service_kit::error::chain(&error), "SELECT 1 not measured");
            None
        }
    };
    let harness: HarnessFigures =
        serde_json::from_value(harness_report.clone()).map_err(|source| BenchError::Results {
            path: PathBuf::from("loadgen run report"),
            source,
        })?;
    let results = E2eResults {
        info,
        scratch: scratch.topic,
        preload,
        harness,
        harness_report,
        memory,
        clickhouse_peak_reset,
        parts,
        platform_cpu,
        select_one,
    };
    save(results_dir, Part::E2e, &results)?;
    Ok(results)
}

type Measured = (
    Option<LoadReport>,
    serde_json::Value,
    Vec<(String, Memory)>,
    bool,
    Vec<TableParts>,
    Option<PlatformCpu>,
);

/// Every component's CPU between `from_s` and `until_s` seconds after `origin`.
async fn sample_cpu(
    stack: &Stack,
    origin: tokio::time::Instant,
    (from_s, until_s): (f64, f64),
) -> Option<PlatformCpu> {
    tokio::time::sleep_until(origin + Duration::from_secs_f64(from_s)).await;
    let before = platform_cpu::snapshot(stack, origin.elapsed().as_secs_f64());
    tokio::time::sleep_until(origin + Duration::from_secs_f64(until_s)).await;
    let after = platform_cpu::snapshot(stack, origin.elapsed().as_secs_f64());
    PlatformCpu::between(&before, &after)
}

async fn measure(
    stack: &Stack,
    options: &E2eOptions,
    scratch: &Scratch,
) -> Result<Measured, BenchError> {
    let settings = stack.clickhouse(&scratch.database);
    let migrations_dir = stack.settings.repo_root.join(&options.migrations_dir);
    let preload = if options.preload_tags > 0 {
        Some(
            crate::loader::load(&LoadOptions {
                clickhouse: settings.clone(),
                migrations_dir,
                tags: options.preload_tags,
                seed: options.seed + 1,
                chunk_rows: options.chunk_rows,
                force: false,
                insert_timeout: Duration::from_secs(600),
            })
            .await?,
        )
    } else {
        let server = service_kit::clickhouse::server_client(&settings);
        migrations::apply(&server, &scratch.database, &migrations_dir).await?;
        None
    };
    let services = stack.services_on(scratch).await?;
    let clickhouse_pid = stack.require_pid(Component::ClickHouse)?;
    let clickhouse_peak_reset = process::reset_peak_memory(clickhouse_pid).is_ok();
    let sending_s = options.tags as f64 / f64::from(options.rate.max(1));
    let cpu_window = platform_cpu::window(sending_s, CPU_WARM_UP_S, CPU_END_MARGIN_S);
    let harness_done = tokio::sync::Notify::new();
    let origin = tokio::time::Instant::now();
    let harness = async {
        let start = loadgen::start::after_newest(&settings)
            .await
            .map_err(BenchError::clickhouse("the newest stored tag"))?;
        tracing::info!(tags = options.tags, rate = options.rate, start = %start, "loadgen run through the front door");
        let report = loadgen::harness::run(HarnessOptions {
            profile_lag: Duration::from_millis(options.profile_lag_ms),
            aggregate_lag: Duration::from_millis(options.aggregate_lag_ms),
            freshness_every: options.freshness_every,
            ..HarnessOptions::contract(
                stack.settings.front_door_url.clone(),
                options.tags,
                options.rate,
                options.seed,
                start.millis(),
            )
        })
        .await?;
        tracing::info!("{}", report.summary_text());
        serde_json::to_value(&report).map_err(|source| BenchError::Results {
            path: PathBuf::from("loadgen run report"),
            source,
        })
    };
    let harness = async {
        let outcome = harness.await;
        harness_done.notify_one();
        outcome
    };
    // The window ends before sending does; a harness that stopped early (an error)
    // leaves no window.
    let sampler = async {
        let window = cpu_window?;
        tokio::select! {
            cpu = sample_cpu(stack, origin, window) => cpu,
            () = harness_done.notified() => None,
        }
    };
    let (harness, platform_cpu) = tokio::join!(harness, sampler);
    match &platform_cpu {
        Some(cpu) => tracing::info!(
            cores = cpu.total_cores(),
            window_s = cpu.window_s,
            components = ?cpu.components,
            not_measured = ?cpu.not_measured,
            "the platform's CPU while sending"
        ),
        None => tracing::warn!(
            sending_s,
            "no CPU window: the sending was too short or stopped"
        ),
    }
    let memory: Vec<(String, Memory)> = COMPONENTS
        .iter()
        .filter_map(|component| {
            let memory = process::memory(stack.pid(*component)?)?;
            Some((component.name().to_owned(), memory))
        })
        .collect();
    let server = service_kit::clickhouse::server_client(&settings);
    let parts = database::parts(&server, &scratch.database).await;
    let restored = services.restore().await;
    let harness = harness?;
    restored?;
    Ok((
        preload,
        harness,
        memory,
        clickhouse_peak_reset,
        parts?,
        platform_cpu,
    ))
}
