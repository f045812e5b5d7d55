//! Running estimates that know how old their evidence is: what admission
//! ([`crate::admission::batch_cost`], [`crate::admission::gate`]) believes a unit of work costs *now*.
//!
//! Admission used to keep exponentially weighted means with a fixed weight (0.1 per
//! finished unit), moved only when work finished. After a heavy load and then an idle
//! spell the estimate still held the heavy load's cost, since nothing had finished to
//! bring it down: a burst of 200 profile reads on fresh connections then got 22-28
//! answers and 172-178 fast 503s, while the answered ones took at most 93 ms of the
//! 150 ms deadline (issue 24). The estimate was not a *current* measurement. So:
//!
//! - A sample's weight grows with the time since the previous one,
//!   `1 - exp(-dt / `[`WEIGHT_TAU`]`)`, never below [`WEIGHT_FLOOR`] (the old fixed
//!   weight, which still applies under load, where samples come every few milliseconds).
//!   The first sample after a second of silence nearly replaces the estimate.
//! - While no sample arrives for longer than the work is known to take ([`hold`]: twice
//!   the estimate, at least [`RELAX_AFTER`]), the estimate relaxes toward its reference,
//!   the cost of the same work on an unloaded engine, with time constant [`RELAX_TAU`]:
//!   a second after the last sample, what separates the estimate from the reference is
//!   below 1% of what it was. It relaxes from below too: the per-read part of a
//!   batch, a difference of two measurements, can be driven toward zero while the
//!   per-query part takes the whole cost (every batch cut at the same deadline), and
//!   relaxing one part alone would price a full batch after an idle spell at a lone
//!   read's cost.
//!
//! The reference is the measured constant each estimate starts from (written beside
//! it, measured on an idle engine), not the lowest recent value: the per-read part of a
//! batch is a difference of two measurements, and one lucky sample with a weight near 1
//! could set a minimum near zero that would then be trusted after every idle spell.
//! Where the constant is optimistic (a slower machine, a larger database), the first
//! batches after the idle spell carry nearly all the weight and correct it within one
//! round; requests that then cannot finish are refused before their query runs (the
//! batcher drops them when it forms a batch, the gate when their wait for a slot runs
//! out), though no longer at once.
//!
//! Under a sustained load, samples arrive far more often than [`hold`], so the estimate
//! never relaxes and a slow engine stays priced slow.

use std::time::Duration;

/// The least weight of a sample (what every sample weighed before: samples arriving
/// every few milliseconds under load are averaged over about ten of them).
pub(crate) const WEIGHT_FLOOR: f64 = 0.1;
/// A sample's weight is `1 - exp(-dt / WEIGHT_TAU)`, `dt` the time since the previous
/// sample: 0.33 after 100 ms, 0.98 after a second.
pub(crate) const WEIGHT_TAU: Duration = Duration::from_millis(250);
/// The least time without a sample before an estimate relaxes: longer than a profile
/// batch can run (it is cut at its requests' deadline, 150 ms by default).
pub(crate) const RELAX_AFTER: Duration = Duration::from_millis(300);
/// The time constant of the relaxation once it started: the distance from the
/// reference is 1% of what it was after 0.7 s, so 1 s after the last sample with
/// [`RELAX_AFTER`].
pub(crate) const RELAX_TAU: Duration = Duration::from_millis(150);

/// The weight of a sample arriving `since_previous` after the previous one.
pub(crate) fn weight(since_previous: Duration) -> f64 {
    let fresh = 1.0 - (-since_previous.as_secs_f64() / WEIGHT_TAU.as_secs_f64()).exp();
    fresh.clamp(WEIGHT_FLOOR, 1.0)
}

/// How long an estimate of `unit` (the longest unit of work it prices) holds without a
/// sample: twice that, and at least [`RELAX_AFTER`]. Work still running is not yet a
/// sample, and an estimate that relaxed while the slow work it priced was still running
/// would be optimistic.
pub(crate) fn hold(unit: Duration) -> Duration {
    unit.saturating_mul(2).max(RELAX_AFTER)
}

/// The share of an estimate's distance from its reference still kept `idle` after the
/// last sample, with `hold` before the relaxation starts.
pub(crate) fn kept(idle: Duration, hold: Duration) -> f64 {
    let relaxing = idle.saturating_sub(hold);
    (-relaxing.as_secs_f64() / RELAX_TAU.as_secs_f64()).exp()
}

/// One running estimate, in microseconds, and the unloaded cost it relaxes toward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    value: f64,
    reference: f64,
}

impl Estimate {
    /// An estimate starting at `reference`, its unloaded cost.
    pub(crate) fn new(reference: f64) -> Self {
        Self {
            value: reference,
            reference,
        }
    }

    /// The estimate, in microseconds.
    pub(crate) fn value(self) -> f64 {
        self.value
    }

    /// The estimate with `kept` of its distance from the reference left (see [`kept`]).
    pub(crate) fn relaxed(self, kept: f64) -> Self {
        Self {
            value: self.reference + (self.value - self.reference) * kept.clamp(0.0, 1.0),
            ..self
        }
    }

    /// The estimate with `sample` folded in at `weight` (see [`weight`]); never below a
    /// microsecond.
    pub(crate) fn blend(self, sample: f64, weight: f64) -> Self {
        let sample = sample.max(1.0);
        Self {
            value: (self.value * (1.0 - weight) + sample * weight).max(1.0),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn a_sample_weighs_more_the_longer_the_silence_before_it() {
        assert_eq!(weight(Duration::ZERO), WEIGHT_FLOOR);
        assert_eq!(weight(ms(5)), WEIGHT_FLOOR);
        assert!((0.3..0.35).contains(&weight(ms(100))));
        assert!(weight(ms(1_000)) > 0.98);
    }

    #[test]
    fn an_estimate_holds_while_work_may_still_run_then_relaxes_within_a_second() {
        let hold = hold(ms(20));
        assert_eq!(hold, RELAX_AFTER);
        let slow = Estimate::new(5_000.0).blend(50_000.0, 1.0);
        assert_eq!(slow.relaxed(kept(ms(250), hold)).value(), 50_000.0);
        let after_a_second = slow.relaxed(kept(ms(1_000), hold)).value();
        assert!(
            after_a_second < 5_000.0 + 45_000.0 * 0.01,
            "{after_a_second}"
        );
        // A long unit holds its estimate longer.
        let long = super::hold(ms(2_000));
        assert_eq!(long, ms(4_000));
        assert_eq!(slow.relaxed(kept(ms(3_000), long)).value(), 50_000.0);
    }

    #[test]
    fn an_estimate_below_its_reference_relaxes_up_to_it() {
        let fast = Estimate::new(5_000.0).blend(2_000.0, 1.0);
        assert_eq!(fast.relaxed(1.0).value(), 2_000.0);
        assert_eq!(fast.relaxed(0.5).value(), 3_500.0);
        assert_eq!(fast.relaxed(0.0).value(), 5_000.0);
    }
}
