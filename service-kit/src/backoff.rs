//! The one retry policy of the services' blocking loops (the projector's and the
//! archiver's pipelines) and of their bounded async retries (the projector's replay of
//! the archive): after a failure wait 100 ms, then twice as long after each further
//! failure up to 5 s, and stop waiting at once when the loop is cancelled.
//!
//! Why this shape: a dependency that is down (ClickHouse, the broker, the schema registry,
//! the archive's store) is usually back within seconds, so the first retries come fast;
//! one that stays down is asked every 5 s, which costs it nothing and keeps recovery
//! within 5 s of its return. A loop never gives up on its own: it retries until the work
//! is done or the service stops ([`Attempts::UntilCancelled`]), except at shutdown,
//! where one try is all there is time for ([`Attempts::AtMost`]).
//!
//! The loops run on threads of their own and reach async clients through a runtime
//! handle: a wait in [`retry`] and [`Backoff::wait`] blocks that thread, never a runtime
//! worker. Async code on a runtime worker uses [`retry_async`], the same delays slept
//! asynchronously, for at most a given number of tries (it stops when its task is
//! dropped).

use std::time::Duration;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The wait after the first failure.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between two tries.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// The waits of one retried piece of work: [`FIRST_DELAY`], doubling up to [`MAX_DELAY`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next_delay: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// A fresh backoff: nothing failed yet.
    pub fn new() -> Self {
        Self {
            next_delay: FIRST_DELAY,
            failures: 0,
        }
    }

    /// How many failures were waited out (or are being waited out) so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long the next [`Self::wait`] sleeps.
    pub fn next_delay(&self) -> Duration {
        self.next_delay
    }

    /// Counts a failure and sleeps the next delay unless `cancel` comes first; false
    /// when cancelled (the caller stops retrying).
    pub fn wait(&mut self, runtime: &Handle, cancel: &CancellationToken) -> bool {
        let delay = self.advance();
        pause(runtime, cancel, delay)
    }

    /// Counts a failure and sleeps the next delay, asynchronously.
    pub async fn wait_async(&mut self) {
        let delay = self.advance();
        tokio::time::sleep(delay).await;
    }

    /// Counts a failure; the delay to wait now.
    fn advance(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = self.next_delay;
        self.next_delay = (self.next_delay * 2).min(MAX_DELAY);
        delay
    }
}

/// How many times [`retry`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// Until the work succeeds or the loop is cancelled.
    UntilCancelled,
    /// At most this many tries (at least one).
    AtMost(u32),
}

/// Runs `attempt` until it succeeds, with [`Backoff`] between failures. Each failure is
/// first handed to `on_failure` with its number (from 1), which logs and counts it.
/// `None` when the tries ran out or `cancel` came first.
pub fn retry<T, E>(
    runtime: &Handle,
    cancel: &CancellationToken,
    attempts: Attempts,
    mut attempt: impl FnMut() -> Result<T, E>,
    mut on_failure: impl FnMut(u32, &E),
) -> Option<T> {
    let mut backoff = Backoff::new();
    loop {
        match attempt() {
            Ok(value) => return Some(value),
            Err(error) => {
                let failure = backoff.failures().saturating_add(1);
                on_failure(failure, &error);
                let out_of_tries =
                    matches!(attempts, Attempts::AtMost(most) if failure >= most.max(1));
                if out_of_tries || !backoff.wait(runtime, cancel) {
                    return None;
                }
            }
        }
    }
}

/// [`retry`] until `attempt` succeeds or `cancel` comes first (`None`), each failure
/// counted in the counter `retries` and logged as a warning naming `what`: how a
/// service's pipeline waits out a broker or a store that is down.
pub fn retry_until_cancelled<T, E: std::error::Error + 'static>(
    runtime: &Handle,
    cancel: &CancellationToken,
    what: &str,
    retries: crate::metric_names::Metric,
    attempt: impl FnMut() -> Result<T, E>,
) -> Option<T> {
    retry(
        runtime,
        cancel,
        Attempts::UntilCancelled,
        attempt,
        |_, error| {
            metrics::counter!(retries.name).increment(1);
            tracing::warn!(what, error = %crate::error::chain(error), "failed; retrying");
        },
    )
}

/// [`retry`] for async work on a runtime worker: runs `attempt` at most `most` times (at
/// least once), with [`Backoff`]'s delays slept between failures. Each failure is first
/// handed to `on_failure` with its number (from 1). The last failure's error when every
/// try failed.
pub async fn retry_async<T, E, F>(
    most: u32,
    mut attempt: impl FnMut() -> F,
    mut on_failure: impl FnMut(u32, &E),
) -> Result<T, E>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new();
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let failure = backoff.failures().saturating_add(1);
                on_failure(failure, &error);
                if failure >= most.max(1) {
                    return Err(error);
                }
                backoff.wait_async().await;
            }
        }
    }
}

/// Sleeps `duration` unless cancelled first; false when cancelled.
pub fn pause(runtime: &Handle, cancel: &CancellationToken, duration: Duration) -> bool {
    runtime.block_on(async {
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(duration) => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("runtime")
    }

    /// A runtime on tokio's paused clock, which jumps to the next timer whenever
    /// nothing else can run: the time a test measures is the time its code slept, exactly,
    /// however busy the machine is.
    fn paused_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime")
    }

    /// Runs the blocking `work` (which sleeps through `Handle::block_on`) on another
    /// thread while this one drives `runtime`'s paused clock; the virtual time it took.
    fn on_paused_clock<T: Send>(
        runtime: &tokio::runtime::Runtime,
        work: impl FnOnce(&Handle) -> T + Send,
    ) -> (T, Duration) {
        let handle = runtime.handle().clone();
        let started = runtime.block_on(async { tokio::time::Instant::now() });
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                let value = work(&handle);
                let _ = done_tx.send(());
                value
            });
            let elapsed = runtime.block_on(async move {
                let _ = done_rx.await;
                started.elapsed()
            });
            (worker.join().expect("work finished"), elapsed)
        })
    }

    #[test]
    fn the_delays_double_from_100_ms_up_to_5_s() {
        let runtime = runtime();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut backoff = Backoff::new();
        let mut delays = Vec::new();
        for _ in 0..8 {
            delays.push(backoff.next_delay().as_millis());
            backoff.wait(runtime.handle(), &cancel);
        }
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff.failures(), 8);
    }

    #[test]
    fn at_most_n_tries_then_gives_up_without_a_last_wait() {
        let runtime = paused_runtime();
        let cancel = CancellationToken::new();
        let ((outcome, tries, reported), waited) = on_paused_clock(&runtime, |handle| {
            let (mut tries, mut reported) = (0, 0);
            let outcome: Option<()> = retry(
                handle,
                &cancel,
                Attempts::AtMost(2),
                || {
                    tries += 1;
                    Err("down")
                },
                |failure, _| reported = failure,
            );
            (outcome, tries, reported)
        });
        assert_eq!(outcome, None);
        assert_eq!((tries, reported), (2, 2));
        assert_eq!(
            waited, FIRST_DELAY,
            "one wait between two tries, none after the last"
        );
    }

    #[test]
    fn until_cancelled_retries_until_it_succeeds() {
        let runtime = runtime();
        let cancel = CancellationToken::new();
        let tries = Cell::new(0);
        let outcome = retry(
            runtime.handle(),
            &cancel,
            Attempts::UntilCancelled,
            || {
                tries.set(tries.get() + 1);
                if tries.get() < 3 {
                    Err("down")
                } else {
                    Ok(tries.get())
                }
            },
            |_, _| {},
        );
        assert_eq!(outcome, Some(3));
    }

    #[test]
    fn cancellation_stops_the_retries() {
        let runtime = runtime();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let outcome: Option<()> = retry(
            runtime.handle(),
            &cancel,
            Attempts::UntilCancelled,
            || Err("down"),
            |_, _| {},
        );
        assert_eq!(outcome, None);
    }

    #[test]
    fn retry_async_tries_at_most_n_times_and_returns_the_last_error() {
        let runtime = paused_runtime();
        let tries = Cell::new(0);
        let (outcome, waited) = runtime.block_on(async {
            let started = tokio::time::Instant::now();
            let outcome: Result<(), u32> = retry_async(
                3,
                || {
                    tries.set(tries.get() + 1);
                    std::future::ready(Err(tries.get()))
                },
                |_, _| {},
            )
            .await;
            (outcome, started.elapsed())
        });
        assert_eq!(outcome, Err(3));
        assert_eq!(
            waited,
            FIRST_DELAY * 3,
            "100 ms, then 200 ms, none after the last"
        );
    }

    #[test]
    fn retry_async_returns_the_first_success() {
        let runtime = runtime();
        let tries = Cell::new(0);
        let outcome: Result<u32, &str> = runtime.block_on(retry_async(
            5,
            || {
                tries.set(tries.get() + 1);
                std::future::ready(if tries.get() < 2 {
                    Err("down")
                } else {
                    Ok(tries.get())
                })
            },
            |_, _| {},
        ));
        assert_eq!(outcome, Ok(2));
    }
}
