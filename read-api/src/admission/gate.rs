//! Admission control for ClickHouse reads: how many of this read-api's queries run in
//! ClickHouse at once, and which requests are turned away when more arrive than it can
//! answer in time.
//!
//! A request waits for a query slot as long as the wait it can expect still leaves
//! room for its query before its deadline, and is answered 503 at once when it does
//! not: a burst that the slots can work through within the deadline is served in full,
//! and under a sustained overload the excess is refused fast instead of every request
//! ending late. The expected wait is the number of requests queued ahead of it divided
//! among the slots, times the recent query duration: a running mean of the queries that
//! finished, time-aware ([`crate::admission::recent`], issue 24): a query finishing after a silence
//! weighs more the longer the silence, and after a while without any (twice the
//! estimate, at least 300 ms) the estimate relaxes toward a lone query's 5 ms, so that
//! a burst after an idle spell is not priced at the cost of the load before it (before,
//! the mean only moved when queries finished, by a tenth each). Under a sustained load
//! queries finish all the time and a slow engine stays priced slow. A request in the
//! first round (fewer queued ahead than one round serves) is always let through: while
//! requests keep coming, finished queries are what bring the estimate down after a slow
//! spell.
//!
//! A query still running at its request's deadline is dropped: its HTTP connection to
//! ClickHouse closes and ClickHouse cancels it (`Store` sets
//! `cancel_http_readonly_queries_on_client_close`), so the slot is free again at once
//! and abandoned work does not pile up in ClickHouse.

use crate::admission::recent::{self, Estimate};
use service_kit::metric_names::read_api as names;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a read did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GateError<E: std::error::Error + 'static> {
    /// The expected wait for a slot left no room for the query before the deadline.
    #[error("{queued} queued ahead, {expected:?} expected before an answer, {deadline:?} allowed")]
    Busy {
        /// Requests waiting when this one arrived, or the wait that ran out.
        queued: usize,
        /// The expected time to an answer.
        expected: Duration,
        /// The request's deadline.
        deadline: Duration,
    },
    /// The query did not answer within the deadline (it was cancelled).
    #[error("no answer within {0:?}")]
    Late(Duration),
    /// The query failed.
    #[error("query failed")]
    Query(#[source] E),
}

/// The estimate before any query finished, and what it relaxes toward after a while
/// without one.
const INITIAL_QUERY_MICROS: f64 = 5_000.0;

/// How long a unit of work (a query) takes lately, and whether a request can
/// still be answered in time behind the work queued ahead of it: the admission rule of
/// this gate (profile reads have their own, priced by batch size: `crate::admission::batch_cost`).
#[derive(Debug)]
pub(crate) struct Admission {
    /// Units of work running at once.
    parallel: usize,
    /// The running estimate of a unit's duration, and when the last unit finished.
    recent: Mutex<(Estimate, Instant)>,
}

impl Admission {
    /// Admission for `parallel` units of work at once, its estimate starting at `now`.
    pub(crate) fn new(parallel: usize, now: Instant) -> Self {
        Self {
            parallel: parallel.max(1),
            recent: Mutex::new((Estimate::new(INITIAL_QUERY_MICROS), now)),
        }
    }

    /// The recent duration of one unit of work, as of `now`.
    pub(crate) fn recent(&self, now: Instant) -> Duration {
        let (estimate, taught) = *self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        micros(relaxed(estimate, taught, now).value())
    }

    /// Folds a unit that finished at `now` after `duration` into the estimate.
    pub(crate) fn record(&self, duration: Duration, now: Instant) {
        let mut guard = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let (estimate, taught) = *guard;
        let weight = recent::weight(now.saturating_duration_since(taught));
        let estimate = relaxed(estimate, taught, now).blend(duration.as_micros() as f64, weight);
        *guard = (estimate, now);
    }

    /// Refuses a request that finds `ahead` requests queued at `now` when the rounds
    /// ahead of it and its own do not fit `deadline`.
    pub(crate) fn check<E: std::error::Error + 'static>(
        &self,
        ahead: usize,
        deadline: Duration,
        now: Instant,
    ) -> Result<(), GateError<E>> {
        let per_round = self.parallel;
        let rounds = u32::try_from(ahead / per_round).unwrap_or(u32::MAX);
        // Nothing queued ahead: let it try. While requests keep coming the estimate only
        // relaxes through finished work, so refusing these too would let one slow spell
        // (ClickHouse paused, every query cut at its deadline) hold the estimate past the
        // deadline and refuse every request from then on. A query slower than its
        // deadline is still cut at the deadline.
        if rounds == 0 {
            return Ok(());
        }
        let expected = self.recent(now).saturating_mul(rounds.saturating_add(1));
        if expected > deadline {
            metrics::counter!(names::QUERIES_SHED.name, "reason" => "expected_wait").increment(1);
            return Err(GateError::Busy {
                queued: ahead,
                expected,
                deadline,
            });
        }
        Ok(())
    }
}

/// A bounded set of query slots, shared by every request of one read-api.
#[derive(Clone)]
pub(crate) struct QueryGate {
    slots: Arc<Semaphore>,
    capacity: usize,
    queued: Arc<AtomicUsize>,
    admission: Arc<Admission>,
}

/// Counts a request as queued for as long as it waits.
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl QueryGate {
    /// A gate with `slots` concurrent queries (at least one).
    pub(crate) fn new(slots: usize) -> Self {
        let capacity = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            queued: Arc::new(AtomicUsize::new(0)),
            admission: Arc::new(Admission::new(capacity, Instant::now())),
        }
    }

    /// Queries running now.
    pub(crate) fn in_flight(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// The recent query duration.
    #[cfg(test)]
    pub(crate) fn query_duration(&self) -> Duration {
        self.admission.recent(Instant::now())
    }

    /// Runs `query` in a slot, all within `deadline`, or refuses it at once when it
    /// cannot be answered in time.
    pub(crate) async fn run<T, E, F>(&self, deadline: Duration, query: F) -> Result<T, GateError<E>>
    where
        F: Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        let started = Instant::now();
        let until = started + deadline;
        let query_duration = self.admission.recent(started);
        let ahead = self.queued.fetch_add(1, Ordering::SeqCst);
        let queued = Queued(Arc::clone(&self.queued));
        self.admission.check(ahead, deadline, started)?;
        let wait_until = until.checked_sub(query_duration).unwrap_or(started);
        let slot = match tokio::time::timeout_at(wait_until, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed; a closed one would mean no slots at all.
            Ok(Err(_)) | Err(_) => {
                metrics::counter!(names::QUERIES_SHED.name, "reason" => "waited_out").increment(1);
                return Err(GateError::Busy {
                    queued: ahead,
                    expected: started.elapsed() + query_duration,
                    deadline,
                });
            }
        };
        drop(queued);
        metrics::gauge!(names::CLICKHOUSE_QUERIES_IN_FLIGHT.name).set(self.in_flight() as f64);
        let begun = Instant::now();
        let outcome = tokio::time::timeout_at(until, query).await;
        drop(slot);
        metrics::gauge!(names::CLICKHOUSE_QUERIES_IN_FLIGHT.name).set(self.in_flight() as f64);
        self.admission.record(begun.elapsed(), Instant::now());
        match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(GateError::Query(error)),
            Err(_) => {
                metrics::counter!(names::QUERIES_LATE.name).increment(1);
                Err(GateError::Late(deadline))
            }
        }
    }
}

/// `estimate`, last taught at `taught`, as it stands at `now`.
fn relaxed(estimate: Estimate, taught: Instant, now: Instant) -> Estimate {
    let hold = recent::hold(micros(estimate.value()));
    estimate.relaxed(recent::kept(now.saturating_duration_since(taught), hold))
}

fn micros(value: f64) -> Duration {
    Duration::from_micros(value.max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed")]
    struct Failed;

    async fn slow(millis: u64) -> Result<u64, Failed> {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(millis)
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_within_the_deadline_comes_back() {
        let gate = QueryGate::new(2);
        let answer = gate.run(Duration::from_millis(500), slow(10)).await;
        assert_eq!(answer.ok(), Some(10));
        assert_eq!(gate.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_query_is_dropped_and_frees_its_slot_at_once() {
        let gate = QueryGate::new(1);
        let late = gate.run(Duration::from_millis(20), slow(1_000)).await;
        assert!(matches!(late, Err(GateError::Late(_))), "{late:?}");
        assert_eq!(gate.in_flight(), 0, "the late query was cancelled");
        let answer = gate.run(Duration::from_millis(500), slow(1)).await;
        assert_eq!(answer.ok(), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_that_fits_the_deadline_is_served_in_full() {
        // 4 slots, 10 ms queries, 200 ms deadline: 60 requests need 15 rounds, 150 ms.
        let gate = QueryGate::new(4);
        for _ in 0..20 {
            let _ = gate.run(Duration::from_millis(200), slow(10)).await;
        }
        let requests = (0..60).map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(Duration::from_millis(200), slow(10)).await })
        });
        let answers = futures::future::join_all(requests).await;
        let served = answers
            .into_iter()
            .filter(|answer| matches!(answer, Ok(Ok(10))))
            .count();
        assert_eq!(served, 60);
    }

    #[test]
    fn a_slow_spell_never_shuts_the_first_round_out() {
        // ClickHouse paused: queries were cut a little past their 150 ms deadline, and
        // the estimate followed them past it.
        let mut now = Instant::now();
        let admission = Admission::new(2, now);
        for _ in 0..200 {
            now += Duration::from_millis(75);
            admission.record(Duration::from_micros(150_920), now);
        }
        let deadline = Duration::from_millis(150);
        assert!(admission.recent(now) > deadline);
        assert!(admission.check::<Failed>(0, deadline, now).is_ok());
        assert!(admission.check::<Failed>(1, deadline, now).is_ok());
        assert!(admission.check::<Failed>(2, deadline, now).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn once_clickhouse_answers_again_so_does_the_gate() {
        let gate = QueryGate::new(1);
        gate.admission
            .record(Duration::from_secs(1), Instant::now());
        let answer = gate.run(Duration::from_millis(100), slow(1)).await;
        assert_eq!(answer.ok(), Some(1));
        assert!(gate.query_duration() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn what_cannot_be_answered_in_time_is_refused_at_once() {
        // 2 slots, 10 ms queries, 100 ms deadline: about 20 fit; 100 arrive.
        let gate = QueryGate::new(2);
        for _ in 0..20 {
            let _ = gate.run(Duration::from_millis(100), slow(10)).await;
        }
        let started = Instant::now();
        let requests = (0..100).map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let outcome = gate.run(Duration::from_millis(100), slow(10)).await;
                (outcome, started.elapsed())
            })
        });
        let answers = futures::future::join_all(requests).await;
        let mut served = 0;
        for answer in answers {
            match answer {
                Ok((Ok(_), elapsed)) => {
                    served += 1;
                    assert!(elapsed <= Duration::from_millis(100), "{elapsed:?}");
                }
                Ok((Err(GateError::Busy { .. }), elapsed)) => {
                    assert!(
                        elapsed < Duration::from_millis(100),
                        "refused late: {elapsed:?}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        assert!((15..=21).contains(&served), "{served} served");
        // Once the burst is over, requests are served again.
        let answer = gate.run(Duration::from_millis(100), slow(10)).await;
        assert_eq!(answer.ok(), Some(10));
    }

    /// Two query slots kept busy for 5 s by queries of `millis` each, one pair after
    /// another (a heavy load), through `gate`.
    async fn heavy_load(gate: &QueryGate, millis: u64) {
        for _ in 0..(5_000 / millis) {
            let pair = (0..2).map(|_| gate.run(Duration::from_millis(100), slow(millis)));
            futures::future::join_all(pair).await;
        }
    }

    /// Fires `count` requests for 10 ms queries at once with a 100 ms deadline; how many
    /// were answered.
    async fn burst(gate: &QueryGate, count: usize) -> usize {
        let requests = (0..count).map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(Duration::from_millis(100), slow(10)).await })
        });
        futures::future::join_all(requests)
            .await
            .into_iter()
            .filter(|answer| matches!(answer, Ok(Ok(10))))
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_heavy_load_and_a_second_idle_a_burst_is_served_as_an_idle_engine_would() {
        // Issue 24: queries took 40 ms under the load; then nothing for 1.2 s; then 16
        // requests at once, whose 10 ms queries two slots serve in 80 ms of the 100 ms
        // deadline. An estimate that only moves when queries finish still says 40 ms and
        // lets 6 in: two take the slots, and of those queued behind them two rounds of
        // 40 ms fit 100 ms, three do not.
        let gate = QueryGate::new(2);
        heavy_load(&gate, 40).await;
        assert!(gate.query_duration() > Duration::from_millis(35));
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        assert_eq!(burst(&gate, 16).await, 16);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_in_the_midst_of_a_heavy_load_is_priced_by_it() {
        // The same burst while 40 ms queries are still being measured, and after a lull
        // shorter than the estimate holds (300 ms): only the two that take the slots and
        // the four queued behind them that two rounds of 40 ms fit.
        let gate = QueryGate::new(2);
        heavy_load(&gate, 40).await;
        assert_eq!(burst(&gate, 16).await, 6);
        heavy_load(&gate, 40).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(burst(&gate, 16).await, 6);
    }

    #[test]
    fn a_sustained_slow_period_stays_priced_slow_between_its_measurements() {
        // 40 ms queries finishing every 20 ms for 10 s: the fifth request queued (two
        // rounds ahead, three with its own: 120 ms) does not fit 100 ms at any instant
        // between two measurements, nor through a 299 ms lull; a second after the last
        // one the engine is priced idle again.
        let mut now = Instant::now();
        let admission = Admission::new(2, now);
        for _ in 0..500 {
            now += Duration::from_millis(20);
            admission.record(Duration::from_millis(40), now);
        }
        let deadline = Duration::from_millis(100);
        for since in [0, 1, 19, 100, 299] {
            let at = now + Duration::from_millis(since);
            assert!(
                admission.check::<Failed>(4, deadline, at).is_err(),
                "admitted at +{since} ms"
            );
        }
        let idle = now + Duration::from_secs(1);
        assert!(admission.recent(idle) < Duration::from_micros(5_500));
        assert!(admission.check::<Failed>(4, deadline, idle).is_ok());
    }
}
