//! Resuming a partition: where the batch log says, never where the broker's group says.
//!
//! When a partition is adopted (at start, or when the topic grows):
//! 1. its latest batch-log entry is read; if it is still pending, the batch it names may
//!    be missing, wholly or in part, so it is read again from exactly its ranges and
//!    inserted with its own token (ClickHouse keeps whatever landed once);
//! 2. its resume point, the entry's next offset, must lie within the broker's log, or
//!    the partition is stopped loudly (resuming elsewhere loses or doubles tags);
//! 3. the records just before that point are read again to remember recent payloads
//!    (a sender's retry of a tag projected before a restart is still recognised);
//! 4. it is assigned to the consumer at that point.
//!
//! Everything is retried until the broker and ClickHouse answer or the pipeline is
//! cancelled.

use super::project::Projected;
use super::Pipeline;
use crate::batch::{Batch, OffsetRange};
use crate::edges::{BatchSink, DeadLetterSink, TagSource};
use crate::sink::pending_ranges;
use rdkafka::message::{Message, OwnedMessage};
use read_model::BatchLogRow;
use service_kit::kafka::ReadBack;
use service_kit::metric_names::projector as names;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// How long an exact read of a range (replay, warm-up) may take.
const EXACT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The first chunk read back before a resume point to remember recent payloads: at the
/// contract's 1,000 tags/s over the local stack's 2 partitions the 30 s retry window is
/// about 15,000 records a partition, so one read covers it (each read sets up a
/// consumer, which costs more than the records on a loaded machine).
const WARM_UP_CHUNK: i64 = 16_000;

impl<Source: TagSource, Sink: BatchSink, Letters: DeadLetterSink> Pipeline<Source, Sink, Letters> {
    /// Assigns every owned partition not yet assigned: inserts its unfinished batch
    /// again, positions it where the batch log says, and remembers the payloads just
    /// before that point. Retries until the broker and ClickHouse answer or the
    /// pipeline is cancelled.
    pub(super) fn adopt_new_partitions(&mut self) {
        let Some(all) = self.retry("list partitions", || self.source.partitions()) else {
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
        let Some(latest) = self.retry("read the batch log", || {
            self.wait(self.sink.latest_batches())
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
        if let Err(error) = self.source.assign(&positions) {
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
            metrics::counter!(names::UNRESOLVED_BATCHES.name).increment(1);
            tracing::error!(token = %entry.token, age_s = age.as_secs(), "an unfinished batch is too old to insert again safely (ClickHouse may no longer remember its token): it is left as it is; check its minutes with `projector reconcile`");
            self.settle_owned(&ranges);
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
        // The rows go where the first attempt put them (its ten minutes of ingestion),
        // so its token deduplicates whatever of it landed.
        replay.stamp(entry.version);
        let rows = replay.rows();
        let inserted = self.retry("insert an unfinished batch again", || {
            if rows.is_empty() {
                return Ok(());
            }
            self.wait(self.sink.write(rows, &entry.token))
        });
        if inserted.is_none() {
            return false;
        }
        metrics::counter!(names::BATCHES_INSERTED_AGAIN.name).increment(1);
        self.settle_owned(&ranges);
        true
    }

    /// The owned partitions of `ranges` are settled at the offset after their range.
    fn settle_owned(&mut self, ranges: &BTreeMap<i32, OffsetRange>) {
        for (partition, range) in ranges {
            if self.assignment.owns(*partition) {
                self.settled.insert(*partition, range.last + 1);
            }
        }
    }

    /// Whether `next` lies within partition's log; if not the partition is stopped
    /// loudly (resuming elsewhere would lose or double-count tags).
    fn inside_log(&self, partition: i32, next: i64) -> bool {
        match self.source.watermarks(partition) {
            Ok((low, high)) if next < low || next > high => {
                metrics::counter!(names::RESUME_OUTSIDE_LOG.name, "partition" => partition.to_string()).increment(1);
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
    /// False when cancelled meanwhile.
    fn remember_before(&mut self, partition: i32, next: i64) -> bool {
        let bounds = ReadBack {
            first_chunk: WARM_UP_CHUNK,
            max_records: i64::try_from(self.recent.max_records()).unwrap_or(i64::MAX),
            window_ms: self.recent.window_ms(),
            timeout: EXACT_READ_TIMEOUT,
        };
        let collected = match self.source.read_back(partition, next, bounds) {
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
            self.source.read_range(partition, range, EXACT_READ_TIMEOUT)
        })
    }
}
