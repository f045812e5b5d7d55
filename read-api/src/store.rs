//! The ClickHouse reads behind both endpoints. Every value from a request travels as a
//! bound parameter (`?` with `.bind`), never as SQL text.

use crate::params::{AggregatesQuery, TimeRange};
use clickhouse::{Client, Row};
use serde::Deserialize;
use service_kit::settings::ClickHouseSettings;
use service_kit::tables::UserTagRow;

/// One cookie's newest tags of each action, in one query (half the cost of one query
/// per action): the inner `LIMIT 1 BY action, time_ms` drops copies of a replayed tag
/// that `ReplacingMergeTree` has not merged away yet, the outer `LIMIT ? BY action`
/// keeps the newest `limit` of each action.
const PROFILE_TAGS: &str = "\
    SELECT ?fields FROM ( \
        SELECT * FROM user_tags \
        WHERE cookie = ? AND time_ms >= ? AND time_ms < ? \
        ORDER BY time_ms DESC \
        LIMIT 1 BY action, time_ms \
    ) \
    ORDER BY time_ms DESC \
    LIMIT ? BY action";

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
    /// each action (both actions interleaved: split them by `action`).
    pub async fn profile_tags(
        &self,
        cookie: &str,
        range: TimeRange,
        limit: u64,
    ) -> Result<Vec<UserTagRow>, clickhouse::error::Error> {
        self.client
            .query(PROFILE_TAGS)
            .bind(cookie)
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
