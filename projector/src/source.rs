//! The Kafka side of the projector: the consumer (partitions assigned directly, see
//! [`crate::assignment`]), the topic's partitions and watermarks, and exact reads of
//! offset ranges (a batch inserted again after a crash, the records before a resume
//! point read again to remember recent payloads).

use crate::config::Config;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use service_kit::settings::KafkaSettings;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long one broker request (metadata, watermarks) may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

/// The projector's consumer settings (also used by `bench projector` to measure the raw
/// consume rate with exactly these settings). Partitions are assigned, never
/// subscribed; the group id is used only to commit positions for lag tooling.
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut consumer = service_kit::kafka::base_config(&config.kafka);
    consumer
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Positions always come from ClickHouse (or the explicit beginning). A position
        // outside the log (topic recreated, log truncated by retention) must stop that
        // partition loudly, never silently replay and double-count.
        .set("auto.offset.reset", "error")
        .set("statistics.interval.ms", "5000");
    consumer
}

/// Consumer callbacks: the partitions' high watermarks from librdkafka's statistics.
pub use service_kit::kafka::HighWatermarks as SourceContext;

/// The projector's consumer.
pub type SourceConsumer = BaseConsumer<SourceContext>;

/// Every partition id of `topic`.
pub fn partitions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<i32>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), BROKER_TIMEOUT)?;
    let mut partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|found| found.name() == topic && found.error().is_none())
        .flat_map(|found| found.partitions().iter().map(|partition| partition.id()))
        .collect();
    partitions.sort_unstable();
    Ok(partitions)
}

/// Adds `positions` (partition, next offset to read; `None` for the log's beginning)
/// to the consumer's assignment.
pub fn assign(
    consumer: &SourceConsumer,
    topic: &str,
    positions: &BTreeMap<i32, Option<i64>>,
) -> Result<(), KafkaError> {
    let mut list = TopicPartitionList::new();
    for (partition, next) in positions {
        let offset = next.map_or(Offset::Beginning, Offset::Offset);
        list.add_partition_offset(topic, *partition, offset)?;
    }
    consumer.incremental_assign(&list)
}

/// A consumer of its own for one exact read. It never joins its group nor commits
/// (librdkafka only wants a group id to exist before it assigns partitions).
fn reader(settings: &KafkaSettings) -> Result<BaseConsumer, KafkaError> {
    service_kit::kafka::base_config(settings)
        .set("group.id", "allezon-projector-exact-reads")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .create()
}

/// Why an exact read of the log failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The broker failed.
    #[error("kafka")]
    Kafka(#[from] KafkaError),
    /// The range was not read within the time given.
    #[error("offsets {first}..={last} of partition {partition} not read within {waited:?}")]
    Incomplete {
        /// The partition.
        partition: i32,
        /// First offset wanted.
        first: i64,
        /// Last offset wanted.
        last: i64,
        /// How long it waited.
        waited: Duration,
    },
}

/// Reads offsets `first..=last` of `partition` (those still in the log) and hands
/// each message to `visit`, in order. Blocking.
pub fn read_range(
    settings: &KafkaSettings,
    partition: i32,
    first: i64,
    last: i64,
    timeout: Duration,
    mut visit: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), ReadError> {
    if last < first {
        return Ok(());
    }
    let consumer = reader(settings)?;
    let (low, high) = consumer.fetch_watermarks(&settings.topic, partition, BROKER_TIMEOUT)?;
    let (first, last) = (first.max(low), last.min(high - 1));
    if last < first {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&settings.topic, partition, Offset::Offset(first))?;
    consumer.assign(&list)?;
    let started = Instant::now();
    let mut next = first;
    while next <= last {
        if started.elapsed() > timeout {
            return Err(ReadError::Incomplete {
                partition,
                first,
                last,
                waited: timeout,
            });
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) if message.partition() == partition && message.offset() >= next => {
                next = message.offset() + 1;
                if message.offset() <= last {
                    visit(&message);
                }
            }
            Some(Ok(_)) | None => {}
            Some(Err(error)) => return Err(error.into()),
        }
    }
    Ok(())
}

/// The `(low, high)` watermarks of `partition`. Blocking.
pub fn watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), KafkaError> {
    consumer.fetch_watermarks(topic, partition, BROKER_TIMEOUT)
}
