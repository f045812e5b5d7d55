//! `bench archive`: the archive's figures, each measured on its own scratch topic with
//! the real binaries (the live stack's topic, database and archiver are left alone).
//!
//! 1. Steady state: the archiver (its defaults: a file a minute per partition) archives
//!    a scratch topic fed at the contract's 1,000 tags/s by a producer paced open loop.
//!    Measured: the archiver's CPU (from `/proc`, after the first 30 s) as a share of a
//!    core and per tag; the archive's bytes per tag (files over tags); the freshness of
//!    the archive, per record, from its broker timestamp (the producer's send, a few
//!    ms before the 204) to its file in place (the manifest's `written_at_ms`).
//! 2. Replay: a backlog produced flat out, archived by the archiver (its catch-up rate),
//!    then two rebuilds of the same tags into fresh databases, timed: `projector rebuild`
//!    from the broker, and `projector rebuild --from-archive` (the archive, then an empty
//!    tail). Both databases must count every tag.
//!
//! Writes `.stack/bench/archive.json`; [`crate::report::archive`] writes
//! `docs/bench-archive.md` from it.

use crate::database;
use crate::error::BenchError;
use crate::machine::RunInfo;
use crate::process;
use crate::stack::Stack;
use archive::{ArchiveStore, RecoveryMode};
use clap::Args;
use loadgen::stream::{Cardinalities, TagStream};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Flags of `bench archive` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct ArchiveOptions {
    /// Seconds of the steady state at `--rate`.
    #[arg(long, env = "BENCH_ARCHIVE_SECONDS", default_value_t = 240)]
    pub seconds: u64,
    /// Tags per second of the steady state.
    #[arg(long, env = "BENCH_ARCHIVE_RATE", default_value_t = 1_000)]
    pub rate: u64,
    /// Tags in the replay's backlog.
    #[arg(long = "tags", env = "BENCH_ARCHIVE_TAGS", default_value_t = 1_000_000)]
    pub tags: u64,
    /// Partitions of the scratch topics.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
    /// Longest one step may take, seconds.
    #[arg(long, env = "BENCH_ARCHIVE_TIMEOUT_S", default_value_t = 900)]
    pub timeout_s: u64,
    /// The migrations applied to each rebuilt database.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    pub migrations_dir: PathBuf,
}

/// The steady state's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SteadyState {
    /// Tags produced (all acknowledged).
    pub tags: u64,
    /// Seconds they took.
    pub seconds: f64,
    /// The archiver's CPU over the measured window, cores.
    pub archiver_cores: f64,
    /// The window, seconds.
    pub cpu_window_seconds: f64,
    /// Tags produced in the window.
    pub cpu_window_tags: u64,
    /// Files written.
    pub files: usize,
    /// Bytes of the files.
    pub bytes: u64,
    /// Records in the files.
    pub records: u64,
    /// Freshness per record (broker timestamp to file in place), seconds.
    pub freshness_p50_s: f64,
    /// ... 99th percentile.
    pub freshness_p99_s: f64,
    /// ... worst.
    pub freshness_max_s: f64,
}

/// The replay's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    /// Tags in the backlog.
    pub tags: u64,
    /// The archiver's catch-up on the backlog, records/s.
    pub archive_rate: f64,
    /// Bytes of the archive of the backlog.
    pub bytes: u64,
    /// Files of it.
    pub files: usize,
    /// `projector rebuild` from the broker, seconds.
    pub broker_rebuild_seconds: f64,
    /// `projector rebuild --from-archive`, seconds (the whole command).
    pub archive_rebuild_seconds: f64,
    /// Of which the archive's replay, records/s (as the command reports it).
    pub archive_replay_rate: Option<f64>,
    /// Tags each rebuilt database counts (broker, archive).
    pub counted: (u64, u64),
}

/// Everything `bench archive` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveResults {
    /// Where and when.
    pub info: RunInfo,
    /// The steady state.
    pub steady: SteadyState,
    /// The replay.
    pub replay: Replay,
    /// Partitions of the scratch topics.
    pub partitions: u32,
}

impl ArchiveResults {
    /// Bytes per tag of the steady state's files (a file a minute, the default).
    pub fn bytes_per_tag(&self) -> f64 {
        self.steady.bytes as f64 / self.steady.records.max(1) as f64
    }

    /// The archiver's share of a core at the steady state's rate, percent.
    pub fn core_percent(&self) -> f64 {
        self.steady.archiver_cores * 100.0
    }

    /// The archiver's CPU per tag, microseconds.
    pub fn cpu_per_tag_us(&self) -> f64 {
        self.steady.archiver_cores * self.steady.cpu_window_seconds * 1e6
            / self.steady.cpu_window_tags.max(1) as f64
    }

    /// Partitions of the scratch topics.
    pub fn replay_partitions(&self) -> u32 {
        self.partitions
    }

    /// Rows per second of each rebuild (broker, archive).
    pub fn rebuild_rates(&self) -> (f64, f64) {
        let tags = self.replay.tags as f64;
        (
            tags / self.replay.broker_rebuild_seconds.max(1e-9),
            tags / self.replay.archive_rebuild_seconds.max(1e-9),
        )
    }
}

/// Runs `bench archive` and writes `archive.json` into `results_dir`
/// ([`crate::report::archive`] writes the report).
pub async fn run(
    stack: &Stack,
    options: &ArchiveOptions,
    results_dir: &Path,
) -> Result<ArchiveResults, BenchError> {
    stack.check_own().await?;
    let full_size = options.seconds >= 240 && options.tags >= 1_000_000 && options.rate >= 1_000;
    let info = RunInfo::now(&stack.settings.repo_root, full_size);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let scratch = stack
        .stack_dir()
        .join("bench")
        .join(format!("archive_{stamp}"));
    let timeout = Duration::from_secs(options.timeout_s);

    let steady = steady_state(stack, options, &scratch, stamp).await?;
    let replay = replay(stack, options, &scratch, stamp, timeout).await?;
    let _ = std::fs::remove_dir_all(&scratch);
    let results = ArchiveResults {
        info,
        steady,
        replay,
        partitions: options.partitions,
    };
    crate::parts::save(results_dir, crate::parts::Part::Archive, &results)?;
    Ok(results)
}

/// An archiver process on `topic`, writing into `directory`.
fn spawn_archiver(
    stack: &Stack,
    topic: &str,
    directory: &Path,
    log: &Path,
) -> Result<tokio::process::Child, BenchError> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(BenchError::io(format!("opening {}", log.display())))?;
    let errors = log_file
        .try_clone()
        .map_err(BenchError::io("log file handle"))?;
    tokio::process::Command::new(stack.binary("archiver"))
        .env("KAFKA_BROKERS", &stack.kafka(topic).brokers)
        .env("KAFKA_TOPIC", topic)
        .env("ARCHIVE_URL", directory)
        .env("ARCHIVER_LISTEN", "127.0.0.1:0")
        .env("ARCHIVER_GROUP_ID", format!("{topic}-archiver"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(errors))
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io("starting the archiver"))
}

async fn stop(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    let _ = child.kill().await;
}

async fn steady_state(
    stack: &Stack,
    options: &ArchiveOptions,
    scratch: &Path,
    stamp: u64,
) -> Result<SteadyState, BenchError> {
    let topic = format!("bench_archive_steady_{stamp}");
    stack
        .create_topic_with_retention(&topic, options.partitions, Some(3 * 3_600_000))
        .await?;
    let directory = scratch.join("steady");
    let archiver = spawn_archiver(
        stack,
        &topic,
        &directory,
        &stack.logs_dir().join("bench-archive.log"),
    )?;
    let pid = archiver
        .id()
        .ok_or_else(|| BenchError::Stack("the archiver exited at once".to_owned()))?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    tracing::info!(
        rate = options.rate,
        seconds = options.seconds,
        topic,
        "archiving at a steady rate"
    );
    let kafka = stack.kafka(&topic);
    let producer: FutureProducer = service_kit::kafka::base_config(&kafka)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let encoder = schemas::TagEncoder::new(&schemas::SchemaCatalog::Bundled, "unused")
        .await
        .map_err(|error| BenchError::Stack(format!("encoder: {error}")))?;
    let total = options.rate * options.seconds;
    let mut stream = TagStream::new(7, Cardinalities::default());
    let started = Instant::now();
    let warm_up = Duration::from_secs(30.min(options.seconds / 4));
    let mut window_start: Option<(Instant, f64, u64)> = None;
    let mut pending = futures::stream::FuturesUnordered::new();
    let tick = Duration::from_millis(10);
    let per_tick = (options.rate / 100).max(1);
    let mut sent = 0_u64;
    while sent < total {
        if window_start.is_none() && started.elapsed() >= warm_up {
            window_start = Some((
                Instant::now(),
                process::cpu_seconds(pid).unwrap_or(0.0),
                sent,
            ));
        }
        for tag in stream.by_ref().take(per_tick.min(total - sent) as usize) {
            let payload = encoder
                .encode(&tag)
                .map_err(|error| BenchError::Stack(format!("encoding: {error}")))?;
            let producer = producer.clone();
            let topic = topic.clone();
            pending.push(async move {
                producer
                    .send(
                        FutureRecord::to(&topic)
                            .key(tag.cookie.as_bytes())
                            .payload(&payload),
                        Timeout::After(Duration::from_secs(30)),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|(error, _)| error)
            });
            sent += 1;
        }
        let due = started + tick * u32::try_from(sent / per_tick).unwrap_or(u32::MAX);
        let deadline = tokio::time::Instant::from_std(due);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                Some(outcome) = futures::StreamExt::next(&mut pending) => outcome?,
            }
        }
    }
    while let Some(outcome) = futures::StreamExt::next(&mut pending).await {
        outcome?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (window_started, cpu_before, tags_before) = window_start.unwrap_or((started, 0.0, 0));
    let cpu_window_seconds = window_started.elapsed().as_secs_f64();
    let archiver_cores =
        (process::cpu_seconds(pid).unwrap_or(0.0) - cpu_before) / cpu_window_seconds;
    // Every file closes within its minute: wait for the last ones, as they would close
    // while tags flow, before stopping the archiver.
    wait_archived(&directory, &topic, total, Duration::from_secs(120)).await?;
    stop(archiver).await;

    let store = ArchiveStore::open(&directory.to_string_lossy(), &topic)
        .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
    let recovered = archive::recover(&store, RecoveryMode::ReadOnly)
        .await
        .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
    let mut freshness: Vec<f64> = Vec::new();
    let (mut files, mut bytes, mut records) = (0, 0, 0);
    for entry in recovered.partitions.values().flatten() {
        files += 1;
        bytes += entry.bytes;
        records += entry.records;
        let Some(key) = entry.key() else { continue };
        let rows = store
            .read_file(&key)
            .await
            .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
        freshness.extend(
            rows.iter()
                .map(|row| (entry.written_at_ms - row.record_time_ms) as f64 / 1000.0),
        );
    }
    freshness.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        freshness
            .get(((freshness.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(SteadyState {
        tags: total,
        seconds,
        archiver_cores,
        cpu_window_seconds,
        cpu_window_tags: total - tags_before,
        files,
        bytes,
        records,
        freshness_p50_s: quantile(0.5),
        freshness_p99_s: quantile(0.99),
        freshness_max_s: freshness.last().copied().unwrap_or(0.0),
    })
}

/// Waits until the archive in `directory` holds `records` records.
async fn wait_archived(
    directory: &Path,
    topic: &str,
    records: u64,
    timeout: Duration,
) -> Result<f64, BenchError> {
    let store = ArchiveStore::open(&directory.to_string_lossy(), topic)
        .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
    let started = Instant::now();
    loop {
        let recovered = archive::recover(&store, RecoveryMode::ReadOnly)
            .await
            .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
        let archived: u64 = recovered
            .partitions
            .values()
            .flatten()
            .map(|entry| entry.records)
            .sum();
        if archived >= records {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            return Err(BenchError::Stack(format!(
                "the archive holds {archived} of {records} records after {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn replay(
    stack: &Stack,
    options: &ArchiveOptions,
    scratch: &Path,
    stamp: u64,
    timeout: Duration,
) -> Result<Replay, BenchError> {
    let topic = format!("bench_archive_replay_{stamp}");
    stack
        .create_topic_with_retention(&topic, options.partitions, Some(3 * 3_600_000))
        .await?;
    stack
        .create_topic(&format!("{topic}-dead-letter"), 1)
        .await?;
    let kafka = stack.kafka(&topic);
    tracing::info!(tags = options.tags, topic, "producing the backlog");
    loadgen::ceiling::measure(&kafka, options.tags, 5_000).await?;
    let directory = scratch.join("replay");
    let log = stack.logs_dir().join("bench-archive.log");
    let started = Instant::now();
    let archiver = spawn_archiver(stack, &topic, &directory, &log)?;
    // A catch-up closes files by size (a million records) or after a minute.
    wait_archived(&directory, &topic, options.tags, timeout).await?;
    let archive_rate = options.tags as f64 / started.elapsed().as_secs_f64();
    stop(archiver).await;
    let store = ArchiveStore::open(&directory.to_string_lossy(), &topic)
        .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
    let recovered = archive::recover(&store, RecoveryMode::ReadOnly)
        .await
        .map_err(|error| BenchError::Stack(format!("archive: {error}")))?;
    let entries: Vec<_> = recovered.partitions.values().flatten().collect();
    let bytes = entries.iter().map(|entry| entry.bytes).sum();

    let server = service_kit::clickhouse::server_client(&stack.settings.clickhouse);
    let mut seconds = BTreeMap::new();
    let mut counted = BTreeMap::new();
    let mut archive_replay_rate = None;
    for (name, from_archive) in [("broker", false), ("archive", true)] {
        let target = format!("bench_archive_{name}_{stamp}");
        database::drop_database(&server, &target).await?;
        tracing::info!(target, from_archive, "rebuilding");
        let mut command = tokio::process::Command::new(stack.binary("projector"));
        command
            .env("KAFKA_BROKERS", &kafka.brokers)
            .env("KAFKA_TOPIC", &topic)
            .env("CLICKHOUSE_URL", &stack.settings.clickhouse.url)
            .env("PROJECTOR_TRIM_INTERVAL_MS", "0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .args(["rebuild", "--target-database", &target, "--migrations-dir"])
            .arg(stack.settings.repo_root.join(&options.migrations_dir));
        if from_archive {
            command
                .arg("--from-archive")
                .arg("--archive-url")
                .arg(&directory);
        }
        let started = Instant::now();
        let output = tokio::time::timeout(timeout, command.output())
            .await
            .map_err(|_| BenchError::Stack(format!("rebuild {name} timed out")))?
            .map_err(BenchError::io("running projector rebuild"))?;
        seconds.insert(name, started.elapsed().as_secs_f64());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(BenchError::Stack(format!(
                "projector rebuild ({name}) failed: {stdout} {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        if from_archive {
            archive_replay_rate = replay_rate(&stdout);
        }
        let count = read_model::cube::tags_counted(&stack.clickhouse_client(&target))
            .await
            .map_err(|source| BenchError::ClickHouse {
                what: "counting a rebuilt database".to_owned(),
                source,
            })?;
        counted.insert(name, count);
        database::drop_database(&server, &target).await?;
    }
    let (broker, archive) = (counted["broker"], counted["archive"]);
    if broker != options.tags || archive != options.tags {
        return Err(BenchError::Stack(format!(
            "rebuilt databases count {broker} (broker) and {archive} (archive) of {} tags",
            options.tags
        )));
    }
    Ok(Replay {
        tags: options.tags,
        archive_rate,
        bytes,
        files: entries.len(),
        broker_rebuild_seconds: seconds["broker"],
        archive_rebuild_seconds: seconds["archive"],
        archive_replay_rate,
        counted: (broker, archive),
    })
}

/// The records/s `projector rebuild --from-archive` reports for its archive part.
fn replay_rate(stdout: &str) -> Option<f64> {
    let line = stdout
        .lines()
        .find(|line| line.starts_with("from the archive:"))?;
    let before = line.strip_suffix(" records/s")?;
    before.rsplit(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_rate_is_read_from_the_rebuild_output() {
        let stdout = "from the archive: 1000 records (998 tags) in 4 files in 0.5 s, 2000 records/s\nrebuilt 1000 messages into database x in 1.0 s; switch with CLICKHOUSE_DATABASE=x\n";
        assert_eq!(replay_rate(stdout), Some(2000.0));
        assert_eq!(replay_rate("rebuilt 1 messages"), None);
    }
}
