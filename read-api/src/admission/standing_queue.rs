//! Whether the profile queue is a burst passing through or a standing queue: the
//! difference between a queue worth waiting in and one that only adds delay.
//!
//! A burst fills the queue at once and drains it: the first requests of the burst wait
//! nothing, the last ones a deadline's worth. Under a sustained overload the queue never
//! drains and *every* request waits about as long as admission allows. So, as in CoDel
//! (Nichols and Jacobson, "Controlling Queue Delay", 2012), the sign of a standing queue
//! is the *least* wait over an interval: when even the luckiest request of the last
//! [`INTERVAL`] waited more than [`STANDING_WAIT`], the queue is standing. It stops
//! standing only when it drains (a batch finds it empty): a standing queue kept short
//! lets a lucky request through quickly now and then, and leaving on that (as CoDel
//! leaves its dropping state) let the queue swing between short and long under
//! `bench burst`'s overload, the long spells ending requests past their deadline.
//!
//! The batcher admits less while the queue stands (`crate::admission::batch_cost`): a burst is
//! served in full, while under an overload the queue it keeps is short enough that what
//! it admits finishes in time and the excess is refused at once, never after waiting.

use std::time::Duration;
use tokio::time::Instant;

/// The span over which the least wait is taken (CoDel's 100 ms: about a round trip, and
/// shorter than the bursts a deadline of 150 ms can absorb).
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);
/// A least wait above this over a whole interval is a standing queue (CoDel's target).
/// A queue that drains holds a request that waited less within every interval: the
/// first of a burst waits nothing. A standing queue kept short still exceeds it: at
/// twice the capacity the youngest request of each batch has waited about 10 ms.
pub(crate) const STANDING_WAIT: Duration = Duration::from_millis(5);

/// The least wait seen over the current interval, and the verdict of the last one.
#[derive(Debug)]
pub(crate) struct StandingQueue {
    interval_start: Instant,
    least_wait: Option<Duration>,
    standing: bool,
}

impl StandingQueue {
    /// A queue that has not stood yet, its first interval starting `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            interval_start: now,
            least_wait: None,
            standing: false,
        }
    }

    /// Whether the queue stands (as of the last interval that ended).
    pub(crate) fn is_standing(&self) -> bool {
        self.standing
    }

    /// A request leaves the queue for a batch at `now` after waiting `wait`.
    pub(crate) fn served(&mut self, wait: Duration, now: Instant) {
        self.least_wait = Some(self.least_wait.map_or(wait, |least| least.min(wait)));
        if now.saturating_duration_since(self.interval_start) >= INTERVAL {
            self.standing |= self.least_wait.is_some_and(|least| least > STANDING_WAIT);
            self.interval_start = now;
            self.least_wait = None;
        }
    }

    /// The queue was found empty at `now`: whatever waited has been served.
    pub(crate) fn drained(&mut self, now: Instant) {
        self.standing = false;
        self.interval_start = now;
        self.least_wait = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_draining_within_an_interval_never_stands() {
        let start = Instant::now();
        let mut queue = StandingQueue::new(start);
        // 200 requests at once, served in batches over 110 ms: the first waited nothing.
        for batch in 0..7_u64 {
            queue.served(ms(batch * 16), start + ms(batch * 16));
            assert!(!queue.is_standing(), "batch {batch}");
        }
        queue.drained(start + ms(112));
        assert!(!queue.is_standing());
    }

    #[test]
    fn a_queue_where_every_request_waits_stands_after_an_interval() {
        let start = Instant::now();
        let mut queue = StandingQueue::new(start);
        let mut now = start;
        for _ in 0..10 {
            now += ms(14);
            queue.served(ms(60), now);
        }
        assert!(queue.is_standing());
        // It keeps standing while it does not drain, lucky requests and all ...
        for wait in [8, 2, 40, 0, 40, 40, 40, 40, 1, 40, 40, 40, 40, 40] {
            now += ms(14);
            queue.served(ms(wait), now);
            assert!(queue.is_standing());
        }
        // ... and stops once it drains.
        queue.drained(now);
        assert!(!queue.is_standing());
        now += ms(14);
        queue.served(ms(60), now);
        assert!(!queue.is_standing(), "a new interval judges afresh");
    }
}
