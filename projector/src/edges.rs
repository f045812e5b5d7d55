//! The projector's I/O edges as traits, so the exactly-once logic of
//! [`crate::pipeline`] runs the same against the real broker and ClickHouse as against
//! the in-memory doubles of its unit tests:
//! - [`TagSource`]: the tag log (the consumer of the owned partitions, the topic's
//!   partitions and watermarks, exact reads of offset ranges); the real one is
//!   [`crate::source::KafkaSource`];
//! - [`BatchSink`]: the read models (the batch log and the deduplicated batch inserts);
//!   the real one is [`crate::sink::ClickHouseSink`], implemented here as it is;
//! - [`DeadLetterSink`]: the dead-letter topic (the messages that can never be
//!   projected); the real one is [`crate::dead_letter::DeadLetters`], implemented here.
//!
//! The source and the dead letters are blocking (librdkafka's consumer is; the
//! producer's send is waited for on the pipeline's thread); the sink is async (the
//! ClickHouse client is) and the pipeline waits for it on its own thread. Each call is
//! one try: the pipeline retries with `service_kit::backoff`.

use crate::batch::{Batch, OffsetRange};
use crate::dead_letter::DeadLetters;
use crate::sink::{ClickHouseSink, SinkError};
use rdkafka::message::OwnedMessage;
use read_model::{BatchLogRow, UserTagRow};
use service_kit::kafka::ReadBack;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// The tag log, as the pipeline reads it: partitions it assigns itself (never a
/// consumer group's), each read from a position the pipeline chooses. Blocking.
pub(crate) trait TagSource {
    /// Why the log could not be read.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every partition id of the topic, in order.
    fn partitions(&self) -> Result<Vec<i32>, Self::Error>;

    /// The `(low, high)` watermarks of one partition.
    fn watermarks(&self, partition: i32) -> Result<(i64, i64), Self::Error>;

    /// Adds `positions` (partition, next offset to read; `None` for the log's beginning)
    /// to what [`Self::poll`] reads.
    fn assign(&self, positions: &BTreeMap<i32, Option<i64>>) -> Result<(), Self::Error>;

    /// The next message of an assigned partition, waiting at most `wait`.
    fn poll(&self, wait: Duration) -> Option<Result<OwnedMessage, Self::Error>>;

    /// Records the next offset of each partition for lag tooling (never read back).
    fn commit(&self, next: &BTreeMap<i32, i64>) -> Result<(), Self::Error>;

    /// The latest high watermark the reads saw, by partition.
    fn high_watermarks(&self) -> BTreeMap<i32, i64>;

    /// Every message of `range` of `partition` still in the log, in order, read apart
    /// from [`Self::poll`].
    fn read_range(
        &self,
        partition: i32,
        range: OffsetRange,
        timeout: Duration,
    ) -> Result<Vec<OwnedMessage>, Self::Error>;

    /// The (record time, payload) of the records just before `next`, in log order, as
    /// far back as `bounds` say (`service_kit::kafka::read_back`).
    fn read_back(
        &self,
        partition: i32,
        next: i64,
        bounds: ReadBack,
    ) -> Result<Vec<(i64, Vec<u8>)>, Self::Error>;
}

/// The read models, as the pipeline writes them: the batch log of its topic and the
/// batch inserts, each carrying a deduplication token so that inserting the same batch
/// again changes nothing.
pub(crate) trait BatchSink {
    /// Why a request failed (the pipeline retries it).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The latest batch-log entry of every partition of the topic that has one.
    fn latest_batches(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<i32, BatchLogRow>, Self::Error>> + Send;

    /// Records that `batch` is about to be inserted (a pending entry per partition it
    /// covers) and that the partitions of `settled` have nothing pending.
    fn record_batch(
        &self,
        batch: &Batch,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records that the partitions of `settled` have nothing pending.
    fn record_settled(
        &self,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Inserts `rows` as one insert deduplicated by `token`.
    fn write(
        &self,
        rows: &[UserTagRow],
        token: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// The dead-letter topic, as the pipeline writes it: a message that can never be
/// projected goes there untouched, with the reason. Blocking.
pub(crate) trait DeadLetterSink {
    /// Why the message was not delivered (the pipeline retries it).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends `message` with `reason`; `Ok` once the topic has it.
    fn send(&self, message: &OwnedMessage, reason: &str) -> Result<(), Self::Error>;
}

impl DeadLetterSink for DeadLetters {
    type Error = rdkafka::error::KafkaError;

    fn send(&self, message: &OwnedMessage, reason: &str) -> Result<(), Self::Error> {
        DeadLetters::send(self, message, reason)
    }
}

impl BatchSink for ClickHouseSink {
    type Error = SinkError;

    fn latest_batches(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<i32, BatchLogRow>, SinkError>> + Send {
        ClickHouseSink::latest_batches(self)
    }

    fn record_batch(
        &self,
        batch: &Batch,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        ClickHouseSink::record_batch(self, batch, settled, version)
    }

    fn record_settled(
        &self,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        ClickHouseSink::record_settled(self, settled, version)
    }

    fn write(
        &self,
        rows: &[UserTagRow],
        token: &str,
    ) -> impl Future<Output = Result<(), SinkError>> + Send {
        ClickHouseSink::write(self, rows, token)
    }
}
