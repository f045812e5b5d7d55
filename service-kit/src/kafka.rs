//! The base librdkafka configuration, the topic's partitions and watermarks (asked of
//! the broker, or as a consumer's fetches last saw them), exact reads of offset ranges,
//! the read-back of the records before a resume point (what a log reader needs to
//! remember recent payloads, see `schemas::retries`), and the broker readiness probe.

use crate::health::DependencyStatus;
use crate::settings::KafkaSettings;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long one broker request (metadata, watermarks) may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The most a fetch answers for one partition (librdkafka's default is 1 MiB). Tansu, the
/// local broker, reads a partition from the fetch's offset to the log's end before it
/// applies this limit, and waits half the fetch wait even when it has records: a
/// reader behind the end (the projector catching up, its read-backs at a resume) takes
/// the range in one fetch instead of one per MiB, each scanning to the end again.
const PARTITION_FETCH_BYTES: &str = "8388608";

/// The settings of a consumer that assigns its partitions itself, never subscribing, and
/// resumes from its own durable state (the projector's batch log, the archiver's files):
/// the group id only names the positions it commits for lag tooling.
pub fn assigned_consumer_config(settings: &KafkaSettings, group_id: &str) -> ClientConfig {
    let mut consumer = base_config(settings);
    consumer
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("max.partition.fetch.bytes", PARTITION_FETCH_BYTES)
        // Positions always come from the reader's own state (or the log's start). A
        // position outside the log (topic recreated, log truncated by retention) must
        // stop that partition loudly, never silently replay or skip.
        .set("auto.offset.reset", "error");
    consumer
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

/// [`probe_blocking`] of `client` on a blocking thread, for a readiness check.
pub async fn probe(
    client: std::sync::Arc<BaseConsumer>,
    topic: String,
    timeout: Duration,
) -> DependencyStatus {
    tokio::task::spawn_blocking(move || probe_blocking(client.client(), &topic, timeout))
        .await
        .unwrap_or_else(|error| DependencyStatus {
            name: "kafka",
            ready: false,
            error: Some(error.to_string()),
        })
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

/// Every partition id of `topic`, in order.
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

/// The `(low, high)` watermarks of one partition of `topic`. Blocking.
pub fn watermarks_of<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), KafkaError> {
    consumer.fetch_watermarks(topic, partition, BROKER_TIMEOUT)
}

/// A consumer of its own for one exact read. It never joins its group nor commits
/// (librdkafka only wants a group id to exist before it assigns partitions).
fn reader(settings: &KafkaSettings) -> Result<BaseConsumer, KafkaError> {
    base_config(settings)
        .set("group.id", "allezon-exact-reads")
        .set("enable.auto.commit", "false")
        .set("max.partition.fetch.bytes", PARTITION_FETCH_BYTES)
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

/// How far [`read_back`] reads before a resume point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBack {
    /// The first chunk read (each read sets up a consumer, which costs more than the
    /// records on a loaded machine: one chunk should usually do).
    pub first_chunk: i64,
    /// The most records read.
    pub max_records: i64,
    /// Enough once the records read span this much record time, in milliseconds.
    pub window_ms: i64,
    /// How long one chunk's read may take.
    pub timeout: Duration,
}

/// The (record time, payload) of the records just before offset `next` of `partition`,
/// in log order: read back in growing chunks until they span `window_ms` of record time,
/// or `max_records` were read, or the log's start was reached (a failed read of an older
/// chunk keeps the nearer ones read before it). Blocking.
pub fn read_back(
    settings: &KafkaSettings,
    partition: i32,
    next: i64,
    bounds: ReadBack,
) -> Result<Vec<(i64, Vec<u8>)>, ReadError> {
    let mut chunk = bounds.first_chunk.min(bounds.max_records);
    let mut collected: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut end = next;
    loop {
        let start = (next - chunk).max(0);
        if start >= end {
            break;
        }
        let mut read: Vec<(i64, Vec<u8>)> = Vec::new();
        let outcome = read_range(
            settings,
            partition,
            start,
            end - 1,
            bounds.timeout,
            |message| {
                if let Some(payload) = message.payload() {
                    let time = message.timestamp().to_millis().unwrap_or(0);
                    read.push((time, payload.to_vec()));
                }
            },
        );
        match outcome {
            Ok(()) => {}
            // The records nearest the resume point are read: keep them.
            Err(error) if !collected.is_empty() => {
                tracing::warn!(partition, error = %crate::error::chain(&error), "older records not read back");
                break;
            }
            Err(error) => return Err(error),
        }
        read.append(&mut collected);
        collected = read;
        let span = match (collected.first(), collected.last()) {
            (Some((first, _)), Some((last, _))) => last - first,
            _ => 0,
        };
        if start == 0 || chunk >= bounds.max_records || span >= bounds.window_ms {
            break;
        }
        end = start;
        chunk = (chunk * 2).min(bounds.max_records);
    }
    Ok(collected)
}
