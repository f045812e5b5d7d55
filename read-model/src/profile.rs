//! A shopper's profile read back from `user_tags`: the reads, how copies are dropped,
//! and how the answer is assembled from them.
//!
//! `user_tags` is a ReplacingMergeTree: copies of one tag (the same cookie, action and
//! event time, written again by a replay) collapse when parts merge, not at once. A
//! read therefore takes a margin of rows beyond the limit and drops copies itself
//! ([`newest_distinct`]); the row kept is the one from the latest log offset, as the
//! merge would keep it.
//!
//! [`newest`] and [`newest_many`] are the reads: usually one query of both actions; an
//! action whose share was cut short (by copies, or by the other action) gets a read of
//! its own ([`ProfileRows`] names the four statements; ClickHouse's [`Client`]
//! implements it, and the tests use rows in memory).

use crate::codes::action_code;
use crate::rows::{CookieProfileRow, ProfileRow, RowError};
use crate::work::{LoggedClient, Work};
use clickhouse::Client;
use schemas::{Action, EventTime, UserTag, MAX_FIELD_BYTES};
use std::collections::{HashMap, HashSet};
use std::future::Future;

/// One cookie's newest rows in the range, both actions, `?` of them: an `ORDER BY ..
/// LIMIT`, which ClickHouse answers with a partial sort in one pass over the cookie's
/// rows. Read into [`ProfileRow`]. Binds: cookie, from ms, to ms, row count.
const NEWEST_ROWS: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// [`NEWEST_ROWS`] for several cookies in one query (read-api batches profile requests
/// that arrive together): each cookie's newest rows in its own range, `?` of them per
/// cookie, read into [`CookieProfileRow`]. The cookies are one `IN` set,
/// which the primary key turns into one range of marks per cookie, and each row's range
/// is looked up by its cookie (`transform`), so the query's text, and what ClickHouse
/// analyses and plans, does not grow with the batch. Spelled out as an `OR` of one
/// (cookie, range) condition per cookie, a batch of 32 cost 20-26 ms of ClickHouse CPU
/// instead of 8-12 ms, most of it analysing, planning and building the pipeline for
/// the 96 conditions (26.9, `system.query_log`, the same rows read and returned).
/// Binds: the cookies (distinct), the cookies and each one's `from` ms, the cookies and
/// each one's `to` ms (arrays, in the same order), then the row count per cookie and
/// action.
///
/// The rows are limited per cookie *and action*: a batch reads every row of each
/// cookie's range anyway (so does [`NEWEST_ROWS`]: the sort key puts the action before
/// the time, so no read of both actions newest first can stop early), so keeping each
/// action's share costs nothing more, and a busy shopper (hundreds of views for each
/// buy) no longer needs a read of its own per action after the batch. Those reads ran
/// one by one after it, holding the batcher's slots: in `bench burst` on the 86.4M-tag
/// day (2026-12-05) every batch of 32 was followed by about nine of them, and most of a
/// 200-request burst expired in the queue behind them.
const NEWEST_ROWS_OF_COOKIES: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie IN ? \
      AND time_ms >= transform(cookie, ?, ?, 0) \
      AND time_ms < transform(cookie, ?, ?, 0) \
    ORDER BY cookie, time_ms DESC LIMIT ? BY cookie, action";

/// The same for one action: for an action the first read was too short for (a busy
/// shopper with far more views than buys in the range, say). Binds: cookie, action,
/// from ms, to ms, row count.
const NEWEST_ROWS_OF_ACTION: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// One action's newest tags, one row per event time (the latest copy), with a full
/// sort: the exact read for the rare action whose first read held more copies than
/// [`DUPLICATE_MARGIN`]. Binds: cookie, action, from ms, to ms, limit.
const NEWEST_DISTINCT_OF_ACTION: &str = "\
    SELECT ?fields FROM ( \
        SELECT * FROM user_tags \
        WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
        ORDER BY time_ms DESC, kafka_offset DESC \
        LIMIT 1 BY time_ms \
    ) \
    ORDER BY time_ms DESC \
    LIMIT ?";

/// Rows read beyond the limit for each action, room for copies of replayed tags.
pub const DUPLICATE_MARGIN: u64 = 64;

/// A shopper's tags in a time range, newest first, at most the asked limit of each action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Views, newest first.
    pub views: Vec<UserTag>,
    /// Buys, newest first.
    pub buys: Vec<UserTag>,
}

impl Profile {
    /// `cookie`'s profile from each action's rows (already newest first, one per event
    /// time).
    pub fn from_rows(
        cookie: &str,
        views: &[ProfileRow],
        buys: &[ProfileRow],
    ) -> Result<Self, RowError> {
        let tags = |rows: &[ProfileRow]| -> Result<Vec<UserTag>, RowError> {
            rows.iter().map(|row| row.to_tag(cookie)).collect()
        };
        Ok(Self {
            views: tags(views)?,
            buys: tags(buys)?,
        })
    }
}

/// Splits rows of both actions into (views, buys), keeping their order.
pub fn split_by_action(rows: Vec<ProfileRow>) -> (Vec<ProfileRow>, Vec<ProfileRow>) {
    let view = action_code(Action::View);
    rows.into_iter().partition(|row| row.action == view)
}

/// The newest `limit` rows of `rows` (one action's rows), one per event time, newest
/// first; of copies of one tag, the one from the latest log offset. `None` when the
/// read was cut (`complete` false) short of `limit` distinct times, so older tags may
/// be missing and the caller must read more.
pub fn newest_distinct(
    mut rows: Vec<ProfileRow>,
    limit: u64,
    complete: bool,
) -> Option<Vec<ProfileRow>> {
    rows.sort_by(|a, b| {
        b.time_ms
            .cmp(&a.time_ms)
            .then(b.kafka_offset.cmp(&a.kafka_offset))
    });
    rows.dedup_by_key(|row| row.time_ms);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() >= limit {
        rows.truncate(limit);
        Some(rows)
    } else if complete {
        Some(rows)
    } else {
        None
    }
}

/// What one profile read asks: a cookie's newest tags in `[from, to)`, at most `limit`
/// of each action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieRead<'a> {
    /// The shopper.
    pub cookie: &'a str,
    /// First instant included.
    pub from: EventTime,
    /// First instant excluded.
    pub to: EventTime,
    /// At most this many tags of each action.
    pub limit: u64,
}

impl CookieRead<'_> {
    /// Whether ClickHouse need not be asked: no tag carries a cookie this long, and a
    /// zero limit wants nothing.
    fn is_empty(&self) -> bool {
        self.cookie.len() > MAX_FIELD_BYTES || self.limit == 0
    }
}

/// Why a profile read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse read failed")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A stored row is not a valid tag (a bug or a foreign writer).
    #[error("stored row is not a valid tag")]
    InvalidRow(#[from] RowError),
}

/// The four statements a profile is assembled from. ClickHouse's [`Client`] runs them
/// (on whatever settings the caller gave it); the bind order lives in its
/// implementation only.
pub trait ProfileRows: Sync {
    /// The cookie's newest `rows` rows of the range, both actions, newest first.
    fn newest_rows(
        &self,
        read: CookieRead<'_>,
        rows: u64,
    ) -> impl Future<Output = Result<Vec<ProfileRow>, clickhouse::error::Error>> + Send;

    /// Each cookie's newest `rows` rows of each action in its range, in one query; the
    /// cookies are distinct.
    fn newest_rows_of_cookies(
        &self,
        reads: &[CookieRead<'_>],
        rows: u64,
    ) -> impl Future<Output = Result<Vec<CookieProfileRow>, clickhouse::error::Error>> + Send;

    /// The cookie's newest `rows` rows of one action, newest first.
    fn newest_rows_of_action(
        &self,
        read: CookieRead<'_>,
        action: Action,
        rows: u64,
    ) -> impl Future<Output = Result<Vec<ProfileRow>, clickhouse::error::Error>> + Send;

    /// The cookie's newest `read.limit` tags of one action, one row per event time (the
    /// latest copy), newest first: exact, with a full sort.
    fn newest_distinct_of_action(
        &self,
        read: CookieRead<'_>,
        action: Action,
    ) -> impl Future<Output = Result<Vec<ProfileRow>, clickhouse::error::Error>> + Send;
}

impl ProfileRows for Client {
    async fn newest_rows(
        &self,
        read: CookieRead<'_>,
        rows: u64,
    ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
        self.query_for(Work::ProfileRead, NEWEST_ROWS)
            .bind(read.cookie)
            .bind(read.from.millis())
            .bind(read.to.millis())
            .bind(rows)
            .fetch_all::<ProfileRow>()
            .await
    }

    async fn newest_rows_of_cookies(
        &self,
        reads: &[CookieRead<'_>],
        rows: u64,
    ) -> Result<Vec<CookieProfileRow>, clickhouse::error::Error> {
        let cookies: Vec<&str> = reads.iter().map(|read| read.cookie).collect();
        let froms: Vec<i64> = reads.iter().map(|read| read.from.millis()).collect();
        let tos: Vec<i64> = reads.iter().map(|read| read.to.millis()).collect();
        self.query_for(Work::ProfileRead, NEWEST_ROWS_OF_COOKIES)
            .bind(&cookies)
            .bind(&cookies)
            .bind(&froms)
            .bind(&cookies)
            .bind(&tos)
            .bind(rows)
            .fetch_all::<CookieProfileRow>()
            .await
    }

    async fn newest_rows_of_action(
        &self,
        read: CookieRead<'_>,
        action: Action,
        rows: u64,
    ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
        self.query_for(Work::ProfileRead, NEWEST_ROWS_OF_ACTION)
            .bind(read.cookie)
            .bind(action.as_str())
            .bind(read.from.millis())
            .bind(read.to.millis())
            .bind(rows)
            .fetch_all::<ProfileRow>()
            .await
    }

    async fn newest_distinct_of_action(
        &self,
        read: CookieRead<'_>,
        action: Action,
    ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
        self.query_for(Work::ProfileRead, NEWEST_DISTINCT_OF_ACTION)
            .bind(read.cookie)
            .bind(action.as_str())
            .bind(read.from.millis())
            .bind(read.to.millis())
            .bind(read.limit)
            .fetch_all::<ProfileRow>()
            .await
    }
}

/// Rows read (both actions) for a profile of `limit` tags per action: room for copies
/// of replayed tags in each action's share.
fn rows_to_read(limit: u64) -> u64 {
    rows_per_action(limit).saturating_mul(2)
}

/// Rows read of each action for a profile of `limit` tags per action: room for copies.
fn rows_per_action(limit: u64) -> u64 {
    limit.saturating_add(DUPLICATE_MARGIN)
}

/// `read.cookie`'s tags in the range, newest first, one per event time, at most
/// `read.limit` of each action. Usually one query; a busy shopper whose newest rows are
/// nearly all of one action takes one more for the other. A cookie longer than any a
/// tag may carry has no tags: ClickHouse is not asked.
pub async fn newest<R: ProfileRows>(
    source: &R,
    read: CookieRead<'_>,
) -> Result<Profile, ReadError> {
    if read.is_empty() {
        return Ok(Profile::default());
    }
    let rows_read = rows_to_read(read.limit);
    let rows = source.newest_rows(read, rows_read).await?;
    finish(source, read, rows, rows_read).await
}

/// The profiles of several reads, in order, read together in one query (plus the rare
/// per-action read a busy shopper needs): what many requests arriving at once cost
/// ClickHouse is mostly the per-query work, paid once here. Each answer is what
/// [`newest`] gives alone. A cookie asked twice is read apart the second time (one
/// query's rows of a cookie serve one range).
pub async fn newest_many<R: ProfileRows>(
    source: &R,
    reads: &[CookieRead<'_>],
) -> Result<Vec<Profile>, ReadError> {
    if let [single] = reads {
        return Ok(vec![newest(source, *single).await?]);
    }
    let mut seen = HashSet::new();
    let batched: Vec<bool> = reads
        .iter()
        .map(|read| !read.is_empty() && seen.insert(read.cookie))
        .collect();
    let asked: Vec<CookieRead<'_>> = reads
        .iter()
        .zip(&batched)
        .filter_map(|(read, batched)| batched.then_some(*read))
        .collect();
    let per_action = asked
        .iter()
        .map(|read| rows_per_action(read.limit))
        .max()
        .unwrap_or(0);
    let mut by_cookie: HashMap<String, Vec<ProfileRow>> = HashMap::new();
    if !asked.is_empty() {
        for row in source.newest_rows_of_cookies(&asked, per_action).await? {
            let (cookie, row) = row.into_profile_row();
            by_cookie.entry(cookie).or_default().push(row);
        }
    }
    let mut profiles = Vec::with_capacity(reads.len());
    for (read, batched) in reads.iter().zip(batched) {
        if !batched {
            profiles.push(newest(source, *read).await?);
            continue;
        }
        let rows = by_cookie.remove(read.cookie).unwrap_or_default();
        // Each action's share was limited apart: one with fewer rows holds them all.
        let (views, buys) = split_by_action(rows);
        let views_complete = (views.len() as u64) < per_action;
        let buys_complete = (buys.len() as u64) < per_action;
        profiles.push(
            finish_actions(
                source,
                *read,
                (views, views_complete),
                (buys, buys_complete),
            )
            .await?,
        );
    }
    Ok(profiles)
}

/// The profile from the newest `rows_read` rows of a cookie's range (both actions): an
/// action whose share was cut short by copies or by the other action gets a read of its
/// own.
async fn finish<R: ProfileRows>(
    source: &R,
    read: CookieRead<'_>,
    rows: Vec<ProfileRow>,
    rows_read: u64,
) -> Result<Profile, ReadError> {
    // Fewer rows than were asked for: the read holds every row of the range.
    let complete = (rows.len() as u64) < rows_read;
    let (views, buys) = split_by_action(rows);
    finish_actions(source, read, (views, complete), (buys, complete)).await
}

/// The profile from each action's newest rows of the range, each with whether they
/// are all of that action's rows in the range; an action cut short (by copies, or by
/// the other action) gets a read of its own.
async fn finish_actions<R: ProfileRows>(
    source: &R,
    read: CookieRead<'_>,
    (views, views_complete): (Vec<ProfileRow>, bool),
    (buys, buys_complete): (Vec<ProfileRow>, bool),
) -> Result<Profile, ReadError> {
    let per_action = rows_per_action(read.limit);
    let views = match newest_distinct(views, read.limit, views_complete) {
        Some(newest) => newest,
        None => newest_of_action(source, read, Action::View, per_action).await?,
    };
    let buys = match newest_distinct(buys, read.limit, buys_complete) {
        Some(newest) => newest,
        None => newest_of_action(source, read, Action::Buy, per_action).await?,
    };
    Ok(Profile::from_rows(read.cookie, &views, &buys)?)
}

/// One action's newest `read.limit` tags: its newest `rows_read` rows, or the exact
/// read when even those were mostly copies.
async fn newest_of_action<R: ProfileRows>(
    source: &R,
    read: CookieRead<'_>,
    action: Action,
    rows_read: u64,
) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
    let rows = source
        .newest_rows_of_action(read, action, rows_read)
        .await?;
    let complete = (rows.len() as u64) < rows_read;
    match newest_distinct(rows, read.limit, complete) {
        Some(newest) => Ok(newest),
        None => source.newest_distinct_of_action(read, action).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_ms: i64, offset: i64) -> ProfileRow {
        ProfileRow {
            action: 1,
            time_ms,
            time_text: String::new(),
            country: "PL".into(),
            device: 1,
            origin: "o".into(),
            product_id: "1".into(),
            product_id_is_text: 0,
            brand_id: "b".into(),
            category_id: "k".into(),
            price: 1,
            kafka_offset: offset,
        }
    }

    fn times(rows: Option<Vec<ProfileRow>>) -> Option<Vec<i64>> {
        rows.map(|rows| rows.iter().map(|row| row.time_ms).collect())
    }

    #[test]
    fn copies_are_dropped_and_the_newest_kept_in_order() {
        let rows = vec![row(3, 1), row(9, 2), row(5, 3), row(9, 4), row(7, 5)];
        assert_eq!(
            times(newest_distinct(rows.clone(), 3, true)),
            Some(vec![9, 7, 5])
        );
        assert_eq!(
            times(newest_distinct(rows, 10, true)),
            Some(vec![9, 7, 5, 3])
        );
    }

    #[test]
    fn of_copies_the_one_from_the_latest_offset_is_kept() {
        let mut older = row(9, 1);
        older.price = 10;
        let mut newer = row(9, 8);
        newer.price = 20;
        let kept = newest_distinct(vec![older, newer], 1, true).expect("complete");
        assert_eq!(kept[0].price, 20);
    }

    #[test]
    fn a_cut_read_with_enough_distinct_rows_is_exact() {
        let rows = vec![row(9, 1), row(9, 2), row(8, 3), row(8, 4), row(7, 5)];
        assert_eq!(times(newest_distinct(rows, 2, false)), Some(vec![9, 8]));
    }

    #[test]
    fn a_cut_read_short_of_distinct_rows_asks_for_more() {
        let rows = vec![row(9, 1), row(9, 2), row(9, 3), row(8, 4)];
        assert_eq!(times(newest_distinct(rows, 3, false)), None);
    }

    #[test]
    fn a_zero_limit_gives_nothing() {
        assert_eq!(
            times(newest_distinct(vec![row(1, 1)], 0, true)),
            Some(vec![])
        );
    }

    #[test]
    fn a_batch_read_does_not_grow_with_the_batch() {
        assert_eq!(NEWEST_ROWS_OF_COOKIES.matches('?').count(), 1 + 5 + 1);
        assert!(NEWEST_ROWS_OF_COOKIES.contains("LIMIT ? BY cookie"));
    }

    /// `user_tags` in memory, answering the four statements as ClickHouse does, and
    /// counting the reads each one served.
    struct InMemory {
        rows: Vec<(String, ProfileRow)>,
        reads: std::sync::Mutex<Vec<&'static str>>,
    }

    impl InMemory {
        fn new(rows: Vec<(&str, ProfileRow)>) -> Self {
            Self {
                rows: rows
                    .into_iter()
                    .map(|(cookie, row)| (cookie.to_owned(), row))
                    .collect(),
                reads: std::sync::Mutex::new(Vec::new()),
            }
        }

        fn served(&self, statement: &'static str) {
            self.reads.lock().expect("not poisoned").push(statement);
        }

        fn reads(&self) -> Vec<&'static str> {
            self.reads.lock().expect("not poisoned").clone()
        }

        /// The cookie's rows in the range (of one action, if given), newest first.
        fn matching(&self, read: CookieRead<'_>, action: Option<Action>) -> Vec<ProfileRow> {
            let mut rows: Vec<ProfileRow> = self
                .rows
                .iter()
                .filter(|(cookie, row)| {
                    cookie == read.cookie
                        && row.time_ms >= read.from.millis()
                        && row.time_ms < read.to.millis()
                        && action.is_none_or(|action| row.action == action_code(action))
                })
                .map(|(_, row)| row.clone())
                .collect();
            rows.sort_by_key(|row| std::cmp::Reverse(row.time_ms));
            rows
        }
    }

    fn limited(mut rows: Vec<ProfileRow>, count: u64) -> Vec<ProfileRow> {
        rows.truncate(usize::try_from(count).unwrap_or(usize::MAX));
        rows
    }

    impl ProfileRows for InMemory {
        async fn newest_rows(
            &self,
            read: CookieRead<'_>,
            rows: u64,
        ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
            self.served("newest_rows");
            Ok(limited(self.matching(read, None), rows))
        }

        async fn newest_rows_of_cookies(
            &self,
            reads: &[CookieRead<'_>],
            rows: u64,
        ) -> Result<Vec<CookieProfileRow>, clickhouse::error::Error> {
            self.served("newest_rows_of_cookies");
            Ok(reads
                .iter()
                .flat_map(|read| {
                    [Action::View, Action::Buy]
                        .into_iter()
                        .flat_map(|action| limited(self.matching(*read, Some(action)), rows))
                        .map(|row| CookieProfileRow {
                            cookie: read.cookie.to_owned(),
                            action: row.action,
                            time_ms: row.time_ms,
                            time_text: row.time_text,
                            country: row.country,
                            device: row.device,
                            origin: row.origin,
                            product_id: row.product_id,
                            product_id_is_text: row.product_id_is_text,
                            brand_id: row.brand_id,
                            category_id: row.category_id,
                            price: row.price,
                            kafka_offset: row.kafka_offset,
                        })
                })
                .collect())
        }

        async fn newest_rows_of_action(
            &self,
            read: CookieRead<'_>,
            action: Action,
            rows: u64,
        ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
            self.served("newest_rows_of_action");
            Ok(limited(self.matching(read, Some(action)), rows))
        }

        async fn newest_distinct_of_action(
            &self,
            read: CookieRead<'_>,
            action: Action,
        ) -> Result<Vec<ProfileRow>, clickhouse::error::Error> {
            self.served("newest_distinct_of_action");
            let mut rows = self.matching(read, Some(action));
            rows.sort_by(|a, b| {
                b.time_ms
                    .cmp(&a.time_ms)
                    .then(b.kafka_offset.cmp(&a.kafka_offset))
            });
            rows.dedup_by_key(|row| row.time_ms);
            Ok(limited(rows, read.limit))
        }
    }

    fn tag_row(action: Action, time_ms: i64, offset: i64) -> ProfileRow {
        let mut row = row(time_ms, offset);
        row.action = action_code(action);
        row.price = i32::try_from(offset).unwrap_or(i32::MAX);
        row
    }

    fn read(cookie: &str, from: i64, to: i64, limit: u64) -> CookieRead<'_> {
        CookieRead {
            cookie,
            from: EventTime::from_millis(from),
            to: EventTime::from_millis(to),
            limit,
        }
    }

    fn millis(tags: &[UserTag]) -> Vec<i64> {
        tags.iter().map(|tag| tag.time.millis()).collect()
    }

    fn prices(tags: &[UserTag]) -> Vec<i32> {
        tags.iter().map(|tag| tag.product_info.price).collect()
    }

    #[tokio::test]
    async fn a_profile_is_each_actions_newest_in_the_range_newest_first() {
        let source = InMemory::new(vec![
            ("c", tag_row(Action::View, 10, 1)),
            ("c", tag_row(Action::Buy, 20, 2)),
            ("c", tag_row(Action::View, 30, 3)),
            ("c", tag_row(Action::View, 40, 4)),
            ("c", tag_row(Action::View, 50, 5)),
            ("c", tag_row(Action::Buy, 99, 6)),
            ("other", tag_row(Action::View, 35, 7)),
        ]);
        let profile = newest(&source, read("c", 10, 99, 2)).await.expect("read");
        assert_eq!(millis(&profile.views), vec![50, 40]);
        assert_eq!(millis(&profile.buys), vec![20]);
        assert!(profile.views.iter().all(|tag| tag.cookie == "c"));
        assert_eq!(source.reads(), vec!["newest_rows"]);
    }

    #[tokio::test]
    async fn an_action_crowded_out_of_the_first_read_gets_its_own() {
        // 300 newer views fill the first read (both actions, 2 * (limit + margin)).
        let mut rows: Vec<(&str, ProfileRow)> = (0..300)
            .map(|index| ("c", tag_row(Action::View, 1_000 + index, index)))
            .collect();
        rows.push(("c", tag_row(Action::Buy, 5, 900)));
        rows.push(("c", tag_row(Action::Buy, 7, 901)));
        let source = InMemory::new(rows);
        let profile = newest(&source, read("c", 0, 10_000, 3))
            .await
            .expect("read");
        assert_eq!(millis(&profile.views), vec![1_299, 1_298, 1_297]);
        assert_eq!(millis(&profile.buys), vec![7, 5]);
        assert_eq!(source.reads(), vec!["newest_rows", "newest_rows_of_action"]);
    }

    #[tokio::test]
    async fn copies_beyond_the_margin_take_the_exact_read_and_the_latest_copy() {
        // The newest view replayed far more often than the margin allows for.
        let mut rows: Vec<(&str, ProfileRow)> = (0..400)
            .map(|copy| ("c", tag_row(Action::View, 500, copy)))
            .collect();
        rows.push(("c", tag_row(Action::View, 400, 1_000)));
        let source = InMemory::new(rows);
        let profile = newest(&source, read("c", 0, 1_000, 2)).await.expect("read");
        assert_eq!(millis(&profile.views), vec![500, 400]);
        assert_eq!(prices(&profile.views), vec![399, 1_000]);
        assert!(profile.buys.is_empty());
        assert_eq!(
            source.reads(),
            vec![
                "newest_rows",
                "newest_rows_of_action",
                "newest_distinct_of_action",
                "newest_rows_of_action"
            ]
        );
    }

    #[tokio::test]
    async fn a_batch_answers_each_read_as_it_is_answered_alone() {
        let source = InMemory::new(vec![
            ("a", tag_row(Action::View, 10, 1)),
            ("a", tag_row(Action::View, 20, 2)),
            ("a", tag_row(Action::Buy, 30, 3)),
            ("b", tag_row(Action::View, 15, 4)),
            ("b", tag_row(Action::View, 25, 5)),
        ]);
        let reads = [
            read("a", 0, 100, 1),
            read("b", 0, 20, 5),
            read("a", 15, 100, 5),
            read("b", 0, 100, 0),
            read("nobody", 0, 100, 5),
        ];
        let batched = newest_many(&source, &reads).await.expect("batch");
        let mut alone = Vec::new();
        for read in reads {
            alone.push(newest(&source, read).await.expect("alone"));
        }
        assert_eq!(batched, alone);
        assert_eq!(millis(&batched[0].views), vec![20]);
        assert_eq!(millis(&batched[1].views), vec![15]);
        assert_eq!(millis(&batched[2].views), vec![20]);
        assert_eq!(batched[3], Profile::default());
        // One query for the distinct cookies, one more for "a" asked again; a zero
        // limit is not asked.
        assert_eq!(
            &source.reads()[..2],
            &["newest_rows_of_cookies", "newest_rows"]
        );
    }

    #[tokio::test]
    async fn a_batch_gives_a_busy_shoppers_rarer_action_its_share_without_a_read_of_its_own() {
        // 600 views newer than every buy: a read of both actions together (as a lone
        // read is) holds views only, and the buys need a read of their own.
        let mut rows: Vec<(&str, ProfileRow)> = (0..600)
            .map(|index| ("busy", tag_row(Action::View, 1_000 + index, index)))
            .collect();
        rows.push(("busy", tag_row(Action::Buy, 5, 900)));
        rows.push(("busy", tag_row(Action::Buy, 7, 901)));
        rows.push(("calm", tag_row(Action::Buy, 8, 902)));
        let source = InMemory::new(rows);
        let reads = [read("busy", 0, 10_000, 200), read("calm", 0, 10_000, 200)];
        let batched = newest_many(&source, &reads).await.expect("batch");
        assert_eq!(millis(&batched[0].buys), vec![7, 5]);
        assert_eq!(batched[0].views.len(), 200);
        assert_eq!(millis(&batched[1].buys), vec![8]);
        assert_eq!(source.reads(), vec!["newest_rows_of_cookies"]);
        let alone = newest(&source, reads[0]).await.expect("alone");
        assert_eq!(batched[0], alone);
    }
}
