//! `archiver verify`: the archive checked against itself and against the offsets the
//! archiver committed to the broker (see `archive::verify` for what is proved).

use crate::config::Config;
use archive::{ArchiveError, ArchiveStore, VerifyReport};
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The archive could not be read.
    #[error("reading the archive")]
    Archive(#[from] ArchiveError),
    /// A blocking task failed.
    #[error("committed offsets task failed")]
    Join,
}

/// Verifies the configured archive. The committed offsets come from the broker when it
/// answers (verification runs without it, comparing the files with each other only).
pub async fn run(config: &Config) -> Result<VerifyReport, VerifyError> {
    let store = ArchiveStore::open(&config.archive_url, &config.kafka.topic)?;
    let settings = config.clone();
    let committed = tokio::task::spawn_blocking(move || committed_offsets(&settings))
        .await
        .map_err(|_| VerifyError::Join)?;
    Ok(archive::verify(&store, &committed).await?)
}

/// The offsets the archiver group committed, by partition (empty when the broker does
/// not answer).
fn committed_offsets(config: &Config) -> BTreeMap<i32, i64> {
    let read = || -> Result<BTreeMap<i32, i64>, rdkafka::error::KafkaError> {
        let consumer = crate::startup::consumer(config)?;
        let partitions = service_kit::kafka::partitions(&consumer, &config.kafka.topic)?;
        let mut list = TopicPartitionList::new();
        for partition in partitions {
            list.add_partition(&config.kafka.topic, partition);
        }
        let committed = consumer.committed_offsets(list, Duration::from_secs(10))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|element| match element.offset() {
                Offset::Offset(offset) => Some((element.partition(), offset)),
                _ => None,
            })
            .collect())
    };
    read().unwrap_or_else(|error| {
        tracing::warn!(error = %service_kit::error::chain(&error), "committed offsets unavailable: the files are checked against each other only");
        BTreeMap::new()
    })
}
