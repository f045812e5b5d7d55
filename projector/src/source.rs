//! The Kafka side of the projector: [`KafkaSource`], the tag log as the pipeline reads
//! it ([`crate::edges::TagSource`]): the consumer (partitions assigned directly, see
//! `service_kit::assignment`), the topic's partitions and watermarks, and exact reads
//! of offset ranges (a batch inserted again after a crash, the records before a resume
//! point read again to remember recent payloads), which are `service_kit::kafka`'s.

use crate::batch::OffsetRange;
use crate::config::Config;
use crate::edges::TagSource;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::{Offset, TopicPartitionList};
use service_kit::kafka::{ReadBack, ReadError};
use service_kit::settings::KafkaSettings;
use std::collections::BTreeMap;
use std::time::Duration;

/// The projector's consumer settings (also used by `bench projector` to measure the raw
/// consume rate with exactly these settings). Partitions are assigned, never
/// subscribed; the group id is used only to commit positions for lag tooling.
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut consumer =
        service_kit::kafka::assigned_consumer_config(&config.kafka, &config.group_id);
    consumer.set("statistics.interval.ms", "5000");
    consumer
}

/// Consumer callbacks: the partitions' high watermarks from librdkafka's statistics.
pub(crate) use service_kit::kafka::HighWatermarks as SourceContext;

/// The projector's consumer.
pub(crate) type SourceConsumer = BaseConsumer<SourceContext>;

/// Why the tag log could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The broker or the consumer failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// An exact read of a range failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The tag topic read through the projector's consumer, with exact reads on consumers
/// of their own.
pub(crate) struct KafkaSource {
    consumer: SourceConsumer,
    settings: KafkaSettings,
}

impl KafkaSource {
    /// The topic of `settings` read through `consumer` (made from [`consumer_config`]).
    pub(crate) fn new(consumer: SourceConsumer, settings: KafkaSettings) -> Self {
        Self { consumer, settings }
    }
}

impl TagSource for KafkaSource {
    type Error = SourceError;

    fn partitions(&self) -> Result<Vec<i32>, SourceError> {
        Ok(service_kit::kafka::partitions(
            &self.consumer,
            &self.settings.topic,
        )?)
    }

    fn watermarks(&self, partition: i32) -> Result<(i64, i64), SourceError> {
        Ok(service_kit::kafka::watermarks_of(
            &self.consumer,
            &self.settings.topic,
            partition,
        )?)
    }

    fn assign(&self, positions: &BTreeMap<i32, Option<i64>>) -> Result<(), SourceError> {
        let mut list = TopicPartitionList::new();
        for (partition, next) in positions {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            list.add_partition_offset(&self.settings.topic, *partition, offset)?;
        }
        Ok(self.consumer.incremental_assign(&list)?)
    }

    fn poll(&self, wait: Duration) -> Option<Result<OwnedMessage, SourceError>> {
        // Detached (copied) from the consumer: handling one may insert the batch.
        self.consumer
            .poll(wait)
            .map(|polled| polled.map(|message| message.detach()).map_err(Into::into))
    }

    fn commit(&self, next: &BTreeMap<i32, i64>) -> Result<(), SourceError> {
        let mut offsets = TopicPartitionList::new();
        for (partition, next) in next {
            offsets.add_partition_offset(
                &self.settings.topic,
                *partition,
                Offset::Offset(*next),
            )?;
        }
        if offsets.count() == 0 {
            return Ok(());
        }
        Ok(self.consumer.commit(&offsets, CommitMode::Async)?)
    }

    fn high_watermarks(&self) -> BTreeMap<i32, i64> {
        self.consumer.context().high_watermarks()
    }

    fn read_range(
        &self,
        partition: i32,
        range: OffsetRange,
        timeout: Duration,
    ) -> Result<Vec<OwnedMessage>, SourceError> {
        let mut messages = Vec::new();
        service_kit::kafka::read_range(
            &self.settings,
            partition,
            range.first,
            range.last,
            timeout,
            |message| messages.push(message.detach()),
        )?;
        Ok(messages)
    }

    fn read_back(
        &self,
        partition: i32,
        next: i64,
        bounds: ReadBack,
    ) -> Result<Vec<(i64, Vec<u8>)>, SourceError> {
        Ok(service_kit::kafka::read_back(
            &self.settings,
            partition,
            next,
            bounds,
        )?)
    }
}
