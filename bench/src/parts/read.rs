//! `bench read`: the read path on a loaded day of tags.
//!
//! 1. [`crate::loaded_day`] loads `--tags` tags (86,400,000: a day at 1,000 tags/s) of
//!    loadgen's stream into the scratch database `--database` (kept between runs; a
//!    later run, of this part or of `bench burst`, reuses it unless `--force-load`),
//!    then waits for merges to settle and reads the tables' files into the page cache.
//! 2. The three services move onto the scratch database and a scratch topic
//!    ([`crate::loaded_day::services_on`]): write-api produces into the topic, the
//!    projector projects it into the loaded database, read-api reads it, all behind the
//!    front door.
//! 3. Each run, while 1,000 tags/s go in through the front door (event time after the
//!    newest stored tag):
//!    - profiles at 100 queries/s through the front door: the p99 the ClickHouse 26
//!      decision rule is about (≤ 20 ms);
//!    - a ladder of higher profile rates through the front door, up to the first rate
//!      not served with p99 ≤ 200 ms and ≤ 1% answered 503: the highest served rate
//!      (target ≥ 500/s).
//!
//!    Then, with no ingestion:
//!    - profiles at 100/s straight to read-api beside the same SQL straight to
//!      ClickHouse (read-api's own `Store`, same seed, the order alternating between
//!      runs), with ClickHouse's CPU per read from `/proc` (process delta / reads) and
//!      from `system.query_log` (ProfileEvents);
//!    - aggregates over 10-minute ranges, for each of the 8 filter combinations, read-api
//!      beside the same SQL;
//!    - the analysts' series (`GET /v1/series`) and top-N (`GET /v1/top`) over 1 hour
//!      and over 24 hours, unfiltered, with one filter and with two, through read-api
//!      (p99 ≤ 100 ms and ≤ 1 s).
//!
//!    `--analysts-only` measures the analysts' reads alone, on the same loaded day, and
//!    puts them in place of those of the previous results (`read.json`), the rest kept.
//! 4. ClickHouse's peak resident memory over the measurements (`VmHWM`, reset first
//!    when `/proc/<pid>/clear_refs` allows it, and the largest sampled `VmRSS`).
//!
//! The services go back to the defaults at the end, whatever happened.

use crate::background_ingest::{BackgroundIngest, IngestSummary};
use crate::database::{self, LoggedQueries, QueryKind, TableParts};
use crate::error::BenchError;
use crate::loaded_day::{self, DayOptions};
use crate::loader::LoadReport;
use crate::machine::RunInfo;
use crate::open_loop::{self, OpenLoopReport};
use crate::parts::{median_of, save, Part};
use crate::process;
use crate::queries::{DataShape, RequestMix, SeriesFilters, Target, PROFILE_DEADLINE};
use crate::stack::{Component, Stack};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// The decision rule of the move to ClickHouse 26: profile p99 at 100/s under ingestion.
pub const PROFILE_P99_LIMIT_MS: f64 = 20.0;
/// A ladder rate is served when its p99 is at most this...
pub const SERVED_P99_MS: f64 = 200.0;
/// ... and at most this share of its requests is answered 503.
pub const SERVED_SHED_SHARE: f64 = 0.01;
/// The target for the highest profile rate served.
pub const SERVED_RATE_TARGET: f64 = 500.0;
/// The target for aggregates p99.
pub const AGGREGATES_P99_LIMIT_MS: f64 = 50.0;
/// The series measured (hours of range) and their p99 limits, ms.
pub const SERIES_LIMITS_MS: [(u32, f64); 2] = [(1, 100.0), (24, 1000.0)];

/// The p99 limit of a series over `hours` (`None`: a range no limit is set for).
pub fn series_limit_ms(hours: u32) -> Option<f64> {
    SERIES_LIMITS_MS
        .iter()
        .find(|(limit_hours, _)| *limit_hours == hours)
        .map(|(_, limit)| *limit)
}

/// The contract's client deadline for aggregates.
const AGGREGATES_DEADLINE: Duration = Duration::from_secs(60);
/// The client deadline of the analysts' series (read-api's own analytics deadline, 10 s, answers
/// 503 sooner).
const SERIES_DEADLINE: Duration = Duration::from_secs(15);

/// Flags of `bench read` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct ReadOptions {
    /// The loaded day (database, tags, loading, settling, scratch topic).
    #[command(flatten)]
    pub day: DayOptions,
    /// Load (or check the load), then stop.
    #[arg(long, env = "BENCH_READ_LOAD_ONLY")]
    pub load_only: bool,
    /// Repeats (the report gives medians).
    #[arg(long, env = "BENCH_REPEATS", default_value_t = 3)]
    pub repeats: u32,
    /// Seconds of each profile phase at `--profile-rate`.
    #[arg(long, env = "BENCH_READ_SECONDS", default_value_t = 60)]
    pub seconds: u64,
    /// Profile queries per second of the decision rule and the comparison.
    #[arg(long, env = "BENCH_READ_PROFILE_RATE", default_value_t = 100)]
    pub profile_rate: u32,
    /// Tags per second ingested through the front door during the profile phases.
    #[arg(long, env = "BENCH_READ_INGEST_RATE", default_value_t = 1000)]
    pub ingest_rate: u32,
    /// Profile rates tried, in order, for the highest one served (comma-separated).
    #[arg(
        long,
        env = "BENCH_READ_LADDER",
        value_delimiter = ',',
        default_value = "200,300,500,700,1000,1500"
    )]
    pub ladder: Vec<u32>,
    /// Seconds of each ladder step.
    #[arg(long, env = "BENCH_READ_LADDER_SECONDS", default_value_t = 30)]
    pub ladder_seconds: u64,
    /// Aggregates queries per second of each filter combination.
    #[arg(long, env = "BENCH_READ_AGGREGATES_RATE", default_value_t = 20)]
    pub aggregates_rate: u32,
    /// Seconds of each filter combination.
    #[arg(long, env = "BENCH_READ_AGGREGATES_SECONDS", default_value_t = 10)]
    pub aggregates_seconds: u64,
    /// Series queries (`GET /v1/series`) per second, for each range (1 h and 24 h).
    #[arg(long, env = "BENCH_READ_SERIES_RATE", default_value_t = 5)]
    pub series_rate: u32,
    /// Seconds of each series range.
    #[arg(long, env = "BENCH_READ_SERIES_SECONDS", default_value_t = 20)]
    pub series_seconds: u64,
    /// Measure only the analysts' series and top-N (each shape at `--series-rate` for
    /// `--series-seconds`, `--repeats` times), in place of those of the previous results
    /// of the same day, which must exist: the profile and aggregates figures are kept.
    #[arg(long, env = "BENCH_READ_ANALYSTS_ONLY")]
    pub analysts_only: bool,
}

impl ReadOptions {
    fn full_size(&self) -> bool {
        self.day.full_size()
            && self.repeats >= 3
            && self.seconds >= 60
            && self.ladder_seconds >= 30
            && self.aggregates_seconds >= 10
            && self.series_seconds >= 20
            && self
                .ladder
                .iter()
                .any(|rate| f64::from(*rate) > SERVED_RATE_TARGET)
    }
}

/// One measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// What the load generator saw.
    pub report: OpenLoopReport,
    /// ClickHouse's process CPU over the phase, seconds.
    pub clickhouse_cpu_s: Option<f64>,
    /// ClickHouse's own figures for the phase's reads.
    pub logged: Option<LoggedQueries>,
}

impl PhaseResult {
    /// ClickHouse process CPU per answered read, µs.
    pub fn clickhouse_cpu_per_read_us(&self) -> Option<f64> {
        crate::stats::ratio(self.clickhouse_cpu_s? * 1e6, self.report.succeeded as f64)
    }

    /// CPU of the phase's logged queries (a profile read may take two) per answered
    /// read, µs.
    pub fn logged_cpu_per_read_us(&self) -> Option<f64> {
        crate::stats::ratio(
            self.logged.as_ref()?.cpu_total_us,
            self.report.succeeded as f64,
        )
    }

    /// Whether a ladder step was served: p99 ≤ 200 ms and ≤ 1% answered 503.
    pub fn served(&self) -> bool {
        self.report.latency.p99_ms <= SERVED_P99_MS && self.report.shed_share() <= SERVED_SHED_SHARE
    }
}

/// Aggregates of one filter combination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregatesResult {
    /// Filters present: bit 1 origin, 2 brand, 4 category.
    pub mask: u8,
    /// Through read-api.
    pub read_api: PhaseResult,
    /// The same SQL straight to ClickHouse.
    pub sql: PhaseResult,
}

/// The analysts' series over one range, with one shape of filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResult {
    /// Hours of range.
    pub hours: u32,
    /// The filters (results of earlier versions measured unfiltered series only).
    #[serde(default)]
    pub filters: SeriesFilters,
    /// Through read-api.
    pub read_api: PhaseResult,
}

/// The analysts' top-N over one range, with one shape of filters besides the ranked
/// dimension: the same figures as a series.
pub type TopResult = SeriesResult;

/// The analysts' reads `bench read` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalystsRead {
    /// `GET /v1/series`.
    Series,
    /// `GET /v1/top`.
    Top,
}

impl AnalystsRead {
    /// Both, in the order they are measured and reported.
    pub const ALL: [Self; 2] = [Self::Series, Self::Top];

    /// Its results in a run.
    pub fn results(self, run: &ReadRun) -> &[SeriesResult] {
        match self {
            Self::Series => &run.series,
            Self::Top => &run.top,
        }
    }

    /// Its words in a report.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Series => "series",
            Self::Top => "top-N",
        }
    }

    /// Its request.
    pub const fn endpoint(self) -> &'static str {
        match self {
            Self::Series => "GET /v1/series",
            Self::Top => "GET /v1/top",
        }
    }
}

/// One repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRun {
    /// What the front door took while the profile phases ran.
    pub ingest: IngestSummary,
    /// Profiles at `profile_rate` through the front door, under ingestion.
    pub profiles_under_ingest: PhaseResult,
    /// Ladder steps through the front door, under ingestion, up to the first not served.
    pub ladder: Vec<PhaseResult>,
    /// Profiles at `profile_rate` straight to read-api, no ingestion.
    pub profiles_read_api: PhaseResult,
    /// The same requests as the same SQL straight to ClickHouse.
    pub profiles_sql: PhaseResult,
    /// Aggregates per filter combination.
    pub aggregates: Vec<AggregatesResult>,
    /// The analysts' series per range (absent from results of earlier versions).
    #[serde(default)]
    pub series: Vec<SeriesResult>,
    /// The analysts' top-N per range (absent from results of earlier versions).
    #[serde(default)]
    pub top: Vec<TopResult>,
}

impl ReadRun {
    /// The highest ladder rate served in this run (`None`: not even the first).
    pub fn highest_served(&self) -> Option<f64> {
        self.ladder
            .iter()
            .take_while(|step| step.served())
            .map(|step| step.report.target_rate)
            .last()
    }
}

/// ClickHouse's memory over the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickHouseMemory {
    /// `VmHWM` at the end, MiB.
    pub peak_mib: Option<f64>,
    /// Whether the peak was reset before the measurements (otherwise it covers the
    /// whole life of the server, loading included).
    pub peak_reset: bool,
    /// The largest `VmRSS` sampled every 500 ms during the measurements, MiB.
    pub sampled_max_mib: Option<f64>,
}

/// Everything `bench read` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResults {
    /// Where and when.
    pub info: RunInfo,
    /// The load.
    pub load: LoadReport,
    /// Whether merges had settled before measuring.
    pub merges_settled: bool,
    /// Bytes read into the page cache before measuring.
    pub warmed_bytes: u64,
    /// Parts when the measurements started.
    pub parts_before: Vec<TableParts>,
    /// Parts at the end (ingestion added some).
    pub parts_after: Vec<TableParts>,
    /// Profile queries per second of the main phases.
    pub profile_rate: u32,
    /// Tags per second ingested under the profile phases.
    pub ingest_rate: u32,
    /// Seconds of each profile phase.
    pub seconds: u64,
    /// Seconds of each ladder step.
    pub ladder_seconds: u64,
    /// Aggregates queries per second per filter combination.
    pub aggregates_rate: u32,
    /// Seconds per filter combination.
    pub aggregates_seconds: u64,
    /// Series queries per second per range.
    #[serde(default)]
    pub series_rate: u32,
    /// Seconds per series range.
    #[serde(default)]
    pub series_seconds: u64,
    /// The runs.
    pub runs: Vec<ReadRun>,
    /// ClickHouse's memory.
    pub clickhouse_memory: ClickHouseMemory,
    /// When the analysts' reads were measured again alone (`--analysts-only`), if they
    /// were: the rest is from [`Self::info`].
    #[serde(default)]
    pub analysts_info: Option<RunInfo>,
}

impl ReadResults {
    /// Median over runs.
    pub fn median(&self, figure: impl Fn(&ReadRun) -> Option<f64>) -> Option<f64> {
        median_of(&self.runs, figure)
    }
}

/// Runs `bench read` and writes `read.json` into `results_dir` (nothing with
/// `--load-only`).
pub async fn run(
    stack: &Stack,
    options: &ReadOptions,
    results_dir: &Path,
) -> Result<Option<ReadResults>, BenchError> {
    stack.check_up().await?;
    let info = RunInfo::now(&stack.settings.repo_root, options.full_size());
    let load = loaded_day::load(stack, &options.day).await?;
    if options.load_only {
        return Ok(None);
    }
    if options.analysts_only {
        return analysts_only(stack, options, results_dir, info, load)
            .await
            .map(Some);
    }
    let day = loaded_day::settle(stack, &options.day, load).await?;
    let services = loaded_day::services_on(stack, &options.day, "bench_read").await?;
    let measured = measure(stack, options, &day.load).await;
    let restored = services.restore().await;
    let (runs, clickhouse_memory) = measured?;
    restored?;
    let server = service_kit::clickhouse::server_client(&stack.settings.clickhouse);
    let results = ReadResults {
        info,
        load: day.load,
        merges_settled: day.merges_settled,
        warmed_bytes: day.warmed_bytes,
        parts_before: day.parts_before,
        parts_after: database::parts(&server, &options.day.database).await?,
        profile_rate: options.profile_rate,
        ingest_rate: options.ingest_rate,
        seconds: options.seconds,
        ladder_seconds: options.ladder_seconds,
        aggregates_rate: options.aggregates_rate,
        aggregates_seconds: options.aggregates_seconds,
        series_rate: options.series_rate,
        series_seconds: options.series_seconds,
        runs,
        clickhouse_memory,
        analysts_info: None,
    };
    save(results_dir, Part::Read, &results)?;
    Ok(Some(results))
}

/// `--analysts-only`: the analysts' reads measured again on the day the previous
/// results were measured on, put in place of theirs run by run.
async fn analysts_only(
    stack: &Stack,
    options: &ReadOptions,
    results_dir: &Path,
    info: RunInfo,
    load: LoadReport,
) -> Result<ReadResults, BenchError> {
    let mut results: ReadResults =
        crate::parts::load(results_dir, Part::Read)?.ok_or_else(|| {
            BenchError::Stack(
                "--analysts-only needs the results of an earlier bench read".to_owned(),
            )
        })?;
    if results.load.tags != load.tags || results.load.seed != load.seed {
        return Err(BenchError::Stack(format!(
            "--analysts-only: the earlier results are of {} tags (seed {}), the loaded day of {} (seed {})",
            results.load.tags, results.load.seed, load.tags, load.seed
        )));
    }
    let day = loaded_day::settle(stack, &options.day, load).await?;
    let services = loaded_day::services_on(stack, &options.day, "bench_read").await?;
    let measured = measure_analysts(stack, options, &day.load).await;
    let restored = services.restore().await;
    let measured = measured?;
    restored?;
    for (run, (series, top)) in results.runs.iter_mut().zip(measured) {
        run.series = series;
        run.top = top;
    }
    results.series_rate = options.series_rate;
    results.series_seconds = options.series_seconds;
    results.analysts_info = Some(info);
    save(results_dir, Part::Read, &results)?;
    Ok(results)
}

/// What a phase sends.
#[derive(Debug, Clone, Copy)]
enum Queries {
    Profiles,
    Aggregates(u8),
    /// A series over this many hours, with these filters.
    Series(u32, SeriesFilters),
    /// A top-N over this many hours, with these filters.
    Top(u32, SeriesFilters),
}

/// The tools of the measurements.
struct Bench<'a> {
    server: clickhouse::Client,
    database: &'a str,
    clickhouse_pid: u32,
    shape: DataShape,
}

impl Bench<'_> {
    /// One open-loop phase against `target`, with ClickHouse's CPU and query log.
    async fn phase(
        &self,
        target: &Target,
        queries: Queries,
        rate: u32,
        seconds: u64,
        seed: u64,
    ) -> Result<PhaseResult, BenchError> {
        database::wait_for_idle(&self.server, self.database, Duration::from_secs(30)).await?;
        // A second apart, so the query-log windows of two phases never overlap.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let from = database::server_now(&self.server).await?;
        let cpu_before = process::cpu_seconds(self.clickhouse_pid);
        let (report, _) = open_loop::drawn(
            f64::from(rate),
            Duration::from_secs(seconds),
            target,
            RequestMix::new(seed, self.shape),
            |mix| match queries {
                Queries::Profiles => mix.profile(),
                Queries::Aggregates(mask) => mix.aggregates(mask),
                Queries::Series(hours, filters) => mix.series(hours, filters),
                Queries::Top(hours, filters) => mix.top(hours, filters),
            },
        )
        .await;
        let cpu_after = process::cpu_seconds(self.clickhouse_pid);
        let to = database::server_now(&self.server).await?;
        let kind = match queries {
            Queries::Profiles => QueryKind::Profiles,
            Queries::Aggregates(_) | Queries::Series(..) | Queries::Top(..) => {
                QueryKind::Aggregates
            }
        };
        let logged = match database::logged_queries(&self.server, self.database, kind, from, to)
            .await
        {
            Ok(logged) => Some(logged),
            Err(error) => {
                tracing::warn!(error = %service_kit::error::chain(&error), "no query-log figures for the phase");
                None
            }
        };
        tracing::info!(
            rate,
            sent = report.sent,
            ok = report.succeeded,
            shed = report.shed,
            late = report.late,
            p50_ms = report.latency.p50_ms,
            p99_ms = report.latency.p99_ms,
            "phase done"
        );
        Ok(PhaseResult {
            report,
            clickhouse_cpu_s: cpu_before
                .zip(cpu_after)
                .map(|(before, after)| after - before),
            logged,
        })
    }
}

impl Bench<'_> {
    /// The analysts' series and top-N of one run, each range and shape of filters in
    /// turn, through read-api.
    async fn analysts(
        &self,
        read_api: &Target,
        options: &ReadOptions,
        run: u32,
        seed: u64,
    ) -> Result<(Vec<SeriesResult>, Vec<TopResult>), BenchError> {
        let mut series = Vec::new();
        let mut top = Vec::new();
        for read in AnalystsRead::ALL {
            for (hours, _) in SERIES_LIMITS_MS {
                for (shape, filters) in SeriesFilters::ALL.into_iter().enumerate() {
                    tracing::info!(
                        run,
                        hours,
                        filters = filters.label(),
                        read = read.label(),
                        "analysts' read through read-api"
                    );
                    let (queries, offset) = match read {
                        AnalystsRead::Series => (Queries::Series(hours, filters), 20),
                        AnalystsRead::Top => (Queries::Top(hours, filters), 200),
                    };
                    let read_api = self
                        .phase(
                            read_api,
                            queries,
                            options.series_rate,
                            options.series_seconds,
                            seed + offset + u64::from(hours) * 3 + shape as u64,
                        )
                        .await?;
                    let result = SeriesResult {
                        hours,
                        filters,
                        read_api,
                    };
                    match read {
                        AnalystsRead::Series => series.push(result),
                        AnalystsRead::Top => top.push(result),
                    }
                }
            }
        }
        Ok((series, top))
    }
}

/// `--analysts-only`'s measurements: per run, the series and the top-N.
async fn measure_analysts(
    stack: &Stack,
    options: &ReadOptions,
    load: &LoadReport,
) -> Result<Vec<(Vec<SeriesResult>, Vec<TopResult>)>, BenchError> {
    let bench = Bench {
        server: service_kit::clickhouse::server_client(&stack.settings.clickhouse),
        database: &options.day.database,
        clickhouse_pid: stack.require_pid(Component::ClickHouse)?,
        shape: loaded_day::shape(load),
    };
    let read_api = Target::http(&stack.settings.read_api_url, SERIES_DEADLINE)
        .map_err(BenchError::http("building the client"))?;
    tracing::info!("warm-up: one pass of the analysts' reads");
    for hours in [1, 24] {
        for filters in SeriesFilters::ALL {
            bench
                .phase(&read_api, Queries::Series(hours, filters), 5, 1, 999)
                .await?;
            bench
                .phase(&read_api, Queries::Top(hours, filters), 5, 1, 999)
                .await?;
        }
    }
    let mut runs = Vec::new();
    for run in 1..=options.repeats {
        runs.push(
            bench
                .analysts(&read_api, options, run, u64::from(run) * 100)
                .await?,
        );
    }
    Ok(runs)
}

async fn measure(
    stack: &Stack,
    options: &ReadOptions,
    load: &LoadReport,
) -> Result<(Vec<ReadRun>, ClickHouseMemory), BenchError> {
    let clickhouse_pid = stack.require_pid(Component::ClickHouse)?;
    let bench = Bench {
        server: service_kit::clickhouse::server_client(&stack.settings.clickhouse),
        database: &options.day.database,
        clickhouse_pid,
        shape: loaded_day::shape(load),
    };
    let http = |url: &str, deadline| {
        Target::http(url, deadline).map_err(BenchError::http("building the client"))
    };
    let front_door = http(&stack.settings.front_door_url, PROFILE_DEADLINE)?;
    let read_api = http(&stack.settings.read_api_url, PROFILE_DEADLINE)?;
    let read_api_aggregates = http(&stack.settings.read_api_url, AGGREGATES_DEADLINE)?;
    let read_api_series = http(&stack.settings.read_api_url, SERIES_DEADLINE)?;
    let settings = stack.clickhouse(&options.day.database);
    let sql = Target::direct(&settings, &[], PROFILE_DEADLINE);
    let sql_aggregates = Target::direct(&settings, &[], AGGREGATES_DEADLINE);

    let peak_reset = match process::reset_peak_memory(clickhouse_pid) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "cannot reset ClickHouse's peak memory; VmHWM covers its whole life");
            false
        }
    };
    let sampler = process::RssSampler::start(clickhouse_pid, Duration::from_millis(500));
    tracing::info!("warm-up: 10 s of profiles, one pass of aggregates");
    bench
        .phase(&read_api, Queries::Profiles, 100, 10, 999)
        .await?;
    for mask in 0..8 {
        bench
            .phase(&sql_aggregates, Queries::Aggregates(mask), 20, 1, 999)
            .await?;
    }
    let mut runs = Vec::new();
    for run in 1..=options.repeats {
        let seed = u64::from(run) * 100;
        let start = loadgen::start::after_newest(&settings)
            .await
            .map_err(BenchError::clickhouse("the newest stored tag"))?;
        tracing::info!(
            run,
            repeats = options.repeats,
            rate = options.ingest_rate,
            "ingesting through the front door"
        );
        let ingest = BackgroundIngest::start(
            &stack.settings.front_door_url,
            options.ingest_rate,
            seed,
            start.millis(),
        )
        .map_err(BenchError::http("building the client"))?;
        // Let the projector's batches reach their steady rhythm first.
        tokio::time::sleep(Duration::from_secs(3)).await;
        tracing::info!(
            run,
            rate = options.profile_rate,
            "profiles through the front door under ingestion"
        );
        let under_ingest = bench
            .phase(
                &front_door,
                Queries::Profiles,
                options.profile_rate,
                options.seconds,
                seed + 1,
            )
            .await;
        let mut ladder = Vec::new();
        if under_ingest.is_ok() {
            for &rate in &options.ladder {
                tracing::info!(
                    run,
                    rate,
                    "ladder step through the front door under ingestion"
                );
                let step = bench
                    .phase(
                        &front_door,
                        Queries::Profiles,
                        rate,
                        options.ladder_seconds,
                        seed + u64::from(rate),
                    )
                    .await?;
                let served = step.served();
                ladder.push(step);
                if !served {
                    break;
                }
            }
        }
        let ingest = ingest.stop().await?;
        let under_ingest = under_ingest?;
        tracing::info!(
            run,
            "profiles straight to read-api and as SQL, no ingestion"
        );
        let profile_seed = seed + 2;
        let (profiles_read_api, profiles_sql) = if run % 2 == 1 {
            let read_api = bench
                .phase(
                    &read_api,
                    Queries::Profiles,
                    options.profile_rate,
                    options.seconds,
                    profile_seed,
                )
                .await?;
            let sql = bench
                .phase(
                    &sql,
                    Queries::Profiles,
                    options.profile_rate,
                    options.seconds,
                    profile_seed,
                )
                .await?;
            (read_api, sql)
        } else {
            let sql = bench
                .phase(
                    &sql,
                    Queries::Profiles,
                    options.profile_rate,
                    options.seconds,
                    profile_seed,
                )
                .await?;
            let read_api = bench
                .phase(
                    &read_api,
                    Queries::Profiles,
                    options.profile_rate,
                    options.seconds,
                    profile_seed,
                )
                .await?;
            (read_api, sql)
        };
        let mut aggregates = Vec::new();
        for mask in 0..8_u8 {
            tracing::info!(run, mask, "aggregates, read-api and SQL");
            let mask_seed = seed + 10 + u64::from(mask);
            let queries = Queries::Aggregates(mask);
            let (rate, seconds) = (options.aggregates_rate, options.aggregates_seconds);
            let read_api = bench
                .phase(&read_api_aggregates, queries, rate, seconds, mask_seed)
                .await?;
            let sql = bench
                .phase(&sql_aggregates, queries, rate, seconds, mask_seed)
                .await?;
            aggregates.push(AggregatesResult {
                mask,
                read_api,
                sql,
            });
        }
        let (series, top) = bench.analysts(&read_api_series, options, run, seed).await?;
        runs.push(ReadRun {
            ingest,
            profiles_under_ingest: under_ingest,
            ladder,
            profiles_read_api,
            profiles_sql,
            aggregates,
            series,
            top,
        });
    }
    let sampled_max_mib = sampler.stop().await;
    let memory = ClickHouseMemory {
        peak_mib: process::memory(clickhouse_pid).map(|memory| memory.peak_mib),
        peak_reset,
        sampled_max_mib,
    };
    Ok((runs, memory))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Latency;

    fn step(rate: f64, p99_ms: f64, shed: u64) -> PhaseResult {
        PhaseResult {
            report: OpenLoopReport {
                target_rate: rate,
                sent: 1000,
                succeeded: 1000 - shed,
                shed,
                late: 0,
                failed: 0,
                achieved_rate: rate,
                latency: Latency {
                    samples: 1000,
                    p50_ms: 5.0,
                    p90_ms: 10.0,
                    p99_ms,
                    max_ms: p99_ms * 2.0,
                },
            },
            clickhouse_cpu_s: Some(1.0),
            logged: None,
        }
    }

    fn run_with(ladder: Vec<PhaseResult>) -> ReadRun {
        ReadRun {
            ingest: IngestSummary::default(),
            profiles_under_ingest: step(100.0, 10.0, 0),
            ladder,
            profiles_read_api: step(100.0, 10.0, 0),
            profiles_sql: step(100.0, 10.0, 0),
            aggregates: Vec::new(),
            series: Vec::new(),
            top: Vec::new(),
        }
    }

    #[test]
    fn the_days_flags_are_reads_flags() {
        use clap::{CommandFactory, Parser};
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            options: ReadOptions,
        }
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["read", "--database", "scratch", "--tags", "1000"])
            .expect("flags");
        assert_eq!(cli.options.day.database, "scratch");
        assert_eq!(cli.options.day.tags, 1000);
        assert!(!cli.options.full_size());
        assert!(Cli::try_parse_from(["read"])
            .expect("defaults")
            .options
            .full_size());
    }

    #[test]
    fn series_limits_are_100_ms_for_an_hour_and_1_s_for_a_day() {
        assert_eq!(series_limit_ms(1), Some(100.0));
        assert_eq!(series_limit_ms(24), Some(1000.0));
        assert_eq!(series_limit_ms(2), None);
    }

    #[test]
    fn a_step_is_served_within_200_ms_and_one_percent_shed() {
        assert!(step(500.0, 200.0, 10).served());
        assert!(!step(500.0, 200.1, 0).served());
        assert!(!step(500.0, 50.0, 11).served());
    }

    #[test]
    fn the_highest_served_rate_is_the_last_step_before_the_first_miss() {
        let run = run_with(vec![
            step(200.0, 20.0, 0),
            step(500.0, 90.0, 5),
            step(1000.0, 180.0, 400),
        ]);
        assert_eq!(run.highest_served(), Some(500.0));
        assert_eq!(run_with(vec![step(200.0, 250.0, 0)]).highest_served(), None);
        assert_eq!(run_with(Vec::new()).highest_served(), None);
        let cpu = step(100.0, 10.0, 0)
            .clickhouse_cpu_per_read_us()
            .expect("reads");
        assert!((cpu - 1000.0).abs() < 1e-9);
    }
}
