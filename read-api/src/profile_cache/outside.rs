//! Which shoppers the log's tail holds whole: a record of the cookies that may have tags
//! outside the tail (tags the tail evicted or skipped, and tags ClickHouse held before
//! the tail started), by event time, so a shopper first seen after that needs no read
//! of ClickHouse at all.
//!
//! The record is a short list of generations, each a Bloom filter of cookies with the
//! event time it starts at (`since_ms`). What makes an answer from the tail exact is
//! this invariant: every tag outside the tail whose event time is at or after a
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

use fastbloom::BloomFilter;
use std::collections::VecDeque;

/// Distinct cookies a generation takes before the next one starts.
const COOKIES_PER_GENERATION: usize = 1_000_000;

/// Generations kept: 8 x 1.2 MB, the last 8 million distinct shoppers outside the tail.
const GENERATIONS: usize = 8;

/// False positives of a full generation.
const FALSE_POSITIVES: f64 = 0.01;

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
                .expected_items(capacity.max(MIN_FILTER_ITEMS)),
            distinct: 0,
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
    capacity: usize,
    kept: usize,
}

impl OutsideTail {
    /// A record in which every tag outside the tail is older than `since_ms`.
    pub(crate) fn new(since_ms: i64) -> Self {
        Self::with_sizes(since_ms, COOKIES_PER_GENERATION, GENERATIONS)
    }

    /// [`OutsideTail::new`] with `capacity` distinct cookies per generation and `kept`
    /// generations (at least one).
    pub(crate) fn with_sizes(since_ms: i64, capacity: usize, kept: usize) -> Self {
        Self {
            generations: VecDeque::from([Generation::new(since_ms, capacity)]),
            newest_outside_ms: since_ms.saturating_sub(1),
            capacity,
            kept: kept.max(1),
        }
    }

    /// Records a tag of `cookie` at `time_ms` that leaves the tail (or never enters it).
    pub(crate) fn record(&mut self, cookie: &str, time_ms: i64) {
        self.newest_outside_ms = self.newest_outside_ms.max(time_ms);
        let full = match self.generations.back_mut() {
            Some(newest) => {
                if !newest.cookies.insert(cookie) {
                    newest.distinct += 1;
                }
                newest.distinct >= self.capacity
            }
            None => true,
        };
        if full {
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
            .push_back(Generation::new(since_ms, self.capacity));
        while self.generations.len() > self.kept {
            self.generations.pop_front();
        }
    }

    /// The oldest event time from which the tail holds every tag of `cookie`, if any.
    pub(crate) fn whole_from(&self, cookie: &str) -> Option<i64> {
        let mut whole_from = None;
        for generation in self.generations.iter().rev() {
            if generation.cookies.contains(cookie) {
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
        let mut outside = OutsideTail::with_sizes(1_000, 2, 3);
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
        let mut outside = OutsideTail::with_sizes(0, 2, 3);
        for time in 0..100 {
            outside.record("same", time);
        }
        assert_eq!(outside.generations(), 1);
    }

    #[test]
    fn dropping_the_oldest_generation_moves_the_start_forward() {
        let mut outside = OutsideTail::with_sizes(0, 1, 2);
        outside.record("a", 10); // fills generation 0; generation 1 starts at 11
        outside.record("b", 20); // fills generation 1; generation 2 starts at 21, 0 goes
        assert_eq!(outside.generations(), 2);
        assert_eq!(outside.whole_from("never"), Some(11));
        assert_eq!(outside.whole_from("a"), Some(11));
        assert_eq!(outside.whole_from("b"), Some(21));
    }

    #[test]
    fn a_generation_never_starts_before_the_previous_one() {
        let mut outside = OutsideTail::with_sizes(1_000, 1, 4);
        outside.record("a", 10);
        assert_eq!(outside.whole_from("a"), Some(1_000));
    }
}
