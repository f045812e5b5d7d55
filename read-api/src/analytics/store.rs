//! The analysts' reads of the aggregates: series per bucket and top-N per dimension.
//! They run on their own client, with two threads each (a day is tens of millions of
//! cube rows), beside the contract's single-threaded point reads.
//!
//! Each read goes to the smallest table that answers it exactly. The one-dimension
//! rollup (`minute_dimension_totals`, at most about 1,400 rows a minute, three for the
//! devices) answers a series filtered on one dimension at most and a top-N filtered on
//! nothing but the ranked dimension; the minute cube (`minute_aggregates`, a row per
//! combination of the five dimensions, tens of thousands a minute) answers the rest. A
//! day's unfiltered series sums 4,320 rollup rows (about 51,000 read, in whole granules)
//! instead of 17-69M cube rows. A read of the cube filtered on two dimensions or more,
//! or on device beside a grouping, is served by one of the cube's projections
//! (migration 0012: sorted by brand and origin, or by category and country; 0014:
//! summed per device and one other dimension) whenever that reads fewer granules than
//! the cube's own time order: ClickHouse chooses, the SQL is the same. A day with two
//! filters reads 1.4-24M rows instead of 69M.

use super::params::{CubeFilters, Dimension, Metric, SeriesQuery, TopQuery};
use crate::params::TimeRange;
use crate::store::StoreError;
use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use read_model::queries::{SERIES, SERIES_OF_DIMENSION, TOP, TOP_OF_DIMENSION};
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
        let (from, to) = epoch_seconds(&query.range);
        let read = match series_rollup(&query.filters) {
            Some(rollup) => rollup.bind(
                self.client
                    .query(SERIES_OF_DIMENSION)
                    .bind(query.bucket.seconds())
                    .bind(query.action.as_str()),
                from,
                to,
            ),
            None => bind_filters(
                self.client
                    .query(SERIES)
                    .bind(query.bucket.seconds())
                    .bind(query.action.as_str())
                    .bind(from)
                    .bind(to),
                &query.filters,
            ),
        };
        Ok(read.fetch_all::<BucketTotals>().await?)
    }

    /// The query's top values, best first.
    pub async fn top(&self, query: &TopQuery) -> Result<Vec<RankedValue>, StoreError> {
        if query.filters.matches_nothing() {
            return Ok(Vec::new());
        }
        let ranked_on = match query.by {
            Metric::Count => "total_count",
            Metric::SumPrice => "total_sum_price",
        };
        let (from, to) = epoch_seconds(&query.range);
        let read = match top_rollup(query.dimension, &query.filters) {
            Some(rollup) => rollup.bind(
                self.client
                    .query(TOP_OF_DIMENSION)
                    .bind(query.action.as_str()),
                from,
                to,
            ),
            None => bind_filters(
                self.client
                    .query(TOP)
                    .bind(Identifier(query.dimension.column()))
                    .bind(query.action.as_str())
                    .bind(from)
                    .bind(to),
                &query.filters,
            ),
        };
        Ok(read
            .bind(Identifier(ranked_on))
            .bind(query.limit)
            .fetch_all::<RankedValue>()
            .await?)
    }
}

/// A read of the one-dimension rollup: the dimension's rows, all values or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RollupRead<'a> {
    dimension: Dimension,
    value: Option<&'a str>,
}

impl RollupRead<'_> {
    /// Binds the rollup's part of a query: dimension, from and to, the value filter.
    fn bind(self, read: clickhouse::query::Query, from: i64, to: i64) -> clickhouse::query::Query {
        read.bind(self.dimension.column())
            .bind(from)
            .bind(to)
            .bind(u8::from(self.value.is_some()))
            .bind(self.value.unwrap_or(""))
    }
}

/// A range's ends as epoch seconds.
fn epoch_seconds(range: &TimeRange) -> (i64, i64) {
    (range.from().millis() / 1000, range.to().millis() / 1000)
}

/// The rollup read that answers a series with `filters`, if one does: the filtered
/// dimension's value, or with no filter the devices (every tag has one, and there are
/// three values a minute).
fn series_rollup(filters: &CubeFilters) -> Option<RollupRead<'_>> {
    match filters.given().as_slice() {
        [] => Some(RollupRead {
            dimension: Dimension::Device,
            value: None,
        }),
        [(dimension, value)] => Some(RollupRead {
            dimension: *dimension,
            value: Some(value),
        }),
        _ => None,
    }
}

/// The rollup read that answers a top-N of `ranked` with `filters`, if one does: with no
/// filter, or a filter on `ranked` itself.
fn top_rollup(ranked: Dimension, filters: &CubeFilters) -> Option<RollupRead<'_>> {
    match filters.given().as_slice() {
        [] => Some(RollupRead {
            dimension: ranked,
            value: None,
        }),
        [(dimension, value)] if *dimension == ranked => Some(RollupRead {
            dimension: ranked,
            value: Some(value),
        }),
        _ => None,
    }
}

/// Binds the five (applies, value) filter pairs (the archive's reads bind them alike). An
/// absent device filter still binds a device name: ClickHouse checks the literal
/// against the Enum8 even where the condition is folded away.
pub(super) fn bind_filters(
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

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Device;

    fn filters(origin: Option<&str>, device: Option<Device>) -> CubeFilters {
        CubeFilters {
            origin: origin.map(str::to_owned),
            device,
            ..CubeFilters::default()
        }
    }

    #[test]
    fn a_series_with_one_filter_at_most_reads_the_rollup() {
        assert_eq!(
            series_rollup(&filters(None, None)),
            Some(RollupRead {
                dimension: Dimension::Device,
                value: None
            })
        );
        assert_eq!(
            series_rollup(&filters(Some("o1"), None)),
            Some(RollupRead {
                dimension: Dimension::Origin,
                value: Some("o1")
            })
        );
        assert_eq!(
            series_rollup(&filters(None, Some(Device::Tv))),
            Some(RollupRead {
                dimension: Dimension::Device,
                value: Some("TV")
            })
        );
        assert_eq!(series_rollup(&filters(Some("o1"), Some(Device::Tv))), None);
    }

    #[test]
    fn a_top_n_reads_the_rollup_unless_filtered_on_another_dimension() {
        assert_eq!(
            top_rollup(Dimension::BrandId, &filters(None, None)),
            Some(RollupRead {
                dimension: Dimension::BrandId,
                value: None
            })
        );
        assert_eq!(
            top_rollup(Dimension::Origin, &filters(Some("o1"), None)),
            Some(RollupRead {
                dimension: Dimension::Origin,
                value: Some("o1")
            })
        );
        assert_eq!(
            top_rollup(Dimension::BrandId, &filters(Some("o1"), None)),
            None
        );
        assert_eq!(
            top_rollup(Dimension::Origin, &filters(Some("o1"), Some(Device::Pc))),
            None
        );
    }
}
