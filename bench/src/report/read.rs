//! `docs/bench-read.md` and the read path's rows of the summary: the figures and tables are
//! computed here, the prose is in `bench/templates/bench-read.md`.

use crate::database::{LoggedQueries, TableParts};
use crate::error::BenchError;
use crate::machine::RunInfo;
use crate::parts::read::{
    series_limit_ms, AggregatesResult, AnalystsRead, PhaseResult, ReadResults, ReadRun,
    SeriesResult, AGGREGATES_P99_LIMIT_MS, PROFILE_P99_LIMIT_MS, SERIES_LIMITS_MS, SERVED_P99_MS,
    SERVED_RATE_TARGET, SERVED_SHED_SHARE,
};
use crate::queries::SeriesFilters;
use crate::report::format::{fixed, ms, or_dash, percent, thousands, Table};
use crate::report::{provenance, smoke_banner, template, SummaryRow};
use crate::verdict::{Limit, Verdict};
use minijinja::context;

/// The former profile target (p99 < 10 ms), kept for the comparison with earlier runs.
pub const FORMER_PROFILE_P99_MS: f64 = 10.0;
/// ClickHouse's memory cap in `deploy/local/clickhouse/config.xml`, MiB.
pub const CLICKHOUSE_CAP_MIB: f64 = 6_000_000_000.0 / 1024.0 / 1024.0;

/// What the filters of a mask are.
pub fn mask_name(mask: u8) -> &'static str {
    match mask {
        0 => "none",
        1 => "origin",
        2 => "brand_id",
        3 => "origin + brand_id",
        4 => "category_id",
        5 => "origin + category_id",
        6 => "brand_id + category_id",
        _ => "all three",
    }
}

fn phase_median(
    results: &ReadResults,
    phase: impl Fn(&ReadRun) -> Option<&PhaseResult>,
    figure: impl Fn(&PhaseResult) -> Option<f64>,
) -> Option<f64> {
    results.median(|run| figure(phase(run)?))
}

fn p99(phase: &PhaseResult) -> Option<f64> {
    Some(phase.report.latency.p99_ms)
}

fn p50(phase: &PhaseResult) -> Option<f64> {
    Some(phase.report.latency.p50_ms)
}

/// The aggregates of filter combination `mask` in a run.
fn aggregates_of(run: &ReadRun, mask: u8) -> Option<&AggregatesResult> {
    run.aggregates.iter().find(|result| result.mask == mask)
}

/// The median over runs of `figure` of the aggregates of `mask`, through read-api or
/// (`sql`) as the same SQL.
fn aggregates_median(
    results: &ReadResults,
    mask: u8,
    sql: bool,
    figure: fn(&PhaseResult) -> Option<f64>,
) -> Option<f64> {
    results.median(|run| {
        let result = aggregates_of(run, mask)?;
        figure(if sql { &result.sql } else { &result.read_api })
    })
}

/// The worst filter combination's median p99: (read-api, same SQL).
fn aggregates_worst(results: &ReadResults) -> (Option<f64>, Option<f64>) {
    let worst = |sql: bool| {
        (0..8_u8)
            .filter_map(|mask| aggregates_median(results, mask, sql, p99))
            .reduce(f64::max)
    };
    (worst(false), worst(true))
}

/// The median over runs of the highest ladder rate served (a run serving none counts
/// as 0).
fn highest_served(results: &ReadResults) -> Option<f64> {
    if results.runs.iter().all(|run| run.ladder.is_empty()) {
        return None;
    }
    results.median(|run| Some(run.highest_served().unwrap_or(0.0)))
}

/// The highest rate served as the reports say it: `500/s`, or `below 200/s` when not
/// even the lowest step was served.
fn highest_served_text(results: &ReadResults) -> String {
    let first_step = results
        .runs
        .iter()
        .find_map(|run| run.ladder.first())
        .map(|step| step.report.target_rate);
    match (highest_served(results), first_step) {
        (Some(rate), Some(first)) if rate < first => {
            format!("below {}/s (the lowest step tried)", thousands(first))
        }
        (rate, _) => format!("{}/s", or_dash(rate, thousands)),
    }
}

fn us(value: f64) -> String {
    format!("{value:.0} µs")
}

/// The analysts' `read` of `hours` with `filters` in a run.
fn series_of(
    run: &ReadRun,
    read: AnalystsRead,
    hours: u32,
    filters: SeriesFilters,
) -> Option<&SeriesResult> {
    read.results(run)
        .iter()
        .find(|result| result.hours == hours && result.filters == filters)
}

/// The shapes of filters of `read` measured in any run, in their order.
fn series_shapes(results: &ReadResults, read: AnalystsRead) -> Vec<SeriesFilters> {
    SeriesFilters::ALL
        .into_iter()
        .filter(|filters| {
            results.runs.iter().any(|run| {
                read.results(run)
                    .iter()
                    .any(|result| result.filters == *filters)
            })
        })
        .collect()
}

/// The median over runs of `figure` of `read` over `hours` with `filters`.
fn series_median(
    results: &ReadResults,
    read: AnalystsRead,
    hours: u32,
    filters: SeriesFilters,
    figure: fn(&PhaseResult) -> Option<f64>,
) -> Option<f64> {
    results.median(|run| figure(&series_of(run, read, hours, filters)?.read_api))
}

/// The verdict on the series over `hours`: its median p99 within the range's limit,
/// and no request failed (a shed or late one counts in the p99 at the time it took).
pub fn series_verdict(hours: u32, p99_ms: Option<f64>, failed: u64) -> Verdict {
    let Some(limit) = series_limit_ms(hours) else {
        return Verdict::NotMeasured;
    };
    match Limit::AtMost(limit).check(p99_ms) {
        Verdict::Met if failed > 0 => Verdict::NotMet,
        verdict => verdict,
    }
}

/// Requests of `read` over `hours` with `filters` that failed outright, over every run.
fn series_failed(
    results: &ReadResults,
    read: AnalystsRead,
    hours: u32,
    filters: SeriesFilters,
) -> u64 {
    results
        .runs
        .iter()
        .filter_map(|run| series_of(run, read, hours, filters))
        .map(|result| result.read_api.report.failed)
        .sum()
}

fn hours_text(hours: u32) -> String {
    if hours == 1 {
        "1 hour".to_owned()
    } else {
        format!("{hours} hours")
    }
}

/// The read path's rows of the summary.
pub fn summary_rows(results: &ReadResults) -> Vec<SummaryRow> {
    let tags = thousands(results.load.tags as f64);
    let under = |figure: fn(&PhaseResult) -> Option<f64>| {
        phase_median(results, |run| Some(&run.profiles_under_ingest), figure)
    };
    let under_p99 = under(p99);
    let ingest_accepted =
        results.median(|run| crate::stats::ratio(run.ingest.accepted as f64, run.ingest.seconds));
    let ingest_failed: u64 = results.runs.iter().map(|run| run.ingest.failed).sum();
    let read_api_p99 = phase_median(results, |run| Some(&run.profiles_read_api), p99);
    let sql_p99 = phase_median(results, |run| Some(&run.profiles_sql), p99);
    let highest = highest_served(results);
    let (aggregates_p99, aggregates_sql_p99) = aggregates_worst(results);
    let cpu_process = phase_median(
        results,
        |run| Some(&run.profiles_read_api),
        PhaseResult::clickhouse_cpu_per_read_us,
    );
    let cpu_logged = phase_median(
        results,
        |run| Some(&run.profiles_read_api),
        PhaseResult::logged_cpu_per_read_us,
    );
    let memory = &results.clickhouse_memory;
    let peak = if memory.peak_reset {
        memory.peak_mib
    } else {
        memory.sampled_max_mib
    };
    let mut rows = vec![
        SummaryRow {
            figure: format!(
                "profile p99 at {}/s while {} tags/s are ingested through the front door, {tags} tags loaded",
                results.profile_rate,
                thousands(f64::from(results.ingest_rate))
            ),
            measured: format!(
                "{} (p50 {}; ingestion took {} tags/s, {} failed)",
                or_dash(under_p99, ms),
                or_dash(under(p50), ms),
                or_dash(ingest_accepted, thousands),
                ingest_failed
            ),
            limit: format!("≤ {PROFILE_P99_LIMIT_MS} ms (the decision rule of the move to ClickHouse 26)"),
            verdict: Limit::AtMost(PROFILE_P99_LIMIT_MS).check(under_p99).to_string(),
        },
        SummaryRow {
            figure: format!(
                "highest profile rate served through the front door under ingestion (p99 ≤ {SERVED_P99_MS} ms, ≤ {} answered 503)",
                percent(SERVED_SHED_SHARE)
            ),
            measured: highest_served_text(results),
            limit: format!("≥ {}/s", thousands(SERVED_RATE_TARGET)),
            verdict: Limit::AtLeast(SERVED_RATE_TARGET).check(highest).to_string(),
        },
        SummaryRow {
            figure: format!("profile p99 at {}/s straight to read-api, no ingestion", results.profile_rate),
            measured: format!("{} (same SQL straight to ClickHouse {})", or_dash(read_api_p99, ms), or_dash(sql_p99, ms)),
            limit: format!("< {FORMER_PROFILE_P99_MS} ms (the former target)"),
            verdict: Limit::Below(FORMER_PROFILE_P99_MS).check(read_api_p99).to_string(),
        },
        SummaryRow {
            figure: "ClickHouse CPU per profile read (read-api's reads at 100/s, no ingestion)".to_owned(),
            measured: format!(
                "{} (server process CPU / reads); {} (query log: user + system time of the queries / reads)",
                or_dash(cpu_process, us),
                or_dash(cpu_logged, us)
            ),
            limit: "—".to_owned(),
            verdict: "—".to_owned(),
        },
        SummaryRow {
            figure: "aggregates p99, 10-minute ranges, worst of the 8 filter combinations".to_owned(),
            measured: format!("{} (same SQL direct {})", or_dash(aggregates_p99, ms), or_dash(aggregates_sql_p99, ms)),
            limit: format!("< {AGGREGATES_P99_LIMIT_MS} ms"),
            verdict: Limit::Below(AGGREGATES_P99_LIMIT_MS).check(aggregates_p99).to_string(),
        },
        SummaryRow {
            figure: "ClickHouse peak resident memory during the read benchmark".to_owned(),
            measured: format!(
                "{} MiB{}",
                or_dash(peak, thousands),
                if memory.peak_reset { " (VmHWM, reset before measuring)" } else { " (largest VmRSS sampled)" }
            ),
            limit: format!("the server's cap, max_server_memory_usage = {} MiB", thousands(CLICKHOUSE_CAP_MIB)),
            verdict: Limit::AtMost(CLICKHOUSE_CAP_MIB).check(peak).to_string(),
        },
        SummaryRow {
            figure: format!("loading {tags} tags straight into ClickHouse"),
            measured: format!(
                "{} s, {} rows/s{}",
                fixed(results.load.seconds, 0),
                thousands(results.load.rows_per_second),
                if results.load.loaded_now { "" } else { " (an earlier run's load, reused)" }
            ),
            limit: "—".to_owned(),
            verdict: "—".to_owned(),
        },
    ];
    for read in AnalystsRead::ALL {
        for (hours, limit) in SERIES_LIMITS_MS {
            for filters in series_shapes(results, read) {
                let p99 = series_median(results, read, hours, filters, p99);
                let failed = series_failed(results, read, hours, filters);
                rows.push(SummaryRow {
                    figure: format!(
                        "analysts' {} ({}) over {}, {}, p99 at {}/s, no ingestion",
                        read.label(),
                        read.endpoint(),
                        hours_text(hours),
                        filters.label(),
                        results.series_rate
                    ),
                    measured: format!(
                        "{} (p50 {}; {failed} failed)",
                        or_dash(p99, ms),
                        or_dash(series_median(results, read, hours, filters, p50), ms)
                    ),
                    limit: format!("≤ {}, none failed", ms(limit)),
                    verdict: series_verdict(hours, p99, failed).to_string(),
                });
            }
        }
    }
    rows
}

fn parts_table(parts: &[TableParts]) -> String {
    let mut table = Table::new(&["table", "active parts", "rows", "bytes on disk"]);
    for part in parts {
        table.row(vec![
            part.table.clone(),
            thousands(part.parts as f64),
            thousands(part.rows as f64),
            format!("{:.2} GiB", part.bytes_on_disk as f64 / f64::from(1 << 30)),
        ]);
    }
    table.render()
}

fn phase_cells(
    results: &ReadResults,
    phase: impl Fn(&ReadRun) -> Option<&PhaseResult> + Copy,
) -> Vec<String> {
    let sum = |figure: fn(&PhaseResult) -> u64| -> u64 {
        results
            .runs
            .iter()
            .filter_map(|run| phase(run).map(figure))
            .sum()
    };
    vec![
        or_dash(phase_median(results, phase, p50), ms),
        or_dash(phase_median(results, phase, p99), ms),
        or_dash(
            phase_median(results, phase, |phase| Some(phase.report.latency.max_ms)),
            ms,
        ),
        format!(
            "{} / {} / {} of {}",
            sum(|phase| phase.report.shed),
            sum(|phase| phase.report.late),
            sum(|phase| phase.report.failed),
            sum(|phase| phase.report.sent)
        ),
    ]
}

fn logged_row(label: &str, logged: Option<&LoggedQueries>) -> Vec<String> {
    match logged {
        Some(logged) => vec![
            label.to_owned(),
            thousands(logged.queries as f64),
            thousands(logged.rows_p50),
            thousands(logged.rows_p99),
            format!("{} ms", fixed(logged.duration_p50_ms, 0)),
            format!("{} ms", fixed(logged.duration_p99_ms, 0)),
            us(logged.cpu_mean_us),
            format!("{:.1} MiB", logged.memory_p50_bytes / 1024.0 / 1024.0),
        ],
        None => vec![label.to_owned(), "—".to_owned()],
    }
}

/// `docs/bench-read.md`: the figures and tables; the prose is in
/// `bench/templates/bench-read.md`.
pub fn render(results: &ReadResults) -> Result<String, BenchError> {
    let load = &results.load;
    let mut table = Table::new(&[
        "",
        "p50",
        "p99",
        "max",
        "shed / late / failed of sent",
        "target p99 ≤ 20 ms",
    ]);
    let mut cells = vec!["profiles, front door, under ingestion".to_owned()];
    cells.extend(phase_cells(results, |run| Some(&run.profiles_under_ingest)));
    cells.push(
        Limit::AtMost(PROFILE_P99_LIMIT_MS)
            .check(phase_median(
                results,
                |run| Some(&run.profiles_under_ingest),
                p99,
            ))
            .to_string(),
    );
    table.row(cells);
    let under_ingestion = table.render();
    let mut table = Table::new(&[
        "run",
        "tags sent",
        "accepted",
        "failed",
        "p50",
        "p99",
        "max",
    ]);
    for (index, run) in results.runs.iter().enumerate() {
        table.row(vec![
            (index + 1).to_string(),
            thousands(run.ingest.sent as f64),
            thousands(run.ingest.accepted as f64),
            thousands(run.ingest.failed as f64),
            ms(run.ingest.latency.p50_ms),
            ms(run.ingest.latency.p99_ms),
            ms(run.ingest.latency.max_ms),
        ]);
    }
    let ingestion = table.render();

    let mut table = Table::new(&[
        "run", "rate", "achieved", "p50", "p99", "503", "late", "served",
    ]);
    for (index, run) in results.runs.iter().enumerate() {
        for step in &run.ladder {
            let report = &step.report;
            table.row(vec![
                (index + 1).to_string(),
                format!("{}/s", thousands(report.target_rate)),
                format!("{}/s", thousands(report.achieved_rate)),
                ms(report.latency.p50_ms),
                ms(report.latency.p99_ms),
                format!("{} ({})", report.shed, percent(report.shed_share())),
                report.late.to_string(),
                if step.served() { "yes" } else { "**no**" }.to_owned(),
            ]);
        }
    }
    let ladder = table.render();

    let mut table = Table::new(&[
        "path",
        "p50",
        "p99",
        "max",
        "shed / late / failed of sent",
        "ClickHouse CPU per read (process)",
        "(query log)",
        "target p99 < 10 ms (former)",
    ]);
    type Pick = fn(&ReadRun) -> Option<&PhaseResult>;
    let paths: [(&str, Pick); 2] = [
        ("read-api", |run| Some(&run.profiles_read_api)),
        ("same SQL, direct", |run| Some(&run.profiles_sql)),
    ];
    for (label, pick) in paths {
        let mut cells = vec![label.to_owned()];
        cells.extend(phase_cells(results, pick));
        cells.push(or_dash(
            phase_median(results, pick, PhaseResult::clickhouse_cpu_per_read_us),
            us,
        ));
        cells.push(or_dash(
            phase_median(results, pick, PhaseResult::logged_cpu_per_read_us),
            us,
        ));
        cells.push(if label == "read-api" {
            Limit::Below(FORMER_PROFILE_P99_MS)
                .check(phase_median(results, pick, p99))
                .to_string()
        } else {
            String::new()
        });
        table.row(cells);
    }
    let profiles = table.render();

    let mut table = Table::new(&[
        "filters",
        "read-api p50",
        "read-api p99",
        "direct p50",
        "direct p99",
        "not answered / sent",
        "target p99 < 50 ms",
    ]);
    for mask in 0..8_u8 {
        let read_api_p99 = aggregates_median(results, mask, false, p99);
        let (not_ok, sent) = results
            .runs
            .iter()
            .filter_map(|run| aggregates_of(run, mask))
            .fold((0, 0), |(not_ok, sent), result| {
                (
                    not_ok + result.read_api.report.not_ok() + result.sql.report.not_ok(),
                    sent + result.read_api.report.sent + result.sql.report.sent,
                )
            });
        table.row(vec![
            mask_name(mask).to_owned(),
            or_dash(aggregates_median(results, mask, false, p50), ms),
            or_dash(read_api_p99, ms),
            or_dash(aggregates_median(results, mask, true, p50), ms),
            or_dash(aggregates_median(results, mask, true, p99), ms),
            format!("{not_ok} / {sent}"),
            Limit::Below(AGGREGATES_P99_LIMIT_MS)
                .check(read_api_p99)
                .to_string(),
        ]);
    }
    let aggregates = table.render();

    // Each analysts' read's table, none when it was not measured.
    let [series, top] = AnalystsRead::ALL.map(|read| {
        if results.runs.iter().all(|run| read.results(run).is_empty()) {
            return None;
        }
        let mut table = Table::new(&[
            "range",
            "filters",
            "p50",
            "p99",
            "max",
            "shed / late / failed of sent",
            "target",
            "verdict",
        ]);
        for (hours, limit) in SERIES_LIMITS_MS {
            for filters in series_shapes(results, read) {
                let mut cells = vec![hours_text(hours), filters.label().to_owned()];
                cells.extend(phase_cells(results, move |run| {
                    series_of(run, read, hours, filters).map(|result| &result.read_api)
                }));
                cells.push(format!("p99 ≤ {}, none failed", ms(limit)));
                cells.push(
                    series_verdict(
                        hours,
                        series_median(results, read, hours, filters, p99),
                        series_failed(results, read, hours, filters),
                    )
                    .to_string(),
                );
                table.row(cells);
            }
        }
        Some(table.render())
    });

    let mut table = Table::new(&[
        "reads",
        "queries",
        "rows read p50",
        "rows read p99",
        "server time p50",
        "server time p99",
        "CPU per query (mean)",
        "memory p50",
    ]);
    if let Some(run) = results.runs.first() {
        table.row(logged_row(
            "profiles under ingestion (read-api)",
            run.profiles_under_ingest.logged.as_ref(),
        ));
        table.row(logged_row(
            "profiles, read-api, no ingestion",
            run.profiles_read_api.logged.as_ref(),
        ));
        table.row(logged_row(
            "profiles, same SQL direct",
            run.profiles_sql.logged.as_ref(),
        ));
        for result in &run.aggregates {
            table.row(logged_row(
                &format!("aggregates, {} (read-api)", mask_name(result.mask)),
                result.read_api.logged.as_ref(),
            ));
        }
        for read in AnalystsRead::ALL {
            for result in read.results(run) {
                table.row(logged_row(
                    &format!(
                        "{} over {}, {} (read-api)",
                        read.label(),
                        hours_text(result.hours),
                        result.filters.label()
                    ),
                    result.read_api.logged.as_ref(),
                ));
            }
        }
    }
    let logged = table.render();

    let memory = &results.clickhouse_memory;
    template::render(
        "bench-read.md",
        include_str!("../../templates/bench-read.md"),
        context! {
            r => results,
            banner => smoke_banner(&[&results.info]),
            provenance => provenance("make bench-read", &results.info, results.runs.len()),
            tags => thousands(load.tags as f64),
            chunk_rows => thousands(load.chunk_rows as f64),
            load_seconds => fixed(load.seconds, 0),
            rows_per_second => thousands(load.rows_per_second),
            trimmed => load.trimmed_rows.map(|rows| thousands(rows as f64)),
            warmed_gib => format!("{:.2}", results.warmed_bytes as f64 / f64::from(1 << 30)),
            parts_before => parts_table(&results.parts_before),
            parts_after => parts_table(&results.parts_after),
            ingest_rate => thousands(f64::from(results.ingest_rate)),
            under_ingestion,
            ingestion,
            served_p99 => SERVED_P99_MS.to_string(),
            served_shed => percent(SERVED_SHED_SHARE),
            served_target => thousands(SERVED_RATE_TARGET),
            ladder,
            highest => highest_served_text(results),
            highest_verdict =>
                Limit::AtLeast(SERVED_RATE_TARGET).check(highest_served(results)).to_string(),
            profiles,
            aggregates,
            analysts_date => results.analysts_info.as_ref().map(RunInfo::date),
            series,
            top,
            logged,
            peak => or_dash(memory.peak_mib, thousands),
            sampled_max => or_dash(memory.sampled_max_mib, thousands),
            cap => thousands(CLICKHOUSE_CAP_MIB),
        },
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A phase at `rate`/s, its p99 and how many of 1,000 were answered 503 (ClickHouse's
    /// query log figures when `logged`), as `read.json` holds it.
    fn phase(rate: f64, p99_ms: f64, shed: u64, logged: bool) -> serde_json::Value {
        json!({
            "report": {"target_rate": rate, "sent": 1_000, "succeeded": 1_000 - shed,
                "shed": shed, "late": 1, "failed": 0, "achieved_rate": rate,
                "latency": {"samples": 1_000, "p50_ms": p99_ms / 4.0, "p90_ms": p99_ms / 2.0,
                    "p99_ms": p99_ms, "max_ms": p99_ms * 2.0}},
            "clickhouse_cpu_s": 0.5,
            "logged": logged.then(|| json!({"queries": 1_000, "rows_p50": 8_192.0,
                "rows_p99": 65_536.0, "duration_p50_ms": 2.0, "duration_p99_ms": 9.0,
                "cpu_mean_us": 900.0, "cpu_total_us": 900_000.0, "cpu_p50_us": 800.0,
                "memory_p50_bytes": 4_194_304.0})),
        })
    }

    /// Everything measured (`full`: two runs, loaded now, trimmed, the analysts' reads
    /// measured again alone), or as little as a report can be made of.
    pub(crate) fn results(full: bool) -> ReadResults {
        let run = |index: f64| {
            let series = |hours: u32, filters: &str| {
                let p99_ms = 40.0 * f64::from(hours) + index;
                let read_api = phase(10.0, p99_ms, 0, full);
                json!({"hours": hours, "filters": filters, "read_api": read_api})
            };
            let aggregates = (0..8_u8).map(|mask| {
                let read_api = phase(10.0, 20.0 + f64::from(mask), 0, full);
                json!({"mask": mask, "read_api": read_api, "sql": phase(10.0, 18.0, 2, false)})
            });
            json!({
                "ingest": {"rate": 1_000, "seconds": 60.0, "sent": 60_000, "accepted": 59_990,
                    "failed": 10, "latency": crate::stats::Latency::default()},
                "profiles_under_ingest": phase(100.0, 15.0 + index, 0, full),
                "ladder": if full {
                    vec![phase(200.0, 30.0, 0, false), phase(500.0, 250.0, 40, false)]
                } else {
                    vec![phase(200.0, 300.0, 0, false)]
                },
                "profiles_read_api": phase(100.0, 8.0, 0, full),
                "profiles_sql": phase(100.0, 6.0, 0, full),
                "aggregates": aggregates.collect::<Vec<_>>(),
                "series": if full { vec![series(1, "none"), series(24, "two")] } else { vec![] },
                "top": if full { vec![series(1, "one")] } else { vec![] },
            })
        };
        let parts = |rows: u64| {
            json!([{"table": "user_tags", "parts": 12, "rows": rows,
                "bytes_on_disk": 3_u64 << 30, "compressed_bytes": 3_u64 << 30}])
        };
        let mut analysts = crate::machine::RunInfo::fixture(true);
        analysts.started_at = "2026-12-02T11:00:00Z".to_owned();
        analysts.commit = "def5678".to_owned();
        serde_json::from_value(json!({
            "info": crate::machine::RunInfo::fixture(full),
            "load": {"database": "bench_read", "tags": 86_400_000, "seed": 1, "start_ms": 0,
                "end_ms": 86_400_000, "loaded_now": full, "seconds": 900.0,
                "rows_per_second": 96_000.0, "chunk_rows": 1_000_000,
                "trimmed_rows": full.then_some(1_234_567)},
            "merges_settled": full,
            "warmed_bytes": 3_u64 << 30,
            "parts_before": parts(86_400_000),
            "parts_after": parts(86_460_000),
            "profile_rate": 100, "ingest_rate": 1_000, "seconds": 60, "ladder_seconds": 20,
            "aggregates_rate": 10, "aggregates_seconds": 30,
            "series_rate": 10, "series_seconds": 30,
            "runs": if full { vec![run(0.0), run(1.0)] } else { vec![run(0.0)] },
            "clickhouse_memory": {"peak_mib": 2_500.0, "peak_reset": full,
                "sampled_max_mib": full.then_some(2_400.0)},
            "analysts_info": full.then_some(analysts),
        }))
        .expect("ReadResults")
    }

    #[test]
    fn a_series_passes_within_its_range_limit_with_nothing_failed() {
        assert_eq!(series_verdict(1, Some(100.0), 0), Verdict::Met);
        assert_eq!(series_verdict(1, Some(101.0), 0), Verdict::NotMet);
        assert_eq!(series_verdict(24, Some(900.0), 0), Verdict::Met);
        assert_eq!(series_verdict(24, Some(1001.0), 0), Verdict::NotMet);
        assert_eq!(series_verdict(24, Some(10.0), 1), Verdict::NotMet);
        assert_eq!(series_verdict(1, None, 0), Verdict::NotMeasured);
        assert_eq!(series_verdict(2, Some(1.0), 0), Verdict::NotMeasured);
    }

    #[test]
    fn the_report_renders_each_branch_of_its_template() {
        let text = render(&results(true)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "# Read path benchmark\n\nProduced by `make bench-read` on 2026-12-01 at abc1234.",
                "share the machine's 2 cores.",
                "86,400,000 tags of loadgen's stream (seed 1:",
                "Loading took 900 s (96,000 rows/s)",
                "1,234,567 rows deleted, the table rewritten. Merges had settled",
                "Highest served (median of the runs): 200/s: **not met**.",
                "on 2026-12-02 at def5678, on the same loaded day",
                "## The analysts' series\n\n`GET /v1/series` straight to read-api, 10/s for 30 s",
                "## The analysts' top-N\n\n`GET /v1/top`",
                "Peak resident memory of the ClickHouse process over the measurements: 2,500 MiB (VmHWM, reset",
            ],
        );
        let text = render(&results(false)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "> **Smoke run.**",
                "Loaded by an earlier run in 900 s",
                "The profile store was trimmed as the projector trims it when it was loaded. Merges had **not** settled",
                "Highest served (median of the runs): below 200/s (the lowest step tried)",
                "the reset was refused); the largest resident set sampled every 500 ms: — MiB.",
            ],
        );
        assert!(!text.contains("## The analysts'"), "{text}");
    }

    #[test]
    fn masks_name_their_filters() {
        assert_eq!(mask_name(0), "none");
        assert_eq!(mask_name(5), "origin + category_id");
        assert_eq!(mask_name(7), "all three");
    }
}
