//! `docs/bench-write.md` (its prose in `bench/templates/bench-write.md`) and the write
//! path's rows of the summary.

use crate::error::BenchError;
use crate::parts::write::{Phase, Target, WriteResults};
use crate::report::format::{fixed, ms, or_dash, thousands, Table};
use crate::report::{provenance, smoke_banner, template, SummaryRow};
use crate::stats;
use crate::verdict::{Limit, Verdict};
use minijinja::context;

/// The target: write-api's CPU per accepted tag at most this many times the floor's.
pub const FLOOR_MULTIPLE: f64 = 2.0;
/// The latency target at 1,000 tags/s (the contract allows 200 ms).
pub const P99_TARGET_MS: f64 = 20.0;
/// The rate of the latency figures.
pub const LATENCY_RATE: u32 = 1000;
/// nginx logs `$request_time` in whole milliseconds.
const NGINX_RESOLUTION_MS: f64 = 1.0;

/// Whether three views of the same requests' p99 agree: the client's (from each
/// request's due time) includes nginx's `rt`, which includes write-api's own time, so
/// each must be at least the next, within nginx's millisecond resolution and the
/// histogram bucket holding write-api's p99 (its lower bound must not exceed nginx's).
pub fn latency_consistent(
    client_p99_ms: Option<f64>,
    nginx_p99_ms: Option<f64>,
    server_p99_bounds_ms: Option<(f64, f64)>,
) -> Verdict {
    let (Some(client), Some(nginx), Some((server_lower, _))) =
        (client_p99_ms, nginx_p99_ms, server_p99_bounds_ms)
    else {
        return Verdict::NotMeasured;
    };
    Verdict::of(
        nginx <= client + NGINX_RESOLUTION_MS && server_lower <= nginx + NGINX_RESOLUTION_MS,
    )
}

fn median(
    results: &WriteResults,
    target: Target,
    rate: u32,
    figure: impl Fn(&Phase) -> Option<f64>,
) -> Option<f64> {
    results.median(target, rate, figure)
}

fn us(value: f64) -> String {
    format!("{value:.1} µs")
}

/// The ratio-and-verdict cell of write-api's CPU against the floor.
fn floor_verdict(ratio: Option<f64>) -> String {
    let verdict = Limit::AtMost(FLOOR_MULTIPLE).check(ratio);
    match ratio {
        Some(ratio) => format!("{ratio:.2}× the floor: {verdict}"),
        None => verdict.to_string(),
    }
}

/// The write path's rows of the summary.
pub fn summary_rows(results: &WriteResults) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for &rate in &results.rates {
        let floor = median(
            results,
            Target::Noop,
            rate,
            Phase::server_cpu_per_request_us,
        );
        for target in [Target::Direct, Target::FrontDoor] {
            let cpu = median(results, target, rate, Phase::server_cpu_per_request_us);
            let nginx = (target == Target::FrontDoor)
                .then(|| median(results, target, rate, Phase::nginx_cpu_per_request_us))
                .flatten();
            let path = if target == Target::Direct {
                "direct"
            } else {
                "through the front door"
            };
            rows.push(SummaryRow {
                figure: format!("write-api CPU per accepted tag at {} tags/s, {path}", thousands(f64::from(rate))),
                measured: format!(
                    "{}{}",
                    or_dash(cpu, us),
                    nginx.map_or_else(String::new, |nginx| format!(" (nginx {} more per request)", us(nginx)))
                ),
                limit: format!(
                    "≤ {FLOOR_MULTIPLE}× a no-op axum server's CPU per request, same load: {} × {FLOOR_MULTIPLE} = {}",
                    or_dash(floor, us),
                    or_dash(floor.map(|floor| floor * FLOOR_MULTIPLE), us)
                ),
                verdict: floor_verdict(results.floor_ratio(target, rate)),
            });
        }
    }
    if results.rates.contains(&LATENCY_RATE) {
        let client_p50 = median(results, Target::FrontDoor, LATENCY_RATE, |phase| {
            Some(phase.client.p50_ms)
        });
        let client_p99 = median(results, Target::FrontDoor, LATENCY_RATE, |phase| {
            Some(phase.client.p99_ms)
        });
        let nginx_p99 = median(results, Target::FrontDoor, LATENCY_RATE, |phase| {
            phase.nginx.map(|nginx| nginx.p99_ms)
        });
        let server_p99 = median(results, Target::FrontDoor, LATENCY_RATE, |phase| {
            phase.server_quantile_ms(0.99)
        });
        let consistent = consistency(results, Target::FrontDoor);
        rows.push(SummaryRow {
            figure: "ingest latency at 1,000 tags/s, front door".to_owned(),
            measured: format!(
                "client p50 {}, p99 {}; nginx p99 {}; write-api p99 {} (three views {})",
                or_dash(client_p50, ms),
                or_dash(client_p99, ms),
                or_dash(nginx_p99, ms),
                or_dash(server_p99, ms),
                match consistent {
                    Verdict::Met => "consistent",
                    Verdict::NotMet => "**inconsistent**",
                    Verdict::NotMeasured => "not all measured",
                }
            ),
            limit: format!("client p99 < {P99_TARGET_MS} ms (contract: 200 ms)"),
            verdict: Limit::Below(P99_TARGET_MS).check(client_p99).to_string(),
        });
    }
    let ceiling = results.ceiling_rate();
    for target in [Target::Direct, Target::FrontDoor] {
        let Some(rate) = median(results, target, 0, |phase| Some(phase.achieved_rate)) else {
            continue;
        };
        let split = (target == Target::Direct).then(|| {
            let cores = |cpu: fn(&Phase) -> Option<f64>| {
                median(results, target, 0, |phase| phase.cores(cpu(phase)))
            };
            format!(
                " (machine busy {} of {} cores: write-api {}, broker {})",
                or_dash(cores(|phase| phase.machine_cpu_s), |value| fixed(value, 2)),
                results.info.machine.cores,
                or_dash(cores(|phase| phase.server_cpu_s), |value| fixed(value, 2)),
                or_dash(cores(|phase| phase.broker_cpu_s), |value| fixed(value, 2)),
            )
        });
        rows.push(SummaryRow {
            figure: format!(
                "context: write-api flat out, {}",
                if target == Target::Direct { "direct" } else { "through the front door" }
            ),
            measured: format!("{} tags/s{}", thousands(rate), split.unwrap_or_default()),
            limit: format!(
                "raw producer ceiling {} tags/s (the old target, 0.8 of it, is retired: on 2 shared cores it measures the sharing)",
                or_dash(ceiling, thousands)
            ),
            verdict: or_dash(ceiling.and_then(|ceiling| stats::ratio(rate, ceiling)), |ratio| {
                format!("{ratio:.2} of the ceiling")
            }),
        });
    }
    rows
}

/// The median verdict of the three latency views of `target` at 1,000 tags/s (each
/// run's three p99s compared within the run; met when most runs agree).
fn consistency(results: &WriteResults, target: Target) -> Verdict {
    let verdicts: Vec<Verdict> = results
        .phases(target, LATENCY_RATE)
        .iter()
        .map(|phase| {
            latency_consistent(
                Some(phase.client.p99_ms),
                phase.nginx.map(|nginx| nginx.p99_ms),
                phase.server_quantile_bounds_ms(0.99),
            )
        })
        .collect();
    let met = verdicts
        .iter()
        .filter(|verdict| **verdict == Verdict::Met)
        .count();
    let measured = verdicts
        .iter()
        .filter(|verdict| **verdict != Verdict::NotMeasured)
        .count();
    if measured == 0 {
        Verdict::NotMeasured
    } else {
        Verdict::of(met * 2 > measured)
    }
}

/// `docs/bench-write.md`: the figures and tables; the prose is in
/// `bench/templates/bench-write.md`.
pub fn render(results: &WriteResults) -> Result<String, BenchError> {
    let info = &results.info;
    let mut cpu_table = Table::new(&[
        "rate",
        "server",
        "accepted / s",
        "server CPU per request",
        "vs the no-op floor",
        "nginx CPU per request",
        "broker CPU per tag",
        "server cores busy",
        "failed",
    ]);
    for &rate in &results.rates {
        for target in [Target::Noop, Target::Direct, Target::FrontDoor] {
            let figure = |figure: fn(&Phase) -> Option<f64>| median(results, target, rate, figure);
            let ratio = (target != Target::Noop).then(|| results.floor_ratio(target, rate));
            cpu_table.row(vec![
                format!("{}/s", thousands(f64::from(rate))),
                target.label().to_owned(),
                or_dash(figure(|phase| Some(phase.achieved_rate)), thousands),
                or_dash(figure(Phase::server_cpu_per_request_us), us),
                match ratio {
                    Some(ratio) => floor_verdict(ratio),
                    None => "1.00 (the floor)".to_owned(),
                },
                if target == Target::FrontDoor {
                    or_dash(figure(Phase::nginx_cpu_per_request_us), us)
                } else {
                    "—".to_owned()
                },
                if target == Target::Noop {
                    "—".to_owned()
                } else {
                    or_dash(
                        figure(|phase| {
                            stats::ratio(phase.broker_cpu_s? * 1e6, phase.accepted as f64)
                        }),
                        us,
                    )
                },
                or_dash(figure(|phase| phase.cores(phase.server_cpu_s)), |value| {
                    fixed(value, 3)
                }),
                or_dash(figure(|phase| Some(phase.failed as f64)), thousands),
            ]);
        }
    }
    let latency_table = results.rates.contains(&LATENCY_RATE).then(|| {
        let mut table = Table::new(&[
            "path",
            "client p50",
            "client p99",
            "client max",
            "nginx p50",
            "nginx p99",
            "write-api p50",
            "write-api p99 (bucket)",
            "failed",
            "views consistent",
            "target client p99 < 20 ms",
        ]);
        for target in [Target::FrontDoor, Target::Direct] {
            let figure = |figure: &dyn Fn(&Phase) -> Option<f64>| {
                median(results, target, LATENCY_RATE, figure)
            };
            let client_p99 = figure(&|phase| Some(phase.client.p99_ms));
            let bounds = results
                .phases(target, LATENCY_RATE)
                .first()
                .and_then(|phase| phase.server_quantile_bounds_ms(0.99));
            table.row(vec![
                if target == Target::FrontDoor {
                    "front door"
                } else {
                    "direct"
                }
                .to_owned(),
                or_dash(figure(&|phase| Some(phase.client.p50_ms)), ms),
                or_dash(client_p99, ms),
                or_dash(figure(&|phase| Some(phase.client.max_ms)), ms),
                or_dash(figure(&|phase| phase.nginx.map(|nginx| nginx.p50_ms)), ms),
                or_dash(figure(&|phase| phase.nginx.map(|nginx| nginx.p99_ms)), ms),
                or_dash(figure(&|phase| phase.server_quantile_ms(0.5)), ms),
                format!(
                    "{}{}",
                    or_dash(figure(&|phase| phase.server_quantile_ms(0.99)), ms),
                    bounds.map_or_else(String::new, |(lower, upper)| format!(
                        " ({lower}–{upper} ms)"
                    ))
                ),
                or_dash(figure(&|phase| Some(phase.failed as f64)), thousands),
                if target == Target::FrontDoor {
                    consistency(results, target).to_string()
                } else {
                    "— (no nginx)".to_owned()
                },
                Limit::Below(P99_TARGET_MS).check(client_p99).to_string(),
            ]);
        }
        table.render().trim_end().to_owned()
    });
    let flat_out = median(results, Target::Direct, 0, |phase| {
        Some(phase.achieved_rate)
    });
    let flat_tables = flat_out.map(|_| {
        let ceiling = results.ceiling_rate();
        let mut table = Table::new(&["measurement", "median", "vs the ceiling", "p50 / p99"]);
        let ceiling_latency = (
            median_of_ceiling(results, |ceiling| ceiling.latency.p50_ms),
            median_of_ceiling(results, |ceiling| ceiling.latency.p99_ms),
        );
        table.row(vec![
            "raw producer ceiling".to_owned(),
            format!("{} tags/s", or_dash(ceiling, thousands)),
            "1.00".to_owned(),
            format!(
                "{} / {} (acknowledgement)",
                or_dash(ceiling_latency.0, ms),
                or_dash(ceiling_latency.1, ms)
            ),
        ]);
        for (target, label) in [
            (Target::Direct, "write-api flat out, direct"),
            (Target::FrontDoor, "flat out through the front door"),
        ] {
            let rate = median(results, target, 0, |phase| Some(phase.achieved_rate));
            table.row(vec![
                label.to_owned(),
                format!("{} tags/s", or_dash(rate, thousands)),
                or_dash(
                    rate.zip(ceiling)
                        .and_then(|(rate, ceiling)| stats::ratio(rate, ceiling)),
                    |ratio| fixed(ratio, 2),
                ),
                format!(
                    "{} / {}",
                    or_dash(
                        median(results, target, 0, |phase| Some(phase.client.p50_ms)),
                        ms
                    ),
                    or_dash(
                        median(results, target, 0, |phase| Some(phase.client.p99_ms)),
                        ms
                    )
                ),
            ]);
        }
        let flat_table = table.render().trim_end().to_owned();
        let cores = |cpu: fn(&Phase) -> Option<f64>| {
            median(results, Target::Direct, 0, |phase| phase.cores(cpu(phase)))
        };
        let (machine, write_api, broker) = (
            cores(|phase| phase.machine_cpu_s),
            cores(|phase| phase.server_cpu_s),
            cores(|phase| phase.broker_cpu_s),
        );
        let mut table = Table::new(&[
            "",
            "whole machine busy",
            "write-api",
            "broker",
            "the rest (load generator, kernel, ClickHouse)",
        ]);
        table.row(vec![
            "this run".to_owned(),
            or_dash(machine, |value| fixed(value, 2)),
            or_dash(write_api, |value| fixed(value, 2)),
            or_dash(broker, |value| fixed(value, 2)),
            or_dash(
                machine
                    .zip(write_api)
                    .zip(broker)
                    .map(|((machine, write_api), broker)| machine - write_api - broker),
                |value| fixed(value, 2),
            ),
        ]);
        (flat_table, table.render().trim_end().to_owned())
    });
    let (flat_table, flat_cpu_table) = flat_tables.unzip();
    let context = context! {
        smoke => smoke_banner(&[info]),
        provenance => provenance("make bench-write", info, results.runs.len()),
        cores => info.machine.cores,
        seconds => results.seconds,
        floor_multiple => FLOOR_MULTIPLE.to_string(),
        cpu_table => cpu_table.render().trim_end(),
        latency_table,
        concurrency => results.concurrency,
        flat_seconds => results.flat_seconds,
        ceiling_tags => thousands(results.ceiling_tags as f64),
        flat_table,
        flat_cpu_table,
    };
    template::render(
        "bench-write.md",
        include_str!("../../templates/bench-write.md"),
        context,
    )
}

fn median_of_ceiling(
    results: &WriteResults,
    figure: impl Fn(&crate::parts::write::Ceiling) -> f64,
) -> Option<f64> {
    stats::median(
        results
            .runs
            .iter()
            .filter_map(|run| run.ceiling.as_ref().map(&figure)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::RunInfo;
    use crate::parts::write::{Ceiling, WriteRun};
    use crate::stats::{Bucket, Latency};

    fn latency(p99_ms: f64) -> Latency {
        Latency {
            samples: 10_000,
            p50_ms: p99_ms / 2.0,
            p90_ms: p99_ms * 0.8,
            p99_ms,
            max_ms: p99_ms * 1.5,
        }
    }

    fn phase(target: Target, rate: u32, cpu_s: f64) -> Phase {
        let front_door = target == Target::FrontDoor;
        Phase {
            target,
            rate,
            seconds: 10.0,
            sent: 10_000,
            accepted: 10_000,
            failed: u64::from(rate == 0),
            achieved_rate: if rate == 0 { 4_000.0 } else { f64::from(rate) },
            client: latency(6.0),
            server_cpu_s: Some(cpu_s),
            nginx_cpu_s: front_door.then_some(0.3),
            broker_cpu_s: (target != Target::Noop).then_some(0.5),
            machine_cpu_s: Some(15.0),
            nginx: front_door.then(|| latency(5.0)),
            server_histogram: vec![
                Bucket {
                    le: 0.001,
                    count: 5_000.0,
                },
                Bucket {
                    le: 0.005,
                    count: 9_990.0,
                },
                Bucket {
                    le: f64::INFINITY,
                    count: 10_000.0,
                },
            ],
        }
    }

    /// A full run (three repeats, 1,000 and 3,000 tags/s, flat out and the ceiling) or
    /// a smoke run (one repeat at 3,000 tags/s only).
    fn results(full: bool) -> WriteResults {
        let rates = if full { vec![1000, 3000] } else { vec![3000] };
        let run = |scale: f64| WriteRun {
            phases: rates
                .iter()
                .flat_map(|&rate| {
                    [
                        phase(Target::Noop, rate, 0.2 * scale),
                        phase(Target::Direct, rate, 0.3 * scale),
                        phase(Target::FrontDoor, rate, 0.35 * scale),
                    ]
                })
                .chain(full.then(|| phase(Target::Direct, 0, 8.0)))
                .chain(full.then(|| phase(Target::FrontDoor, 0, 9.0)))
                .collect(),
            ceiling: full.then(|| Ceiling {
                rate: 20_000.0,
                latency: latency(30.0),
            }),
        };
        WriteResults {
            info: RunInfo::fixture(full),
            rates: rates.clone(),
            seconds: 10,
            flat_seconds: 20,
            concurrency: 64,
            ceiling_tags: 1_000_000,
            runs: if full {
                vec![run(1.0), run(1.1), run(0.9)]
            } else {
                vec![run(1.0)]
            },
        }
    }

    #[test]
    fn the_three_views_must_nest() {
        // client 9 ms ≥ nginx 8 ms ≥ write-api between 5 and 10 ms: consistent.
        assert_eq!(
            latency_consistent(Some(9.0), Some(8.0), Some((5.0, 10.0))),
            Verdict::Met
        );
        // nginx a millisecond over the client: within its resolution.
        assert_eq!(
            latency_consistent(Some(8.2), Some(9.0), Some((5.0, 10.0))),
            Verdict::Met
        );
        // nginx far above what the client saw: something is wrong.
        assert_eq!(
            latency_consistent(Some(4.0), Some(9.0), Some((5.0, 10.0))),
            Verdict::NotMet
        );
        // write-api's p99 is surely above 10 ms while nginx says 3 ms.
        assert_eq!(
            latency_consistent(Some(9.0), Some(3.0), Some((10.0, 20.0))),
            Verdict::NotMet
        );
        assert_eq!(
            latency_consistent(Some(9.0), None, Some((5.0, 10.0))),
            Verdict::NotMeasured
        );
    }

    #[test]
    fn the_floor_verdict_shows_the_ratio() {
        assert_eq!(floor_verdict(Some(1.5)), "1.50× the floor: met");
        assert_eq!(floor_verdict(Some(2.5)), "2.50× the floor: **not met**");
        assert_eq!(floor_verdict(None), "not measured");
    }

    #[test]
    fn the_report_renders_every_section_of_a_full_run_and_fewer_of_a_smoke_run() {
        let text = render(&results(true)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "Medians of 3 runs.\nThe load generator",
                "share the machine's 2 cores; the projector is stopped",
                "at a fixed rate for 10 s (256 in flight at most",
                "Target: write-api at most 2× the floor",
                "| 1,000/s | write-api, front door | 1,000 | 35.0 µs | 1.75× the floor: met |",
                "## Latency at 1,000 tags/s, three views",
                "write-api flat out (64 in flight, 1 s client deadline, 20 s per phase)",
                "(1,000,000 records into a scratch topic",
                "(medians, in cores; the machine has 2):\n\n|  | whole machine busy",
            ],
        );
        let smoke = render(&results(false)).expect("rendered");
        assert!(smoke.starts_with("# Write path benchmark\n\n> **Smoke run.**"));
        assert!(!smoke.contains("## Latency"), "{smoke}");
        assert!(!smoke.contains("## Context"), "{smoke}");
        assert!(smoke.ends_with("|\n\n"), "{smoke}");
    }
}
