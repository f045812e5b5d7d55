//! The harness's own model of the platform: every tag it sent, in event-time order, and
//! what became of each (answered 204, failed, or still in flight). The expected answer
//! of any query comes from here, together with whether that answer is certain: a tag
//! that failed or timed out may or may not be stored, so an answer that depends on one
//! is not certain and the query is not asked.

use schemas::contract::{
    AggregatesAnswer, AggregatesQuery, Filters, ProfileAnswer, ProfileQuery, Totals,
};
use schemas::{Action, EventTime, UserTag};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One minute's totals as the model knows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteTotals {
    /// Tags answered 204.
    pub accepted_count: u64,
    /// Their price sum.
    pub accepted_sum: i64,
    /// Tags that failed: each may or may not be counted.
    pub uncertain_count: u64,
}

impl MinuteTotals {
    /// The totals of the tags answered 204, as an answer's row shows them.
    pub fn accepted(&self) -> Totals {
        Totals {
            count: self.accepted_count,
            sum_price: self.accepted_sum,
        }
    }
}

/// The contract's table for `query` from `totals`, one per minute of its range (as
/// [`Model::minute_totals`] gives them), counting the tags answered 204.
pub fn aggregates_answer(query: &AggregatesQuery, totals: &[MinuteTotals]) -> AggregatesAnswer {
    let from = query.time_range().from();
    AggregatesAnswer::new(query, |minute| {
        usize::try_from(minute.minutes_since(from))
            .ok()
            .and_then(|index| totals.get(index))
            .map(MinuteTotals::accepted)
            .unwrap_or_default()
    })
}

/// What became of one sent tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No answer yet.
    InFlight,
    /// Answered 204 at this instant: it must be stored.
    Accepted(Instant),
    /// Any other answer, a transport error or the deadline, at this instant: it may or
    /// may not be stored.
    Failed(Instant),
}

impl Outcome {
    /// Whether the tag has had its answer for at least `lag` at `now`.
    fn settled_for(self, lag: Duration, now: Instant) -> bool {
        match self {
            Self::InFlight => false,
            Self::Accepted(at) | Self::Failed(at) => now.saturating_duration_since(at) >= lag,
        }
    }
}

/// An expected answer, or the reason there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected<T> {
    /// Exactly this.
    Certain(T),
    /// Depends on a tag that failed: either answer could be right.
    Uncertain,
}

/// The tags sent so far and their outcomes.
#[derive(Debug, Default)]
pub struct Model {
    tags: Vec<UserTag>,
    outcomes: Vec<Outcome>,
    by_cookie: HashMap<String, Vec<usize>>,
}

impl Model {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a tag about to be sent and returns its index. Tags must come in
    /// increasing event time, as the stream makes them.
    pub fn push(&mut self, tag: UserTag) -> usize {
        let index = self.tags.len();
        self.by_cookie
            .entry(tag.cookie.clone())
            .or_default()
            .push(index);
        self.tags.push(tag);
        self.outcomes.push(Outcome::InFlight);
        index
    }

    /// Records what became of tag `index`.
    pub fn settle(&mut self, index: usize, outcome: Outcome) {
        if let Some(slot) = self.outcomes.get_mut(index) {
            *slot = outcome;
        }
    }

    /// Tags recorded.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Tag `index`.
    pub fn tag(&self, index: usize) -> Option<&UserTag> {
        self.tags.get(index)
    }

    /// The end of the settled prefix: the first index at or after `from` whose tag has
    /// not had its answer for `lag` yet (every tag before it has).
    pub fn settled_prefix(&self, from: usize, lag: Duration, now: Instant) -> usize {
        let mut end = from;
        while self
            .outcomes
            .get(end)
            .is_some_and(|outcome| outcome.settled_for(lag, now))
        {
            end += 1;
        }
        end
    }

    /// The first index whose tag's time is at or after `time`.
    pub fn index_at(&self, time: EventTime) -> usize {
        self.tags.partition_point(|tag| tag.time.instant() < time)
    }

    /// The profile `query` must get.
    pub fn profile(&self, query: &ProfileQuery) -> Expected<ProfileAnswer<'static>> {
        let (mut views, mut buys) = (Vec::new(), Vec::new());
        let (from, to) = (query.time_range.from(), query.time_range.to());
        let limit = usize::try_from(query.limit()).unwrap_or(usize::MAX);
        let indexes = self
            .by_cookie
            .get(&query.cookie)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Newest first: indexes follow event time.
        for &index in indexes.iter().rev() {
            let tag = &self.tags[index];
            if tag.time.instant() < from || tag.time.instant() >= to {
                continue;
            }
            match self.outcomes[index] {
                Outcome::Accepted(_) => {}
                Outcome::InFlight | Outcome::Failed(_) => return Expected::Uncertain,
            }
            let list = match tag.action {
                Action::View => &mut views,
                Action::Buy => &mut buys,
            };
            if list.len() < limit {
                list.push(tag.clone());
            }
        }
        Expected::Certain(ProfileAnswer::owned(query.cookie.clone(), views, buys))
    }

    /// Per-minute totals of the tags `query` selects, one entry per minute of its range.
    pub fn minute_totals(&self, query: &AggregatesQuery) -> Vec<MinuteTotals> {
        let (from, to) = (query.time_range().from(), query.time_range().to());
        let minutes = usize::try_from(to.minutes_since(from)).unwrap_or_default();
        let mut totals = vec![MinuteTotals::default(); minutes];
        for index in self.index_at(from)..self.index_at(to) {
            let tag = &self.tags[index];
            if tag.action != query.action() || !query.filters().admit(tag) {
                continue;
            }
            let minute =
                usize::try_from(tag.time.instant().minutes_since(from)).unwrap_or(usize::MAX);
            let Some(slot) = totals.get_mut(minute) else {
                continue;
            };
            match self.outcomes[index] {
                Outcome::Accepted(_) => {
                    slot.accepted_count += 1;
                    slot.accepted_sum += i64::from(tag.product_info.price);
                }
                Outcome::InFlight | Outcome::Failed(_) => slot.uncertain_count += 1,
            }
        }
        totals
    }

    /// The aggregates answer `query` must get.
    pub fn aggregate(&self, query: &AggregatesQuery) -> Expected<AggregatesAnswer> {
        let totals = self.minute_totals(query);
        if totals.iter().any(|minute| minute.uncertain_count > 0) {
            return Expected::Uncertain;
        }
        Expected::Certain(aggregates_answer(query, &totals))
    }

    /// Filters matching tag `index` in the combination `mask` (bit 1 origin, 2 brand,
    /// 4 category).
    pub fn filters_of(&self, index: usize, mask: u8) -> Filters {
        let Some(tag) = self.tags.get(index) else {
            return Filters::default();
        };
        Filters {
            origin: (mask & 1 != 0).then(|| tag.origin.clone()),
            brand_id: (mask & 2 != 0).then(|| tag.product_info.brand_id.clone()),
            category_id: (mask & 4 != 0).then(|| tag.product_info.category_id.clone()),
        }
    }

    /// How many tags were answered 204, and how many failed.
    pub fn outcome_counts(&self) -> (u64, u64) {
        self.outcomes
            .iter()
            .fold((0, 0), |(accepted, failed), outcome| match outcome {
                Outcome::Accepted(_) => (accepted + 1, failed),
                Outcome::Failed(_) => (accepted, failed + 1),
                Outcome::InFlight => (accepted, failed),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{Cardinalities, TagStream};
    use schemas::contract::{Aggregate, TimeRange};

    fn model_of(count: usize) -> Model {
        let mut model = Model::new();
        let now = Instant::now();
        for tag in TagStream::new(3, Cardinalities::default()).take(count) {
            let index = model.push(tag);
            model.settle(index, Outcome::Accepted(now));
        }
        model
    }

    #[test]
    fn profiles_are_newest_first_capped_and_uncertain_when_a_tag_failed() {
        let mut model = model_of(20_000);
        let cookie = model.tags[0].cookie.clone();
        let query = ProfileQuery {
            cookie: cookie.clone(),
            time_range: TimeRange::new(
                model.tags[0].time.instant(),
                model.tags[19_999].time.instant(),
            )
            .expect("ordered"),
            limit: Some(3),
        };
        let Expected::Certain(answer) = model.profile(&query) else {
            panic!("every tag was accepted");
        };
        let all: Vec<&UserTag> = model.tags[..19_999]
            .iter()
            .filter(|tag| tag.cookie == cookie)
            .collect();
        let views = all.iter().filter(|tag| tag.action == Action::View).count();
        assert_eq!(answer.views.len(), views.min(3));
        assert!(answer
            .views
            .windows(2)
            .all(|pair| pair[0].time.instant() > pair[1].time.instant()));
        let first = model.by_cookie[&cookie][0];
        model.settle(first, Outcome::Failed(Instant::now()));
        assert_eq!(model.profile(&query), Expected::Uncertain);
    }

    #[test]
    fn minute_totals_follow_filters_and_minutes() {
        let model = model_of(150_000);
        let from = model.tags[0].time.instant();
        let query = AggregatesQuery::new(
            TimeRange::new(from, from.plus_minutes(2)).expect("ordered"),
            Action::Buy,
            vec![Aggregate::Count],
            model.filters_of(0, 2),
        )
        .expect("two whole minutes");
        let totals = model.minute_totals(&query);
        assert_eq!(totals.len(), 2);
        let expected_first = model.tags[..60_000]
            .iter()
            .filter(|tag| {
                tag.action == Action::Buy
                    && tag.product_info.brand_id == model.tags[0].product_info.brand_id
            })
            .count() as u64;
        assert_eq!(totals[0].accepted_count, expected_first);
        assert!(totals.iter().all(|minute| minute.uncertain_count == 0));
    }

    #[test]
    fn the_settled_prefix_stops_at_the_first_tag_in_flight_or_too_recent() {
        let mut model = Model::new();
        let old = Instant::now();
        for tag in TagStream::new(1, Cardinalities::default()).take(4) {
            model.push(tag);
        }
        model.settle(0, Outcome::Accepted(old));
        model.settle(1, Outcome::Failed(old));
        model.settle(3, Outcome::Accepted(old));
        let later = old + Duration::from_secs(5);
        assert_eq!(model.settled_prefix(0, Duration::from_secs(5), later), 2);
        assert_eq!(model.settled_prefix(0, Duration::from_secs(6), later), 0);
        model.settle(2, Outcome::Accepted(later));
        assert_eq!(model.settled_prefix(1, Duration::from_secs(5), later), 2);
        assert_eq!(model.settled_prefix(2, Duration::ZERO, later), 4);
    }
}
