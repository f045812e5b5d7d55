//! What the benchmarks ask ClickHouse about a database besides the measured queries:
//! its parts and bytes, whether merges and queries have settled before a measurement,
//! reading its files into the page cache, dropping a scratch database, and the server's
//! own per-query figures from `system.query_log` (rows read, time, CPU from
//! ProfileEvents), which the local server keeps (`deploy/local/clickhouse/config.xml`).

use crate::error::BenchError;
use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::time::{Duration, Instant};

/// Active parts of one table.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct TableParts {
    /// The table.
    pub table: String,
    /// Active parts.
    pub parts: u64,
    /// Rows in them.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes_on_disk: u64,
    /// Compressed bytes of the columns.
    pub compressed_bytes: u64,
}

/// The active parts of every table of `database`.
pub async fn parts(server: &Client, database: &str) -> Result<Vec<TableParts>, BenchError> {
    server
        .query(
            "SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, \
             sum(data_compressed_bytes) AS compressed_bytes \
             FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table",
        )
        .bind(database)
        .fetch_all()
        .await
        .map_err(BenchError::clickhouse(format!("parts of {database}")))
}

/// Drops `database` if it exists.
pub async fn drop_database(server: &Client, database: &str) -> Result<(), BenchError> {
    server
        .query("DROP DATABASE IF EXISTS ? SYNC")
        .bind(Identifier(database))
        .execute()
        .await
        .map_err(BenchError::clickhouse(format!("dropping {database}")))
}

/// Waits until ClickHouse runs no read in `database`, at most `timeout` (inserts, such
/// as the projector's under ingestion, and the local server's own keep-alive query do
/// not count). ClickHouse finishes reads whose client gave up (an overload leaves some
/// behind): a measurement starts once they are done. Returns whether it settled.
pub async fn wait_for_idle(
    server: &Client,
    database: &str,
    timeout: Duration,
) -> Result<bool, BenchError> {
    let started = Instant::now();
    loop {
        let running: u64 = server
            .query(
                "SELECT count() FROM system.processes \
                 WHERE query_kind = 'Select' AND current_database = ? AND query_id != queryID()",
            )
            .bind(database)
            .fetch_one()
            .await
            .map_err(BenchError::clickhouse("queries in flight"))?;
        if running == 0 {
            return Ok(true);
        }
        if started.elapsed() > timeout {
            tracing::warn!(running, "clickhouse still busy; measuring anyway");
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no merge runs in `database`, at most `timeout`. Returns whether it settled.
pub async fn wait_for_merges(
    server: &Client,
    database: &str,
    timeout: Duration,
) -> Result<bool, BenchError> {
    let started = Instant::now();
    loop {
        let merging: u64 = server
            .query("SELECT count() FROM system.merges WHERE database = ?")
            .bind(database)
            .fetch_one()
            .await
            .map_err(BenchError::clickhouse("merges in flight"))?;
        if merging == 0 {
            return Ok(true);
        }
        if started.elapsed() > timeout {
            tracing::warn!(merging, database, "merges still running; measuring anyway");
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads every file of `database`'s tables once, so the page cache holds them (a
/// server with this machine's memory keeps them there; right after a load or a reboot
/// the first minutes would measure the disk). Returns the bytes read.
pub async fn warm_page_cache(server: &Client, database: &str) -> Result<u64, BenchError> {
    let paths: Vec<Vec<String>> = server
        .query("SELECT data_paths FROM system.tables WHERE database = ?")
        .bind(database)
        .fetch_all()
        .await
        .map_err(BenchError::clickhouse(format!("data paths of {database}")))?;
    let roots: Vec<std::path::PathBuf> = paths.into_iter().flatten().map(Into::into).collect();
    tokio::task::spawn_blocking(move || roots.iter().map(|root| read_tree(root)).sum())
        .await
        .map_err(BenchError::from)
}

/// Bytes read from every file under `root` (unreadable entries skipped).
fn read_tree(root: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut total = 0;
    let mut buffer = vec![0_u8; 1 << 20];
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += read_tree(&path);
        } else if let Ok(mut file) = std::fs::File::open(&path) {
            while let Ok(read) = file.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                total += read as u64;
            }
        }
    }
    total
}

/// The server's own figures for a set of logged queries.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct LoggedQueries {
    /// Queries finished.
    pub queries: u64,
    /// Rows read, median.
    pub rows_p50: f64,
    /// Rows read, 99th percentile.
    pub rows_p99: f64,
    /// Server time, median, ms.
    pub duration_p50_ms: f64,
    /// Server time, 99th percentile, ms.
    pub duration_p99_ms: f64,
    /// CPU (user + system, all threads) per query, mean, µs.
    pub cpu_mean_us: f64,
    /// CPU of all the queries together, µs (absent from results written before it was
    /// kept).
    #[serde(default)]
    pub cpu_total_us: f64,
    /// CPU per query, median, µs.
    pub cpu_p50_us: f64,
    /// Peak memory per query, median, bytes.
    pub memory_p50_bytes: f64,
}

/// Which logged queries to summarise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// Profile reads (`FROM user_tags WHERE cookie = ...`, or `WHERE cookie IN ...` when
    /// read-api batches several).
    Profiles,
    /// Aggregates and series reads (`FROM minute_aggregates`, the cube, or `FROM
    /// minute_dimension_totals`, its one-dimension rollup).
    Aggregates,
}

impl QueryKind {
    /// A regular expression (`match`) that the kind's logged queries match.
    fn pattern(self) -> &'static str {
        match self {
            Self::Profiles => "FROM user_tags\\s+WHERE\\s+cookie (=|IN) ",
            Self::Aggregates => "FROM minute_",
        }
    }
}

/// Writes out what the server buffers for `system.query_log`, so a summary that follows
/// sees every query finished before it.
pub async fn flush_query_log(server: &Client) -> Result<(), BenchError> {
    server
        .query("SYSTEM FLUSH LOGS")
        .execute()
        .await
        .map_err(BenchError::clickhouse("flushing the query log"))
}

/// Summarises the reads of `kind` in `database` that finished between `from` and `to`
/// (unix seconds, as `event_time`), after flushing the log.
pub async fn logged_queries(
    server: &Client,
    database: &str,
    kind: QueryKind,
    from: u32,
    to: u32,
) -> Result<LoggedQueries, BenchError> {
    flush_query_log(server).await?;
    server
        .query(
            "SELECT count() AS queries, \
               toFloat64(quantileExact(0.5)(read_rows)) AS rows_p50, \
               toFloat64(quantileExact(0.99)(read_rows)) AS rows_p99, \
               toFloat64(quantileExact(0.5)(query_duration_ms)) AS duration_p50_ms, \
               toFloat64(quantileExact(0.99)(query_duration_ms)) AS duration_p99_ms, \
               toFloat64(avg(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds'])) AS cpu_mean_us, \
               toFloat64(sum(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds'])) AS cpu_total_us, \
               toFloat64(quantileExact(0.5)(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds'])) AS cpu_p50_us, \
               toFloat64(quantileExact(0.5)(memory_usage)) AS memory_p50_bytes \
             FROM system.query_log \
             WHERE type = 'QueryFinish' AND current_database = ? AND query_kind = 'Select' \
               AND event_time >= toDateTime(?) AND event_time <= toDateTime(?) AND match(query, ?)",
        )
        .bind(database)
        .bind(from)
        .bind(to)
        .bind(kind.pattern())
        .fetch_one::<LoggedQueries>()
        .await
        .map(|mut logged| {
            // An empty set gives NaNs: keep zeros instead.
            for value in [
                &mut logged.rows_p50,
                &mut logged.rows_p99,
                &mut logged.duration_p50_ms,
                &mut logged.duration_p99_ms,
                &mut logged.cpu_mean_us,
                &mut logged.cpu_total_us,
                &mut logged.cpu_p50_us,
                &mut logged.memory_p50_bytes,
            ] {
                if !value.is_finite() {
                    *value = 0.0;
                }
            }
            logged
        })
        .map_err(BenchError::clickhouse("summarising the query log"))
}

/// The server's clock, unix seconds (query-log windows are in its time).
pub async fn server_now(server: &Client) -> Result<u32, BenchError> {
    server
        .query("SELECT toUInt32(now())")
        .fetch_one()
        .await
        .map_err(BenchError::clickhouse("the server's clock"))
}

/// ClickHouse's CPU spent on one kind of work, from `system.query_log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkCpu {
    /// What the queries were for (see [`cpu_by_work`]).
    pub work: String,
    /// Queries finished.
    pub queries: u64,
    /// Their CPU seconds (user and system, ProfileEvents).
    pub cpu_s: f64,
    /// What a query of this work read; `None` for [`OTHER_WORK`] (several kinds summed)
    /// and in results from before it was kept.
    #[serde(default)]
    pub read: Option<ReadPerQuery>,
}

/// What one query read, median and 99th percentile over the queries of a work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReadPerQuery {
    /// Rows read (`read_rows`).
    pub rows: [f64; 2],
    /// Granules (marks) selected by the primary key (`SelectedMarks`).
    pub granules: [f64; 2],
    /// Data parts selected (`SelectedParts`).
    pub parts: [f64; 2],
}

/// One `log_comment`'s line of the query log.
#[derive(Debug, Row, Deserialize)]
struct LoggedWork {
    comment: String,
    queries: u64,
    cpu_s: f64,
    rows: Vec<f64>,
    granules: Vec<f64>,
    parts: Vec<f64>,
}

/// The median and 99th percentile of a logged `[p50, p99]`.
fn p50_p99(quantiles: &[f64]) -> [f64; 2] {
    match quantiles {
        [p50, p99] => [*p50, *p99],
        _ => [f64::NAN; 2],
    }
}

/// What a report calls the queries no typed function of read-model sent.
pub const OTHER_WORK: &str = "other (readiness, migrations, monitoring)";

/// The CPU of every query in `database` that finished between `from` and `to` (unix
/// seconds, as `event_time`), after flushing the log, by what it was for: the
/// [`read_model::Work`] its `log_comment` names (read-model tags every statement it sends,
/// so nothing here reads SQL text), most CPU first, and [`OTHER_WORK`] for the rest (the
/// services' readiness checks, migrations, the benchmark's own monitoring); with what a
/// query of each work read (rows, granules, parts). A projector batch's materialized
/// views run inside its insert and count with it. Merges, mutations and TTL drops run in
/// the background and are in no query: they are the process's CPU less these.
pub async fn cpu_by_work(
    server: &Client,
    database: &str,
    from: u32,
    to: u32,
) -> Result<Vec<WorkCpu>, BenchError> {
    flush_query_log(server).await?;
    let logged: Vec<LoggedWork> = server
        .query(
            "SELECT log_comment AS comment, count() AS queries, \
               sum(ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']) / 1e6 AS cpu_s, \
               [quantileExact(0.5)(toFloat64(read_rows)), quantileExact(0.99)(toFloat64(read_rows))] AS rows, \
               [quantileExact(0.5)(toFloat64(ProfileEvents['SelectedMarks'])), \
                quantileExact(0.99)(toFloat64(ProfileEvents['SelectedMarks']))] AS granules, \
               [quantileExact(0.5)(toFloat64(ProfileEvents['SelectedParts'])), \
                quantileExact(0.99)(toFloat64(ProfileEvents['SelectedParts']))] AS parts \
             FROM system.query_log \
             WHERE type = 'QueryFinish' AND current_database = ? \
               AND event_time >= toDateTime(?) AND event_time <= toDateTime(?) \
             GROUP BY log_comment",
        )
        .bind(database)
        .bind(from)
        .bind(to)
        .fetch_all::<LoggedWork>()
        .await
        .map_err(BenchError::clickhouse("ClickHouse's CPU by work"))?;
    Ok(by_work(logged))
}

/// Query-log groups by `log_comment` named by their work, the unnamed ones summed as
/// [`OTHER_WORK`], most CPU first.
fn by_work(logged: Vec<LoggedWork>) -> Vec<WorkCpu> {
    let mut works: Vec<WorkCpu> = Vec::new();
    for group in logged {
        let named = read_model::Work::from_log_comment(&group.comment);
        let work = named.map_or(OTHER_WORK, read_model::Work::label);
        match works.iter_mut().find(|known| known.work == work) {
            Some(known) => {
                known.queries += group.queries;
                known.cpu_s += group.cpu_s;
                known.read = None;
            }
            None => works.push(WorkCpu {
                work: work.to_owned(),
                queries: group.queries,
                cpu_s: group.cpu_s,
                read: named.map(|_| ReadPerQuery {
                    rows: p50_p99(&group.rows),
                    granules: p50_p99(&group.granules),
                    parts: p50_p99(&group.parts),
                }),
            }),
        }
    }
    works.sort_by(|a, b| b.cpu_s.total_cmp(&a.cpu_s));
    works
}

#[cfg(test)]
mod tests {
    use super::*;
    use read_model::Work;

    fn logged(comment: &str, queries: u64, cpu_s: f64) -> LoggedWork {
        LoggedWork {
            comment: comment.to_owned(),
            queries,
            cpu_s,
            rows: vec![1024.0, 9216.0],
            granules: vec![1.0, 9.0],
            parts: vec![1.0, 9.0],
        }
    }

    fn work(work: &str, queries: u64, cpu_s: f64, read: bool) -> WorkCpu {
        WorkCpu {
            work: work.to_owned(),
            queries,
            cpu_s,
            read: read.then_some(ReadPerQuery {
                rows: [1024.0, 9216.0],
                granules: [1.0, 9.0],
                parts: [1.0, 9.0],
            }),
        }
    }

    #[test]
    fn groups_are_named_by_their_work_and_the_unnamed_summed_as_other() {
        let works = by_work(vec![
            logged("", 3, 0.5),
            logged(Work::ProfileRead.log_comment(), 10, 2.0),
            logged("a client's own comment", 1, 0.25),
            logged(Work::Trim.log_comment(), 2, 1.0),
        ]);
        assert_eq!(
            works,
            vec![
                work("profile reads", 10, 2.0, true),
                work("trimmer", 2, 1.0, true),
                work(OTHER_WORK, 4, 0.75, false),
            ]
        );
    }
}
