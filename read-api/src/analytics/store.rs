//! The analysts' reads of the minute cube: series per bucket and top-N per dimension.
//! They run on their own client, with two threads each (a day is tens of millions of
//! cube rows), beside the contract's single-threaded point reads.

use super::params::{CubeFilters, SeriesQuery, TopQuery};
use crate::store::StoreError;
use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use read_model::queries::{SERIES, TOP};
use schemas::Device;
use serde::Deserialize;

/// The totals of one bucket that has data.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct BucketTotals {
    /// The bucket's start, epoch seconds.
    pub bucket_start: u32,
    /// Number of matching tags.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
}

/// One value of a top-N, with the totals over every value.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct RankedValue {
    /// The dimension's value.
    pub value: String,
    /// Number of matching tags with it.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
    /// Number of matching tags, every value.
    pub all_count: u64,
    /// Sum of their prices, every value.
    pub all_sum_price: i64,
}

/// The analysts' reads.
#[derive(Clone)]
pub struct CubeStore {
    client: Client,
}

impl CubeStore {
    /// Reads on `client` (read-api's database), two threads each.
    pub fn new(client: Client) -> Self {
        Self {
            client: client
                .with_setting("max_threads", "2")
                .with_setting("cancel_http_readonly_queries_on_client_close", "1"),
        }
    }

    /// The totals of every bucket of the query's range that has matching tags, in order.
    pub async fn series(&self, query: &SeriesQuery) -> Result<Vec<BucketTotals>, StoreError> {
        if query.filters.matches_nothing() {
            return Ok(Vec::new());
        }
        let read = self
            .client
            .query(SERIES)
            .bind(query.bucket.seconds())
            .bind(query.action.as_str())
            .bind(query.range.from().millis() / 1000)
            .bind(query.range.to().millis() / 1000);
        Ok(bind_filters(read, &query.filters)
            .fetch_all::<BucketTotals>()
            .await?)
    }

    /// The query's top values, best first.
    pub async fn top(&self, query: &TopQuery) -> Result<Vec<RankedValue>, StoreError> {
        if query.filters.matches_nothing() {
            return Ok(Vec::new());
        }
        let ranked_on = match query.by {
            super::params::Metric::Count => "total_count",
            super::params::Metric::SumPrice => "total_sum_price",
        };
        let read = self
            .client
            .query(TOP)
            .bind(Identifier(query.dimension.column()))
            .bind(query.action.as_str())
            .bind(query.range.from().millis() / 1000)
            .bind(query.range.to().millis() / 1000);
        Ok(bind_filters(read, &query.filters)
            .bind(Identifier(ranked_on))
            .bind(query.limit)
            .fetch_all::<RankedValue>()
            .await?)
    }
}

/// Binds the five (applies, value) filter pairs. An absent device filter still binds a
/// device name: ClickHouse checks the literal against the Enum8 even where the
/// condition is folded away.
fn bind_filters(
    mut read: clickhouse::query::Query,
    filters: &CubeFilters,
) -> clickhouse::query::Query {
    for filter in [
        &filters.origin,
        &filters.brand_id,
        &filters.category_id,
        &filters.country,
    ] {
        read = read
            .bind(u8::from(filter.is_some()))
            .bind(filter.as_deref().unwrap_or(""));
    }
    read.bind(u8::from(filters.device.is_some()))
        .bind(filters.device.unwrap_or(Device::Pc).as_str())
}
