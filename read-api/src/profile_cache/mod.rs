//! Profiles answered from memory: a cookie's profile read once from ClickHouse, kept up
//! to date from the tag log itself, so repeated reads of a shopper cost ClickHouse
//! nothing and see a tag as soon as the log holds it, before the projector has put it
//! into ClickHouse (the log is the source of truth; ClickHouse is one view of it, this
//! cache another).
//!
//! - [`state`]: the tail and the cached profiles, and why an answer from them is exact.
//! - [`outside`]: which shoppers the tail holds whole (first seen after it started), so
//!   they are answered without reading ClickHouse at all.
//! - [`tail`]: the consumer that feeds the tail from the projector's watermark on.
//! - here: the projector's watermark (read from its batch log), eviction of the tail
//!   behind it, and [`ProfileReader`], which answers from the cache or reads ClickHouse
//!   through the batcher and caches what it read.
//!
//! It assumes what the product guarantees: the projector is the only writer of
//! `user_tags`. Off unless `--profile-cache-cookies` is set (the stack and compose set
//! it).

mod outside;
pub(crate) mod state;
mod tail;

use crate::admission::batcher::ProfileBatcher;
use crate::admission::gate::GateError;
use crate::contract::store::{ProfileRead, StoreError};
use clickhouse::Client;
use read_model::Profile;
use schemas::contract::TimeRange;
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::metric_names::read_api as names;
use service_kit::settings::KafkaSettings;
use state::{CacheState, FillRead, Limits, Lookup, Offsets};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Tags of each action a cache fill reads (and a cached profile keeps at least): the
/// contract keeps the newest 200; twice that lets queries whose range ends a little
/// in the past (a harness that asks about settled tags) still be answered here.
pub(crate) const FILL_LIMIT: u64 = 400;

/// How often the projector's watermark is read (a read of its batch log costs
/// ClickHouse about 5 ms of CPU).
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

/// How far behind the projector's watermark the tail is evicted. A read's watermark is
/// taken before it goes to ClickHouse, and the tail must still reach back to it when
/// the read comes back (reads have a deadline far below this). Longer than that: a
/// shopper whose tags are all still in the tail is answered without ClickHouse (see
/// [`outside`]), and clients ask about shoppers they tagged a little while ago. A
/// minute at 1,000 tags/s is about 60,000 tags, some 20 MB.
const EVICT_BEHIND: Duration = Duration::from_secs(60);

/// Locks the cache's state; a panic while it was held leaves data that is still
/// consistent (every update is a single push, eviction or fill), so it is used on.
pub(crate) fn lock(state: &Mutex<CacheState>) -> MutexGuard<'_, CacheState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The cache: empty until its tail has started (the projector's watermark must be
/// known first).
#[derive(Clone)]
pub(crate) struct ProfileCache {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<Option<Arc<Mutex<CacheState>>>>,
    watermark: Mutex<Option<Offsets>>,
}

impl ProfileCache {
    /// Starts the cache: reads the projector's watermark from `client`'s database (until
    /// it can), then starts the tail from there and keeps the watermark current. Runs
    /// until `cancel`.
    pub(crate) fn start(
        kafka: KafkaSettings,
        client: Client,
        limits: Limits,
        cancel: CancellationToken,
    ) -> Result<Self, schemas::catalog::CatalogError> {
        let catalog = SchemaCatalog::from_registry_url(kafka.schema_registry_url.as_deref())?;
        let cache = Self {
            shared: Arc::new(Shared {
                state: Mutex::new(None),
                watermark: Mutex::new(None),
            }),
        };
        tokio::spawn(cache.clone().follow(kafka, client, limits, catalog, cancel));
        Ok(cache)
    }

    /// Starts the tail at the first watermark read, then reads the watermark every
    /// [`WATERMARK_EVERY`] and evicts the tail [`EVICT_BEHIND`] behind it.
    async fn follow(
        self,
        kafka: KafkaSettings,
        client: Client,
        limits: Limits,
        catalog: SchemaCatalog,
        cancel: CancellationToken,
    ) {
        let mut history: VecDeque<(Instant, Offsets)> = VecDeque::new();
        let mut ticker = tokio::time::interval(WATERMARK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut decoder = Some(TagDecoder::new(catalog));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let watermark = match read_watermark(&client, &kafka.topic).await {
                Ok(watermark) => watermark,
                Err(error) => {
                    tracing::debug!(%error, "profile cache: projector watermark not read");
                    continue;
                }
            };
            if decoder.is_some() {
                // After the watermark: every tag below it is older than this.
                let stored_before = match read_stored_before(&client).await {
                    Ok(stored_before) => stored_before,
                    Err(error) => {
                        tracing::debug!(%error, "profile cache: newest stored tag not read");
                        continue;
                    }
                };
                let Some(decoder) = decoder.take() else {
                    continue;
                };
                let state = Arc::new(Mutex::new(CacheState::new(
                    limits,
                    watermark.clone(),
                    stored_before,
                )));
                match tail::spawn(
                    kafka.clone(),
                    watermark.clone(),
                    Arc::clone(&state),
                    decoder,
                    Handle::current(),
                    cancel.clone(),
                ) {
                    Ok(_) => *self.state_slot() = Some(state),
                    Err(error) => {
                        tracing::error!(%error, "profile cache: log tail not started; profiles are read from ClickHouse only");
                        return;
                    }
                }
            }
            *self.watermark_slot() = Some(watermark.clone());
            let now = Instant::now();
            history.push_back((now, watermark));
            let mut evict = None;
            while history
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= EVICT_BEHIND)
            {
                evict = history.pop_front().map(|(_, watermark)| watermark);
            }
            if let (Some(below), Some(state)) = (evict, self.state()) {
                let mut state = lock(&state);
                state.evict_below(&below);
                metrics::gauge!(names::PROFILE_CACHE_TAIL_TAGS.name).set(state.tail_len() as f64);
            }
        }
    }

    fn state_slot(&self) -> MutexGuard<'_, Option<Arc<Mutex<CacheState>>>> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn watermark_slot(&self) -> MutexGuard<'_, Option<Offsets>> {
        self.shared
            .watermark
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state(&self) -> Option<Arc<Mutex<CacheState>>> {
        self.state_slot().clone()
    }

    fn lookup(&self, read: &ProfileRead) -> Lookup {
        match self.state() {
            Some(state) => lock(&state).lookup(
                &read.cookie,
                read.range.from().millis(),
                read.range.to().millis(),
                read.limit,
            ),
            None => Lookup::Miss,
        }
    }

    /// The watermark to take before a fill's read, when the cache can take fills.
    fn fill_watermark(&self) -> Option<Offsets> {
        let state = self.state()?;
        if !lock(&state).caught_up() {
            return None;
        }
        self.watermark_slot().clone()
    }

    fn fill(&self, cookie: &str, read: FillRead<'_>, watermark: &Offsets) -> bool {
        let Some(state) = self.state() else {
            return false;
        };
        let filled = lock(&state).fill(cookie, read, watermark);
        if let Err(refused) = filled {
            metrics::counter!(names::PROFILE_CACHE.name, "outcome" => "fill_refused").increment(1);
            tracing::debug!(%refused, "profile cache: read not cached");
        }
        filled.is_ok()
    }
}

/// The projector's watermark, from its batch log.
async fn read_watermark(client: &Client, topic: &str) -> Result<Offsets, clickhouse::error::Error> {
    let entries = tokio::time::timeout(
        Duration::from_secs(2),
        read_model::batch_log::latest(client, topic),
    )
    .await
    .map_err(|_| clickhouse::error::Error::TimedOut)??;
    Ok(entries
        .iter()
        .map(|entry| (entry.kafka_partition, entry.projected_below()))
        .collect())
}

/// One past the newest event time ClickHouse holds.
async fn read_stored_before(client: &Client) -> Result<i64, clickhouse::error::Error> {
    let newest = tokio::time::timeout(
        Duration::from_secs(30),
        read_model::tags::newest_time_ms(client),
    )
    .await
    .map_err(|_| clickhouse::error::Error::TimedOut)??;
    Ok(newest.saturating_add(1))
}

/// Profile reads: from the cache when it holds the answer, else from ClickHouse through
/// the batcher (and then into the cache).
#[derive(Clone)]
pub(crate) struct ProfileReader {
    batcher: ProfileBatcher,
    cache: Option<ProfileCache>,
}

impl ProfileReader {
    /// Reads through `batcher`, and `cache` when there is one.
    pub(crate) fn new(batcher: ProfileBatcher, cache: Option<ProfileCache>) -> Self {
        Self { batcher, cache }
    }

    /// `read`'s profile within `deadline`.
    pub(crate) async fn read(
        &self,
        read: ProfileRead,
        deadline: Duration,
    ) -> Result<Profile, GateError<StoreError>> {
        let Some(cache) = &self.cache else {
            return self.batcher.read(read, deadline).await;
        };
        let started = Instant::now();
        let outcome = match cache.lookup(&read) {
            Lookup::Hit(profile) => {
                metrics::counter!(names::PROFILE_CACHE.name, "outcome" => "hit").increment(1);
                return Ok(profile);
            }
            Lookup::Whole(profile) => {
                metrics::counter!(names::PROFILE_CACHE.name, "outcome" => "whole").increment(1);
                return Ok(profile);
            }
            Lookup::Short => "short",
            Lookup::Miss => "miss",
        };
        let Some(watermark) = cache.fill_watermark() else {
            metrics::counter!(names::PROFILE_CACHE.name, "outcome" => "unavailable").increment(1);
            return self.batcher.read(read, deadline).await;
        };
        metrics::counter!(names::PROFILE_CACHE.name, "outcome" => outcome).increment(1);
        // The cookie's newest tags from the query's start on, with no end: later queries
        // about the same shopper (whose ranges end later) are answered from them.
        let fill = ProfileRead {
            cookie: read.cookie.clone(),
            range: TimeRange::since(read.range.from()),
            limit: FILL_LIMIT.max(read.limit),
        };
        let filled = self.batcher.read(fill.clone(), deadline).await?;
        let fill_read = FillRead {
            profile: &filled,
            asked: usize::try_from(fill.limit).unwrap_or(usize::MAX),
            from_ms: fill.range.from().millis(),
        };
        if cache.fill(&read.cookie, fill_read, &watermark) {
            if let Lookup::Hit(profile) | Lookup::Whole(profile) = cache.lookup(&read) {
                return Ok(profile);
            }
        }
        let (from, to) = (read.range.from().millis(), read.range.to().millis());
        if let Some(profile) = fill_read.answer(from, to, read.limit) {
            return Ok(profile);
        }
        let left = deadline.saturating_sub(started.elapsed());
        self.batcher.read(read, left).await
    }
}
