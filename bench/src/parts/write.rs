//! `bench write`: what write-api costs per accepted tag, and how fast it answers.
//!
//! The figure: write-api's CPU per accepted tag (user + system seconds of its process,
//! librdkafka's threads included, from `/proc/<pid>/stat`) at fixed rates (1,000 and
//! 3,000 tags/s by default), direct and through the front door, beside the CPU per
//! request of a no-op axum server ([`crate::noop`], its own process) driven by the same
//! load generator at the same rate with the same bodies, measured in the same run. The
//! target is at most twice the floor. (The old figure, 0.8 of the raw producer's flat-out
//! rate, measured how the load generator, nginx, write-api and the broker shared two
//! cores rather than write-api.)
//!
//! Latency at 1,000 tags/s is taken from three sides of the same requests: the client
//! (loadgen, from each request's due time), nginx (`rt=` of the access log) and
//! write-api itself (its `http_request_duration_seconds{route="/user_tags"}` histogram,
//! scraped before and after), so each can be checked against the others.
//!
//! For context it also keeps the older figures: the raw producer ceiling (an rdkafka
//! producer with write-api's settings straight to the broker, into a scratch topic) and
//! write-api flat out, direct and through the front door, with the machine's CPU split.
//!
//! The projector is stopped while measuring (tags pile up in the topic; it projects
//! them when restarted at the end), so it takes no CPU from the measured processes.

use crate::error::BenchError;
use crate::machine::RunInfo;
use crate::nginx_log::LogTail;
use crate::noop::NoopServer;
use crate::parts::{median_of, save, Part};
use crate::process;
use crate::stack::{Action, Component, Stack};
use crate::stats::{self, Bucket, Latency};
use clap::Args;
use loadgen::ingest::IngestOptions;
use serde::{Deserialize, Serialize};
use service_kit::metric_names::http;
use std::path::Path;
use std::time::{Duration, Instant};

/// Flags of `bench write` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct WriteOptions {
    /// Repeats of the whole sequence (the report gives medians).
    #[arg(long, env = "BENCH_REPEATS", default_value_t = 3)]
    pub repeats: u32,
    /// Fixed rates, tags/s, at which CPU per tag is measured (comma-separated; 1,000 also
    /// gives the latency figures).
    #[arg(
        long,
        env = "BENCH_WRITE_RATES",
        value_delimiter = ',',
        default_value = "1000,3000"
    )]
    pub rates: Vec<u32>,
    /// Seconds of each fixed-rate phase.
    #[arg(long, env = "BENCH_WRITE_SECONDS", default_value_t = 30)]
    pub seconds: u64,
    /// Seconds of each flat-out phase; 0 skips the flat-out phases and the ceiling.
    #[arg(long, env = "BENCH_WRITE_FLAT_SECONDS", default_value_t = 15)]
    pub flat_seconds: u64,
    /// Requests in flight when flat out.
    #[arg(long, env = "BENCH_WRITE_CONCURRENCY", default_value_t = 512)]
    pub concurrency: usize,
    /// Records the raw producer ceiling produces per run.
    #[arg(long, env = "BENCH_WRITE_CEILING_TAGS", default_value_t = 100_000)]
    pub ceiling_tags: u64,
    /// Port of the no-op server (0: any free port).
    #[arg(long, env = "BENCH_NOOP_PORT", default_value_t = 0)]
    pub noop_port: u16,
    /// Partitions of the ceiling's scratch topics.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
}

impl WriteOptions {
    fn full_size(&self) -> bool {
        self.repeats >= 3
            && self.seconds >= 30
            && self.flat_seconds >= 15
            && self.ceiling_tags >= 100_000
            && [1000, 3000].iter().all(|rate| self.rates.contains(rate))
    }
}

/// Where the load goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The no-op server, direct.
    Noop,
    /// write-api, direct.
    Direct,
    /// write-api through nginx.
    FrontDoor,
}

impl Target {
    /// How the reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Noop => "no-op server, direct",
            Self::Direct => "write-api, direct",
            Self::FrontDoor => "write-api, front door",
        }
    }
}

/// One phase: one target at one rate (0: flat out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Where the load went.
    pub target: Target,
    /// Tags per second asked for (0: flat out).
    pub rate: u32,
    /// How long the phase ran, seconds.
    pub seconds: f64,
    /// Requests sent.
    pub sent: u64,
    /// Answered 204.
    pub accepted: u64,
    /// Not answered 204 within the deadline.
    pub failed: u64,
    /// Accepted per second.
    pub achieved_rate: f64,
    /// Client-side latency of the accepted requests, from their due time.
    pub client: Latency,
    /// CPU seconds of the server (the no-op server or write-api).
    pub server_cpu_s: Option<f64>,
    /// CPU seconds of nginx (master and workers).
    pub nginx_cpu_s: Option<f64>,
    /// CPU seconds of the broker.
    pub broker_cpu_s: Option<f64>,
    /// Busy CPU seconds of the whole machine.
    pub machine_cpu_s: Option<f64>,
    /// nginx's `rt` of the phase's `POST /user_tags` (front door only).
    pub nginx: Option<Latency>,
    /// write-api's own request-duration histogram over the phase (seconds buckets).
    pub server_histogram: Vec<Bucket>,
}

impl Phase {
    /// Server CPU per accepted request, µs.
    pub fn server_cpu_per_request_us(&self) -> Option<f64> {
        stats::ratio(self.server_cpu_s? * 1e6, self.accepted as f64)
    }

    /// nginx CPU per accepted request, µs.
    pub fn nginx_cpu_per_request_us(&self) -> Option<f64> {
        stats::ratio(self.nginx_cpu_s? * 1e6, self.accepted as f64)
    }

    /// Cores busy on average: `cpu_s / seconds`.
    pub fn cores(&self, cpu_s: Option<f64>) -> Option<f64> {
        stats::ratio(cpu_s?, self.seconds)
    }

    /// write-api's own p-quantile, ms (histogram estimate).
    pub fn server_quantile_ms(&self, q: f64) -> Option<f64> {
        stats::histogram_quantile(q, &self.server_histogram).map(|seconds| seconds * 1000.0)
    }

    /// The bucket bounds, ms, of write-api's own p-quantile.
    pub fn server_quantile_bounds_ms(&self, q: f64) -> Option<(f64, f64)> {
        stats::histogram_quantile_bounds(q, &self.server_histogram)
            .map(|(lower, upper)| (lower * 1000.0, upper * 1000.0))
    }
}

/// The raw producer ceiling of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ceiling {
    /// Records acknowledged per second.
    pub rate: f64,
    /// Acknowledgement latency.
    pub latency: Latency,
}

/// One repeat of the sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRun {
    /// Every phase, in the order run.
    pub phases: Vec<Phase>,
    /// The raw producer ceiling (absent when flat-out phases are skipped).
    pub ceiling: Option<Ceiling>,
}

/// Everything `bench write` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteResults {
    /// Where and when.
    pub info: RunInfo,
    /// Fixed rates measured.
    pub rates: Vec<u32>,
    /// Seconds per fixed-rate phase.
    pub seconds: u64,
    /// Seconds per flat-out phase.
    pub flat_seconds: u64,
    /// Requests in flight when flat out.
    pub concurrency: usize,
    /// Records per ceiling run.
    pub ceiling_tags: u64,
    /// The runs.
    pub runs: Vec<WriteRun>,
}

impl WriteResults {
    /// The phase of `target` at `rate` in each run.
    pub fn phases(&self, target: Target, rate: u32) -> Vec<&Phase> {
        self.runs
            .iter()
            .filter_map(|run| {
                run.phases
                    .iter()
                    .find(|phase| phase.target == target && phase.rate == rate)
            })
            .collect()
    }

    /// The median over runs of `figure` of `target` at `rate`.
    pub fn median(
        &self,
        target: Target,
        rate: u32,
        figure: impl Fn(&Phase) -> Option<f64>,
    ) -> Option<f64> {
        median_of(&self.phases(target, rate), |phase| figure(phase))
    }

    /// The median over runs of write-api's CPU per tag divided by the floor's CPU per
    /// request, each ratio taken within one run (same conditions).
    pub fn floor_ratio(&self, target: Target, rate: u32) -> Option<f64> {
        median_of(&self.runs, |run| {
            let find = |wanted: Target| {
                run.phases
                    .iter()
                    .find(|phase| phase.target == wanted && phase.rate == rate)
            };
            stats::ratio(
                find(target)?.server_cpu_per_request_us()?,
                find(Target::Noop)?.server_cpu_per_request_us()?,
            )
        })
    }

    /// The median ceiling rate.
    pub fn ceiling_rate(&self) -> Option<f64> {
        median_of(&self.runs, |run| {
            run.ceiling.as_ref().map(|ceiling| ceiling.rate)
        })
    }
}

/// The contract's client deadline at a fixed rate.
const RATE_DEADLINE: Duration = Duration::from_millis(200);
/// The client deadline flat out (past the 150 ms produce deadline: it measures throughput).
const FLAT_DEADLINE: Duration = Duration::from_millis(1000);
/// Requests in flight at a fixed rate.
const RATE_CONCURRENCY: usize = 256;

/// Runs `bench write` and writes `write.json` into `results_dir`.
pub async fn run(
    stack: &Stack,
    options: &WriteOptions,
    results_dir: &Path,
) -> Result<WriteResults, BenchError> {
    stack.check_up().await?;
    let info = RunInfo::now(&stack.settings.repo_root, options.full_size());
    tracing::info!("stopping the projector while measuring");
    stack
        .stack_script(Action::Stop, Component::Projector, None)
        .await?;
    let outcome = measure(stack, options).await;
    tracing::info!("starting the projector again");
    let restarted = stack
        .stack_script(Action::Start, Component::Projector, None)
        .await;
    let runs = outcome?;
    restarted?;
    let results = WriteResults {
        info,
        rates: options.rates.clone(),
        seconds: options.seconds,
        flat_seconds: options.flat_seconds,
        concurrency: options.concurrency,
        ceiling_tags: options.ceiling_tags,
        runs,
    };
    save(results_dir, Part::Write, &results)?;
    Ok(results)
}

async fn measure(stack: &Stack, options: &WriteOptions) -> Result<Vec<WriteRun>, BenchError> {
    let noop = NoopServer::start(stack, options.noop_port).await?;
    let (noop_url, noop_pid) = (noop.url.clone(), noop.pid);
    let write_api_pid = stack.require_pid(Component::WriteApi)?;
    let mut runs = Vec::new();
    for run in 1..=options.repeats {
        let seed = u64::from(run) * 1000;
        let mut phases = Vec::new();
        for &rate in &options.rates {
            for (target, url, pid) in [
                (Target::Noop, noop_url.as_str(), noop_pid),
                (
                    Target::Direct,
                    stack.settings.write_api_url.as_str(),
                    write_api_pid,
                ),
                (
                    Target::FrontDoor,
                    stack.settings.front_door_url.as_str(),
                    write_api_pid,
                ),
            ] {
                tracing::info!(
                    run,
                    repeats = options.repeats,
                    rate,
                    target = target.label(),
                    "fixed-rate phase"
                );
                let load = IngestOptions {
                    base_url: url.to_owned(),
                    rate,
                    duration: Duration::from_secs(options.seconds),
                    concurrency: RATE_CONCURRENCY,
                    seed: seed + u64::from(rate),
                    deadline: RATE_DEADLINE,
                    start_ms: None,
                };
                phases.push(phase(stack, target, pid, load).await?);
            }
        }
        let mut ceiling = None;
        if options.flat_seconds > 0 {
            for (target, url) in [
                (Target::Direct, stack.settings.write_api_url.as_str()),
                (Target::FrontDoor, stack.settings.front_door_url.as_str()),
            ] {
                tracing::info!(
                    run,
                    repeats = options.repeats,
                    target = target.label(),
                    "flat out"
                );
                let load = IngestOptions {
                    base_url: url.to_owned(),
                    rate: 0,
                    duration: Duration::from_secs(options.flat_seconds),
                    concurrency: options.concurrency,
                    seed: seed + 7,
                    deadline: FLAT_DEADLINE,
                    start_ms: None,
                };
                phases.push(phase(stack, target, write_api_pid, load).await?);
            }
            let topic = format!("bench_ceiling_{}_{run}", unix_seconds());
            stack.create_topic(&topic, options.partitions).await?;
            tracing::info!(
                run,
                repeats = options.repeats,
                topic,
                "raw producer ceiling"
            );
            // Scratch topics stay: `tansu topic delete` deletes every topic in Tansu 0.6.
            let report =
                loadgen::ceiling::measure(&stack.kafka(&topic), options.ceiling_tags, 5_000)
                    .await?;
            ceiling = Some(Ceiling {
                rate: report.rate,
                latency: Latency::from(&report.latency),
            });
        }
        runs.push(WriteRun { phases, ceiling });
    }
    drop(noop);
    Ok(runs)
}

/// CPU seconds of the processes a phase watches, at one instant.
struct CpuSnapshot {
    at: Instant,
    server: Option<f64>,
    nginx: Option<f64>,
    broker: Option<f64>,
    machine: Option<f64>,
}

impl CpuSnapshot {
    fn take(stack: &Stack, server_pid: u32) -> Self {
        Self {
            at: Instant::now(),
            server: process::cpu_seconds(server_pid),
            nginx: stack
                .pid(Component::Nginx)
                .and_then(process::cpu_seconds_with_children),
            broker: stack.pid(Component::Tansu).and_then(process::cpu_seconds),
            machine: process::machine_busy_seconds(),
        }
    }
}

fn delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

/// One phase: the load, with the CPU of every watched process around it, nginx's log and
/// write-api's histogram.
async fn phase(
    stack: &Stack,
    target: Target,
    server_pid: u32,
    load: IngestOptions,
) -> Result<Phase, BenchError> {
    let metrics_url = format!("{}/metrics", stack.settings.write_api_url);
    let histogram = |text: &str| {
        crate::prometheus::histogram(
            text,
            http::REQUEST_DURATION.name,
            &[("service", "write-api"), ("route", "/user_tags")],
        )
    };
    let scrape = || async {
        match target {
            Target::Noop => Ok(Vec::new()),
            _ => crate::prometheus::scrape(stack.http(), &metrics_url)
                .await
                .map(|text| histogram(&text))
                .map_err(BenchError::http("write-api /metrics")),
        }
    };
    let access_log = LogTail::at_end(&stack.logs_dir().join("nginx-access.log"));
    let histogram_before = scrape().await?;
    let before = CpuSnapshot::take(stack, server_pid);
    let report = loadgen::ingest::run(load)
        .await
        .map_err(BenchError::http("the load generator's client"))?;
    let after = CpuSnapshot::take(stack, server_pid);
    let histogram_after = scrape().await?;
    let nginx = if target == Target::FrontDoor {
        tokio::time::sleep(crate::nginx_log::FLUSH_WAIT).await;
        let lines = access_log
            .read_new()
            .map_err(BenchError::io("reading nginx's access log"))?;
        let times: Vec<f64> = lines
            .iter()
            .filter(|line| line.method == "POST" && line.path == "/user_tags")
            .map(|line| line.request_ms)
            .collect();
        (!times.is_empty()).then(|| Latency::of_millis(times))
    } else {
        None
    };
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    Ok(Phase {
        target,
        rate: report.target_rate,
        seconds,
        sent: report.sent,
        accepted: report.accepted,
        failed: report.failed,
        achieved_rate: report.achieved_rate,
        client: Latency::from(&report.latency),
        server_cpu_s: delta(before.server, after.server),
        nginx_cpu_s: delta(before.nginx, after.nginx),
        broker_cpu_s: delta(before.broker, after.broker),
        machine_cpu_s: delta(before.machine, after.machine),
        nginx,
        server_histogram: stats::bucket_delta(&histogram_before, &histogram_after),
    })
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(target: Target, rate: u32, cpu_s: f64, accepted: u64) -> Phase {
        Phase {
            target,
            rate,
            seconds: 10.0,
            sent: accepted,
            accepted,
            failed: 0,
            achieved_rate: accepted as f64 / 10.0,
            client: Latency::default(),
            server_cpu_s: Some(cpu_s),
            nginx_cpu_s: None,
            broker_cpu_s: None,
            machine_cpu_s: None,
            nginx: None,
            server_histogram: Vec::new(),
        }
    }

    fn results(runs: Vec<WriteRun>) -> WriteResults {
        WriteResults {
            info: RunInfo::fixture(true),
            rates: vec![1000],
            seconds: 10,
            flat_seconds: 0,
            concurrency: 0,
            ceiling_tags: 0,
            runs,
        }
    }

    fn run(noop_cpu_s: f64, direct_cpu_s: f64) -> WriteRun {
        WriteRun {
            phases: vec![
                phase(Target::Noop, 1000, noop_cpu_s, 10_000),
                phase(Target::Direct, 1000, direct_cpu_s, 10_000),
            ],
            ceiling: None,
        }
    }

    #[test]
    fn the_floor_ratio_is_taken_within_each_run_then_the_median() {
        // Per run: 2.0, 1.5, 3.0 -> median 2.0. The ratio of the medians would be
        // 0.3 / 0.2 = 1.5: a noisy run must not pair one run's floor with another's CPU.
        let results = results(vec![run(0.1, 0.2), run(0.2, 0.3), run(0.3, 0.9)]);
        let ratio = results.floor_ratio(Target::Direct, 1000).expect("a ratio");
        assert!((ratio - 2.0).abs() < 1e-9, "{ratio}");
        // CPU per request, the median of 20, 30 and 90 µs (0.2, 0.3, 0.9 s over 10,000).
        let cpu = results
            .median(Target::Direct, 1000, Phase::server_cpu_per_request_us)
            .expect("cpu");
        assert!((cpu - 30.0).abs() < 1e-9, "{cpu}");
        // No floor measured: no ratio, so no verdict.
        assert_eq!(results.floor_ratio(Target::FrontDoor, 1000), None);
        assert_eq!(results.floor_ratio(Target::Direct, 3000), None);
    }
}
