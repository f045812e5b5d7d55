//! Rows waiting to be inserted and the log ranges they came from. One batch becomes one
//! insert of one block, bounded by a row count (well under ClickHouse's block size) and
//! by age (freshness). Its deduplication token is derived from its ranges, so the same
//! ranges always make the same token.

use read_model::UserTagRow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The offsets of one partition a batch covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetRange {
    /// The first offset.
    pub first: i64,
    /// The last offset.
    pub last: i64,
}

/// Messages handled since the last insert: the rows to insert and the offsets read,
/// skipped messages (a sender's retry, a dead letter) included.
#[derive(Debug)]
pub(crate) struct Batch {
    rows: Vec<UserTagRow>,
    ranges: BTreeMap<i32, OffsetRange>,
    first_added: Option<Instant>,
    max_rows: usize,
    max_wait: Duration,
}

impl Batch {
    /// An empty batch with its bounds.
    pub(crate) fn new(max_rows: usize, max_wait: Duration) -> Self {
        Self {
            rows: Vec::with_capacity(max_rows.min(100_000)),
            ranges: BTreeMap::new(),
            first_added: None,
            max_rows: max_rows.max(1),
            max_wait,
        }
    }

    /// Records that the message at `offset` of `partition` was handled (it must come
    /// after every offset of that partition already in the batch).
    pub(crate) fn cover(&mut self, partition: i32, offset: i64) {
        self.first_added.get_or_insert_with(Instant::now);
        let range = self.ranges.entry(partition).or_insert(OffsetRange {
            first: offset,
            last: offset,
        });
        debug_assert!(offset > range.last || offset == range.first);
        range.last = offset;
    }

    /// Adds the row of the message at its position (covered too).
    pub(crate) fn push(&mut self, row: UserTagRow) {
        self.cover(row.kafka_partition, row.kafka_offset);
        self.rows.push(row);
    }

    /// Whether the batch must be inserted now.
    pub(crate) fn is_due(&self) -> bool {
        self.rows.len() >= self.max_rows
            || self
                .first_added
                .is_some_and(|first| first.elapsed() >= self.max_wait)
    }

    /// How long the consumer may wait for more messages before the batch is due.
    pub(crate) fn time_left(&self) -> Duration {
        match self.first_added {
            None => self.max_wait,
            Some(first) => self.max_wait.saturating_sub(first.elapsed()),
        }
    }

    /// The rows.
    pub(crate) fn rows(&self) -> &[UserTagRow] {
        &self.rows
    }

    /// The offsets covered, per partition.
    pub(crate) fn ranges(&self) -> &BTreeMap<i32, OffsetRange> {
        &self.ranges
    }

    /// Whether it covers no message at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The `insert_deduplication_token` of these ranges of `topic`.
    pub(crate) fn token(&self, topic: &str) -> String {
        token(topic, &self.ranges)
    }

    /// Sets every row's `batch_ingested_in` to the ten minutes of wall time the batch was
    /// recorded in at `version` (its batch-log entry's version, nanoseconds since the
    /// epoch): the same on every insert of the batch, the first and any after a crash, so
    /// the aggregate views put its rows in the same partition each time and its token
    /// deduplicates them there.
    pub(crate) fn stamp(&mut self, version: u64) {
        let slot = read_model::tags::ingestion_slot(version);
        for row in &mut self.rows {
            row.batch_ingested_in = slot;
        }
    }

    /// Forgets everything (after an insert).
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.ranges.clear();
        self.first_added = None;
    }
}

/// The deduplication token of a batch covering `ranges` of `topic`:
/// `topic/p:first-last/p:first-last...` in partition order. Offsets never repeat in a
/// partition, so two different batches never share a token, and a batch inserted again
/// from the same ranges always has the same one.
pub(crate) fn token(topic: &str, ranges: &BTreeMap<i32, OffsetRange>) -> String {
    let mut token = topic.to_owned();
    for (partition, range) in ranges {
        token.push_str(&format!("/{partition}:{}-{}", range.first, range.last));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(partition: i32, offset: i64) -> UserTagRow {
        UserTagRow {
            cookie: "c".into(),
            action: 1,
            time_ms: 0,
            time_text: String::new(),
            country: String::new(),
            device: 1,
            origin: String::new(),
            product_id: "1".into(),
            product_id_is_text: 0,
            brand_id: String::new(),
            category_id: String::new(),
            price: 0,
            kafka_partition: partition,
            kafka_offset: offset,
            batch_ingested_in: 0,
        }
    }

    #[test]
    fn due_by_row_count() {
        let mut batch = Batch::new(2, Duration::from_secs(3600));
        batch.push(row(0, 0));
        assert!(!batch.is_due());
        batch.push(row(0, 1));
        assert!(batch.is_due());
        batch.clear();
        assert!(batch.is_empty() && !batch.is_due());
    }

    #[test]
    fn due_by_age_only_once_it_covers_a_message() {
        let mut batch = Batch::new(1000, Duration::ZERO);
        assert!(!batch.is_due(), "an empty batch is never due");
        batch.cover(0, 7);
        assert!(batch.is_due());
    }

    #[test]
    fn the_token_names_every_range_including_skipped_messages() {
        let mut batch = Batch::new(1000, Duration::from_secs(1));
        batch.push(row(2, 10));
        batch.cover(2, 11);
        batch.push(row(0, 5));
        batch.push(row(2, 12));
        assert_eq!(batch.token("tags"), "tags/0:5-5/2:10-12");
        assert_eq!(batch.rows().len(), 3);
    }
}
