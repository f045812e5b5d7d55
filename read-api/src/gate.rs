//! Admission control for ClickHouse reads: how many of this read-api's queries run in
//! ClickHouse at once, and which requests are turned away when more arrive than it can
//! answer in time.
//!
//! A request waits for a query slot as long as the wait it can expect still leaves
//! room for its query before its deadline, and is answered 503 at once when it does
//! not: a burst that the slots can work through within the deadline is served in full,
//! and under a sustained overload the excess is refused fast instead of every request
//! ending late. The expected wait is the number of requests queued ahead of it divided
//! among the slots, times the recent query duration (an exponentially weighted mean of
//! the queries that finished). A request in the first round (fewer queued ahead than one
//! round serves) is always let through: finished queries are the only way the estimate
//! comes down again after a slow spell.
//!
//! A query still running at its request's deadline is dropped: its HTTP connection to
//! ClickHouse closes and ClickHouse cancels it (`Store` sets
//! `cancel_http_readonly_queries_on_client_close`), so the slot is free again at once
//! and abandoned work does not pile up in ClickHouse.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a read did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError<E: std::error::Error + 'static> {
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

/// The weight of the newest query duration in the running estimate.
const DURATION_WEIGHT: f64 = 0.1;
/// The estimate before any query finished.
const INITIAL_QUERY_MICROS: u64 = 5_000;

/// How long a unit of work (a query) takes lately, and whether a request can
/// still be answered in time behind the work queued ahead of it: the admission rule of
/// this gate (profile reads have their own, priced by batch size: `crate::batch_cost`).
#[derive(Debug)]
pub struct Admission {
    /// Units of work running at once.
    parallel: usize,
    /// An exponentially weighted mean of recent durations, in microseconds.
    recent_micros: AtomicU64,
}

impl Admission {
    /// Admission for `parallel` units of work at once.
    pub fn new(parallel: usize) -> Self {
        Self {
            parallel: parallel.max(1),
            recent_micros: AtomicU64::new(INITIAL_QUERY_MICROS),
        }
    }

    /// The recent duration of one unit of work.
    pub fn recent(&self) -> Duration {
        Duration::from_micros(self.recent_micros.load(Ordering::Relaxed))
    }

    /// Folds a finished unit's duration into the estimate.
    pub fn record(&self, duration: Duration) {
        let micros = duration.as_micros() as f64;
        let _ = self
            .recent_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                let mean = old as f64 * (1.0 - DURATION_WEIGHT) + micros * DURATION_WEIGHT;
                Some(mean.max(1.0) as u64)
            });
    }

    /// Refuses a request that finds `ahead` requests queued when the rounds ahead of it
    /// and its own do not fit `deadline`.
    pub fn check<E: std::error::Error + 'static>(
        &self,
        ahead: usize,
        deadline: Duration,
    ) -> Result<(), GateError<E>> {
        let per_round = self.parallel;
        let rounds = u32::try_from(ahead / per_round).unwrap_or(u32::MAX);
        // Nothing queued ahead: let it try. Only finished work refreshes the estimate, so
        // refusing these too would let one slow spell (ClickHouse paused, every query cut
        // at its deadline) hold the estimate past the deadline and refuse every request
        // from then on. A query slower than its deadline is still cut at the deadline.
        if rounds == 0 {
            return Ok(());
        }
        let expected = self.recent().saturating_mul(rounds.saturating_add(1));
        if expected > deadline {
            metrics::counter!("read_api_queries_shed_total", "reason" => "expected_wait")
                .increment(1);
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
pub struct QueryGate {
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
    pub fn new(slots: usize) -> Self {
        let capacity = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            queued: Arc::new(AtomicUsize::new(0)),
            admission: Arc::new(Admission::new(capacity)),
        }
    }

    /// Queries running now.
    pub fn in_flight(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// The recent query duration.
    pub fn query_duration(&self) -> Duration {
        self.admission.recent()
    }

    /// Runs `query` in a slot, all within `deadline`, or refuses it at once when it
    /// cannot be answered in time.
    pub async fn run<T, E, F>(&self, deadline: Duration, query: F) -> Result<T, GateError<E>>
    where
        F: Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        let started = Instant::now();
        let until = started + deadline;
        let query_duration = self.query_duration();
        let ahead = self.queued.fetch_add(1, Ordering::SeqCst);
        let queued = Queued(Arc::clone(&self.queued));
        self.admission.check(ahead, deadline)?;
        let wait_until = until.checked_sub(query_duration).unwrap_or(started);
        let slot = match tokio::time::timeout_at(wait_until, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed; a closed one would mean no slots at all.
            Ok(Err(_)) | Err(_) => {
                metrics::counter!("read_api_queries_shed_total", "reason" => "waited_out")
                    .increment(1);
                return Err(GateError::Busy {
                    queued: ahead,
                    expected: started.elapsed() + query_duration,
                    deadline,
                });
            }
        };
        drop(queued);
        metrics::gauge!("read_api_clickhouse_queries_in_flight").set(self.in_flight() as f64);
        let begun = Instant::now();
        let outcome = tokio::time::timeout_at(until, query).await;
        drop(slot);
        metrics::gauge!("read_api_clickhouse_queries_in_flight").set(self.in_flight() as f64);
        self.admission.record(begun.elapsed());
        match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(GateError::Query(error)),
            Err(_) => {
                metrics::counter!("read_api_queries_late_total").increment(1);
                Err(GateError::Late(deadline))
            }
        }
    }
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
        let admission = Admission::new(2);
        for _ in 0..200 {
            admission.record(Duration::from_micros(150_920));
        }
        let deadline = Duration::from_millis(150);
        assert!(admission.recent() > deadline);
        assert!(admission.check::<Failed>(0, deadline).is_ok());
        assert!(admission.check::<Failed>(1, deadline).is_ok());
        assert!(admission.check::<Failed>(2, deadline).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn once_clickhouse_answers_again_so_does_the_gate() {
        let gate = QueryGate::new(1);
        gate.admission.record(Duration::from_secs(1));
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
}
