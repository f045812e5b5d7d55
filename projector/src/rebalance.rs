//! The consumer context: where a partition resumes when it is assigned, what happens to
//! the pending batch when partitions are revoked, and consumer lag from librdkafka's
//! statistics.
//!
//! On assignment each partition is positioned at the next offset ClickHouse holds for
//! it (or the beginning of the log), never at the broker's committed offset: rows and
//! their offsets are written by one insert, so ClickHouse is always exactly in step.
//! On revocation the pending batch is discarded (its rows were never inserted); the
//! next owner reads them again from ClickHouse's offsets.

use crate::sink::ClickHouseSink;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;

/// Consumer callbacks of the projector. Runs on the consumer thread (never a runtime thread).
pub struct ProjectorContext {
    runtime: Handle,
    sink: ClickHouseSink,
    revoked: AtomicBool,
    assigned: AtomicBool,
}

impl ProjectorContext {
    /// A context that reads resume offsets through `sink`, using `runtime` for async calls.
    pub fn new(runtime: Handle, sink: ClickHouseSink) -> Self {
        Self {
            runtime,
            sink,
            revoked: AtomicBool::new(false),
            assigned: AtomicBool::new(false),
        }
    }

    /// Whether partitions were revoked since the last call (the pending batch must go).
    pub fn take_revoked(&self) -> bool {
        self.revoked.swap(false, Ordering::SeqCst)
    }

    /// Whether partitions were assigned since the last call (offsets were reloaded).
    pub fn take_assigned(&self) -> bool {
        self.assigned.swap(false, Ordering::SeqCst)
    }

    /// Reads ClickHouse's resume offsets, retrying until it answers: nothing may be
    /// consumed from a partition before its position is known.
    fn resume_offsets(&self) -> std::collections::HashMap<i32, i64> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.runtime.block_on(self.sink.next_offsets()) {
                Ok(offsets) => return offsets,
                Err(error) => {
                    metrics::counter!("projector_clickhouse_retries_total").increment(1);
                    tracing::warn!(error = %error, "cannot read resume offsets, retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn assign(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &mut TopicPartitionList,
    ) -> KafkaResult<()> {
        let offsets = self.resume_offsets();
        let mut positioned = TopicPartitionList::new();
        for element in partitions.elements() {
            let resume = offsets
                .get(&element.partition())
                .map_or(Offset::Beginning, |next| Offset::Offset(*next));
            tracing::info!(topic = element.topic(), partition = element.partition(), offset = ?resume, "partition assigned");
            if let Offset::Offset(next) = resume {
                warn_if_outside_log(consumer, element.topic(), element.partition(), next);
            }
            positioned.add_partition_offset(element.topic(), element.partition(), resume)?;
        }
        consumer.assign(&positioned)
    }
}

/// A resume position outside the log (topic recreated, log truncated before projection)
/// cannot be honoured without losing or double-counting tags: the partition is left
/// where ClickHouse says (it stalls, `auto.offset.reset=error`) and operators are told.
fn warn_if_outside_log(
    consumer: &BaseConsumer<ProjectorContext>,
    topic: &str,
    partition: i32,
    next: i64,
) {
    match consumer.fetch_watermarks(topic, partition, Duration::from_secs(2)) {
        Ok((low, high)) if next < low || next > high => {
            metrics::counter!("projector_resume_outside_log_total", "partition" => partition.to_string()).increment(1);
            tracing::error!(
                topic,
                partition,
                resume = next,
                low,
                high,
                "ClickHouse's resume offset is outside the log: partition stopped; rebuild into a fresh database (projector rebuild)"
            );
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(topic, partition, error = %error, "watermarks unavailable at assignment")
        }
    }
}

impl ClientContext for ProjectorContext {
    fn stats(&self, statistics: Statistics) {
        for topic in statistics.topics.values() {
            for partition in topic
                .partitions
                .values()
                .filter(|partition| partition.partition >= 0)
            {
                if partition.consumer_lag >= 0 {
                    metrics::gauge!("projector_consumer_lag", "partition" => partition.partition.to_string())
                        .set(partition.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for ProjectorContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        error: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        match error {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Err(error) = self.assign(consumer, partitions) {
                    tracing::error!(error = %error, "assignment failed");
                }
                self.assigned.store(true, Ordering::SeqCst);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = partitions.count(), "partitions revoked");
                self.revoked.store(true, Ordering::SeqCst);
                if let Err(error) = consumer.unassign() {
                    tracing::error!(error = %error, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                self.revoked.store(true, Ordering::SeqCst);
                if let Err(error) = consumer.unassign() {
                    tracing::error!(error = %error, "unassign failed");
                }
            }
        }
    }
}
