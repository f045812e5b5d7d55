//! Closed-loop load: a fixed number of clients, each sending its next request as soon as
//! its last one is answered, for a while. Where the open loop ([`crate::open_loop`])
//! measures latency at a rate asked for, the closed loop measures throughput: how many
//! requests the server answers per second when work is always waiting for it (its
//! sustained capacity at that concurrency). A client whose request was not answered well
//! waits a pause before its next one, so a server refusing at once is not hammered by
//! clients spinning on refusals (which would take the cores the server needs).

use crate::open_loop::{ByAnswer, Recorder};
use crate::queries::Answer;
use crate::stats::Latency;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What happened during one closed-loop run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoopReport {
    /// Clients, each with one request in flight at a time.
    pub clients: u32,
    /// Seconds from the start to the last answer.
    pub seconds: f64,
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
    /// Latency of every request, failures included.
    pub latency: Latency,
    /// Latency of each kind of answer.
    pub by_answer: ByAnswer,
}

impl ClosedLoopReport {
    /// Requests answered well per second: the throughput (`None` for an empty run).
    pub fn goodput(&self) -> Option<f64> {
        crate::stats::ratio(self.succeeded as f64, self.seconds).filter(|rate| *rate > 0.0)
    }
}

/// Runs one client per element of `clients` for `duration`: each calls its closure for
/// its next request as soon as the last one is answered (after `pause` when it was not
/// answered well). A request started before the end is waited for and counted.
pub async fn run<C, Fut>(duration: Duration, pause: Duration, clients: Vec<C>) -> ClosedLoopReport
where
    C: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    let count = u32::try_from(clients.len()).unwrap_or(u32::MAX);
    let started = Instant::now();
    let end = started + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut next| {
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move {
                while Instant::now() < end {
                    let sent = Instant::now();
                    let answer = next().await;
                    let latency = sent.elapsed();
                    recorder
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .record(answer, latency);
                    if answer != Answer::Ok {
                        tokio::time::sleep(pause).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let recorder = recorder.lock().unwrap_or_else(PoisonError::into_inner);
    let by_answer = recorder.by_answer();
    let latency = recorder.all();
    ClosedLoopReport {
        clients: count,
        seconds,
        sent: latency.samples,
        succeeded: by_answer.ok.samples,
        shed: by_answer.shed.samples,
        late: by_answer.late.samples,
        failed: by_answer.failed.samples,
        latency,
        by_answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_client_keeps_one_request_in_flight() {
        // Two clients, 10 ms a request, 100 ms: about 10 requests each.
        let clients: Vec<_> = (0..2)
            .map(|_| {
                || async {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Answer::Ok
                }
            })
            .collect();
        let report = run(Duration::from_millis(100), Duration::ZERO, clients).await;
        assert_eq!(report.clients, 2);
        assert!((8..=22).contains(&report.sent), "{report:?}");
        assert_eq!(report.succeeded, report.sent);
        let goodput = report.goodput().expect("answers");
        assert!((60.0..=230.0).contains(&goodput), "{goodput}");
    }

    #[tokio::test]
    async fn a_refused_client_pauses_before_its_next_request() {
        let clients = vec![|| async { Answer::Shed }];
        let report = run(
            Duration::from_millis(100),
            Duration::from_millis(20),
            clients,
        )
        .await;
        assert!((2..=6).contains(&report.sent), "{report:?}");
        assert_eq!(report.shed, report.sent);
        assert_eq!(report.goodput(), None);
    }
}
