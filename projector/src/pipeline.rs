//! The consume-decode-insert loop, run on a thread of its own.
//!
//! Delivery guarantee: every record of an owned partition ends up in the read models
//! exactly once, whatever crashes: ClickHouse's, the projector's, or both at once.
//! - Before a batch is inserted, the batch log records its offset ranges and its
//!   deduplication token ([`crate::sink::ClickHouseSink::record_batch`]).
//! - The insert carries that token; a failed insert is retried with it until
//!   ClickHouse takes it, so a retry of an insert that landed (or half-landed: the
//!   table and some views, not others) changes only what was missing.
//! - At start-up, a partition whose latest log entry is still pending has its batch
//!   read again from exactly those ranges and inserted with the same token.
//! - A partition resumes at the next offset its log entry names: nothing is read from
//!   the broker's committed offsets, which are written for lag tooling only.
//!
//! Sequential by design: a batch is inserted before the consumer is polled again, and
//! while ClickHouse or the schema registry is unavailable the loop retries with
//! backoff (partitions are assigned, not subscribed, so there is no group membership to
//! keep alive). Nothing is ever dead-lettered because a dependency is down.

use crate::batch::{Batch, OffsetRange};
use crate::dead_letter::DeadLetters;
use crate::sink::{pending_ranges, ClickHouseSink};
use crate::source::{self, SourceConsumer};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use read_model::{BatchLogRow, LogPosition, UserTagRow};
use schemas::retries::RecentPayloads;
use schemas::TagDecoder;
use service_kit::assignment::Assignment;
use service_kit::kafka::ReadBack;
use service_kit::settings::KafkaSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Longest single wait for the broker, so cancellation is seen promptly.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// How often the topic is checked for new partitions.
const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(30);
/// How long the loop idles before it records that the last batch is in.
const SETTLE_AFTER_IDLE: Duration = Duration::from_secs(1);
/// How long an exact read of a range (replay, warm-up) may take.
const EXACT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The first chunk read back before a resume point to remember recent payloads: at the
/// contract's 1,000 tags/s over 4 partitions the 30 s retry window is about 7,500
/// records a partition, so one read covers it (each read sets up a consumer, which
/// costs more than the records on a loaded machine).
const WARM_UP_CHUNK: i64 = 8_000;

/// Per partition, the next offset whose predecessors are all in ClickHouse (or were
/// deliberately skipped): what `projector rebuild` waits on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    /// Next offset to project, by partition.
    pub next: BTreeMap<i32, i64>,
}

/// What the pipeline is built from.
pub struct PipelineParts {
    /// The consumer (partitions assigned by the pipeline).
    pub consumer: SourceConsumer,
    /// Where batches go.
    pub sink: ClickHouseSink,
    /// Decodes payloads of any known schema.
    pub decoder: TagDecoder,
    /// Where undecodable messages go.
    pub dead_letters: DeadLetters,
    /// Rows not yet inserted.
    pub batch: Batch,
    /// Recent payloads, to skip a sender's retries.
    pub recent: RecentPayloads,
    /// The broker and topic (exact reads use consumers of their own).
    pub kafka: KafkaSettings,
    /// Which partitions are ours.
    pub assignment: Assignment,
    /// Oldest unfinished batch still inserted again at start-up.
    pub replay_max_age: Duration,
    /// Runtime for the async ClickHouse and decoder calls.
    pub runtime: Handle,
}

/// The running loop's state.
pub struct Pipeline {
    consumer: SourceConsumer,
    sink: ClickHouseSink,
    decoder: TagDecoder,
    dead_letters: DeadLetters,
    batch: Batch,
    recent: RecentPayloads,
    kafka: KafkaSettings,
    assignment: Assignment,
    replay_max_age: Duration,
    runtime: Handle,
    cancel: CancellationToken,
    positions: watch::Sender<Positions>,
    /// Partitions assigned to the consumer, with the next offset expected from each.
    expected: BTreeMap<i32, i64>,
    /// Partitions left alone: their resume point is outside the log.
    stopped: BTreeSet<i32>,
    /// Partitions whose last batch is in while their log entry still says pending.
    settled: BTreeMap<i32, i64>,
    /// Durable positions (published through `positions`).
    durable: BTreeMap<i32, i64>,
    /// Partitions whose remembered payloads already cover the retry window before this
    /// offset (an unfinished batch ending there was just inserted again), so resuming
    /// there need not read the window back a second time.
    warm: BTreeMap<i32, i64>,
    /// The last batch-log version written or seen.
    last_version: u64,
    last_flush: Instant,
    last_partition_check: Instant,
    /// Record times of the batch's oldest message, for the visibility metric.
    oldest_record_ms: Option<i64>,
}

/// What one message comes to.
enum Projected {
    /// A tag to insert.
    Row(Box<UserTagRow>),
    /// Skipped (a sender's retry) or dead-lettered: only its offset is covered.
    Covered,
    /// Cancelled before it was handled: it will be read again.
    Cancelled,
}

impl Pipeline {
    /// A pipeline over `parts`, stopped by `cancel`, publishing durable positions.
    pub fn new(
        parts: PipelineParts,
        cancel: CancellationToken,
    ) -> (Self, watch::Receiver<Positions>) {
        let (positions, receiver) = watch::channel(Positions::default());
        let pipeline = Self {
            consumer: parts.consumer,
            sink: parts.sink,
            decoder: parts.decoder,
            dead_letters: parts.dead_letters,
            batch: parts.batch,
            recent: parts.recent,
            kafka: parts.kafka,
            assignment: parts.assignment,
            replay_max_age: parts.replay_max_age,
            runtime: parts.runtime,
            cancel,
            positions,
            expected: BTreeMap::new(),
            stopped: BTreeSet::new(),
            settled: BTreeMap::new(),
            durable: BTreeMap::new(),
            warm: BTreeMap::new(),
            last_version: 0,
            last_flush: Instant::now(),
            last_partition_check: Instant::now(),
            oldest_record_ms: None,
        };
        (pipeline, receiver)
    }

    /// Projects until cancelled, then inserts what is pending (one try) and records it.
    /// Blocking: run it on a thread of its own.
    pub fn run(mut self) {
        self.adopt_new_partitions();
        self.last_partition_check = Instant::now();
        while !self.cancel.is_cancelled() {
            let wait = if self.batch.is_empty() {
                POLL_SLICE
            } else {
                self.batch.time_left().min(POLL_SLICE)
            };
            // Messages are detached (copied) from the consumer: handling one may insert
            // the batch, which needs the pipeline mutably.
            match self.consumer.poll(wait) {
                Some(Ok(message)) => {
                    let message = message.detach();
                    if !self.handle(&message) {
                        break;
                    }
                }
                Some(Err(error)) => {
                    metrics::counter!("projector_consumer_errors_total").increment(1);
                    tracing::error!(error = %service_kit::error::chain(&error), "consumer error (an offset out of range stops that partition: see docs/operations.md)");
                }
                None => {}
            }
            if self.batch.is_due() {
                self.flush(true);
            }
            if self.batch.is_empty()
                && !self.settled.is_empty()
                && self.last_flush.elapsed() >= SETTLE_AFTER_IDLE
            {
                self.record_settled();
            }
            if self.last_partition_check.elapsed() >= PARTITION_CHECK_EVERY {
                self.last_partition_check = Instant::now();
                self.adopt_new_partitions();
                self.report_lag();
            }
        }
        if !self.batch.is_empty() {
            self.flush(false);
        }
        if !self.settled.is_empty() {
            self.record_settled();
        }
        tracing::info!("projector pipeline stopped");
    }

    /// Assigns every owned partition not yet assigned: inserts its unfinished batch
    /// again, positions it where the batch log says, and remembers the payloads just
    /// before that point. Retries until the broker and ClickHouse answer or the
    /// pipeline is cancelled.
    fn adopt_new_partitions(&mut self) {
        let Some(all) = self.retry("list partitions", || {
            service_kit::kafka::partitions(&self.consumer, &self.kafka.topic).map_err(anyhow_free)
        }) else {
            return;
        };
        let new: Vec<i32> = self
            .assignment
            .owned(all)
            .into_iter()
            .filter(|partition| {
                !self.expected.contains_key(partition) && !self.stopped.contains(partition)
            })
            .collect();
        if new.is_empty() {
            return;
        }
        let sink = self.sink.clone();
        let runtime = self.runtime.clone();
        let Some(latest) = self.retry("read the batch log", || {
            runtime.block_on(sink.latest_batches()).map_err(anyhow_free)
        }) else {
            return;
        };
        if let Some(newest) = latest.values().map(|entry| entry.version).max() {
            self.last_version = self.last_version.max(newest);
        }
        let pending: BTreeMap<&str, &BatchLogRow> = new
            .iter()
            .filter_map(|partition| latest.get(partition))
            .filter(|entry| entry.is_pending())
            .map(|entry| (entry.token.as_str(), entry))
            .collect();
        for entry in pending.values() {
            if !self.insert_again(entry) {
                return;
            }
        }
        let mut positions = BTreeMap::new();
        for partition in new {
            let next = latest.get(&partition).map(|entry| entry.next_offset);
            if let Some(next) = next {
                if !self.inside_log(partition, next) {
                    self.stopped.insert(partition);
                    continue;
                }
                let warm = self.warm.remove(&partition) == Some(next);
                if !warm && !self.remember_before(partition, next) {
                    return;
                }
                self.durable.insert(partition, next);
            }
            positions.insert(partition, next);
        }
        if let Err(error) = source::assign(&self.consumer, &self.kafka.topic, &positions) {
            tracing::error!(error = %service_kit::error::chain(&error), "assignment failed");
            return;
        }
        for (partition, next) in &positions {
            tracing::info!(partition, next = ?next, "partition assigned");
            self.expected.insert(*partition, next.unwrap_or(0));
        }
        self.publish_positions();
    }

    /// Inserts a batch the log says may be unfinished again, from exactly its ranges and
    /// with its token. Returns false when cancelled first.
    fn insert_again(&mut self, entry: &BatchLogRow) -> bool {
        let age = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|now| now.saturating_sub(Duration::from_nanos(entry.version)))
            .unwrap_or_default();
        let ranges = pending_ranges(entry);
        if age > self.replay_max_age {
            metrics::counter!("projector_unresolved_batches_total").increment(1);
            tracing::error!(token = %entry.token, age_s = age.as_secs(), "an unfinished batch is too old to insert again safely (ClickHouse may no longer remember its token): it is left as it is; check its minutes with `projector reconcile`");
            for (partition, range) in &ranges {
                if self.assignment.owns(*partition) {
                    self.settled.insert(*partition, range.last + 1);
                }
            }
            return true;
        }
        tracing::warn!(token = %entry.token, "inserting an unfinished batch again");
        let mut replay = Batch::new(usize::MAX, Duration::MAX);
        for (partition, range) in &ranges {
            self.recent.forget(*partition);
            if !self.remember_before(*partition, range.first) {
                return false;
            }
            let Some(messages) = self.read_exactly(*partition, *range) else {
                return false;
            };
            for message in &messages {
                match self.project(message) {
                    Projected::Row(row) => replay.push(*row),
                    Projected::Covered => replay.cover(message.partition(), message.offset()),
                    Projected::Cancelled => return false,
                }
            }
            // What `recent` holds now is the window before the range's end: resuming
            // there (the usual case) needs no second read of it.
            self.warm.insert(*partition, range.last + 1);
        }
        let token = entry.token.clone();
        let sink = self.sink.clone();
        let runtime = self.runtime.clone();
        let rows = replay.rows().to_vec();
        let inserted = self.retry("insert an unfinished batch again", || {
            if rows.is_empty() {
                return Ok(());
            }
            runtime
                .block_on(sink.write(&rows, &token))
                .map_err(anyhow_free)
        });
        if inserted.is_none() {
            return false;
        }
        metrics::counter!("projector_batches_inserted_again_total").increment(1);
        for (partition, range) in &ranges {
            if self.assignment.owns(*partition) {
                self.settled.insert(*partition, range.last + 1);
            }
        }
        true
    }

    /// Whether `next` lies within partition's log; if not the partition is stopped
    /// loudly (resuming elsewhere would lose or double-count tags).
    fn inside_log(&self, partition: i32, next: i64) -> bool {
        match service_kit::kafka::watermarks_of(&self.consumer, &self.kafka.topic, partition) {
            Ok((low, high)) if next < low || next > high => {
                metrics::counter!("projector_resume_outside_log_total", "partition" => partition.to_string()).increment(1);
                tracing::error!(
                    partition,
                    resume = next,
                    low,
                    high,
                    "the batch log's resume offset is outside the log: partition stopped; rebuild into a fresh database (projector rebuild)"
                );
                false
            }
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(partition, error = %service_kit::error::chain(&error), "watermarks unavailable; assigning anyway");
                true
            }
        }
    }

    /// Reads the records just before `next` again, so recent payloads are remembered
    /// (a retry of a tag projected before a restart is still recognised). Reads back
    /// in growing chunks until the window of record time or of records is covered.
    fn remember_before(&mut self, partition: i32, next: i64) -> bool {
        let bounds = ReadBack {
            first_chunk: WARM_UP_CHUNK,
            max_records: i64::try_from(self.recent.max_records()).unwrap_or(i64::MAX),
            window_ms: self.recent.window_ms(),
            timeout: EXACT_READ_TIMEOUT,
        };
        let collected = match service_kit::kafka::read_back(&self.kafka, partition, next, bounds) {
            Ok(collected) => collected,
            Err(error) => {
                tracing::warn!(partition, error = %service_kit::error::chain(&error), "recent records not read again; a sender's retry of one may be counted twice");
                Vec::new()
            }
        };
        if self.cancel.is_cancelled() {
            return false;
        }
        self.recent.forget(partition);
        for (time, payload) in &collected {
            self.recent.is_retry(partition, *time, payload);
        }
        true
    }

    /// Reads `range` of `partition` exactly (every message still in the log).
    fn read_exactly(&self, partition: i32, range: OffsetRange) -> Option<Vec<OwnedMessage>> {
        self.retry("read a batch's range again", || {
            let mut messages = Vec::new();
            service_kit::kafka::read_range(
                &self.kafka,
                partition,
                range.first,
                range.last,
                EXACT_READ_TIMEOUT,
                |message| messages.push(message.detach()),
            )
            .map(|()| messages)
            .map_err(anyhow_free)
        })
    }

    /// Handles one polled message into the current batch. False when cancelled first.
    fn handle(&mut self, message: &OwnedMessage) -> bool {
        let (partition, offset) = (message.partition(), message.offset());
        if self
            .expected
            .get(&partition)
            .is_some_and(|next| offset < *next)
        {
            metrics::counter!("projector_replayed_skipped_total").increment(1);
            return true;
        }
        match self.project(message) {
            Projected::Row(row) => self.batch.push(*row),
            Projected::Covered => self.batch.cover(partition, offset),
            Projected::Cancelled => return false,
        }
        self.expected.insert(partition, offset + 1);
        if let Some(time) = message.timestamp().to_millis() {
            self.oldest_record_ms = Some(self.oldest_record_ms.map_or(time, |old| old.min(time)));
        }
        true
    }

    /// The projection of one message, the same live and in a replay: a sender's retry is
    /// skipped, a tag becomes a row, anything else becomes a dead letter. A registry
    /// outage is waited out (the live batch so far is inserted first).
    fn project(&mut self, message: &OwnedMessage) -> Projected {
        let (partition, offset) = (message.partition(), message.offset());
        let time = message.timestamp().to_millis().unwrap_or(0);
        if let Some(payload) = message.payload() {
            if self.recent.is_retry(partition, time, payload) {
                metrics::counter!("projector_sender_retries_skipped_total").increment(1);
                return Projected::Covered;
            }
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match self
                .runtime
                .block_on(self.decoder.decode_record(message.payload()))
            {
                Ok(tag) => {
                    let row = UserTagRow::from_tag(&tag, LogPosition { partition, offset });
                    return Projected::Row(Box::new(row));
                }
                Err(error) if error.is_transient() => {
                    metrics::counter!("projector_decode_retries_total").increment(1);
                    tracing::warn!(error = %service_kit::error::chain(&error), partition, offset, "schema registry unavailable; retrying");
                    if !self.batch.is_empty() {
                        self.flush(true);
                    }
                    if !pause(&self.runtime, &self.cancel, backoff) {
                        return Projected::Cancelled;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    let reason = service_kit::error::chain(&error).to_string();
                    return self.dead_letter(message, &reason);
                }
            }
        }
    }

    fn dead_letter(&self, message: &OwnedMessage, reason: &str) -> Projected {
        if self.dead_letters.send(message, reason, &self.cancel) {
            Projected::Covered
        } else {
            Projected::Cancelled
        }
    }

    /// Records the batch in the batch log, then inserts it with its token. With
    /// `retry_forever` it retries until ClickHouse takes it or the pipeline is
    /// cancelled; otherwise (shutdown) it tries once. A batch not inserted stays pending
    /// in the log and is inserted again at the next start.
    fn flush(&mut self, retry_forever: bool) {
        let started = Instant::now();
        if self.batch.rows().is_empty() {
            // Only skipped messages: nothing to insert, the positions move on.
            self.batch_done();
            return;
        }
        let version = self.next_version();
        let sink = self.sink.clone();
        let runtime = self.runtime.clone();
        let token = self.batch.token(&self.kafka.topic);
        let settled = self.settled.clone();
        let batch = &self.batch;
        let attempts = if retry_forever { u32::MAX } else { 1 };
        let recorded = retry_bounded(
            &self.runtime,
            &self.cancel,
            attempts,
            "record the batch",
            || runtime.block_on(sink.record_batch(batch, &settled, version)),
        );
        if !recorded {
            tracing::warn!("stopping before the batch was recorded: it will be read again");
            return;
        }
        self.settled.clear();
        let rows = self.batch.rows();
        let inserted = retry_bounded(
            &self.runtime,
            &self.cancel,
            attempts,
            "insert the batch",
            || runtime.block_on(sink.write(rows, &token)),
        );
        if !inserted {
            tracing::warn!(
                token,
                "stopping with the batch not inserted: it is inserted again at the next start"
            );
            return;
        }
        let rows = self.batch.rows().len();
        metrics::counter!("projector_rows_written_total").increment(rows as u64);
        metrics::histogram!("projector_batch_rows").record(rows as f64);
        metrics::histogram!("projector_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Some(oldest) = self.oldest_record_ms {
            let delay = ((now_ms() - oldest).max(0) as f64) / 1000.0;
            metrics::histogram!("projector_visibility_delay_seconds").record(delay);
            metrics::gauge!("projector_last_visibility_delay_seconds").set(delay);
        }
        self.batch_done();
    }

    /// The batch is in (or had nothing to insert): its partitions are settled at the
    /// offset after it, positions are published and committed for lag tooling.
    fn batch_done(&mut self) {
        let mut offsets = TopicPartitionList::new();
        for (partition, range) in self.batch.ranges() {
            let next = range.last + 1;
            self.settled.insert(*partition, next);
            self.durable.insert(*partition, next);
            let _ =
                offsets.add_partition_offset(&self.kafka.topic, *partition, Offset::Offset(next));
        }
        if offsets.count() > 0 {
            if let Err(error) = self.consumer.commit(&offsets, CommitMode::Async) {
                tracing::debug!(error = %error, "position commit to the broker failed (lag tooling only)");
            }
        }
        self.batch.clear();
        self.oldest_record_ms = None;
        self.last_flush = Instant::now();
        self.publish_positions();
    }

    /// Records that the settled partitions have nothing pending (one try; retried at
    /// the next idle moment).
    fn record_settled(&mut self) {
        let version = self.next_version();
        match self
            .runtime
            .block_on(self.sink.record_settled(&self.settled, version))
        {
            Ok(()) => self.settled.clear(),
            Err(error) => {
                tracing::warn!(error = %service_kit::error::chain(&error), "settled partitions not recorded; retrying later");
                self.last_flush = Instant::now();
            }
        }
    }

    fn next_version(&mut self) -> u64 {
        self.last_version = crate::sink::next_version(self.last_version);
        self.last_version
    }

    fn publish_positions(&self) {
        self.positions.send_replace(Positions {
            next: self.durable.clone(),
        });
    }

    fn report_lag(&self) {
        let marks = self.consumer.context().high_watermarks();
        for (partition, next) in &self.expected {
            if let Some(high) = marks.get(partition) {
                let durable = self.durable.get(partition).copied().unwrap_or(*next);
                metrics::gauge!("projector_consumer_lag", "partition" => partition.to_string())
                    .set((high - durable).max(0) as f64);
            }
        }
    }

    /// Runs `attempt` until it succeeds or the pipeline is cancelled (`None`).
    fn retry<T>(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<T, Box<dyn std::error::Error + Send + Sync>>,
    ) -> Option<T> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match attempt() {
                Ok(value) => return Some(value),
                Err(error) => {
                    metrics::counter!("projector_retries_total").increment(1);
                    tracing::warn!(what, error = %service_kit::error::chain(error.as_ref()), "failed; retrying");
                    if !pause(&self.runtime, &self.cancel, backoff) {
                        return None;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

fn anyhow_free<E: std::error::Error + Send + Sync + 'static>(
    error: E,
) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(error)
}

/// Runs `attempt` up to `attempts` times with backoff between failures; false when
/// every attempt failed or cancellation came first.
fn retry_bounded<E: std::error::Error + 'static>(
    runtime: &Handle,
    cancel: &CancellationToken,
    attempts: u32,
    what: &str,
    mut attempt: impl FnMut() -> Result<(), E>,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    for attempt_number in 1..=attempts {
        match attempt() {
            Ok(()) => return true,
            Err(error) => {
                metrics::counter!("projector_clickhouse_retries_total").increment(1);
                tracing::warn!(what, attempt = attempt_number, error = %service_kit::error::chain(&error), "clickhouse request failed");
                if attempt_number == attempts || !pause(runtime, cancel, backoff) {
                    return false;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    false
}

/// Sleeps `duration` unless cancelled first; false when cancelled.
pub fn pause(runtime: &Handle, cancel: &CancellationToken, duration: Duration) -> bool {
    runtime.block_on(async {
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(duration) => true,
        }
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
