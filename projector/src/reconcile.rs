//! `projector reconcile --from --to`: checks that the live minute aggregates still
//! match the log, for a window of event time.
//!
//! The whole log is replayed into a scratch database (as `projector rebuild` does, the
//! same projection code and rules), the live projector is waited for until it has
//! projected at least as far as the replay read, then every minute and every
//! combination of the five dimensions of the window (the cube's finest key, so every
//! coarser filter combination follows) is compared, count and revenue, and so is every
//! key of the one-dimension rollup the analysts' reads use (minute, dimension, value;
//! it is stored apart, so it is checked apart). Differences are printed, written as JSON, and counted in a Prometheus text file for the operator's
//! collector. The window must lie within the aggregates' retention (older live rows
//! may have been dropped on purpose).

use crate::config::Config;
use crate::rebuild::{rebuild, RebuildError};
use read_model::reconcile::{coverage, differences, drop_database, rollup_keys, Sides};
use read_model::BatchLogRow;
use schemas::EventTime;
use serde::Serialize;
use service_kit::metric_names::{reconcile, Metric};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the live projector may take to reach the replay's positions.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a reconciliation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The window is empty or reversed.
    #[error("the window is empty: --from must be before --to")]
    EmptyWindow,
    /// The replay failed.
    #[error("replaying the log")]
    Replay(#[from] RebuildError),
    /// ClickHouse failed.
    #[error("clickhouse")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The live projector did not reach the replay's positions in time.
    #[error("the live projector did not reach the log's end within {0:?}: compare later")]
    LiveBehind(Duration),
    /// A report could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What to reconcile, and where to put the outcome.
#[derive(Debug, Clone)]
pub struct ReconcileRequest {
    /// First minute included.
    pub from: EventTime,
    /// First minute excluded.
    pub to: EventTime,
    /// The scratch database (created, dropped afterwards unless `keep`).
    pub scratch_database: String,
    /// Keep the scratch database for inspection.
    pub keep: bool,
    /// Where the JSON report goes.
    pub json_out: Option<PathBuf>,
    /// Where the Prometheus text file goes.
    pub metrics_out: Option<PathBuf>,
    /// Folder of the migrations.
    pub migrations_dir: PathBuf,
}

pub(crate) use read_model::reconcile::Difference;

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    /// The window, `YYYY-MM-DDTHH:MM:SS`.
    pub from: String,
    /// The window's end.
    pub to: String,
    /// Messages replayed.
    pub messages_replayed: i64,
    /// Cube keys (minute and dimension combination) compared.
    pub combinations_compared: u64,
    /// Rollup keys (minute, dimension and value) compared.
    pub rollup_keys_compared: u64,
    /// Tags in the window according to the log.
    pub tags_in_log: u64,
    /// Tags in the window according to the live aggregates.
    pub tags_live: u64,
    /// Every key that differs.
    pub differences: Vec<Difference>,
    /// How long it took, seconds.
    pub seconds: f64,
}

/// Reconciles `config`'s live database with the log over the request's window.
pub async fn reconcile(
    config: Config,
    request: &ReconcileRequest,
) -> Result<ReconcileReport, ReconcileError> {
    let started = Instant::now();
    if request.from >= request.to {
        return Err(ReconcileError::EmptyWindow);
    }
    let live_database = config.clickhouse.database.clone();
    let mut replay_config = config.clone();
    // The scratch replay is compared and dropped: no need to trim it.
    replay_config.trim_interval = Duration::ZERO;
    let replay = rebuild(
        replay_config,
        &request.scratch_database,
        &request.migrations_dir,
        None,
        None,
    )
    .await?;
    let server = service_kit::clickhouse::server_client(&config.clickhouse);
    let outcome = async {
        wait_for_live(&config, &replay.positions).await?;
        let (from, to) = (epoch_seconds(request.from), epoch_seconds(request.to));
        let sides = Sides {
            live: &live_database,
            log: &request.scratch_database,
            from_seconds: from,
            to_seconds: to,
        };
        let differences = differences(&server, &sides).await?;
        let coverage = coverage(&server, &sides).await?;
        let rollup_keys = rollup_keys(&server, &sides).await?;
        Ok::<_, ReconcileError>((differences, coverage, rollup_keys))
    }
    .await;
    if !request.keep {
        let dropped = drop_database(&server, &request.scratch_database).await;
        if let Err(error) = dropped {
            tracing::warn!(error = %service_kit::error::chain(&error), database = %request.scratch_database, "scratch database not dropped");
        }
    }
    let (differences, coverage, rollup_keys) = outcome?;
    let report = ReconcileReport {
        from: request.from.to_bucket_string(),
        to: request.to.to_bucket_string(),
        messages_replayed: replay.messages,
        combinations_compared: coverage.combinations,
        rollup_keys_compared: rollup_keys,
        tags_in_log: coverage.log_tags,
        tags_live: coverage.live_tags,
        differences,
        seconds: started.elapsed().as_secs_f64(),
    };
    if let Some(path) = &request.json_out {
        write(
            path,
            &serde_json::to_vec_pretty(&report).unwrap_or_default(),
        )?;
    }
    if let Some(path) = &request.metrics_out {
        write(path, prometheus_text(&report).as_bytes())?;
    }
    Ok(report)
}

/// Waits until the live batch log is at least at `positions` in every partition.
async fn wait_for_live(
    config: &Config,
    positions: &HashMap<i32, i64>,
) -> Result<(), ReconcileError> {
    let client = service_kit::clickhouse::client(&config.clickhouse);
    let started = Instant::now();
    loop {
        let live: Vec<BatchLogRow> =
            read_model::batch_log::latest(&client, &config.kafka.topic).await?;
        let live: HashMap<i32, i64> = live
            .into_iter()
            .map(|entry| (entry.kafka_partition, entry.next_offset))
            .collect();
        let caught_up = positions.iter().all(|(partition, next)| {
            *next == 0 || live.get(partition).is_some_and(|live| live >= next)
        });
        if caught_up {
            // A batch whose log entry is written is inserted a moment later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(());
        }
        if started.elapsed() > CATCH_UP_TIMEOUT {
            return Err(ReconcileError::LiveBehind(CATCH_UP_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn epoch_seconds(time: EventTime) -> i64 {
    time.millis().div_euclid(1000)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReconcileError> {
    std::fs::write(path, bytes).map_err(|source| ReconcileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The report as Prometheus text (for a textfile collector).
pub(crate) fn prometheus_text(report: &ReconcileReport) -> String {
    let gauge = |metric: Metric, value: u64| {
        format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{from=\"{from}\",to=\"{to}\"}} {value}\n",
            name = metric.name,
            help = metric.help,
            kind = metric.kind.as_str(),
            from = report.from,
            to = report.to,
        )
    };
    gauge(reconcile::DIFFERENCES, report.differences.len() as u64)
        + &gauge(
            reconcile::COMBINATIONS_COMPARED,
            report.combinations_compared,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textfile a node exporter reads: its names and shape are the alert's contract.
    #[test]
    fn the_report_is_two_labelled_gauges() {
        let report = ReconcileReport {
            from: "2026-03-01T00:00:00".to_owned(),
            to: "2026-03-01T01:00:00".to_owned(),
            messages_replayed: 10,
            combinations_compared: 7,
            rollup_keys_compared: 3,
            tags_in_log: 10,
            tags_live: 10,
            differences: Vec::new(),
            seconds: 1.5,
        };
        assert_eq!(
            prometheus_text(&report),
            "# HELP allezon_reconcile_differences Cube and rollup keys whose live totals differ from the log's, last reconciliation.\n\
             # TYPE allezon_reconcile_differences gauge\n\
             allezon_reconcile_differences{from=\"2026-03-01T00:00:00\",to=\"2026-03-01T01:00:00\"} 0\n\
             # HELP allezon_reconcile_combinations_compared Cube keys compared, last reconciliation.\n\
             # TYPE allezon_reconcile_combinations_compared gauge\n\
             allezon_reconcile_combinations_compared{from=\"2026-03-01T00:00:00\",to=\"2026-03-01T01:00:00\"} 7\n"
        );
    }
}
