//! The soak's minute sampler: every minute, ClickHouse's parts and merges, each
//! process's RSS and CPU, bytes on disk (each file once), the hottest cookies' rows.

use super::client_log::{endpoint_of, ServerLog};
use super::results::ProcessMinute;
use crate::nginx_log::{AccessLine, LogTail};
use crate::process;
use crate::stack::{Component, Stack, COMPONENTS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One sample per minute.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// What ClickHouse says about the database at one instant.
#[derive(Debug, Clone, Copy, Default, clickhouse::Row, Deserialize)]
pub(super) struct ClickHouseSample {
    pub(super) parts: u64,
    pub(super) merges_running: u64,
    pub(super) merges_done: u64,
}

async fn clickhouse_sample(
    server: &clickhouse::Client,
    database: &str,
) -> Result<ClickHouseSample, clickhouse::error::Error> {
    server
        .query(
            // Scalar subqueries are Nullable in ClickHouse 26; the row is not.
            "SELECT \
               ifNull((SELECT countIf(active) FROM system.parts WHERE database = ?), 0) AS parts, \
               ifNull((SELECT count() FROM system.merges WHERE database = ?), 0) AS merges_running, \
               ifNull((SELECT sum(value) FROM system.events WHERE event = 'Merge'), 0) AS merges_done",
        )
        .bind(database)
        .bind(database)
        .fetch_one()
        .await
}

/// The directories holding `database`'s tables.
async fn data_paths(
    server: &clickhouse::Client,
    database: &str,
) -> Result<Vec<String>, clickhouse::error::Error> {
    server
        .query("SELECT arrayJoin(data_paths) FROM system.tables WHERE database = ?")
        .bind(database)
        .fetch_all()
        .await
}

/// Bytes of the files under `roots`, each file once however many hard links it has
/// (`sum(bytes_on_disk)` of `system.parts` counts a mutated part's shared columns twice
/// until the old part is removed: 1.6 GiB of noise on a day's table).
pub fn disk_bytes(roots: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut pending: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(Result::ok).map(|entry| entry.path()));
            }
        } else if metadata.is_file() && seen.insert((metadata.dev(), metadata.ino())) {
            total += metadata.len();
        }
    }
    total
}

async fn hot_rows(
    server: &clickhouse::Client,
    database: &str,
) -> Result<Vec<u64>, clickhouse::error::Error> {
    let hot: Vec<String> = (0..loadgen::stream::HOT_VALUES)
        .map(loadgen::stream::cookie_name)
        .collect();
    read_model::tags::rows_of_pairs(server, database, &hot).await
}

/// Bytes of the files directly in `dir` (the broker's sqlite store and its journal).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

fn pids(stack: &Stack) -> Vec<(&'static str, Option<u32>)> {
    COMPONENTS
        .iter()
        .map(|component| (component.name(), stack.pid(*component)))
        .collect()
}

/// RSS of `pid` (and, for nginx, its workers), MiB.
fn rss_of(component: &str, pid: u32) -> Option<f64> {
    let own = process::memory(pid)?.current_mib;
    if component == Component::Nginx.name() {
        Some(
            own + process::children(pid)
                .into_iter()
                .filter_map(process::memory)
                .map(|memory| memory.current_mib)
                .sum::<f64>(),
        )
    } else {
        Some(own)
    }
}

/// Takes the per-minute samples: each tick reads what changed since the last.
pub(super) struct Sampler {
    stack: Stack,
    server: clickhouse::Client,
    database: String,
    broker_dir: PathBuf,
    access_log: LogTail,
    cpu_before: BTreeMap<&'static str, f64>,
    machine_before: Option<f64>,
    own_before: Option<f64>,
    ticked_at: Instant,
    merges_before: Option<u64>,
    pub(super) server_log: ServerLog,
    origin: Instant,
}

/// What one tick took, apart from the client's side (added when the minute is built).
pub(super) struct Tick {
    pub(super) index: u64,
    pub(super) ch: ClickHouseSample,
    pub(super) merges_done: u64,
    pub(super) broker_bytes: u64,
    pub(super) hot: Vec<u64>,
    pub(super) clickhouse_bytes: u64,
    pub(super) processes: BTreeMap<String, ProcessMinute>,
    pub(super) machine_cores: Option<f64>,
    pub(super) load_generator_cores: Option<f64>,
}

impl Sampler {
    pub(super) async fn new(stack: &Stack, database: &str, origin: Instant) -> Self {
        let server = service_kit::clickhouse::server_client(&stack.clickhouse(database));
        let mut sampler = Self {
            stack: stack.clone(),
            broker_dir: stack.stack_dir().join("tansu"),
            access_log: LogTail::at_end(&stack.logs_dir().join("nginx-access.log")),
            cpu_before: BTreeMap::new(),
            machine_before: process::machine_busy_seconds(),
            own_before: process::cpu_seconds(std::process::id()),
            ticked_at: Instant::now(),
            merges_before: None,
            server_log: ServerLog::new(),
            server,
            database: database.to_owned(),
            origin,
        };
        sampler.cpu_before = sampler.cpu_now();
        sampler.merges_before = clickhouse_sample(&sampler.server, database)
            .await
            .ok()
            .map(|sample| sample.merges_done);
        sampler
    }

    fn cpu_now(&self) -> BTreeMap<&'static str, f64> {
        crate::platform_cpu::components_cpu_seconds(&self.stack)
    }

    /// Reads nginx's new lines into the minute they were read in.
    fn read_access_log(&mut self, minute: u64) {
        match self.access_log.read_new() {
            Ok(lines) => {
                self.access_log = LogTail::at_end(self.access_log.path());
                let bucket = self.server_log.entry(minute).or_default();
                for AccessLine {
                    method,
                    path,
                    status,
                    request_ms,
                } in lines
                {
                    if let Some(endpoint) = endpoint_of(&method, &path) {
                        bucket
                            .entry(endpoint)
                            .or_default()
                            .push((request_ms, status < 500));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "nginx's access log unreadable"),
        }
    }

    pub(super) async fn tick(&mut self) -> Tick {
        let index = self.origin.elapsed().as_secs().saturating_sub(1) / 60;
        self.read_access_log(index);
        let cpu_now = self.cpu_now();
        let mut processes = BTreeMap::new();
        for (name, pid) in pids(&self.stack) {
            let cpu_s = match (self.cpu_before.get(name), cpu_now.get(name)) {
                (Some(before), Some(now)) if now >= before => Some(now - before),
                _ => None,
            };
            let rss_mib = pid.and_then(|pid| rss_of(name, pid));
            processes.insert(name.to_owned(), ProcessMinute { cpu_s, rss_mib });
        }
        self.cpu_before = cpu_now;
        let seconds = self.ticked_at.elapsed().as_secs_f64();
        self.ticked_at = Instant::now();
        let per_second =
            |before: Option<f64>, now: Option<f64>| crate::stats::ratio(now? - before?, seconds);
        let (machine_now, own_now) = (
            process::machine_busy_seconds(),
            process::cpu_seconds(std::process::id()),
        );
        let machine_cores = per_second(self.machine_before, machine_now);
        let load_generator_cores = per_second(self.own_before, own_now);
        (self.machine_before, self.own_before) = (machine_now, own_now);
        let ch = clickhouse_sample(&self.server, &self.database)
            .await
            .map_err(|error| tracing::warn!(%error, "ClickHouse sample failed"))
            .unwrap_or_default();
        let merges_done = match self.merges_before {
            Some(before) if ch.merges_done >= before => ch.merges_done - before,
            _ => 0,
        };
        if ch.merges_done > 0 {
            self.merges_before = Some(ch.merges_done);
        }
        let clickhouse_bytes = match data_paths(&self.server, &self.database).await {
            Ok(paths) => disk_bytes(&paths.into_iter().map(PathBuf::from).collect::<Vec<_>>()),
            Err(error) => {
                tracing::warn!(%error, "the database's data paths unreadable");
                0
            }
        };
        let hot = hot_rows(&self.server, &self.database)
            .await
            .map_err(|error| tracing::warn!(%error, "hot rows unreadable"))
            .unwrap_or_default();
        Tick {
            index,
            ch,
            merges_done,
            broker_bytes: dir_bytes(&self.broker_dir),
            hot,
            clickhouse_bytes,
            processes,
            machine_cores,
            load_generator_cores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_linked_file_is_counted_once() {
        let dir = std::env::temp_dir().join(format!("bench-disk-{}", std::process::id()));
        let (old, new) = (dir.join("old"), dir.join("new"));
        std::fs::create_dir_all(&old).expect("old part");
        std::fs::create_dir_all(&new).expect("new part");
        std::fs::write(old.join("column.bin"), vec![0_u8; 1000]).expect("a column");
        std::fs::hard_link(old.join("column.bin"), new.join("column.bin")).expect("a link");
        std::fs::write(new.join("mask.bin"), vec![0_u8; 10]).expect("the mutated column");
        assert_eq!(disk_bytes(std::slice::from_ref(&dir)), 1010);
        assert_eq!(disk_bytes(&[old.clone(), new.clone()]), 1010);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
