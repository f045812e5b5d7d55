//! The chaos run: loadgen's checking harness replays the stream through the front door
//! at a steady rate while the runner injects one fault per slot of the stream, in turn,
//! and afterwards works out what each fault cost.
//!
//! The stream is cut into slots of equal length (wall time and event time advance
//! together: tag `i` is due `i / rate` seconds after the first and is `i` ms later in
//! event time). A slot's fault hits `lead` into it; the component is restarted at once
//! (or thawed); the projection's recovery is probed while the stream goes on. A slot owns
//! its tags, the live queries sent during it, and its minutes of event time; the last
//! slot also owns the quiet tail after it. After the harness's final round, ClickHouse's
//! own counts over each slot's minutes say whether a tag was counted twice.

use crate::fault::{inject, Fault, Injected, PathKind};
use crate::freshness::{fresh_again, Fresh};
use crate::integrity::{self, Counts};
use crate::ledger::{Ledger, Tally};
use crate::report::{ChaosReport, Recovery, SlotResult, WrongAnswer};
use crate::stack::{Component, Signal, Stack, StackError};
use crate::staleness;
use loadgen::harness::{HarnessError, HarnessOptions};
use loadgen::report::Kind;
use reqwest::Url;
use service_kit::settings::ClickHouseSettings;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wrong answers kept as examples per slot (all of them, as a rule).
const WRONG_EXAMPLES: usize = 50;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// The front door.
    pub base_url: String,
    /// The stack's ClickHouse (where the stream starts, and the integrity counts).
    pub clickhouse: ClickHouseSettings,
    /// The checkout whose stack is disturbed (`scripts/`, `.stack/`).
    pub stack_root: PathBuf,
    /// The faults, one per slot, in order.
    pub faults: Vec<Fault>,
    /// Whether a first slot runs without a fault (the noise floor).
    pub baseline: bool,
    /// Length of a slot.
    pub slot: Duration,
    /// How far into its slot a fault hits.
    pub lead: Duration,
    /// Quiet stream after the last slot.
    pub tail: Duration,
    /// Tags per second.
    pub rate: u32,
    /// Stream seed.
    pub seed: u64,
    /// How long after its 204 a tag must show in profiles (the contract's 10 s): the
    /// harness's lag, and the freshness limit a projection recovers to.
    pub profile_lag: Duration,
    /// How long after its 204 a tag must count in aggregates (the contract's 60 s).
    pub aggregate_lag: Duration,
    /// How long a recovery may take before it counts as none.
    pub recovery_timeout: Duration,
}

/// Why the run could not be made (what it found is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// A component of the stack is not running to begin with.
    #[error("the stack is not up (make up)")]
    StackDown(#[source] StackError),
    /// The stack's ClickHouse did not answer.
    #[error("clickhouse did not answer")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The harness could not run.
    #[error("the harness could not run")]
    Harness(#[from] HarnessError),
    /// The harness task failed.
    #[error("the harness task failed")]
    HarnessTask(#[from] tokio::task::JoinError),
    /// The stream never started.
    #[error("no tag was answered within 60 s of the start")]
    NoStart,
    /// The HTTP client could not be built.
    #[error("http client")]
    Client(#[from] reqwest::Error),
    /// The front door's URL does not parse.
    #[error("invalid base URL")]
    BaseUrl(#[from] url::ParseError),
}

/// One injected fault, as it happened.
struct Injection {
    slot: usize,
    fault: Fault,
    injected: Result<Injected, StackError>,
    fresh: Option<Fresh>,
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the stream, the faults and the checks; the report says what each fault cost.
pub async fn run(options: ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let stack = Stack::new(&options.stack_root);
    let faulted = options.faults.iter().map(Fault::component);
    for component in stack.components().into_iter().chain(faulted) {
        stack.pid(component).map_err(ChaosError::StackDown)?;
    }
    let start = loadgen::start::after_newest(&options.clickhouse).await?;
    let mut slots: Vec<Option<Fault>> = Vec::new();
    if options.baseline {
        slots.push(None);
    }
    slots.extend(options.faults.iter().copied().map(Some));
    let rate = u64::from(options.rate.max(1));
    let slot_tags = (options.slot.as_secs_f64() * rate as f64) as u64;
    let total_tags =
        slot_tags * slots.len() as u64 + (options.tail.as_secs_f64() * rate as f64) as u64;
    tracing::info!(
        start = %start,
        tags = total_tags,
        slots = slots.len(),
        "chaos run starting"
    );

    let harness_options = HarnessOptions {
        profile_lag: options.profile_lag,
        aggregate_lag: options.aggregate_lag,
        freshness_every: 0,
        ..HarnessOptions::contract(
            options.base_url.clone(),
            total_tags,
            options.rate,
            options.seed,
            start.millis(),
        )
    };
    let ledger = Arc::new(Mutex::new(Ledger::new()));
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let collector = {
        let ledger = Arc::clone(&ledger);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                lock(&ledger).record(event);
            }
        })
    };
    let harness = tokio::spawn(loadgen::harness::run_observed(
        harness_options,
        Some(sender),
    ));

    let origin = wait_for_origin(&ledger).await?;
    let injections = inject_all(&options, &stack, &ledger, &slots, origin).await?;
    let harness_report = harness.await??;
    collector.await?;
    restore(&stack).await;

    let client = service_kit::clickhouse::client(&options.clickhouse);
    // Every task that wrote to the ledger is done: take it.
    let ledger = std::mem::take(&mut *lock(&ledger));
    let mut results = Vec::new();
    for (index, fault) in slots.iter().enumerate() {
        let first = index as u64 * slot_tags;
        let end = if index + 1 == slots.len() {
            total_tags
        } else {
            first + slot_tags
        };
        let wall_from = origin + options.slot * index as u32;
        let wall_to = if index + 1 == slots.len() {
            origin + Duration::from_secs(365 * 24 * 3600)
        } else {
            wall_from + options.slot
        };
        let event_from = start.millis() + first as i64;
        let event_to = start.millis() + end as i64;
        let tally: Tally = ledger.tally(first as usize..end as usize, wall_from..wall_to);
        let lost = ledger
            .minutes_in(event_from..event_to)
            .map(|minute| minute.lost())
            .sum();
        let (whole_from, whole_to) = integrity::whole_minutes(event_from, event_to);
        let (accepted, uncertain) = ledger.minutes_in(whole_from..whole_to).fold(
            (0, 0),
            |(accepted, uncertain), minute| {
                (accepted + minute.accepted, uncertain + minute.uncertain)
            },
        );
        let counts: Option<Counts> = integrity::counted(&client, whole_from, whole_to)
            .await
            .map_err(|error| tracing::error!(error = %error, "integrity counts unreadable"))
            .ok()
            .map(|counted| Counts {
                accepted,
                uncertain,
                counted,
            });
        let injection = injections.iter().find(|injection| injection.slot == index);
        // The event time of the tags sent one freshness limit before the fault hit: those
        // had to be visible by then, and an answer missing one is wrong; an answer missing
        // only newer tags is stale (they may not have been projected yet when it hit).
        let cutoff_ms = injection.and_then(|injection| {
            let injected = injection.injected.as_ref().ok()?;
            let since_origin = injected
                .at
                .checked_sub(options.profile_lag)?
                .checked_duration_since(origin)?;
            Some(start.millis() + (since_origin.as_secs_f64() * rate as f64) as i64)
        });
        let (stale, wrong): (Vec<_>, Vec<_>) = ledger
            .wrong_answers(wall_from..wall_to)
            .into_iter()
            .partition(|query| match (cutoff_ms, &query.difference) {
                (Some(cutoff_ms), Some((expected, got))) => {
                    staleness::is_stale(query.kind, expected, got, cutoff_ms)
                }
                _ => false,
            });
        let mut tally = tally;
        tally.queries_stale = stale.len() as u64;
        tally.queries_wrong = wrong.len() as u64;
        let wrong: Vec<WrongAnswer> = wrong
            .into_iter()
            .take(WRONG_EXAMPLES)
            .map(|query| WrongAnswer {
                url: query.url.clone(),
                expected: query
                    .difference
                    .as_ref()
                    .map(|(expected, _)| expected.clone()),
                got: query.difference.as_ref().map(|(_, got)| got.clone()),
            })
            .collect();
        let (recovery, injected_at, back_after, error) = match injection {
            Some(injection) => match &injection.injected {
                Ok(injected) => (
                    recoveries(&ledger, injection.fault, injected, injection.fresh),
                    Some(injected.at.duration_since(origin)),
                    Some(injected.back.duration_since(injected.at)),
                    None,
                ),
                Err(error) => (
                    Vec::new(),
                    None,
                    None,
                    Some(service_kit::error::chain(error).to_string()),
                ),
            },
            None => (Vec::new(), None, None, None),
        };
        results.push(SlotResult {
            fault: fault.map(|fault| fault.key()),
            label: fault.map_or_else(|| "no fault (baseline)".to_owned(), |fault| fault.label()),
            injected_at_s: injected_at.map(|at| at.as_secs_f64()),
            back_after_s: back_after.map(|back| back.as_secs_f64()),
            event_from: schemas::EventTime::from_millis(event_from).to_instant_string(),
            event_to: schemas::EventTime::from_millis(event_to).to_instant_string(),
            recovery,
            tally,
            lost,
            integrity: counts,
            wrong_examples: wrong,
            error,
        });
    }
    Ok(ChaosReport::new(&options, start, results, harness_report))
}

/// Waits for the first answered tag; its due time is the schedule's origin.
async fn wait_for_origin(ledger: &Mutex<Ledger>) -> Result<Instant, ChaosError> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(origin) = lock(ledger).first_due() {
            return Ok(origin);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(ChaosError::NoStart)
}

/// Injects each slot's fault at its time, and probes the projection's recovery.
async fn inject_all(
    options: &ChaosOptions,
    stack: &Stack,
    ledger: &Mutex<Ledger>,
    slots: &[Option<Fault>],
    origin: Instant,
) -> Result<Vec<Injection>, ChaosError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let base = Url::parse(&options.base_url)?;
    let mut injections = Vec::new();
    for (slot, fault) in slots.iter().enumerate() {
        let Some(fault) = *fault else {
            continue;
        };
        let due = origin + options.slot * slot as u32 + options.lead;
        if Instant::now() > due {
            tracing::warn!(
                slot,
                late = ?Instant::now().duration_since(due),
                "the previous fault's recovery overran this slot's start"
            );
        }
        tokio::time::sleep_until(due.into()).await;
        tracing::info!(slot, fault = %fault.label(), "injecting");
        let injected = inject(stack, fault).await;
        if let Err(error) = &injected {
            tracing::error!(error = %service_kit::error::chain(error), "fault not injected cleanly");
            restore(stack).await;
        }
        let fresh = match &injected {
            Ok(injected) if fault.paths().contains(&PathKind::Fresh) => {
                let found = fresh_again(
                    ledger,
                    &client,
                    &base,
                    injected.back,
                    options.profile_lag,
                    injected.back + options.recovery_timeout,
                )
                .await;
                if found.is_none() {
                    tracing::error!(slot, "freshness did not come back");
                }
                found
            }
            _ => None,
        };
        tracing::info!(slot, fault = %fault.label(), "recovered");
        injections.push(Injection {
            slot,
            fault,
            injected,
            fresh,
        });
    }
    Ok(injections)
}

/// Each path's time to recover from `fault`, measured from the moment it hit.
fn recoveries(
    ledger: &Ledger,
    fault: Fault,
    injected: &Injected,
    fresh: Option<Fresh>,
) -> Vec<Recovery> {
    fault
        .paths()
        .iter()
        .map(|path| {
            let recovered = match path {
                PathKind::Write => ledger.first_accepted_due_since(injected.at),
                PathKind::Read => ledger.first_correct_since(Kind::Profile, injected.at),
                PathKind::Fresh => fresh.map(|fresh| fresh.visible),
            };
            Recovery {
                path: *path,
                seconds: recovered.map(|at| at.duration_since(injected.at).as_secs_f64()),
            }
        })
        .collect()
}

/// Starts whatever is not running (a fault cut short, a panic elsewhere), so the stack
/// is whole afterwards.
pub async fn restore(stack: &Stack) {
    if let Err(error) = stack.signal(Component::ClickHouse, Signal::SIGCONT) {
        tracing::warn!(error = %error, "clickhouse not thawed");
    }
    for component in stack.components() {
        if !stack.is_running(component) {
            tracing::warn!(component = component.name(), "not running; starting it");
            if let Err(error) = stack.start(component).await {
                tracing::error!(error = %service_kit::error::chain(&error), "cannot start");
            }
        }
    }
}
