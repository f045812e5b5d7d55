//! The projector's batch log, `projector_batches` (migration `0002`): its row, its
//! writes, and the read of each partition's latest entry (the projector resumes from
//! it; read-api's profile cache and `projector reconcile` take the projector's
//! watermark from it).

use crate::work::{LoggedClient, Work};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The latest batch-log entry of every partition of a topic (see
/// [`BatchLogRow`]). Binds: topic.
const LATEST_BATCHES: &str = "\
    SELECT ?fields FROM projector_batches \
    WHERE kafka_topic = ? \
    ORDER BY kafka_partition, version DESC \
    LIMIT 1 BY kafka_partition";

/// The table the projector's batch log lives in.
const BATCH_LOG_TABLE: &str = "projector_batches";

/// The next offset of each partition of a topic, from its latest entry. Binds: topic.
const NEXT_OFFSETS: &str =
    "SELECT kafka_partition, argMax(next_offset, version) FROM projector_batches \
             WHERE kafka_topic = ? GROUP BY kafka_partition";

/// The next offset to project of every partition of `topic` that has an entry (what
/// the projector resumes from, pending batches aside): (partition, offset).
pub async fn next_offsets(
    client: &Client,
    topic: &str,
) -> Result<Vec<(i32, i64)>, clickhouse::error::Error> {
    client
        .query_for(Work::BatchLog, NEXT_OFFSETS)
        .bind(topic)
        .fetch_all()
        .await
}

/// The latest entry of every partition of `topic` that has one.
pub async fn latest(
    client: &Client,
    topic: &str,
) -> Result<Vec<BatchLogRow>, clickhouse::error::Error> {
    client
        .query_for(Work::BatchLog, LATEST_BATCHES)
        .bind(topic)
        .fetch_all::<BatchLogRow>()
        .await
}

/// Writes `entries` as one insert; each of its requests may take `timeout`.
pub async fn write(
    client: &Client,
    entries: &[BatchLogRow],
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client
        .insert_for::<BatchLogRow>(Work::BatchLog, BATCH_LOG_TABLE)
        .await?
        .with_timeouts(Some(timeout), Some(timeout));
    for entry in entries {
        insert.write(entry).await?;
    }
    insert.end().await
}

/// One entry of the projector's batch log, `projector_batches` (migration `0002`): a
/// write-ahead record, per partition, of the batch being inserted, so a batch cut short
/// by a crash is inserted again exactly as it was (same rows, same deduplication
/// token) and every read model ends up with it once.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct BatchLogRow {
    /// The tag topic.
    pub kafka_topic: String,
    /// The partition this entry is about.
    pub kafka_partition: i32,
    /// Order of entries (larger is newer), nanoseconds since the epoch.
    pub version: u64,
    /// The batch's `insert_deduplication_token`; empty once the batch is known inserted.
    pub token: String,
    /// Every partition range of the batch: (partition, first offset, last offset).
    pub ranges: Vec<(i32, i64, i64)>,
    /// The next offset to project in this partition once the batch is in.
    pub next_offset: i64,
}

impl BatchLogRow {
    /// Whether the batch may not be fully inserted yet (it must be inserted again).
    pub fn is_pending(&self) -> bool {
        !self.token.is_empty()
    }

    /// The offset of this entry's partition below which every tag is in `user_tags`:
    /// the next offset once the batch is in, else where the pending batch starts (the
    /// batches before it are in: the projector inserts one batch at a time).
    pub fn projected_below(&self) -> i64 {
        if !self.is_pending() {
            return self.next_offset;
        }
        self.ranges
            .iter()
            .filter(|(partition, _, _)| *partition == self.kafka_partition)
            .map(|(_, first, _)| *first)
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_projected_below_its_next_offset_or_its_pending_batch() {
        let mut entry = BatchLogRow {
            kafka_topic: "t".into(),
            kafka_partition: 1,
            version: 1,
            token: String::new(),
            ranges: vec![(0, 10, 19), (1, 40, 49)],
            next_offset: 50,
        };
        assert_eq!(entry.projected_below(), 50);
        entry.token = "batch-7".into();
        assert_eq!(entry.projected_below(), 40);
        entry.ranges = vec![(0, 10, 19)];
        assert_eq!(entry.projected_below(), 0);
    }
}
