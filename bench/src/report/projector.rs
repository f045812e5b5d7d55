//! `docs/bench-projector.md` and the projector's row of the summary: the figures and
//! tables are computed here, the prose is in `bench/templates/bench-projector.md`.

use crate::error::BenchError;
use crate::parts::projector::{ProjectorResults, ProjectorRun, TARGET_RATE};
use crate::report::format::{fixed, or_dash, thousands, Table};
use crate::report::{provenance, smoke_banner, template, SummaryRow};
use crate::stats;
use crate::verdict::Limit;
use minijinja::context;

/// A figure of one run.
type Figure = dyn Fn(&ProjectorRun) -> Option<f64>;

/// The pipeline thread's CPU seconds in a catch-up.
fn pipeline_cpu(run: &ProjectorRun) -> f64 {
    run.catch_up
        .projector_cpu_by_thread_s
        .get("projector-pipel")
        .copied()
        .unwrap_or(0.0)
}

/// librdkafka's threads' CPU seconds in a catch-up.
fn librdkafka_cpu(run: &ProjectorRun) -> f64 {
    run.catch_up
        .projector_cpu_by_thread_s
        .iter()
        .filter(|(name, _)| name.starts_with("rdk:"))
        .map(|(_, seconds)| seconds)
        .sum()
}

/// The projector's own serial work rate: messages over (pipeline CPU + time inside inserts).
fn own_work_rate(run: &ProjectorRun) -> Option<f64> {
    stats::ratio(
        run.catch_up.messages as f64,
        pipeline_cpu(run) + run.catch_up.insert_s,
    )
}

/// The projector's row of the summary.
pub fn summary_rows(results: &ProjectorResults) -> Vec<SummaryRow> {
    let catch_up = results.catch_up_rate();
    let raw = results.raw_rate();
    vec![SummaryRow {
        figure: format!(
            "projector catch-up, {}-tag backlog",
            thousands(results.backlog as f64)
        ),
        measured: format!("{} tags/s", or_dash(catch_up, thousands)),
        limit: format!(
            "raw consume {} tags/s (same run); target {}",
            or_dash(raw, thousands),
            thousands(TARGET_RATE)
        ),
        verdict: format!(
            "{} of raw consume; target {}",
            or_dash(
                catch_up
                    .zip(raw)
                    .and_then(|(catch_up, raw)| stats::ratio(catch_up, raw)),
                |ratio| fixed(ratio, 2)
            ),
            Limit::AtLeast(TARGET_RATE).check(catch_up)
        ),
    }]
}

/// `docs/bench-projector.md`: the figures and tables; the prose is in
/// `bench/templates/bench-projector.md`.
pub fn render(results: &ProjectorResults) -> Result<String, BenchError> {
    let median = |figure: &dyn Fn(&ProjectorRun) -> Option<f64>| results.median(figure);
    let rates = |figure: &dyn Fn(&ProjectorRun) -> f64| {
        results
            .runs
            .iter()
            .map(|run| thousands(figure(run)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let raw = median(&|run| Some(run.raw.rate));
    let decode = median(&|run| Some(run.decode.rate));
    let catch_up = median(&|run| Some(run.catch_up.rate));
    let mut table = Table::new(&[
        "measurement",
        "median",
        "runs",
        "vs raw consume",
        &format!("vs target {} tags/s", thousands(TARGET_RATE)),
    ]);
    let vs = |value: Option<f64>, of: Option<f64>| {
        or_dash(
            value
                .zip(of)
                .and_then(|(value, of)| stats::ratio(value, of)),
            |ratio| fixed(ratio, 2),
        )
    };
    let target = Some(TARGET_RATE);
    table.row(vec![
        "raw consume (projector's consumer settings, receive only)".to_owned(),
        format!("{} tags/s", or_dash(raw, thousands)),
        rates(&|run| run.raw.rate),
        "1.00".to_owned(),
        vs(raw, target),
    ]);
    table.row(vec![
        "consume + decode + build rows (no insert)".to_owned(),
        format!("{} tags/s", or_dash(decode, thousands)),
        rates(&|run| run.decode.rate),
        vs(decode, raw),
        vs(decode, target),
    ]);
    table.row(vec![
        "**projector catch-up** (start until ClickHouse holds every offset)".to_owned(),
        format!("**{} tags/s**", or_dash(catch_up, thousands)),
        rates(&|run| run.catch_up.rate),
        format!("**{}**", vs(catch_up, raw)),
        format!(
            "**{}**: {}",
            vs(catch_up, target),
            Limit::AtLeast(TARGET_RATE).check(catch_up)
        ),
    ]);
    let rates_table = table.render();
    let mut table = Table::new(&["", "seconds", "share of the catch-up"]);
    let share = |figure: &dyn Fn(&ProjectorRun) -> Option<f64>| {
        median(&|run| stats::ratio(figure(run)?, run.catch_up.elapsed_s))
    };
    let rows: [(String, &Figure); 7] = [
        ("catch-up, wall clock".to_owned(), &|run| Some(run.catch_up.elapsed_s)),
        (
            format!(
                "pipeline thread inside inserts ({} inserts of one block each; ClickHouse answering)",
                or_dash(median(&|run| Some(run.catch_up.batches)), |value| fixed(value, 0))
            ),
            &|run| Some(run.catch_up.insert_s),
        ),
        (
            "pipeline thread CPU (poll, decode, build rows, serialize the insert)".to_owned(),
            &|run| Some(pipeline_cpu(run)),
        ),
        ("librdkafka threads CPU (fetching)".to_owned(), &|run| Some(librdkafka_cpu(run))),
        ("projector process CPU, all threads".to_owned(), &|run| Some(run.catch_up.projector_cpu_s)),
        (
            "ClickHouse CPU (inserts, materialized views, merges)".to_owned(),
            &|run| run.catch_up.clickhouse_cpu_s,
        ),
        ("broker CPU (serving fetches)".to_owned(), &|run| run.catch_up.broker_cpu_s),
    ];
    for (label, figure) in rows {
        table.row(vec![
            label,
            or_dash(median(figure), |value| fixed(value, 1)),
            or_dash(share(figure), |value| fixed(value, 2)),
        ]);
    }
    let seconds = |figure: &dyn Fn(&ProjectorRun) -> Option<f64>, decimals| {
        or_dash(median(figure), |value| fixed(value, decimals))
    };
    let rate = |figure: &dyn Fn(&ProjectorRun) -> Option<f64>| or_dash(median(figure), thousands);
    let reading = match (catch_up, raw) {
        (Some(catch_up), _) if catch_up >= TARGET_RATE => "met",
        (Some(_), Some(raw)) if raw < TARGET_RATE => "broker",
        (Some(_), Some(_)) => "own",
        _ => "none",
    };
    template::render(
        "bench-projector.md",
        include_str!("../../templates/bench-projector.md"),
        context! {
            r => results,
            banner => smoke_banner(&[&results.info]),
            provenance => provenance("make bench-projector", &results.info, results.runs.len()),
            backlog => thousands(results.backlog as f64),
            produce_rate => thousands(results.produce_rate),
            rates => rates_table,
            first_message => seconds(&|run| Some(run.raw.first_message_s), 2),
            first_rows => seconds(&|run| Some(run.catch_up.first_rows_s), 2),
            raw_after_first => rate(&|run| Some(run.raw.rate_after_first)),
            decode_after_first => rate(&|run| Some(run.decode.rate_after_first)),
            catch_up_after_first => rate(&|run| Some(run.catch_up.rate_after_first)),
            verified => results.runs.iter().all(|run| run.catch_up.verified),
            time => table.render(),
            raw_cpu => seconds(&|run| Some(run.raw.cpu_s), 1),
            decode_cpu => seconds(&|run| Some(run.decode.cpu_s), 1),
            own_seconds => seconds(&|run| Some(pipeline_cpu(run) + run.catch_up.insert_s), 1),
            own => rate(&own_work_rate),
            reading,
            target => thousands(TARGET_RATE),
            raw => or_dash(raw, thousands),
            broker_share =>
                or_dash(share(&|run| run.catch_up.broker_cpu_s), |value| fixed(value, 2)),
            of_raw => catch_up.zip(raw).map(|(catch_up, raw)| format!("{:.2}", catch_up / raw)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// One run at these rates (tags/s), every figure present, as `projector.json` holds it.
    fn run(catch_up: f64, raw: f64, verified: bool) -> Value {
        let consume = |work: &str, rate: f64| {
            json!({"work": work, "messages": 1_000_000, "elapsed_s": 1e6 / rate, "rate": rate,
                "first_message_s": 0.5, "rate_after_first": rate * 1.1, "cpu_s": 12.0,
                "cpu_by_thread_s": {}})
        };
        json!({
            "raw": consume("raw", raw),
            "decode": consume("decode", raw * 0.9),
            "catch_up": {"messages": 1_000_000, "elapsed_s": 1e6 / catch_up, "rate": catch_up,
                "first_rows_s": 1.5, "rate_after_first": catch_up * 1.1, "rows": 1_000_000,
                "aggregated": 1_000_000, "verified": verified, "batches": 20.0, "insert_s": 8.0,
                "projector_cpu_by_thread_s": {"projector-pipel": 10.0, "rdk:broker1": 3.0},
                "projector_cpu_s": 14.0, "clickhouse_cpu_s": 9.0,
                "broker_cpu_s": verified.then_some(11.0)},
        })
    }

    fn results(runs: Vec<Value>, batch_max_rows: Option<&str>) -> ProjectorResults {
        serde_json::from_value(json!({
            "info": crate::machine::RunInfo::fixture(batch_max_rows.is_none()),
            "topic": "bench-projector", "partitions": 4, "backlog": 1_000_000,
            "produce_rate": 120_000.0, "produce_latency": crate::stats::Latency::default(),
            "batch_max_rows": batch_max_rows, "consumer_options": [], "runs": runs,
        }))
        .expect("ProjectorResults")
    }

    #[test]
    fn the_report_renders_each_reading_of_its_template() {
        let text = render(&results(vec![run(60_000.0, 80_000.0, true)], None)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "# Projector benchmark\n\nProduced by `make bench-projector` on 2026-12-01 at abc1234.",
                "Backlog: 1,000,000 Avro tags",
                "in the scratch topic `bench-projector`, 4 partitions.",
                "Batch size: 50000 (default).",
                "`user_tags` held exactly the backlog and the unfiltered minute counts summed to it (verified in every run of 1).",
                "The catch-up meets the 50,000 tags/s target.\n",
            ],
        );
        let broker_bound = vec![
            run(30_000.0, 40_000.0, false),
            run(32_000.0, 42_000.0, true),
        ];
        let text = render(&results(broker_bound, Some("20000"))).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "> **Smoke run.**",
                "Batch size: 20000.",
                "held **not** the backlog",
                "(**failed** in every run of 2)",
                "reads this backlog at 41,000 tags/s",
                "The projector reaches 0.76 of the raw consume rate",
            ],
        );
        let text = render(&results(vec![run(30_000.0, 70_000.0, true)], None)).expect("rendered");
        assert!(text.contains("the gap is the projector's own"), "{text}");
        let text = render(&results(Vec::new(), None)).expect("rendered");
        assert!(text.ends_with("## Reading\n\nNot measured.\n"), "{text}");
    }
}
