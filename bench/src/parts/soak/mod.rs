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
//! 4. Every minute, the sampler (`sampler.rs`) records: each endpoint's p50/p99 and errors from the
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
//!
//! Layout: this file drives the soak (options, phases, the run, the write-api floor);
//! `client_log.rs` gathers the requests per minute and endpoint from loadgen's events
//! and nginx's log; `sampler.rs` takes each minute's sample of the processes, ClickHouse
//! and the disk; `results.rs` turns those into the minutes and totals that
//! [`crate::report::soak`] writes.

use crate::database::WorkCpu;
use crate::error::BenchError;
use crate::loader::LoadOptions;
use crate::machine::RunInfo;
use crate::noop::NoopServer;
use crate::parts::e2e::HarnessFigures;
use crate::parts::{save, Part};
use crate::process;
use crate::stack::{Component, Scratch, Stack};
use crate::stats::Latency;
use clap::Args;
use loadgen::harness::HarnessOptions;
use loadgen::ingest::IngestOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod client_log;
mod results;
mod sampler;

pub use client_log::endpoint_of;
use client_log::{lock, ClientLog};
use results::{build_minutes, totals};
pub use results::{EndpointTotals, Minute, ProcessMinute, Requests, SoakResults, WriteFloor};
pub use sampler::disk_bytes;
use sampler::{Sampler, SAMPLE_EVERY};

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

/// Runs `bench soak` and writes `soak.json` into `results_dir` ([`crate::report::soak`]
/// writes the report); with `--report-only`, reads the last run's `soak.json` instead.
pub async fn run(
    stack: &Stack,
    options: &SoakOptions,
    results_dir: &Path,
) -> Result<SoakResults, BenchError> {
    if options.report_only {
        return crate::parts::load(results_dir, Part::Soak)?
            .ok_or_else(|| BenchError::Stack("no soak results to report".to_owned()));
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
        final_aggregates_within: Some(final_aggregates_within(options.retention_minutes)),
        ..HarnessOptions::contract(
            stack.settings.front_door_url.clone(),
            tags,
            options.rate,
            options.seed + 1,
            start.millis(),
        )
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

pub(super) fn phase_of(index: u64, hold_minutes: u64, stream_minutes: u64) -> Phase {
    if index < hold_minutes {
        Phase::Hold
    } else if index < stream_minutes {
        Phase::Retention
    } else {
        Phase::FinalRound
    }
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
    fn minutes_are_phased_by_the_hold_and_the_stream() {
        assert_eq!(phase_of(0, 30, 75), Phase::Hold);
        assert_eq!(phase_of(29, 30, 75), Phase::Hold);
        assert_eq!(phase_of(30, 30, 75), Phase::Retention);
        assert_eq!(phase_of(74, 30, 75), Phase::Retention);
        assert_eq!(phase_of(75, 30, 75), Phase::FinalRound);
    }
}
