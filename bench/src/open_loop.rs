//! Open-loop load: request i is due at `start + i / rate` and its latency is measured from
//! that due time, so a slow server cannot hide its queueing (no coordinated omission).
//! A request that was not answered well (shed with 503, late, failed) is counted by kind
//! and its latency recorded too: it weighs in the percentiles like the wait the caller had.

use crate::queries::Answer;
use crate::stats::Latency;
use loadgen::latency::Latencies;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What happened during one open-loop run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopReport {
    /// Requests per second asked for.
    pub target_rate: f64,
    /// Requests sent.
    pub sent: u64,
    /// Answered well within the deadline.
    pub succeeded: u64,
    /// Answered 503.
    pub shed: u64,
    /// Not answered within the client's deadline.
    pub late: u64,
    /// Any other failure.
    pub failed: u64,
    /// Requests completed per second over the run.
    pub achieved_rate: f64,
    /// Latency of every request, failures included.
    pub latency: Latency,
}

impl OpenLoopReport {
    /// Requests not answered well.
    pub fn not_ok(&self) -> u64 {
        self.shed + self.late + self.failed
    }

    /// The share of requests answered 503.
    pub fn shed_share(&self) -> f64 {
        self.shed as f64 / self.sent.max(1) as f64
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    shed: AtomicU64,
    late: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn count(&self, answer: Answer) {
        match answer {
            Answer::Ok => &self.ok,
            Answer::Shed => &self.shed,
            Answer::Late => &self.late,
            Answer::Failed => &self.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// Fires `request(i)` at `rate` per second for `duration`, at most `max_in_flight` at once
/// (past that a request waits for a slot, and the wait counts in its latency).
pub async fn run<F, Fut>(
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    mut request: F,
) -> OpenLoopReport
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let latencies = Arc::new(Mutex::new(Latencies::new()));
    let tally = Arc::new(Tally::default());
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for index in 0..total {
        let due = started + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let work = request(index);
        let (latencies, tally) = (Arc::clone(&latencies), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            let answer = work.await;
            let latency = due.elapsed();
            drop(slot);
            if let Ok(mut latencies) = latencies.lock() {
                latencies.record(latency);
            }
            tally.count(answer);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (succeeded, shed, late, failed) = (
        load(&tally.ok),
        load(&tally.shed),
        load(&tally.late),
        load(&tally.failed),
    );
    let latency = latencies
        .lock()
        .map(|latencies| Latency::from(&latencies.summary()))
        .unwrap_or_default();
    OpenLoopReport {
        target_rate: rate,
        sent: total,
        succeeded,
        shed,
        late,
        failed,
        achieved_rate: (succeeded + shed + late + failed) as f64 / elapsed,
        latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_is_sent_and_counted_by_its_answer() {
        let report = run(200.0, Duration::from_millis(100), 8, |index| async move {
            match index % 4 {
                0 => Answer::Ok,
                1 => Answer::Shed,
                2 => Answer::Late,
                _ => Answer::Failed,
            }
        })
        .await;
        assert_eq!(report.sent, 20);
        assert_eq!(
            (report.succeeded, report.shed, report.late, report.failed),
            (5, 5, 5, 5)
        );
        assert_eq!(report.not_ok(), 15);
        assert!((report.shed_share() - 0.25).abs() < 1e-9);
        assert_eq!(report.latency.samples, 20);
    }
}
