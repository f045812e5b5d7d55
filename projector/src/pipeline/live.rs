//! The live loop: poll the owned partitions, project each message into the batch, and
//! insert the batch when it is due (full or old enough), before polling again.
//!
//! A flush records the batch in the batch log (pending, with its ranges and token),
//! then inserts it with that token, retrying both until ClickHouse takes them. Once a
//! partition's batch is in, the partition is *settled*: its next batch-log entry (the
//! next batch's, or after a second of idleness one of its own) says nothing is pending
//! there, so a restart does not insert that batch again. At shutdown the pending batch
//! gets one try and stays pending in the log when it fails.

use super::project::Projected;
use super::Pipeline;
use crate::edges::{BatchSink, DeadLetterSink, TagSource};
use rdkafka::message::{Message, OwnedMessage};
use service_kit::backoff::Attempts;
use service_kit::metric_names::projector as names;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Longest single wait for the broker, so cancellation is seen promptly.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// How often the topic is checked for new partitions.
const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(30);
/// How long the loop idles before it records that the last batch is in.
const SETTLE_AFTER_IDLE: Duration = Duration::from_secs(1);

impl<Source: TagSource, Sink: BatchSink, Letters: DeadLetterSink> Pipeline<Source, Sink, Letters> {
    /// Projects until cancelled, then inserts what is pending (one try) and records it.
    /// Blocking: run it on a thread of its own.
    pub(crate) fn run(mut self) {
        self.adopt_new_partitions();
        self.last_partition_check = Instant::now();
        while !self.cancel.is_cancelled() {
            let wait = if self.batch.is_empty() {
                POLL_SLICE
            } else {
                self.batch.time_left().min(POLL_SLICE)
            };
            match self.source.poll(wait) {
                Some(Ok(message)) => {
                    let handled = self.handle(&message);
                    if !handled {
                        break;
                    }
                }
                Some(Err(error)) => {
                    metrics::counter!(names::CONSUMER_ERRORS.name).increment(1);
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

    /// Handles one polled message into the current batch. False when cancelled first.
    fn handle(&mut self, message: &OwnedMessage) -> bool {
        let (partition, offset) = (message.partition(), message.offset());
        if self
            .expected
            .get(&partition)
            .is_some_and(|next| offset < *next)
        {
            metrics::counter!(names::REPLAYED_SKIPPED.name).increment(1);
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

    /// Records the batch in the batch log, then inserts it with its token. With
    /// `retry_forever` it retries until ClickHouse takes it or the pipeline is
    /// cancelled; otherwise (shutdown) it tries once. A batch not inserted stays pending
    /// in the log and is inserted again at the next start.
    pub(super) fn flush(&mut self, retry_forever: bool) {
        let started = Instant::now();
        if self.batch.rows().is_empty() {
            // Only skipped messages: nothing to insert, the positions move on.
            self.batch_done();
            return;
        }
        let version = self.next_version();
        self.batch.stamp(version);
        let token = self.batch.token(&self.topic);
        let attempts = if retry_forever {
            Attempts::UntilCancelled
        } else {
            Attempts::AtMost(1)
        };
        let recorded = self.retry_clickhouse(attempts, "record the batch", || {
            self.wait(self.sink.record_batch(&self.batch, &self.settled, version))
        });
        if !recorded {
            tracing::warn!("stopping before the batch was recorded: it will be read again");
            return;
        }
        self.settled.clear();
        let inserted = self.retry_clickhouse(attempts, "insert the batch", || {
            self.wait(self.sink.write(self.batch.rows(), &token))
        });
        if !inserted {
            tracing::warn!(
                token,
                "stopping with the batch not inserted: it is inserted again at the next start"
            );
            return;
        }
        let rows = self.batch.rows().len();
        metrics::counter!(names::ROWS_WRITTEN.name).increment(rows as u64);
        metrics::histogram!(names::BATCH_ROWS.name).record(rows as f64);
        metrics::histogram!(names::BATCH_DURATION.name).record(started.elapsed().as_secs_f64());
        if let Some(oldest) = self.oldest_record_ms {
            let delay = ((service_kit::clock::now_ms() - oldest).max(0) as f64) / 1000.0;
            metrics::histogram!(names::VISIBILITY_DELAY.name).record(delay);
            metrics::gauge!(names::LAST_VISIBILITY_DELAY.name).set(delay);
        }
        self.batch_done();
    }

    /// The batch is in (or had nothing to insert): its partitions are settled at the
    /// offset after it, positions are published and committed for lag tooling.
    fn batch_done(&mut self) {
        let mut committed = BTreeMap::new();
        for (partition, range) in self.batch.ranges() {
            let next = range.last + 1;
            self.settled.insert(*partition, next);
            self.durable.insert(*partition, next);
            committed.insert(*partition, next);
        }
        if let Err(error) = self.source.commit(&committed) {
            tracing::debug!(error = %error, "position commit to the broker failed (lag tooling only)");
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
        match self.wait(self.sink.record_settled(&self.settled, version)) {
            Ok(()) => self.settled.clear(),
            Err(error) => {
                tracing::warn!(error = %service_kit::error::chain(&error), "settled partitions not recorded; retrying later");
                self.last_flush = Instant::now();
            }
        }
    }

    fn report_lag(&self) {
        let marks = self.source.high_watermarks();
        for (partition, next) in &self.expected {
            if let Some(high) = marks.get(partition) {
                let durable = self.durable.get(partition).copied().unwrap_or(*next);
                metrics::gauge!(names::CONSUMER_LAG.name, "partition" => partition.to_string())
                    .set((high - durable).max(0) as f64);
            }
        }
    }
}
