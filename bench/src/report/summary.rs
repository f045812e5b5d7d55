//! `docs/benchmarks.md`: one table with every figure beside its limit (measured in the
//! same run where the limit is a measurement) and its verdict; the whole-platform rows, its CPU (per component and ClickHouse's threads,
//! beside the platform's limit) and the memory table are made here, the other parts'
//! rows by their own report modules; the prose is in `bench/templates/benchmarks.md`.

use crate::error::BenchError;
use crate::parts::e2e::{E2eResults, MEMORY_BUDGETS_MIB};
use crate::platform_cpu::{PlatformCpu, PLATFORM_CORES_LIMIT, PLATFORM_CORES_STRETCH};
use crate::report::format::{fixed, ms, or_dash, thousands, Table};
use crate::report::{smoke_banner, template, Inputs, SummaryRow};
use crate::verdict::{Limit, Verdict};
use minijinja::context;

/// The contract's deadline for a tag, ms.
pub const INGEST_DEADLINE_MS: f64 = 200.0;
/// The contract's freshness: a tag answered 204 shows in its profile within this, ms.
pub const FRESHNESS_LIMIT_MS: f64 = 10_000.0;

/// Ingestion passes when every tag was answered 204 within the deadline.
pub fn ingest_verdict(max_ms: f64, failed: u64) -> Verdict {
    Verdict::of(max_ms < INGEST_DEADLINE_MS && failed == 0)
}

/// Queries pass when none failed; none asked is not measured.
pub fn queries_verdict(asked: u64, errors: u64) -> Verdict {
    if asked == 0 {
        Verdict::NotMeasured
    } else {
        Verdict::of(errors == 0)
    }
}

/// Freshness passes when every probe became visible, the slowest within the limit.
pub fn freshness_verdict(probes: u64, visible: u64, max_ms: f64) -> Verdict {
    if probes == 0 {
        Verdict::NotMeasured
    } else {
        Verdict::of(visible == probes && max_ms < FRESHNESS_LIMIT_MS)
    }
}

/// The figure of the whole platform's CPU row.
const CPU_FIGURE: &str =
    "whole platform's CPU at the contract's load (1,000 tags/s, 100 profiles/s)";
/// ClickHouse's threads below this many cores are left out of the report's table.
const LEAST_THREAD_CORES: f64 = 0.005;

/// The whole platform's CPU row: the sum of every component's cores over the window,
/// beside the limit and the stretch target.
pub fn cpu_row(cpu: Option<&PlatformCpu>) -> SummaryRow {
    let Some(cpu) = cpu else {
        return SummaryRow::not_run(CPU_FIGURE);
    };
    let mut busiest: Vec<(&String, &f64)> = cpu.components.iter().collect();
    busiest.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let parts: Vec<String> = busiest
        .iter()
        .map(|(name, cores)| format!("{name} {}", fixed(**cores, 3)))
        .chain(
            cpu.not_measured
                .iter()
                .map(|name| format!("{name} not measured")),
        )
        .collect();
    SummaryRow {
        figure: CPU_FIGURE.to_owned(),
        measured: format!(
            "{} cores over {} s ({})",
            fixed(cpu.total_cores(), 3),
            fixed(cpu.window_s, 0),
            parts.join(", ")
        ),
        limit: format!("at most {PLATFORM_CORES_LIMIT} core (stretch {PLATFORM_CORES_STRETCH})"),
        verdict: format!("{} (stretch: {})", cpu.verdict(), cpu.stretch_verdict()),
    }
}

/// The whole platform's rows.
pub fn e2e_rows(results: &E2eResults) -> Vec<SummaryRow> {
    let harness = &results.harness;
    let queries = harness.queries();
    let correct: u64 = queries.iter().map(|query| query.correct).sum();
    let wrong: u64 = queries.iter().map(|query| query.wrong).sum();
    let errors: u64 = queries.iter().map(|query| query.errors).sum();
    let tags = &harness.tags;
    let mut rows = vec![
        SummaryRow {
            figure: "whole platform at 1,000 tags/s: answers checked".to_owned(),
            measured: format!(
                "{} correct, {wrong} wrong, {errors} failed",
                thousands(correct as f64)
            ),
            limit: "0 wrong".to_owned(),
            verdict: Verdict::of(wrong == 0).to_string(),
        },
        SummaryRow {
            figure: "tags answered 204 and lost".to_owned(),
            measured: harness.lost_tags.to_string(),
            limit: "0".to_owned(),
            verdict: Verdict::of(harness.lost_tags == 0).to_string(),
        },
        SummaryRow {
            figure: "ingest latency, whole platform, front door".to_owned(),
            measured: format!(
                "p50 {}, p99 {}, max {} ({} failed)",
                ms(tags.latency.p50_ms),
                ms(tags.latency.p99_ms),
                ms(tags.latency.max_ms),
                tags.failed
            ),
            limit: "200 ms deadline, none failed".to_owned(),
            verdict: ingest_verdict(tags.latency.max_ms, tags.failed).to_string(),
        },
        SummaryRow {
            figure: "profile latency, whole platform (100 queries/s under ingestion)".to_owned(),
            measured: format!(
                "p50 {}, p99 {} ({} failed)",
                ms(harness.profiles.latency.p50_ms),
                ms(harness.profiles.latency.p99_ms),
                harness.profiles.errors
            ),
            limit: "200 ms deadline, none failed".to_owned(),
            verdict: queries_verdict(harness.profiles.asked, harness.profiles.errors).to_string(),
        },
        SummaryRow {
            figure: "aggregate latency, whole platform".to_owned(),
            measured: if harness.aggregates.asked == 0 {
                "none asked (the run was shorter than the aggregates' lag)".to_owned()
            } else {
                format!(
                    "p50 {}, p99 {} ({} failed)",
                    ms(harness.aggregates.latency.p50_ms),
                    ms(harness.aggregates.latency.p99_ms),
                    harness.aggregates.errors
                )
            },
            limit: "60 s deadline, none failed".to_owned(),
            verdict: queries_verdict(harness.aggregates.asked, harness.aggregates.errors)
                .to_string(),
        },
    ];
    rows.push(match &harness.freshness {
        Some(freshness) => SummaryRow {
            figure: "freshness: 204 to visible in the profile".to_owned(),
            measured: format!(
                "p50 {}, p99 {}, max {} ({}/{} probes)",
                ms(freshness.latency.p50_ms),
                ms(freshness.latency.p99_ms),
                ms(freshness.latency.max_ms),
                freshness.visible,
                freshness.probes
            ),
            limit: "10 s (contract)".to_owned(),
            verdict: freshness_verdict(
                freshness.probes,
                freshness.visible,
                freshness.latency.max_ms,
            )
            .to_string(),
        },
        None => SummaryRow::not_run("freshness: 204 to visible in the profile"),
    });
    rows.push(SummaryRow {
        figure: "bytes per stored tag in ClickHouse (compressed, all tables)".to_owned(),
        measured: format!(
            "{} B (profiles {} B, aggregates {} B)",
            or_dash(results.bytes_per_tag(None), |value| fixed(value, 1)),
            or_dash(results.bytes_per_tag(Some("user_tags")), |value| fixed(
                value, 1
            )),
            or_dash(results.bytes_per_tag(Some("minute_aggregates")), |value| {
                fixed(value, 1)
            }),
        ),
        limit: "—".to_owned(),
        verdict: "—".to_owned(),
    });
    rows.push(cpu_row(results.platform_cpu.as_ref()));
    rows
}

/// Rows of a part that has not run.
fn not_run(figures: &[&str]) -> Vec<SummaryRow> {
    figures
        .iter()
        .map(|figure| SummaryRow::not_run(figure))
        .collect()
}

/// The whole-platform run's figures and tables beside the summary: the memory table,
/// and each component's and ClickHouse's threads' CPU.
fn e2e_context(e2e: &E2eResults) -> minijinja::Value {
    let mut table = Table::new(&["component", "peak RSS", "budget", "verdict"]);
    for (name, memory) in &e2e.memory {
        let budget = MEMORY_BUDGETS_MIB
            .iter()
            .find(|(service, _)| service == name)
            .map(|(_, mib)| *mib);
        table.row(vec![
            name.clone(),
            format!("{} MiB", thousands(memory.peak_mib)),
            or_dash(budget, |mib| format!("{} MiB", thousands(mib))),
            budget.map_or_else(
                || "—".to_owned(),
                |budget| {
                    Limit::AtMost(budget)
                        .check(Some(memory.peak_mib))
                        .to_string()
                },
            ),
        ]);
    }
    let harness = &e2e.harness;
    context! {
        r => e2e,
        memory => table.render(),
        sent => thousands(harness.tags.sent as f64),
        rate => thousands(f64::from(harness.tags.target_rate)),
        event_time => format!("{:.0}", harness.event_time_seconds),
        preload => e2e.preload.as_ref().map(|preload| context! {
            tags => thousands(preload.tags as f64),
            seconds => fixed(preload.seconds, 0),
            rows_per_second => thousands(preload.rows_per_second),
        }),
        lags_s => harness.lags_ms.map(|ms| ms / 1000),
        cpu => e2e.platform_cpu.as_ref().map(cpu_context),
    }
}

/// The whole platform's CPU tables: each component, then ClickHouse's threads.
fn cpu_context(cpu: &PlatformCpu) -> minijinja::Value {
    let total = cpu.total_cores();
    let mut table = Table::new(&["component", "cores", "share of the platform"]);
    let mut busiest: Vec<(&String, &f64)> = cpu.components.iter().collect();
    busiest.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (name, cores) in busiest {
        table.row(vec![
            name.clone(),
            fixed(*cores, 3),
            or_dash(crate::stats::ratio(*cores * 100.0, total), |share| {
                format!("{} %", fixed(share, 0))
            }),
        ]);
    }
    for name in &cpu.not_measured {
        table.row(vec![
            name.clone(),
            "not measured".to_owned(),
            "—".to_owned(),
        ]);
    }
    table.row(vec![
        format!(
            "**whole platform** (limit {PLATFORM_CORES_LIMIT}: {}; stretch {PLATFORM_CORES_STRETCH}: {})",
            cpu.verdict(),
            cpu.stretch_verdict()
        ),
        fixed(total, 3),
        "100 %".to_owned(),
    ]);
    let threads = cpu.busiest_clickhouse_threads(LEAST_THREAD_CORES);
    let mut threads_table = Table::new(&["thread", "cores"]);
    for (name, cores) in &threads {
        threads_table.row(vec![format!("`{name}`"), fixed(*cores, 3)]);
    }
    context! {
        window => fixed(cpu.window_s, 0),
        from => fixed(cpu.from_s, 0),
        components => table.render(),
        threads => (!threads.is_empty()).then(|| threads_table.render()),
    }
}

/// `docs/benchmarks.md`: the tables; the prose is in `bench/templates/benchmarks.md`.
pub fn render(inputs: &Inputs) -> Result<String, BenchError> {
    let runs = inputs.runs();
    let infos: Vec<_> = runs.iter().map(|(_, info)| *info).collect();
    let mut runs_table = Table::new(&["part", "run at", "commit", "machine", "sizes"]);
    for (name, info) in &runs {
        runs_table.row(vec![
            (*name).to_owned(),
            info.started_at.clone(),
            info.commit.clone(),
            info.machine.describe(),
            if info.full_size {
                "full".to_owned()
            } else {
                "**smoke**".to_owned()
            },
        ]);
    }
    let mut table = Table::new(&["figure", "measured", "limit or target", "verdict"]);
    let mut rows = Vec::new();
    match &inputs.write {
        Some(write) => rows.extend(crate::report::write::summary_rows(write)),
        None => rows.extend(not_run(&[
            "write-api CPU per accepted tag",
            "ingest latency at 1,000 tags/s",
        ])),
    }
    match &inputs.projector {
        Some(projector) => rows.extend(crate::report::projector::summary_rows(projector)),
        None => rows.extend(not_run(&["projector catch-up"])),
    }
    match &inputs.read {
        Some(read) => rows.extend(crate::report::read::summary_rows(read)),
        None => rows.extend(not_run(&[
            "profile p99 at 100/s under ingestion",
            "highest profile rate served",
            "aggregates p99",
        ])),
    }
    match &inputs.burst {
        Some(burst) => rows.extend(crate::report::burst::summary_rows(burst)),
        None => rows.extend(not_run(&[
            "burst of 200 profile queries on an idle stack",
            "twice the profile capacity: the excess refused fast",
            "recovery after the overload",
        ])),
    }
    match &inputs.e2e {
        Some(e2e) => rows.extend(e2e_rows(e2e)),
        None => rows.extend(not_run(&["whole platform at 1,000 tags/s", CPU_FIGURE])),
    }
    for row in &rows {
        table.row(row.cells());
    }
    template::render(
        "benchmarks.md",
        include_str!("../../templates/benchmarks.md"),
        context! {
            banner => smoke_banner(&infos),
            runs => runs_table.render(),
            summary => table.render(),
            e2e => inputs.e2e.as_ref().map(e2e_context),
            targets => crate::report::targets::context(inputs),
            limit => PLATFORM_CORES_LIMIT.to_string(),
            stretch => PLATFORM_CORES_STRETCH.to_string(),
            least => LEAST_THREAD_CORES.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::TableParts;
    use crate::parts::e2e::bytes_per_tag;
    use serde_json::json;

    /// The whole platform's figures as `e2e.json` holds them: `full` with a preload, every
    /// check passed, ClickHouse's peak reset, freshness probes and the platform's CPU;
    /// otherwise none of those.
    fn e2e(full: bool) -> E2eResults {
        let latency = |p99_ms: f64| {
            json!({"samples": 1_000, "p50_ms": p99_ms / 4.0, "p90_ms": p99_ms / 2.0,
                "p99_ms": p99_ms, "max_ms": p99_ms * 2.0})
        };
        let queries = |asked: u64, p99_ms| {
            json!({"asked": asked, "correct": asked, "wrong": 0, "errors": 0,
                "latency": latency(p99_ms)})
        };
        let memory = |peak_mib: f64| json!({"peak_mib": peak_mib, "current_mib": peak_mib / 2.0});
        serde_json::from_value(json!({
            "info": crate::machine::RunInfo::fixture(full),
            "scratch": "bench_e2e",
            "preload": full.then(|| json!({"database": "bench_e2e", "tags": 10_000_000, "seed": 1,
                "start_ms": 0, "end_ms": 10_000_000, "loaded_now": true, "seconds": 120.0,
                "rows_per_second": 83_000.0, "chunk_rows": 1_000_000})),
            "harness": {"event_time_seconds": 300.0, "lags_ms": [10_000, 60_000],
                "tags": {"sent": 300_000, "accepted": 300_000, "failed": 0, "target_rate": 1_000,
                    "latency": latency(12.0)},
                "profiles": queries(30_000, 9.0),
                "aggregates": queries(if full { 300 } else { 0 }, 40.0),
                "final_profiles": queries(1_000, 9.0),
                "final_aggregates": queries(100, 40.0),
                "lost_tags": 0,
                "freshness": full.then(|| json!({"probes": 300, "visible": 300,
                    "latency": latency(900.0)})),
                "passed": full},
            "harness_report": null,
            "memory": [["clickhouse", memory(1_900.0)], ["read-api", memory(120.0)],
                ["tansu", memory(80.0)]],
            "clickhouse_peak_reset": full,
            "parts": [],
            "platform_cpu": full.then(|| json!({"from_s": 30.0, "window_s": 265.0,
                "components": {"clickhouse": 0.3, "tansu": 0.1}, "not_measured": ["nginx"],
                "clickhouse_threads": {"QueryPipelineEx": 0.2}})),
        }))
        .expect("E2eResults")
    }

    #[test]
    fn the_report_renders_each_branch_of_its_template() {
        let inputs = |full| Inputs {
            read: Some(crate::report::read::tests::results(full)),
            e2e: Some(e2e(full)),
            ..Inputs::default()
        };
        let text = render(&inputs(true)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "# Benchmarks\n\nProduced by `make bench`:",
                "The platform's figures on ClickHouse 18.16, before the move to 26.9, are in [clickhouse-cost.md]",
                "| whole platform | 2026-12-01T10:00:00Z | abc1234 |",
                "ClickHouse's peak was reset then; the broker and nginx were not restarted):",
                "Whole-platform run: 300,000 tags at 1,000 tags/s through the front door (300 s of event time)",
                "preloaded with 10,000,000 tags by the loader (120 s, 83,000 rows/s), lags of 10 s (profiles) and 60 s",
                "Every check passed.",
                "nginx with its workers), over 265 s: from 30 s after sending started",
                "The limit of the whole platform is 0.6 core, the stretch target 0.35.",
                "those of at least 0.005 core:\n\n| thread | cores |",
                "| `QueryPipelineEx` | 0.200 |\n\n## Details",
            ],
        );
        let text = render(&inputs(false)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "> **Smoke run.**",
                "the infrastructure was not, so its peak covers its whole life):",
                "scratch topic and database that started empty, lags of",
                "**Some checks failed**.",
                "The platform's CPU was not measured in this run",
            ],
        );
        let text = render(&Inputs::default()).expect("rendered");
        assert!(text.contains("| projector catch-up | not run |"), "{text}");
        assert!(!text.contains("Whole-platform run"), "{text}");
    }

    #[test]
    fn a_missed_cost_target_gets_its_cause_and_a_met_one_none() {
        use crate::query_cost::SelectOneCost;
        use crate::report::targets::{ChaosRecoveries, ChaosRecovery, ChaosSlot};
        let cost = |process_us: f64| SelectOneCost {
            queries: 500,
            process_us: Some(process_us),
            logged_queries: 500,
            logged_p50_us: 450.0,
        };
        let chaos = ChaosRecoveries {
            date: "2026-12-05 09:18 UTC".to_owned(),
            commit: "5f9b5b8".to_owned(),
            slots: vec![ChaosSlot {
                fault: Some("projector".to_owned()),
                recovery: vec![ChaosRecovery {
                    path: "fresh".to_owned(),
                    seconds: Some(1.5),
                }],
            }],
        };
        let inputs = |process_us| Inputs {
            e2e: Some(E2eResults {
                select_one: Some(cost(process_us)),
                ..e2e(true)
            }),
            chaos: Some(chaos.clone()),
            ..Inputs::default()
        };
        let text = render(&inputs(1_100.0)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "## The cost targets",
                "| ClickHouse CPU per `SELECT 1` | 1,100 µs (the server process over 500 queries sent one after another; the query's own thread in the query log: 450 µs at the median) | ≤ 300 µs | **not met** | `bench e2e` at abc1234, after its run |",
                "- **ClickHouse's price per query**",
                "| 1 kills, the slowest 1.5 s from the kill | ≤ 5 s | met | `make chaos` at 5f9b5b8 (2026-12-05 09:18 UTC) |",
                "| profile reads answered 5xx at the contract's load | not run | 0 | not measured | `make soak` |",
            ],
        );
        assert!(
            !text.contains("**Fresh again after the projector's kill.**"),
            "{text}"
        );
        assert!(!text.contains("**Profile p99 and 5xx"), "{text}");
        let text = render(&inputs(250.0)).expect("rendered");
        assert!(text.contains("| 250 µs (the server process"), "{text}");
        assert!(!text.contains("**ClickHouse's price per query**"), "{text}");
    }

    #[test]
    fn ingestion_needs_every_tag_within_the_deadline() {
        assert_eq!(ingest_verdict(199.9, 0), Verdict::Met);
        assert_eq!(ingest_verdict(200.0, 0), Verdict::NotMet);
        assert_eq!(ingest_verdict(20.0, 1), Verdict::NotMet);
    }

    #[test]
    fn queries_need_none_failed_and_some_asked() {
        assert_eq!(queries_verdict(100, 0), Verdict::Met);
        assert_eq!(queries_verdict(100, 1), Verdict::NotMet);
        assert_eq!(queries_verdict(0, 0), Verdict::NotMeasured);
    }

    #[test]
    fn freshness_needs_every_probe_visible_within_ten_seconds() {
        assert_eq!(freshness_verdict(300, 300, 900.0), Verdict::Met);
        assert_eq!(freshness_verdict(300, 299, 900.0), Verdict::NotMet);
        assert_eq!(freshness_verdict(300, 300, 10_000.0), Verdict::NotMet);
        assert_eq!(freshness_verdict(0, 0, 0.0), Verdict::NotMeasured);
    }

    #[test]
    fn the_cpu_row_sums_the_components_beside_the_limit_and_the_stretch() {
        let cpu = PlatformCpu {
            from_s: 30.0,
            window_s: 265.0,
            components: [("clickhouse", 0.3), ("tansu", 0.1), ("nginx", 0.05)]
                .into_iter()
                .map(|(name, cores)| (name.to_owned(), cores))
                .collect(),
            not_measured: Vec::new(),
            clickhouse_threads: [("QueryPipelineEx".to_owned(), 0.2)].into(),
        };
        let row = cpu_row(Some(&cpu));
        assert_eq!(
            row.measured,
            "0.450 cores over 265 s (clickhouse 0.300, tansu 0.100, nginx 0.050)"
        );
        assert_eq!(row.limit, "at most 0.6 core (stretch 0.35)");
        assert_eq!(row.verdict, "met (stretch: **not met**)");
        assert_eq!(cpu_row(None).verdict, "not measured");
    }

    #[test]
    fn bytes_per_tag_divide_by_the_tags_taken_not_the_rows_kept() {
        let table = |table: &str, rows: u64, compressed_bytes: u64| TableParts {
            table: table.to_owned(),
            parts: 1,
            rows,
            bytes_on_disk: compressed_bytes,
            compressed_bytes,
        };
        // The trimmer kept 400 of 1,000 tags' rows.
        let parts = [
            table("user_tags", 400, 30_000),
            table("minute_aggregates", 90, 10_000),
        ];
        assert_eq!(bytes_per_tag(&parts, None, 1_000), Some(40.0));
        assert_eq!(bytes_per_tag(&parts, Some("user_tags"), 1_000), Some(30.0));
        assert_eq!(bytes_per_tag(&parts, None, 0), None);
    }
}
