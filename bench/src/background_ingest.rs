//! Tags sent at a fixed rate while something else is measured (the read benchmark's
//! "1,000 tags/s through the front door"), until told to stop. The tags are loadgen's
//! stream from a given event time (after the newest stored tag, so they extend the
//! loaded data instead of landing among it), sent by loadgen's own open-loop ingest
//! ([`loadgen::ingest::run_until`]) with its 200 ms deadline.

use crate::stats::Latency;
use loadgen::ingest::{self, IngestOptions, IngestReport};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    task: JoinHandle<Result<IngestReport, reqwest::Error>>,
}

/// Why the background load gave no summary.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundIngestError {
    /// Its task panicked or was cancelled.
    #[error("the background load's task ended abnormally")]
    Task(#[from] tokio::task::JoinError),
    /// Its HTTP client could not be built.
    #[error("the background load could not start")]
    Client(#[from] reqwest::Error),
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
        let options = IngestOptions {
            base_url: base_url.to_owned(),
            rate,
            duration: Duration::MAX,
            concurrency: CONCURRENCY,
            seed,
            deadline: DEADLINE,
            start_ms: Some(start_ms),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(ingest::run_until(options, Arc::clone(&stop)));
        Ok(Self { stop, task })
    }

    /// Stops sending, waits for the requests in flight, and says what happened.
    pub async fn stop(self) -> Result<IngestSummary, BackgroundIngestError> {
        self.stop.store(true, Ordering::Relaxed);
        let report = self.task.await??;
        Ok(IngestSummary {
            rate: report.target_rate,
            seconds: report.seconds,
            sent: report.sent,
            accepted: report.accepted,
            failed: report.failed,
            latency: Latency::from(&report.latency),
        })
    }
}
