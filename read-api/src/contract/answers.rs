//! The answers of both endpoints from what the store read: the read model's rows put
//! into the contract's answer types ([`schemas::contract`]), which fix the wire shape.

use crate::contract::store::MinuteTotals;
use read_model::Profile;
use schemas::contract::{AggregatesAnswer, AggregatesQuery, ProfileAnswer, Totals};
use std::collections::HashMap;

/// The answer for `cookie`'s `profile`, borrowing its tags.
pub(crate) fn profile<'a>(cookie: &'a str, profile: &'a Profile) -> ProfileAnswer<'a> {
    ProfileAnswer::borrowed(cookie, &profile.views, &profile.buys)
}

/// The contract's table for `query` from the totals of the minutes that have data;
/// the other minutes of the range are zeros.
pub(crate) fn aggregates(query: &AggregatesQuery, totals: &[MinuteTotals]) -> AggregatesAnswer {
    let by_minute: HashMap<i64, Totals> = totals
        .iter()
        .map(|totals| {
            (
                i64::from(totals.minute_start) * 1000,
                Totals {
                    count: totals.total_count,
                    sum_price: totals.total_sum_price,
                },
            )
        })
        .collect();
    AggregatesAnswer::new(query, |minute| {
        by_minute.get(&minute.millis()).copied().unwrap_or_default()
    })
}
