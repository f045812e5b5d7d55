//! What a batch of profile reads costs, and whether a request can still be answered in
//! time behind the requests queued ahead of it: the profile batcher's admission rule.
//!
//! A batch's duration grows with its size. ClickHouse pays a part per query (parsing,
//! analysis, planning, the round trip) and a part per cookie read: on 26.9 with the
//! 86.4M-tag day, one cookie alone takes 5 ms, 8 together 7 ms, 32 together 13 ms (one
//! batch at a time, median of 15); two batches at once on the two shared cores, beside
//! the front door and the load, take 7 ms for 2 and 27-28 ms for 32 (`bench burst`'s
//! overload, `system.query_log`), so about 4.7 ms + 0.7 ms a cookie. One running mean of
//! "the batch duration" mixes lone reads with full batches: a burst reaching an idle
//! read-api was admitted on the lone reads' 5 ms, and most of it then ended late
//! (`bench burst`: a third of each 200-request burst answered 503 after 150 ms; at twice
//! the capacity 99% answered 503 after 150 ms and 10 requests a second were served).
//! So the two parts are estimated apart, each a running mean of what finished batches
//! took: lone reads and pairs teach the part per query, larger batches the part per read.
//!
//! The means are time-aware ([`crate::admission::recent`], issue 24): a batch finishing after a
//! silence weighs more the longer the silence, and when no batch has finished for a
//! while (twice a full batch's estimate, at least 300 ms) both parts relax toward the
//! costs measured when only a burst's own batches run, two at once (the constants
//! below), so that a second after the last batch the estimate is that of an idle
//! engine. Before, the means moved only when batches finished, by a tenth each: after a
//! heavy load and an idle spell they still held the heavy load's cost, and a burst of
//! 200 on fresh connections got 22-28 answers and 172-178 fast 503s while the answered
//! ones took at most 93 ms of the 150 ms deadline. Under a sustained load batches
//! finish every few milliseconds, the estimate never relaxes, and a slow engine stays
//! priced slow.
//!
//! A request is admitted when the time to its answer, as the estimate sees it, fits a
//! share of its deadline ([`ADMIT_SHARE`], room for the estimate's error; while the
//! queue stands, [`STANDING_SHARE`]: see below): the rounds of full batches queued
//! ahead of it, then its own batch, as full as the requests ahead of it make it (those
//! arriving later may fill it further, but where that matters, at the tail of a burst,
//! none do; under a sustained overload the smaller share leaves room for it),
//! after the batches running now (half of one, on average, when every slot is busy).
//! The batches of one round run beside each other, so the slots must not outnumber
//! ClickHouse's cores: batches sharing a core slow each other down, which the estimate
//! does not foresee. The first requests of a queue
//! (fewer than the slots) are always admitted: finished batches are what bring the
//! estimate down while requests keep arriving, so refusing them could keep refusing.
//!
//! Under a sustained overload ([`crate::admission::standing_queue`]) the queue is full all the
//! time, and a queue admitted to most of the deadline ends some requests past
//! it whenever the batches run slower than estimated (the machine's other work, the
//! load itself): those are answered 503 after waiting the whole deadline
//! (`bench burst`: with one share of 0.75, 503 p99 153 ms at twice the capacity). A standing
//! queue serves no more for being long, since the slots are busy either way, so it is
//! admitted to a smaller share: room for the estimate to be 2.5 times off.

use crate::admission::recent::{self, Estimate};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The estimates before any batch finished, and what they relax toward after a while
/// without one (measured on 26.9, see the module docs).
const INITIAL_PER_QUERY_MICROS: f64 = 4_700.0;
const INITIAL_PER_READ_MICROS: f64 = 700.0;
/// The share of its deadline a request's expected time to an answer may take while the
/// queue does not stand (a burst passing through).
pub(crate) const ADMIT_SHARE: f64 = 0.9;
/// The share while the queue stands ([`crate::admission::standing_queue`]).
pub(crate) const STANDING_SHARE: f64 = 0.4;
/// Batches of at most this many reads teach the part per query; larger ones the part
/// per read.
const SMALL_BATCH: usize = 2;

/// The running estimates of a batch's duration: a part per query and a part per read.
#[derive(Debug)]
pub(crate) struct BatchCost {
    /// The most reads in one batch (the longest batch sets how long the estimates hold).
    max_batch: usize,
    parts: Mutex<Parts>,
}

/// Both parts, and the instants that tell how old they are.
#[derive(Debug, Clone, Copy)]
struct Parts {
    per_query: Estimate,
    per_read: Estimate,
    /// When each part was last taught: a sample weighs more the longer since then.
    per_query_taught: Instant,
    per_read_taught: Instant,
    /// When the last batch finished: both parts relax after a while without one.
    last_batch: Instant,
}

impl Parts {
    fn estimate(&self, reads: usize) -> Duration {
        micros(self.per_query.value() + self.per_read.value() * reads.max(1) as f64)
    }

    /// The parts as they stand at `now`, relaxed for the time without a batch.
    fn at(self, now: Instant, max_batch: usize) -> Self {
        let hold = recent::hold(self.estimate(max_batch));
        let kept = recent::kept(now.saturating_duration_since(self.last_batch), hold);
        Self {
            per_query: self.per_query.relaxed(kept),
            per_read: self.per_read.relaxed(kept),
            ..self
        }
    }
}

/// Where a request stands when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queue {
    /// Requests waiting ahead of it.
    pub ahead: usize,
    /// Batches running now.
    pub running: usize,
    /// Reads in the batches running now.
    pub running_reads: usize,
    /// Batches that run at once.
    pub slots: usize,
    /// The most reads in one batch.
    pub max_batch: usize,
    /// Whether the queue stands ([`crate::admission::standing_queue`]).
    pub standing: bool,
}

impl BatchCost {
    /// The estimates for batches of at most `max_batch` reads, starting at `now` from the
    /// measured constants.
    pub(crate) fn new(max_batch: usize, now: Instant) -> Self {
        Self {
            max_batch: max_batch.max(1),
            parts: Mutex::new(Parts {
                per_query: Estimate::new(INITIAL_PER_QUERY_MICROS),
                per_read: Estimate::new(INITIAL_PER_READ_MICROS),
                per_query_taught: now,
                per_read_taught: now,
                last_batch: now,
            }),
        }
    }

    fn parts_at(&self, now: Instant) -> Parts {
        let parts = *self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        parts.at(now, self.max_batch)
    }

    /// The expected duration at `now` of a batch of `reads`.
    pub(crate) fn estimate(&self, reads: usize, now: Instant) -> Duration {
        self.parts_at(now).estimate(reads)
    }

    /// Folds a batch of `reads` that finished at `now` after `took` into the estimates.
    pub(crate) fn record(&self, reads: usize, took: Duration, now: Instant) {
        let took = took.as_micros() as f64;
        let reads = reads.max(1);
        let mut guard = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut parts = guard.at(now, self.max_batch);
        if reads <= SMALL_BATCH {
            let sample = took - parts.per_read.value() * reads as f64;
            let weight = recent::weight(now.saturating_duration_since(parts.per_query_taught));
            parts.per_query = parts.per_query.blend(sample, weight);
            parts.per_query_taught = now;
        } else {
            let sample = (took - parts.per_query.value()) / reads as f64;
            let weight = recent::weight(now.saturating_duration_since(parts.per_read_taught));
            parts.per_read = parts.per_read.blend(sample, weight);
            parts.per_read_taught = now;
        }
        parts.last_batch = now;
        *guard = parts;
    }

    /// The expected time until a request arriving at `queue` at `now` has its answer.
    pub(crate) fn expected(&self, queue: Queue, now: Instant) -> Duration {
        let parts = self.parts_at(now);
        let slots = queue.slots.max(1);
        let max_batch = queue.max_batch.max(1);
        let per_round = slots.saturating_mul(max_batch);
        let rounds_ahead = queue.ahead / per_round;
        // A batch answers all its reads at once, when it ends.
        let own = (queue.ahead % max_batch) + 1;
        let running = if queue.running >= slots {
            let average = queue.running_reads.div_ceil(queue.running.max(1));
            parts.estimate(average) / 2
        } else {
            Duration::ZERO
        };
        running
            + parts
                .estimate(max_batch)
                .saturating_mul(u32::try_from(rounds_ahead).unwrap_or(u32::MAX))
            + parts.estimate(own)
    }

    /// Whether a request arriving at `queue` at `now` can be answered within `deadline`.
    pub(crate) fn admits(
        &self,
        queue: Queue,
        deadline: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        if queue.ahead < queue.slots.max(1) {
            return Ok(());
        }
        let expected = self.expected(queue, now);
        let share = if queue.standing {
            STANDING_SHARE
        } else {
            ADMIT_SHARE
        };
        if expected.as_secs_f64() > deadline.as_secs_f64() * share {
            Err(expected)
        } else {
            Ok(())
        }
    }
}

fn micros(value: f64) -> Duration {
    Duration::from_micros(value.max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn queue(ahead: usize) -> Queue {
        Queue {
            ahead,
            running: 0,
            running_reads: 0,
            slots: 2,
            max_batch: 32,
            standing: false,
        }
    }

    /// Estimates taught by lone reads of 5 ms only, one finishing every 10 ms (the
    /// contract's load), and the instant the last one finished.
    fn after_lone_reads() -> (BatchCost, Instant) {
        let mut now = Instant::now();
        let cost = BatchCost::new(32, now);
        for _ in 0..200 {
            now += ms(10);
            cost.record(1, ms(5), now);
        }
        (cost, now)
    }

    /// Estimates after `seconds` of a heavy load: two slots busy with batches taking
    /// `took` each whatever their size (one finishing every half of it), full ones of
    /// 32 and a pair now and then, as when every batch is cut at its deadline; and the
    /// instant the last one finished.
    fn after_full_batches(took: Duration, seconds: u64) -> (BatchCost, Instant) {
        let mut now = Instant::now();
        let cost = BatchCost::new(32, now);
        let until = now + Duration::from_secs(seconds);
        let mut finished = 0_u64;
        while now < until {
            now += took / 2;
            finished += 1;
            let reads = if finished.is_multiple_of(10) { 2 } else { 32 };
            cost.record(reads, took, now);
        }
        (cost, now)
    }

    fn millis(duration: Duration) -> f64 {
        duration.as_secs_f64() * 1000.0
    }

    #[test]
    fn lone_reads_and_full_batches_teach_their_own_part() {
        let mut now = Instant::now();
        let cost = BatchCost::new(32, now);
        for _ in 0..200 {
            now += ms(10);
            cost.record(1, ms(5), now);
            now += ms(10);
            cost.record(32, ms(50), now);
        }
        let lone = millis(cost.estimate(1, now));
        let full = millis(cost.estimate(32, now));
        assert!((4.0..6.0).contains(&lone), "{lone} ms alone");
        assert!((45.0..55.0).contains(&full), "{full} ms for 32");
    }

    #[test]
    fn a_burst_at_an_idle_reader_is_judged_by_full_batches_not_lone_reads() {
        // Lone reads only so far (5 ms each); then 200 requests at once, 2 slots of 32:
        // the 200th waits for three rounds of 32-read batches and its own of 8, 90 ms.
        let (cost, now) = after_lone_reads();
        let last = cost.expected(queue(199), now);
        assert!(last > ms(85), "{last:?}");
        let deadline = ms(150);
        assert!(cost.admits(queue(60), deadline, now).is_ok());
        assert!(cost.admits(queue(199), deadline, now).is_ok());
        assert!(cost.admits(queue(319), deadline, now).is_ok());
        assert!(cost.admits(queue(320), deadline, now).is_err());
    }

    #[test]
    fn a_standing_queue_is_kept_short() {
        let (cost, now) = after_lone_reads();
        let deadline = ms(150);
        let standing = |ahead| Queue {
            standing: true,
            ..queue(ahead)
        };
        // Two full rounds and a batch of three (58 ms) fit 40% of 150 ms; of four, not.
        assert!(cost.admits(standing(130), deadline, now).is_ok());
        assert!(cost.admits(standing(131), deadline, now).is_err());
        assert!(cost.admits(queue(131), deadline, now).is_ok());
    }

    #[test]
    fn busy_slots_add_half_of_what_they_run() {
        let now = Instant::now();
        let cost = BatchCost::new(32, now);
        let idle = cost.expected(queue(10), now);
        let busy = cost.expected(
            Queue {
                running: 2,
                running_reads: 64,
                ..queue(10)
            },
            now,
        );
        assert_eq!(busy - idle, cost.estimate(32, now) / 2);
    }

    #[test]
    fn a_slow_spell_never_shuts_the_first_requests_out() {
        // ClickHouse paused: batches were cut at their deadline, the estimates followed.
        let (cost, now) = after_full_batches(ms(150), 20);
        let deadline = ms(150);
        assert!(cost.admits(queue(0), deadline, now).is_ok());
        assert!(cost.admits(queue(1), deadline, now).is_ok());
        assert!(cost.admits(queue(2), deadline, now).is_err());
    }

    #[test]
    fn after_a_heavy_load_and_a_second_idle_a_burst_is_priced_as_an_idle_engine_serves_it() {
        // Issue 24: 20 s of batches cut at the 150 ms deadline, then nothing for 1.2 s,
        // then 200 requests at once. An idle engine serves them in about 90 ms (three
        // rounds of two 32-read batches and one of 8; the measured burst: 93 ms at
        // most). Estimates that only move when batches finish still priced the heavy
        // load and admitted 22-28 of them.
        let (cost, end_of_load) = after_full_batches(ms(150), 20);
        let deadline = ms(150);
        assert!(
            cost.admits(queue(2), deadline, end_of_load).is_err(),
            "the heavy load itself is priced heavy"
        );
        let burst = end_of_load + ms(1_200);
        let last = cost.expected(queue(199), burst);
        assert!((ms(80)..ms(100)).contains(&last), "{last:?} for the 200th");
        for ahead in 0..200 {
            assert!(
                cost.admits(queue(ahead), deadline, burst).is_ok(),
                "request {ahead} of the burst refused"
            );
        }
        // The burst's first batches, finishing as an idle engine runs them, set the
        // estimates on their own (nothing newer contradicts them).
        cost.record(32, ms(27), burst + ms(27));
        let full = millis(cost.estimate(32, burst + ms(27)));
        assert!((25.0..30.0).contains(&full), "{full} ms for 32");
    }

    #[test]
    fn a_sustained_slow_period_stays_priced_slow() {
        // Batches taking 60 ms, one finishing every 30 ms for 10 s: 150 requests ahead
        // wait two rounds and a batch of 23, about 180 ms on this evidence (75 ms
        // on an idle engine's). Refused at every instant between two batches, and
        // through a lull shorter than the estimates hold (twice a full batch, 300 ms at
        // least).
        let (cost, now) = after_full_batches(ms(60), 10);
        let deadline = ms(150);
        for since in [0, 1, 10, 29, 100, 250, 299] {
            let at = now + ms(since);
            let expected = cost.expected(queue(150), at);
            assert!(expected > ms(150), "{expected:?} at +{since} ms");
            assert!(
                cost.admits(queue(150), deadline, at).is_err(),
                "admitted at +{since} ms"
            );
        }
        // A batch after the lull weighs more than one in a row, and it is slow too.
        cost.record(32, ms(60), now + ms(299));
        let full = millis(cost.estimate(32, now + ms(299)));
        assert!((55.0..65.0).contains(&full), "{full} ms for 32");
    }

    #[test]
    fn a_batch_after_a_silence_counts_for_more_than_one_in_a_stream() {
        // Under load, one 3 ms read moves the 5 ms estimate by a tenth of the gap; the
        // first after two silent seconds replaces it.
        let (cost, now) = after_lone_reads();
        let before = millis(cost.estimate(1, now));
        cost.record(1, ms(3), now + ms(10));
        let in_stream = millis(cost.estimate(1, now + ms(10)));
        assert!(
            (before - in_stream - 0.2).abs() < 0.05,
            "{before} -> {in_stream}"
        );
        let (cost, now) = after_lone_reads();
        let later = now + Duration::from_secs(2);
        cost.record(1, ms(3), later);
        let after_silence = millis(cost.estimate(1, later));
        assert!((2.9..3.1).contains(&after_silence), "{after_silence} ms");
    }
}
