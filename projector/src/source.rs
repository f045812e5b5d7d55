//! The Kafka side of the projector: the consumer (partitions assigned directly, see
//! `service_kit::assignment`), the topic's partitions and watermarks. Exact reads of
//! offset ranges (a batch inserted again after a crash, the records before a resume
//! point read again to remember recent payloads) are `service_kit::kafka`'s.

use crate::config::Config;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;

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
