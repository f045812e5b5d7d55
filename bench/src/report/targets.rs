//! The cost targets of issue 24 in one table of `docs/benchmarks.md`: each figure from
//! the run that measures it, beside its target and verdict, and where it was measured.
//! `bench e2e` measures `SELECT 1`, `bench read` the profile read's CPU, `bench burst`
//! the burst; the day's data at the contract's load is `make soak`'s (`soak.json`), and
//! the projector's `kill -9` is `make chaos`'s (`.stack/chaos/report.json`). A row whose
//! run is missing says so. For each miss, the template says its measured cause, what was
//! tried and the next lever.

use crate::parts::burst::BurstResults;
use crate::parts::e2e::E2eResults;
use crate::parts::read::ReadResults;
use crate::parts::soak::SoakResults;
use crate::platform_cpu::{PLATFORM_CORES_LIMIT, PLATFORM_CORES_STRETCH};
use crate::query_cost::SELECT_ONE_TARGET_US;
use crate::report::format::{fixed, ms, or_dash, percent, thousands, Table};
use crate::report::Inputs;
use crate::verdict::{Limit, Verdict};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// ClickHouse's CPU per one-cookie profile read (median, query log), µs.
pub const PROFILE_READ_TARGET_US: f64 = 1_000.0;
/// Profile p99 at the contract's load on a day's data, server side, ms.
pub const PROFILE_P99_TARGET_MS: f64 = 20.0;
/// Seconds from the projector's `kill -9` to every answer fresh again.
pub const FRESH_AGAIN_TARGET_S: f64 = 5.0;

/// What the benchmarks read of `make chaos`'s report.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChaosRecoveries {
    /// When it ran (UTC).
    pub date: String,
    /// At which commit.
    pub commit: String,
    /// Each slot of the run.
    pub slots: Vec<ChaosSlot>,
}

/// One slot of the chaos run: its fault and how long each path took to recover.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChaosSlot {
    /// The component the fault hit (none: the baseline slot).
    pub fault: Option<String>,
    /// Each path's time to recover.
    pub recovery: Vec<ChaosRecovery>,
}

/// One path's time to recover.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChaosRecovery {
    /// `write`, `read` or `fresh`.
    pub path: String,
    /// Seconds from the fault; none if it never recovered in time.
    pub seconds: Option<f64>,
}

impl ChaosRecoveries {
    /// Reads `make chaos`'s report at `path`; `None` when it has not run (or the file is
    /// not such a report).
    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(report) => Some(report),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "chaos report not read");
                None
            }
        }
    }

    /// The projector's kills and the slowest time to fresh answers among them (none
    /// when one never got fresh).
    pub fn projector_fresh(&self) -> (usize, Option<f64>) {
        let kills: Vec<Option<f64>> = self
            .slots
            .iter()
            .filter(|slot| slot.fault.as_deref() == Some("projector"))
            .map(|slot| {
                slot.recovery
                    .iter()
                    .find(|recovery| recovery.path == "fresh")
                    .and_then(|recovery| recovery.seconds)
            })
            .collect();
        let slowest = kills
            .iter()
            .try_fold(0.0_f64, |slowest, seconds| Some(slowest.max((*seconds)?)));
        (kills.len(), slowest)
    }
}

/// One target: what, the figure, the target, the verdict, where it was measured.
struct Row {
    key: &'static str,
    figure: &'static str,
    measured: String,
    target: String,
    verdict: Verdict,
    source: String,
}

fn not_run(key: &'static str, figure: &'static str, target: String, source: &str) -> Row {
    Row {
        key,
        figure,
        measured: "not run".to_owned(),
        target,
        verdict: Verdict::NotMeasured,
        source: source.to_owned(),
    }
}

fn select_one(e2e: Option<&E2eResults>) -> Row {
    let figure = "ClickHouse CPU per `SELECT 1`";
    let target = format!("≤ {} µs", fixed(SELECT_ONE_TARGET_US, 0));
    let Some((e2e, cost)) = e2e.and_then(|e2e| Some((e2e, e2e.select_one.as_ref()?))) else {
        return not_run("select_one", figure, target, "`bench e2e`");
    };
    Row {
        key: "select_one",
        figure,
        measured: format!(
            "{} (the server process over {} queries sent one after another; the query's own thread in the query log: {} µs at the median)",
            or_dash(cost.process_us, |us| format!("{} µs", thousands(us))),
            thousands(f64::from(cost.queries)),
            thousands(cost.logged_p50_us)
        ),
        target,
        verdict: Limit::AtMost(SELECT_ONE_TARGET_US).check(cost.process_us),
        source: format!("`bench e2e` at {}, after its run", e2e.info.commit),
    }
}

fn profile_read(read: Option<&ReadResults>) -> Row {
    let figure = "ClickHouse CPU per one-cookie profile read (median, query log)";
    let target = format!("≤ {} µs", thousands(PROFILE_READ_TARGET_US));
    let Some(read) = read else {
        return not_run("profile_read", figure, target, "`bench read`");
    };
    let p50 = read.median(|run| {
        run.profiles_read_api
            .logged
            .as_ref()
            .map(|logged| logged.cpu_p50_us)
    });
    Row {
        key: "profile_read",
        figure,
        measured: format!(
            "{} ({} tags loaded, read-api's reads at {}/s)",
            or_dash(p50, |us| format!("{} µs", thousands(us))),
            thousands(read.load.tags as f64),
            read.profile_rate
        ),
        target,
        verdict: Limit::AtMost(PROFILE_READ_TARGET_US).check(p50),
        source: format!("`bench read` at {}", read.info.commit),
    }
}

fn soak_rows(soak: Option<&SoakResults>) -> Vec<Row> {
    let platform = "whole platform's CPU at the contract's load, a day's data";
    let platform_target =
        format!("≤ {PLATFORM_CORES_LIMIT} core (stretch {PLATFORM_CORES_STRETCH})");
    let p99 = "profile p99 (nginx `rt`) at the contract's load with ingestion, a day's data";
    let p99_target = format!("≤ {}", ms(PROFILE_P99_TARGET_MS));
    let shed = "profile reads answered 5xx at the contract's load";
    let Some(soak) = soak else {
        return vec![
            not_run("platform", platform, platform_target, "`make soak`"),
            not_run("profile_p99", p99, p99_target, "`make soak`"),
            not_run("profile_shed", shed, "0".to_owned(), "`make soak`"),
        ];
    };
    let source = format!(
        "`make soak` at {}: {} tags loaded, then {} minutes",
        soak.info.commit,
        thousands(soak.preload.tags as f64),
        soak.load_minutes().count()
    );
    let cores = crate::report::soak::platform_cores(soak);
    let profiles = soak
        .endpoints
        .get("profiles")
        .map(|totals| &totals.server)
        .filter(|server| server.requests > 0);
    let p99_ms = profiles.map(|server| server.latency.p99_ms);
    vec![
        Row {
            key: "platform",
            figure: platform,
            measured: or_dash(cores, |cores| format!("{} cores", fixed(cores, 3))),
            target: platform_target,
            verdict: Limit::AtMost(PLATFORM_CORES_LIMIT).check(cores),
            source: source.clone(),
        },
        Row {
            key: "profile_p99",
            figure: p99,
            measured: or_dash(p99_ms, ms),
            target: p99_target,
            verdict: Limit::AtMost(PROFILE_P99_TARGET_MS).check(p99_ms),
            source: source.clone(),
        },
        Row {
            key: "profile_shed",
            figure: shed,
            measured: profiles.map_or_else(
                || "—".to_owned(),
                |server| {
                    format!(
                        "{} of {} ({})",
                        thousands(server.errors as f64),
                        thousands(server.requests as f64),
                        percent(server.errors as f64 / server.requests as f64)
                    )
                },
            ),
            target: "0".to_owned(),
            verdict: profiles.map_or(Verdict::NotMeasured, |server| {
                Verdict::of(server.errors == 0)
            }),
            source,
        },
    ]
}

fn burst(burst: Option<&BurstResults>) -> Row {
    let figure = "200 profile reads at once, idle stack, fresh connections, after an hour of load";
    let target = format!(
        "all answered within {}",
        ms(crate::parts::burst::BURST_MAX_MS)
    );
    let Some(burst) = burst else {
        return not_run("burst", figure, target, "`bench burst`");
    };
    let bursts = burst.bursts();
    Row {
        key: "burst",
        figure,
        measured: crate::report::burst::burst_text(&bursts),
        target,
        verdict: bursts.verdict(),
        source: format!(
            "`bench burst` at {} ({})",
            burst.info.commit, burst.info.started_at
        ),
    }
}

fn fresh_again(chaos: Option<&ChaosRecoveries>) -> Row {
    let figure = "`kill -9` of the projector at the contract's load: every answer fresh again";
    let target = format!("≤ {} s", fixed(FRESH_AGAIN_TARGET_S, 0));
    let Some(chaos) = chaos else {
        return not_run("fresh_again", figure, target, "`make chaos`");
    };
    let (kills, slowest) = chaos.projector_fresh();
    let verdict = match (kills, slowest) {
        (0, _) => Verdict::NotMeasured,
        (_, None) => Verdict::NotMet,
        (_, Some(seconds)) => Limit::AtMost(FRESH_AGAIN_TARGET_S).check(Some(seconds)),
    };
    Row {
        key: "fresh_again",
        figure,
        measured: match (kills, slowest) {
            (0, _) => "no kill of the projector in the run".to_owned(),
            (_, None) => format!("{kills} kills, one never fresh again within the run's slot"),
            (_, Some(seconds)) => {
                format!(
                    "{kills} kills, the slowest {} s from the kill",
                    fixed(seconds, 1)
                )
            }
        },
        target,
        verdict,
        source: format!("`make chaos` at {} ({})", chaos.commit, chaos.date),
    }
}

/// The table of the targets and, by key, whether each was met (the template's prose
/// about a miss shows only for a target that was measured and not met).
pub fn context(inputs: &Inputs) -> minijinja::Value {
    let mut rows = vec![
        select_one(inputs.e2e.as_ref()),
        profile_read(inputs.read.as_ref()),
    ];
    rows.extend(soak_rows(inputs.soak.as_ref()));
    rows.push(burst(inputs.burst.as_ref()));
    rows.push(fresh_again(inputs.chaos.as_ref()));
    let mut table = Table::new(&["figure", "measured", "target", "verdict", "measured by"]);
    let mut missed = BTreeMap::new();
    for row in rows {
        missed.insert(row.key, row.verdict == Verdict::NotMet);
        table.row(vec![
            row.figure.to_owned(),
            row.measured,
            row.target,
            row.verdict.to_string(),
            row.source,
        ]);
    }
    context! {
        table => table.render(),
        missed => missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chaos(fresh: &[Option<f64>]) -> ChaosRecoveries {
        let slot = |fault: &str, seconds: Option<f64>| ChaosSlot {
            fault: Some(fault.to_owned()),
            recovery: vec![ChaosRecovery {
                path: "fresh".to_owned(),
                seconds,
            }],
        };
        let mut slots = vec![slot("clickhouse", Some(30.0))];
        slots.extend(fresh.iter().map(|seconds| slot("projector", *seconds)));
        ChaosRecoveries {
            date: "2026-12-05 09:18 UTC".to_owned(),
            commit: "abc1234".to_owned(),
            slots,
        }
    }

    #[test]
    fn the_projectors_slowest_kill_is_its_figure_and_a_kill_never_fresh_misses() {
        assert_eq!(
            chaos(&[Some(1.1), Some(1.5), Some(1.3)]).projector_fresh(),
            (3, Some(1.5))
        );
        assert_eq!(chaos(&[Some(1.1), None]).projector_fresh(), (2, None));
        assert_eq!(chaos(&[]).projector_fresh(), (0, Some(0.0)));
        assert_eq!(
            fresh_again(Some(&chaos(&[Some(1.5)]))).verdict,
            Verdict::Met
        );
        assert_eq!(
            fresh_again(Some(&chaos(&[Some(6.0)]))).verdict,
            Verdict::NotMet
        );
        assert_eq!(fresh_again(Some(&chaos(&[None]))).verdict, Verdict::NotMet);
        assert_eq!(fresh_again(Some(&chaos(&[]))).verdict, Verdict::NotMeasured);
    }

    #[test]
    fn the_chaos_report_is_read_from_make_chaos_json() {
        let dir = std::env::temp_dir().join(format!("bench-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("report.json");
        std::fs::write(
            &path,
            r#"{"date": "2026-12-05 09:18 UTC", "commit": "5f9b5b8", "passed": true, "rate": 1000,
                "slots": [{"fault": null, "label": "no fault", "recovery": [], "lost": 0},
                          {"fault": "projector", "recovery": [{"path": "fresh", "seconds": 1.07}]}]}"#,
        )
        .expect("written");
        let report = ChaosRecoveries::load(&path).expect("read");
        assert_eq!(report.commit, "5f9b5b8");
        assert_eq!(report.projector_fresh(), (1, Some(1.07)));
        assert_eq!(ChaosRecoveries::load(&dir.join("missing.json")), None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_run_is_not_run_and_no_miss() {
        let value = context(&Inputs::default());
        let table = value.get_attr("table").expect("table").to_string();
        assert!(table.contains("| ClickHouse CPU per `SELECT 1` | not run | ≤ 300 µs | not measured | `bench e2e` |"), "{table}");
        assert!(table.contains("| `make soak` |"), "{table}");
        let missed = value.get_attr("missed").expect("missed");
        assert!(!missed.get_attr("platform").expect("platform").is_true());
    }
}
