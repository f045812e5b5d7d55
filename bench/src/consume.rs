//! The raw consume rate: a consumer with the projector's settings (its own fresh group,
//! started from the beginning) reads the whole backlog of a topic, optionally decoding
//! each payload and building its `user_tags` row as the projector does, without
//! inserting anything. It is the limit the projector's catch-up rate is compared with
//! (`bench projector`).

use crate::process;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use read_model::{LogPosition, UserTagRow};
use schemas::{SchemaCatalog, TagDecoder};
use serde::{Deserialize, Serialize};
use service_kit::settings::KafkaSettings;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How much work is done per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Work {
    /// Only receive the message.
    Raw,
    /// Receive, decode the Avro payload and build the row (everything but the insert).
    Decode,
}

/// The measured consume rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumeReport {
    /// What was done per message.
    pub work: Work,
    /// Messages read (the whole backlog).
    pub messages: i64,
    /// From creating the consumer to the last message, seconds (group join included).
    pub elapsed_s: f64,
    /// `messages / elapsed_s`.
    pub rate: f64,
    /// From creating the consumer to the first message, seconds.
    pub first_message_s: f64,
    /// Rate from the first message to the last.
    pub rate_after_first: f64,
    /// CPU seconds this process used (all threads) during the run.
    pub cpu_s: f64,
    /// CPU seconds by thread name.
    pub cpu_by_thread_s: std::collections::BTreeMap<String, f64>,
}

/// Why the rate could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The consumer failed.
    #[error("kafka")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A payload could not be decoded.
    #[error("decoding a tag")]
    Decode(#[from] schemas::CodecError),
    /// The schema catalog could not be set up.
    #[error("schema catalog")]
    Catalog(#[from] schemas::catalog::CatalogError),
    /// The backlog was not read within the time allowed.
    #[error("read {read} of {expected} messages within {timeout:?}")]
    Timeout {
        /// Messages read.
        read: i64,
        /// Messages in the backlog.
        expected: i64,
        /// Time allowed.
        timeout: Duration,
    },
}

/// A consumer group name nobody else uses.
pub fn unique_group(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}")
}

/// Reads the whole backlog of `settings.topic`. Blocking: the loop polls like the
/// projector's pipeline thread and decodes through `runtime` as it does.
/// `overrides` are librdkafka settings (`name`, `value`) applied over the projector's,
/// to try fetch settings before proposing them for the projector.
pub fn measure(
    settings: &KafkaSettings,
    work: Work,
    overrides: &[(String, String)],
    timeout: Duration,
    runtime: &Handle,
) -> Result<ConsumeReport, ConsumeError> {
    let marks = service_kit::kafka::watermarks(settings)?;
    let expected: i64 = marks.values().map(|(low, high)| high - low).sum();
    let mut config = projector::Config::local_defaults();
    config.kafka = settings.clone();
    config.group_id = unique_group("bench-consume");
    // The projector positions each partition itself (from ClickHouse, or the beginning);
    // a fresh group starting from the earliest offset is the same start.
    let decoder = TagDecoder::new(SchemaCatalog::from_registry_url(
        settings.schema_registry_url.as_deref(),
    )?);
    let pid = std::process::id();
    let (cpu_before, threads_before) = (
        process::cpu_seconds(pid).unwrap_or(0.0),
        process::cpu_seconds_by_thread(pid),
    );
    let started = Instant::now();
    let mut consumer_config = projector::consumer_config(&config);
    consumer_config.set("auto.offset.reset", "earliest");
    for (name, value) in overrides {
        consumer_config.set(name, value);
    }
    let consumer: BaseConsumer = consumer_config.create()?;
    consumer.subscribe(&[&settings.topic])?;
    let mut rows: Vec<UserTagRow> = Vec::with_capacity(50_000);
    let (mut read, mut first_message) = (0_i64, None);
    while read < expected {
        if started.elapsed() > timeout {
            return Err(ConsumeError::Timeout {
                read,
                expected,
                timeout,
            });
        }
        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = polled?;
        first_message.get_or_insert_with(Instant::now);
        read += 1;
        if work == Work::Decode {
            let payload = message.payload().unwrap_or_default();
            let tag = runtime.block_on(decoder.decode(payload))?;
            let position = LogPosition {
                partition: message.partition(),
                offset: message.offset(),
            };
            rows.push(UserTagRow::from_tag(&tag, position));
            if rows.len() >= 50_000 {
                rows.clear();
            }
        }
    }
    let elapsed = started.elapsed();
    let first = first_message.map_or(elapsed, |at| at.duration_since(started));
    let cpu_s = process::cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
    let cpu_by_thread_s =
        process::thread_delta(&threads_before, &process::cpu_seconds_by_thread(pid));
    drop(consumer);
    Ok(ConsumeReport {
        work,
        messages: read,
        elapsed_s: elapsed.as_secs_f64(),
        rate: read as f64 / elapsed.as_secs_f64(),
        first_message_s: first.as_secs_f64(),
        rate_after_first: (read - 1).max(0) as f64 / (elapsed - first).as_secs_f64().max(1e-9),
        cpu_s,
        cpu_by_thread_s,
    })
}
