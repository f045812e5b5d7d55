//! Rows waiting to be inserted: one batch becomes one insert of one block, so it is
//! bounded by a row count (well under ClickHouse's block size) and by age (freshness).

use service_kit::tables::UserTagRow;
use std::time::{Duration, Instant};

/// Rows read since the last insert.
#[derive(Debug)]
pub struct Batch {
    rows: Vec<UserTagRow>,
    first_added: Option<Instant>,
    max_rows: usize,
    max_wait: Duration,
}

impl Batch {
    /// An empty batch with its bounds.
    pub fn new(max_rows: usize, max_wait: Duration) -> Self {
        Self {
            rows: Vec::with_capacity(max_rows.min(100_000)),
            first_added: None,
            max_rows: max_rows.max(1),
            max_wait,
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: UserTagRow) {
        self.first_added.get_or_insert_with(Instant::now);
        self.rows.push(row);
    }

    /// Whether the batch must be inserted now.
    pub fn is_due(&self) -> bool {
        self.rows.len() >= self.max_rows
            || self
                .first_added
                .is_some_and(|first| first.elapsed() >= self.max_wait)
    }

    /// How long the consumer may wait for more rows before the batch is due.
    pub fn time_left(&self) -> Duration {
        match self.first_added {
            None => self.max_wait,
            Some(first) => self.max_wait.saturating_sub(first.elapsed()),
        }
    }

    /// The rows.
    pub fn rows(&self) -> &[UserTagRow] {
        &self.rows
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets every row (after an insert, or when its partitions were revoked).
    pub fn clear(&mut self) {
        self.rows.clear();
        self.first_added = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(offset: i64) -> UserTagRow {
        UserTagRow {
            cookie: "c".into(),
            action: 1,
            time_ms: 0,
            country: String::new(),
            device: 1,
            origin: String::new(),
            product_id: "1".into(),
            product_id_is_text: 0,
            brand_id: String::new(),
            category_id: String::new(),
            price: 0,
            kafka_topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: offset,
        }
    }

    #[test]
    fn due_by_row_count() {
        let mut batch = Batch::new(2, Duration::from_secs(3600));
        batch.push(row(0));
        assert!(!batch.is_due());
        batch.push(row(1));
        assert!(batch.is_due());
        batch.clear();
        assert!(batch.is_empty() && !batch.is_due());
    }

    #[test]
    fn due_by_age_only_once_it_holds_a_row() {
        let mut batch = Batch::new(1000, Duration::ZERO);
        assert!(!batch.is_due(), "an empty batch is never due");
        batch.push(row(0));
        assert!(batch.is_due());
    }
}
