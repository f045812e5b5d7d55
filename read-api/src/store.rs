//! The ClickHouse reads behind both endpoints. Every value from a request travels as a
//! bound parameter (`?` with `.bind`), never as SQL text.

use crate::params::{AggregatesQuery, TimeRange};
use clickhouse::{Client, Row};
use schemas::Action;
use serde::Deserialize;
use service_kit::settings::ClickHouseSettings;
use service_kit::tables::{action_code, UserTagRow};

/// One cookie's newest rows in the range, both actions, `?` of them: an `ORDER BY ..
/// LIMIT`, which ClickHouse answers with a partial sort in one pass over the cookie's
/// rows. Rows may hold copies of a replayed tag that `ReplacingMergeTree` has not
/// merged away yet: [`newest_distinct`] drops them, which is why the read takes
/// [`DUPLICATE_MARGIN`] rows beyond the limit, twice over (one share per action).
const NEWEST_ROWS: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// The same for one action: for an action the first read was too short for (a busy
/// shopper with far more views than buys in the range, say).
const NEWEST_ROWS_OF_ACTION: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// One action's newest tags, one row per event time, with a full sort: the exact read
/// for the rare action whose first read held more copies than [`DUPLICATE_MARGIN`].
const NEWEST_DISTINCT_OF_ACTION: &str = "\
    SELECT ?fields FROM ( \
        SELECT * FROM user_tags \
        WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
        ORDER BY time_ms DESC \
        LIMIT 1 BY time_ms \
    ) \
    ORDER BY time_ms DESC \
    LIMIT ?";

/// Rows read beyond the limit for each action, room for copies of replayed tags.
pub const DUPLICATE_MARGIN: u64 = 64;

/// The newest `limit` rows of `rows` (one action's rows), one per event time, newest
/// first; `None` when the read was cut (`complete` false) short of `limit` distinct
/// times, so older tags may be missing.
fn newest_distinct(
    mut rows: Vec<UserTagRow>,
    limit: u64,
    complete: bool,
) -> Option<Vec<UserTagRow>> {
    rows.sort_by_key(|row| std::cmp::Reverse(row.time_ms));
    rows.dedup_by_key(|row| row.time_ms);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() >= limit {
        rows.truncate(limit);
        Some(rows)
    } else if complete {
        Some(rows)
    } else {
        None
    }
}

/// Per-minute totals of the rows keyed by exactly the query's filters. Rows are summed
/// here because `SummingMergeTree` merges them eventually, not at once.
const MINUTE_TOTALS: &str = "\
    SELECT ?fields FROM ( \
        SELECT toUInt32(minute) AS minute_start, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price \
        FROM minute_aggregates \
        WHERE filter_mask = ? AND action = ? \
          AND filter_origin = ? AND filter_brand_id = ? AND filter_category_id = ? \
          AND minute >= toDateTime(?) AND minute < toDateTime(?) \
        GROUP BY minute \
    ) ORDER BY minute_start";

/// The totals of one minute that has data.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct MinuteTotals {
    /// The minute's start, epoch seconds.
    pub minute_start: u32,
    /// Number of matching tags.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
}

/// Reads from the tables of `migrations/`.
#[derive(Clone)]
pub struct Store {
    client: Client,
}

impl Store {
    /// A store on the configured database. Connections are made per request, so a
    /// ClickHouse that comes back is used again without a restart.
    ///
    /// Queries run on one ClickHouse thread and use the uncompressed-block cache: each
    /// reads a handful of granules, often the same hot ones, so decompressing them
    /// again and setting up a thread pool cost more than the reading. Measured on 18.16
    /// (2 cores, a cold cookie's profile): about 9 ms with the defaults, 5 ms with these.
    pub fn new(settings: &ClickHouseSettings) -> Self {
        Self {
            client: service_kit::clickhouse::client(settings)
                .with_setting("max_threads", "1")
                .with_setting("use_uncompressed_cache", "1"),
        }
    }

    /// The same store with one more ClickHouse setting on every query (benchmarks turn
    /// `log_queries` on for the very queries read-api sends, with its own settings).
    pub fn with_setting(self, name: &str, value: &str) -> Self {
        Self {
            client: self.client.with_setting(name, value),
        }
    }

    /// The underlying client (for the readiness probe).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `cookie`'s tags in `range`, newest first, one per event time, at most `limit` of
    /// each action (views first, then buys). Usually one query; a busy shopper whose
    /// newest rows are nearly all of one action takes one more for the other.
    pub async fn profile_tags(
        &self,
        cookie: &str,
        range: TimeRange,
        limit: u64,
    ) -> Result<Vec<UserTagRow>, clickhouse::error::Error> {
        let per_action = limit.saturating_add(DUPLICATE_MARGIN);
        let read = per_action.saturating_mul(2);
        let rows = self
            .client
            .query(NEWEST_ROWS)
            .bind(cookie)
            .bind(range.from.millis())
            .bind(range.to.millis())
            .bind(read)
            .fetch_all::<UserTagRow>()
            .await?;
        let complete = (rows.len() as u64) < read;
        let (views, buys): (Vec<UserTagRow>, Vec<UserTagRow>) = rows
            .into_iter()
            .partition(|row| row.action == action_code(Action::View));
        let mut tags = Vec::with_capacity(views.len() + buys.len());
        for (action, rows) in [(Action::View, views), (Action::Buy, buys)] {
            match newest_distinct(rows, limit, complete) {
                Some(newest) => tags.extend(newest),
                None => tags.extend(
                    self.newest_of_action(cookie, action, range, limit, per_action)
                        .await?,
                ),
            }
        }
        Ok(tags)
    }

    /// One action's newest `limit` tags: [`NEWEST_ROWS_OF_ACTION`], or the exact
    /// [`NEWEST_DISTINCT_OF_ACTION`] when even that read was mostly copies.
    async fn newest_of_action(
        &self,
        cookie: &str,
        action: Action,
        range: TimeRange,
        limit: u64,
        read: u64,
    ) -> Result<Vec<UserTagRow>, clickhouse::error::Error> {
        let rows = self
            .client
            .query(NEWEST_ROWS_OF_ACTION)
            .bind(cookie)
            .bind(action.as_str())
            .bind(range.from.millis())
            .bind(range.to.millis())
            .bind(read)
            .fetch_all::<UserTagRow>()
            .await?;
        let complete = (rows.len() as u64) < read;
        match newest_distinct(rows, limit, complete) {
            Some(newest) => Ok(newest),
            None => self.newest_distinct_of(cookie, action, range, limit).await,
        }
    }

    /// [`NEWEST_DISTINCT_OF_ACTION`].
    async fn newest_distinct_of(
        &self,
        cookie: &str,
        action: Action,
        range: TimeRange,
        limit: u64,
    ) -> Result<Vec<UserTagRow>, clickhouse::error::Error> {
        self.client
            .query(NEWEST_DISTINCT_OF_ACTION)
            .bind(cookie)
            .bind(action.as_str())
            .bind(range.from.millis())
            .bind(range.to.millis())
            .bind(limit)
            .fetch_all::<UserTagRow>()
            .await
    }

    /// The totals of every minute of the query's range that has matching rows, in order.
    pub async fn minute_totals(
        &self,
        query: &AggregatesQuery,
    ) -> Result<Vec<MinuteTotals>, clickhouse::error::Error> {
        let filters = &query.filters;
        let (from_seconds, to_seconds) = query.epoch_seconds();
        // An absent filter column holds '' in the rows of its mask (see migrations/0005).
        self.client
            .query(MINUTE_TOTALS)
            .bind(filters.mask())
            .bind(query.action.as_str())
            .bind(filters.origin.as_deref().unwrap_or(""))
            .bind(filters.brand_id.as_deref().unwrap_or(""))
            .bind(filters.category_id.as_deref().unwrap_or(""))
            .bind(from_seconds)
            .bind(to_seconds)
            .fetch_all::<MinuteTotals>()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_ms: i64) -> UserTagRow {
        UserTagRow {
            cookie: "c".into(),
            action: 1,
            time_ms,
            country: "PL".into(),
            device: 1,
            origin: "o".into(),
            product_id: "1".into(),
            product_id_is_text: 0,
            brand_id: "b".into(),
            category_id: "k".into(),
            price: 1,
            kafka_topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: time_ms,
        }
    }

    fn times(rows: Option<Vec<UserTagRow>>) -> Option<Vec<i64>> {
        rows.map(|rows| rows.iter().map(|row| row.time_ms).collect())
    }

    #[test]
    fn copies_are_dropped_and_the_newest_kept_in_order() {
        let rows = vec![row(3), row(9), row(5), row(9), row(7)];
        assert_eq!(
            times(newest_distinct(rows.clone(), 3, true)),
            Some(vec![9, 7, 5])
        );
        assert_eq!(
            times(newest_distinct(rows, 10, true)),
            Some(vec![9, 7, 5, 3])
        );
    }

    #[test]
    fn a_cut_read_with_enough_distinct_rows_is_exact() {
        // Five rows read out of more: the two newest distinct times are among them.
        let rows = vec![row(9), row(9), row(8), row(8), row(7)];
        assert_eq!(times(newest_distinct(rows, 2, false)), Some(vec![9, 8]));
    }

    #[test]
    fn a_cut_read_short_of_distinct_rows_asks_for_the_exact_read() {
        let rows = vec![row(9), row(9), row(9), row(8)];
        assert_eq!(times(newest_distinct(rows, 3, false)), None);
    }

    #[test]
    fn a_zero_limit_gives_nothing() {
        assert_eq!(times(newest_distinct(vec![row(1)], 0, true)), Some(vec![]));
    }
}
