//! The analysts' answers. Counts and revenues are JSON integers; instants are UTC,
//! `YYYY-MM-DDTHH:MM:SS` like the contract's buckets. Each says where it was read from
//! (`source`: `cube` or `archive`) and, from the archive, how far the archive reaches.

use super::history::ArchiveScope;
use super::params::{SeriesQuery, TopQuery};
use super::store::{BucketTotals, RankedValue};
use schemas::EventTime;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// A time series of one action.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeriesAnswer {
    /// `VIEW` or `BUY`.
    pub action: &'static str,
    /// `1m`, `5m` or `1h`.
    pub bucket: &'static str,
    /// The first bucket's start (the query's `from`, aligned down).
    pub from: String,
    /// The end of the last bucket (the query's `to`, aligned up).
    pub to: String,
    /// Every bucket of the range in order, zeros where nothing matched.
    pub points: Vec<SeriesPoint>,
    /// Where it was read from: `cube` (the minute cube, 24 hours of ingestion) or
    /// `archive` (every tag, kept for good).
    pub source: &'static str,
    /// From the archive: every tag the broker received before this instant is in it
    /// (null from the cube, or from an empty archive).
    pub archived_through: Option<String>,
}

/// One bucket of a series.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeriesPoint {
    /// The bucket's start.
    pub start: String,
    /// Number of matching tags.
    pub count: u64,
    /// Sum of their prices.
    pub sum_price: i64,
}

impl SeriesAnswer {
    /// The answer for `query` from the buckets that have data.
    pub(crate) fn new(query: &SeriesQuery, totals: &[BucketTotals]) -> Self {
        let by_start: HashMap<i64, &BucketTotals> = totals
            .iter()
            .map(|bucket| (i64::from(bucket.bucket_start) * 1000, bucket))
            .collect();
        let width = query.bucket.seconds() * 1000;
        let (from, to) = (query.range.from().millis(), query.range.to().millis());
        let points = (from..to)
            .step_by(usize::try_from(width).unwrap_or(60_000))
            .map(|start| {
                let bucket = by_start.get(&start);
                SeriesPoint {
                    start: EventTime::from_millis(start).to_bucket_string(),
                    count: bucket.map_or(0, |bucket| bucket.total_count),
                    sum_price: bucket.map_or(0, |bucket| bucket.total_sum_price),
                }
            })
            .collect();
        Self {
            action: query.action.as_str(),
            bucket: query.bucket.as_str(),
            from: query.range.from().to_bucket_string(),
            to: query.range.to().to_bucket_string(),
            points,
            source: "cube",
            archived_through: None,
        }
    }

    /// The answer read from the archive as far as `scope` says it reaches.
    pub(crate) fn with_archive_scope(mut self, scope: &ArchiveScope) -> Self {
        self.source = "archive";
        self.archived_through = scope.archived_through.map(|time| time.to_bucket_string());
        self
    }
}

/// The values of one dimension ranked by count or revenue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TopAnswer {
    /// `VIEW` or `BUY`.
    pub action: &'static str,
    /// The dimension ranked.
    pub dimension: &'static str,
    /// `count` or `sum_price`.
    pub by: &'static str,
    /// The range's start (aligned down to the minute).
    pub from: String,
    /// The range's end (aligned up to the minute).
    pub to: String,
    /// The best values first (ties by value).
    pub rows: Vec<TopRow>,
    /// Every matching tag, whatever its value (for shares).
    pub total: Totals,
    /// Where it was read from: `cube` (the minute cube, 24 hours of ingestion) or
    /// `archive` (every tag, kept for good).
    pub source: &'static str,
    /// From the archive: every tag the broker received before this instant is in it
    /// (null from the cube, or from an empty archive).
    pub archived_through: Option<String>,
}

/// One ranked value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TopRow {
    /// The dimension's value.
    pub value: String,
    /// Number of matching tags with it.
    pub count: u64,
    /// Sum of their prices.
    pub sum_price: i64,
}

/// A count and a revenue.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Totals {
    /// Number of tags.
    pub count: u64,
    /// Sum of their prices.
    pub sum_price: i64,
}

impl TopAnswer {
    /// The answer for `query` from its ranked values.
    pub(crate) fn new(query: &TopQuery, ranked: &[RankedValue]) -> Self {
        let total = ranked.first().map_or_else(Totals::default, |first| Totals {
            count: first.all_count,
            sum_price: first.all_sum_price,
        });
        Self {
            action: query.action.as_str(),
            dimension: query.dimension.column(),
            by: query.by.as_str(),
            from: query.range.from().to_bucket_string(),
            to: query.range.to().to_bucket_string(),
            rows: ranked
                .iter()
                .map(|value| TopRow {
                    value: value.value.clone(),
                    count: value.total_count,
                    sum_price: value.total_sum_price,
                })
                .collect(),
            total,
            source: "cube",
            archived_through: None,
        }
    }

    /// The answer read from the archive as far as `scope` says it reaches.
    pub(crate) fn with_archive_scope(mut self, scope: &ArchiveScope) -> Self {
        self.source = "archive";
        self.archived_through = scope.archived_through.map(|time| time.to_bucket_string());
        self
    }
}
