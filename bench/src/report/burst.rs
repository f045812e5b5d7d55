//! `docs/bench-burst.md` and the overload rows of the summary (bursts on an idle stack,
//! twice the sustained capacity, the recovery), from `burst.json`. The figures and
//! verdicts are the ones [`crate::parts::burst`] defines; this module only writes them,
//! into the prose of `bench/templates/bench-burst.md`.

use crate::error::BenchError;
use crate::parts::burst::{
    recovery_limit_ms, BurstFigures, BurstResults, LoadPhase, BURST_MAX_MS, RECOVERY_P99_FACTOR,
    SHED_P99_LIMIT_MS,
};
use crate::report::format::{fixed, ms, or_dash, percent, thousands, Table};
use crate::report::{provenance, smoke_banner, template, SummaryRow};
use crate::stats::Latency;
use minijinja::context;

/// A percentile of `latency`, or a dash when it has no samples.
fn of(latency: &Latency, figure: fn(&Latency) -> f64) -> String {
    if latency.samples == 0 {
        "—".to_owned()
    } else {
        ms(figure(latency))
    }
}

fn p99(latency: &Latency) -> f64 {
    latency.p99_ms
}

fn max(latency: &Latency) -> f64 {
    latency.max_ms
}

/// `p50 / p99 / max` of `latency`, or a dash.
fn three(latency: &Latency) -> String {
    if latency.samples == 0 {
        "—".to_owned()
    } else {
        format!(
            "{} / {} / {}",
            ms(latency.p50_ms),
            ms(latency.p99_ms),
            ms(latency.max_ms)
        )
    }
}

fn rate(value: f64) -> String {
    format!("{}/s", thousands(value))
}

/// What the bursts did, in a sentence's words.
pub(crate) fn burst_text(figures: &BurstFigures) -> String {
    format!(
        "{}/{} answered 200 ({} 503, {} late, {} failed); max {} client side (p99 {}), {} at the front door (p99 {})",
        thousands(figures.ok as f64),
        thousands(figures.fired as f64),
        figures.shed,
        figures.late,
        figures.failed,
        of(&figures.client, max),
        of(&figures.client, p99),
        of(&figures.server, max),
        of(&figures.server, p99),
    )
}

/// The overload's rate (what was asked).
fn overload_rate_text(results: &BurstResults) -> String {
    results.overload.as_ref().map_or_else(
        || "not run".to_owned(),
        |phase| rate(phase.report.target_rate),
    )
}

/// Why the overload has no figures.
const NO_OVERLOAD: &str =
    "not measured: no profile was answered in time in the capacity phase, so nothing to double";

/// The overload and recovery rows of the summary.
pub fn summary_rows(results: &BurstResults) -> Vec<SummaryRow> {
    let bursts = results.bursts();
    let capacity = &results.capacity;
    let mut rows = vec![
        SummaryRow {
            figure: format!(
                "burst: {} profile queries at the same instant on an idle stack, front door, {} round{}",
                results.burst_size,
                results.rounds.len(),
                if results.rounds.len() == 1 { "" } else { "s" }
            ),
            measured: burst_text(&bursts),
            limit: format!("every one 200, max ≤ {}", ms(BURST_MAX_MS)),
            verdict: bursts.verdict().to_string(),
        },
        SummaryRow {
            figure: format!(
                "sustained profile capacity, front door (closed loop, {} clients, {} s)",
                capacity.clients,
                fixed(capacity.seconds, 0)
            ),
            measured: format!(
                "{} answered 200 in time (p99 {}; {} 503, {} late, {} failed)",
                or_dash(capacity.goodput(), rate),
                of(&capacity.by_answer.ok, p99),
                capacity.shed,
                capacity.late,
                capacity.failed
            ),
            limit: "—".to_owned(),
            verdict: "—".to_owned(),
        },
    ];
    let overload_figure = format!(
        "{}× the capacity ({} for {} s): the excess refused fast",
        results.overload_factor,
        overload_rate_text(results),
        results.overload_seconds
    );
    let overload_limit = format!("503s p99 ≤ {}, none late or failed", ms(SHED_P99_LIMIT_MS));
    rows.push(match &results.overload {
        Some(phase) => SummaryRow {
            figure: overload_figure,
            measured: format!(
                "{} served (p99 {}), {} answered 503 (p50 / p99 / max {}), {} late, {} failed",
                thousands(phase.report.succeeded as f64),
                of(&phase.by_answer.ok, p99),
                thousands(phase.report.shed as f64),
                three(&phase.by_answer.shed),
                phase.report.late,
                phase.report.failed
            ),
            limit: overload_limit,
            verdict: results.overload_verdict().to_string(),
        },
        None => SummaryRow {
            figure: overload_figure,
            measured: NO_OVERLOAD.to_owned(),
            limit: overload_limit,
            verdict: results.overload_verdict().to_string(),
        },
    });
    let recovery_figure = format!(
        "recovery: {} right after the overload, {} s",
        rate(f64::from(results.contract_rate)),
        results.steady_seconds
    );
    let recovery_limit = format!(
        "all 200, p99 ≤ {} ({RECOVERY_P99_FACTOR} × the baseline before the overload)",
        or_dash(recovery_limit_ms(&results.baseline), ms)
    );
    rows.push(SummaryRow {
        figure: recovery_figure,
        measured: match &results.recovery {
            Some(phase) => format!(
                "{}/{} answered 200, p99 {} (baseline {})",
                thousands(phase.report.succeeded as f64),
                thousands(phase.report.sent as f64),
                ms(phase.report.latency.p99_ms),
                ms(results.baseline.report.latency.p99_ms)
            ),
            None => NO_OVERLOAD.to_owned(),
        },
        limit: recovery_limit,
        verdict: results.recovery_verdict().to_string(),
    });
    rows
}

/// One row of the phases table.
fn phase_row(label: &str, phase: &LoadPhase) -> Vec<String> {
    let report = &phase.report;
    vec![
        label.to_owned(),
        rate(report.target_rate),
        rate(report.achieved_rate),
        thousands(report.sent as f64),
        format!(
            "{} ({})",
            thousands(report.succeeded as f64),
            percent(report.succeeded as f64 / report.sent.max(1) as f64)
        ),
        format!(
            "{} ({})",
            thousands(report.shed as f64),
            percent(report.shed_share())
        ),
        format!("{} / {}", report.late, report.failed),
        three(&report.latency),
        three(&phase.by_answer.ok),
        three(&phase.by_answer.shed),
    ]
}

/// One row of the front door's side of the phases.
fn server_row(label: &str, phase: &LoadPhase) -> Vec<String> {
    let server = &phase.server;
    vec![
        label.to_owned(),
        thousands(server.requests as f64),
        thousands(server.ok.samples as f64),
        thousands(server.shed.samples as f64),
        server.other.to_string(),
        three(&server.ok),
        three(&server.shed),
    ]
}

/// `docs/bench-burst.md`: the figures and tables; the prose is in
/// `bench/templates/bench-burst.md`.
pub fn render(results: &BurstResults) -> Result<String, BenchError> {
    let info = &results.info;
    let bursts = results.bursts();
    let capacity = &results.capacity;
    let mut rounds = Table::new(&[
        "round",
        "ClickHouse idle",
        "200",
        "503",
        "late",
        "failed",
        "client p50 / p99 / max",
        "front door p50 / p99 / max",
        "verdict",
    ]);
    let mut add = |label: String, idle: String, figures: &BurstFigures| {
        rounds.row(vec![
            label,
            idle,
            format!("{}/{}", figures.ok, figures.fired),
            figures.shed.to_string(),
            figures.late.to_string(),
            figures.failed.to_string(),
            three(&figures.client),
            three(&figures.server),
            figures.verdict().to_string(),
        ]);
    };
    for (index, round) in results.rounds.iter().enumerate() {
        add(
            (index + 1).to_string(),
            if round.idle { "yes" } else { "**no**" }.to_owned(),
            &BurstFigures::of([round]),
        );
    }
    add("all".to_owned(), String::new(), &bursts);
    let mut capacity_table = Table::new(&[
        "sent",
        "200 in time",
        "503",
        "late",
        "failed",
        "200s p50 / p99 / max",
        "capacity",
    ]);
    capacity_table.row(vec![
        thousands(capacity.sent as f64),
        thousands(capacity.succeeded as f64),
        thousands(capacity.shed as f64),
        capacity.late.to_string(),
        capacity.failed.to_string(),
        three(&capacity.by_answer.ok),
        or_dash(capacity.goodput(), rate),
    ]);
    let mut phases = Table::new(&[
        "phase",
        "rate",
        "achieved",
        "sent",
        "200",
        "503",
        "late / failed",
        "all p50 / p99 / max",
        "200s p50 / p99 / max",
        "503s p50 / p99 / max",
    ]);
    let mut server = Table::new(&[
        "phase",
        "logged",
        "200",
        "503",
        "other",
        "200s p50 / p99 / max",
        "503s p50 / p99 / max",
    ]);
    for (label, phase) in [
        ("baseline", Some(&results.baseline)),
        ("overload", results.overload.as_ref()),
        ("recovery", results.recovery.as_ref()),
    ] {
        if let Some(phase) = phase {
            phases.row(phase_row(label, phase));
            server.row(server_row(label, phase));
        }
    }
    let overload = results.overload.as_ref().map(|phase| {
        let served = crate::stats::ratio(
            phase.report.succeeded as f64,
            results.overload_seconds as f64,
        );
        let share = served
            .zip(capacity.goodput())
            .and_then(|(served, capacity)| crate::stats::ratio(served, capacity));
        context! {
            served => or_dash(served, rate),
            share => or_dash(share, percent),
            behind => phase.report.achieved_rate < 0.95 * phase.report.target_rate,
        }
    });
    let context = context! {
        smoke => smoke_banner(&[info]),
        provenance => provenance("make bench-burst", info, 1),
        cores => info.machine.cores,
        tags => thousands(results.load.tags as f64),
        database => &results.load.database,
        loaded_now => results.load.loaded_now,
        merges_settled => results.merges_settled,
        warmed_gib => format!("{:.2}", results.warmed_bytes as f64 / f64::from(1 << 30)),
        burst_size => results.burst_size,
        rounds => results.rounds.len(),
        round_gap_s => results.round_gap_s,
        fresh_connections => results.rounds.iter().all(|round| round.connections == 0),
        rounds_table => rounds.render().trim_end(),
        burst_max => ms(BURST_MAX_MS),
        bursts_verdict => bursts.verdict().to_string(),
        logged => bursts.server_logged,
        fired => bursts.fired,
        clients => capacity.clients,
        capacity_seconds => fixed(capacity.seconds, 1),
        capacity_table => capacity_table.render().trim_end(),
        contract_rate => rate(f64::from(results.contract_rate)),
        steady_seconds => results.steady_seconds,
        overload_factor => results.overload_factor.to_string(),
        overload_rate => overload_rate_text(results),
        overload_seconds => results.overload_seconds,
        shed_limit => ms(SHED_P99_LIMIT_MS),
        recovery_factor => RECOVERY_P99_FACTOR.to_string(),
        phases_table => phases.render().trim_end(),
        server_table => server.render().trim_end(),
        overload,
        overload_verdict => results.overload_verdict().to_string(),
        no_overload => NO_OVERLOAD,
        recovery_verdict => results.recovery_verdict().to_string(),
        recovery_limit => or_dash(recovery_limit_ms(&results.baseline), ms),
    };
    template::render(
        "bench-burst.md",
        include_str!("../../templates/bench-burst.md"),
        context,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closed_loop::ClosedLoopReport;
    use crate::loader::LoadReport;
    use crate::machine::RunInfo;
    use crate::nginx_log::StatusTimes;
    use crate::open_loop::{ByAnswer, OpenLoopReport};
    use crate::parts::burst::{BurstRound, ServerShot, Shot};
    use crate::queries::Answer;

    fn latency(samples: u64, p99_ms: f64) -> Latency {
        Latency {
            samples,
            p50_ms: p99_ms / 2.0,
            p90_ms: p99_ms * 0.8,
            p99_ms,
            max_ms: p99_ms * 1.2,
        }
    }

    fn phase(rate: f64, sent: u64, shed: u64, p99_ms: f64) -> LoadPhase {
        LoadPhase {
            report: OpenLoopReport {
                target_rate: rate,
                sent,
                succeeded: sent - shed,
                shed,
                late: 0,
                failed: 0,
                achieved_rate: rate,
                latency: latency(sent, p99_ms),
            },
            by_answer: ByAnswer {
                ok: latency(sent - shed, p99_ms),
                shed: latency(shed, 4.0),
                ..ByAnswer::default()
            },
            server: StatusTimes::default(),
        }
    }

    fn results(overload: bool) -> BurstResults {
        BurstResults {
            info: RunInfo::fixture(true),
            load: LoadReport {
                database: "bench_read".to_owned(),
                tags: 86_400_000,
                seed: 1,
                start_ms: 0,
                end_ms: 86_400_000,
                loaded_now: false,
                seconds: 900.0,
                rows_per_second: 96_000.0,
                chunk_rows: 1_000_000,
                trimmed_rows: None,
            },
            merges_settled: true,
            warmed_bytes: 1 << 30,
            burst_size: 2,
            round_gap_s: 3,
            rounds: vec![BurstRound {
                idle: true,
                connections: 2,
                shots: vec![
                    Shot {
                        answer: Answer::Ok,
                        ms: 40.0,
                    },
                    Shot {
                        answer: Answer::Ok,
                        ms: 60.0,
                    },
                ],
                server: vec![ServerShot {
                    status: 200,
                    ms: 35.0,
                }],
            }],
            capacity: ClosedLoopReport {
                clients: 32,
                seconds: 15.0,
                sent: 6_000,
                succeeded: 6_000,
                shed: 0,
                late: 0,
                failed: 0,
                latency: latency(6_000, 120.0),
                by_answer: ByAnswer {
                    ok: latency(6_000, 120.0),
                    ..ByAnswer::default()
                },
            },
            overload_factor: 2.0,
            overload_seconds: 20,
            contract_rate: 100,
            steady_seconds: 20,
            baseline: phase(100.0, 2_000, 0, 20.0),
            overload: overload.then(|| phase(800.0, 16_000, 8_000, 150.0)),
            recovery: overload.then(|| phase(100.0, 2_000, 0, 25.0)),
        }
    }

    #[test]
    fn the_summary_gives_each_target_its_verdict() {
        let rows = summary_rows(&results(true));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].verdict, "met");
        assert!(rows[0].measured.starts_with("2/2 answered 200"), "{rows:?}");
        assert!(rows[1].measured.starts_with("400/s"), "{rows:?}");
        assert!(rows[2].figure.contains("800/s"), "{rows:?}");
        assert_eq!(rows[2].verdict, "met");
        assert!(rows[3].limit.contains("30.0 ms"), "{rows:?}");
        assert_eq!(rows[3].verdict, "met");
    }

    #[test]
    fn without_a_capacity_the_overload_is_not_measured() {
        let results = results(false);
        let rows = summary_rows(&results);
        assert_eq!(rows[2].verdict, "not measured");
        assert_eq!(rows[3].verdict, "not measured");
        let text = render(&results).expect("rendered");
        assert!(text.contains("Overload: not measured"), "{text}");
    }

    #[test]
    fn the_report_has_every_section() {
        let text = render(&results(true)).expect("rendered");
        for heading in [
            "## Bursts on an idle stack",
            "## Sustained capacity",
            "## Twice the capacity, and the recovery",
        ] {
            assert!(text.contains(heading), "{heading}");
        }
        assert!(text.contains("| all |"), "{text}");
        assert!(
            text.contains("(nginx logged 1 of the 2 requests.)"),
            "{text}"
        );
        assert!(
            text.contains("Served 400/s during it (100.0% of the capacity"),
            "{text}"
        );
        crate::report::assert_says(
            &text,
            &[
                "share the machine's 2 cores",
                "2 profile queries fired at the same instant, 1 round, 3 s or more apart",
                "not 2 TCP handshakes",
                "then 2× the capacity (800/s) for 20 s",
                "Recovery: met (limit p99 ≤ 30.0 ms).\n",
            ],
        );
    }
}
