//! What `/proc` says, as the benchmarks read it. The readings of one process of the
//! stack (CPU seconds, children, threads, resident memory, command line) are the
//! `stack-control` crate's ([`stack_control::process`]), re-exported here so a benchmark
//! reads one module; what is the benchmarks' own is the whole machine's busy CPU, the
//! difference of two per-thread readings and a resident-set sampler. Reading a process
//! that has gone gives `None`, never an error: a benchmark reports it as not measured.

use std::collections::BTreeMap;

pub use stack_control::process::{
    children, command_line, cpu_seconds, cpu_seconds_by_thread, cpu_seconds_with_children, memory,
    parse_status_kib, reset_peak_memory, Memory, TICKS_PER_SECOND,
};

/// Busy ticks of the whole machine in a `/proc/stat` (its `cpu ` line: user, nice,
/// system, irq, softirq and steal; not idle or iowait).
pub fn parse_machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|value| value.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&index| values.get(index))
        .sum();
    (values.len() >= 4).then_some(busy)
}

/// CPU seconds the whole machine has been busy (all cores together).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    Some(parse_machine_busy_ticks(&stat)? as f64 / TICKS_PER_SECOND)
}

/// The difference `after - before` per thread name.
pub fn thread_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, seconds)| {
            let earlier = before.get(name).copied().unwrap_or(0.0);
            (name.clone(), ((seconds - earlier) * 100.0).round() / 100.0)
        })
        .collect()
}

/// Samples a process's resident set every `every` until stopped, keeping the largest:
/// the peak over a window when `VmHWM` cannot be reset.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Option<f64>>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32, every: std::time::Duration) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut largest: Option<f64> = None;
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(now) = memory(pid) {
                    largest =
                        Some(largest.map_or(now.current_mib, |seen| seen.max(now.current_mib)));
                }
                tokio::time::sleep(every).await;
            }
            largest
        });
        Self { stop, task }
    }

    /// Stops and returns the largest resident set seen, MiB.
    pub async fn stop(self) -> Option<f64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_busy_outside_idle_and_iowait() {
        let stat = "cpu  100 5 50 9000 40 3 2 1 0 0\ncpu0 50 2 25 4500 20 1 1 0 0 0\n";
        assert_eq!(
            parse_machine_busy_ticks(stat),
            Some(100 + 5 + 50 + 3 + 2 + 1)
        );
        assert_eq!(parse_machine_busy_ticks("intr 1 2 3\n"), None);
        assert!(machine_busy_seconds().is_some());
    }

    #[test]
    fn thread_readings_subtract_by_name() {
        let before = BTreeMap::from([("rdk:broker".to_owned(), 1.0)]);
        let after = BTreeMap::from([
            ("rdk:broker".to_owned(), 3.504),
            ("tokio-runtime-w".to_owned(), 0.25),
        ]);
        let delta = thread_delta(&before, &after);
        assert_eq!(delta.get("rdk:broker"), Some(&2.5));
        assert_eq!(delta.get("tokio-runtime-w"), Some(&0.25));
    }
}
