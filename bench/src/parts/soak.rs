//! `bench soak`: days, not minutes. The whole platform under the contract's load on a
//! database that already holds a day of tags, for long enough to see trends, then with
//! the retention windows shortened, long enough to see the state level off.
//!
//! 1. [`crate::loader`] loads `--preload-tags` tags (86,400,000: a day at 1,000 tags/s)
//!    into the scratch database `--database`, trimmed as the projector trims (reused
//!    when an earlier load of the same tags is there).
//! 2. The three services move onto that database and a scratch topic created with
//!    `retention.ms` of `--retention-minutes` (the broker's retention is set when a topic
//!    is created: Tansu 0.6 cannot change it later, so the topic has it from the start).
//! 3. `loadgen run` through the front door, at the contract's load (1,000 tags/s, a
//!    profile query every 10 tags, an aggregates query every 1,000, a freshness probe
//!    every 1,000, every answer checked), for `--hold-minutes` then `--retention-windows`
//!    × `--retention-minutes` more. When the hold ends, the aggregates' retention drops
//!    from the loaded database's year to `--retention-minutes` (`ALTER TABLE ... MODIFY
//!    TTL`, as `migrate --aggregates-retention-minutes` sets it). The final round checks
//!    the last `--retention-minutes` of aggregates (older minutes have expired, as they
//!    should: see [`final_aggregates_within`]) and profiles over the whole run.
//! 4. Every minute, [`Sampler`] records: each endpoint's p50/p99 and errors from the
//!    client (loadgen's events) and from the server (nginx's access log, `rt`),
//!    freshness, ClickHouse's parts and merges, every process's RSS and CPU, bytes on
//!    disk of the database (its files, each once: [`disk_bytes`]) and of the broker
//!    (its whole sqlite store), the machine's and the load generator's CPU, and the
//!    rows the 16 hottest cookies hold per action.
//! 5. After the load, a no-op axum server ([`crate::noop`]) is driven at the same rate
//!    for `--noop-seconds`: write-api's CPU per accepted tag during the soak is compared
//!    with its CPU per request (the floor HTTP alone costs on this machine).
//!
//! The results go to `.stack/bench/soak.json`; [`crate::report::soak`] writes
//! `docs/soak.md` and [`crate::plot`] the PNGs beside it. The services go back to the
//! defaults at the end and the database is dropped (its aggregates have expired: it is
//! no longer a loaded day) unless `--keep-database`.

use crate::database::WorkCpu;
use crate::error::BenchError;
use crate::loader::{LoadOptions, LoadReport};
use crate::machine::RunInfo;
use crate::nginx_log::{AccessLine, LogTail};
use crate::noop::NoopServer;
use crate::parts::e2e::HarnessFigures;
use crate::parts::{save, Part};
use crate::process;
use crate::stack::{Component, Scratch, Stack, COMPONENTS};
use crate::stats::Latency;
use clap::Args;
use loadgen::harness::{Event, HarnessOptions, Verdict};
use loadgen::ingest::IngestOptions;
use loadgen::report::Kind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The endpoints the soak measures, as its tables and plots name them.
pub const ENDPOINTS: [&str; 3] = ["tags", "profiles", "aggregates"];
/// Server-side p99 targets per endpoint, ms.
pub const P99_TARGETS_MS: [(&str, f64); 3] =
    [("tags", 20.0), ("profiles", 20.0), ("aggregates", 100.0)];
/// No request may take longer than this on the server.
pub const SLOW_MS: f64 = 200.0;
/// Freshness p99 target, ms.
pub const FRESHNESS_P99_TARGET_MS: f64 = 1000.0;
/// The last 10 minutes' p99 may be at most this multiple of the first 10 minutes'.
pub const DRIFT_LIMIT: f64 = 1.2;
/// Minutes compared at each end of the soak.
pub const DRIFT_MINUTES: usize = 10;
/// Bytes on disk after the third retention window may differ from after the first by
/// at most this share.
pub const DISK_LEVEL_LIMIT: f64 = 0.10;
/// write-api's CPU per tag may be at most this multiple of the no-op floor.
pub const WRITE_FLOOR_LIMIT: f64 = 2.0;

/// One sample per minute.
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// Flags of `bench soak` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct SoakOptions {
    /// The scratch database: loaded first (reused when it holds these tags), dropped at
    /// the end unless `--keep-database`.
    #[arg(long, env = "BENCH_SOAK_DB", default_value = "bench_soak")]
    pub database: String,
    /// Tags loaded before the load starts (86,400,000: a day at 1,000 tags/s).
    #[arg(long, env = "BENCH_SOAK_PRELOAD_TAGS", default_value_t = 86_400_000)]
    pub preload_tags: u64,
    /// Seed of the loaded stream (the soak's own stream uses the next one).
    #[arg(long, env = "BENCH_SOAK_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Rows per insert while loading.
    #[arg(long, env = "BENCH_LOAD_CHUNK_ROWS", default_value_t = 1_000_000)]
    pub chunk_rows: u64,
    /// Minutes of the contract's load on the day's retention.
    #[arg(long, env = "BENCH_SOAK_HOLD_MINUTES", default_value_t = 30)]
    pub hold_minutes: u64,
    /// The shortened retention of the aggregates and of the topic, minutes. At least
    /// 15: loadgen asks about aggregates up to 12 minutes old, and a minute that expired
    /// correctly must not look like a wrong answer.
    #[arg(long, env = "BENCH_SOAK_RETENTION_MINUTES", default_value_t = 15)]
    pub retention_minutes: u32,
    /// Retention windows the load goes on for after the hold.
    #[arg(long, env = "BENCH_SOAK_RETENTION_WINDOWS", default_value_t = 3)]
    pub retention_windows: u32,
    /// Tags per second (profile and aggregates queries follow at 1 per 10 and 1 per 1,000).
    #[arg(long, env = "BENCH_SOAK_RATE", default_value_t = 1000)]
    pub rate: u32,
    /// Seconds the no-op server is driven for the write path's floor.
    #[arg(long, env = "BENCH_SOAK_NOOP_SECONDS", default_value_t = 60)]
    pub noop_seconds: u64,
    /// Keep the scratch database afterwards.
    #[arg(long, env = "BENCH_SOAK_KEEP_DATABASE")]
    pub keep_database: bool,
    /// Only write the report and plots from the last results (`.stack/bench/soak.json`).
    #[arg(long)]
    pub report_only: bool,
    /// Where `soak.md` and its plots go (relative: to the repository).
    #[arg(long, env = "BENCH_REPORT_DIR", default_value = "docs")]
    pub report_dir: PathBuf,
    /// Partitions of the scratch topic.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
    /// The migrations applied to the scratch database.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    pub migrations_dir: PathBuf,
}

impl SoakOptions {
    fn full_size(&self) -> bool {
        self.preload_tags >= 86_400_000
            && self.hold_minutes >= 30
            && self.retention_windows >= 3
            && self.rate >= 1000
    }

    fn load_minutes(&self) -> u64 {
        self.hold_minutes + u64::from(self.retention_minutes) * u64::from(self.retention_windows)
    }
}

/// Which part of the soak a minute belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// The contract's load on the day's retention.
    Hold,
    /// The same load with the retention windows shortened.
    Retention,
    /// After the stream: the final round.
    FinalRound,
}

/// Requests of one endpoint within one minute (or the whole soak).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Answered (any status).
    pub requests: u64,
    /// Not answered as the contract wants: 5xx or no answer in time (client), 5xx (server).
    pub errors: u64,
    /// Taking longer than [`SLOW_MS`].
    pub slow: u64,
    /// Latency of all of them.
    pub latency: Latency,
}

impl Requests {
    fn of(samples: &[(f64, bool)]) -> Self {
        Self {
            requests: samples.len() as u64,
            errors: samples.iter().filter(|(_, ok)| !ok).count() as u64,
            slow: samples.iter().filter(|(ms, _)| *ms > SLOW_MS).count() as u64,
            latency: Latency::of_millis(samples.iter().map(|(ms, _)| *ms)),
        }
    }
}

/// A process's figures over one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessMinute {
    /// CPU seconds spent in the minute.
    pub cpu_s: Option<f64>,
    /// Resident set at the minute's end, MiB.
    pub rss_mib: Option<f64>,
}

/// Everything recorded about one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// Minutes since the first tag was due (this one ends at `index + 1`).
    pub index: u64,
    /// Its phase.
    pub phase: Phase,
    /// Tags answered 204 in it.
    pub tags_accepted: u64,
    /// Per endpoint, from loadgen's side.
    pub client: BTreeMap<String, Requests>,
    /// Per endpoint, from nginx's log.
    pub server: BTreeMap<String, Requests>,
    /// Checked answers that were wrong.
    pub wrong: u64,
    /// Freshness probes that saw their tag in it.
    pub freshness: Latency,
    /// Active parts of the database.
    pub parts: u64,
    /// Merges running at the minute's end.
    pub merges_running: u64,
    /// Merges ClickHouse finished in the minute (server-wide).
    pub merges_done: u64,
    /// Bytes on disk of the database's files (its tables' data paths walked, a file
    /// hard-linked into several parts counted once: a mutation's new part shares the
    /// old one's unchanged columns).
    pub clickhouse_bytes: u64,
    /// Bytes on disk of the broker's store (its sqlite files, every topic).
    pub broker_bytes: u64,
    /// Rows of `user_tags` of the 16 hottest cookies: the largest (cookie, action).
    pub hot_rows_max: u64,
    /// ... and the median over the 32 pairs.
    pub hot_rows_median: f64,
    /// Per process (clickhouse, tansu, nginx, write-api, read-api, projector).
    pub processes: BTreeMap<String, ProcessMinute>,
    /// Cores the whole machine was busy on average (every process: the load generator,
    /// the build of anything else running, the kernel). Absent from earlier results.
    #[serde(default)]
    pub machine_cores: Option<f64>,
    /// Cores the load generator (the `bench` process) used on average.
    #[serde(default)]
    pub load_generator_cores: Option<f64>,
}

impl Minute {
    /// CPU seconds of `process` per 1,000 tags accepted in this minute.
    pub fn cpu_per_1000_tags(&self, process: &str) -> Option<f64> {
        let cpu = self.processes.get(process)?.cpu_s?;
        (self.tags_accepted > 0).then(|| cpu * 1000.0 / self.tags_accepted as f64)
    }
}

/// Whole-soak figures of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTotals {
    /// From loadgen's side.
    pub client: Requests,
    /// From nginx's log.
    pub server: Requests,
    /// Server-side p99 of the first [`DRIFT_MINUTES`] minutes of load, ms.
    pub first_p99_ms: Option<f64>,
    /// ... and of the last ones.
    pub last_p99_ms: Option<f64>,
}

/// The write path against its floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteFloor {
    /// write-api's CPU per tag accepted over the whole load, µs.
    pub write_api_us_per_tag: Option<f64>,
    /// The no-op server's CPU per request at the same rate, µs.
    pub noop_us_per_request: Option<f64>,
    /// Requests the no-op server answered 204.
    pub noop_requests: u64,
}

impl WriteFloor {
    /// write-api's cost as a multiple of the floor.
    pub fn ratio(&self) -> Option<f64> {
        crate::stats::ratio(self.write_api_us_per_tag?, self.noop_us_per_request?)
    }
}

/// Everything `bench soak` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakResults {
    /// Where and when.
    pub info: RunInfo,
    /// The flags' values that shape the run.
    pub hold_minutes: u64,
    /// Shortened retention, minutes.
    pub retention_minutes: u32,
    /// Retention windows after the hold.
    pub retention_windows: u32,
    /// Tags per second.
    pub rate: u32,
    /// The scratch topic.
    pub topic: String,
    /// The day loaded first.
    pub preload: LoadReport,
    /// Per minute.
    pub minutes: Vec<Minute>,
    /// Per endpoint, over the whole load.
    pub endpoints: BTreeMap<String, EndpointTotals>,
    /// Freshness over the whole load.
    pub freshness: Latency,
    /// The write path against its floor.
    pub write_floor: WriteFloor,
    /// Wall-clock seconds of the load (stream and final round).
    pub load_seconds: f64,
    /// `loadgen run`'s figures.
    pub harness: HarnessFigures,
    /// Whether [`Minute::clickhouse_bytes`] counts each file once ([`disk_bytes`]);
    /// false in results of the first version, which summed `system.parts.bytes_on_disk`
    /// of every part (a mutated part's shared columns counted twice until the old part
    /// is removed).
    #[serde(default)]
    pub disk_files_counted_once: bool,
    /// ClickHouse's CPU by the queries' work over the load and the final round
    /// ([`crate::database::cpu_by_work`]); empty in results from before it was kept.
    #[serde(default)]
    pub clickhouse_work: Vec<WorkCpu>,
}

impl SoakResults {
    /// Wrong answers of every kind.
    pub fn wrong_answers(&self) -> u64 {
        self.harness
            .queries()
            .iter()
            .map(|figures| figures.wrong)
            .sum()
    }

    /// Bytes on disk (database and broker) at the end of retention window `window`
    /// (1-based), counted from the hold's end; `None` when the soak stopped sooner.
    pub fn bytes_after_window(&self, window: u32) -> Option<(u64, u64)> {
        let minute = self.hold_minutes + u64::from(self.retention_minutes) * u64::from(window);
        let sample = self.minutes.iter().find(|m| m.index + 1 == minute)?;
        Some((sample.clickhouse_bytes, sample.broker_bytes))
    }

    /// How far bytes on disk after the last window are from after the first, as a
    /// share of the first (database and broker together).
    pub fn disk_drift(&self) -> Option<f64> {
        let (first_ch, first_broker) = self.bytes_after_window(1)?;
        let (last_ch, last_broker) = self.bytes_after_window(self.retention_windows)?;
        let first = (first_ch + first_broker) as f64;
        let last = (last_ch + last_broker) as f64;
        crate::stats::ratio((last - first).abs(), first)
    }

    /// The minutes under load (the final round's left out).
    pub fn load_minutes(&self) -> impl Iterator<Item = &Minute> {
        self.minutes
            .iter()
            .filter(|minute| minute.phase != Phase::FinalRound)
    }

    /// The CPU seconds of `process` over every sampled minute, the final round's
    /// included (the span of [`Self::clickhouse_work`]), and the tags accepted in them.
    pub fn cpu_and_tags_of_every_minute(&self, process: &str) -> Option<(f64, u64)> {
        let cpu: f64 = self
            .minutes
            .iter()
            .map(|minute| minute.processes.get(process).and_then(|p| p.cpu_s))
            .sum::<Option<f64>>()?;
        Some((
            cpu,
            self.minutes.iter().map(|minute| minute.tags_accepted).sum(),
        ))
    }

    /// The soak's CPU seconds of `process` per 1,000 tags over the whole load.
    pub fn cpu_per_1000_tags(&self, process: &str) -> Option<f64> {
        let cpu: f64 = self
            .load_minutes()
            .map(|minute| minute.processes.get(process).and_then(|p| p.cpu_s))
            .sum::<Option<f64>>()?;
        let tags: u64 = self.load_minutes().map(|minute| minute.tags_accepted).sum();
        crate::stats::ratio(cpu * 1000.0, tags as f64)
    }
}

/// The endpoint a request path belongs to, if any.
pub fn endpoint_of(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    if method == "POST" && path.trim_end_matches('/') == "/user_tags" {
        Some("tags")
    } else if path.starts_with("/user_profiles/") {
        Some("profiles")
    } else if path.trim_end_matches('/') == "/aggregates" {
        Some("aggregates")
    } else {
        None
    }
}

/// Requests of one minute: per endpoint, (latency ms, whether it went as wanted).
type MinuteRequests = BTreeMap<&'static str, Vec<(f64, bool)>>;

/// Requests per minute (minutes since the soak's first tag was due).
type RequestLog = BTreeMap<u64, MinuteRequests>;

/// Client-side outcomes, bucketed by the minute they were answered in.
#[derive(Default)]
struct ClientLog {
    /// Per minute.
    minutes: RequestLog,
    accepted: BTreeMap<u64, u64>,
    wrong: BTreeMap<u64, u64>,
    freshness: BTreeMap<u64, Vec<f64>>,
}

impl ClientLog {
    fn record(&mut self, origin: Instant, event: Event) {
        let minute_of = |at: Instant| at.saturating_duration_since(origin).as_secs() / 60;
        match event {
            Event::Tag {
                due,
                answered,
                accepted,
                ..
            } => {
                let minute = minute_of(answered);
                let ms = answered.saturating_duration_since(due).as_secs_f64() * 1000.0;
                self.push(minute, "tags", ms, accepted);
                if accepted {
                    *self.accepted.entry(minute).or_default() += 1;
                }
            }
            Event::Query {
                kind,
                sent,
                answered,
                verdict,
                ..
            } => {
                let minute = minute_of(answered);
                let endpoint = match kind {
                    Kind::Profile | Kind::FinalProfile => "profiles",
                    Kind::Aggregate | Kind::FinalAggregate => "aggregates",
                };
                let ms = answered.saturating_duration_since(sent).as_secs_f64() * 1000.0;
                self.push(minute, endpoint, ms, verdict != Verdict::Failed);
                if verdict == Verdict::Wrong {
                    *self.wrong.entry(minute).or_default() += 1;
                }
            }
            Event::Fresh { seen, latency } => {
                self.freshness
                    .entry(minute_of(seen))
                    .or_default()
                    .push(latency.as_secs_f64() * 1000.0);
            }
            Event::MinuteCounted { .. } => {}
        }
    }

    fn push(&mut self, minute: u64, endpoint: &'static str, ms: f64, ok: bool) {
        self.minutes
            .entry(minute)
            .or_default()
            .entry(endpoint)
            .or_default()
            .push((ms, ok));
    }
}

/// Server-side requests per minute from nginx's log.
type ServerLog = RequestLog;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What ClickHouse says about the database at one instant.
#[derive(Debug, Clone, Copy, Default, clickhouse::Row, Deserialize)]
struct ClickHouseSample {
    parts: u64,
    merges_running: u64,
    merges_done: u64,
}

async fn clickhouse_sample(
    server: &clickhouse::Client,
    database: &str,
) -> Result<ClickHouseSample, clickhouse::error::Error> {
    server
        .query(
            // Scalar subqueries are Nullable in ClickHouse 26; the row is not.
            "SELECT \
               ifNull((SELECT countIf(active) FROM system.parts WHERE database = ?), 0) AS parts, \
               ifNull((SELECT count() FROM system.merges WHERE database = ?), 0) AS merges_running, \
               ifNull((SELECT sum(value) FROM system.events WHERE event = 'Merge'), 0) AS merges_done",
        )
        .bind(database)
        .bind(database)
        .fetch_one()
        .await
}

/// The directories holding `database`'s tables.
async fn data_paths(
    server: &clickhouse::Client,
    database: &str,
) -> Result<Vec<String>, clickhouse::error::Error> {
    server
        .query("SELECT arrayJoin(data_paths) FROM system.tables WHERE database = ?")
        .bind(database)
        .fetch_all()
        .await
}

/// Bytes of the files under `roots`, each file once however many hard links it has
/// (`sum(bytes_on_disk)` of `system.parts` counts a mutated part's shared columns twice
/// until the old part is removed: 1.6 GiB of noise on a day's table).
pub fn disk_bytes(roots: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut pending: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(Result::ok).map(|entry| entry.path()));
            }
        } else if metadata.is_file() && seen.insert((metadata.dev(), metadata.ino())) {
            total += metadata.len();
        }
    }
    total
}

async fn hot_rows(
    server: &clickhouse::Client,
    database: &str,
) -> Result<Vec<u64>, clickhouse::error::Error> {
    let hot: Vec<String> = (0..loadgen::stream::HOT_VALUES)
        .map(loadgen::stream::cookie_name)
        .collect();
    read_model::tags::rows_of_pairs(server, database, &hot).await
}

/// Bytes of the files directly in `dir` (the broker's sqlite store and its journal).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

fn pids(stack: &Stack) -> Vec<(&'static str, Option<u32>)> {
    COMPONENTS
        .iter()
        .map(|component| (component.name(), stack.pid(*component)))
        .collect()
}

/// RSS of `pid` (and, for nginx, its workers), MiB.
fn rss_of(component: &str, pid: u32) -> Option<f64> {
    let own = process::memory(pid)?.current_mib;
    if component == Component::Nginx.name() {
        Some(
            own + process::children(pid)
                .into_iter()
                .filter_map(process::memory)
                .map(|memory| memory.current_mib)
                .sum::<f64>(),
        )
    } else {
        Some(own)
    }
}

/// Takes the per-minute samples: each tick reads what changed since the last.
struct Sampler {
    stack: Stack,
    server: clickhouse::Client,
    database: String,
    broker_dir: PathBuf,
    access_log: LogTail,
    cpu_before: BTreeMap<&'static str, f64>,
    machine_before: Option<f64>,
    own_before: Option<f64>,
    ticked_at: Instant,
    merges_before: Option<u64>,
    server_log: ServerLog,
    origin: Instant,
}

/// What one tick took, apart from the client's side (added when the minute is built).
struct Tick {
    index: u64,
    ch: ClickHouseSample,
    merges_done: u64,
    broker_bytes: u64,
    hot: Vec<u64>,
    clickhouse_bytes: u64,
    processes: BTreeMap<String, ProcessMinute>,
    machine_cores: Option<f64>,
    load_generator_cores: Option<f64>,
}

impl Sampler {
    async fn new(stack: &Stack, database: &str, origin: Instant) -> Self {
        let server = service_kit::clickhouse::server_client(&stack.clickhouse(database));
        let mut sampler = Self {
            stack: stack.clone(),
            broker_dir: stack.stack_dir().join("tansu"),
            access_log: LogTail::at_end(&stack.logs_dir().join("nginx-access.log")),
            cpu_before: BTreeMap::new(),
            machine_before: process::machine_busy_seconds(),
            own_before: process::cpu_seconds(std::process::id()),
            ticked_at: Instant::now(),
            merges_before: None,
            server_log: ServerLog::new(),
            server,
            database: database.to_owned(),
            origin,
        };
        sampler.cpu_before = sampler.cpu_now();
        sampler.merges_before = clickhouse_sample(&sampler.server, database)
            .await
            .ok()
            .map(|sample| sample.merges_done);
        sampler
    }

    fn cpu_now(&self) -> BTreeMap<&'static str, f64> {
        crate::platform_cpu::components_cpu_seconds(&self.stack)
    }

    /// Reads nginx's new lines into the minute they were read in.
    fn read_access_log(&mut self, minute: u64) {
        match self.access_log.read_new() {
            Ok(lines) => {
                self.access_log = LogTail::at_end(self.access_log.path());
                let bucket = self.server_log.entry(minute).or_default();
                for AccessLine {
                    method,
                    path,
                    status,
                    request_ms,
                    ..
                } in lines
                {
                    if let Some(endpoint) = endpoint_of(&method, &path) {
                        bucket
                            .entry(endpoint)
                            .or_default()
                            .push((request_ms, status < 500));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "nginx's access log unreadable"),
        }
    }

    async fn tick(&mut self) -> Tick {
        let index = self.origin.elapsed().as_secs().saturating_sub(1) / 60;
        self.read_access_log(index);
        let cpu_now = self.cpu_now();
        let mut processes = BTreeMap::new();
        for (name, pid) in pids(&self.stack) {
            let cpu_s = match (self.cpu_before.get(name), cpu_now.get(name)) {
                (Some(before), Some(now)) if now >= before => Some(now - before),
                _ => None,
            };
            let rss_mib = pid.and_then(|pid| rss_of(name, pid));
            processes.insert(name.to_owned(), ProcessMinute { cpu_s, rss_mib });
        }
        self.cpu_before = cpu_now;
        let seconds = self.ticked_at.elapsed().as_secs_f64();
        self.ticked_at = Instant::now();
        let per_second =
            |before: Option<f64>, now: Option<f64>| crate::stats::ratio(now? - before?, seconds);
        let (machine_now, own_now) = (
            process::machine_busy_seconds(),
            process::cpu_seconds(std::process::id()),
        );
        let machine_cores = per_second(self.machine_before, machine_now);
        let load_generator_cores = per_second(self.own_before, own_now);
        (self.machine_before, self.own_before) = (machine_now, own_now);
        let ch = clickhouse_sample(&self.server, &self.database)
            .await
            .map_err(|error| tracing::warn!(%error, "ClickHouse sample failed"))
            .unwrap_or_default();
        let merges_done = match self.merges_before {
            Some(before) if ch.merges_done >= before => ch.merges_done - before,
            _ => 0,
        };
        if ch.merges_done > 0 {
            self.merges_before = Some(ch.merges_done);
        }
        let clickhouse_bytes = match data_paths(&self.server, &self.database).await {
            Ok(paths) => disk_bytes(&paths.into_iter().map(PathBuf::from).collect::<Vec<_>>()),
            Err(error) => {
                tracing::warn!(%error, "the database's data paths unreadable");
                0
            }
        };
        let hot = hot_rows(&self.server, &self.database)
            .await
            .map_err(|error| tracing::warn!(%error, "hot rows unreadable"))
            .unwrap_or_default();
        Tick {
            index,
            ch,
            merges_done,
            broker_bytes: dir_bytes(&self.broker_dir),
            hot,
            clickhouse_bytes,
            processes,
            machine_cores,
            load_generator_cores,
        }
    }
}

/// Runs `bench soak` (or, with `--report-only`, only its report), writes `soak.json`
/// into `results_dir` and the report into `--report-dir`.
pub async fn run(
    stack: &Stack,
    options: &SoakOptions,
    results_dir: &Path,
) -> Result<SoakResults, BenchError> {
    let report_dir = stack.settings.repo_root.join(&options.report_dir);
    if options.report_only {
        let results: SoakResults = crate::parts::load(results_dir, Part::Soak)?
            .ok_or_else(|| BenchError::Stack("no soak results to report".to_owned()))?;
        crate::report::soak::write(&results, &report_dir)?;
        return Ok(results);
    }
    stack.check_up().await?;
    if options.retention_minutes < 15 {
        tracing::warn!(
            retention_minutes = options.retention_minutes,
            "aggregates older than the retention will be asked about: expect wrong answers"
        );
    }
    let info = RunInfo::now(&stack.settings.repo_root, options.full_size());
    let settings = stack.clickhouse(&options.database);
    let preload = crate::loader::load(&LoadOptions {
        clickhouse: settings.clone(),
        migrations_dir: stack.settings.repo_root.join(&options.migrations_dir),
        tags: options.preload_tags,
        seed: options.seed,
        chunk_rows: options.chunk_rows,
        force: false,
        insert_timeout: Duration::from_secs(600),
    })
    .await?;
    let scratch = Scratch::new("bench_soak", Some(&options.database));
    let retention_ms = u64::from(options.retention_minutes) * 60_000;
    stack
        .create_topic_with_retention(&scratch.topic, options.partitions, Some(retention_ms))
        .await?;
    stack
        .create_topic_with_retention(&scratch.dead_letter_topic(), 1, None)
        .await?;
    let services = stack.services_on(&scratch).await?;
    let outcome = soak(stack, options, &settings).await;
    let restored = services.restore().await;
    let soaked = outcome?;
    restored?;
    let write_floor = write_floor(stack, options, soaked.write_api_cpu_s, &soaked.harness).await?;
    if !options.keep_database {
        let server = service_kit::clickhouse::server_client(&settings);
        crate::database::drop_database(&server, &options.database).await?;
    }
    let results = SoakResults {
        info,
        hold_minutes: options.hold_minutes,
        retention_minutes: options.retention_minutes,
        retention_windows: options.retention_windows,
        rate: options.rate,
        topic: scratch.topic,
        preload,
        minutes: soaked.minutes,
        endpoints: soaked.endpoints,
        freshness: soaked.freshness,
        write_floor,
        load_seconds: soaked.load_seconds,
        harness: soaked.harness,
        disk_files_counted_once: true,
        clickhouse_work: soaked.clickhouse_work,
    };
    save(results_dir, Part::Soak, &results)?;
    crate::report::soak::write(&results, &report_dir)?;
    Ok(results)
}

/// What the load itself measured.
struct Soaked {
    minutes: Vec<Minute>,
    endpoints: BTreeMap<String, EndpointTotals>,
    freshness: Latency,
    harness: HarnessFigures,
    /// Wall-clock seconds of the load.
    load_seconds: f64,
    /// write-api's CPU seconds over the load.
    write_api_cpu_s: Option<f64>,
    clickhouse_work: Vec<WorkCpu>,
}

async fn soak(
    stack: &Stack,
    options: &SoakOptions,
    settings: &service_kit::settings::ClickHouseSettings,
) -> Result<Soaked, BenchError> {
    let start = loadgen::start::after_newest(settings)
        .await
        .map_err(BenchError::clickhouse("the newest stored tag"))?;
    let load_minutes = options.load_minutes();
    let tags = load_minutes * 60 * u64::from(options.rate);
    let harness_options = HarnessOptions {
        base_url: stack.settings.front_door_url.clone(),
        tags,
        rate: options.rate,
        concurrency: 256,
        seed: options.seed + 1,
        start_ms: start.millis(),
        tag_deadline: Duration::from_millis(200),
        profile_deadline: Duration::from_millis(200),
        aggregate_deadline: Duration::from_secs(60),
        profile_lag: Duration::from_secs(10),
        aggregate_lag: Duration::from_secs(60),
        profile_every: 10,
        aggregate_every: 1000,
        freshness_every: 1000,
        final_profiles: 200,
        final_aggregates_within: Some(final_aggregates_within(options.retention_minutes)),
        progress: false,
    };
    tracing::info!(
        tags,
        minutes = load_minutes,
        retention_minutes = options.retention_minutes,
        start = %start,
        "soak: loadgen run through the front door"
    );
    let server = service_kit::clickhouse::server_client(settings);
    let query_log_from = crate::database::server_now(&server).await?;
    let origin = Instant::now();
    let client_log = Arc::new(Mutex::new(ClientLog::default()));
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let collector = {
        let client_log = Arc::clone(&client_log);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                lock(&client_log).record(origin, event);
            }
        })
    };
    let write_api_cpu_before = stack
        .pid(Component::WriteApi)
        .and_then(process::cpu_seconds);
    let mut sampler = Sampler::new(stack, &options.database, origin).await;
    let mut harness = tokio::spawn(loadgen::harness::run_observed(
        harness_options,
        Some(sender),
    ));
    let mut ticks = Vec::new();
    let mut retention_applied = false;
    let report = loop {
        let next = origin + SAMPLE_EVERY * (ticks.len() as u32 + 1);
        tokio::select! {
            outcome = &mut harness => break outcome,
            () = tokio::time::sleep_until(next.into()) => {
                let tick = sampler.tick().await;
                tracing::info!(
                    minute = tick.index + 1,
                    parts = tick.ch.parts,
                    clickhouse_mib = tick.clickhouse_bytes / (1 << 20),
                    broker_mib = tick.broker_bytes / (1 << 20),
                    "soak minute"
                );
                ticks.push(tick);
                if !retention_applied && ticks.len() as u64 >= options.hold_minutes {
                    retention_applied = true;
                    let retention = migrations::Retention {
                        aggregates_minutes: options.retention_minutes,
                    };
                    tracing::info!(minutes = options.retention_minutes, "hold over: aggregates retention shortened");
                    migrations::apply_retention(
                        &server,
                        &options.database,
                        &migrations::Target::SingleNode,
                        retention,
                    )
                    .await?;
                }
            }
        }
    };
    let load_seconds = origin.elapsed().as_secs_f64();
    let write_api_cpu_s = match (
        write_api_cpu_before,
        stack
            .pid(Component::WriteApi)
            .and_then(process::cpu_seconds),
    ) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    tokio::time::sleep(crate::nginx_log::FLUSH_WAIT).await;
    ticks.push(sampler.tick().await);
    let query_log_to = crate::database::server_now(&server).await?;
    let clickhouse_work =
        crate::database::cpu_by_work(&server, &settings.database, query_log_from, query_log_to)
            .await?;
    let report = report.map_err(|error| BenchError::Stack(format!("loadgen run: {error}")))??;
    collector
        .await
        .map_err(|error| BenchError::Stack(format!("the event collector: {error}")))?;
    tracing::info!("{}", report.summary_text());
    let harness: HarnessFigures = serde_json::to_value(&report)
        .and_then(serde_json::from_value)
        .map_err(|source| BenchError::Results {
            path: PathBuf::from("loadgen run report"),
            source,
        })?;
    let client_log = std::mem::take(&mut *lock(&client_log));
    let stream_minutes = options.load_minutes();
    let minutes = build_minutes(
        &ticks,
        &client_log,
        &sampler.server_log,
        options.hold_minutes,
        stream_minutes,
    );
    let endpoints = totals(&client_log, &sampler.server_log, stream_minutes);
    let freshness = Latency::of_millis(client_log.freshness.values().flatten().copied());
    Ok(Soaked {
        minutes,
        endpoints,
        freshness,
        harness,
        load_seconds,
        write_api_cpu_s,
        clickhouse_work,
    })
}

/// The event time whose aggregates the final round checks: the retention less 3
/// minutes. A row lives more than the retention after it was ingested; the final round
/// starts a minute (the aggregates lag) after the stream's last tag, so its oldest minute
/// must be younger than the retention by that minute and a margin.
pub fn final_aggregates_within(retention_minutes: u32) -> Duration {
    Duration::from_secs(u64::from(retention_minutes.saturating_sub(3).max(1)) * 60)
}

fn phase_of(index: u64, hold_minutes: u64, stream_minutes: u64) -> Phase {
    if index < hold_minutes {
        Phase::Hold
    } else if index < stream_minutes {
        Phase::Retention
    } else {
        Phase::FinalRound
    }
}

fn build_minutes(
    ticks: &[Tick],
    client: &ClientLog,
    server: &ServerLog,
    hold_minutes: u64,
    stream_minutes: u64,
) -> Vec<Minute> {
    let per_endpoint = |buckets: Option<&MinuteRequests>| {
        ENDPOINTS
            .iter()
            .map(|endpoint| {
                let samples = buckets
                    .and_then(|buckets| buckets.get(endpoint))
                    .map_or(&[][..], Vec::as_slice);
                ((*endpoint).to_owned(), Requests::of(samples))
            })
            .collect::<BTreeMap<_, _>>()
    };
    ticks
        .iter()
        .map(|tick| {
            let index = tick.index;
            let median = if tick.hot.is_empty() {
                0.0
            } else {
                crate::stats::median(tick.hot.iter().map(|rows| *rows as f64)).unwrap_or(0.0)
            };
            Minute {
                index,
                phase: phase_of(index, hold_minutes, stream_minutes),
                tags_accepted: client.accepted.get(&index).copied().unwrap_or(0),
                client: per_endpoint(client.minutes.get(&index)),
                server: per_endpoint(server.get(&index)),
                wrong: client.wrong.get(&index).copied().unwrap_or(0),
                freshness: Latency::of_millis(
                    client
                        .freshness
                        .get(&index)
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .copied(),
                ),
                parts: tick.ch.parts,
                merges_running: tick.ch.merges_running,
                merges_done: tick.merges_done,
                clickhouse_bytes: tick.clickhouse_bytes,
                broker_bytes: tick.broker_bytes,
                hot_rows_max: tick.hot.iter().copied().max().unwrap_or(0),
                hot_rows_median: median,
                processes: tick.processes.clone(),
                machine_cores: tick.machine_cores,
                load_generator_cores: tick.load_generator_cores,
            }
        })
        .collect()
}

fn totals(
    client: &ClientLog,
    server: &ServerLog,
    stream_minutes: u64,
) -> BTreeMap<String, EndpointTotals> {
    let gather = |log: &RequestLog, endpoint: &str, minutes: &dyn Fn(u64) -> bool| {
        log.iter()
            .filter(|(minute, _)| minutes(**minute))
            .filter_map(|(_, buckets)| buckets.get(endpoint))
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    let drift = DRIFT_MINUTES as u64;
    ENDPOINTS
        .iter()
        .map(|endpoint| {
            let p99 = |minutes: &dyn Fn(u64) -> bool| {
                let samples = gather(server, endpoint, minutes);
                (!samples.is_empty())
                    .then(|| Latency::of_millis(samples.iter().map(|(ms, _)| *ms)).p99_ms)
            };
            let totals = EndpointTotals {
                client: Requests::of(&gather(&client.minutes, endpoint, &|_| true)),
                server: Requests::of(&gather(server, endpoint, &|_| true)),
                first_p99_ms: p99(&|minute| minute < drift),
                last_p99_ms: p99(&|minute| {
                    minute + drift >= stream_minutes && minute < stream_minutes
                }),
            };
            ((*endpoint).to_owned(), totals)
        })
        .collect()
}

/// Drives the no-op server at the soak's rate and compares write-api's CPU per tag with
/// its CPU per request.
async fn write_floor(
    stack: &Stack,
    options: &SoakOptions,
    write_api_cpu_s: Option<f64>,
    harness: &HarnessFigures,
) -> Result<WriteFloor, BenchError> {
    let write_api_us_per_tag = write_api_cpu_s
        .and_then(|cpu| crate::stats::ratio(cpu * 1e6, harness.tags.accepted as f64));
    let noop = NoopServer::start(stack, 0).await?;
    tracing::info!(
        seconds = options.noop_seconds,
        "the write path's floor: a no-op server at the same rate"
    );
    let before = process::cpu_seconds(noop.pid);
    let report = loadgen::ingest::run(IngestOptions {
        base_url: noop.url.clone(),
        rate: options.rate,
        duration: Duration::from_secs(options.noop_seconds),
        concurrency: 256,
        seed: options.seed + 2,
        deadline: Duration::from_millis(200),
        start_ms: None,
    })
    .await
    .map_err(BenchError::http("the load generator's client"))?;
    let after = process::cpu_seconds(noop.pid);
    let noop_us_per_request = match (before, after) {
        (Some(before), Some(after)) => {
            crate::stats::ratio((after - before) * 1e6, report.accepted as f64)
        }
        _ => None,
    };
    Ok(WriteFloor {
        write_api_us_per_tag,
        noop_us_per_request,
        noop_requests: report.accepted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_path() {
        assert_eq!(endpoint_of("POST", "/user_tags"), Some("tags"));
        assert_eq!(endpoint_of("POST", "/user_tags/"), Some("tags"));
        assert_eq!(
            endpoint_of("POST", "/user_profiles/c1?time_range=a_b"),
            Some("profiles")
        );
        assert_eq!(
            endpoint_of("POST", "/aggregates?time_range=a_b&action=VIEW"),
            Some("aggregates")
        );
        assert_eq!(endpoint_of("GET", "/user_tags"), None);
        assert_eq!(endpoint_of("GET", "/metrics"), None);
    }

    #[test]
    fn a_hard_linked_file_is_counted_once() {
        let dir = std::env::temp_dir().join(format!("bench-disk-{}", std::process::id()));
        let (old, new) = (dir.join("old"), dir.join("new"));
        std::fs::create_dir_all(&old).expect("old part");
        std::fs::create_dir_all(&new).expect("new part");
        std::fs::write(old.join("column.bin"), vec![0_u8; 1000]).expect("a column");
        std::fs::hard_link(old.join("column.bin"), new.join("column.bin")).expect("a link");
        std::fs::write(new.join("mask.bin"), vec![0_u8; 10]).expect("the mutated column");
        assert_eq!(disk_bytes(std::slice::from_ref(&dir)), 1010);
        assert_eq!(disk_bytes(&[old.clone(), new.clone()]), 1010);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn minutes_are_phased_by_the_hold_and_the_stream() {
        assert_eq!(phase_of(0, 30, 75), Phase::Hold);
        assert_eq!(phase_of(29, 30, 75), Phase::Hold);
        assert_eq!(phase_of(30, 30, 75), Phase::Retention);
        assert_eq!(phase_of(74, 30, 75), Phase::Retention);
        assert_eq!(phase_of(75, 30, 75), Phase::FinalRound);
    }

    #[test]
    fn errors_and_slow_requests_are_counted_apart() {
        let requests = Requests::of(&[(5.0, true), (250.0, true), (3.0, false)]);
        assert_eq!(requests.requests, 3);
        assert_eq!(requests.errors, 1);
        assert_eq!(requests.slow, 1);
        assert!(requests.latency.max_ms >= 249.0);
    }
}
