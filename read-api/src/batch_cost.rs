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
//! So the two parts are estimated apart, each an exponentially weighted mean of what
//! finished batches took: lone reads and pairs teach the part per query, larger batches
//! the part per read.
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
//! (fewer than the slots) are always admitted: only finished batches bring the estimate
//! down after a slow spell, so refusing them could refuse everything from then on.
//!
//! Under a sustained overload ([`crate::standing_queue`]) the queue is full all the
//! time, and a queue admitted to most of the deadline ends some requests past
//! it whenever the batches run slower than estimated (the machine's other work, the
//! load itself): those are answered 503 after waiting the whole deadline
//! (`bench burst`: with one share of 0.75, 503 p99 153 ms at twice the capacity). A standing
//! queue serves no more for being long, since the slots are busy either way, so it is
//! admitted to a smaller share: room for the estimate to be 2.5 times off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The weight of the newest batch in the running estimates.
const WEIGHT: f64 = 0.1;
/// The estimates before any batch finished (measured on 26.9, see the module docs).
const INITIAL_PER_QUERY_MICROS: u64 = 4_700;
const INITIAL_PER_READ_MICROS: u64 = 700;
/// The share of its deadline a request's expected time to an answer may take while the
/// queue does not stand (a burst passing through).
pub const ADMIT_SHARE: f64 = 0.9;
/// The share while the queue stands ([`crate::standing_queue`]).
pub const STANDING_SHARE: f64 = 0.4;
/// Batches of at most this many reads teach the part per query; larger ones the part
/// per read.
const SMALL_BATCH: usize = 2;

/// The running estimates of a batch's duration: a part per query and a part per read.
#[derive(Debug)]
pub struct BatchCost {
    per_query_micros: AtomicU64,
    per_read_micros: AtomicU64,
}

impl Default for BatchCost {
    fn default() -> Self {
        Self {
            per_query_micros: AtomicU64::new(INITIAL_PER_QUERY_MICROS),
            per_read_micros: AtomicU64::new(INITIAL_PER_READ_MICROS),
        }
    }
}

/// Where a request stands when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
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
    /// Whether the queue stands ([`crate::standing_queue`]).
    pub standing: bool,
}

impl BatchCost {
    fn per_query(&self) -> f64 {
        self.per_query_micros.load(Ordering::Relaxed) as f64
    }

    fn per_read(&self) -> f64 {
        self.per_read_micros.load(Ordering::Relaxed) as f64
    }

    /// The expected duration of a batch of `reads`.
    pub fn estimate(&self, reads: usize) -> Duration {
        micros(self.per_query() + self.per_read() * reads.max(1) as f64)
    }

    /// Folds a finished batch of `reads` that took `took` into the estimates.
    pub fn record(&self, reads: usize, took: Duration) {
        let took = took.as_micros() as f64;
        let reads = reads.max(1);
        if reads <= SMALL_BATCH {
            let sample = took - self.per_read() * reads as f64;
            blend(&self.per_query_micros, sample);
        } else {
            let sample = (took - self.per_query()) / reads as f64;
            blend(&self.per_read_micros, sample);
        }
    }

    /// The expected time until a request arriving at `queue` has its answer.
    pub fn expected(&self, queue: Queue) -> Duration {
        let slots = queue.slots.max(1);
        let max_batch = queue.max_batch.max(1);
        let per_round = slots.saturating_mul(max_batch);
        let rounds_ahead = queue.ahead / per_round;
        // A batch answers all its reads at once, when it ends.
        let own = (queue.ahead % max_batch) + 1;
        let running = if queue.running >= slots {
            let average = queue.running_reads.div_ceil(queue.running.max(1));
            self.estimate(average) / 2
        } else {
            Duration::ZERO
        };
        running
            + self
                .estimate(max_batch)
                .saturating_mul(u32::try_from(rounds_ahead).unwrap_or(u32::MAX))
            + self.estimate(own)
    }

    /// Whether a request arriving at `queue` can be answered within `deadline`.
    pub fn admits(&self, queue: Queue, deadline: Duration) -> Result<(), Duration> {
        if queue.ahead < queue.slots.max(1) {
            return Ok(());
        }
        let expected = self.expected(queue);
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

fn blend(estimate: &AtomicU64, sample: f64) {
    let sample = sample.max(1.0);
    let _ = estimate.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
        Some((old as f64 * (1.0 - WEIGHT) + sample * WEIGHT).max(1.0) as u64)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Estimates taught by lone reads of 5 ms only.
    fn after_lone_reads() -> BatchCost {
        let cost = BatchCost::default();
        for _ in 0..200 {
            cost.record(1, Duration::from_millis(5));
        }
        cost
    }

    #[test]
    fn lone_reads_and_full_batches_teach_their_own_part() {
        let cost = BatchCost::default();
        for _ in 0..200 {
            cost.record(1, Duration::from_millis(5));
            cost.record(32, Duration::from_millis(50));
        }
        let lone = cost.estimate(1).as_secs_f64() * 1000.0;
        let full = cost.estimate(32).as_secs_f64() * 1000.0;
        assert!((4.0..6.0).contains(&lone), "{lone} ms alone");
        assert!((45.0..55.0).contains(&full), "{full} ms for 32");
    }

    #[test]
    fn a_burst_at_an_idle_reader_is_judged_by_full_batches_not_lone_reads() {
        // Lone reads only so far (5 ms each); then 200 requests at once, 2 slots of 32:
        // the 200th waits for three rounds of 32-read batches and its own of 8, 90 ms.
        let cost = after_lone_reads();
        let last = cost.expected(queue(199));
        assert!(last > Duration::from_millis(85), "{last:?}");
        let deadline = Duration::from_millis(150);
        assert!(cost.admits(queue(60), deadline).is_ok());
        assert!(cost.admits(queue(199), deadline).is_ok());
        assert!(cost.admits(queue(319), deadline).is_ok());
        assert!(cost.admits(queue(320), deadline).is_err());
    }

    #[test]
    fn a_standing_queue_is_kept_short() {
        let cost = after_lone_reads();
        let deadline = Duration::from_millis(150);
        let standing = |ahead| Queue {
            standing: true,
            ..queue(ahead)
        };
        // Two full rounds and a batch of three (58 ms) fit 40% of 150 ms; of four, not.
        assert!(cost.admits(standing(130), deadline).is_ok());
        assert!(cost.admits(standing(131), deadline).is_err());
        assert!(cost.admits(queue(131), deadline).is_ok());
    }

    #[test]
    fn busy_slots_add_half_of_what_they_run() {
        let cost = BatchCost::default();
        let idle = cost.expected(queue(10));
        let busy = cost.expected(Queue {
            running: 2,
            running_reads: 64,
            ..queue(10)
        });
        assert_eq!(busy - idle, cost.estimate(32) / 2);
    }

    #[test]
    fn a_slow_spell_never_shuts_the_first_requests_out() {
        // ClickHouse paused: batches were cut at their deadline, the estimates followed.
        let cost = BatchCost::default();
        for _ in 0..200 {
            cost.record(1, Duration::from_millis(150));
            cost.record(32, Duration::from_millis(150));
        }
        let deadline = Duration::from_millis(150);
        assert!(cost.admits(queue(0), deadline).is_ok());
        assert!(cost.admits(queue(1), deadline).is_ok());
        assert!(cost.admits(queue(2), deadline).is_err());
    }
}
