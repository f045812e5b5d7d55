//! Open-loop load: request i is due at `start + i / rate` and its latency is measured from
//! that due time, so a slow server cannot hide its queueing (no coordinated omission).
//! A failed request (error status, transport error, client deadline) is counted and its
//! latency recorded too: it weighs in the percentiles like the wait the caller had.

use loadgen::latency::{Latencies, LatencySummary};
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What happened during one open-loop run.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoopReport {
    /// Requests per second asked for.
    pub target_rate: f64,
    /// Requests sent.
    pub sent: u64,
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests completed per second over the run.
    pub achieved_rate: f64,
    /// Latency of every request, failures included.
    pub latency: LatencySummary,
}

/// Fires `request(i)` at `rate` per second for `duration`, at most `max_in_flight` at once
/// (past that a request waits for a slot, and the wait counts in its latency).
/// Each request resolves to whether it succeeded.
pub async fn run<F, Fut>(
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    mut request: F,
) -> OpenLoopReport
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let latencies = Arc::new(Mutex::new(Latencies::new()));
    let (succeeded, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for index in 0..total {
        let due = started + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let work = request(index);
        let (latencies, succeeded, failed) = (
            Arc::clone(&latencies),
            Arc::clone(&succeeded),
            Arc::clone(&failed),
        );
        tasks.push(tokio::spawn(async move {
            let ok = work.await;
            let latency = due.elapsed();
            drop(slot);
            if let Ok(mut latencies) = latencies.lock() {
                latencies.record(latency);
            }
            if ok { &succeeded } else { &failed }.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (succeeded, failed) = (
        succeeded.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    let latency = latencies
        .lock()
        .map(|latencies| latencies.summary())
        .unwrap_or_else(|_| Latencies::new().summary());
    OpenLoopReport {
        target_rate: rate,
        sent: total,
        succeeded,
        failed,
        achieved_rate: (succeeded + failed) as f64 / elapsed,
        latency,
    }
}
