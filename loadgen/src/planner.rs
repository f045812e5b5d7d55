//! Which queries the harness asks: while tags flow, a profile or an aggregates query
//! about tags that have been settled long enough (the frontier); after the stream, the
//! final round over everything. Pure functions of the model and a seeded generator, so
//! a run's queries are as reproducible as its tags.

use crate::model::Model;
use crate::stream::{cookie_name, HOT_VALUES};
use rand::rngs::StdRng;
use rand::Rng;
use schemas::contract::{
    Aggregate, AggregatesQuery, Filters, ProfileQuery, TimeRange, MAX_AGGREGATES_MINUTES,
    MINUTE_MILLIS,
};
use schemas::{Action, EventTime};
use std::time::Duration;

/// How far back from the frontier a profile query picks its cookie, in tags.
const RECENT_TAGS: usize = 20_000;

/// The aggregate lists a query may ask for, in every order.
const AGGREGATE_LISTS: [&[Aggregate]; 4] = [
    &[Aggregate::Count],
    &[Aggregate::SumPrice],
    &[Aggregate::Count, Aggregate::SumPrice],
    &[Aggregate::SumPrice, Aggregate::Count],
];

fn floor_minute(millis: i64) -> i64 {
    EventTime::from_millis(millis).floor_minute().millis()
}

fn ceil_minute(millis: i64) -> i64 {
    EventTime::from_millis(millis).ceil_minute().millis()
}

/// The end (exclusive) of the event time covered by the first `frontier` tags.
fn time_after(model: &Model, frontier: usize) -> Option<i64> {
    let last = model.tag(frontier.checked_sub(1)?)?;
    Some(last.time.millis() + 1)
}

fn first_time(model: &Model) -> Option<i64> {
    Some(model.tag(0)?.time.millis())
}

/// A profile query about the first `frontier` tags: a hot cookie (past the 200 cap) a
/// quarter of the time, otherwise a recent tag's cookie; a range from a second to the
/// whole stream, ending at the frontier; the default limit three times in four.
pub fn profile(model: &Model, frontier: usize, rng: &mut StdRng) -> Option<ProfileQuery> {
    let to = time_after(model, frontier)?;
    let first = first_time(model)?;
    let cookie = if rng.random_range(0..4) == 0 {
        cookie_name(rng.random_range(0..HOT_VALUES))
    } else {
        let index = rng.random_range(frontier.saturating_sub(RECENT_TAGS)..frontier);
        model.tag(index)?.cookie.clone()
    };
    let span = [1_000, 10_000, 60_000, i64::MAX][rng.random_range(0..4)];
    let from = to.saturating_sub(span).max(first);
    let limit = (rng.random_range(0..4) == 0).then(|| rng.random_range(1..=20));
    let time_range =
        TimeRange::new(EventTime::from_millis(from), EventTime::from_millis(to)).ok()?;
    Some(ProfileQuery {
        cookie,
        time_range,
        limit,
    })
}

/// An aggregates query about the first `frontier` tags: 1 to 10 whole minutes ending
/// at the last whole minute they cover; a random action, filter combination (values
/// taken from a tag in range, now and then one never seen) and aggregate list.
pub fn aggregate(model: &Model, frontier: usize, rng: &mut StdRng) -> Option<AggregatesQuery> {
    let to = floor_minute(time_after(model, frontier)?);
    let first = floor_minute(first_time(model)?);
    if to <= first {
        return None;
    }
    let minutes = rng.random_range(1..=MAX_AGGREGATES_MINUTES);
    let from = (to - minutes * MINUTE_MILLIS).max(first);
    let (from, to) = (EventTime::from_millis(from), EventTime::from_millis(to));
    let (first_index, end_index) = (model.index_at(from), model.index_at(to));
    let mask = rng.random_range(0..8);
    let mut filters = if first_index < end_index {
        model.filters_of(rng.random_range(first_index..end_index), mask)
    } else {
        Filters::default()
    };
    if mask & 1 != 0 && rng.random_range(0..20) == 0 {
        filters.origin = Some("CAMPAIGN_NEVER_SEEN".to_owned());
    }
    let action = [Action::View, Action::Buy][rng.random_range(0..2)];
    let aggregates = AGGREGATE_LISTS[rng.random_range(0..AGGREGATE_LISTS.len())].to_vec();
    AggregatesQuery::new(TimeRange::new(from, to).ok()?, action, aggregates, filters).ok()
}

/// The final round's profile queries: every hot cookie and `sampled` cookies drawn from
/// the stream, each over the whole stream with the default limit.
pub fn final_profiles(model: &Model, sampled: usize, rng: &mut StdRng) -> Vec<ProfileQuery> {
    let (Some(from), Some(to)) = (first_time(model), time_after(model, model.len())) else {
        return Vec::new();
    };
    let Ok(time_range) = TimeRange::new(EventTime::from_millis(from), EventTime::from_millis(to))
    else {
        return Vec::new();
    };
    let mut cookies: Vec<String> = (0..HOT_VALUES).map(cookie_name).collect();
    for _ in 0..sampled {
        if let Some(tag) = model.tag(rng.random_range(0..model.len())) {
            if !cookies.contains(&tag.cookie) {
                cookies.push(tag.cookie.clone());
            }
        }
    }
    cookies
        .into_iter()
        .map(|cookie| ProfileQuery {
            cookie,
            time_range,
            limit: None,
        })
        .collect()
}

/// The final round's aggregates queries: the whole stream (or its last `within` of
/// event time, when the platform keeps aggregates no longer than that) in 10-minute
/// windows; in each window, for each action, the unfiltered totals (which also prove no
/// tag was lost) and every filter combination with values of a tag in the window.
pub fn final_aggregates(
    model: &Model,
    within: Option<Duration>,
    rng: &mut StdRng,
) -> Vec<AggregatesQuery> {
    let (Some(first), Some(end)) = (first_time(model), time_after(model, model.len())) else {
        return Vec::new();
    };
    // A bounded window starts on the first whole minute inside it.
    let mut from = match within {
        Some(within) => ceil_minute(first.max(end - within.as_millis() as i64)),
        None => floor_minute(first),
    };
    let mut queries = Vec::new();
    let end = ceil_minute(end);
    while from < end {
        let to = (from + MAX_AGGREGATES_MINUTES * MINUTE_MILLIS).min(end);
        let (start_time, end_time) = (EventTime::from_millis(from), EventTime::from_millis(to));
        let (first_index, end_index) = (model.index_at(start_time), model.index_at(end_time));
        let Ok(time_range) = TimeRange::new(start_time, end_time) else {
            break;
        };
        for action in [Action::View, Action::Buy] {
            for mask in 0..8 {
                let filters = if mask == 0 || first_index >= end_index {
                    Filters::default()
                } else {
                    model.filters_of(rng.random_range(first_index..end_index), mask)
                };
                let aggregates = vec![Aggregate::Count, Aggregate::SumPrice];
                if let Ok(query) = AggregatesQuery::new(time_range, action, aggregates, filters) {
                    queries.push(query);
                }
            }
        }
        from = to;
    }
    queries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;
    use crate::stream::{Cardinalities, TagStream};
    use rand::SeedableRng;
    use std::time::Instant;

    fn model_of(count: usize) -> Model {
        let mut model = Model::new();
        for tag in TagStream::new(5, Cardinalities::default()).take(count) {
            let index = model.push(tag);
            model.settle(index, Outcome::Accepted(Instant::now()));
        }
        model
    }

    #[test]
    fn queries_stay_inside_the_frontier_and_the_contract() {
        let model = model_of(200_000);
        let mut rng = StdRng::seed_from_u64(1);
        let frontier = 150_000;
        let frontier_end = model.tag(frontier - 1).map(|tag| tag.time.millis() + 1);
        let mut aggregates = 0;
        for _ in 0..500 {
            let profile = profile(&model, frontier, &mut rng).expect("a profile query");
            assert_eq!(Some(profile.time_range.to().millis()), frontier_end);
            if let Some(query) = aggregate(&model, frontier, &mut rng) {
                aggregates += 1;
                let (from, to) = (query.time_range().from(), query.time_range().to());
                assert!((1..=MAX_AGGREGATES_MINUTES).contains(&to.minutes_since(from)));
                assert!(from.is_whole_minute());
                assert!(Some(to.millis()) <= frontier_end);
            }
        }
        assert_eq!(aggregates, 500, "150 s of tags hold two whole minutes");
        assert!(
            aggregate(&model, 1_000, &mut rng).is_none(),
            "no whole minute yet"
        );
    }

    #[test]
    fn the_final_round_covers_every_minute_and_hot_cookie() {
        let model = model_of(130_000);
        let mut rng = StdRng::seed_from_u64(1);
        let profiles = final_profiles(&model, 10, &mut rng);
        assert!(profiles.len() >= HOT_VALUES as usize);
        let aggregates = final_aggregates(&model, None, &mut rng);
        // 130 s from a whole minute: three minutes, one window, 2 actions x 8 combinations.
        assert_eq!(aggregates.len(), 16);
        assert!(aggregates.iter().all(|query| query
            .time_range()
            .to()
            .minutes_since(query.time_range().from())
            == 3));
    }

    #[test]
    fn a_bounded_final_round_checks_the_whole_minutes_of_its_window_only() {
        let model = model_of(130_000);
        let mut rng = StdRng::seed_from_u64(1);
        let first = first_time(&model).expect("a first tag");
        // The stream ends 130 s after a whole minute; 80 s before its end is 50 s in, so
        // the window's first whole minute is the second one, and it ends with the third.
        let aggregates = final_aggregates(&model, Some(Duration::from_secs(80)), &mut rng);
        assert_eq!(aggregates.len(), 16);
        assert!(aggregates.iter().all(|query| {
            query.time_range().from().millis() == floor_minute(first) + MINUTE_MILLIS
                && query.time_range().to().millis() == floor_minute(first) + 3 * MINUTE_MILLIS
        }));
    }
}
