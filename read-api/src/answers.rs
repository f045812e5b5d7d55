//! The answers of both endpoints, as the contract shapes them.

use crate::params::{Aggregate, AggregatesQuery};
use crate::store::MinuteTotals;
use read_model::Profile;
use schemas::UserTag;
use serde::Serialize;
use std::collections::HashMap;

/// `{"cookie": ..., "views": [...], "buys": [...]}`: the tags exactly as they were sent.
#[derive(Debug, Serialize)]
pub struct ProfileAnswer<'a> {
    /// The shopper asked about.
    pub cookie: &'a str,
    /// Views, newest first.
    pub views: &'a [UserTag],
    /// Buys, newest first.
    pub buys: &'a [UserTag],
}

impl<'a> ProfileAnswer<'a> {
    /// The answer for `cookie`'s `profile`.
    pub fn new(cookie: &'a str, profile: &'a Profile) -> Self {
        Self {
            cookie,
            views: &profile.views,
            buys: &profile.buys,
        }
    }
}

/// `{"columns": [...], "rows": [[...], ...]}`: every value a string.
#[derive(Debug, Serialize)]
pub struct AggregatesAnswer {
    /// `1m_bucket`, `action`, the present filters, the aggregates in query order.
    pub columns: Vec<&'static str>,
    /// One row per minute of the range, zeros where nothing matched.
    pub rows: Vec<Vec<String>>,
}

impl AggregatesAnswer {
    /// The contract's table for `query` from the totals of the minutes that have data.
    pub fn new(query: &AggregatesQuery, totals: &[MinuteTotals]) -> Self {
        let filters = query.filters().present();
        let mut columns = vec!["1m_bucket", "action"];
        columns.extend(filters.iter().map(|(name, _)| *name));
        columns.extend(
            query
                .aggregates()
                .iter()
                .map(|aggregate| aggregate.column()),
        );
        let by_minute: HashMap<i64, &MinuteTotals> = totals
            .iter()
            .map(|totals| (i64::from(totals.minute_start) * 1000, totals))
            .collect();
        let rows = query
            .minutes()
            .into_iter()
            .map(|minute| {
                let minute_totals = by_minute.get(&minute.millis());
                let mut row = vec![
                    minute.to_bucket_string(),
                    query.action().as_str().to_owned(),
                ];
                row.extend(filters.iter().map(|(_, value)| (*value).to_owned()));
                row.extend(query.aggregates().iter().map(|aggregate| {
                    match (aggregate, minute_totals) {
                        (Aggregate::Count, Some(totals)) => totals.total_count.to_string(),
                        (Aggregate::SumPrice, Some(totals)) => totals.total_sum_price.to_string(),
                        (_, None) => "0".to_owned(),
                    }
                }));
                row
            })
            .collect();
        Self { columns, rows }
    }
}
