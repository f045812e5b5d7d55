//! The data loader: puts a realistic volume of tags straight into a migrated scratch
//! database, for the read benchmark (a day: 86,400,000 tags at 1,000 tags/s), the
//! whole-platform run (a platform that is not empty) and, later, a soak.
//!
//! The tags are loadgen's own stream ([`TagStream`], the same seed gives the same tags
//! loadgen sends), from [`loadgen::stream::STREAM_START_MS`], 1 ms apart. Each becomes
//! the row the projector would write ([`UserTagRow::from_tag`]), inserted with the
//! projector's insert settings, so the materialized view fills `minute_aggregates` from
//! the same inserts. The rows carry a synthetic log position (partition `i % 4`, offset
//! `i / 4` for tag `i`): they are **not in the Kafka log**, so `projector rebuild`
//! cannot reproduce them, and the database is a scratch one by definition.
//!
//! Rows go in chunks (1,000,000 by default: one insert, one block, under ClickHouse's
//! `max_insert_block_size`), each with its own `insert_deduplication_token`, so a
//! chunk retried after an error or an interrupted load is not counted twice (the
//! tables keep the last 10,000 tokens). The next chunk is generated while the current
//! one is inserted.
//!
//! Once loaded, the profile store is trimmed as the projector trims it
//! ([`projector::Trimmer`], with the projector's policy: each cookie and action
//! keeps its newest 200 tags plus the recent window), and the table rewritten, so the
//! database holds what a day of projection would have left, and the projector of a
//! benchmark does not start by deleting the loaded backlog under the measurements.
//!
//! A finished load is recorded in the database's `bench_load` table; a later load of
//! the same tags (count, seed) reuses the database unless forced. The scratch database
//! keeps its aggregates for a year ([`RETENTION_MINUTES`]), so a day loaded today is
//! still whole next week (the default window, 24 h of ingestion time, would drop it).

use clickhouse::sql::Identifier;
use clickhouse::Client;
use loadgen::stream::{Cardinalities, TagStream, STREAM_START_MS};
use read_model::{LogPosition, UserTagRow};
use serde::{Deserialize, Serialize};
use service_kit::settings::ClickHouseSettings;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Minutes the scratch database keeps aggregate rows after ingestion: a year.
pub const RETENTION_MINUTES: u32 = 365 * 24 * 60;

/// Partitions of the synthetic log positions.
const SYNTHETIC_PARTITIONS: u64 = 4;

/// Attempts per chunk (the same token each time).
const CHUNK_ATTEMPTS: u32 = 3;

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// ClickHouse and the scratch database (created and migrated if needed).
    pub clickhouse: ClickHouseSettings,
    /// The migrations to apply.
    pub migrations_dir: PathBuf,
    /// Tags to load.
    pub tags: u64,
    /// The stream's seed.
    pub seed: u64,
    /// Rows per insert.
    pub chunk_rows: u64,
    /// Reload even when the database already holds these tags.
    pub force: bool,
    /// Longest one chunk's insert may take.
    pub insert_timeout: Duration,
}

/// What the loader did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The database.
    pub database: String,
    /// Tags the database holds from the loader.
    pub tags: u64,
    /// The stream's seed.
    pub seed: u64,
    /// First event time, ms.
    pub start_ms: i64,
    /// Event time after the last tag, ms.
    pub end_ms: i64,
    /// Whether this call loaded them (false: reused from an earlier load).
    pub loaded_now: bool,
    /// Seconds the load took (this call's, or the earlier one's).
    pub seconds: f64,
    /// Rows inserted per second (`tags / seconds`).
    pub rows_per_second: f64,
    /// Rows per insert.
    pub chunk_rows: u64,
    /// Rows the trimmer deleted after this load (`None`: reused, or results of a version
    /// that did not trim).
    #[serde(default)]
    pub trimmed_rows: Option<u64>,
}

/// Why the load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Creating or migrating the database failed.
    #[error("migrating {database}")]
    Migrate {
        /// The database.
        database: String,
        /// The cause.
        #[source]
        source: migrations::MigrationError,
    },
    /// ClickHouse refused a request.
    #[error("clickhouse: {what}")]
    ClickHouse {
        /// What was asked.
        what: String,
        /// The cause.
        #[source]
        source: clickhouse::error::Error,
    },
    /// A chunk failed every attempt.
    #[error("chunk {chunk} (rows from {first_row}) failed {CHUNK_ATTEMPTS} times")]
    Chunk {
        /// The chunk's number.
        chunk: u64,
        /// Its first tag's number.
        first_row: u64,
        /// The last attempt's error.
        #[source]
        source: clickhouse::error::Error,
    },
    /// Generating a chunk failed (its task panicked).
    #[error("generating rows")]
    Generate(#[source] tokio::task::JoinError),
    /// The projector's settings (its trimming policy) do not parse.
    #[error("the projector's settings")]
    ProjectorSettings(#[source] clap::Error),
    /// Trimming the loaded profile store failed.
    #[error("trimming the loaded tags")]
    Trim(#[source] projector::TrimError),
}

fn clickhouse_error(what: &str) -> impl FnOnce(clickhouse::error::Error) -> LoadError + '_ {
    move |source| LoadError::ClickHouse {
        what: what.to_owned(),
        source,
    }
}

/// The rows of tags `first .. first + count` of the stream, continuing `stream`.
fn rows(stream: &mut TagStream, first: u64, count: u64) -> Vec<UserTagRow> {
    stream
        .by_ref()
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .zip(first..)
        .map(|(tag, index)| UserTagRow::from_tag(&tag, synthetic_position(index)))
        .collect()
}

/// Where tag `index` pretends to sit in the log.
pub fn synthetic_position(index: u64) -> LogPosition {
    LogPosition {
        partition: (index % SYNTHETIC_PARTITIONS) as i32,
        offset: (index / SYNTHETIC_PARTITIONS) as i64,
    }
}

/// The deduplication token of a chunk: the same chunk of the same load always gets
/// the same token.
pub fn chunk_token(seed: u64, chunk_rows: u64, chunk: u64) -> String {
    format!("bench-load:seed={seed}:rows={chunk_rows}:chunk={chunk}")
}

/// The event-time span of `tags` tags from the stream start.
pub fn span(tags: u64) -> (i64, i64) {
    (
        STREAM_START_MS,
        STREAM_START_MS + i64::try_from(tags).unwrap_or(i64::MAX),
    )
}

/// Migrates the database (a year of aggregate retention), then loads the tags unless
/// an earlier load of the same tags is recorded there (or `force`: then the database is
/// dropped and loaded again).
pub async fn load(options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let database = options.clickhouse.database.clone();
    let server = service_kit::clickhouse::server_client(&options.clickhouse);
    if options.force {
        tracing::info!(%database, "dropping the database to load it again");
        server
            .query("DROP DATABASE IF EXISTS ? SYNC")
            .bind(Identifier(&database))
            .execute()
            .await
            .map_err(clickhouse_error("dropping the database"))?;
    }
    migrate(&server, &database, options).await?;
    let client = service_kit::clickhouse::client(&options.clickhouse);
    let (start_ms, end_ms) = span(options.tags);
    if let Some(previous) = recorded(&client).await? {
        if previous.tags == options.tags && previous.seed == options.seed {
            tracing::info!(%database, tags = previous.tags, seed = previous.seed, "reusing the loaded database");
            return Ok(LoadReport {
                database,
                tags: previous.tags,
                seed: previous.seed,
                start_ms,
                end_ms,
                loaded_now: false,
                seconds: previous.seconds,
                rows_per_second: previous.tags as f64 / previous.seconds.max(1e-9),
                chunk_rows: previous.chunk_rows,
                trimmed_rows: None,
            });
        }
        tracing::info!(%database, held = previous.tags, held_seed = previous.seed, "the database holds other tags: loading it again");
        server
            .query("DROP DATABASE ? SYNC")
            .bind(Identifier(&database))
            .execute()
            .await
            .map_err(clickhouse_error("dropping the database"))?;
        migrate(&server, &database, options).await?;
    }
    let started = Instant::now();
    insert_all(&client, options).await?;
    let seconds = started.elapsed().as_secs_f64();
    let trimmed_rows = trim(&client).await?;
    record(&client, options, seconds).await?;
    tracing::info!(%database, tags = options.tags, seconds, rows_per_second = options.tags as f64 / seconds, "loaded");
    Ok(LoadReport {
        database,
        tags: options.tags,
        seed: options.seed,
        start_ms,
        end_ms,
        loaded_now: true,
        seconds,
        rows_per_second: options.tags as f64 / seconds.max(1e-9),
        chunk_rows: options.chunk_rows,
        trimmed_rows: Some(trimmed_rows),
    })
}

/// Trims the loaded profile store once with the projector's policy (its flags'
/// environment fallbacks, `PROJECTOR_TRIM_*`, apply), then rewrites the table when rows
/// went; returns the rows deleted (0 when the projector's policy is not to trim).
async fn trim(client: &Client) -> Result<u64, LoadError> {
    let config = <projector::Config as clap::Parser>::try_parse_from(["projector"])
        .map_err(LoadError::ProjectorSettings)?;
    let Some(policy) = config.trim_policy() else {
        return Ok(0);
    };
    let trimmer = projector::Trimmer::new(client.clone(), policy);
    let started = Instant::now();
    let report = trimmer.run_once().await.map_err(LoadError::Trim)?;
    if report.rows_deleted > 0 {
        trimmer.reclaim().await.map_err(LoadError::Trim)?;
    }
    tracing::info!(
        rows_deleted = report.rows_deleted,
        pairs = report.pairs,
        seconds = started.elapsed().as_secs_f64(),
        "trimmed the loaded tags as the projector would"
    );
    Ok(report.rows_deleted)
}

async fn migrate(server: &Client, database: &str, options: &LoadOptions) -> Result<(), LoadError> {
    let migrate_error = |source| LoadError::Migrate {
        database: database.to_owned(),
        source,
    };
    migrations::apply(server, database, &options.migrations_dir)
        .await
        .map_err(migrate_error)?;
    let retention = migrations::Retention {
        aggregates_minutes: RETENTION_MINUTES,
    };
    migrations::apply_retention(server, database, &migrations::Target::SingleNode, retention)
        .await
        .map_err(migrate_error)?;
    Ok(())
}

/// Inserts every chunk, generating the next while the current one is inserted.
async fn insert_all(client: &Client, options: &LoadOptions) -> Result<(), LoadError> {
    let chunk_rows = options.chunk_rows.max(1);
    let chunks = options.tags.div_ceil(chunk_rows);
    let generate = |mut stream: TagStream, chunk: u64| {
        let first = chunk * chunk_rows;
        let count = chunk_rows.min(options.tags - first);
        tokio::task::spawn_blocking(move || {
            let rows = rows(&mut stream, first, count);
            (stream, rows)
        })
    };
    let stream = TagStream::new(options.seed, Cardinalities::default());
    let mut next = (chunks > 0).then(|| generate(stream, 0));
    let mut inserted = 0_u64;
    let started = Instant::now();
    for chunk in 0..chunks {
        let Some(pending) = next.take() else {
            break;
        };
        let (stream, rows) = pending.await.map_err(LoadError::Generate)?;
        if chunk + 1 < chunks {
            next = Some(generate(stream, chunk + 1));
        }
        let token = chunk_token(options.seed, chunk_rows, chunk);
        insert_chunk(client, &rows, &token, options.insert_timeout)
            .await
            .map_err(|source| LoadError::Chunk {
                chunk,
                first_row: chunk * chunk_rows,
                source,
            })?;
        inserted += rows.len() as u64;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            chunk = chunk + 1,
            chunks,
            inserted,
            rows_per_second = (inserted as f64 / seconds) as u64,
            "chunk inserted"
        );
    }
    Ok(())
}

/// Inserts one chunk as the projector inserts a batch (deduplication token, views
/// deduplicated too), retrying with the same token.
pub async fn insert_chunk(
    client: &Client,
    rows: &[UserTagRow],
    token: &str,
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut attempt = 1;
    loop {
        let outcome = read_model::tags::insert(client, rows, token, timeout).await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(error) if attempt < CHUNK_ATTEMPTS => {
                tracing::warn!(token, attempt, error = %service_kit::error::chain(&error), "chunk insert failed; retrying with the same token");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// A finished load, as `bench_load` records it.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
struct Recorded {
    tags: u64,
    seed: u64,
    chunk_rows: u64,
    seconds: f64,
}

const RECORD_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_load \
    (tags UInt64, seed UInt64, chunk_rows UInt64, seconds Float64, finished_at DateTime DEFAULT now()) \
    ENGINE = MergeTree ORDER BY finished_at";

/// Creates `bench_load` unless it exists (a reload drops it with the database).
async fn create_record_table(client: &Client) -> Result<(), LoadError> {
    client
        .query(RECORD_TABLE)
        .execute()
        .await
        .map_err(clickhouse_error("creating bench_load"))
}

/// The latest finished load recorded in the database.
async fn recorded(client: &Client) -> Result<Option<Recorded>, LoadError> {
    create_record_table(client).await?;
    client
        .query("SELECT ?fields FROM bench_load ORDER BY finished_at DESC LIMIT 1")
        .fetch_optional::<Recorded>()
        .await
        .map_err(clickhouse_error("reading bench_load"))
}

async fn record(client: &Client, options: &LoadOptions, seconds: f64) -> Result<(), LoadError> {
    create_record_table(client).await?;
    let mut insert = client
        .insert::<Recorded>("bench_load")
        .await
        .map_err(clickhouse_error("recording the load"))?;
    insert
        .write(&Recorded {
            tags: options.tags,
            seed: options.seed,
            chunk_rows: options.chunk_rows,
            seconds,
        })
        .await
        .map_err(clickhouse_error("recording the load"))?;
    insert
        .end()
        .await
        .map_err(clickhouse_error("recording the load"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_stream_as_the_projector_writes_it() {
        let mut stream = TagStream::new(5, Cardinalities::default());
        let first = rows(&mut stream, 0, 3);
        let second = rows(&mut stream, 3, 2);
        let expected: Vec<UserTagRow> = TagStream::new(5, Cardinalities::default())
            .take(5)
            .enumerate()
            .map(|(index, tag)| UserTagRow::from_tag(&tag, synthetic_position(index as u64)))
            .collect();
        assert_eq!([first, second].concat(), expected);
        assert_eq!(expected[4].time_ms - expected[0].time_ms, 4);
        assert_eq!(
            (expected[4].kafka_partition, expected[4].kafka_offset),
            (0, 1)
        );
    }

    #[test]
    fn tokens_name_the_chunk_of_the_load() {
        assert_eq!(chunk_token(1, 1000, 7), chunk_token(1, 1000, 7));
        assert_ne!(chunk_token(1, 1000, 7), chunk_token(1, 1000, 8));
        assert_ne!(chunk_token(1, 1000, 7), chunk_token(2, 1000, 7));
        assert_eq!(
            span(86_400_000),
            (STREAM_START_MS, STREAM_START_MS + 86_400_000)
        );
    }
}
