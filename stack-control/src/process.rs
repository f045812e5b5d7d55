//! What `/proc` says about one process of the stack: CPU seconds (the process, it with
//! its children such as nginx's master and workers, its threads grouped by name, e.g.
//! the projector's pipeline thread against librdkafka's threads), resident memory (peak
//! `VmHWM` and current `VmRSS`), its command line, and whether it is a zombie or wholly
//! gone. The parsing is pure and tested; reading a process that has gone gives `None`
//! (or `false`), never an error: a benchmark reports it as not measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// The state (`R`, `S`, `Z`, ...) in a `/proc/<pid>/stat` line.
pub fn parse_stat_state(stat: &str) -> Option<&str> {
    stat.rsplit_once(')')?.1.split_whitespace().next()
}

/// The fields after the command name. The name may hold spaces and parentheses, so the
/// fields start after its last closing parenthesis.
fn fields_after_name(stat: &str) -> Option<Vec<&str>> {
    Some(stat.rsplit_once(')')?.1.split_whitespace().collect())
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

fn proc_dir(pid: u32) -> PathBuf {
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

/// `pid`'s command line, its arguments separated by spaces (`/proc/<pid>/cmdline`).
pub fn command_line(pid: u32) -> Option<String> {
    let bytes = std::fs::read(proc_dir(pid).join("cmdline")).ok()?;
    Some(String::from_utf8_lossy(&bytes).replace('\0', " "))
}

/// Whether `pid` is a zombie (dead, not yet reaped).
pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(proc_dir(pid).join("stat"))
        .ok()
        .is_some_and(|stat| parse_stat_state(&stat) == Some("Z"))
}

/// Whether every thread of `pid` has exited (a zombie with no thread left). The main
/// thread of a killed multi-threaded process shows as a zombie while its other threads
/// are still exiting, and the process's files (its listening sockets) are closed only
/// when the last one has: a restart before then finds its port taken.
pub fn is_gone(pid: u32) -> bool {
    let threads = std::fs::read_dir(proc_dir(pid).join("task"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    is_zombie(pid) && threads <= 1
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
        assert_eq!(parse_stat_state(STAT), Some("S"));
        assert_eq!(parse_stat_state("77 (a) b) Z 1"), Some("Z"));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_state("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
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
        assert!(command_line(pid).is_some_and(|line| line.contains("stack_control")));
        assert!(!is_zombie(pid) && !is_gone(pid));
    }

    #[test]
    fn a_missing_process_is_no_zombie_and_not_gone() {
        assert!(!is_zombie(u32::MAX));
        assert!(!is_gone(u32::MAX));
        assert_eq!(command_line(u32::MAX), None);
        assert_eq!(memory(u32::MAX), None);
    }
}
