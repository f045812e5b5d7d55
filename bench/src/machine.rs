//! Where and when a benchmark ran: the machine (cores, CPU model from `/proc/cpuinfo`,
//! memory from `/proc/meminfo`, kernel), the UTC date and the commit. Every results
//! file carries one [`RunInfo`], so a report assembled from parts run at different times
//! says which run each figure comes from.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// The machine a benchmark ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal`, GiB.
    pub memory_gib: f64,
    /// `Linux <release>`.
    pub kernel: String,
}

/// Provenance of one part's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// When the part started, UTC (`2026-11-24T10:00:00Z`).
    pub started_at: String,
    /// `git rev-parse --short HEAD`, with `-dirty` when the tree had changes.
    pub commit: String,
    /// The machine.
    pub machine: Machine,
    /// Whether every size and duration was at least its default: false for a smoke
    /// run, whose report says so at the top.
    pub full_size: bool,
}

#[cfg(test)]
impl RunInfo {
    /// The reports' tests' run: a 2-core machine, 2026-12-01 at abc1234.
    pub(crate) fn fixture(full_size: bool) -> Self {
        Self {
            started_at: "2026-12-01T10:00:00Z".to_owned(),
            commit: "abc1234".to_owned(),
            machine: Machine {
                cores: 2,
                cpu_model: "AMD EPYC".to_owned(),
                memory_gib: 24.0,
                kernel: "Linux 6.1".to_owned(),
            },
            full_size,
        }
    }
}

impl RunInfo {
    /// The provenance of a part starting now in the repository at `root`.
    pub fn now(root: &Path, full_size: bool) -> Self {
        Self {
            started_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            commit: commit(root),
            machine: Machine::this(),
            full_size,
        }
    }

    /// The date part of [`Self::started_at`].
    pub fn date(&self) -> &str {
        self.started_at.get(..10).unwrap_or(&self.started_at)
    }
}

impl Machine {
    /// This machine, as `/proc` describes it (unknown parts left empty or zero).
    pub fn this() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Self {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: cpu_model(&read("/proc/cpuinfo")).unwrap_or_default(),
            memory_gib: mem_total_kib(&read("/proc/meminfo"))
                .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0),
            kernel: format!("Linux {}", read("/proc/sys/kernel/osrelease").trim()),
        }
    }

    /// One line for a report header: `2 cores (AMD EPYC), 24 GiB, Linux 6.1`.
    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {:.0} GiB, {}",
            self.cores, self.cpu_model, self.memory_gib, self.kernel
        )
    }
}

/// The first `model name` of a `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `MemTotal` of a `/proc/meminfo`, KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    crate::process::parse_status_kib(meminfo, "MemTotal")
}

/// The short commit of `root`'s HEAD, `-dirty` when tracked files changed; `unknown`
/// without git.
fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_meminfo_are_read() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        let meminfo = "MemTotal:       24634324 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(24_634_324));
    }

    #[test]
    fn this_machine_is_described() {
        let machine = Machine::this();
        assert!(machine.cores >= 1);
        assert!(machine.memory_gib > 0.0);
        assert!(machine.describe().contains("cores"));
        let info = RunInfo::now(Path::new("."), true);
        assert_eq!(info.date().len(), 10);
    }
}
