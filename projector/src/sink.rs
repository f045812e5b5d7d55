//! The ClickHouse side of the projector: the batch log (`projector_batches`) and the
//! batch inserts into `user_tags`, whose materialized views derive the minute
//! aggregates from the same insert.
//!
//! Every request is bounded by a timeout, so a frozen ClickHouse (SIGSTOP, a stuck
//! merge) costs a retry, never a hung projector. A timed-out insert may still land:
//! it is retried with the same deduplication token, so it is then skipped, in the
//! table and in every view (`deduplicate_blocks_in_dependent_materialized_views`).
//!
//! On a sharded cluster both tables are Distributed, sharded by Kafka partition.
//! Inserts into them are synchronous (`distributed_foreground_insert`): an insert
//! returns once every shard holds its rows, with the batch's token, so the guarantee
//! above holds shard by shard; the default, a queue on the receiving server sent on
//! later, would acknowledge rows no shard holds yet and lose the token's effect.
//! On a single server the setting changes nothing.

use crate::batch::{Batch, OffsetRange};
use clickhouse::Client;
use read_model::{BatchLogRow, UserTagRow};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

/// Why a ClickHouse request of the projector failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse request failed")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// ClickHouse did not answer in time.
    #[error("clickhouse did not answer within {0:?}")]
    Timeout(Duration),
}

/// Writes batches and the batch log of one topic, and reads the log back.
#[derive(Clone)]
pub(crate) struct ClickHouseSink {
    client: Client,
    topic: String,
    timeout: Duration,
}

impl ClickHouseSink {
    /// A sink for `topic` on `client`'s database; each request may take `timeout`.
    pub(crate) fn new(client: Client, topic: &str, timeout: Duration) -> Self {
        Self {
            client: client.with_setting("distributed_foreground_insert", "1"),
            topic: topic.to_owned(),
            timeout,
        }
    }

    /// Inserts the batch's rows as one insert carrying the batch's deduplication
    /// token: inserting the same batch again changes nothing. Batches stay under
    /// ClickHouse's `max_insert_block_size`, so the server writes each as one block.
    pub(crate) async fn write(&self, rows: &[UserTagRow], token: &str) -> Result<(), SinkError> {
        let insert = read_model::tags::insert(&self.client, rows, token, self.timeout);
        self.bounded(insert).await
    }

    /// Records in the batch log that `batch` is about to be inserted (one pending entry
    /// per partition it covers) and that the partitions of `settled`, whose last batch
    /// is known to be in, have nothing pending.
    pub(crate) async fn record_batch(
        &self,
        batch: &Batch,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> Result<(), SinkError> {
        let token = batch.token(&self.topic);
        let ranges: Vec<(i32, i64, i64)> = batch
            .ranges()
            .iter()
            .map(|(partition, range)| (*partition, range.first, range.last))
            .collect();
        let mut entries: Vec<BatchLogRow> = batch
            .ranges()
            .iter()
            .map(|(partition, range)| BatchLogRow {
                kafka_topic: self.topic.clone(),
                kafka_partition: *partition,
                version,
                token: token.clone(),
                ranges: ranges.clone(),
                next_offset: range.last + 1,
            })
            .collect();
        entries.extend(self.settled_entries(
            settled,
            version,
            batch.ranges().keys().copied().collect(),
        ));
        self.write_log(&entries).await
    }

    /// Records that the partitions of `settled` have nothing pending.
    pub(crate) async fn record_settled(
        &self,
        settled: &BTreeMap<i32, i64>,
        version: u64,
    ) -> Result<(), SinkError> {
        let entries = self.settled_entries(settled, version, BTreeSet::new());
        if entries.is_empty() {
            return Ok(());
        }
        self.write_log(&entries).await
    }

    fn settled_entries(
        &self,
        settled: &BTreeMap<i32, i64>,
        version: u64,
        except: BTreeSet<i32>,
    ) -> Vec<BatchLogRow> {
        settled
            .iter()
            .filter(|(partition, _)| !except.contains(partition))
            .map(|(partition, next_offset)| BatchLogRow {
                kafka_topic: self.topic.clone(),
                kafka_partition: *partition,
                version,
                token: String::new(),
                ranges: Vec::new(),
                next_offset: *next_offset,
            })
            .collect()
    }

    async fn write_log(&self, entries: &[BatchLogRow]) -> Result<(), SinkError> {
        let insert = read_model::batch_log::write(&self.client, entries, self.timeout);
        self.bounded(insert).await
    }

    /// The latest batch-log entry of every partition of the topic that has one.
    pub(crate) async fn latest_batches(&self) -> Result<BTreeMap<i32, BatchLogRow>, SinkError> {
        let read = read_model::batch_log::latest(&self.client, &self.topic);
        let entries = self.bounded(read).await?;
        Ok(entries
            .into_iter()
            .map(|entry| (entry.kafka_partition, entry))
            .collect())
    }

    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, clickhouse::error::Error>>,
    ) -> Result<T, SinkError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(outcome) => Ok(outcome?),
            Err(_) => Err(SinkError::Timeout(self.timeout)),
        }
    }
}

/// The batch-log version after `last`: now in nanoseconds since the epoch, and always
/// above `last` (entries are ordered by version).
pub(crate) fn next_version(last: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    now.max(last + 1)
}

/// The ranges of a pending batch-log entry, as the batch recorded them.
pub(crate) fn pending_ranges(entry: &BatchLogRow) -> BTreeMap<i32, OffsetRange> {
    entry
        .ranges
        .iter()
        .map(|(partition, first, last)| {
            (
                *partition,
                OffsetRange {
                    first: *first,
                    last: *last,
                },
            )
        })
        .collect()
}
