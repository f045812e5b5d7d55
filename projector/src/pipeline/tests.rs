//! The exactly-once state machine of the pipeline against in-memory doubles of its
//! edges: [`MemoryLog`] (the tag topic, a [`TagSource`]), [`MemoryStore`] (ClickHouse
//! as the projector sees it, a [`BatchSink`]: `user_tags`, one materialized view, the
//! batch log, and deduplication by token per table, as
//! `deduplicate_blocks_in_dependent_materialized_views` gives it) and
//! [`MemoryDeadLetters`] (the dead-letter topic, a [`DeadLetterSink`]).
//!
//! A crash is a panic on the pipeline's thread at a chosen step of a chosen batch: the
//! thread dies with its memory (the open batch, the settled partitions), the store and
//! the log keep what they had, as ClickHouse and the broker would. A restart is a new
//! pipeline over the same log and store. Every test ends with the same check: every
//! tag of the log is in `user_tags` and in the view exactly once.

use super::{Pipeline, PipelineParts, Positions};
use crate::batch::{Batch, OffsetRange};
use crate::edges::{BatchSink, DeadLetterSink, TagSource};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::Timestamp;
use read_model::{BatchLogRow, UserTagRow};
use schemas::retries::RecentPayloads;
use schemas::{SchemaCatalog, TagDecoder, TagEncoder, UserTag};
use service_kit::assignment::Assignment;
use service_kit::kafka::ReadBack;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "tags";
const PARTITIONS: i32 = 3;
const TAGS_PER_PARTITION: i64 = 40;
/// Small batches, so a run has many and a crash can hit one in the middle.
const BATCH_ROWS: usize = 7;

/// A record of the log: its time (epoch ms) and payload.
type Record = (i64, Vec<u8>);
/// How many times each (partition, offset) is in a table.
type Counts = BTreeMap<(i32, i64), usize>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The double's failure: what an unreachable ClickHouse or broker returns.
#[derive(Debug, thiserror::Error)]
#[error("injected failure")]
struct Injected;

// ---------------------------------------------------------------------------------
// The log

/// The tag topic: records by partition, the offset being the index. Shared by every
/// "process" of a test, like the broker.
#[derive(Clone)]
struct MemoryLog {
    partitions: Arc<BTreeMap<i32, Vec<Record>>>,
    /// The positions of the records that are not tags.
    junk: Arc<BTreeSet<(i32, i64)>>,
}

impl MemoryLog {
    /// `TAGS_PER_PARTITION` records in each of `PARTITIONS` partitions: distinct tags,
    /// but for a record that is not a tag (no Avro framing) at each of `junk`.
    fn new(runtime: &Runtime, junk: &[(i32, i64)]) -> Self {
        let encoder = runtime
            .block_on(TagEncoder::new(&SchemaCatalog::Bundled, "tags-value"))
            .expect("bundled encoder");
        let now = service_kit::clock::now_ms();
        let mut partitions = BTreeMap::new();
        for partition in 0..PARTITIONS {
            let records = (0..TAGS_PER_PARTITION)
                .map(|offset| {
                    let json = format!(
                        r#"{{"time":"2026-03-01T12:00:00.{:03}Z","cookie":"c-{partition}-{offset}","country":"CL","device":"PC","action":"VIEW","origin":"o","product_info":{{"product_id":"p","brand_id":"b","category_id":"c","price":1}}}}"#,
                        offset % 1000
                    );
                    if junk.contains(&(partition, offset)) {
                        return (now + offset, format!("not a tag {partition}/{offset}").into_bytes());
                    }
                    let tag = UserTag::from_json(json.as_bytes()).expect("valid tag");
                    (now + offset, encoder.encode(&tag).expect("encodes"))
                })
                .collect();
            partitions.insert(partition, records);
        }
        Self {
            partitions: Arc::new(partitions),
            junk: Arc::new(junk.iter().copied().collect()),
        }
    }

    fn message(&self, partition: i32, offset: i64) -> Option<OwnedMessage> {
        let records = self.partitions.get(&partition)?;
        let (time, payload) = records.get(usize::try_from(offset).ok()?)?;
        Some(OwnedMessage::new(
            Some(payload.clone()),
            None,
            TOPIC.to_owned(),
            Timestamp::CreateTime(*time),
            partition,
            offset,
            None,
        ))
    }

    fn end(&self, partition: i32) -> i64 {
        self.partitions
            .get(&partition)
            .map_or(0, |records| records.len() as i64)
    }

    /// The position of every tag (every record but the junk).
    fn tag_positions(&self) -> BTreeSet<(i32, i64)> {
        self.partitions
            .keys()
            .flat_map(|partition| (0..self.end(*partition)).map(move |offset| (*partition, offset)))
            .filter(|position| !self.junk.contains(position))
            .collect()
    }
}

/// What goes wrong on the consumer side of one process.
#[derive(Debug, Clone, Copy, Default)]
struct SourceFaults {
    /// After this many messages polled, every assigned partition is revoked and
    /// assigned again at its committed offset (what a consumer group does on a
    /// rebalance): messages already polled are delivered again.
    rewind_after: Option<usize>,
    /// After this many messages polled, the process crashes.
    crash_after: Option<usize>,
}

/// One process's consumer of the [`MemoryLog`].
struct MemorySource {
    log: MemoryLog,
    faults: SourceFaults,
    /// Next offset to deliver, by assigned partition.
    cursors: Mutex<BTreeMap<i32, i64>>,
    committed: Mutex<BTreeMap<i32, i64>>,
    polled: Mutex<usize>,
}

impl MemorySource {
    fn new(log: &MemoryLog, faults: SourceFaults) -> Self {
        Self {
            log: log.clone(),
            faults,
            cursors: Mutex::new(BTreeMap::new()),
            committed: Mutex::new(BTreeMap::new()),
            polled: Mutex::new(0),
        }
    }
}

impl TagSource for MemorySource {
    type Error = Injected;

    fn partitions(&self) -> Result<Vec<i32>, Injected> {
        Ok(self.log.partitions.keys().copied().collect())
    }

    fn watermarks(&self, partition: i32) -> Result<(i64, i64), Injected> {
        Ok((0, self.log.end(partition)))
    }

    fn assign(&self, positions: &BTreeMap<i32, Option<i64>>) -> Result<(), Injected> {
        let mut cursors = lock(&self.cursors);
        for (partition, next) in positions {
            cursors.insert(*partition, next.unwrap_or(0));
        }
        Ok(())
    }

    fn poll(&self, wait: Duration) -> Option<Result<OwnedMessage, Injected>> {
        let polled = *lock(&self.polled);
        if self.faults.crash_after == Some(polled) {
            panic!("injected crash while polling (after {polled} messages)");
        }
        if self.faults.rewind_after == Some(polled) {
            let committed = lock(&self.committed).clone();
            for (partition, cursor) in lock(&self.cursors).iter_mut() {
                *cursor = committed.get(partition).copied().unwrap_or(0);
            }
        }
        // The partition with the fewest delivered, so batches mix partitions.
        let next = {
            let cursors = lock(&self.cursors);
            cursors
                .iter()
                .filter(|(partition, cursor)| **cursor < self.log.end(**partition))
                .min_by_key(|(partition, cursor)| (**cursor, **partition))
                .map(|(partition, cursor)| (*partition, *cursor))
        };
        let Some((partition, offset)) = next else {
            std::thread::sleep(wait.min(Duration::from_millis(5)));
            return None;
        };
        lock(&self.cursors).insert(partition, offset + 1);
        *lock(&self.polled) += 1;
        self.log.message(partition, offset).map(Ok)
    }

    fn commit(&self, next: &BTreeMap<i32, i64>) -> Result<(), Injected> {
        lock(&self.committed).extend(next);
        Ok(())
    }

    fn high_watermarks(&self) -> BTreeMap<i32, i64> {
        self.log
            .partitions
            .keys()
            .map(|partition| (*partition, self.log.end(*partition)))
            .collect()
    }

    fn read_range(
        &self,
        partition: i32,
        range: OffsetRange,
        _timeout: Duration,
    ) -> Result<Vec<OwnedMessage>, Injected> {
        Ok((range.first..=range.last)
            .filter_map(|offset| self.log.message(partition, offset))
            .collect())
    }

    fn read_back(
        &self,
        partition: i32,
        next: i64,
        bounds: ReadBack,
    ) -> Result<Vec<(i64, Vec<u8>)>, Injected> {
        let first = (next - bounds.max_records).max(0);
        Ok((first..next)
            .filter_map(|offset| {
                let records = self.log.partitions.get(&partition)?;
                records.get(usize::try_from(offset).ok()?).cloned()
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------
// The store

/// A step of a batch's way into the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// Writing the pending entry of a batch (and the settled partitions).
    RecordBatch,
    /// The insert of a batch's rows.
    Insert,
    /// Writing the settled partitions alone, after an idle second.
    RecordSettled,
}

/// What the fault does at its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// The process dies before the request reaches the store.
    CrashBefore,
    /// The request is done, then the process dies before it hears back.
    CrashAfter,
    /// The rows land in `user_tags` but not in the view, and the request fails (a
    /// timeout, a view's error): the caller sees an error.
    HalfLandThenFail,
    /// The rows land in `user_tags` but not in the view, and the process dies.
    HalfLandThenCrash,
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    step: Step,
    /// The how-manieth request of that step fails (from 1).
    nth: u32,
    effect: Effect,
}

#[derive(Default)]
struct Tables {
    user_tags: Vec<(i32, i64)>,
    user_tags_tokens: BTreeSet<String>,
    view: Vec<(i32, i64)>,
    /// The view's deduplication: (partition, token), the partition being the rows' ten
    /// minutes of ingestion (see `write`).
    view_tokens: BTreeSet<(u64, String)>,
    /// Inserts of rows without a batch ingestion time so far.
    unstamped_inserts: u64,
    /// The ten minutes of ingestion each token's rows were inserted with, every time.
    slots_by_token: BTreeMap<String, BTreeSet<u32>>,
    batch_log: Vec<BatchLogRow>,
    requests: BTreeMap<Step, u32>,
    fault: Option<Fault>,
    fired: bool,
}

/// ClickHouse as the projector sees it. Shared by every "process" of a test.
#[derive(Clone, Default)]
struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    fn fail(&self, fault: Fault) {
        let mut tables = lock(&self.tables);
        tables.fault = Some(fault);
        tables.fired = false;
        tables.requests.clear();
    }

    fn heal(&self) -> bool {
        let mut tables = lock(&self.tables);
        tables.fault = None;
        tables.fired
    }

    /// The fault's effect if this request is the one it hits.
    fn fault_at(&self, step: Step) -> Option<Effect> {
        let mut tables = lock(&self.tables);
        let count = tables.requests.entry(step).or_default();
        *count += 1;
        let count = *count;
        let fault = tables.fault?;
        if fault.step != step || fault.nth != count {
            return None;
        }
        tables.fired = true;
        Some(fault.effect)
    }

    fn append_log(&self, entries: Vec<BatchLogRow>) {
        lock(&self.tables).batch_log.extend(entries);
    }

    fn settled_entries(
        settled: &BTreeMap<i32, i64>,
        version: u64,
        except: &BTreeMap<i32, OffsetRange>,
    ) -> Vec<BatchLogRow> {
        settled
            .iter()
            .filter(|(partition, _)| !except.contains_key(partition))
            .map(|(partition, next_offset)| BatchLogRow {
                kafka_topic: TOPIC.to_owned(),
                kafka_partition: *partition,
                version,
                token: String::new(),
                ranges: Vec::new(),
                next_offset: *next_offset,
            })
            .collect()
    }

    /// Each position in `user_tags` and in the view, with how many times it is there.
    fn counts(&self) -> (Counts, Counts) {
        let tables = lock(&self.tables);
        let count = |rows: &[(i32, i64)]| {
            let mut counts = BTreeMap::new();
            for position in rows {
                *counts.entry(*position).or_insert(0) += 1;
            }
            counts
        };
        (count(&tables.user_tags), count(&tables.view))
    }
}

fn crash(step: Step) -> ! {
    panic!("injected crash at {step:?}");
}

impl BatchSink for MemoryStore {
    type Error = Injected;

    fn latest_batches(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<i32, BatchLogRow>, Injected>> + Send {
        let mut latest: BTreeMap<i32, BatchLogRow> = BTreeMap::new();
        for entry in &lock(&self.tables).batch_log {
            let newer = latest
                .get(&entry.kafka_partition)
                .is_none_or(|found| entry.version > found.version);
            if newer {
                latest.insert(entry.kafka_partition, entry.clone());
            }
        }
        std::future::ready(Ok(latest))
    }

    fn record_batch(
        &self,
        batch: &Batch,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), Injected>> + Send {
        let effect = self.fault_at(Step::RecordBatch);
        if effect == Some(Effect::CrashBefore) {
            crash(Step::RecordBatch);
        }
        let token = batch.token(TOPIC);
        let ranges: Vec<(i32, i64, i64)> = batch
            .ranges()
            .iter()
            .map(|(partition, range)| (*partition, range.first, range.last))
            .collect();
        let mut entries: Vec<BatchLogRow> = batch
            .ranges()
            .iter()
            .map(|(partition, range)| BatchLogRow {
                kafka_topic: TOPIC.to_owned(),
                kafka_partition: *partition,
                version,
                token: token.clone(),
                ranges: ranges.clone(),
                next_offset: range.last + 1,
            })
            .collect();
        entries.extend(Self::settled_entries(settled, version, batch.ranges()));
        self.append_log(entries);
        if effect == Some(Effect::CrashAfter) {
            crash(Step::RecordBatch);
        }
        std::future::ready(Ok(()))
    }

    fn record_settled(
        &self,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), Injected>> + Send {
        let effect = self.fault_at(Step::RecordSettled);
        if effect == Some(Effect::CrashBefore) {
            crash(Step::RecordSettled);
        }
        self.append_log(Self::settled_entries(settled, version, &BTreeMap::new()));
        if effect == Some(Effect::CrashAfter) {
            crash(Step::RecordSettled);
        }
        std::future::ready(Ok(()))
    }

    fn write(
        &self,
        rows: &[UserTagRow],
        token: &str,
    ) -> impl Future<Output = Result<(), Injected>> + Send {
        let effect = self.fault_at(Step::Insert);
        if effect == Some(Effect::CrashBefore) {
            crash(Step::Insert);
        }
        let positions: Vec<(i32, i64)> = rows
            .iter()
            .map(|row| (row.kafka_partition, row.kafka_offset))
            .collect();
        let half = matches!(
            effect,
            Some(Effect::HalfLandThenFail | Effect::HalfLandThenCrash)
        );
        {
            let mut tables = lock(&self.tables);
            if tables.user_tags_tokens.insert(token.to_owned()) {
                tables.user_tags.extend(&positions);
            }
            // ClickHouse deduplicates the view's block by token within the partition it
            // goes to: the ten minutes of ingestion of the rows' batch. Rows without one
            // go to the ten minutes of the insert itself: here a new partition on every
            // insert, as if each came after a ten-minute boundary of wall time (the case
            // that once counted a batch inserted again twice).
            let slots: BTreeSet<u32> = rows.iter().map(|row| row.batch_ingested_in).collect();
            assert!(
                slots.len() <= 1,
                "one batch, one ten minutes of ingestion: {slots:?}"
            );
            tables
                .slots_by_token
                .entry(token.to_owned())
                .or_default()
                .extend(&slots);
            let partition = match slots.first() {
                Some(slot) if *slot != 0 => u64::from(*slot),
                _ => {
                    tables.unstamped_inserts += 1;
                    u64::MAX - tables.unstamped_inserts
                }
            };
            if !half && tables.view_tokens.insert((partition, token.to_owned())) {
                tables.view.extend(&positions);
            }
        }
        match effect {
            Some(Effect::CrashAfter | Effect::HalfLandThenCrash) => crash(Step::Insert),
            Some(Effect::HalfLandThenFail) => std::future::ready(Err(Injected)),
            _ => std::future::ready(Ok(())),
        }
    }
}

// ---------------------------------------------------------------------------------
// The dead letters

/// The dead-letter topic: the position of every message it took, in order. It refuses
/// the first `refusals` sends (a broker that cannot be reached). Shared by every
/// "process" of a test, like the broker.
#[derive(Clone, Default)]
struct MemoryDeadLetters {
    sent: Arc<Mutex<Vec<(i32, i64)>>>,
    refusals: Arc<Mutex<u32>>,
}

impl MemoryDeadLetters {
    /// How many times each position was taken.
    fn counts(&self) -> Counts {
        let mut counts = Counts::new();
        for position in lock(&self.sent).iter() {
            *counts.entry(*position).or_default() += 1;
        }
        counts
    }
}

impl DeadLetterSink for MemoryDeadLetters {
    type Error = Injected;

    fn send(&self, message: &OwnedMessage, _reason: &str) -> Result<(), Injected> {
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(Injected);
            }
        }
        lock(&self.sent).push((message.partition(), message.offset()));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Running processes

struct Harness {
    runtime: Runtime,
    log: MemoryLog,
    store: MemoryStore,
    dead_letters: MemoryDeadLetters,
}

/// A pipeline started on a thread of its own.
struct Process {
    cancel: CancellationToken,
    positions: watch::Receiver<Positions>,
    thread: std::thread::JoinHandle<()>,
}

impl Process {
    /// Waits until every partition it owns is durable up to the log's end, then stops
    /// it and waits for a clean stop.
    fn finish(self, log: &MemoryLog, owned: &[i32]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = {
                let positions = self.positions.borrow();
                owned
                    .iter()
                    .all(|partition| positions.next.get(partition) == Some(&log.end(*partition)))
            };
            if done {
                break;
            }
            assert!(
                !self.thread.is_finished(),
                "the pipeline stopped before it was done"
            );
            assert!(
                Instant::now() < deadline,
                "not durable in time: {:?}",
                self.positions.borrow()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.cancel.cancel();
        assert!(self.thread.join().is_ok(), "a clean stop");
    }

    /// Waits for the injected crash.
    fn crashed(self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.thread.is_finished() {
            if Instant::now() > deadline {
                self.cancel.cancel();
                panic!("the process was to crash and did not");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(self.thread.join().is_err(), "the process was to crash");
    }
}

impl Harness {
    fn new() -> Self {
        Self::with_junk(&[])
    }

    /// A harness whose log has a record that is not a tag at each of `junk`.
    fn with_junk(junk: &[(i32, i64)]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let log = MemoryLog::new(&runtime, junk);
        Self {
            runtime,
            log,
            store: MemoryStore::default(),
            dead_letters: MemoryDeadLetters::default(),
        }
    }

    fn start(&self, assignment: Assignment, faults: SourceFaults) -> Process {
        let parts = PipelineParts {
            source: MemorySource::new(&self.log, faults),
            sink: self.store.clone(),
            topic: TOPIC.to_owned(),
            decoder: TagDecoder::new(SchemaCatalog::Bundled),
            dead_letters: self.dead_letters.clone(),
            batch: Batch::new(BATCH_ROWS, Duration::from_millis(20)),
            // One record remembered: a record read twice by a fault of the pipeline
            // must not be hidden by the sender's-retry rule (which would skip a second
            // read of any of the last 20,000), so these tests see the batch log alone.
            recent: RecentPayloads::new(Duration::from_secs(30), 1),
            assignment,
            replay_max_age: Duration::from_secs(3600),
            runtime: self.runtime.handle().clone(),
        };
        let cancel = CancellationToken::new();
        let (pipeline, positions) = Pipeline::new(parts, cancel.clone());
        let thread = std::thread::spawn(move || pipeline.run());
        Process {
            cancel,
            positions,
            thread,
        }
    }

    fn sole(&self) -> Assignment {
        Assignment::new(0, 1).expect("one instance")
    }

    /// Runs a sole instance to the end of the log and stops it cleanly.
    fn run_to_the_end(&self, faults: SourceFaults) {
        let all: Vec<i32> = (0..PARTITIONS).collect();
        self.start(self.sole(), faults).finish(&self.log, &all);
    }

    /// A sole instance crashed by `fault`, then restarted and run to the end.
    fn crash_then_restart(&self, fault: Fault) {
        self.store.fail(fault);
        self.start(self.sole(), SourceFaults::default()).crashed();
        assert!(self.store.heal(), "the fault fired: {fault:?}");
        self.run_to_the_end(SourceFaults::default());
    }

    /// Every tag of the log in `user_tags` and in the view exactly once.
    fn assert_each_tag_once(&self, case: &str) {
        let (user_tags, view) = self.store.counts();
        let expected: Counts = self
            .log
            .tag_positions()
            .into_iter()
            .map(|position| (position, 1))
            .collect();
        assert_eq!(user_tags, expected, "user_tags after {case}");
        assert_eq!(view, expected, "the view after {case}");
        // Every insert of a batch, the first and any after a crash, carries the ten
        // minutes its batch-log entry was recorded in.
        let tables = lock(&self.store.tables);
        for (token, slots) in &tables.slots_by_token {
            let recorded: BTreeSet<u32> = tables
                .batch_log
                .iter()
                .filter(|entry| &entry.token == token)
                .map(|entry| read_model::tags::ingestion_slot(entry.version))
                .collect();
            assert_eq!(slots, &recorded, "the ten minutes of {token} after {case}");
        }
    }
}

// ---------------------------------------------------------------------------------
// The tests

#[test]
fn without_faults_each_tag_lands_once() {
    let harness = Harness::new();
    harness.run_to_the_end(SourceFaults::default());
    harness.assert_each_tag_once("a clean run");
}

#[test]
fn a_crash_before_the_batch_is_recorded_reads_it_again() {
    for nth in [1, 4] {
        let harness = Harness::new();
        harness.crash_then_restart(Fault {
            step: Step::RecordBatch,
            nth,
            effect: Effect::CrashBefore,
        });
        harness.assert_each_tag_once(&format!("a crash before recording batch {nth}"));
    }
}

#[test]
fn a_crash_before_the_insert_inserts_the_pending_batch_at_restart() {
    for nth in [1, 4] {
        let harness = Harness::new();
        harness.crash_then_restart(Fault {
            step: Step::RecordBatch,
            nth,
            effect: Effect::CrashAfter,
        });
        let pending = harness
            .runtime
            .block_on(harness.store.latest_batches())
            .expect("log");
        assert!(pending.values().all(|entry| !entry.is_pending()));
        harness.assert_each_tag_once(&format!(
            "a crash between recording and inserting batch {nth}"
        ));
    }
}

#[test]
fn a_crash_after_the_insert_before_it_is_settled_lands_once() {
    for nth in [1, 4] {
        let harness = Harness::new();
        harness.crash_then_restart(Fault {
            step: Step::Insert,
            nth,
            effect: Effect::CrashAfter,
        });
        harness.assert_each_tag_once(&format!("a crash after inserting batch {nth}"));
    }
}

#[test]
fn a_crash_after_the_batch_is_settled_resumes_after_it() {
    // The settled state is written with the next batch's entry, or alone when idle.
    for fault in [
        Fault {
            step: Step::RecordBatch,
            nth: 3,
            effect: Effect::CrashAfter,
        },
        Fault {
            step: Step::RecordSettled,
            nth: 1,
            effect: Effect::CrashAfter,
        },
    ] {
        let harness = Harness::new();
        harness.crash_then_restart(fault);
        harness.assert_each_tag_once(&format!("{fault:?}"));
    }
}

#[test]
fn a_half_inserted_batch_is_retried_with_its_token_and_lands_once() {
    let harness = Harness::new();
    harness.store.fail(Fault {
        step: Step::Insert,
        nth: 2,
        effect: Effect::HalfLandThenFail,
    });
    harness.run_to_the_end(SourceFaults::default());
    assert!(harness.store.heal(), "the fault fired");
    harness.assert_each_tag_once("a half-landed insert retried");
}

#[test]
fn a_half_inserted_batch_then_a_crash_lands_once_after_restart() {
    let harness = Harness::new();
    harness.crash_then_restart(Fault {
        step: Step::Insert,
        nth: 3,
        effect: Effect::HalfLandThenCrash,
    });
    harness.assert_each_tag_once("a half-landed insert, then a crash");
}

#[test]
fn a_partition_revoked_and_assigned_again_mid_batch_lands_once() {
    // Assigned again at the broker's committed offset: the messages of the open batch
    // (and of the batches before the commit caught up) are delivered a second time.
    // Two or more messages of a partition in the open batch at the rewind, so the
    // second delivery is more than the one record the retry rule remembers.
    for polled in [6, 12, 20] {
        let harness = Harness::new();
        harness.run_to_the_end(SourceFaults {
            rewind_after: Some(polled),
            crash_after: None,
        });
        harness.assert_each_tag_once(&format!("a rebalance after {polled} messages"));
    }
}

#[test]
fn partitions_moved_to_two_new_instances_mid_batch_land_once() {
    // The sole instance dies with a batch open and the one before it pending; its
    // partitions go to instances 0 and 1 of 2, which both see that pending batch (it
    // spans partitions of both) and insert it again with its token.
    let harness = Harness::new();
    harness.store.fail(Fault {
        step: Step::Insert,
        nth: 3,
        effect: Effect::CrashBefore,
    });
    harness
        .start(harness.sole(), SourceFaults::default())
        .crashed();
    assert!(harness.store.heal(), "the fault fired");
    let first = Assignment::new(0, 2).expect("instance 0 of 2");
    let second = Assignment::new(1, 2).expect("instance 1 of 2");
    let (owned_first, owned_second) = (first.owned(0..PARTITIONS), second.owned(0..PARTITIONS));
    let one = harness.start(first, SourceFaults::default());
    let other = harness.start(second, SourceFaults::default());
    one.finish(&harness.log, &owned_first);
    other.finish(&harness.log, &owned_second);
    harness.assert_each_tag_once("a move to two instances");
}

#[test]
fn a_crash_mid_batch_while_polling_reads_the_open_batch_again() {
    let harness = Harness::new();
    harness
        .start(
            harness.sole(),
            SourceFaults {
                rewind_after: None,
                crash_after: Some(BATCH_ROWS * 2 + 3),
            },
        )
        .crashed();
    harness.run_to_the_end(SourceFaults::default());
    harness.assert_each_tag_once("a crash with a batch open");
}

#[test]
fn a_record_that_is_no_tag_is_dead_lettered_once_across_a_crash() {
    // The first message polled is no tag. The dead-letter topic refuses its first send
    // (it is retried), then the process crashes before recording the fourth batch, long
    // after the junk's batch is in: the restart resumes after it and does not send it
    // again. (A crash while its own batch is unfinished sends it again: at least once.)
    let junk = (0, 0);
    let harness = Harness::with_junk(&[junk]);
    *lock(&harness.dead_letters.refusals) = 1;
    harness.crash_then_restart(Fault {
        step: Step::RecordBatch,
        nth: 4,
        effect: Effect::CrashBefore,
    });
    assert_eq!(
        harness.dead_letters.counts(),
        Counts::from([(junk, 1)]),
        "the junk in the dead letters, once"
    );
    assert_eq!(
        *lock(&harness.dead_letters.refusals),
        0,
        "the refusal was retried"
    );
    harness.assert_each_tag_once("a dead letter, then a crash");
}
