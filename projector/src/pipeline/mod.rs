//! The consume-decode-insert loop, run on a thread of its own.
//!
//! Delivery guarantee: every record of an owned partition ends up in the read models
//! exactly once, whatever crashes: ClickHouse's, the projector's, or both at once.
//! - Before a batch is inserted, the batch log records its offset ranges and its
//!   deduplication token ([`BatchSink::record_batch`]).
//! - The insert carries that token; a failed insert is retried with it until
//!   ClickHouse takes it, so a retry of an insert that landed (or half-landed: the
//!   table and some views, not others) changes only what was missing.
//! - At start-up, a partition whose latest log entry is still pending has its batch
//!   read again from exactly those ranges and inserted with the same token.
//! - A partition resumes at the next offset its log entry names: nothing is read from
//!   the broker's committed offsets, which are written for lag tooling only.
//!
//! Sequential by design: a batch is inserted before the consumer is polled again, and
//! while ClickHouse or the schema registry is unavailable the loop retries with
//! backoff (`service_kit::backoff`; partitions are assigned, not subscribed, so there is
//! no group membership to keep alive). Nothing is ever dead-lettered because a
//! dependency is down.
//!
//! Layout, one job a module, all over the one [`Pipeline`] state:
//! - [`resume`]: adopting a partition: its unfinished batch inserted again from the
//!   batch log, its resume point checked against the log, the retry window read back;
//! - [`live`]: the loop itself: polling, batching, flushing (batch log, then insert),
//!   settling, lag metrics;
//! - [`project`]: what one message comes to, the same live and in a replay (a row, a
//!   skipped sender's retry, a dead letter);
//! - the unit tests (`tests`) run the state machine against in-memory doubles of the
//!   log, of ClickHouse and of the dead-letter topic ([`crate::edges`]), crashing it at
//!   every step.

mod live;
mod project;
mod resume;
#[cfg(test)]
mod tests;

use crate::batch::Batch;
use crate::edges::{BatchSink, DeadLetterSink, TagSource};
use schemas::retries::RecentPayloads;
use schemas::TagDecoder;
use service_kit::assignment::Assignment;
use service_kit::backoff::Attempts;
use service_kit::metric_names::projector as names;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Per partition, the next offset whose predecessors are all in ClickHouse (or were
/// deliberately skipped): what `projector rebuild` waits on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Positions {
    /// Next offset to project, by partition.
    pub next: BTreeMap<i32, i64>,
}

/// What the pipeline is built from.
pub(crate) struct PipelineParts<Source, Sink, Letters> {
    /// The tag log (partitions assigned by the pipeline).
    pub source: Source,
    /// Where batches go.
    pub sink: Sink,
    /// The topic (part of every batch's token).
    pub topic: String,
    /// Decodes payloads of any known schema.
    pub decoder: TagDecoder,
    /// Where undecodable messages go.
    pub dead_letters: Letters,
    /// Rows not yet inserted.
    pub batch: Batch,
    /// Recent payloads, to skip a sender's retries.
    pub recent: RecentPayloads,
    /// Which partitions are ours.
    pub assignment: Assignment,
    /// Oldest unfinished batch still inserted again at start-up.
    pub replay_max_age: Duration,
    /// Runtime for the async ClickHouse and decoder calls.
    pub runtime: Handle,
}

/// The running loop's state.
pub(crate) struct Pipeline<Source, Sink, Letters> {
    source: Source,
    sink: Sink,
    topic: String,
    decoder: TagDecoder,
    dead_letters: Letters,
    batch: Batch,
    recent: RecentPayloads,
    assignment: Assignment,
    replay_max_age: Duration,
    runtime: Handle,
    cancel: CancellationToken,
    positions: watch::Sender<Positions>,
    /// Partitions assigned to the consumer, with the next offset expected from each.
    expected: BTreeMap<i32, i64>,
    /// Partitions left alone: their resume point is outside the log.
    stopped: BTreeSet<i32>,
    /// Partitions whose last batch is in while their log entry still says pending.
    settled: BTreeMap<i32, i64>,
    /// Durable positions (published through `positions`).
    durable: BTreeMap<i32, i64>,
    /// Partitions whose remembered payloads already cover the retry window before this
    /// offset (an unfinished batch ending there was just inserted again), so resuming
    /// there need not read the window back a second time.
    warm: BTreeMap<i32, i64>,
    /// The last batch-log version written or seen.
    last_version: u64,
    last_flush: Instant,
    last_partition_check: Instant,
    /// Record times of the batch's oldest message, for the visibility metric.
    oldest_record_ms: Option<i64>,
}

impl<Source: TagSource, Sink: BatchSink, Letters: DeadLetterSink> Pipeline<Source, Sink, Letters> {
    /// A pipeline over `parts`, stopped by `cancel`, publishing durable positions.
    pub(crate) fn new(
        parts: PipelineParts<Source, Sink, Letters>,
        cancel: CancellationToken,
    ) -> (Self, watch::Receiver<Positions>) {
        let (positions, receiver) = watch::channel(Positions::default());
        let pipeline = Self {
            source: parts.source,
            sink: parts.sink,
            topic: parts.topic,
            decoder: parts.decoder,
            dead_letters: parts.dead_letters,
            batch: parts.batch,
            recent: parts.recent,
            assignment: parts.assignment,
            replay_max_age: parts.replay_max_age,
            runtime: parts.runtime,
            cancel,
            positions,
            expected: BTreeMap::new(),
            stopped: BTreeSet::new(),
            settled: BTreeMap::new(),
            durable: BTreeMap::new(),
            warm: BTreeMap::new(),
            last_version: 0,
            last_flush: Instant::now(),
            last_partition_check: Instant::now(),
            oldest_record_ms: None,
        };
        (pipeline, receiver)
    }

    /// Waits for an async call (ClickHouse, the decoder) on the pipeline's thread.
    fn wait<F: Future>(&self, request: F) -> F::Output {
        self.runtime.block_on(request)
    }

    /// Runs `attempt` until it succeeds or the pipeline is cancelled (`None`): broker
    /// requests and the reads of the batch log at adoption.
    fn retry<T, E: std::error::Error + 'static>(
        &self,
        what: &str,
        attempt: impl FnMut() -> Result<T, E>,
    ) -> Option<T> {
        service_kit::backoff::retry_until_cancelled(
            &self.runtime,
            &self.cancel,
            what,
            names::RETRIES,
            attempt,
        )
    }

    /// Runs a ClickHouse write of the live loop `attempts` times at most; false when
    /// every attempt failed or cancellation came first.
    fn retry_clickhouse<E: std::error::Error + 'static>(
        &self,
        attempts: Attempts,
        what: &str,
        attempt: impl FnMut() -> Result<(), E>,
    ) -> bool {
        service_kit::backoff::retry(
            &self.runtime,
            &self.cancel,
            attempts,
            attempt,
            |attempt, error| {
                metrics::counter!(names::CLICKHOUSE_RETRIES.name).increment(1);
                tracing::warn!(what, attempt, error = %service_kit::error::chain(error), "clickhouse request failed");
            },
        )
        .is_some()
    }

    fn next_version(&mut self) -> u64 {
        self.last_version = crate::sink::next_version(self.last_version);
        self.last_version
    }

    fn publish_positions(&self) {
        self.positions.send_replace(Positions {
            next: self.durable.clone(),
        });
    }
}
