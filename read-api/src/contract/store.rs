//! The ClickHouse reads behind both contract endpoints, and the traits the handlers
//! reach them through ([`ProfileStore`], [`AggregatesStore`]: [`Store`] implements
//! both; a test can answer from memory). The statements, their binds and the assembly
//! of a profile from its reads are `read_model`'s; this module owns the client's
//! settings and the errors.

use clickhouse::Client;
use read_model::profile::{CookieRead, ReadError};
use read_model::{Profile, RowError};
use schemas::contract::{AggregatesQuery, TimeRange};
use service_kit::settings::ClickHouseSettings;
use std::future::Future;
use std::pin::Pin;

pub(crate) use read_model::cube::MinuteTotals;

/// A boxed future, so the traits below can be used as `dyn` objects.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Profile reads, batched: what the profile batcher reads through.
pub(crate) trait ProfileStore: Send + Sync + 'static {
    /// The profiles of `reads`, in order (see [`Store::profiles`]).
    fn read_profiles<'a>(
        &'a self,
        reads: &'a [ProfileRead],
    ) -> BoxFuture<'a, Result<Vec<Profile>, StoreError>>;
}

/// The contract's aggregates read: what `POST /aggregates` reads through.
pub(crate) trait AggregatesStore: Send + Sync + 'static {
    /// The totals of every minute of `query`'s range that has matching rows, in order
    /// (see [`Store::minute_totals`]).
    fn read_minute_totals<'a>(
        &'a self,
        query: &'a AggregatesQuery,
    ) -> BoxFuture<'a, Result<Vec<MinuteTotals>, StoreError>>;
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse read failed")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A stored row is not a valid tag (a bug or a foreign writer).
    #[error("stored row is not a valid tag")]
    InvalidRow(#[from] RowError),
    /// The read of a batch this request was part of failed.
    #[error("batched read failed")]
    Batch(#[source] std::sync::Arc<StoreError>),
}

impl From<ReadError> for StoreError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::ClickHouse(error) => Self::ClickHouse(error),
            ReadError::InvalidRow(error) => Self::InvalidRow(error),
        }
    }
}

/// Reads from the tables of `migrations/`.
#[derive(Clone)]
pub struct Store {
    client: Client,
}

impl Store {
    /// A store on the configured database. Connections are made per request, so a
    /// ClickHouse that comes back is used again without a restart.
    ///
    /// Queries run on one ClickHouse thread and use the uncompressed-block cache: each
    /// reads a handful of granules, often the same hot ones, so decompressing them
    /// again and setting up a thread pool cost more than the reading. A query whose
    /// caller gave up (its deadline passed and the connection was dropped) is cancelled
    /// by ClickHouse (`cancel_http_readonly_queries_on_client_close`), so abandoned
    /// work never piles up.
    pub fn new(settings: &ClickHouseSettings) -> Self {
        Self {
            client: service_kit::clickhouse::client(settings)
                .with_setting("max_threads", "1")
                .with_setting("use_uncompressed_cache", "1")
                // No JIT: a read is too short to gain from compiled expressions, and an
                // expression seen three times was compiled on the spot, inside the
                // query: 79 ms of CompileExpressionsMicroseconds in the aggregates reads
                // that took 111-130 ms (p99) under the contract's load (query_log).
                .with_setting("compile_expressions", "0")
                .with_setting("compile_aggregate_expressions", "0")
                .with_setting("compile_sort_description", "0")
                .with_setting("cancel_http_readonly_queries_on_client_close", "1"),
        }
    }

    /// The client of profile reads: the query plan's optimisation passes cost a point
    /// read more than they save (measured on 26.9: -5..-14% per read, the primary key
    /// and lazy materialisation still used; EXPLAIN indexes=1 shows it).
    fn profile_client(&self) -> Client {
        self.client
            .clone()
            .with_setting("query_plan_enable_optimizations", "0")
    }

    /// The same store with one more ClickHouse setting on every query (benchmarks turn
    /// `log_queries` on for the very queries read-api sends, with its own settings).
    pub fn with_setting(self, name: &str, value: &str) -> Self {
        Self {
            client: self.client.with_setting(name, value),
        }
    }

    /// The underlying client (for the readiness probe).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// `cookie`'s tags in `range`, newest first, one per event time, at most `limit` of
    /// each action (`read_model::profile::newest`).
    pub async fn profile(
        &self,
        cookie: &str,
        range: TimeRange,
        limit: u64,
    ) -> Result<Profile, StoreError> {
        let read = CookieRead {
            cookie,
            from: range.from(),
            to: range.to(),
            limit,
        };
        Ok(read_model::profile::newest(&self.profile_client(), read).await?)
    }

    /// The profiles of several reads, in order, read together in one query
    /// (`read_model::profile::newest_many`): each answer is what [`Self::profile`]
    /// gives alone.
    pub(crate) async fn profiles(&self, reads: &[ProfileRead]) -> Result<Vec<Profile>, StoreError> {
        let reads: Vec<CookieRead<'_>> = reads.iter().map(ProfileRead::as_cookie_read).collect();
        Ok(read_model::profile::newest_many(&self.profile_client(), &reads).await?)
    }

    /// The totals of every minute of the query's range that has matching rows, in
    /// order. A filter value longer than any a tag may carry matches nothing:
    /// ClickHouse is not asked.
    pub async fn minute_totals(
        &self,
        query: &AggregatesQuery,
    ) -> Result<Vec<MinuteTotals>, StoreError> {
        let (from_seconds, to_seconds) = query.epoch_seconds();
        let read = read_model::cube::MinuteTotalsRead {
            action: query.action(),
            from_seconds,
            to_seconds,
            filters: query.filters(),
        };
        Ok(read_model::cube::minute_totals(&self.client, &read).await?)
    }
}

impl ProfileStore for Store {
    fn read_profiles<'a>(
        &'a self,
        reads: &'a [ProfileRead],
    ) -> BoxFuture<'a, Result<Vec<Profile>, StoreError>> {
        Box::pin(self.profiles(reads))
    }
}

impl AggregatesStore for Store {
    fn read_minute_totals<'a>(
        &'a self,
        query: &'a AggregatesQuery,
    ) -> BoxFuture<'a, Result<Vec<MinuteTotals>, StoreError>> {
        Box::pin(self.minute_totals(query))
    }
}

/// One read of a batch: a cookie, its range and its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfileRead {
    /// The shopper.
    pub cookie: String,
    /// The range.
    pub range: TimeRange,
    /// At most this many tags of each action.
    pub limit: u64,
}

impl ProfileRead {
    fn as_cookie_read(&self) -> CookieRead<'_> {
        CookieRead {
            cookie: &self.cookie,
            from: self.range.from(),
            to: self.range.to(),
            limit: self.limit,
        }
    }
}
