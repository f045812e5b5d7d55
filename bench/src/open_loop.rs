//! Open-loop load: request i is due at `start + i / rate` and its latency is measured from
//! that due time, so a slow server cannot hide its queueing (no coordinated omission).
//! A request that was not answered well (shed with 503, late, failed) is counted by kind
//! and its latency recorded too: it weighs in the percentiles like the wait the caller had.
//! [`run_by_answer`] also keeps each kind's latency apart ([`ByAnswer`]: a 503 given at
//! once and a 200 after a queue say different things), and [`drawn`] sends requests
//! drawn from a [`RequestMix`]. [`Recorder`] is the tally both this and
//! [`crate::closed_loop`] keep.

use crate::queries::{Answer, Request, RequestMix, Target};
use crate::stats::Latency;
use loadgen::latency::Latencies;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Most requests in flight at once in an open-loop phase: the load generator never holds
/// a request back below this.
pub const MAX_IN_FLIGHT: usize = 2048;

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

/// The latency of each kind of answer, apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ByAnswer {
    /// Answered well within the deadline.
    pub ok: Latency,
    /// Answered 503.
    pub shed: Latency,
    /// Not answered within the client's deadline.
    pub late: Latency,
    /// Any other failure.
    pub failed: Latency,
}

/// Answers counted by kind, with their latencies, overall and by kind.
#[derive(Default)]
pub struct Recorder {
    all: Latencies,
    ok: Latencies,
    shed: Latencies,
    late: Latencies,
    failed: Latencies,
}

impl Recorder {
    /// Records one answer and its latency.
    pub fn record(&mut self, answer: Answer, latency: Duration) {
        self.all.record(latency);
        match answer {
            Answer::Ok => &mut self.ok,
            Answer::Shed => &mut self.shed,
            Answer::Late => &mut self.late,
            Answer::Failed => &mut self.failed,
        }
        .record(latency);
    }

    /// Every answer's latency.
    pub fn all(&self) -> Latency {
        Latency::from(&self.all.summary())
    }

    /// Each kind's latency (and, in `samples`, its count).
    pub fn by_answer(&self) -> ByAnswer {
        let latency = |latencies: &Latencies| Latency::from(&latencies.summary());
        ByAnswer {
            ok: latency(&self.ok),
            shed: latency(&self.shed),
            late: latency(&self.late),
            failed: latency(&self.failed),
        }
    }
}

/// Fires `request(i)` at `rate` per second for `duration`, at most `max_in_flight` at once
/// (past that a request waits for a slot, and the wait counts in its latency); each kind
/// of answer's latency apart.
pub async fn run_by_answer<F, Fut>(
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    mut request: F,
) -> (OpenLoopReport, ByAnswer)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let recorder = Arc::new(Mutex::new(Recorder::default()));
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
        let recorder = Arc::clone(&recorder);
        tasks.push(tokio::spawn(async move {
            let answer = work.await;
            let latency = due.elapsed();
            drop(slot);
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(answer, latency);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let recorder = recorder.lock().unwrap_or_else(PoisonError::into_inner);
    let by_answer = recorder.by_answer();
    let (succeeded, shed, late, failed) = (
        by_answer.ok.samples,
        by_answer.shed.samples,
        by_answer.late.samples,
        by_answer.failed.samples,
    );
    let report = OpenLoopReport {
        target_rate: rate,
        sent: total,
        succeeded,
        shed,
        late,
        failed,
        achieved_rate: (succeeded + shed + late + failed) as f64 / elapsed,
        latency: recorder.all(),
    };
    (report, by_answer)
}

/// [`run_by_answer`] of requests drawn from `mix` by `draw` (one per due time, in order:
/// the same seed gives the same requests), each sent to `target`.
pub async fn drawn(
    rate: f64,
    duration: Duration,
    target: &Target,
    mut mix: RequestMix,
    mut draw: impl FnMut(&mut RequestMix) -> Request,
) -> (OpenLoopReport, ByAnswer) {
    run_by_answer(rate, duration, MAX_IN_FLIGHT, |_| {
        let request = draw(&mut mix);
        let target = target.clone();
        async move { target.send(request).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_is_sent_and_counted_by_its_answer() {
        let (report, _) = run_by_answer(200.0, Duration::from_millis(100), 8, |index| async move {
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

    #[tokio::test]
    async fn each_kind_of_answer_keeps_its_own_latency() {
        let (report, by_answer) =
            run_by_answer(100.0, Duration::from_millis(100), 8, |index| async move {
                if index % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    Answer::Ok
                } else {
                    Answer::Shed
                }
            })
            .await;
        assert_eq!((report.succeeded, report.shed), (5, 5));
        assert_eq!((by_answer.ok.samples, by_answer.shed.samples), (5, 5));
        assert_eq!((by_answer.late.samples, by_answer.failed.samples), (0, 0));
        assert!(by_answer.ok.p50_ms >= 29.0, "{by_answer:?}");
        assert!(by_answer.shed.max_ms < by_answer.ok.p50_ms, "{by_answer:?}");
    }

    #[test]
    fn a_recorder_counts_in_its_samples() {
        let mut recorder = Recorder::default();
        recorder.record(Answer::Ok, Duration::from_millis(4));
        recorder.record(Answer::Late, Duration::from_millis(200));
        recorder.record(Answer::Ok, Duration::from_millis(6));
        let by_answer = recorder.by_answer();
        assert_eq!(by_answer.ok.samples, 2);
        assert_eq!(by_answer.late.samples, 1);
        assert_eq!(recorder.all().samples, 3);
        assert!((recorder.all().max_ms - 200.0).abs() < 0.2);
    }
}
