//! The ClickHouse reads behind both endpoints. Every value from a request travels as a
//! bound parameter, never as SQL text; the queries themselves are named in
//! `read_model::queries`.

use crate::params::{AggregatesQuery, TimeRange};
use clickhouse::{Client, Row};
use read_model::profile::{newest_distinct, split_by_action, DUPLICATE_MARGIN};
use read_model::queries::{
    MINUTE_TOTALS, NEWEST_DISTINCT_OF_ACTION, NEWEST_ROWS, NEWEST_ROWS_OF_ACTION,
    NEWEST_ROWS_OF_COOKIES,
};
use read_model::{CookieProfileRow, Profile, ProfileRow, RowError};
use schemas::{Action, MAX_FIELD_BYTES};
use serde::Deserialize;
use service_kit::settings::ClickHouseSettings;
use std::collections::HashMap;

/// The totals of one minute that has data.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct MinuteTotals {
    /// The minute's start, epoch seconds.
    pub minute_start: u32,
    /// Number of matching tags.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
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
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `cookie`'s tags in `range`, newest first, one per event time, at most `limit` of
    /// each action. Usually one query; a busy shopper whose newest rows are nearly all
    /// of one action takes one more for the other. A cookie longer than any a tag may
    /// carry has no tags: ClickHouse is not asked.
    pub async fn profile(
        &self,
        cookie: &str,
        range: TimeRange,
        limit: u64,
    ) -> Result<Profile, StoreError> {
        if cookie.len() > MAX_FIELD_BYTES || limit == 0 {
            return Ok(Profile::default());
        }
        let read = rows_to_read(limit);
        let client = self.profile_client();
        let rows = client
            .query(NEWEST_ROWS)
            .bind(cookie)
            .bind(range.from().millis())
            .bind(range.to().millis())
            .bind(read)
            .fetch_all::<ProfileRow>()
            .await?;
        finish_profile(&client, cookie, range, limit, rows, read).await
    }

    /// The profiles of several reads, in order, read together in one query (plus the
    /// rare per-action read a busy shopper needs): what many requests arriving at once
    /// cost ClickHouse is mostly the per-query work, paid once here. Each answer is what
    /// [`Self::profile`] gives alone. A cookie asked twice is read apart the second time
    /// (one query's rows of a cookie serve one range).
    pub async fn profiles(&self, reads: &[ProfileRead]) -> Result<Vec<Profile>, StoreError> {
        if let [single] = reads {
            return Ok(vec![
                self.profile(&single.cookie, single.range, single.limit)
                    .await?,
            ]);
        }
        let mut seen = std::collections::HashSet::new();
        let batched: Vec<bool> = reads
            .iter()
            .map(|read| {
                read.cookie.len() <= MAX_FIELD_BYTES
                    && read.limit > 0
                    && seen.insert(read.cookie.as_str())
            })
            .collect();
        let asked: Vec<&ProfileRead> = reads
            .iter()
            .zip(&batched)
            .filter_map(|(read, batched)| batched.then_some(read))
            .collect();
        let read = asked
            .iter()
            .map(|read| rows_to_read(read.limit))
            .max()
            .unwrap_or(0);
        let client = self.profile_client();
        let mut by_cookie: HashMap<String, Vec<ProfileRow>> = HashMap::new();
        if !asked.is_empty() {
            let cookies: Vec<&str> = asked.iter().map(|read| read.cookie.as_str()).collect();
            let froms: Vec<i64> = asked
                .iter()
                .map(|read| read.range.from().millis())
                .collect();
            let tos: Vec<i64> = asked.iter().map(|read| read.range.to().millis()).collect();
            let query = client
                .query(NEWEST_ROWS_OF_COOKIES)
                .bind(&cookies)
                .bind(&cookies)
                .bind(&froms)
                .bind(&cookies)
                .bind(&tos)
                .bind(read);
            for row in query.fetch_all::<CookieProfileRow>().await? {
                let (cookie, row) = row.into_profile_row();
                by_cookie.entry(cookie).or_default().push(row);
            }
        }
        let mut profiles = Vec::with_capacity(reads.len());
        for (profile_read, batched) in reads.iter().zip(batched) {
            if !batched {
                profiles.push(
                    self.profile(&profile_read.cookie, profile_read.range, profile_read.limit)
                        .await?,
                );
                continue;
            }
            let rows = by_cookie.remove(&profile_read.cookie).unwrap_or_default();
            profiles.push(
                finish_profile(
                    &client,
                    &profile_read.cookie,
                    profile_read.range,
                    profile_read.limit,
                    rows,
                    read,
                )
                .await?,
            );
        }
        Ok(profiles)
    }

    /// The totals of every minute of the query's range that has matching rows, in
    /// order. A filter value longer than any a tag may carry matches nothing:
    /// ClickHouse is not asked.
    pub async fn minute_totals(
        &self,
        query: &AggregatesQuery,
    ) -> Result<Vec<MinuteTotals>, StoreError> {
        let filters = query.filters();
        let values = [&filters.origin, &filters.brand_id, &filters.category_id];
        if values.iter().any(|value| {
            value
                .as_ref()
                .is_some_and(|value| value.len() > MAX_FIELD_BYTES)
        }) {
            return Ok(Vec::new());
        }
        let (from_seconds, to_seconds) = query.epoch_seconds();
        let mut read = self
            .client
            .query(MINUTE_TOTALS)
            .bind(query.action().as_str())
            .bind(from_seconds)
            .bind(to_seconds);
        for filter in values {
            read = read
                .bind(u8::from(filter.is_some()))
                .bind(filter.as_deref().unwrap_or(""));
        }
        Ok(read.fetch_all::<MinuteTotals>().await?)
    }
}

/// One read of a batch: a cookie, its range and its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRead {
    /// The shopper.
    pub cookie: String,
    /// The range.
    pub range: TimeRange,
    /// At most this many tags of each action.
    pub limit: u64,
}

/// Rows read (both actions) for a profile of `limit` tags per action: room for copies
/// of replayed tags in each action's share.
fn rows_to_read(limit: u64) -> u64 {
    limit.saturating_add(DUPLICATE_MARGIN).saturating_mul(2)
}

/// The profile from the newest `read` rows of a cookie's range (both actions): an
/// action whose share was cut short by copies or by the other action gets a read of its
/// own.
async fn finish_profile(
    client: &Client,
    cookie: &str,
    range: TimeRange,
    limit: u64,
    rows: Vec<ProfileRow>,
    read: u64,
) -> Result<Profile, StoreError> {
    let per_action = limit.saturating_add(DUPLICATE_MARGIN);
    let complete = (rows.len() as u64) < read;
    let (views, buys) = split_by_action(rows);
    let views = match newest_distinct(views, limit, complete) {
        Some(newest) => newest,
        None => newest_of_action(client, cookie, Action::View, range, limit, per_action).await?,
    };
    let buys = match newest_distinct(buys, limit, complete) {
        Some(newest) => newest,
        None => newest_of_action(client, cookie, Action::Buy, range, limit, per_action).await?,
    };
    Ok(Profile::from_rows(cookie, &views, &buys)?)
}

/// One action's newest `limit` tags: [`NEWEST_ROWS_OF_ACTION`], or the exact
/// [`NEWEST_DISTINCT_OF_ACTION`] when even that read was mostly copies.
async fn newest_of_action(
    client: &Client,
    cookie: &str,
    action: Action,
    range: TimeRange,
    limit: u64,
    read: u64,
) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
    let rows = client
        .query(NEWEST_ROWS_OF_ACTION)
        .bind(cookie)
        .bind(action.as_str())
        .bind(range.from().millis())
        .bind(range.to().millis())
        .bind(read)
        .fetch_all::<ProfileRow>()
        .await?;
    let complete = (rows.len() as u64) < read;
    match newest_distinct(rows, limit, complete) {
        Some(newest) => Ok(newest),
        None => {
            client
                .query(NEWEST_DISTINCT_OF_ACTION)
                .bind(cookie)
                .bind(action.as_str())
                .bind(range.from().millis())
                .bind(range.to().millis())
                .bind(limit)
                .fetch_all::<ProfileRow>()
                .await
        }
    }
}
