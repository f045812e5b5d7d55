//! Admission control for ClickHouse reads: at most a fixed number of this read-api's
//! queries run in ClickHouse at once.
//!
//! A request past its deadline is answered 503, but ClickHouse 18.16 does not cancel a
//! query whose HTTP client went away: it runs it to the end. Without a bound, a short
//! overload (a large merge, a burst) leaves abandoned queries running beside new ones,
//! every query gets slower, more are abandoned, and ClickHouse ends up with its 100
//! concurrent queries all late (seen at 1,000 tags/s and 100 profiles/s on 2 cores:
//! 25 s of every profile answered 503). Here an abandoned query keeps its slot until
//! ClickHouse has finished it, so the work in ClickHouse stays bounded and an overload
//! sheds requests at the door and ends as soon as the burst does.
//!
//! A request waits for a slot for at most a third of its deadline. Waiting longer
//! would hand the slots, first come first served, to requests with almost no time
//! left: their queries would start, overrun, and hold the slot while the answer is
//! already a 503, and under a sustained overload nearly nothing would be answered
//! (measured: 107 answers out of 60,000 at 1,000 profiles/s).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a read did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Every slot stayed taken for the share of the deadline a request may wait.
    #[error("no free query slot within a third of {0:?}")]
    Busy(Duration),
    /// The query started but did not answer within the deadline (it keeps its slot
    /// until ClickHouse is done with it).
    #[error("no answer within {0:?}")]
    Late(Duration),
    /// ClickHouse answered with an error, or could not be reached.
    #[error(transparent)]
    Store(#[from] clickhouse::error::Error),
    /// The task running the query panicked.
    #[error("query task failed: {0}")]
    Task(String),
}

/// A request waits for a slot for at most its deadline divided by this.
const SLOT_WAIT_SHARE: u32 = 3;

/// A bounded set of query slots, shared by every request of one read-api.
#[derive(Clone)]
pub struct QueryGate {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl QueryGate {
    /// A gate with `slots` concurrent queries (at least one).
    pub fn new(slots: usize) -> Self {
        let capacity = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Queries running now, abandoned ones included.
    pub fn in_flight(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// Runs `query` once a slot is free (waiting at most a third of `deadline`), all
    /// within `deadline`.
    pub async fn run<T, F>(&self, deadline: Duration, query: F) -> Result<T, GateError>
    where
        F: Future<Output = Result<T, clickhouse::error::Error>> + Send + 'static,
        T: Send + 'static,
    {
        let started = Instant::now();
        let until = started + deadline;
        let wait_until = started + deadline / SLOT_WAIT_SHARE;
        let slot = match tokio::time::timeout_at(
            wait_until,
            Arc::clone(&self.slots).acquire_owned(),
        )
        .await
        {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed; a closed one would mean no slots at all.
            Ok(Err(_)) | Err(_) => {
                metrics::counter!("read_api_queries_shed_total").increment(1);
                return Err(GateError::Busy(deadline));
            }
        };
        metrics::gauge!("read_api_clickhouse_queries_in_flight").set(self.in_flight() as f64);
        let gauge_gate = self.clone();
        let running = tokio::spawn(async move {
            let answer = query.await;
            drop(slot);
            metrics::gauge!("read_api_clickhouse_queries_in_flight")
                .set(gauge_gate.in_flight() as f64);
            answer
        });
        match tokio::time::timeout_at(until, running).await {
            Ok(Ok(answer)) => Ok(answer?),
            Ok(Err(join_error)) => Err(GateError::Task(join_error.to_string())),
            Err(_) => Err(GateError::Late(deadline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slow(millis: u64) -> Result<u64, clickhouse::error::Error> {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(millis)
    }

    #[tokio::test]
    async fn an_answer_within_the_deadline_comes_back() {
        let gate = QueryGate::new(2);
        let answer = gate.run(Duration::from_millis(500), slow(10)).await;
        assert_eq!(answer.ok(), Some(10));
        assert_eq!(gate.in_flight(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_query_keeps_its_slot_until_it_ends() {
        let gate = QueryGate::new(1);
        let late = gate.run(Duration::from_millis(20), slow(1_000)).await;
        assert!(matches!(late, Err(GateError::Late(_))), "{late:?}");
        assert_eq!(gate.in_flight(), 1, "the late query still runs");

        let started = std::time::Instant::now();
        let shed = gate.run(Duration::from_millis(600), slow(1)).await;
        assert!(matches!(shed, Err(GateError::Busy(_))), "{shed:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(190) && waited < Duration::from_millis(450),
            "shed after a third of the deadline, not at its end: {waited:?}"
        );

        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(gate.in_flight(), 0);
        let answer = gate.run(Duration::from_millis(500), slow(1)).await;
        assert_eq!(answer.ok(), Some(1));
    }

    #[tokio::test]
    async fn a_request_waits_for_a_slot_within_its_deadline() {
        let gate = QueryGate::new(1);
        let first = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(Duration::from_millis(500), slow(50)).await }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = gate.run(Duration::from_millis(500), slow(1)).await;
        assert_eq!(second.ok(), Some(1));
        assert_eq!(first.await.ok().and_then(Result::ok), Some(50));
    }
}
