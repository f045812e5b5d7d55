//! The loaded day of tags the read-path benchmarks measure on (`bench read`, `bench
//! burst`), prepared by one code path so both measure the same database the same way:
//! - [`DayOptions`]: which scratch database and how many tags (the same flags and
//!   environment variables for every part that uses it, so the parts share one load);
//! - [`load`]: loads the tags of loadgen's stream with [`crate::loader`], or reuses an
//!   earlier load of the same tags (unless `--force-load`);
//! - [`settle`]: waits for merges to settle, reads the tables into the page cache and
//!   notes the parts, so a measurement starts on a quiet, warm database;
//! - [`services_on`]: moves the three services onto the database and a scratch topic
//!   (back to the defaults when the returned guard is restored or dropped);
//! - [`shape`]: the data's shape, for drawing realistic requests ([`RequestMix`]).
//!
//! [`RequestMix`]: crate::queries::RequestMix

use crate::database::{self, TableParts};
use crate::error::BenchError;
use crate::loader::{LoadOptions, LoadReport};
use crate::queries::DataShape;
use crate::stack::{Restore, Scratch, Stack};
use clap::Args;
use loadgen::stream::Cardinalities;
use std::path::PathBuf;
use std::time::Duration;

/// A day at 1,000 tags/s: the default size, below which a run is a smoke run.
pub const FULL_DAY_TAGS: u64 = 86_400_000;

/// Flags of the loaded day (shared by `bench read` and `bench burst`).
#[derive(Debug, Clone, Args)]
pub struct DayOptions {
    /// The scratch database holding the loaded tags (kept between runs).
    #[arg(long, env = "BENCH_READ_DB", default_value = "bench_read")]
    pub database: String,
    /// Tags to load (86,400,000: a day at 1,000 tags/s).
    #[arg(long = "tags", env = "BENCH_READ_TAGS", default_value_t = FULL_DAY_TAGS)]
    pub tags: u64,
    /// Seed of the loaded stream.
    #[arg(long, env = "BENCH_READ_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Rows per insert while loading.
    #[arg(long, env = "BENCH_LOAD_CHUNK_ROWS", default_value_t = 1_000_000)]
    pub chunk_rows: u64,
    /// Load again even when the database already holds these tags.
    #[arg(long, env = "BENCH_READ_FORCE_LOAD")]
    pub force_load: bool,
    /// Longest wait for merges to settle after loading, seconds.
    #[arg(long, env = "BENCH_READ_SETTLE_S", default_value_t = 600)]
    pub settle_s: u64,
    /// Partitions of the scratch topic.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 2)]
    pub partitions: u32,
    /// The migrations applied to the scratch database.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    pub migrations_dir: PathBuf,
}

impl DayOptions {
    /// Whether the day is full size.
    pub fn full_size(&self) -> bool {
        self.tags >= FULL_DAY_TAGS
    }
}

/// The day, loaded and settled.
#[derive(Debug, Clone)]
pub struct LoadedDay {
    /// The load (this run's or an earlier one's).
    pub load: LoadReport,
    /// Whether merges had settled before measuring.
    pub merges_settled: bool,
    /// Bytes read into the page cache.
    pub warmed_bytes: u64,
    /// Parts when the measurements start.
    pub parts_before: Vec<TableParts>,
}

/// Loads the day into `options.database`, or checks that an earlier load is there.
pub async fn load(stack: &Stack, options: &DayOptions) -> Result<LoadReport, BenchError> {
    crate::loader::load(&LoadOptions {
        clickhouse: stack.clickhouse(&options.database),
        migrations_dir: stack.settings.repo_root.join(&options.migrations_dir),
        tags: options.tags,
        seed: options.seed,
        chunk_rows: options.chunk_rows,
        force: options.force_load,
        insert_timeout: Duration::from_secs(600),
    })
    .await
    .map_err(BenchError::from)
}

/// Waits for merges to settle (at most `--settle-s`), reads the tables into the page
/// cache and notes the parts.
pub async fn settle(
    stack: &Stack,
    options: &DayOptions,
    load: LoadReport,
) -> Result<LoadedDay, BenchError> {
    let server = service_kit::clickhouse::server_client(&stack.settings.clickhouse);
    let database = &options.database;
    tracing::info!(database, "waiting for merges to settle");
    let merges_settled =
        database::wait_for_merges(&server, database, Duration::from_secs(options.settle_s)).await?;
    tracing::info!(database, "reading the tables into the page cache");
    let warmed_bytes = database::warm_page_cache(&server, database).await?;
    let parts_before = database::parts(&server, database).await?;
    Ok(LoadedDay {
        load,
        merges_settled,
        warmed_bytes,
        parts_before,
    })
}

/// Creates a scratch topic `<prefix>_<unix seconds>` (and its dead-letter topic) and
/// restarts the three services on it and on the day's database; restore the guard when
/// done.
pub async fn services_on(
    stack: &Stack,
    options: &DayOptions,
    prefix: &str,
) -> Result<Restore, BenchError> {
    let scratch = Scratch::new(prefix, Some(&options.database));
    stack
        .create_topic(&scratch.topic, options.partitions)
        .await?;
    stack.create_topic(&scratch.dead_letter_topic(), 1).await?;
    stack.services_on(&scratch).await
}

/// The shape of the loaded data: its event-time span and loadgen's cardinalities (the
/// loader draws the default ones).
pub fn shape(load: &LoadReport) -> DataShape {
    let sizes = Cardinalities::default();
    DataShape {
        start_ms: load.start_ms,
        end_ms: load.end_ms,
        cookies: sizes.cookies,
        origins: sizes.origins,
        brands: sizes.brands,
        categories: sizes.categories,
        countries: sizes.countries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_spans_the_load_with_the_streams_sizes() {
        let load = LoadReport {
            database: "bench_read".to_owned(),
            tags: 1_000,
            seed: 1,
            start_ms: 10,
            end_ms: 1_010,
            loaded_now: false,
            seconds: 1.0,
            rows_per_second: 1_000.0,
            chunk_rows: 1_000,
            trimmed_rows: None,
        };
        let shape = shape(&load);
        assert_eq!((shape.start_ms, shape.end_ms), (10, 1_010));
        assert_eq!(
            (shape.cookies, shape.origins, shape.brands, shape.categories),
            (1_000_000, 1_000, 250, 67)
        );
    }
}
