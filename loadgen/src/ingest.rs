//! Open-loop HTTP load on `POST /user_tags`.
//!
//! Paced by [`Pacer`] (latency from each request's due time); with rate 0 it runs flat
//! out with `concurrency` requests in flight. [`run`] sends for a duration;
//! [`run_until`] also stops when told (a load in the background of a measurement). Every request has the contract's client
//! deadline (200 ms by default). No queries and no model: see [`crate::harness`] for
//! the checking run.

use crate::http::{self, Pacer};
use crate::latency::{Latencies, LatencySummary};
use crate::stream::{Cardinalities, TagStream};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// What to send.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Base URL (front door or write-api).
    pub base_url: String,
    /// Tags per second; 0 = as fast as `concurrency` allows.
    pub rate: u32,
    /// How long to send.
    pub duration: Duration,
    /// Most requests in flight.
    pub concurrency: usize,
    /// Stream seed.
    pub seed: u64,
    /// Client deadline per request.
    pub deadline: Duration,
    /// First event time, ms since the epoch (`None`: the stream's own start).
    pub start_ms: Option<i64>,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// The URL loaded.
    pub base_url: String,
    /// Requested rate (0 = flat out).
    pub target_rate: u32,
    /// Requests sent.
    pub sent: u64,
    /// Answered 204.
    pub accepted: u64,
    /// Any other status, a transport error, or past the deadline.
    pub failed: u64,
    /// Accepted tags per second over the run.
    pub achieved_rate: f64,
    /// Seconds it ran.
    pub seconds: f64,
    /// Latency of the accepted requests.
    pub latency: LatencySummary,
}

/// Runs the load for its duration and reports.
pub async fn run(options: IngestOptions) -> Result<IngestReport, reqwest::Error> {
    run_until(options, Arc::new(AtomicBool::new(false))).await
}

/// Runs the load until its duration is over or `stop` is set, waits for the requests in
/// flight, and reports.
pub async fn run_until(
    options: IngestOptions,
    stop: Arc<AtomicBool>,
) -> Result<IngestReport, reqwest::Error> {
    let client = http::client(options.deadline, options.concurrency)?;
    let url = format!("{}/user_tags", options.base_url.trim_end_matches('/'));
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let latencies = Arc::new(Mutex::new(Latencies::new()));
    let (accepted, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut stream = TagStream::new(options.seed, Cardinalities::default());
    if let Some(start_ms) = options.start_ms {
        stream = stream.starting_at(start_ms);
    }
    let pacer = Pacer::new(options.rate);
    let mut sent: u64 = 0;
    let mut tasks = Vec::new();
    while pacer.elapsed() < options.duration && !stop.load(Ordering::Relaxed) {
        let due = pacer.due(sent).await;
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let Some(tag) = stream.next() else {
            break;
        };
        let (client, url, latencies) = (client.clone(), url.clone(), Arc::clone(&latencies));
        let (accepted, failed) = (Arc::clone(&accepted), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            if http::post_tag(&client, &url, &tag).await {
                accepted.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut latencies) = latencies.lock() {
                    latencies.record(due.elapsed());
                }
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        }));
        sent += 1;
        if tasks.len() >= 10_000 {
            tasks.retain(|task| !task.is_finished());
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = pacer.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    let latency = latencies
        .lock()
        .map(|latencies| latencies.summary())
        .unwrap_or_else(|_| Latencies::new().summary());
    Ok(IngestReport {
        base_url: options.base_url,
        target_rate: options.rate,
        sent,
        accepted,
        failed: failed.load(Ordering::Relaxed),
        achieved_rate: accepted as f64 / elapsed,
        seconds: elapsed,
        latency,
    })
}
