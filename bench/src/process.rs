//! What `/proc` says about the processes a benchmark watches: CPU seconds (per process,
//! per group of processes such as nginx's master and workers, per thread group inside
//! one, e.g. the projector's pipeline thread against librdkafka's threads) and resident
//! memory (peak `VmHWM` and current `VmRSS`). The parsing is pure and tested; reading a
//! process that has gone gives `None`, never an error: a benchmark reports it as not
//! measured.

use std::collections::BTreeMap;
use std::path::Path;

/// Clock ticks per second of `/proc/*/stat` (USER_HZ: the kernel reports in these units
/// whatever its internal tick rate, 100 on every Linux architecture we run on).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// User and system CPU ticks of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`)
/// line.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let fields = fields_after_name(stat)?;
    // After the name come state (field 3), ppid (4) ... utime (14) and stime (15).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The parent pid in a `/proc/<pid>/stat` line.
pub fn parse_stat_parent(stat: &str) -> Option<u32> {
    fields_after_name(stat)?.get(1)?.parse().ok()
}

/// The fields after the command name. The name may hold spaces and parentheses, so the
/// fields start after its last closing parenthesis.
fn fields_after_name(stat: &str) -> Option<Vec<&str>> {
    Some(stat.rsplit_once(')')?.1.split_whitespace().collect())
}

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

/// A `kB` line of `/proc/<pid>/status` (`VmHWM:   12345 kB`), in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

fn proc_dir(pid: u32) -> std::path::PathBuf {
    Path::new("/proc").join(pid.to_string())
}

fn cpu_seconds_at(dir: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    Some(parse_stat_ticks(&stat)? as f64 / TICKS_PER_SECOND)
}

/// CPU seconds (user + system, all threads) used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds_at(&proc_dir(pid))
}

/// CPU seconds used so far by `pid` and its children (nginx's master and workers).
pub fn cpu_seconds_with_children(pid: u32) -> Option<f64> {
    let own = cpu_seconds(pid)?;
    Some(
        own + children(pid)
            .into_iter()
            .filter_map(cpu_seconds)
            .sum::<f64>(),
    )
}

/// The live processes whose parent is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            std::fs::read_to_string(proc_dir(*candidate).join("stat"))
                .ok()
                .and_then(|stat| parse_stat_parent(&stat))
                == Some(pid)
        })
        .collect()
}

/// CPU seconds used so far by the threads of `pid`, summed by thread name with trailing
/// digits and separators removed (`rdk:broker1` and `rdk:broker2` count as `rdk:broker`).
pub fn cpu_seconds_by_thread(pid: u32) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(proc_dir(pid).join("task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let name = thread_group(&name);
        if let Some(seconds) = cpu_seconds_at(&dir) {
            *by_name.entry(name).or_insert(0.0) += seconds;
        }
    }
    by_name
}

/// A thread's group: its name without trailing digits and separators.
fn thread_group(name: &str) -> String {
    name.trim()
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '/')
        .to_owned()
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

/// Resident memory of a process, MiB.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// Peak resident set (`VmHWM`) since the process started or its peak was reset.
    pub peak_mib: f64,
    /// Resident set now (`VmRSS`).
    pub current_mib: f64,
}

/// `pid`'s resident memory.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(proc_dir(pid).join("status")).ok()?;
    Some(Memory {
        peak_mib: parse_status_kib(&status, "VmHWM")? as f64 / 1024.0,
        current_mib: parse_status_kib(&status, "VmRSS")? as f64 / 1024.0,
    })
}

/// Resets `pid`'s peak resident set to its current one (`clear_refs` 5), so a later
/// `VmHWM` covers only what came after. Needs to own the process (or root).
pub fn reset_peak_memory(pid: u32) -> std::io::Result<()> {
    std::fs::write(proc_dir(pid).join("clear_refs"), "5")
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

/// The pid recorded in a pid file (as the stack scripts write them), if that process lives.
pub fn pid_from_file(path: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    proc_dir(pid).exists().then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (tokio-runtime (w) x) S 1 4242 4242 0 -1 4194560 2059 0 0 0 \
                        731 129 0 0 20 0 9 0 8675309 123456789 4096 18446744073709551615";

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        assert_eq!(parse_stat_ticks(STAT), Some(731 + 129));
        assert_eq!(parse_stat_parent(STAT), Some(1));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

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
    fn status_lines_give_kib() {
        let status =
            "Name:\tclickhouse\nVmPeak:\t 9000 kB\nVmHWM:\t  4637696 kB\nVmRSS:\t  1048576 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(4_637_696));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(1_048_576));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn threads_group_by_name_without_their_number() {
        assert_eq!(thread_group("rdk:broker12\n"), "rdk:broker");
        assert_eq!(thread_group("tokio-runtime-w"), "tokio-runtime-w");
        assert_eq!(thread_group("projector-pipel"), "projector-pipel");
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some());
        let memory = memory(pid).expect("own status");
        assert!(memory.peak_mib >= memory.current_mib * 0.5 && memory.current_mib > 0.0);
        assert!(!cpu_seconds_by_thread(pid).is_empty());
    }
}
