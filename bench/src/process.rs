//! CPU time from `/proc`: where a benchmark's cores went (per process, and per thread
//! group inside one, e.g. the projector's pipeline thread against librdkafka's threads).

use std::collections::BTreeMap;
use std::path::Path;

/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of a process (all its threads), or of one thread
/// when given `/proc/<pid>/task/<tid>`.
fn cpu_seconds_at(dir: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name come state (field 3) ... utime (field 14) and stime (field 15).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds_at(&Path::new("/proc").join(pid.to_string()))
}

/// CPU seconds used so far by the threads of `pid`, summed by thread name with trailing
/// digits and separators removed (`rdk:broker1` and `rdk:broker2` count as `rdk:broker`).
pub fn cpu_seconds_by_thread(pid: u32) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let name = name
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '/')
            .to_owned();
        if let Some(seconds) = cpu_seconds_at(&dir) {
            *by_name.entry(name).or_insert(0.0) += seconds;
        }
    }
    by_name
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

/// The pid recorded in a pid file (as the stack scripts write them).
pub fn pid_from_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
