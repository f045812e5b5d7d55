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
use clickhouse::sql::Identifier;
use clickhouse::Row;
use read_model::queries::LATEST_BATCHES;
use read_model::BatchLogRow;
use schemas::EventTime;
use serde::{Deserialize, Serialize};
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

/// One key whose live totals differ from the log's: a cube key (every dimension
/// given), or a rollup key (one dimension given, `*` for the four others).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Difference {
    /// `VIEW` or `BUY`.
    pub action: String,
    /// The minute, epoch seconds.
    pub minute: u32,
    /// Campaign.
    pub origin: String,
    /// Brand.
    pub brand_id: String,
    /// Category.
    pub category_id: String,
    /// Country.
    pub country: String,
    /// Device.
    pub device: String,
    /// Live count.
    pub live_count: u64,
    /// Live revenue.
    pub live_sum_price: i64,
    /// Count from the log.
    pub log_count: u64,
    /// Revenue from the log.
    pub log_sum_price: i64,
}

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

#[derive(Debug, Row, Deserialize)]
struct Coverage {
    combinations: u64,
    log_tags: u64,
    live_tags: u64,
}

/// The comparison of two databases' cubes over a window: a full outer join on the
/// cube's key (a side without a key counts zero). Binds: live database, from, to,
/// scratch database, from, to (identifiers and epoch seconds).
const COMPARE: &str = "\
    SELECT ?fields FROM ( \
        SELECT toString(action) AS action, toUInt32(minute) AS minute, toString(origin) AS origin, \
               toString(brand_id) AS brand_id, toString(category_id) AS category_id, \
               toString(country) AS country, toString(device) AS device, \
               live.c AS live_count, live.s AS live_sum_price, log.c AS log_count, log.s AS log_sum_price \
        FROM ( \
            SELECT action, minute, origin, brand_id, category_id, country, device, \
                   sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_aggregates \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, origin, brand_id, category_id, country, device \
        ) AS live \
        FULL OUTER JOIN ( \
            SELECT action, minute, origin, brand_id, category_id, country, device, \
                   sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_aggregates \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, origin, brand_id, category_id, country, device \
        ) AS log \
        USING (action, minute, origin, brand_id, category_id, country, device) \
        WHERE live.c != log.c OR live.s != log.s \
    ) ORDER BY minute, action, origin, brand_id, category_id, country, device";

/// How many cube keys and tags each side has in the window. Binds as [`COMPARE`].
const COVERAGE: &str = "\
    SELECT count() AS combinations, sum(log.c) AS log_tags, sum(live.c) AS live_tags FROM ( \
        SELECT action, minute, origin, brand_id, category_id, country, device, sum(count) AS c \
        FROM ?.minute_aggregates WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
        GROUP BY action, minute, origin, brand_id, category_id, country, device \
    ) AS live FULL OUTER JOIN ( \
        SELECT action, minute, origin, brand_id, category_id, country, device, sum(count) AS c \
        FROM ?.minute_aggregates WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
        GROUP BY action, minute, origin, brand_id, category_id, country, device \
    ) AS log USING (action, minute, origin, brand_id, category_id, country, device)";

/// [`COMPARE`] for the one-dimension rollup, a rollup key reported as a [`Difference`]
/// with `*` for the dimensions it sums over. Binds as [`COMPARE`].
const COMPARE_ROLLUP: &str = "\
    SELECT ?fields FROM ( \
        SELECT toString(action) AS action, toUInt32(minute) AS minute, \
               if(dimension = 'origin', value, '*') AS origin, \
               if(dimension = 'brand_id', value, '*') AS brand_id, \
               if(dimension = 'category_id', value, '*') AS category_id, \
               if(dimension = 'country', value, '*') AS country, \
               if(dimension = 'device', value, '*') AS device, \
               live.c AS live_count, live.s AS live_sum_price, log.c AS log_count, log.s AS log_sum_price \
        FROM ( \
            SELECT action, minute, dimension, value, sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_dimension_totals \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, dimension, value \
        ) AS live \
        FULL OUTER JOIN ( \
            SELECT action, minute, dimension, value, sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_dimension_totals \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, dimension, value \
        ) AS log \
        USING (action, minute, dimension, value) \
        WHERE live.c != log.c OR live.s != log.s \
    ) ORDER BY minute, action, origin, brand_id, category_id, country, device";

/// How many rollup keys the two sides have in the window. Binds as [`COMPARE`].
const ROLLUP_KEYS: &str = "\
    SELECT count() FROM ( \
        SELECT action, minute, dimension, value FROM ?.minute_dimension_totals \
        WHERE minute >= toDateTime(?) AND minute < toDateTime(?) GROUP BY ALL \
    ) AS live FULL OUTER JOIN ( \
        SELECT action, minute, dimension, value FROM ?.minute_dimension_totals \
        WHERE minute >= toDateTime(?) AND minute < toDateTime(?) GROUP BY ALL \
    ) AS log USING (action, minute, dimension, value)";

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
        let bind_sides = |query: clickhouse::query::Query| {
            query
                .bind(Identifier(&live_database))
                .bind(from)
                .bind(to)
                .bind(Identifier(&request.scratch_database))
                .bind(from)
                .bind(to)
        };
        let mut differences = bind_sides(server.query(COMPARE))
            .fetch_all::<Difference>()
            .await?;
        differences.extend(
            bind_sides(server.query(COMPARE_ROLLUP))
                .fetch_all::<Difference>()
                .await?,
        );
        let coverage = bind_sides(server.query(COVERAGE))
            .fetch_one::<Coverage>()
            .await?;
        let rollup_keys = bind_sides(server.query(ROLLUP_KEYS))
            .fetch_one::<u64>()
            .await?;
        Ok::<_, ReconcileError>((differences, coverage, rollup_keys))
    }
    .await;
    if !request.keep {
        let dropped = server
            .query("DROP DATABASE IF EXISTS ?")
            .bind(Identifier(&request.scratch_database))
            .execute()
            .await;
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
        let live: Vec<BatchLogRow> = client
            .query(LATEST_BATCHES)
            .bind(&config.kafka.topic)
            .fetch_all()
            .await?;
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
pub fn prometheus_text(report: &ReconcileReport) -> String {
    format!(
        "# HELP allezon_reconcile_differences Cube and rollup keys whose live totals differ from the log's, last reconciliation.\n\
         # TYPE allezon_reconcile_differences gauge\n\
         allezon_reconcile_differences{{from=\"{from}\",to=\"{to}\"}} {differences}\n\
         # HELP allezon_reconcile_combinations_compared Cube keys compared, last reconciliation.\n\
         # TYPE allezon_reconcile_combinations_compared gauge\n\
         allezon_reconcile_combinations_compared{{from=\"{from}\",to=\"{to}\"}} {compared}\n",
        from = report.from,
        to = report.to,
        differences = report.differences.len(),
        compared = report.combinations_compared,
    )
}
