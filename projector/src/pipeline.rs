//! The consume-decode-insert loop, run on its own thread.
//!
//! Sequential by design: a batch is inserted before the consumer is polled again, so
//! a rebalance (which only happens inside a poll) never meets an insert in flight.
//! While ClickHouse is down the loop retries with backoff, partitions paused but the
//! consumer still polled, so the group keeps the member and a revocation during the
//! outage still discards the pending batch. Nothing is committed until an insert succeeds.

use crate::batch::Batch;
use crate::dead_letter::DeadLetters;
use crate::rebalance::ProjectorContext;
use crate::sink::ClickHouseSink;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use schemas::TagDecoder;
use service_kit::tables::{LogPosition, UserTagRow};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

const POLL_SLICE: Duration = Duration::from_millis(100);

/// Everything the loop owns.
pub struct Pipeline {
    /// The group consumer.
    pub consumer: BaseConsumer<ProjectorContext>,
    /// The projection state.
    pub projection: Projection,
}

/// The state the loop works on, apart from the consumer (messages borrow the consumer).
pub struct Projection {
    /// Where batches go.
    pub sink: ClickHouseSink,
    /// Decodes payloads of any known schema.
    pub decoder: TagDecoder,
    /// Where undecodable messages go.
    pub dead_letters: DeadLetters,
    /// Rows not yet inserted.
    pub batch: Batch,
    /// The tag topic.
    pub topic: String,
    /// Runtime for the async ClickHouse and decoder calls.
    pub runtime: Handle,
    /// Set to stop after the current batch.
    pub stop: Arc<AtomicBool>,
    /// Per partition, the next offset whose predecessors are all durably handled
    /// (inserted or dead-lettered): what `projector rebuild` waits on.
    pub durable: Arc<Mutex<HashMap<i32, i64>>>,
}

/// Why the loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Subscribing failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

impl Pipeline {
    /// Consumes until `stop` is set, then inserts what is pending (one try) and leaves the group.
    pub fn run(self) -> Result<(), PipelineError> {
        let Self {
            consumer,
            mut projection,
        } = self;
        consumer.subscribe(&[&projection.topic])?;
        // The next offset expected per partition: a message before it was already projected.
        let mut expected: HashMap<i32, i64> = HashMap::new();
        while !projection.stop.load(Ordering::SeqCst) {
            let wait = if projection.batch.is_empty() {
                POLL_SLICE
            } else {
                projection.batch.time_left().min(POLL_SLICE)
            };
            let polled = consumer.poll(wait);
            projection.apply_rebalances(&consumer, &mut expected);
            match polled {
                Some(Ok(message)) => projection.accept(&message, &mut expected),
                Some(Err(error)) => {
                    metrics::counter!("projector_consumer_errors_total").increment(1);
                    tracing::error!(error = %error, "consumer error (an offset out of range stops that partition: see README)");
                }
                None => {}
            }
            if projection.batch.is_due() {
                projection.flush(&consumer, &mut expected, true);
            }
            if projection.batch.is_empty() {
                projection.publish_durable(&expected);
            }
        }
        if !projection.batch.is_empty() {
            projection.flush(&consumer, &mut expected, false);
        }
        tracing::info!("projector pipeline stopped");
        Ok(())
    }
}

type GroupConsumer = BaseConsumer<ProjectorContext>;

impl Projection {
    /// With nothing pending, everything accepted so far is inserted or dead-lettered.
    fn publish_durable(&self, expected: &HashMap<i32, i64>) {
        if let Ok(mut durable) = self.durable.lock() {
            for (partition, next) in expected {
                let entry = durable.entry(*partition).or_insert(0);
                *entry = (*entry).max(*next);
            }
        }
    }

    fn apply_rebalances(&mut self, consumer: &GroupConsumer, expected: &mut HashMap<i32, i64>) {
        let revoked = consumer.context().take_revoked();
        let assigned = consumer.context().take_assigned();
        if revoked && !self.batch.is_empty() {
            tracing::info!(
                rows = self.batch.rows().len(),
                "partitions revoked: pending batch discarded, the next owner reads it again"
            );
            self.batch.clear();
        }
        if revoked || assigned {
            expected.clear();
        }
    }

    fn accept(&mut self, message: &BorrowedMessage<'_>, expected: &mut HashMap<i32, i64>) {
        let (partition, offset) = (message.partition(), message.offset());
        if expected.get(&partition).is_some_and(|next| offset < *next) {
            metrics::counter!("projector_replayed_skipped_total").increment(1);
            return;
        }
        expected.insert(partition, offset + 1);
        let decoded = match message.payload() {
            Some(payload) => self
                .runtime
                .block_on(self.decoder.decode(payload))
                .map_err(|error| error.to_string()),
            None => Err("empty payload".to_owned()),
        };
        match decoded {
            Ok(tag) => {
                let position = LogPosition {
                    topic: &self.topic,
                    partition,
                    offset,
                };
                self.batch.push(UserTagRow::from_tag(&tag, position));
            }
            Err(reason) => self.dead_letters.send(message, &reason),
        }
    }

    /// Inserts the batch. With `retry_forever` it retries until ClickHouse takes it or
    /// the partitions are revoked; otherwise (shutdown) it tries once.
    fn flush(
        &mut self,
        consumer: &GroupConsumer,
        expected: &mut HashMap<i32, i64>,
        retry_forever: bool,
    ) {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.runtime.block_on(self.sink.write(self.batch.rows())) {
                Ok(()) => break,
                Err(error) => {
                    metrics::counter!("projector_clickhouse_retries_total").increment(1);
                    tracing::warn!(error = %error, rows = self.batch.rows().len(), "insert failed, retrying");
                    if !retry_forever || self.stop.load(Ordering::SeqCst) {
                        tracing::warn!("stopping with an uninserted batch: it will be read again");
                        return;
                    }
                    if !self.wait_keeping_membership(consumer, backoff, expected) {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        let rows = self.batch.rows().len();
        metrics::counter!("projector_rows_written_total").increment(rows as u64);
        metrics::histogram!("projector_batch_rows").record(rows as f64);
        metrics::histogram!("projector_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        self.commit_to_broker(consumer);
        self.batch.clear();
    }

    /// Waits `duration` with the assignment paused, polling so the group keeps us.
    /// Returns false when the partitions were revoked meanwhile (the batch is gone).
    fn wait_keeping_membership(
        &mut self,
        consumer: &GroupConsumer,
        duration: Duration,
        expected: &mut HashMap<i32, i64>,
    ) -> bool {
        let assignment = consumer.assignment().unwrap_or_default();
        let _ = consumer.pause(&assignment);
        let until = Instant::now() + duration;
        let mut still_owned = true;
        while Instant::now() < until {
            let polled =
                consumer.poll(POLL_SLICE.min(until.saturating_duration_since(Instant::now())));
            if consumer.context().take_revoked() {
                consumer.context().take_assigned();
                tracing::info!(
                    "partitions revoked while ClickHouse was down: pending batch discarded"
                );
                self.batch.clear();
                expected.clear();
                still_owned = false;
                break;
            }
            // A message fetched before the pause is still ours to project.
            if let Some(Ok(message)) = polled {
                self.accept(&message, expected);
            }
        }
        if still_owned {
            let _ = consumer.resume(&assignment);
        }
        still_owned
    }

    /// Records progress in the broker too, for lag tooling only: resumption reads
    /// ClickHouse's offsets.
    fn commit_to_broker(&self, consumer: &GroupConsumer) {
        let mut next: HashMap<i32, i64> = HashMap::new();
        for row in self.batch.rows() {
            let entry = next.entry(row.kafka_partition).or_insert(0);
            *entry = (*entry).max(row.kafka_offset + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in next {
            let _ = offsets.add_partition_offset(&self.topic, partition, Offset::Offset(offset));
        }
        if offsets.count() > 0 {
            if let Err(error) = consumer.commit(&offsets, CommitMode::Async) {
                tracing::debug!(error = %error, "offset commit to broker failed");
            }
        }
    }
}
