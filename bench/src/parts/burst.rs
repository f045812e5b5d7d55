//! `bench burst`: read-api's overload handling (issue 13, item 4, "Overload done right":
//! queue while the expected wait fits the deadline, shed only what cannot finish in
//! time), measured through the front door on the loaded day of [`crate::loaded_day`]
//! (`bench read`'s database: loaded by whichever of the two parts runs first, reused by
//! the other), the services moved onto it as `bench read` moves them.
//!
//! 1. Bursts: `--burst-size` (200) profile queries of [`RequestMix`] fired at the same
//!    instant after `--round-gap-s` without requests, `--rounds` (5) times, each burst
//!    on fresh connections (a client of its own, no connection opened before it fires:
//!    a burst of new visitors) and without waiting for ClickHouse to go idle (whether
//!    it ran a read when the burst fired is recorded): issue 24. Each answer and its
//!    latency from the instant fired, and nginx's `rt` of the same requests. Target:
//!    every one answered 200 within the contract's 200 ms.
//! 2. Capacity: `--capacity-clients` clients in a closed loop ([`crate::closed_loop`])
//!    for `--capacity-seconds`: the profiles answered 200 in time per second when work
//!    is always waiting, the sustained capacity the next phase doubles (measured in the
//!    same run, not guessed).
//! 3. Baseline: the contract's 100/s, open loop, for `--steady-seconds` on the idle stack.
//! 4. Overload: `--overload-factor` (2) times the capacity, open loop, for
//!    `--overload-seconds`: what is served (200), how fast the excess is refused (503;
//!    target p99 ≤ [`SHED_P99_LIMIT_MS`]) and what is neither (late, failed).
//! 5. Recovery: right after, the contract's rate again: every answer 200 and p99 within
//!    [`RECOVERY_P99_FACTOR`] times the baseline's.
//!
//! nginx's lines are told apart by the requests each phase sent (their paths and query
//! strings), so the recovery, which starts before nginx flushes the overload's lines,
//! gets only its own. The results (`burst.json`) keep every burst's answers; the figures
//! and verdicts are computed from them here, when the report is written.

use crate::closed_loop::{self, ClosedLoopReport};
use crate::database;
use crate::error::BenchError;
use crate::loaded_day::{self, DayOptions, LoadedDay};
use crate::loader::LoadReport;
use crate::machine::RunInfo;
use crate::nginx_log::{AccessLine, LogTail, StatusTimes, FLUSH_WAIT};
use crate::open_loop::{self, ByAnswer, OpenLoopReport};
use crate::parts::{save, Part};
use crate::queries::{Answer, DataShape, Request, RequestMix, Target, PROFILE_DEADLINE};
use crate::stack::Stack;
use crate::stats::Latency;
use crate::verdict::{Limit, Verdict};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The contract's deadline: the slowest answer of a burst must be within it, ms.
pub const BURST_MAX_MS: f64 = 200.0;
/// The target for the 503s of the overload: p99 at most this, ms. A refusal is only
/// useful while the caller can still do something with the rest of its 200 ms (answer
/// without the profile, try again); read-api decides at arrival (queue length times the
/// recent batch time), so a 503 costs the trip through the front door, well under a
/// millisecond of the stack's own time. 50 ms, a quarter of the deadline, leaves the
/// caller three quarters of it and room for the load generator sharing the cores; a
/// 503 given at read-api's own deadline (150 ms: admitted, then cut) fails it.
pub const SHED_P99_LIMIT_MS: f64 = 50.0;
/// Recovered: the p99 at the contract's rate right after the overload at most this
/// times the baseline's.
pub const RECOVERY_P99_FACTOR: f64 = 1.5;
/// A closed-loop client not answered well waits this long before its next request.
const FAILURE_PAUSE: Duration = Duration::from_millis(10);
/// The longest wait for ClickHouse to finish the reads of an earlier phase.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A burst fires this long after its requests are handed out, so every one is waiting
/// for the instant when it comes.
const FIRE_DELAY: Duration = Duration::from_millis(50);

/// Seeds of the request mixes, one per phase (different requests in every phase, the
/// same ones in every run).
mod seed {
    pub(super) const WARM_UP: u64 = 999;
    pub(super) const BURSTS: u64 = 1;
    pub(super) const CAPACITY: u64 = 2_000;
    pub(super) const BASELINE: u64 = 3;
    pub(super) const OVERLOAD: u64 = 4;
    pub(super) const RECOVERY: u64 = 5;
}

/// An overload factor: a positive finite number.
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// Flags of `bench burst` (defaults: the full run).
#[derive(Debug, Clone, Args)]
pub struct BurstOptions {
    /// The loaded day (`bench read`'s flags and database).
    #[command(flatten)]
    pub day: DayOptions,
    /// Profile queries fired at the same instant in each burst.
    #[arg(long, env = "BENCH_BURST_SIZE", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub burst_size: u32,
    /// Bursts, each on an idle stack.
    #[arg(long, env = "BENCH_BURST_ROUNDS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Seconds between bursts.
    #[arg(long, env = "BENCH_BURST_GAP_S", default_value_t = 3)]
    pub round_gap_s: u64,
    /// Seconds of profiles at the contract's rate before the bursts (connections to
    /// ClickHouse, caches).
    #[arg(long, env = "BENCH_BURST_WARMUP_S", default_value_t = 5)]
    pub warmup_seconds: u64,
    /// Clients of the closed loop measuring the sustained capacity.
    #[arg(long, env = "BENCH_BURST_CAPACITY_CLIENTS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity_clients: u32,
    /// Seconds of the closed loop.
    #[arg(long, env = "BENCH_BURST_CAPACITY_S", default_value_t = 15)]
    pub capacity_seconds: u64,
    /// The overload's rate as a multiple of the measured capacity.
    #[arg(long, env = "BENCH_BURST_OVERLOAD_FACTOR", default_value_t = 2.0, value_parser = positive)]
    pub overload_factor: f64,
    /// Seconds of the overload.
    #[arg(long, env = "BENCH_BURST_OVERLOAD_S", default_value_t = 20)]
    pub overload_seconds: u64,
    /// Profile queries per second of the baseline and the recovery (the contract's load).
    #[arg(long, env = "BENCH_BURST_CONTRACT_RATE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub contract_rate: u32,
    /// Seconds of the baseline, and of the recovery.
    #[arg(long, env = "BENCH_BURST_STEADY_S", default_value_t = 20)]
    pub steady_seconds: u64,
}

impl BurstOptions {
    fn full_size(&self) -> bool {
        self.day.full_size()
            && self.burst_size >= 200
            && self.rounds >= 5
            && self.capacity_seconds >= 15
            && self.overload_factor >= 2.0
            && self.overload_seconds >= 20
            && self.contract_rate >= 100
            && self.steady_seconds >= 20
    }
}

/// One request of a burst as the load generator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shot {
    /// How it was answered.
    pub answer: Answer,
    /// From the instant the burst was fired to the answer (or the deadline), ms.
    pub ms: f64,
}

/// One request of a burst as the front door logged it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerShot {
    /// The status answered.
    pub status: u16,
    /// nginx's `rt`, ms.
    pub ms: f64,
}

/// One burst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstRound {
    /// Whether ClickHouse ran no read when it was fired (before issue 24 the burst waited
    /// for that; false then meant the wait timed out).
    pub idle: bool,
    /// Keep-alive connections to the front door opened just before (0 since issue 24:
    /// each burst opens its own as it fires).
    pub connections: u64,
    /// Every request, client side.
    pub shots: Vec<Shot>,
    /// The same requests in nginx's access log (none when the log was unreadable).
    pub server: Vec<ServerShot>,
}

/// Bursts summed up: one, or all of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstFigures {
    /// Requests fired.
    pub fired: u64,
    /// Answered 200 within the deadline.
    pub ok: u64,
    /// Answered 503.
    pub shed: u64,
    /// Not answered within the deadline.
    pub late: u64,
    /// Any other answer or failure.
    pub failed: u64,
    /// Latency from the instant fired, every request.
    pub client: Latency,
    /// nginx's `rt` of the requests it logged.
    pub server: Latency,
    /// Requests nginx logged.
    pub server_logged: u64,
}

impl BurstFigures {
    /// The figures of `rounds` together.
    pub fn of<'a>(rounds: impl IntoIterator<Item = &'a BurstRound>) -> Self {
        let (mut fired, mut ok, mut shed, mut late, mut failed) = (0, 0, 0, 0, 0);
        let (mut client, mut server) = (Vec::new(), Vec::new());
        for round in rounds {
            for shot in &round.shots {
                fired += 1;
                *match shot.answer {
                    Answer::Ok => &mut ok,
                    Answer::Shed => &mut shed,
                    Answer::Late => &mut late,
                    Answer::Failed => &mut failed,
                } += 1;
                client.push(shot.ms);
            }
            server.extend(round.server.iter().map(|shot| shot.ms));
        }
        Self {
            fired,
            ok,
            shed,
            late,
            failed,
            client: Latency::of_millis(client),
            server_logged: server.len() as u64,
            server: Latency::of_millis(server),
        }
    }

    /// Met when every request was answered 200 and the slowest within the deadline.
    pub fn verdict(&self) -> Verdict {
        if self.fired == 0 {
            return Verdict::NotMeasured;
        }
        Verdict::of(self.ok == self.fired && self.client.max_ms <= BURST_MAX_MS)
    }
}

/// An open-loop phase through the front door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPhase {
    /// What the load generator saw.
    pub report: OpenLoopReport,
    /// The latency of each kind of answer.
    pub by_answer: ByAnswer,
    /// nginx's `rt` of the phase's requests, by status.
    pub server: StatusTimes,
}

/// The overload's rate: `factor` times the measured `capacity`, to the nearest request
/// per second (`None` when no capacity was measured, or it rounds to nothing).
pub fn overload_rate(capacity: Option<f64>, factor: f64) -> Option<u32> {
    let rate = (capacity? * factor).round();
    (rate.is_finite() && rate >= 1.0).then(|| rate.min(f64::from(u32::MAX)) as u32)
}

/// Met when the overload refused its excess fast: some requests answered 503 (none: the
/// rate was served, no overload, not measured), their p99 within
/// [`SHED_P99_LIMIT_MS`], none late or failed.
pub fn overload_verdict(overload: Option<&LoadPhase>) -> Verdict {
    let Some(phase) = overload else {
        return Verdict::NotMeasured;
    };
    if phase.report.shed == 0 {
        return Verdict::NotMeasured;
    }
    match Limit::AtMost(SHED_P99_LIMIT_MS).check(Some(phase.by_answer.shed.p99_ms)) {
        Verdict::Met if phase.report.late + phase.report.failed > 0 => Verdict::NotMet,
        verdict => verdict,
    }
}

/// The recovery's p99 limit: [`RECOVERY_P99_FACTOR`] times the baseline's p99 (`None`
/// when the baseline sent nothing).
pub fn recovery_limit_ms(baseline: &LoadPhase) -> Option<f64> {
    (baseline.report.latency.samples > 0)
        .then_some(baseline.report.latency.p99_ms * RECOVERY_P99_FACTOR)
}

/// Met when every request of the recovery was answered 200 and its p99 is within the
/// limit the baseline sets.
pub fn recovery_verdict(baseline: &LoadPhase, recovery: Option<&LoadPhase>) -> Verdict {
    let Some(recovery) = recovery.filter(|phase| phase.report.sent > 0) else {
        return Verdict::NotMeasured;
    };
    match Limit::check_measured(
        recovery_limit_ms(baseline).map(Limit::AtMost),
        Some(recovery.report.latency.p99_ms),
    ) {
        Verdict::Met if recovery.report.succeeded < recovery.report.sent => Verdict::NotMet,
        verdict => verdict,
    }
}

/// Everything `bench burst` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstResults {
    /// Where and when.
    pub info: RunInfo,
    /// The loaded day.
    pub load: LoadReport,
    /// Whether merges had settled before measuring.
    pub merges_settled: bool,
    /// Bytes read into the page cache before measuring.
    pub warmed_bytes: u64,
    /// Requests per burst.
    pub burst_size: u32,
    /// Seconds between bursts.
    pub round_gap_s: u64,
    /// The bursts.
    pub rounds: Vec<BurstRound>,
    /// The closed loop measuring the sustained capacity.
    pub capacity: ClosedLoopReport,
    /// The overload's rate as a multiple of the capacity.
    pub overload_factor: f64,
    /// Seconds of the overload.
    pub overload_seconds: u64,
    /// Profile queries per second of the baseline and the recovery.
    pub contract_rate: u32,
    /// Seconds of the baseline and of the recovery.
    pub steady_seconds: u64,
    /// The contract's rate before the overload, on the idle stack.
    pub baseline: LoadPhase,
    /// The overload (absent when no capacity was measured).
    pub overload: Option<LoadPhase>,
    /// The contract's rate right after the overload (absent with it).
    pub recovery: Option<LoadPhase>,
}

impl BurstResults {
    /// Every burst together.
    pub fn bursts(&self) -> BurstFigures {
        BurstFigures::of(&self.rounds)
    }

    /// The overload's verdict.
    pub fn overload_verdict(&self) -> Verdict {
        overload_verdict(self.overload.as_ref())
    }

    /// The recovery's verdict.
    pub fn recovery_verdict(&self) -> Verdict {
        recovery_verdict(&self.baseline, self.recovery.as_ref())
    }
}

/// Runs `bench burst` and writes `burst.json` into `results_dir`.
pub async fn run(
    stack: &Stack,
    options: &BurstOptions,
    results_dir: &Path,
) -> Result<BurstResults, BenchError> {
    stack.check_up().await?;
    let info = RunInfo::now(&stack.settings.repo_root, options.full_size());
    let load = loaded_day::load(stack, &options.day).await?;
    let day = loaded_day::settle(stack, &options.day, load).await?;
    let services = loaded_day::services_on(stack, &options.day, "bench_burst").await?;
    let measured = measure(stack, options, &day).await;
    let restored = services.restore().await;
    let measured = measured?;
    restored?;
    let results = BurstResults {
        info,
        load: day.load,
        merges_settled: day.merges_settled,
        warmed_bytes: day.warmed_bytes,
        burst_size: options.burst_size,
        round_gap_s: options.round_gap_s,
        rounds: measured.rounds,
        capacity: measured.capacity,
        overload_factor: options.overload_factor,
        overload_seconds: options.overload_seconds,
        contract_rate: options.contract_rate,
        steady_seconds: options.steady_seconds,
        baseline: measured.baseline,
        overload: measured.overload,
        recovery: measured.recovery,
    };
    save(results_dir, Part::Burst, &results)?;
    Ok(results)
}

/// What the measurements gave.
struct Measured {
    rounds: Vec<BurstRound>,
    capacity: ClosedLoopReport,
    baseline: LoadPhase,
    overload: Option<LoadPhase>,
    recovery: Option<LoadPhase>,
}

/// The tools of the measurements.
struct Bench<'a> {
    server: clickhouse::Client,
    database: &'a str,
    shape: DataShape,
    front_door: Target,
    front_door_url: String,
    access_log: PathBuf,
}

/// What an open-loop phase sent and saw, before nginx's side is added.
struct Sent {
    report: OpenLoopReport,
    by_answer: ByAnswer,
    paths: HashSet<String>,
}

impl Sent {
    fn phase(self, lines: &[AccessLine]) -> LoadPhase {
        LoadPhase {
            report: self.report,
            by_answer: self.by_answer,
            server: StatusTimes::of(lines_of(lines, &self.paths)),
        }
    }
}

/// The profile lines of `lines` whose request is one of `paths`.
pub fn lines_of<'a>(
    lines: &'a [AccessLine],
    paths: &'a HashSet<String>,
) -> impl Iterator<Item = &'a AccessLine> {
    lines
        .iter()
        .filter(move |line| line.is_profile() && paths.contains(&line.path))
}

impl Bench<'_> {
    /// Waits until ClickHouse runs no read of the database; whether it did in time.
    async fn idle(&self) -> Result<bool, BenchError> {
        database::wait_for_idle(&self.server, self.database, IDLE_TIMEOUT).await
    }

    /// Where nginx's access log ends now.
    fn mark(&self) -> LogTail {
        LogTail::at_end(&self.access_log)
    }

    /// nginx's lines since `tail`, once it has flushed them (none, with a warning, when
    /// the log cannot be read: the client's side still stands).
    async fn lines_since(&self, tail: &LogTail) -> Vec<AccessLine> {
        tokio::time::sleep(FLUSH_WAIT).await;
        tail.read_new().unwrap_or_else(|error| {
            tracing::warn!(%error, path = %tail.path().display(), "nginx's access log unreadable: no server-side figures");
            Vec::new()
        })
    }

    /// Profiles at `rate` for `seconds`, open loop, through the front door.
    async fn send(&self, rate: f64, seconds: u64, seed: u64) -> Sent {
        let mut paths = HashSet::new();
        let (report, by_answer) = open_loop::drawn(
            rate,
            Duration::from_secs(seconds),
            &self.front_door,
            RequestMix::new(seed, self.shape),
            |mix| {
                let request = mix.profile();
                paths.insert(request.path_and_query());
                request
            },
        )
        .await;
        tracing::info!(
            rate,
            sent = report.sent,
            ok = report.succeeded,
            shed = report.shed,
            late = report.late,
            failed = report.failed,
            p99_ms = report.latency.p99_ms,
            shed_p99_ms = by_answer.shed.p99_ms,
            "phase done"
        );
        Sent {
            report,
            by_answer,
            paths,
        }
    }

    /// One burst of `requests`, fired at the same instant `gap` after the last
    /// requests, on connections of its own opened as it fires, whatever ClickHouse is
    /// doing then (recorded, not waited for).
    async fn burst(&self, requests: Vec<Request>, gap: Duration) -> BurstRound {
        tokio::time::sleep(gap).await;
        let fresh = match Target::http(&self.front_door_url, PROFILE_DEADLINE) {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::warn!(%error, "no client of its own for the burst: it shares the bench's");
                self.front_door.clone()
            }
        };
        let idle = match database::wait_for_idle(&self.server, self.database, Duration::ZERO).await
        {
            Ok(idle) => idle,
            Err(error) => {
                tracing::warn!(error = %service_kit::error::chain(&error), "cannot tell whether ClickHouse is idle");
                false
            }
        };
        let paths: HashSet<String> = requests.iter().map(Request::path_and_query).collect();
        let tail = self.mark();
        let shots = fire(&fresh, requests).await;
        let lines = self.lines_since(&tail).await;
        let server = lines_of(&lines, &paths)
            .map(|line| ServerShot {
                status: line.status,
                ms: line.request_ms,
            })
            .collect();
        BurstRound {
            idle,
            connections: 0,
            shots,
            server,
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Sends every request at the same instant, each on its own task; latency from that
/// instant.
async fn fire(target: &Target, requests: Vec<Request>) -> Vec<Shot> {
    let at = tokio::time::Instant::now() + FIRE_DELAY;
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let target = target.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let answer = target.send(request).await;
                Shot {
                    answer,
                    ms: millis(at.elapsed()),
                }
            })
        })
        .collect();
    let mut shots = Vec::with_capacity(tasks.len());
    for task in tasks {
        shots.push(task.await.unwrap_or_else(|_| Shot {
            answer: Answer::Failed,
            ms: millis(at.elapsed()),
        }));
    }
    shots
}

async fn measure(
    stack: &Stack,
    options: &BurstOptions,
    day: &LoadedDay,
) -> Result<Measured, BenchError> {
    let bench = Bench {
        server: service_kit::clickhouse::server_client(&stack.settings.clickhouse),
        database: &options.day.database,
        shape: loaded_day::shape(&day.load),
        front_door: Target::http(&stack.settings.front_door_url, PROFILE_DEADLINE)
            .map_err(BenchError::http("building the client"))?,
        front_door_url: stack.settings.front_door_url.clone(),
        access_log: stack.logs_dir().join("nginx-access.log"),
    };
    let contract_rate = f64::from(options.contract_rate);

    tracing::info!(seconds = options.warmup_seconds, "warm-up");
    bench.idle().await?;
    bench
        .send(contract_rate, options.warmup_seconds, seed::WARM_UP)
        .await;

    let mut mix = RequestMix::new(seed::BURSTS, bench.shape);
    let gap = Duration::from_secs(options.round_gap_s);
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        let requests = (0..options.burst_size).map(|_| mix.profile()).collect();
        let result = bench.burst(requests, gap).await;
        let figures = BurstFigures::of([&result]);
        tracing::info!(
            round,
            idle = result.idle,
            ok = figures.ok,
            shed = figures.shed,
            late = figures.late,
            failed = figures.failed,
            max_ms = figures.client.max_ms,
            server_max_ms = figures.server.max_ms,
            "burst done"
        );
        rounds.push(result);
    }

    tracing::info!(
        clients = options.capacity_clients,
        seconds = options.capacity_seconds,
        "capacity: closed loop through the front door"
    );
    bench.idle().await?;
    let clients: Vec<_> = (0..options.capacity_clients)
        .map(|client| {
            let mut mix = RequestMix::new(seed::CAPACITY + u64::from(client), bench.shape);
            let target = bench.front_door.clone();
            move || {
                let request = mix.profile();
                let target = target.clone();
                async move { target.send(request).await }
            }
        })
        .collect();
    let capacity = closed_loop::run(
        Duration::from_secs(options.capacity_seconds),
        FAILURE_PAUSE,
        clients,
    )
    .await;
    tracing::info!(
        goodput = capacity.goodput(),
        sent = capacity.sent,
        ok = capacity.succeeded,
        shed = capacity.shed,
        p99_ms = capacity.latency.p99_ms,
        "capacity measured"
    );

    tracing::info!(rate = options.contract_rate, "baseline on the idle stack");
    bench.idle().await?;
    let tail = bench.mark();
    let sent = bench
        .send(contract_rate, options.steady_seconds, seed::BASELINE)
        .await;
    let baseline = sent.phase(&bench.lines_since(&tail).await);

    let Some(rate) = overload_rate(capacity.goodput(), options.overload_factor) else {
        tracing::error!(
            sent = capacity.sent,
            "no profile answered in time in the closed loop: no capacity to overload"
        );
        return Ok(Measured {
            rounds,
            capacity,
            baseline,
            overload: None,
            recovery: None,
        });
    };
    tracing::info!(
        rate,
        factor = options.overload_factor,
        "overload, then the contract's rate at once"
    );
    bench.idle().await?;
    let tail = bench.mark();
    let overload = bench
        .send(f64::from(rate), options.overload_seconds, seed::OVERLOAD)
        .await;
    let recovery = bench
        .send(contract_rate, options.steady_seconds, seed::RECOVERY)
        .await;
    let lines = bench.lines_since(&tail).await;
    Ok(Measured {
        rounds,
        capacity,
        baseline,
        overload: Some(overload.phase(&lines)),
        recovery: Some(recovery.phase(&lines)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx_log::parse_line;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        options: BurstOptions,
    }

    #[test]
    fn the_flags_parse_with_their_defaults_and_refuse_nonsense() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["burst"]).expect("defaults");
        assert!(cli.options.full_size());
        assert_eq!(cli.options.day.database, "bench_read");
        let smoke = Cli::try_parse_from(["burst", "--database", "scratch", "--rounds", "2"])
            .expect("flags");
        assert_eq!(smoke.options.day.database, "scratch");
        assert!(!smoke.options.full_size());
        assert!(Cli::try_parse_from(["burst", "--overload-factor", "0"]).is_err());
        assert!(Cli::try_parse_from(["burst", "--overload-factor", "nan"]).is_err());
        assert!(Cli::try_parse_from(["burst", "--burst-size", "0"]).is_err());
    }

    fn shot(answer: Answer, ms: f64) -> Shot {
        Shot { answer, ms }
    }

    fn round(shots: Vec<Shot>, server_ms: &[f64]) -> BurstRound {
        BurstRound {
            idle: true,
            connections: shots.len() as u64,
            server: server_ms
                .iter()
                .map(|&ms| ServerShot { status: 200, ms })
                .collect(),
            shots,
        }
    }

    #[test]
    fn rounds_add_up_and_the_slowest_of_all_sets_the_max() {
        let first = round(
            vec![shot(Answer::Ok, 20.0), shot(Answer::Ok, 90.0)],
            &[15.0, 80.0],
        );
        let second = round(
            vec![shot(Answer::Ok, 30.0), shot(Answer::Shed, 2.0)],
            &[25.0],
        );
        let one = BurstFigures::of([&first]);
        assert_eq!((one.fired, one.ok), (2, 2));
        assert_eq!(one.verdict(), Verdict::Met);
        let all = BurstFigures::of([&first, &second]);
        assert_eq!(
            (all.fired, all.ok, all.shed, all.late, all.failed),
            (4, 3, 1, 0, 0)
        );
        assert!((all.client.max_ms - 90.0).abs() < 0.1, "{all:?}");
        assert!((all.server.max_ms - 80.0).abs() < 0.1, "{all:?}");
        assert_eq!(all.server_logged, 3);
        assert_eq!(all.verdict(), Verdict::NotMet);
    }

    #[test]
    fn a_burst_passes_only_all_answered_200_within_the_deadline() {
        let slow = round(vec![shot(Answer::Ok, 201.0)], &[]);
        assert_eq!(BurstFigures::of([&slow]).verdict(), Verdict::NotMet);
        let late = round(vec![shot(Answer::Late, 200.0)], &[]);
        assert_eq!(BurstFigures::of([&late]).verdict(), Verdict::NotMet);
        let edge = round(vec![shot(Answer::Ok, 199.9)], &[]);
        assert_eq!(BurstFigures::of([&edge]).verdict(), Verdict::Met);
        assert_eq!(BurstFigures::of([]).verdict(), Verdict::NotMeasured);
    }

    #[test]
    fn the_overload_is_the_measured_capacity_times_the_factor() {
        assert_eq!(overload_rate(Some(412.6), 2.0), Some(825));
        assert_eq!(overload_rate(Some(100.0), 1.5), Some(150));
        assert_eq!(overload_rate(Some(0.2), 2.0), None);
        assert_eq!(overload_rate(None, 2.0), None);
        assert_eq!(overload_rate(Some(f64::INFINITY), 2.0), None);
    }

    fn phase(sent: u64, ok: u64, shed: u64, late: u64, p99_ms: f64, shed_p99_ms: f64) -> LoadPhase {
        let latency = |samples: u64, p99_ms: f64| Latency {
            samples,
            p50_ms: p99_ms / 4.0,
            p90_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms * 1.5,
        };
        LoadPhase {
            report: OpenLoopReport {
                target_rate: sent as f64 / 20.0,
                sent,
                succeeded: ok,
                shed,
                late,
                failed: sent - ok - shed - late,
                achieved_rate: sent as f64 / 20.0,
                latency: latency(sent, p99_ms),
            },
            by_answer: ByAnswer {
                ok: latency(ok, p99_ms),
                shed: latency(shed, shed_p99_ms),
                ..ByAnswer::default()
            },
            server: StatusTimes::default(),
        }
    }

    #[test]
    fn an_overload_passes_with_fast_503s_and_nothing_late_or_failed() {
        let fast = phase(16_000, 8_000, 8_000, 0, 150.0, 12.0);
        assert_eq!(overload_verdict(Some(&fast)), Verdict::Met);
        let slow_refusals = phase(16_000, 8_000, 8_000, 0, 150.0, 151.0);
        assert_eq!(overload_verdict(Some(&slow_refusals)), Verdict::NotMet);
        let some_late = phase(16_000, 8_000, 7_990, 10, 200.0, 12.0);
        assert_eq!(overload_verdict(Some(&some_late)), Verdict::NotMet);
        let failed = phase(16_000, 8_000, 7_999, 0, 150.0, 12.0);
        assert_eq!(overload_verdict(Some(&failed)), Verdict::NotMet);
        // Everything served: the rate was no overload, nothing was shown.
        let served = phase(16_000, 16_000, 0, 0, 90.0, 0.0);
        assert_eq!(overload_verdict(Some(&served)), Verdict::NotMeasured);
        assert_eq!(overload_verdict(None), Verdict::NotMeasured);
    }

    #[test]
    fn recovery_is_all_200_within_one_and_a_half_baselines() {
        let baseline = phase(2_000, 2_000, 0, 0, 20.0, 0.0);
        assert_eq!(recovery_limit_ms(&baseline), Some(30.0));
        let back = phase(2_000, 2_000, 0, 0, 30.0, 0.0);
        assert_eq!(recovery_verdict(&baseline, Some(&back)), Verdict::Met);
        let slow = phase(2_000, 2_000, 0, 0, 30.1, 0.0);
        assert_eq!(recovery_verdict(&baseline, Some(&slow)), Verdict::NotMet);
        let one_shed = phase(2_000, 1_999, 1, 0, 25.0, 1.0);
        assert_eq!(
            recovery_verdict(&baseline, Some(&one_shed)),
            Verdict::NotMet
        );
        assert_eq!(recovery_verdict(&baseline, None), Verdict::NotMeasured);
        let nothing = phase(0, 0, 0, 0, 0.0, 0.0);
        assert_eq!(recovery_limit_ms(&nothing), None);
        assert_eq!(
            recovery_verdict(&nothing, Some(&back)),
            Verdict::NotMeasured
        );
    }

    #[test]
    fn nginx_lines_go_to_the_phase_that_sent_them() {
        let line = |path: &str, status: u16| {
            parse_line(&format!(
                "127.0.0.1 [t] \"POST {path} HTTP/1.1\" {status} 0 rt=0.005 urt=0.004 ua=\"x\""
            ))
            .expect("a stack line")
        };
        let lines = vec![
            line("/user_profiles/a?time_range=1_2", 503),
            line("/user_profiles/b?time_range=1_2", 200),
            line("/user_profiles/a?time_range=1_3", 200),
            line("/user_tags", 204),
        ];
        let overload: HashSet<String> = ["/user_profiles/a?time_range=1_2".to_owned()].into();
        let recovery: HashSet<String> = [
            "/user_profiles/b?time_range=1_2".to_owned(),
            "/user_profiles/a?time_range=1_3".to_owned(),
        ]
        .into();
        let shed: Vec<u16> = lines_of(&lines, &overload)
            .map(|line| line.status)
            .collect();
        assert_eq!(shed, vec![503]);
        assert_eq!(lines_of(&lines, &recovery).count(), 2);
        let everything: HashSet<String> = ["/user_tags".to_owned()].into();
        assert_eq!(lines_of(&lines, &everything).count(), 0);
    }

    #[test]
    fn results_survive_json() {
        let results_round = round(
            vec![shot(Answer::Ok, 20.0), shot(Answer::Late, 200.4)],
            &[19.0],
        );
        let text = serde_json::to_string(&results_round).expect("serialize");
        assert!(text.contains("\"late\""), "{text}");
        let back: BurstRound = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, results_round);
    }
}
