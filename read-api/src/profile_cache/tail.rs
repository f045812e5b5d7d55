//! The log's tail: a consumer of the tag topic (its partitions assigned, no consumer
//! group, nothing committed) on a thread of its own, from the projector's watermark on,
//! decoding each record as the projector does and handing the tags to the cache. It
//! also says whether it is close enough behind the log for the cache to answer.

use super::state::{CacheState, LoggedTag, Offsets};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use schemas::TagDecoder;
use service_kit::kafka::HighWatermarks;
use service_kit::metric_names::read_api as names;
use service_kit::settings::KafkaSettings;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Why the tail did not start.
#[derive(Debug, thiserror::Error)]
pub(super) enum TailError {
    /// The broker refused or could not be reached.
    #[error("kafka")]
    Kafka(#[from] KafkaError),
    /// No thread for the consumer.
    #[error("cannot start the tail's thread")]
    Thread(#[from] std::io::Error),
}

/// How long one broker request (metadata) may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the tail compares its position with the log's end.
const CATCH_UP_CHECK: Duration = Duration::from_millis(500);

/// The cache answers only while the tail has reached the end the log had this long
/// ago: its answers are at most about this far behind the log (the contract allows a
/// tag 10 s to become visible). It covers a fetch's wait (below) and a check's period.
const CATCH_UP_LAG: Duration = Duration::from_millis(1500);

/// Records handed to the cache under one lock at most.
const HAND_OVER: usize = 512;

/// The consumer's settings: assigned partitions, no group, no commits; a short fetch
/// wait, so a tag reaches the cache within milliseconds of its append.
fn consumer(settings: &KafkaSettings) -> Result<TailConsumer, KafkaError> {
    let mut config = service_kit::kafka::base_config(settings);
    config
        .set("group.id", "allezon-read-api-tail")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A watermark older than the log's retention: start where the log starts.
        .set("auto.offset.reset", "earliest")
        // The broker (Tansu) answers a fetch only when this wait has passed, and each
        // fetch costs it a storage read per partition: 50 ms cost the broker 0.1 of a
        // core at 1,000 tags/s, 500 ms about half that.
        .set("fetch.wait.max.ms", "500")
        // The log's end as the fetches see it (HighWatermarks): asking the broker
        // (ListOffsets) on the fetching connection stalled the fetches behind it, and
        // the tail fell behind at 1,000 tags/s.
        .set("statistics.interval.ms", "250");
    config.create_with_context(HighWatermarks::default())
}

type TailConsumer = BaseConsumer<HighWatermarks>;

/// Starts the tail at `start` (by partition; a partition missing there starts at the
/// log's beginning). Runs until `cancel`.
pub(super) fn spawn(
    settings: KafkaSettings,
    start: Offsets,
    state: Arc<Mutex<CacheState>>,
    decoder: TagDecoder,
    runtime: Handle,
    cancel: CancellationToken,
) -> Result<std::thread::JoinHandle<()>, TailError> {
    let consumer = consumer(&settings)?;
    let metadata = consumer.fetch_metadata(Some(&settings.topic), BROKER_TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    let mut partitions = Vec::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            let offset = start.get(&partition.id()).copied().unwrap_or(0);
            assignment.add_partition_offset(
                &settings.topic,
                partition.id(),
                Offset::Offset(offset),
            )?;
            partitions.push(partition.id());
        }
    }
    consumer.assign(&assignment)?;
    tracing::info!(
        partitions = partitions.len(),
        ?start,
        "profile cache: log tail started"
    );
    let tail = Tail {
        consumer,
        topic: settings.topic,
        partitions,
        state,
        decoder,
        runtime,
        ends: VecDeque::new(),
        checked: Instant::now(),
        start,
    };
    Ok(std::thread::Builder::new()
        .name("profile-tail".into())
        .spawn(move || tail.run(&cancel))?)
}

struct Tail {
    consumer: TailConsumer,
    topic: String,
    partitions: Vec<i32>,
    state: Arc<Mutex<CacheState>>,
    decoder: TagDecoder,
    runtime: Handle,
    /// The log's end by partition at recent checks, oldest first.
    ends: VecDeque<(Instant, BTreeMap<i32, i64>)>,
    checked: Instant,
    /// Where each partition was assigned.
    start: Offsets,
}

impl Tail {
    fn run(mut self, cancel: &CancellationToken) {
        let mut pending = Vec::with_capacity(HAND_OVER);
        while !cancel.is_cancelled() {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    if let Some(logged) =
                        self.decode(message.partition(), message.offset(), message.payload())
                    {
                        pending.push(logged);
                    }
                    if pending.len() < HAND_OVER {
                        continue;
                    }
                }
                Some(Err(error)) => {
                    metrics::counter!(names::PROFILE_CACHE_TAIL_ERRORS.name).increment(1);
                    tracing::warn!(%error, "profile cache: log tail read failed");
                }
                None => {}
            }
            self.hand_over(&mut pending);
            if self.checked.elapsed() >= CATCH_UP_CHECK {
                self.check_catch_up();
            }
        }
    }

    /// The tag of one record, as the projector reads it; `None` for a record the
    /// projector dead-letters. A record that cannot be decoded now (the schema registry
    /// is away) leaves a gap the cache must not answer across.
    fn decode(&self, partition: i32, offset: i64, payload: Option<&[u8]>) -> Option<LoggedTag> {
        let payload = payload?;
        match self.runtime.block_on(self.decoder.decode(payload)) {
            Ok(tag) if tag.validate().is_ok() => Some(LoggedTag {
                partition,
                offset,
                tag,
            }),
            Ok(_) => None,
            Err(error) if error.is_transient() => {
                tracing::warn!(
                    partition,
                    offset,
                    "profile cache: tag not decodable now; cache emptied"
                );
                crate::profile_cache::lock(&self.state).skip(partition, offset);
                None
            }
            Err(_) => None,
        }
    }

    fn hand_over(&self, pending: &mut Vec<LoggedTag>) {
        if pending.is_empty() {
            return;
        }
        let mut state = crate::profile_cache::lock(&self.state);
        for logged in pending.drain(..) {
            state.push(logged);
        }
        metrics::gauge!(names::PROFILE_CACHE_TAIL_TAGS.name).set(state.tail_len() as f64);
        metrics::gauge!(names::PROFILE_CACHE_COOKIES.name).set(state.cached_cookies() as f64);
        metrics::gauge!(names::PROFILE_CACHE_BYTES.name).set(state.cached_bytes() as f64);
    }

    /// Caught up when every partition's position has reached the end the log had
    /// [`CATCH_UP_LAG`] ago.
    fn check_catch_up(&mut self) {
        let now = Instant::now();
        self.checked = now;
        let positions = match self.consumer.position() {
            Ok(positions) => positions,
            Err(error) => {
                tracing::warn!(%error, "profile cache: no tail position");
                crate::profile_cache::lock(&self.state).set_caught_up(false);
                return;
            }
        };
        while self.ends.len() > 1
            && self
                .ends
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= CATCH_UP_LAG)
        {
            self.ends.pop_front();
        }
        let then = self
            .ends
            .front()
            .filter(|(at, _)| now.duration_since(*at) >= CATCH_UP_LAG)
            .map(|(_, ends)| ends.clone());
        let mut caught_up = then.is_some();
        let mut ends = BTreeMap::new();
        let mut behind = 0;
        let high_watermarks = self.consumer.context().high_watermarks();
        for partition in &self.partitions {
            let Some(high) = high_watermarks.get(partition).copied() else {
                caught_up = false;
                continue;
            };
            ends.insert(*partition, high);
            // Nothing read yet from a partition: it stands where it was assigned.
            let position = positions
                .find_partition(&self.topic, *partition)
                .and_then(|element| match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                })
                .unwrap_or_else(|| self.start.get(partition).copied().unwrap_or(0));
            let end_then = then
                .as_ref()
                .and_then(|then| then.get(partition).copied())
                .unwrap_or(i64::MAX);
            caught_up &= position >= end_then;
            behind += (high - position).max(0);
        }
        self.ends.push_back((now, ends));
        metrics::gauge!(names::PROFILE_CACHE_TAIL_BEHIND.name).set(behind as f64);
        metrics::gauge!(names::PROFILE_CACHE_CAUGHT_UP.name).set(if caught_up { 1.0 } else { 0.0 });
        crate::profile_cache::lock(&self.state).set_caught_up(caught_up);
    }
}
