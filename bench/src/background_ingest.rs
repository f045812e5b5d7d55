//! Tags sent at a fixed rate while something else is measured (the read benchmark's
//! "1,000 tags/s through the front door"), until told to stop. The tags are loadgen's
//! stream from a given event time (after the newest stored tag, so they extend the
//! loaded data instead of landing among it), paced open loop with loadgen's pacer and
//! posted with loadgen's client and its 200 ms deadline.

use crate::stats::Latency;
use loadgen::http::{self, Pacer};
use loadgen::latency::Latencies;
use loadgen::stream::{Cardinalities, TagStream};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Requests in flight at most.
const CONCURRENCY: usize = 256;
/// The contract's client deadline.
const DEADLINE: Duration = Duration::from_millis(200);

/// What the background load did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestSummary {
    /// Tags per second asked for.
    pub rate: u32,
    /// Seconds it ran.
    pub seconds: f64,
    /// Tags sent.
    pub sent: u64,
    /// Answered 204.
    pub accepted: u64,
    /// Not answered 204 within the deadline.
    pub failed: u64,
    /// Latency of the accepted ones, from their due time.
    pub latency: Latency,
}

/// A running background load.
pub struct BackgroundIngest {
    stop: Arc<AtomicBool>,
    task: JoinHandle<IngestSummary>,
}

impl BackgroundIngest {
    /// Starts sending the stream of `seed` from event time `start_ms` to
    /// `<base_url>/user_tags` at `rate` tags/s.
    pub fn start(
        base_url: &str,
        rate: u32,
        seed: u64,
        start_ms: i64,
    ) -> Result<Self, reqwest::Error> {
        let client = http::client(DEADLINE, CONCURRENCY)?;
        let url = format!("{}/user_tags", base_url.trim_end_matches('/'));
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut stream = TagStream::new(seed, Cardinalities::default()).starting_at(start_ms);
            let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let latencies = Arc::new(Mutex::new(Latencies::new()));
            let (accepted, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let pacer = Pacer::new(rate);
            let mut sent = 0_u64;
            let mut tasks = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                let due = pacer.due(sent).await;
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    break;
                };
                let Some(tag) = stream.next() else {
                    break;
                };
                let (client, url) = (client.clone(), url.clone());
                let (latencies, accepted, failed) = (
                    Arc::clone(&latencies),
                    Arc::clone(&accepted),
                    Arc::clone(&failed),
                );
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
                    tasks.retain(|task: &JoinHandle<()>| !task.is_finished());
                }
            }
            for task in tasks {
                let _ = task.await;
            }
            let latency = latencies
                .lock()
                .map(|latencies| Latency::from(&latencies.summary()))
                .unwrap_or_default();
            IngestSummary {
                rate,
                seconds: pacer.elapsed().as_secs_f64(),
                sent,
                accepted: accepted.load(Ordering::Relaxed),
                failed: failed.load(Ordering::Relaxed),
                latency,
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops sending, waits for the requests in flight, and says what happened.
    pub async fn stop(self) -> Result<IngestSummary, tokio::task::JoinError> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await
    }
}
