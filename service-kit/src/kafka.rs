//! The base librdkafka configuration, the topic's watermarks (asked of the broker, or as
//! a consumer's fetches last saw them) and the broker readiness probe.

use crate::health::DependencyStatus;
use crate::settings::KafkaSettings;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use std::collections::BTreeMap;
use std::time::Duration;

/// Client settings every producer and consumer starts from.
pub fn base_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        // Tansu (the local broker) listens on IPv4 only.
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

/// A client used only to ask the broker for metadata.
pub fn metadata_client(
    settings: &KafkaSettings,
) -> Result<BaseConsumer, rdkafka::error::KafkaError> {
    base_config(settings).create()
}

/// `(low, high)` watermarks of every partition of `settings.topic`, by partition id.
/// Blocking: call it from `spawn_blocking`.
pub fn watermarks(
    settings: &KafkaSettings,
) -> Result<std::collections::HashMap<i32, (i64, i64)>, rdkafka::error::KafkaError> {
    use rdkafka::consumer::Consumer;
    let client = metadata_client(settings)?;
    let metadata = client.fetch_metadata(Some(&settings.topic), Duration::from_secs(10))?;
    let mut marks = std::collections::HashMap::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            let mark = client.fetch_watermarks(
                &settings.topic,
                partition.id(),
                Duration::from_secs(10),
            )?;
            marks.insert(partition.id(), mark);
        }
    }
    Ok(marks)
}

/// Checks that the broker answers and knows the topic, within `timeout`.
/// Blocking: call it from `spawn_blocking`.
/// Works for any producer or consumer through its `client()`.
pub fn probe_blocking<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> DependencyStatus {
    let error = match client.fetch_metadata(Some(topic), timeout) {
        Ok(metadata) => match metadata.topics().first() {
            Some(found) if found.error().is_none() && !found.partitions().is_empty() => None,
            _ => Some(format!("topic {topic} not found")),
        },
        Err(error) => Some(error.to_string()),
    };
    DependencyStatus {
        name: "kafka",
        ready: error.is_none(),
        error,
    }
}

/// Consumer callbacks that keep the partitions' high watermarks as the consumer's
/// fetches last saw them (librdkafka's statistics: set `statistics.interval.ms`), so a
/// consumer knows how far behind it is without asking the broker.
#[derive(Default)]
pub struct HighWatermarks {
    high_watermarks: std::sync::Mutex<BTreeMap<i32, i64>>,
}

impl HighWatermarks {
    /// The latest known high watermark of every partition.
    pub fn high_watermarks(&self) -> BTreeMap<i32, i64> {
        self.high_watermarks
            .lock()
            .map(|marks| marks.clone())
            .unwrap_or_default()
    }
}

impl ClientContext for HighWatermarks {
    fn stats(&self, statistics: Statistics) {
        let Ok(mut marks) = self.high_watermarks.lock() else {
            return;
        };
        for topic in statistics.topics.values() {
            for partition in topic.partitions.values() {
                if partition.partition >= 0 && partition.hi_offset >= 0 {
                    marks.insert(partition.partition, partition.hi_offset);
                }
            }
        }
    }
}

impl ConsumerContext for HighWatermarks {}
