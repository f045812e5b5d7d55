//! A stale answer told from a wrong one. The harness calls any answer that differs from
//! its model wrong; after a fault, most such answers are the truth as of a moment ago:
//! the projection has not caught up with tags answered 204 more than the freshness
//! limit (10 s) earlier. That breaks the contract's freshness, not its data, and the
//! report counts the two apart.
//!
//! An answer is stale when it is the expected answer with only tags sent after a
//! cutoff left out. The cutoff is one freshness limit before the fault: every tag sent
//! earlier had to be visible when it hit, newer ones may not have been projected yet.
//! - a profile: same cookie; each list newest first; every expected tag it lacks was
//!   sent at or after the cutoff; every tag it has that was not expected is older than
//!   every expected one (it came in under `limit` in place of a missing newer one);
//! - an aggregate: same columns and buckets; every value at most the expected one, and
//!   any minute that differs ends after the cutoff.
//!
//! Anything else is wrong: a tag that should not be there, a changed field, a missing
//! tag older than the cutoff, a count above the truth.

use loadgen::report::Kind;
use schemas::contract::{AggregatesAnswer, ProfileAnswer, MINUTE_MILLIS};
use schemas::UserTag;

/// Whether `got` is `expected` as of before `cutoff_ms` (event time; see the module).
/// Both are the JSON bodies the harness kept; anything that does not parse is wrong.
pub fn is_stale(kind: Kind, expected: &str, got: &str, cutoff_ms: i64) -> bool {
    match kind {
        Kind::Profile | Kind::FinalProfile => {
            match (
                serde_json::from_str::<ProfileAnswer<'static>>(expected),
                serde_json::from_str::<ProfileAnswer<'static>>(got),
            ) {
                (Ok(expected), Ok(got)) => stale_profile(&expected, &got, cutoff_ms),
                _ => false,
            }
        }
        Kind::Aggregate | Kind::FinalAggregate => {
            match (
                serde_json::from_str::<AggregatesAnswer>(expected),
                serde_json::from_str::<AggregatesAnswer>(got),
            ) {
                (Ok(expected), Ok(got)) => stale_aggregate(&expected, &got, cutoff_ms),
                _ => false,
            }
        }
    }
}

fn stale_profile(expected: &ProfileAnswer<'_>, got: &ProfileAnswer<'_>, cutoff_ms: i64) -> bool {
    expected.cookie == got.cookie
        && stale_list(&expected.views, &got.views, cutoff_ms)
        && stale_list(&expected.buys, &got.buys, cutoff_ms)
}

fn stale_list(expected: &[UserTag], got: &[UserTag], cutoff_ms: i64) -> bool {
    let newest_first = got
        .windows(2)
        .all(|pair| pair[0].time.millis() > pair[1].time.millis());
    let missing_are_recent = expected
        .iter()
        .filter(|tag| !got.contains(tag))
        .all(|tag| tag.time.millis() >= cutoff_ms);
    let oldest_expected = expected.iter().map(|tag| tag.time.millis()).min();
    let extras_are_older = got
        .iter()
        .filter(|tag| !expected.contains(tag))
        .all(|tag| oldest_expected.is_some_and(|oldest| tag.time.millis() < oldest));
    newest_first && missing_are_recent && extras_are_older
}

fn stale_aggregate(expected: &AggregatesAnswer, got: &AggregatesAnswer, cutoff_ms: i64) -> bool {
    if expected.columns != got.columns || expected.rows.len() != got.rows.len() {
        return false;
    }
    // Values are strings; the aggregates are the columns after `1m_bucket`, `action`
    // and the filters, named `count` and `sum_price`.
    let aggregate_columns: Vec<usize> = expected
        .columns
        .iter()
        .enumerate()
        .filter(|(_, name)| matches!(name.as_str(), "count" | "sum_price"))
        .map(|(index, _)| index)
        .collect();
    expected.rows.iter().zip(&got.rows).all(|(want, have)| {
        if want == have {
            return true;
        }
        let Some(minute_ms) = want
            .first()
            .and_then(|bucket| schemas::EventTime::parse_query_seconds(bucket).ok())
            .map(schemas::EventTime::millis)
        else {
            return false;
        };
        let same_keys = want.len() == have.len()
            && want
                .iter()
                .zip(have)
                .enumerate()
                .all(|(index, (a, b))| aggregate_columns.contains(&index) || a == b);
        let never_above = aggregate_columns.iter().all(|&index| {
            match (
                want.get(index).and_then(|value| value.parse::<i64>().ok()),
                have.get(index).and_then(|value| value.parse::<i64>().ok()),
            ) {
                (Some(want), Some(have)) => (0..=want).contains(&have),
                _ => false,
            }
        });
        same_keys && never_above && minute_ms + MINUTE_MILLIS > cutoff_ms
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tag(millis: i64) -> serde_json::Value {
        json!({
            "time": schemas::EventTime::from_millis(millis).to_instant_string(),
            "cookie": "c", "country": "PL", "device": "PC", "action": "VIEW", "origin": "o",
            "product_info": {"product_id": 1, "brand_id": "b", "category_id": "k", "price": 10}
        })
    }

    fn profile(views: &[i64]) -> String {
        let views: Vec<_> = views.iter().map(|&millis| tag(millis)).collect();
        json!({"cookie": "c", "views": views, "buys": []}).to_string()
    }

    #[test]
    fn a_profile_missing_only_recent_tags_is_stale() {
        let expected = profile(&[5_000, 4_000, 3_000]);
        assert!(is_stale(
            Kind::Profile,
            &expected,
            &profile(&[3_000]),
            4_000
        ));
        // Under a limit of 3, an older tag takes a missing one's place.
        assert!(is_stale(
            Kind::Profile,
            &expected,
            &profile(&[4_000, 3_000, 2_000]),
            4_500
        ));
        // The older tag that took its place may itself be newer than the cutoff.
        assert!(is_stale(
            Kind::Profile,
            &expected,
            &profile(&[4_000, 3_000, 2_000]),
            1_000
        ));
    }

    #[test]
    fn a_profile_missing_an_old_tag_or_holding_a_strange_one_is_wrong() {
        let expected = profile(&[5_000, 4_000, 3_000]);
        assert!(!is_stale(
            Kind::Profile,
            &expected,
            &profile(&[5_000, 4_000]),
            4_000
        ));
        assert!(!is_stale(
            Kind::Profile,
            &expected,
            &profile(&[5_000, 4_500, 4_000, 3_000]),
            0
        ));
        assert!(!is_stale(
            Kind::Profile,
            &expected,
            &profile(&[3_000, 4_000]),
            4_000
        ));
        assert!(!is_stale(Kind::Profile, &expected, "not json", 0));
    }

    fn aggregate(counts: &[&str]) -> String {
        let rows: Vec<_> = counts
            .iter()
            .enumerate()
            .map(|(minute, count)| json!([format!("2026-03-01T00:0{minute}:00"), "VIEW", count]))
            .collect();
        json!({"columns": ["1m_bucket", "action", "count"], "rows": rows}).to_string()
    }

    #[test]
    fn aggregates_short_only_in_recent_minutes_are_stale_and_nothing_else_is() {
        let start = schemas::EventTime::parse_query_seconds("2026-03-01T00:00:00")
            .expect("a bucket")
            .millis();
        let expected = aggregate(&["10", "10"]);
        let cutoff = start + 90_000;
        assert!(is_stale(
            Kind::Aggregate,
            &expected,
            &aggregate(&["10", "7"]),
            cutoff
        ));
        assert!(!is_stale(
            Kind::Aggregate,
            &expected,
            &aggregate(&["9", "10"]),
            cutoff
        ));
        assert!(!is_stale(
            Kind::Aggregate,
            &expected,
            &aggregate(&["10", "11"]),
            cutoff
        ));
        assert!(!is_stale(
            Kind::Aggregate,
            &expected,
            &aggregate(&["10"]),
            cutoff
        ));
    }
}
