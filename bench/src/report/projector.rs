//! `docs/bench-projector.md` and the projector's row of the summary.

use crate::error::BenchError;
use crate::parts::projector::{ProjectorResults, ProjectorRun, TARGET_RATE};
use crate::report::baseline::{self, projector as old};
use crate::report::format::{fixed, or_dash, thousands, Table};
use crate::report::{provenance, smoke_banner, SummaryRow};
use crate::stats;
use crate::verdict::Limit;

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
        baseline: format!(
            "{} tags/s ({:.2} of raw consume {})",
            thousands(old::CATCH_UP_RATE),
            old::CATCH_UP_RATE / old::RAW_RATE,
            thousands(old::RAW_RATE)
        ),
    }]
}

/// `docs/bench-projector.md`.
pub fn render(results: &ProjectorResults) -> Result<String, BenchError> {
    let info = &results.info;
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
    let verified = results.runs.iter().all(|run| run.catch_up.verified);
    let mut text = String::from("# Projector benchmark\n\n");
    text += &smoke_banner(&[info]);
    text += &provenance("make bench-projector", info, results.runs.len());
    text += &format!(
        "The load generator, the broker, ClickHouse and the projector share the machine's {} cores; the \
         live stack keeps running beside it (idle unless someone sends tags).\n\n",
        info.machine.cores
    );
    text += &format!(
        "Backlog: {} Avro tags (Confluent framing, key = cookie, produced with write-api's producer settings \
         at {} tags/s) in the scratch topic `{}`, {} partitions. Every run reads that same backlog from the \
         beginning in a fresh consumer group; the projector projects into a freshly migrated scratch \
         database. Batch size: {}.\n\n",
        thousands(results.backlog as f64),
        thousands(results.produce_rate),
        results.topic,
        results.partitions,
        results
            .batch_max_rows
            .clone()
            .unwrap_or_else(|| "50000 (default)".to_owned())
    );
    let mut table = Table::new(&[
        "measurement",
        "median",
        "runs",
        "vs raw consume",
        &format!("vs target {} tags/s", thousands(TARGET_RATE)),
        baseline::COLUMN,
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
        format!("{} tags/s", thousands(old::RAW_RATE)),
    ]);
    table.row(vec![
        "consume + decode + build rows (no insert)".to_owned(),
        format!("{} tags/s", or_dash(decode, thousands)),
        rates(&|run| run.decode.rate),
        vs(decode, raw),
        vs(decode, target),
        format!("{} tags/s", thousands(old::DECODE_RATE)),
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
        format!("{} tags/s", thousands(old::CATCH_UP_RATE)),
    ]);
    text += &table.render();
    text += &format!(
        "\nEach rate is the backlog over the time from creating the consumer (starting the projector) to the \
         last message read (the last offset durable in ClickHouse), so it includes joining the group: {} s to \
         the first message for the raw consumer, {} s to the first rows visible for the projector (18.16: {} \
         and {} s). Counted from those first messages/rows: raw {} tags/s, decode {} tags/s, projector {} \
         tags/s (18.16: {}, {}, {}). After every catch-up, `user_tags` held {} and the unfiltered minute counts \
         summed to it ({} in every run of {}).\n\n",
        or_dash(median(&|run| Some(run.raw.first_message_s)), |value| fixed(value, 2)),
        or_dash(median(&|run| Some(run.catch_up.first_rows_s)), |value| fixed(value, 2)),
        fixed(old::FIRST_S[0], 2),
        fixed(old::FIRST_S[1], 2),
        or_dash(median(&|run| Some(run.raw.rate_after_first)), thousands),
        or_dash(median(&|run| Some(run.decode.rate_after_first)), thousands),
        or_dash(median(&|run| Some(run.catch_up.rate_after_first)), thousands),
        thousands(old::AFTER_FIRST_RATES[0]),
        thousands(old::AFTER_FIRST_RATES[1]),
        thousands(old::AFTER_FIRST_RATES[2]),
        if verified { "exactly the backlog" } else { "**not** the backlog" },
        if verified { "verified" } else { "**failed**" },
        results.runs.len()
    );
    text += "## Where the time goes (medians, projector catch-up)\n\n";
    let mut table = Table::new(&["", "seconds", "share of the catch-up", baseline::COLUMN]);
    let share = |figure: &dyn Fn(&ProjectorRun) -> Option<f64>| {
        median(&|run| stats::ratio(figure(run)?, run.catch_up.elapsed_s))
    };
    let rows: [(String, &Figure, f64); 7] = [
        ("catch-up, wall clock".to_owned(), &|run| Some(run.catch_up.elapsed_s), old::TIME_S[0]),
        (
            format!(
                "pipeline thread inside inserts ({} inserts of one block each; ClickHouse answering)",
                or_dash(median(&|run| Some(run.catch_up.batches)), |value| fixed(value, 0))
            ),
            &|run| Some(run.catch_up.insert_s),
            old::TIME_S[1],
        ),
        (
            "pipeline thread CPU (poll, decode, build rows, serialize the insert)".to_owned(),
            &|run| Some(pipeline_cpu(run)),
            old::TIME_S[2],
        ),
        ("librdkafka threads CPU (fetching)".to_owned(), &|run| Some(librdkafka_cpu(run)), old::TIME_S[3]),
        ("projector process CPU, all threads".to_owned(), &|run| Some(run.catch_up.projector_cpu_s), old::TIME_S[4]),
        (
            "ClickHouse CPU (inserts, materialized views, merges)".to_owned(),
            &|run| run.catch_up.clickhouse_cpu_s,
            old::TIME_S[5],
        ),
        ("broker CPU (serving fetches)".to_owned(), &|run| run.catch_up.broker_cpu_s, old::TIME_S[6]),
    ];
    for (label, figure, old_seconds) in rows {
        table.row(vec![
            label,
            or_dash(median(figure), |value| fixed(value, 1)),
            or_dash(share(figure), |value| fixed(value, 2)),
            format!(
                "{} s ({:.2})",
                fixed(old_seconds, 1),
                old_seconds / old::TIME_S[0]
            ),
        ]);
    }
    text += &table.render();
    let own = median(&own_work_rate);
    text += &format!(
        "\nCPU shares are of one core; the machine has {}. For comparison, the raw consumer used {} CPU s and \
         the decoding consumer {} CPU s for the same backlog.\n\n\
         The projector's own serial work per batch is its pipeline thread's CPU plus the wait inside inserts: \
         {} s for the backlog, i.e. it could keep up with about {} tags/s if messages were always waiting (an \
         estimate: it ignores that ClickHouse, the broker and the projector share the cores; 18.16: {} \
         tags/s, {} inserts).\n\n## Reading\n\n",
        info.machine.cores,
        or_dash(median(&|run| Some(run.raw.cpu_s)), |value| fixed(value, 1)),
        or_dash(median(&|run| Some(run.decode.cpu_s)), |value| fixed(value, 1)),
        or_dash(median(&|run| Some(pipeline_cpu(run) + run.catch_up.insert_s)), |value| fixed(value, 1)),
        or_dash(own, thousands),
        thousands(old::OWN_WORK_RATE),
        fixed(old::INSERTS, 0),
    );
    let broker_share = share(&|run| run.catch_up.broker_cpu_s);
    text += &match (catch_up, raw) {
        (Some(catch_up), _) if catch_up >= TARGET_RATE => {
            format!("The catch-up meets the {} tags/s target.\n", thousands(TARGET_RATE))
        }
        (Some(catch_up), Some(raw)) if raw < TARGET_RATE => format!(
            "The target is above what this broker serves: a consumer that does nothing but receive reads this \
             backlog at {} tags/s, and no consumer of the same broker can catch up faster. The broker used {} \
             of a core during the catch-up (Tansu 0.6's sqlite storage), while the projector's own work would \
             keep up with about {} tags/s. The projector reaches {:.2} of the raw consume rate; the difference \
             is mostly ClickHouse and the projector taking CPU from the broker on shared cores. With a broker \
             that serves faster (production runs Apache Kafka; not measured here), the projector's own figure \
             above becomes the bound.\n",
            thousands(raw),
            or_dash(broker_share, |value| fixed(value, 2)),
            or_dash(own, thousands),
            catch_up / raw
        ),
        (Some(_), Some(_)) => "The projector is below the target while the raw consume rate is above it: the \
             gap is the projector's own (see where the time goes).\n"
            .to_owned(),
        _ => "Not measured.\n".to_owned(),
    };
    Ok(text)
}
