//! The harness's outcomes as they come ([`loadgen::harness::Event`]), kept so that each
//! can be timed and attributed afterwards: which tags failed and when, which queries
//! were right, wrong or failed and when, and what the final round counted per minute.
//! While the run goes on, the freshness probe takes recently accepted tags from here.

use loadgen::harness::{Event, Verdict};
use loadgen::report::Kind;
use schemas::UserTag;
use std::collections::VecDeque;
use std::ops::Range;
use std::time::Instant;

/// Accepted tags kept for the freshness probe.
const RECENT_ACCEPTED: usize = 20_000;

/// One tag's outcome.
#[derive(Debug, Clone, Copy)]
pub struct TagOutcome {
    /// When it was due.
    pub due: Instant,
    /// When it was answered.
    pub answered: Instant,
    /// 204 or not.
    pub accepted: bool,
}

/// One checked query's outcome.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    /// Its kind.
    pub kind: Kind,
    /// When it was sent.
    pub sent: Instant,
    /// When it was answered.
    pub answered: Instant,
    /// How it went.
    pub verdict: Verdict,
    /// Its URL.
    pub url: String,
    /// A wrong answer's expected and received bodies.
    pub difference: Option<(String, String)>,
}

/// One final-round count of one minute and action.
#[derive(Debug, Clone, Copy)]
pub struct MinuteCount {
    /// The minute's start, ms since the epoch.
    pub minute_ms: i64,
    /// Tags answered 204 in it.
    pub accepted: u64,
    /// Tags that failed in it.
    pub uncertain: u64,
    /// What the platform counted.
    pub counted: u64,
}

impl MinuteCount {
    /// Tags answered 204 that the count misses.
    pub fn lost(&self) -> u64 {
        self.accepted.saturating_sub(self.counted)
    }
}

/// What a slice of the run amounted to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Tags sent.
    pub tags_sent: u64,
    /// Tags not answered 204.
    pub tags_failed: u64,
    /// Queries answered right.
    pub queries_correct: u64,
    /// Queries answered wrong (data the model never had, or missing older than the fault).
    pub queries_wrong: u64,
    /// Queries answered stale: right as of before the fault, missing only tags sent
    /// since (see [`crate::staleness`]); counted out of the wrong ones by the run.
    pub queries_stale: u64,
    /// Queries failed (status, transport, deadline).
    pub queries_failed: u64,
}

/// Everything the run reported.
#[derive(Debug, Default)]
pub struct Ledger {
    tags: Vec<Option<TagOutcome>>,
    queries: Vec<QueryOutcome>,
    minutes: Vec<MinuteCount>,
    recent: VecDeque<(UserTag, Instant)>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `event`.
    pub fn record(&mut self, event: Event) {
        match event {
            Event::Tag {
                index,
                tag,
                due,
                answered,
                accepted,
            } => {
                if self.tags.len() <= index {
                    self.tags.resize(index + 1, None);
                }
                self.tags[index] = Some(TagOutcome {
                    due,
                    answered,
                    accepted,
                });
                if accepted {
                    if self.recent.len() == RECENT_ACCEPTED {
                        self.recent.pop_front();
                    }
                    self.recent.push_back((tag, answered));
                }
            }
            Event::Query {
                kind,
                sent,
                answered,
                verdict,
                url,
                difference,
            } => self.queries.push(QueryOutcome {
                kind,
                sent,
                answered,
                verdict,
                url,
                difference,
            }),
            Event::MinuteCounted {
                minute,
                accepted,
                uncertain,
                counted,
                ..
            } => self.minutes.push(MinuteCount {
                minute_ms: minute.millis(),
                accepted,
                uncertain,
                counted,
            }),
            // Freshness is measured by the chaos run's own probes (see `freshness`).
            Event::Fresh { .. } => {}
        }
    }

    /// When the stream's first tag was due: the origin of the run's schedule.
    pub fn first_due(&self) -> Option<Instant> {
        self.tags.first().copied().flatten().map(|tag| tag.due)
    }

    /// The first tag answered 204 at or after `after` (among the recent ones).
    pub fn accepted_since(&self, after: Instant) -> Option<(UserTag, Instant)> {
        self.recent
            .iter()
            .filter(|(_, answered)| *answered >= after)
            .min_by_key(|(_, answered)| *answered)
            .cloned()
    }

    /// When the first tag due at or after `after` was answered 204.
    pub fn first_accepted_due_since(&self, after: Instant) -> Option<Instant> {
        self.tags
            .iter()
            .flatten()
            .filter(|tag| tag.accepted && tag.due >= after)
            .map(|tag| tag.answered)
            .min()
    }

    /// When the first query of `kind` sent at or after `after` was answered right.
    pub fn first_correct_since(&self, kind: Kind, after: Instant) -> Option<Instant> {
        self.queries
            .iter()
            .filter(|query| {
                query.kind == kind && query.verdict == Verdict::Correct && query.sent >= after
            })
            .map(|query| query.answered)
            .min()
    }

    /// Tags of the stream positions `indexes`, and live (not final-round) queries sent
    /// within `sent`.
    pub fn tally(&self, indexes: Range<usize>, sent: Range<Instant>) -> Tally {
        let mut tally = Tally::default();
        for tag in self.tags.get(indexes).unwrap_or_default().iter().flatten() {
            tally.tags_sent += 1;
            tally.tags_failed += u64::from(!tag.accepted);
        }
        for query in self
            .live_queries()
            .filter(|query| sent.contains(&query.sent))
        {
            match query.verdict {
                Verdict::Correct => tally.queries_correct += 1,
                Verdict::Wrong => tally.queries_wrong += 1,
                Verdict::Failed => tally.queries_failed += 1,
            }
        }
        tally
    }

    /// Wrong live answers sent within `sent`.
    pub fn wrong_answers(&self, sent: Range<Instant>) -> Vec<&QueryOutcome> {
        self.live_queries()
            .filter(|query| query.verdict == Verdict::Wrong && sent.contains(&query.sent))
            .collect()
    }

    fn live_queries(&self) -> impl Iterator<Item = &QueryOutcome> {
        self.queries
            .iter()
            .filter(|query| matches!(query.kind, Kind::Profile | Kind::Aggregate))
    }

    /// The final round's per-minute counts of minutes starting in `event_ms`.
    pub fn minutes_in(&self, event_ms: Range<i64>) -> impl Iterator<Item = &MinuteCount> {
        self.minutes
            .iter()
            .filter(move |minute| event_ms.contains(&minute.minute_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tag_event(index: usize, due: Instant, accepted: bool) -> Event {
        let tag = loadgen::stream::TagStream::new(1, loadgen::stream::Cardinalities::default())
            .next()
            .expect("a tag");
        Event::Tag {
            index,
            tag,
            due,
            answered: due + Duration::from_millis(5),
            accepted,
        }
    }

    #[test]
    fn recoveries_are_the_first_success_after_the_fault() {
        let start = Instant::now();
        let at = |millis| start + Duration::from_millis(millis);
        let mut ledger = Ledger::new();
        ledger.record(tag_event(1, at(1), true));
        ledger.record(tag_event(0, at(0), true));
        ledger.record(tag_event(2, at(10), false));
        ledger.record(tag_event(3, at(20), true));
        assert_eq!(ledger.first_due(), Some(at(0)));
        assert_eq!(ledger.first_accepted_due_since(at(5)), Some(at(25)));
        assert_eq!(ledger.tally(0..4, at(0)..at(100)).tags_failed, 1);
        assert_eq!(ledger.tally(0..2, at(0)..at(100)).tags_sent, 2);
        ledger.record(Event::Query {
            kind: Kind::Profile,
            sent: at(30),
            answered: at(31),
            verdict: Verdict::Failed,
            url: String::new(),
            difference: None,
        });
        ledger.record(Event::Query {
            kind: Kind::Profile,
            sent: at(40),
            answered: at(42),
            verdict: Verdict::Correct,
            url: String::new(),
            difference: None,
        });
        assert_eq!(
            ledger.first_correct_since(Kind::Profile, at(30)),
            Some(at(42))
        );
        assert_eq!(ledger.first_correct_since(Kind::Aggregate, at(30)), None);
        let tally = ledger.tally(0..0, at(0)..at(35));
        assert_eq!((tally.queries_failed, tally.queries_correct), (1, 0));
    }
}
