//! `docs/soak.md` and its plots (`docs/soak/*.png`) from the soak's results: every
//! target of the soak beside its figure, the CPU the platform spends per 1,000 tags,
//! the minute-by-minute table, and the charts (latency per endpoint, errors, bytes on
//! disk, resident memory, rows of the hottest cookies).

use crate::error::BenchError;
use crate::parts::soak::{
    Minute, Phase, SoakResults, DISK_LEVEL_LIMIT, DRIFT_LIMIT, DRIFT_MINUTES, ENDPOINTS,
    FRESHNESS_P99_TARGET_MS, P99_TARGETS_MS, SLOW_MS, WRITE_FLOOR_LIMIT,
};
use crate::plot::{self, Chart, Series};
use crate::report::format::{fixed, ms, or_dash, thousands, Table};
use crate::verdict::{Limit, Verdict};
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
    let plots = dir.join("soak");
    std::fs::create_dir_all(&plots)
        .map_err(BenchError::io(format!("creating {}", plots.display())))?;
    for (file, chart) in charts(results) {
        let path = plots.join(file);
        plot::draw(&chart, &path).map_err(|error| BenchError::Stack(error.to_string()))?;
    }
    let path = dir.join("soak.md");
    std::fs::write(&path, markdown(results))
        .map_err(BenchError::io(format!("writing {}", path.display())))?;
    tracing::info!(path = %path.display(), "soak report written");
    Ok(())
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

fn markdown(results: &SoakResults) -> String {
    let info = &results.info;
    let minutes_of_load = results.hold_minutes
        + u64::from(results.retention_minutes) * u64::from(results.retention_windows);
    let mut text = String::new();
    text.push_str("# Soak\n\n");
    if !info.full_size {
        text.push_str(
            "> **Smoke run**: smaller than the full soak (`bench soak --help` gives the \
             full sizes); its figures prove the machinery, not the platform.\n\n",
        );
    }
    text.push_str(&format!(
        "Produced by `make soak` (`target/release/bench soak`) on {} at {}.\n\
         Machine: {}. Everything (load generator, front door, services, broker, database)\n\
         shares the machine's cores.\n\n",
        info.date(),
        info.commit,
        info.machine.describe()
    ));
    let preload = &results.preload;
    text.push_str(&format!(
        "**What ran.** {} tags of loadgen's stream (a day at 1,000 tags/s) loaded into the \
         scratch database `{}` first ({}, {} s), trimmed as the projector trims. Then \
         `loadgen run` through the front door at {} tags/s with a profile query every 10 \
         tags, an aggregates query every 1,000 and a freshness probe every 1,000, every \
         answer checked: {} minutes on the day's retention (the hold), then {} windows of \
         {} minutes with the aggregates' retention shortened to {} minutes (`ALTER TABLE \
         ... MODIFY TTL` when the hold ended; the scratch topic `{}` keeps records {} \
         minutes from the start). {} minutes of load in all ({} s with the final round), \
         then the write path's floor. The final round checks profiles over the whole run \
         and the aggregates of the last {} minutes of event time (older minutes may have \
         expired, as they should).\n\n",
        thousands(preload.tags as f64),
        preload.database,
        if preload.loaded_now {
            "loaded by this run"
        } else {
            "reused from an earlier load"
        },
        thousands(preload.seconds),
        results.rate,
        results.hold_minutes,
        results.retention_windows,
        results.retention_minutes,
        results.retention_minutes,
        results.topic,
        results.retention_minutes,
        minutes_of_load,
        thousands(results.load_seconds),
        crate::parts::soak::final_aggregates_within(results.retention_minutes).as_secs() / 60,
    ));

    text.push_str("## Targets\n\n");
    text.push_str(
        "Why the targets not met are not met, with the measurements that show it: \
         [soak-findings.md](soak-findings.md) (written by hand from the run it names).\n\n",
    );
    let mut table = Table::new(&["figure", "measured", "target", ""]);
    for row in targets(results) {
        table.row(row.to_vec());
    }
    text.push_str(&table.render());

    text.push_str("\n## Requests over the whole soak\n\n");
    let mut table = Table::new(&[
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
            table.row(vec![
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
    text.push_str(&table.render());
    text.push_str(
        "\nClient side is loadgen's clock (a tag from when it was due, open loop; a query \
         from when it was sent); server side is nginx's `rt`. Errors: client side, any \
         answer other than the one wanted or none within the deadline (200 ms for tags and \
         profiles); server side, 5xx.\n",
    );

    text.push_str("\n## CPU per 1,000 tags\n\n");
    let mut table = Table::new(&["process", "CPU s per 1,000 tags", "cores at 1,000 tags/s"]);
    let mut total = 0.0;
    for process in PROCESSES {
        let per_1000 = results.cpu_per_1000_tags(process);
        total += per_1000.unwrap_or(0.0);
        table.row(vec![
            process.to_owned(),
            or_dash(per_1000, |value| fixed(value, 3)),
            or_dash(per_1000, |value| {
                fixed(value * f64::from(results.rate) / 1000.0, 3)
            }),
        ]);
    }
    table.row(vec![
        "**all server processes**".to_owned(),
        fixed(total, 3),
        fixed(total * f64::from(results.rate) / 1000.0, 3),
    ]);
    text.push_str(&table.render());
    text.push_str(
        "\nCPU from `/proc/<pid>/stat` (nginx: master and workers) per minute, divided by the \
         tags answered 204 in the minute; the load generator is not a server process and is \
         not counted (it is in the minute table's `loadgen cores`, beside the whole machine's \
         busy cores). This includes the queries (100 profiles/s, 1 aggregate/s), the \
         trimmer and the merges the load causes: the whole contract load per 1,000 tags.\n",
    );

    text.push_str(&clickhouse_work(results));

    let mean = |value: fn(&Minute) -> Option<f64>| {
        let values: Vec<f64> = results.load_minutes().filter_map(value).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    match (
        mean(|minute| minute.machine_cores),
        mean(|minute| minute.load_generator_cores),
    ) {
        (Some(machine), Some(load_generator)) => text.push_str(&format!(
            "\nThe whole machine was busy {} cores on average under load, the load generator \
             {} of them.\n",
            fixed(machine, 2),
            fixed(load_generator, 2)
        )),
        _ => text.push_str(
            "\nThis run's results predate the machine's and the load generator's CPU per minute.\n",
        ),
    }

    text.push_str("\n## Plots\n\n");
    for (file, chart) in charts(results) {
        text.push_str(&format!("![{}](soak/{file})\n\n", chart.title));
    }

    text.push_str(if results.disk_files_counted_once {
        "Bytes on disk of ClickHouse: the files of the database's tables, each file once \
         however many parts link it.\n\n"
    } else {
        "Bytes on disk of ClickHouse in this run: the sum of `bytes_on_disk` over the \
         database's parts, active or waiting for removal. A mutation (each trim run's \
         `APPLY PATCHES`) makes a new part that hard-links the old one's unchanged columns, \
         and both count until the old part is removed: the saw-tooth of up to 1.6 GiB in the \
         disk plot is that double count, not disk. Later runs count each file once.\n\n"
    });
    text.push_str("## Minute by minute\n\n");
    let mut table = Table::new(&[
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
        table.row(vec![
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
    text.push_str(&table.render());
    text.push_str(
        "\n`s/c`: server side (nginx `rt`) / client side, ms. `merges`: finished in the minute \
         (running at its end). `hot rows max`: the most rows `user_tags` holds for one (cookie, \
         action) of the 16 hottest cookies, each of which gets about 15 tags a second; the \
         trimmer keeps 200 per pair plus the pair's last minute of event time and what came \
         since its last run (every 2 minutes).\n",
    );
    text
}

/// Where ClickHouse's CPU went: its queries by work (`system.query_log`), and the rest
/// of the process's CPU, the background's (merges, mutations, TTL drops).
fn clickhouse_work(results: &SoakResults) -> String {
    let Some((process_cpu, tags)) = results.cpu_and_tags_of_every_minute("clickhouse") else {
        return String::new();
    };
    if results.clickhouse_work.is_empty() || tags == 0 {
        return String::new();
    }
    let per_1000 = |cpu: f64| cpu * 1000.0 / tags as f64;
    let share = |cpu: f64| {
        or_dash(crate::stats::ratio(cpu, process_cpu), |share| {
            format!("{}%", fixed(share * 100.0, 1))
        })
    };
    let mut text = String::from("\n### Where ClickHouse's CPU went\n\n");
    let mut table = Table::new(&[
        "work",
        "queries",
        "CPU s",
        "CPU ms per query",
        "CPU s per 1,000 tags",
        "share of ClickHouse's CPU",
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
    ]);
    table.row(vec![
        "**the process**".to_owned(),
        "—".to_owned(),
        fixed(process_cpu, 1),
        "—".to_owned(),
        fixed(per_1000(process_cpu), 3),
        "100%".to_owned(),
    ]);
    text.push_str(&table.render());
    text.push_str(
        "\nEvery minute sampled, the final round's included, against the queries that \
         finished in the same span (`system.query_log`, user and system CPU of each). A \
         projector batch counts with the materialized views it feeds, which run inside \
         its insert. A profile query may carry several cookies (read-api batches the \
         requests that arrive together). Background work runs in no query: it is the \
         process's CPU less its queries'.\n",
    );
    text
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
