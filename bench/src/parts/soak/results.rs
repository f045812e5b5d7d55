//! The soak's results: what each sampled minute held (requests per endpoint from the
//! client and the server, processes, ClickHouse, disk), the totals per endpoint, the
//! write-api floor, and the figures the report reads from them.

use super::client_log::{ClientLog, MinuteRequests, RequestLog, ServerLog};
use super::sampler::Tick;
use super::{phase_of, Phase, DRIFT_MINUTES, ENDPOINTS, SLOW_MS};
use crate::database::WorkCpu;
use crate::loader::LoadReport;
use crate::machine::RunInfo;
use crate::parts::e2e::HarnessFigures;
use crate::stats::Latency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Requests of one endpoint within one minute (or the whole soak).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Answered (any status).
    pub requests: u64,
    /// Not answered as the contract wants: 5xx or no answer in time (client), 5xx (server).
    pub errors: u64,
    /// Taking longer than [`SLOW_MS`].
    pub slow: u64,
    /// Latency of all of them.
    pub latency: Latency,
}

impl Requests {
    fn of(samples: &[(f64, bool)]) -> Self {
        Self {
            requests: samples.len() as u64,
            errors: samples.iter().filter(|(_, ok)| !ok).count() as u64,
            slow: samples.iter().filter(|(ms, _)| *ms > SLOW_MS).count() as u64,
            latency: Latency::of_millis(samples.iter().map(|(ms, _)| *ms)),
        }
    }
}

/// A process's figures over one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessMinute {
    /// CPU seconds spent in the minute.
    pub cpu_s: Option<f64>,
    /// Resident set at the minute's end, MiB.
    pub rss_mib: Option<f64>,
}

/// Everything recorded about one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// Minutes since the first tag was due (this one ends at `index + 1`).
    pub index: u64,
    /// Its phase.
    pub phase: Phase,
    /// Tags answered 204 in it.
    pub tags_accepted: u64,
    /// Per endpoint, from loadgen's side.
    pub client: BTreeMap<String, Requests>,
    /// Per endpoint, from nginx's log.
    pub server: BTreeMap<String, Requests>,
    /// Checked answers that were wrong.
    pub wrong: u64,
    /// Freshness probes that saw their tag in it.
    pub freshness: Latency,
    /// Active parts of the database.
    pub parts: u64,
    /// Merges running at the minute's end.
    pub merges_running: u64,
    /// Merges ClickHouse finished in the minute (server-wide).
    pub merges_done: u64,
    /// Bytes on disk of the database's files (its tables' data paths walked, a file
    /// hard-linked into several parts counted once: a mutation's new part shares the
    /// old one's unchanged columns).
    pub clickhouse_bytes: u64,
    /// Bytes on disk of the broker's store (its sqlite files, every topic).
    pub broker_bytes: u64,
    /// Rows of `user_tags` of the 16 hottest cookies: the largest (cookie, action).
    pub hot_rows_max: u64,
    /// ... and the median over the 32 pairs.
    pub hot_rows_median: f64,
    /// Per process (clickhouse, tansu, nginx, write-api, read-api, projector).
    pub processes: BTreeMap<String, ProcessMinute>,
    /// Cores the whole machine was busy on average (every process: the load generator,
    /// the build of anything else running, the kernel). Absent from earlier results.
    #[serde(default)]
    pub machine_cores: Option<f64>,
    /// Cores the load generator (the `bench` process) used on average.
    #[serde(default)]
    pub load_generator_cores: Option<f64>,
}

impl Minute {
    /// CPU seconds of `process` per 1,000 tags accepted in this minute.
    pub fn cpu_per_1000_tags(&self, process: &str) -> Option<f64> {
        let cpu = self.processes.get(process)?.cpu_s?;
        (self.tags_accepted > 0).then(|| cpu * 1000.0 / self.tags_accepted as f64)
    }
}

/// Whole-soak figures of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTotals {
    /// From loadgen's side.
    pub client: Requests,
    /// From nginx's log.
    pub server: Requests,
    /// Server-side p99 of the first [`DRIFT_MINUTES`] minutes of load, ms.
    pub first_p99_ms: Option<f64>,
    /// ... and of the last ones.
    pub last_p99_ms: Option<f64>,
}

/// The write path against its floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteFloor {
    /// write-api's CPU per tag accepted over the whole load, µs.
    pub write_api_us_per_tag: Option<f64>,
    /// The no-op server's CPU per request at the same rate, µs.
    pub noop_us_per_request: Option<f64>,
    /// Requests the no-op server answered 204.
    pub noop_requests: u64,
}

impl WriteFloor {
    /// write-api's cost as a multiple of the floor.
    pub fn ratio(&self) -> Option<f64> {
        crate::stats::ratio(self.write_api_us_per_tag?, self.noop_us_per_request?)
    }
}

/// Everything `bench soak` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakResults {
    /// Where and when.
    pub info: RunInfo,
    /// The flags' values that shape the run.
    pub hold_minutes: u64,
    /// Shortened retention, minutes.
    pub retention_minutes: u32,
    /// Retention windows after the hold.
    pub retention_windows: u32,
    /// Tags per second.
    pub rate: u32,
    /// The scratch topic.
    pub topic: String,
    /// The day loaded first.
    pub preload: LoadReport,
    /// Per minute.
    pub minutes: Vec<Minute>,
    /// Per endpoint, over the whole load.
    pub endpoints: BTreeMap<String, EndpointTotals>,
    /// Freshness over the whole load.
    pub freshness: Latency,
    /// The write path against its floor.
    pub write_floor: WriteFloor,
    /// Wall-clock seconds of the load (stream and final round).
    pub load_seconds: f64,
    /// `loadgen run`'s figures.
    pub harness: HarnessFigures,
    /// Whether [`Minute::clickhouse_bytes`] counts each file once ([`super::disk_bytes`]);
    /// false in results of the first version, which summed `system.parts.bytes_on_disk`
    /// of every part (a mutated part's shared columns counted twice until the old part
    /// is removed).
    #[serde(default)]
    pub disk_files_counted_once: bool,
    /// ClickHouse's CPU by the queries' work over the load and the final round
    /// ([`crate::database::cpu_by_work`]); empty in results from before it was kept.
    #[serde(default)]
    pub clickhouse_work: Vec<WorkCpu>,
}

impl SoakResults {
    /// Wrong answers of every kind.
    pub fn wrong_answers(&self) -> u64 {
        self.harness
            .queries()
            .iter()
            .map(|figures| figures.wrong)
            .sum()
    }

    /// Bytes on disk (database and broker) at the end of retention window `window`
    /// (1-based), counted from the hold's end; `None` when the soak stopped sooner.
    pub fn bytes_after_window(&self, window: u32) -> Option<(u64, u64)> {
        let minute = self.hold_minutes + u64::from(self.retention_minutes) * u64::from(window);
        let sample = self.minutes.iter().find(|m| m.index + 1 == minute)?;
        Some((sample.clickhouse_bytes, sample.broker_bytes))
    }

    /// How far bytes on disk after the last window are from after the first, as a
    /// share of the first (database and broker together).
    pub fn disk_drift(&self) -> Option<f64> {
        let (first_ch, first_broker) = self.bytes_after_window(1)?;
        let (last_ch, last_broker) = self.bytes_after_window(self.retention_windows)?;
        let first = (first_ch + first_broker) as f64;
        let last = (last_ch + last_broker) as f64;
        crate::stats::ratio((last - first).abs(), first)
    }

    /// The minutes under load (the final round's left out).
    pub fn load_minutes(&self) -> impl Iterator<Item = &Minute> {
        self.minutes
            .iter()
            .filter(|minute| minute.phase != Phase::FinalRound)
    }

    /// The CPU seconds of `process` over every sampled minute, the final round's
    /// included (the span of [`Self::clickhouse_work`]), and the tags accepted in them.
    pub fn cpu_and_tags_of_every_minute(&self, process: &str) -> Option<(f64, u64)> {
        let cpu: f64 = self
            .minutes
            .iter()
            .map(|minute| minute.processes.get(process).and_then(|p| p.cpu_s))
            .sum::<Option<f64>>()?;
        Some((
            cpu,
            self.minutes.iter().map(|minute| minute.tags_accepted).sum(),
        ))
    }

    /// The soak's CPU seconds of `process` per 1,000 tags over the whole load.
    pub fn cpu_per_1000_tags(&self, process: &str) -> Option<f64> {
        let cpu: f64 = self
            .load_minutes()
            .map(|minute| minute.processes.get(process).and_then(|p| p.cpu_s))
            .sum::<Option<f64>>()?;
        let tags: u64 = self.load_minutes().map(|minute| minute.tags_accepted).sum();
        crate::stats::ratio(cpu * 1000.0, tags as f64)
    }
}

pub(super) fn build_minutes(
    ticks: &[Tick],
    client: &ClientLog,
    server: &ServerLog,
    hold_minutes: u64,
    stream_minutes: u64,
) -> Vec<Minute> {
    let per_endpoint = |buckets: Option<&MinuteRequests>| {
        ENDPOINTS
            .iter()
            .map(|endpoint| {
                let samples = buckets
                    .and_then(|buckets| buckets.get(endpoint))
                    .map_or(&[][..], Vec::as_slice);
                ((*endpoint).to_owned(), Requests::of(samples))
            })
            .collect::<BTreeMap<_, _>>()
    };
    ticks
        .iter()
        .map(|tick| {
            let index = tick.index;
            let median = if tick.hot.is_empty() {
                0.0
            } else {
                crate::stats::median(tick.hot.iter().map(|rows| *rows as f64)).unwrap_or(0.0)
            };
            Minute {
                index,
                phase: phase_of(index, hold_minutes, stream_minutes),
                tags_accepted: client.accepted.get(&index).copied().unwrap_or(0),
                client: per_endpoint(client.minutes.get(&index)),
                server: per_endpoint(server.get(&index)),
                wrong: client.wrong.get(&index).copied().unwrap_or(0),
                freshness: Latency::of_millis(
                    client
                        .freshness
                        .get(&index)
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .copied(),
                ),
                parts: tick.ch.parts,
                merges_running: tick.ch.merges_running,
                merges_done: tick.merges_done,
                clickhouse_bytes: tick.clickhouse_bytes,
                broker_bytes: tick.broker_bytes,
                hot_rows_max: tick.hot.iter().copied().max().unwrap_or(0),
                hot_rows_median: median,
                processes: tick.processes.clone(),
                machine_cores: tick.machine_cores,
                load_generator_cores: tick.load_generator_cores,
            }
        })
        .collect()
}

pub(super) fn totals(
    client: &ClientLog,
    server: &ServerLog,
    stream_minutes: u64,
) -> BTreeMap<String, EndpointTotals> {
    let gather = |log: &RequestLog, endpoint: &str, minutes: &dyn Fn(u64) -> bool| {
        log.iter()
            .filter(|(minute, _)| minutes(**minute))
            .filter_map(|(_, buckets)| buckets.get(endpoint))
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    let drift = DRIFT_MINUTES as u64;
    ENDPOINTS
        .iter()
        .map(|endpoint| {
            let p99 = |minutes: &dyn Fn(u64) -> bool| {
                let samples = gather(server, endpoint, minutes);
                (!samples.is_empty())
                    .then(|| Latency::of_millis(samples.iter().map(|(ms, _)| *ms)).p99_ms)
            };
            let totals = EndpointTotals {
                client: Requests::of(&gather(&client.minutes, endpoint, &|_| true)),
                server: Requests::of(&gather(server, endpoint, &|_| true)),
                first_p99_ms: p99(&|minute| minute < drift),
                last_p99_ms: p99(&|minute| {
                    minute + drift >= stream_minutes && minute < stream_minutes
                }),
            };
            ((*endpoint).to_owned(), totals)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_slow_requests_are_counted_apart() {
        let requests = Requests::of(&[(5.0, true), (250.0, true), (3.0, false)]);
        assert_eq!(requests.requests, 3);
        assert_eq!(requests.errors, 1);
        assert_eq!(requests.slow, 1);
        assert!(requests.latency.max_ms >= 249.0);
    }
}
