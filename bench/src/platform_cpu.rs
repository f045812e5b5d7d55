//! The whole platform's CPU over a window of a run, per component from `/proc` (issue
//! 24: "The platform's CPU is a first-class figure"), beside the limits
//! [`PLATFORM_CORES_LIMIT`] and [`PLATFORM_CORES_STRETCH`].
//!
//! A [`CpuSnapshot`] holds the CPU seconds every component of the stack had used at one
//! instant (nginx with its workers, ClickHouse also per thread name); two snapshots give a
//! [`PlatformCpu`]: cores per component, their sum and ClickHouse's threads, over the
//! time between them. The arithmetic is pure and tested; reading `/proc` is
//! [`snapshot`]. A component that was not running at either end, or restarted in
//! between (another pid), is listed as not measured, never counted as zero.

use crate::process;
use crate::stack::{Component, Stack, COMPONENTS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole platform at the contract's load may use at most this many cores.
pub const PLATFORM_CORES_LIMIT: f64 = 0.6;
/// The stretch target for the same figure.
pub const PLATFORM_CORES_STRETCH: f64 = 0.35;

/// CPU seconds used so far by every running component of `stack`, by name (nginx with
/// its workers: the master alone does next to nothing).
pub fn components_cpu_seconds(stack: &Stack) -> BTreeMap<&'static str, f64> {
    COMPONENTS
        .iter()
        .filter_map(|component| {
            let pid = stack.pid(*component)?;
            Some((component.name(), component_cpu_seconds(*component, pid)?))
        })
        .collect()
}

/// CPU seconds used so far by `component` running as `pid`.
fn component_cpu_seconds(component: Component, pid: u32) -> Option<f64> {
    if component == Component::Nginx {
        process::cpu_seconds_with_children(pid)
    } else {
        process::cpu_seconds(pid)
    }
}

/// What every component had used at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuSnapshot {
    /// When, seconds from the start of the run.
    pub at_s: f64,
    /// Per component: its pid and the CPU seconds it had used.
    pub components: BTreeMap<String, (u32, f64)>,
    /// ClickHouse's CPU seconds by thread name ([`process::cpu_seconds_by_thread`]).
    pub clickhouse_threads: BTreeMap<String, f64>,
}

/// Reads every component of `stack` from `/proc`, `at_s` seconds into the run.
pub fn snapshot(stack: &Stack, at_s: f64) -> CpuSnapshot {
    let components = COMPONENTS
        .iter()
        .filter_map(|component| {
            let pid = stack.pid(*component)?;
            let seconds = component_cpu_seconds(*component, pid)?;
            Some((component.name().to_owned(), (pid, seconds)))
        })
        .collect();
    let clickhouse_threads = stack
        .pid(Component::ClickHouse)
        .map(process::cpu_seconds_by_thread)
        .unwrap_or_default();
    CpuSnapshot {
        at_s,
        components,
        clickhouse_threads,
    }
}

/// The platform's CPU over a window, in cores (CPU seconds per second of the window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformCpu {
    /// Where the window starts, seconds from the start of the run.
    pub from_s: f64,
    /// Its length, seconds.
    pub window_s: f64,
    /// Cores of each component measured at both ends.
    pub components: BTreeMap<String, f64>,
    /// Components not measured (not running at one end, or restarted in between).
    pub not_measured: Vec<String>,
    /// Cores of ClickHouse's threads, by thread name.
    pub clickhouse_threads: BTreeMap<String, f64>,
}

impl PlatformCpu {
    /// The CPU between `before` and `after` (`None` when the window is empty).
    pub fn between(before: &CpuSnapshot, after: &CpuSnapshot) -> Option<Self> {
        let window_s = after.at_s - before.at_s;
        if !(window_s.is_finite() && window_s > 0.0) {
            return None;
        }
        let mut components = BTreeMap::new();
        let mut not_measured = Vec::new();
        let names: std::collections::BTreeSet<&String> = before
            .components
            .keys()
            .chain(after.components.keys())
            .collect();
        for name in names {
            match (before.components.get(name), after.components.get(name)) {
                (Some((pid_before, used_before)), Some((pid_after, used_after)))
                    if pid_before == pid_after && used_after >= used_before =>
                {
                    components.insert(name.clone(), (used_after - used_before) / window_s);
                }
                _ => not_measured.push(name.clone()),
            }
        }
        let clickhouse_threads =
            process::thread_delta(&before.clickhouse_threads, &after.clickhouse_threads)
                .into_iter()
                .map(|(name, seconds)| (name, seconds.max(0.0) / window_s))
                .collect();
        Some(Self {
            from_s: before.at_s,
            window_s,
            components,
            not_measured,
            clickhouse_threads,
        })
    }

    /// The whole platform's cores: every component measured.
    pub fn total_cores(&self) -> f64 {
        self.components.values().sum()
    }

    /// Met when the whole platform stayed within [`PLATFORM_CORES_LIMIT`]; not measured
    /// when any component was not.
    pub fn verdict(&self) -> crate::verdict::Verdict {
        self.verdict_against(PLATFORM_CORES_LIMIT)
    }

    /// The same against the stretch target [`PLATFORM_CORES_STRETCH`].
    pub fn stretch_verdict(&self) -> crate::verdict::Verdict {
        self.verdict_against(PLATFORM_CORES_STRETCH)
    }

    fn verdict_against(&self, limit: f64) -> crate::verdict::Verdict {
        let measured = (self.not_measured.is_empty() && !self.components.is_empty())
            .then(|| self.total_cores());
        crate::verdict::Limit::AtMost(limit).check(measured)
    }

    /// ClickHouse's threads, busiest first, those of at least `least` cores.
    pub fn busiest_clickhouse_threads(&self, least: f64) -> Vec<(&str, f64)> {
        let mut threads: Vec<(&str, f64)> = self
            .clickhouse_threads
            .iter()
            .filter(|(_, cores)| **cores >= least)
            .map(|(name, cores)| (name.as_str(), *cores))
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        threads
    }
}

/// The window of a run sending for `sending_s` seconds over which its CPU is taken:
/// from `warm_up_s` after the start (a quarter of the sending at most) until
/// `margin_s` before sending ends (a tenth of it at most); `None` when nothing is left.
pub fn window(sending_s: f64, warm_up_s: f64, margin_s: f64) -> Option<(f64, f64)> {
    let from = warm_up_s.min(sending_s / 4.0);
    let until = sending_s - margin_s.min(sending_s / 10.0);
    (until > from && from >= 0.0).then_some((from, until))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    fn snapshot_at(
        at_s: f64,
        components: &[(&str, u32, f64)],
        threads: &[(&str, f64)],
    ) -> CpuSnapshot {
        CpuSnapshot {
            at_s,
            components: components
                .iter()
                .map(|(name, pid, seconds)| ((*name).to_owned(), (*pid, *seconds)))
                .collect(),
            clickhouse_threads: threads
                .iter()
                .map(|(name, seconds)| ((*name).to_owned(), *seconds))
                .collect(),
        }
    }

    #[test]
    fn cores_are_cpu_seconds_over_the_window_per_component_and_in_all() {
        let before = snapshot_at(
            30.0,
            &[
                ("clickhouse", 10, 100.0),
                ("nginx", 20, 5.0),
                ("read-api", 30, 2.0),
            ],
            &[("QueryPipelineEx", 40.0), ("TCPHandler", 1.0)],
        );
        let after = snapshot_at(
            230.0,
            &[
                ("clickhouse", 10, 180.0),
                ("nginx", 20, 17.0),
                ("read-api", 30, 22.0),
            ],
            &[
                ("QueryPipelineEx", 90.0),
                ("TCPHandler", 1.0),
                ("HTTPHandler", 20.0),
            ],
        );
        let cpu = PlatformCpu::between(&before, &after).expect("a window");
        assert_eq!(cpu.from_s, 30.0);
        assert_eq!(cpu.window_s, 200.0);
        assert_eq!(cpu.components["clickhouse"], 0.4);
        assert_eq!(cpu.components["nginx"], 0.06);
        assert_eq!(cpu.components["read-api"], 0.1);
        assert!((cpu.total_cores() - 0.56).abs() < 1e-9);
        assert!(cpu.not_measured.is_empty());
        assert_eq!(cpu.verdict(), Verdict::Met);
        assert_eq!(cpu.stretch_verdict(), Verdict::NotMet);
        // A thread that appeared during the window counts from zero.
        assert_eq!(
            cpu.busiest_clickhouse_threads(0.01),
            vec![("QueryPipelineEx", 0.25), ("HTTPHandler", 0.1)]
        );
    }

    #[test]
    fn a_component_restarted_or_missing_at_one_end_is_not_measured_not_zero() {
        let before = snapshot_at(
            0.0,
            &[
                ("clickhouse", 10, 100.0),
                ("projector", 50, 9.0),
                ("tansu", 60, 1.0),
            ],
            &[],
        );
        let after = snapshot_at(
            100.0,
            &[
                ("clickhouse", 10, 120.0),
                ("projector", 51, 1.0),
                ("write-api", 70, 3.0),
            ],
            &[],
        );
        let cpu = PlatformCpu::between(&before, &after).expect("a window");
        assert_eq!(cpu.components.len(), 1);
        assert_eq!(cpu.not_measured, ["projector", "tansu", "write-api"]);
        assert_eq!(cpu.verdict(), Verdict::NotMeasured);
        assert!(PlatformCpu::between(&after, &before).is_none());
        assert!(PlatformCpu::between(&before, &before).is_none());
    }

    #[test]
    fn the_window_skips_the_warm_up_and_the_end_of_sending() {
        assert_eq!(window(300.0, 30.0, 5.0), Some((30.0, 295.0)));
        // A short (smoke) run keeps most of its sending.
        assert_eq!(window(40.0, 30.0, 5.0), Some((10.0, 36.0)));
        assert_eq!(window(0.0, 30.0, 5.0), None);
    }
}
