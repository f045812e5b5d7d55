//! The base librdkafka configuration, the topic's watermarks and the broker readiness probe.

use crate::health::DependencyStatus;
use crate::settings::KafkaSettings;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
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
