//! Which shoppers the log's tail holds whole: a record of the cookies that may have tags
//! outside the tail (tags the tail evicted or skipped, and tags ClickHouse held before
//! the tail started), by event time, so a shopper first seen after that needs no read
//! of ClickHouse at all.
//!
//! The record is a list of generations, each a Bloom filter of cookies with the event
//! time it starts at (`since_ms`). What makes an answer from the tail exact is this
//! invariant: every tag outside the tail whose event time is at or after a
//! generation's `since_ms` has its cookie in that generation or a newer one.
//!
//! - At the start, every tag outside the tail is older than the first generation's
//!   `since_ms` (the caller passes one past the newest event time ClickHouse held).
//! - A tag that leaves the tail goes into the newest generation.
//! - A new generation starts one past the newest event time of any tag outside the tail
//!   so far, so no tag outside the tail is as new as it; the oldest is dropped beyond
//!   [`GENERATIONS`] (queries reaching before the oldest kept then go to ClickHouse).
//!
//! So when a cookie is in none of the generations from `g` to the newest, every one of
//! its tags from `g`'s `since_ms` on is in the tail. A Bloom filter may say a cookie is
//! there when it is not (about 1 in 100 here): that sends a read to ClickHouse, never a
//! wrong answer.
//!
//! A generation closes after [`GENERATION_SPAN_MS`] of event time as well as after
//! [`COOKIES_PER_GENERATION`] distinct cookies. Without the span, a generation at the
//! contract's rate never closes (a million shoppers take many millions of tags to fill
//! it), so a shopper whose tag left the tail once stays "outside" for as long as the
//! process runs, and every later read of them goes to ClickHouse however recent its
//! range: on a day's data, reads reaching ClickHouse grew from 2/s to 47/s over the
//! first hour (docs/soak-findings.md). With the span, a shopper is outside only from
//! the generation in which their last tag left, so a range after that is answered here.

use fastbloom::BloomFilter;
use std::collections::VecDeque;

/// Distinct cookies a generation takes before the next one starts (its filter is sized
/// for them: about 20 KB).
const COOKIES_PER_GENERATION: usize = 16_384;

/// Event time a generation spans before the next one starts: how finely the record
/// tells when a shopper's tag left the tail.
const GENERATION_SPAN_MS: i64 = 10_000;

/// Generations kept: half an hour of tags leaving the tail at the contract's rate (less
/// at higher rates), at most 180 x 20 KB. A lookup tests a cookie against the
/// generations from the newest back to the first that may hold it (about 30 ns each),
/// and the tail looks up every shopper it evicts that is not cached: more generations
/// cost CPU on every tag for ranges that reach further back.
const GENERATIONS: usize = 180;

/// False positives of a full generation.
const FALSE_POSITIVES: f64 = 0.01;

/// One seed for every generation's filter, so a cookie is hashed once per lookup.
const SEED: u128 = 0x616c_6c65_7a6f_6e5f_6f75_7473_6964_6521;

/// The least a generation's filter is sized for, so a small one (in tests) has next to
/// no false positives.
const MIN_FILTER_ITEMS: usize = 1_024;

#[derive(Debug)]
struct Generation {
    since_ms: i64,
    cookies: BloomFilter,
    distinct: usize,
}

impl Generation {
    fn new(since_ms: i64, capacity: usize) -> Self {
        Self {
            since_ms,
            cookies: BloomFilter::with_false_pos(FALSE_POSITIVES)
                .seed(&SEED)
                .expected_items(capacity.max(MIN_FILTER_ITEMS)),
            distinct: 0,
        }
    }
}

/// The sizes of the record (see the constants for the product's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Distinct cookies that close a generation.
    pub capacity: usize,
    /// Event time that closes a generation, from its `since_ms`.
    pub span_ms: i64,
    /// Generations kept (at least one).
    pub kept: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            capacity: COOKIES_PER_GENERATION,
            span_ms: GENERATION_SPAN_MS,
            kept: GENERATIONS,
        }
    }
}

/// The cookies that may have tags outside the tail, by event time.
#[derive(Debug)]
pub(crate) struct OutsideTail {
    /// Oldest first; never empty.
    generations: VecDeque<Generation>,
    /// The newest event time of any tag outside the tail so far.
    newest_outside_ms: i64,
    sizes: Sizes,
}

impl OutsideTail {
    /// A record in which every tag outside the tail is older than `since_ms`.
    pub(crate) fn new(since_ms: i64) -> Self {
        Self::with_sizes(since_ms, Sizes::default())
    }

    /// [`OutsideTail::new`] with other sizes.
    pub(crate) fn with_sizes(since_ms: i64, sizes: Sizes) -> Self {
        let sizes = Sizes {
            kept: sizes.kept.max(1),
            ..sizes
        };
        Self {
            generations: VecDeque::from([Generation::new(since_ms, sizes.capacity)]),
            newest_outside_ms: since_ms.saturating_sub(1),
            sizes,
        }
    }

    /// Records a tag of `cookie` at `time_ms` that leaves the tail (or never enters it).
    pub(crate) fn record(&mut self, cookie: &str, time_ms: i64) {
        self.newest_outside_ms = self.newest_outside_ms.max(time_ms);
        let closed = match self.generations.back_mut() {
            Some(newest) => {
                if !newest.cookies.insert(cookie) {
                    newest.distinct += 1;
                }
                newest.distinct >= self.sizes.capacity
                    || self.newest_outside_ms >= newest.since_ms.saturating_add(self.sizes.span_ms)
            }
            None => true,
        };
        if closed {
            self.start_generation();
        }
    }

    fn start_generation(&mut self) {
        let since_ms = self
            .generations
            .back()
            .map_or(i64::MIN, |newest| newest.since_ms)
            .max(self.newest_outside_ms.saturating_add(1));
        self.generations
            .push_back(Generation::new(since_ms, self.sizes.capacity));
        while self.generations.len() > self.sizes.kept {
            self.generations.pop_front();
        }
    }

    /// The oldest event time from which the tail holds every tag of `cookie`, if any.
    pub(crate) fn whole_from(&self, cookie: &str) -> Option<i64> {
        let newest = self.generations.back()?;
        let hash = newest.cookies.source_hash(cookie);
        let mut whole_from = None;
        for generation in self.generations.iter().rev() {
            if generation.cookies.contains_hash(hash) {
                break;
            }
            whole_from = Some(generation.since_ms);
        }
        whole_from
    }

    /// Generations kept now.
    #[cfg(test)]
    pub(crate) fn generations(&self) -> usize {
        self.generations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generations closed by their count of cookies alone.
    fn counted(capacity: usize, kept: usize) -> Sizes {
        Sizes {
            capacity,
            span_ms: i64::MAX,
            kept,
        }
    }

    #[test]
    fn a_cookie_never_outside_is_whole_from_the_start() {
        let outside = OutsideTail::new(1_000);
        assert_eq!(outside.whole_from("new"), Some(1_000));
    }

    #[test]
    fn a_cookie_with_a_tag_outside_is_not_whole_while_one_generation_lasts() {
        let mut outside = OutsideTail::new(1_000);
        outside.record("old", 1_500);
        assert_eq!(outside.whole_from("old"), None);
        assert_eq!(outside.whole_from("new"), Some(1_000));
    }

    #[test]
    fn a_new_generation_starts_past_every_tag_outside_so_far() {
        let mut outside = OutsideTail::with_sizes(1_000, counted(2, 3));
        outside.record("a", 5_000);
        outside.record("b", 2_000);
        // The first generation took two cookies: the second starts after 5,000.
        assert_eq!(outside.generations(), 2);
        assert_eq!(outside.whole_from("a"), Some(5_001));
        assert_eq!(outside.whole_from("b"), Some(5_001));
        assert_eq!(outside.whole_from("c"), Some(1_000));
        // A late tag outside (older than the generation's start) still counts in it.
        outside.record("a", 3_000);
        assert_eq!(outside.whole_from("a"), None);
    }

    #[test]
    fn the_same_cookie_again_does_not_fill_a_generation() {
        let mut outside = OutsideTail::with_sizes(0, counted(2, 3));
        for time in 0..100 {
            outside.record("same", time);
        }
        assert_eq!(outside.generations(), 1);
    }

    #[test]
    fn dropping_the_oldest_generation_moves_the_start_forward() {
        let mut outside = OutsideTail::with_sizes(0, counted(1, 2));
        outside.record("a", 10); // fills generation 0; generation 1 starts at 11
        outside.record("b", 20); // fills generation 1; generation 2 starts at 21, 0 goes
        assert_eq!(outside.generations(), 2);
        assert_eq!(outside.whole_from("never"), Some(11));
        assert_eq!(outside.whole_from("a"), Some(11));
        assert_eq!(outside.whole_from("b"), Some(21));
    }

    #[test]
    fn a_generation_never_starts_before_the_previous_one() {
        let mut outside = OutsideTail::with_sizes(1_000, counted(1, 4));
        outside.record("a", 10);
        assert_eq!(outside.whole_from("a"), Some(1_000));
    }

    #[test]
    fn a_generation_closes_after_its_span_of_event_time() {
        let sizes = Sizes {
            capacity: 1_000,
            span_ms: 100,
            kept: 4,
        };
        let mut outside = OutsideTail::with_sizes(1_000, sizes);
        outside.record("a", 1_050);
        assert_eq!(outside.generations(), 1);
        // 1,100 is the span past 1,000: the next generation starts after it.
        outside.record("b", 1_100);
        assert_eq!(outside.generations(), 2);
        outside.record("c", 1_150);
        // A shopper whose tag left in an older generation is whole from the next one,
        // one whose tag left in the newest is not whole at all.
        assert_eq!(outside.whole_from("a"), Some(1_101));
        assert_eq!(outside.whole_from("b"), Some(1_101));
        assert_eq!(outside.whole_from("c"), None);
        assert_eq!(outside.whole_from("never"), Some(1_000));
    }

    #[test]
    fn at_the_contracts_rate_a_shopper_outside_long_ago_is_whole_again() {
        // A million shoppers at 1,000 tags/s: a generation closed by its count alone
        // would hold every one of them for the whole run.
        let mut outside = OutsideTail::new(0);
        outside.record("long-ago", 1_000);
        for second in 2..600_i64 {
            for tag in 0..1_000_i64 {
                outside.record(
                    &format!("shopper{}", (second * 1_000 + tag) % 1_000_000),
                    second * 1_000 + tag,
                );
            }
        }
        let whole_from = outside.whole_from("long-ago").expect("whole again");
        assert!(
            (1_000..=20_000).contains(&whole_from),
            "whole from the generation after its tag left, got {whole_from}"
        );
        assert!(outside.generations() <= GENERATIONS);
    }
}
