//! `docs/soak.md` and its plots (`docs/soak/*.png`) from the soak's results: every
//! target of the soak beside its figure, the CPU the platform spends per 1,000 tags,
//! the minute-by-minute table, and the charts (latency per endpoint, errors, bytes on
//! disk, resident memory, rows of the hottest cookies). The figures and tables are
//! computed here; the prose around them is in `bench/templates/soak.md`.

use crate::database::ReadPerQuery;
use crate::error::BenchError;
use crate::parts::soak::{
    Minute, Phase, SoakResults, DISK_LEVEL_LIMIT, DRIFT_LIMIT, DRIFT_MINUTES, ENDPOINTS,
    FRESHNESS_P99_TARGET_MS, P99_TARGETS_MS, SLOW_MS, WRITE_FLOOR_LIMIT,
};
use crate::plot::{self, Chart, Series};
use crate::report::format::{fixed, ms, or_dash, thousands, Table};
use crate::report::template;
use crate::verdict::{Limit, Verdict};
use minijinja::context;
use std::path::Path;

/// The processes of the table, in order.
const PROCESSES: [&str; 6] = [
    "clickhouse",
    "tansu",
    "nginx",
    "write-api",
    "read-api",
    "projector",
];

const MIB: f64 = 1024.0 * 1024.0;

/// Writes `soak.md` and the plots into `dir` (the plots into `dir/soak/`).
pub fn write(results: &SoakResults, dir: &Path) -> Result<(), BenchError> {
    let text = markdown(results)?;
    let plots = dir.join("soak");
    std::fs::create_dir_all(&plots)
        .map_err(BenchError::io(format!("creating {}", plots.display())))?;
    for (file, chart) in charts(results) {
        let path = plots.join(file);
        plot::draw(&chart, &path).map_err(|error| BenchError::Stack(error.to_string()))?;
    }
    let path = dir.join("soak.md");
    std::fs::write(&path, text).map_err(BenchError::io(format!("writing {}", path.display())))?;
    tracing::info!(path = %path.display(), "soak report written");
    Ok(())
}

/// CPU seconds per 1,000 tags of all the server processes together (a process not
/// measured counts as none).
fn platform_cpu_per_1000_tags(results: &SoakResults) -> f64 {
    PROCESSES
        .iter()
        .filter_map(|process| results.cpu_per_1000_tags(process))
        .sum()
}

/// The cores all the server processes took at the soak's rate; none when none was
/// measured.
pub fn platform_cores(results: &SoakResults) -> Option<f64> {
    PROCESSES
        .iter()
        .any(|process| results.cpu_per_1000_tags(process).is_some())
        .then(|| platform_cpu_per_1000_tags(results) * f64::from(results.rate) / 1000.0)
}

/// Each target: what, measured, target, verdict.
fn targets(results: &SoakResults) -> Vec<[String; 4]> {
    let mut rows = Vec::new();
    let wrong = results.wrong_answers();
    rows.push([
        "wrong answers (every checked query, final round included)".to_owned(),
        thousands(wrong as f64),
        "0".to_owned(),
        Verdict::of(wrong == 0).to_string(),
    ]);
    let lost = results.harness.lost_tags;
    rows.push([
        "tags answered 204 and lost".to_owned(),
        thousands(lost as f64),
        "0".to_owned(),
        Verdict::of(lost == 0).to_string(),
    ]);
    let slow: u64 = results
        .endpoints
        .values()
        .map(|totals| totals.server.slow)
        .sum();
    let requests: u64 = results
        .endpoints
        .values()
        .map(|totals| totals.server.requests)
        .sum();
    rows.push([
        format!("server-side requests over {SLOW_MS} ms"),
        format!(
            "{} of {}",
            thousands(slow as f64),
            thousands(requests as f64)
        ),
        "0".to_owned(),
        Verdict::of(slow == 0).to_string(),
    ]);
    for (endpoint, limit) in P99_TARGETS_MS {
        let p99 = results
            .endpoints
            .get(endpoint)
            .filter(|totals| totals.server.requests > 0)
            .map(|totals| totals.server.latency.p99_ms);
        rows.push([
            format!("{endpoint} p99, server side, whole soak"),
            or_dash(p99, ms),
            format!("≤ {}", ms(limit)),
            Limit::AtMost(limit).check(p99).to_string(),
        ]);
    }
    let freshness = (results.freshness.samples > 0).then_some(results.freshness.p99_ms);
    rows.push([
        format!(
            "freshness p99 (204 to visible in the profile, {} probes)",
            thousands(results.freshness.samples as f64)
        ),
        or_dash(freshness, ms),
        format!("≤ {}", ms(FRESHNESS_P99_TARGET_MS)),
        Limit::AtMost(FRESHNESS_P99_TARGET_MS)
            .check(freshness)
            .to_string(),
    ]);
    for endpoint in ENDPOINTS {
        let Some(totals) = results.endpoints.get(endpoint) else {
            continue;
        };
        let drift = match (totals.first_p99_ms, totals.last_p99_ms) {
            (Some(first), Some(last)) => crate::stats::ratio(last, first),
            _ => None,
        };
        rows.push([
            format!(
                "{endpoint}: last {DRIFT_MINUTES} minutes' p99 / first {DRIFT_MINUTES} minutes'"
            ),
            format!(
                "{} ({} / {})",
                or_dash(drift, |value| format!("{}×", fixed(value, 2))),
                or_dash(totals.last_p99_ms, ms),
                or_dash(totals.first_p99_ms, ms)
            ),
            format!("≤ {DRIFT_LIMIT}×"),
            Limit::AtMost(DRIFT_LIMIT).check(drift).to_string(),
        ]);
    }
    let disk = results.disk_drift();
    let after = |window| {
        results
            .bytes_after_window(window)
            .map(|(ch, broker)| format!("{} MiB", thousands((ch + broker) as f64 / MIB)))
    };
    rows.push([
        format!(
            "bytes on disk (database and broker) after retention window {} against after window 1",
            results.retention_windows
        ),
        format!(
            "{} ({} against {})",
            or_dash(disk, crate::report::format::percent),
            after(results.retention_windows).unwrap_or_else(|| "—".to_owned()),
            after(1).unwrap_or_else(|| "—".to_owned())
        ),
        format!(
            "within {}",
            crate::report::format::percent(DISK_LEVEL_LIMIT)
        ),
        Limit::AtMost(DISK_LEVEL_LIMIT).check(disk).to_string(),
    ]);
    let floor = &results.write_floor;
    let ratio = floor.ratio();
    rows.push([
        "write-api CPU per accepted tag / no-op axum server's CPU per request (same rate, same run)"
            .to_owned(),
        format!(
            "{} ({} µs / {} µs)",
            or_dash(ratio, |value| format!("{}×", fixed(value, 2))),
            or_dash(floor.write_api_us_per_tag, |value| fixed(value, 1)),
            or_dash(floor.noop_us_per_request, |value| fixed(value, 1))
        ),
        format!("≤ {WRITE_FLOOR_LIMIT}×"),
        Limit::AtMost(WRITE_FLOOR_LIMIT).check(ratio).to_string(),
    ]);
    rows
}

/// `soak.md`: the figures and tables; the prose is in `bench/templates/soak.md`.
fn markdown(results: &SoakResults) -> Result<String, BenchError> {
    let info = &results.info;
    let mut targets_table = Table::new(&["figure", "measured", "target", ""]);
    for row in targets(results) {
        targets_table.row(row.to_vec());
    }
    let mut requests_table = Table::new(&[
        "endpoint",
        "side",
        "requests",
        "errors",
        "over 200 ms",
        "p50",
        "p99",
        "max",
    ]);
    for endpoint in ENDPOINTS {
        let Some(totals) = results.endpoints.get(endpoint) else {
            continue;
        };
        for (side, requests) in [
            ("client", &totals.client),
            ("server (nginx rt)", &totals.server),
        ] {
            requests_table.row(vec![
                endpoint.to_owned(),
                side.to_owned(),
                thousands(requests.requests as f64),
                thousands(requests.errors as f64),
                thousands(requests.slow as f64),
                ms(requests.latency.p50_ms),
                ms(requests.latency.p99_ms),
                ms(requests.latency.max_ms),
            ]);
        }
    }
    let mut cpu_table = Table::new(&["process", "CPU s per 1,000 tags", "cores at 1,000 tags/s"]);
    let total = platform_cpu_per_1000_tags(results);
    for process in PROCESSES {
        let per_1000 = results.cpu_per_1000_tags(process);
        cpu_table.row(vec![
            process.to_owned(),
            or_dash(per_1000, |value| fixed(value, 3)),
            or_dash(per_1000, |value| {
                fixed(value * f64::from(results.rate) / 1000.0, 3)
            }),
        ]);
    }
    cpu_table.row(vec![
        "**all server processes**".to_owned(),
        fixed(total, 3),
        fixed(total * f64::from(results.rate) / 1000.0, 3),
    ]);
    let mean = |value: fn(&Minute) -> Option<f64>| {
        let values: Vec<f64> = results.load_minutes().filter_map(value).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let cores = mean(|minute| minute.machine_cores)
        .zip(mean(|minute| minute.load_generator_cores))
        .map(|(machine, load_generator)| {
            context! {
                machine => fixed(machine, 2),
                load_generator => fixed(load_generator, 2),
            }
        });
    let mut minutes_table = Table::new(&[
        "min",
        "phase",
        "tags 204",
        "tags p99 s/c",
        "profiles p99 s/c",
        "aggr. p99 s/c",
        "errors c",
        "wrong",
        "fresh p99",
        "parts",
        "merges",
        "CH MiB",
        "broker MiB",
        "hot rows max",
        "CH RSS MiB",
        "CPU s/1k tags",
        "machine cores",
        "loadgen cores",
    ]);
    for minute in &results.minutes {
        let p99 = |endpoint: &str| {
            let side = |requests: Option<&crate::parts::soak::Requests>| {
                requests
                    .filter(|requests| requests.requests > 0)
                    .map_or_else(
                        || "—".to_owned(),
                        |requests| fixed(requests.latency.p99_ms, 1),
                    )
            };
            format!(
                "{} / {}",
                side(minute.server.get(endpoint)),
                side(minute.client.get(endpoint))
            )
        };
        let errors: u64 = minute.client.values().map(|requests| requests.errors).sum();
        let cpu: Option<f64> = PROCESSES
            .iter()
            .map(|process| minute.cpu_per_1000_tags(process))
            .sum();
        minutes_table.row(vec![
            (minute.index + 1).to_string(),
            match minute.phase {
                Phase::Hold => "hold",
                Phase::Retention => "retention",
                Phase::FinalRound => "final",
            }
            .to_owned(),
            thousands(minute.tags_accepted as f64),
            p99("tags"),
            p99("profiles"),
            p99("aggregates"),
            thousands(errors as f64),
            thousands(minute.wrong as f64),
            if minute.freshness.samples > 0 {
                fixed(minute.freshness.p99_ms, 0)
            } else {
                "—".to_owned()
            },
            minute.parts.to_string(),
            format!("{} ({})", minute.merges_done, minute.merges_running),
            thousands(minute.clickhouse_bytes as f64 / MIB),
            thousands(minute.broker_bytes as f64 / MIB),
            minute.hot_rows_max.to_string(),
            or_dash(
                minute
                    .processes
                    .get("clickhouse")
                    .and_then(|process| process.rss_mib),
                thousands,
            ),
            or_dash(cpu, |value| fixed(value, 3)),
            or_dash(minute.machine_cores, |value| fixed(value, 2)),
            or_dash(minute.load_generator_cores, |value| fixed(value, 2)),
        ]);
    }
    let preload = &results.preload;
    let context = context! {
        smoke => !info.full_size,
        date => info.date(),
        commit => &info.commit,
        machine => info.machine.describe(),
        preload_tags => thousands(preload.tags as f64),
        database => &preload.database,
        loaded_now => preload.loaded_now,
        preload_seconds => thousands(preload.seconds),
        rate => results.rate,
        hold_minutes => results.hold_minutes,
        retention_windows => results.retention_windows,
        retention_minutes => results.retention_minutes,
        topic => &results.topic,
        minutes_of_load => results.hold_minutes
            + u64::from(results.retention_minutes) * u64::from(results.retention_windows),
        load_seconds => thousands(results.load_seconds),
        final_aggregates_minutes =>
            crate::parts::soak::final_aggregates_within(results.retention_minutes).as_secs() / 60,
        targets_table => targets_table.render().trim_end(),
        requests_table => requests_table.render().trim_end(),
        cpu_table => cpu_table.render().trim_end(),
        work_table => clickhouse_work(results),
        cores,
        plots => charts(results)
            .iter()
            .map(|(file, chart)| (*file, chart.title))
            .collect::<Vec<_>>(),
        disk_files_counted_once => results.disk_files_counted_once,
        minutes_table => minutes_table.render().trim_end(),
    };
    template::render("soak.md", include_str!("../../templates/soak.md"), context)
}

/// Where ClickHouse's CPU went: its queries by work (`system.query_log`), and the rest
/// of the process's CPU, the background's (merges, mutations, TTL drops); none without
/// those figures.
fn clickhouse_work(results: &SoakResults) -> Option<String> {
    let (process_cpu, tags) = results.cpu_and_tags_of_every_minute("clickhouse")?;
    if results.clickhouse_work.is_empty() || tags == 0 {
        return None;
    }
    let per_1000 = |cpu: f64| cpu * 1000.0 / tags as f64;
    let share = |cpu: f64| {
        or_dash(crate::stats::ratio(cpu, process_cpu), |share| {
            format!("{}%", fixed(share * 100.0, 1))
        })
    };
    let mut table = Table::new(&[
        "work",
        "queries",
        "CPU s",
        "CPU ms per query",
        "CPU s per 1,000 tags",
        "share of ClickHouse's CPU",
        "rows / granules / parts read per query, p50 (p99)",
    ]);
    let mut in_queries = 0.0;
    for work in &results.clickhouse_work {
        in_queries += work.cpu_s;
        table.row(vec![
            work.work.clone(),
            thousands(work.queries as f64),
            fixed(work.cpu_s, 1),
            or_dash(
                crate::stats::ratio(work.cpu_s * 1000.0, work.queries as f64),
                |ms| fixed(ms, 2),
            ),
            fixed(per_1000(work.cpu_s), 3),
            share(work.cpu_s),
            work.read.map_or_else(|| "—".to_owned(), read_per_query),
        ]);
    }
    let background = (process_cpu - in_queries).max(0.0);
    table.row(vec![
        "background: merges, mutations (the trimmer's patches applied), TTL drops".to_owned(),
        "—".to_owned(),
        fixed(background, 1),
        "—".to_owned(),
        fixed(per_1000(background), 3),
        share(background),
        "—".to_owned(),
    ]);
    table.row(vec![
        "**the process**".to_owned(),
        "—".to_owned(),
        fixed(process_cpu, 1),
        "—".to_owned(),
        fixed(per_1000(process_cpu), 3),
        "100%".to_owned(),
        "—".to_owned(),
    ]);
    Some(table.render().trim_end().to_owned())
}

/// `1,024 / 1 / 1 (9,216 / 9 / 9)`.
fn read_per_query(read: ReadPerQuery) -> String {
    let at = |index: usize| {
        format!(
            "{} / {} / {}",
            thousands(read.rows[index]),
            thousands(read.granules[index]),
            thousands(read.parts[index])
        )
    };
    format!("{} ({})", at(0), at(1))
}

fn series(name: &str, minutes: &[&Minute], value: impl Fn(&Minute) -> Option<f64>) -> Series {
    Series {
        name: name.to_owned(),
        points: minutes
            .iter()
            .map(|minute| ((minute.index + 1) as f64, value(minute)))
            .collect(),
    }
}

/// The charts, each with its file name.
fn charts(results: &SoakResults) -> Vec<(&'static str, Chart<'static>)> {
    let minutes: Vec<&Minute> = results.load_minutes().collect();
    let x_label = "minutes of load (event time runs with them: 1,000 tags/s, 1 ms apart)";
    let p99 = |side: bool, endpoint: &'static str| {
        move |minute: &Minute| {
            let requests = if side {
                minute.server.get(endpoint)
            } else {
                minute.client.get(endpoint)
            }?;
            (requests.requests > 0).then_some(requests.latency.p99_ms)
        }
    };
    let mut latency = Vec::new();
    for endpoint in ENDPOINTS {
        latency.push(series(
            &format!("{endpoint} p99, server"),
            &minutes,
            p99(true, endpoint),
        ));
        latency.push(series(
            &format!("{endpoint} p99, client"),
            &minutes,
            p99(false, endpoint),
        ));
    }
    let errors = ENDPOINTS
        .iter()
        .map(|endpoint| {
            series(&format!("{endpoint} errors (client)"), &minutes, |minute| {
                minute
                    .client
                    .get(*endpoint)
                    .map(|requests| requests.errors as f64)
            })
        })
        .chain([series("wrong answers", &minutes, |minute| {
            Some(minute.wrong as f64)
        })])
        .collect();
    let disk = vec![
        series("ClickHouse (the database)", &minutes, |minute| {
            Some(minute.clickhouse_bytes as f64 / MIB)
        }),
        series("broker (sqlite store)", &minutes, |minute| {
            Some(minute.broker_bytes as f64 / MIB)
        }),
    ];
    let rss = PROCESSES
        .iter()
        .map(|process| {
            series(process, &minutes, |minute| {
                minute.processes.get(*process)?.rss_mib
            })
        })
        .collect();
    let hot = vec![
        series("largest (cookie, action)", &minutes, |minute| {
            Some(minute.hot_rows_max as f64)
        }),
        series("median of the 32 pairs", &minutes, |minute| {
            Some(minute.hot_rows_median)
        }),
    ];
    let freshness = vec![series("freshness p99", &minutes, |minute| {
        (minute.freshness.samples > 0).then_some(minute.freshness.p99_ms)
    })];
    vec![
        (
            "latency.png",
            Chart {
                title: "p99 latency per minute",
                x_label,
                y_label: "ms",
                series: latency,
                limit: Some((20.0, "20 ms (tags and profiles target)")),
            },
        ),
        (
            "errors.png",
            Chart {
                title: "errors and wrong answers per minute",
                x_label,
                y_label: "requests",
                series: errors,
                limit: None,
            },
        ),
        (
            "disk.png",
            Chart {
                title: "bytes on disk",
                x_label,
                y_label: "MiB",
                series: disk,
                limit: None,
            },
        ),
        (
            "rss.png",
            Chart {
                title: "resident memory",
                x_label,
                y_label: "MiB",
                series: rss,
                limit: None,
            },
        ),
        (
            "hot-rows.png",
            Chart {
                title: "rows held per (cookie, action) of the 16 hottest cookies",
                x_label,
                y_label: "rows",
                series: hot,
                limit: Some((200.0, "200 (the contract's newest)")),
            },
        ),
        (
            "freshness.png",
            Chart {
                title: "freshness: 204 to visible in the profile, p99 per minute",
                x_label,
                y_label: "ms",
                series: freshness,
                limit: Some((FRESHNESS_P99_TARGET_MS, "1 s target")),
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn latency(samples: u64, p99_ms: f64) -> Value {
        json!({"samples": samples, "p50_ms": p99_ms / 2.0, "p90_ms": p99_ms * 0.8,
            "p99_ms": p99_ms, "max_ms": p99_ms * 1.5})
    }

    fn requests(requests: u64, p99_ms: f64) -> Value {
        json!({"requests": requests, "errors": 1, "slow": 0, "latency": latency(requests, p99_ms)})
    }

    fn queries(wrong: u64) -> Value {
        json!({"asked": 100, "correct": 100 - wrong, "wrong": wrong, "errors": 0,
            "latency": latency(100, 9.0)})
    }

    /// A full soak (every figure there, an extra minute after the retention windows),
    /// or a smoke run's results of an earlier version (no machine CPU, no ClickHouse
    /// work, the disk's double count, no aggregates nor freshness measured).
    fn results(full: bool) -> SoakResults {
        let endpoints: &[&str] = if full {
            &ENDPOINTS
        } else {
            &["tags", "profiles"]
        };
        let minute = |index: u64, phase: &str| {
            let sides: serde_json::Map<String, Value> = endpoints
                .iter()
                .map(|endpoint| ((*endpoint).to_owned(), requests(600, 8.0 + index as f64)))
                .collect();
            let processes: serde_json::Map<String, Value> = PROCESSES
                .iter()
                .map(|process| {
                    (
                        (*process).to_owned(),
                        json!({"cpu_s": 6.0, "rss_mib": 300.0}),
                    )
                })
                .collect();
            json!({
                "index": index, "phase": phase, "tags_accepted": 60_000, "client": sides,
                "server": sides, "wrong": 0, "freshness": latency(u64::from(full) * 60, 400.0),
                "parts": 40, "merges_running": 1, "merges_done": 3,
                "clickhouse_bytes": (1_000 + index * 10) << 20, "broker_bytes": 500 << 20,
                "hot_rows_max": 260, "hot_rows_median": 210.0, "processes": processes,
                "machine_cores": full.then_some(1.9), "load_generator_cores": full.then_some(0.4),
            })
        };
        let totals: serde_json::Map<String, Value> = endpoints
            .iter()
            .map(|endpoint| {
                let totals = json!({
                    "client": requests(3_000, 12.0), "server": requests(3_000, 10.0),
                    "first_p99_ms": 9.0, "last_p99_ms": full.then_some(11.0)});
                ((*endpoint).to_owned(), totals)
            })
            .collect();
        serde_json::from_value(json!({
            "info": {"started_at": "2026-12-01T10:00:00Z", "commit": "abc1234", "full_size": full,
                "machine": {"cores": 2, "cpu_model": "AMD EPYC", "memory_gib": 24.0,
                    "kernel": "Linux 6.1"}},
            "hold_minutes": 2, "retention_minutes": 1, "retention_windows": 2, "rate": 1000,
            "topic": "bench_soak_1",
            "preload": {"database": "bench_soak", "tags": 86_400_000, "seed": 1, "start_ms": 0,
                "end_ms": 86_400_000, "loaded_now": !full, "seconds": 900.0,
                "rows_per_second": 96_000.0, "chunk_rows": 1_000_000},
            "minutes": [minute(0, "Hold"), minute(1, "Hold"), minute(2, "Retention"),
                minute(3, "Retention"), minute(4, "FinalRound")],
            "endpoints": totals,
            "freshness": latency(u64::from(full) * 240, 450.0),
            "write_floor": {"write_api_us_per_tag": full.then_some(30.0),
                "noop_us_per_request": full.then_some(12.0), "noop_requests": 240_000},
            "load_seconds": 290.0,
            "harness": {"event_time_seconds": 240.0, "lags_ms": [0, 0],
                "tags": {"sent": 240_000, "accepted": 240_000, "failed": 0, "target_rate": 1000,
                    "latency": latency(240_000, 9.0)},
                "profiles": queries(0), "aggregates": queries(u64::from(!full)),
                "final_profiles": queries(0), "final_aggregates": queries(0),
                "lost_tags": 0, "freshness": null, "passed": full},
            "disk_files_counted_once": full,
            "clickhouse_work": if full {
                json!([{"work": "projector batches", "queries": 2_400, "cpu_s": 6.0},
                    {"work": "profile reads", "queries": 24_000, "cpu_s": 4.0,
                        "read": {"rows": [2048.0, 9216.0], "granules": [2.0, 9.0], "parts": [2.0, 9.0]}}])
            } else {
                json!([])
            },
        }))
        .expect("a soak's results")
    }

    #[test]
    fn the_report_renders_each_branch_of_its_prose() {
        let text = markdown(&results(true)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "# Soak\n\nProduced by `make soak`",
                "into the scratch database `bench_soak` first (reused from an earlier load, 900 s)",
                "then 2 windows of 1 minutes",
                "the scratch topic `bench_soak_1` keeps records 1 minutes from the start). 4 minutes",
                "| aggregates p99, server side, whole soak | 10.0 ms | ≤ 100.0 ms | met |",
                "### Where ClickHouse's CPU went",
                "| 0.013 | 13.3% | 2,048 / 2 / 2 (9,216 / 9 / 9) |",
                "| 0.020 | 20.0% | — |",
                "the load generator 0.40 of them.\n\n## Plots",
                "![bytes on disk](soak/disk.png)\n\n",
                "each file once however many parts link it.\n\n## Minute by minute",
                "| 5 | final | 60,000 |",
            ],
        );
        let smoke = markdown(&results(false)).expect("rendered");
        crate::report::assert_says(
            &smoke,
            &[
                "> **Smoke run**: smaller than the full soak",
                "first (loaded by this run, 900 s)",
                "load per 1,000 tags.\n\nThis run's results predate",
                "the saw-tooth of up to 1.6 GiB",
            ],
        );
        assert!(!smoke.contains("### Where"), "{smoke}");
    }
}
