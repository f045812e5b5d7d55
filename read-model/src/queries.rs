//! Every named query on the read models. Values always travel as bound parameters
//! (`?` with `.bind`), never as SQL text; `?fields` lists the columns of the row type
//! the result is read into.

/// One cookie's newest rows in the range, both actions, `?` of them: an `ORDER BY ..
/// LIMIT`, which ClickHouse answers with a partial sort in one pass over the cookie's
/// rows. Read into [`crate::ProfileRow`]. Binds: cookie, from ms, to ms, row count.
pub const NEWEST_ROWS: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// [`NEWEST_ROWS`] for several cookies in one query (read-api batches profile requests
/// that arrive together): each cookie's newest rows in its own range, `?` of them per
/// cookie, read into [`crate::rows::CookieProfileRow`]. The cookies are one `IN` set,
/// which the primary key turns into one range of marks per cookie, and each row's range
/// is looked up by its cookie (`transform`), so the query's text, and what ClickHouse
/// analyses and plans, does not grow with the batch. Spelled out as an `OR` of one
/// (cookie, range) condition per cookie, a batch of 32 cost 20-26 ms of ClickHouse CPU
/// instead of 8-12 ms, most of it analysing, planning and building the pipeline for
/// the 96 conditions (26.9, `system.query_log`, the same rows read and returned).
/// Binds: the cookies (distinct), the cookies and each one's `from` ms, the cookies and
/// each one's `to` ms (arrays, in the same order), then the row count per cookie.
pub const NEWEST_ROWS_OF_COOKIES: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie IN ? \
      AND time_ms >= transform(cookie, ?, ?, 0) \
      AND time_ms < transform(cookie, ?, ?, 0) \
    ORDER BY cookie, time_ms DESC LIMIT ? BY cookie";

/// The same for one action: for an action the first read was too short for (a busy
/// shopper with far more views than buys in the range, say). Binds: cookie, action,
/// from ms, to ms, row count.
pub const NEWEST_ROWS_OF_ACTION: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC LIMIT ?";

/// One action's newest tags, one row per event time (the latest copy), with a full
/// sort: the exact read for the rare action whose first read held more copies than
/// [`crate::profile::DUPLICATE_MARGIN`]. Binds: cookie, action, from ms, to ms, limit.
pub const NEWEST_DISTINCT_OF_ACTION: &str = "\
    SELECT ?fields FROM ( \
        SELECT * FROM user_tags \
        WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
        ORDER BY time_ms DESC, kafka_offset DESC \
        LIMIT 1 BY time_ms \
    ) \
    ORDER BY time_ms DESC \
    LIMIT ?";

/// Per-minute totals of one action in `[from, to)`, optionally filtered by origin,
/// brand and category, from the minute cube; rows are summed here because
/// `SummingMergeTree` merges them eventually, not at once. Each filter is a pair of
/// binds: whether it applies (0 or 1), then its value (the crate binds literals, so
/// ClickHouse folds the unused ones away). Binds: action, from and to as epoch seconds,
/// then (applies, value) for origin, brand and category.
pub const MINUTE_TOTALS: &str = "\
    SELECT ?fields FROM ( \
        SELECT toUInt32(minute) AS minute_start, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price \
        FROM minute_aggregates \
        WHERE action = ? AND minute >= toDateTime(?) AND minute < toDateTime(?) \
          AND (? = 0 OR origin = ?) \
          AND (? = 0 OR brand_id = ?) \
          AND (? = 0 OR category_id = ?) \
        GROUP BY minute \
    ) ORDER BY minute_start";

/// The filters of the analysts' queries on the minute cube: a pair of binds per
/// dimension (whether it applies, 0 or 1, then its value), in this order. A macro so
/// `concat!` can splice it into the queries' literals.
macro_rules! cube_filters {
    () => {
        "AND (? = 0 OR origin = ?) \
         AND (? = 0 OR brand_id = ?) \
         AND (? = 0 OR category_id = ?) \
         AND (? = 0 OR country = ?) \
         AND (? = 0 OR device = ?)"
    };
}

/// Totals per bucket of one action in `[from, to)` from the minute cube, filtered on any
/// of the five dimensions. Binds: bucket width in seconds, action, from and to as epoch
/// seconds, then the five filter pairs (dimension order: origin, brand, category,
/// country, device).
pub const SERIES: &str = concat!(
    "SELECT ?fields FROM ( \
        SELECT toUInt32(toStartOfInterval(minute, toIntervalSecond(?))) AS bucket_start, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price \
        FROM minute_aggregates \
        WHERE action = ? AND minute >= toDateTime(?) AND minute < toDateTime(?) ",
    cube_filters!(),
    " GROUP BY bucket_start \
    ) ORDER BY bucket_start"
);

/// The values of one dimension with the most tags (or revenue) of one action in
/// `[from, to)`, with the totals over every value (for shares). Binds: the dimension's
/// column (an identifier), action, from and to as epoch seconds, the five filter pairs,
/// the column ranked on (`total_count` or `total_sum_price`, an identifier), the limit.
pub const TOP: &str = concat!(
    "SELECT ?fields FROM ( \
        SELECT toString(?) AS value, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price, \
               sum(sum(count)) OVER () AS all_count, \
               sum(sum(sum_price)) OVER () AS all_sum_price \
        FROM minute_aggregates \
        WHERE action = ? AND minute >= toDateTime(?) AND minute < toDateTime(?) ",
    cube_filters!(),
    " GROUP BY value \
    ) ORDER BY ? DESC, value LIMIT ?"
);

/// [`SERIES`] from the one-dimension rollup (`minute_dimension_totals`): for a series
/// filtered on one dimension at most. Unfiltered, any dimension's values sum to every
/// tag, so the caller names the dimension with the fewest values (device, three).
/// Binds: bucket width in seconds, action, dimension, from and to as epoch seconds,
/// then (applies, value) of the one filter.
pub const SERIES_OF_DIMENSION: &str = "\
    SELECT ?fields FROM ( \
        SELECT toUInt32(toStartOfInterval(minute, toIntervalSecond(?))) AS bucket_start, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price \
        FROM minute_dimension_totals \
        WHERE action = ? AND dimension = ? \
          AND minute >= toDateTime(?) AND minute < toDateTime(?) \
          AND (? = 0 OR value = ?) \
        GROUP BY bucket_start \
    ) ORDER BY bucket_start";

/// [`TOP`] from the one-dimension rollup: for a top-N filtered on nothing, or on the
/// ranked dimension only. Binds: action, dimension, from and to as epoch seconds,
/// (applies, value) of the filter on the ranked dimension, the column ranked on
/// (`total_count` or `total_sum_price`, an identifier), the limit.
pub const TOP_OF_DIMENSION: &str = "\
    SELECT ?fields FROM ( \
        SELECT CAST(value, 'String') AS value, \
               sum(count) AS total_count, \
               sum(sum_price) AS total_sum_price, \
               sum(sum(count)) OVER () AS all_count, \
               sum(sum(sum_price)) OVER () AS all_sum_price \
        FROM minute_dimension_totals \
        WHERE action = ? AND dimension = ? \
          AND minute >= toDateTime(?) AND minute < toDateTime(?) \
          AND (? = 0 OR value = ?) \
        GROUP BY value \
    ) ORDER BY ? DESC, value LIMIT ?";

/// What the archive's manifests say about a range of event time, per partition: the
/// days whose files hold tags of the range, and the newest broker timestamp archived.
/// ClickHouse reads the manifests themselves (`<function>(glob, 'JSONEachRow')`).
/// Binds: from and to as epoch ms, the manifests' glob.
macro_rules! archive_scope {
    ($function:literal) => {
        concat!(
            "SELECT ?fields FROM ( \
                SELECT toInt32(assumeNotNull(partition)) AS partition, \
                       toInt64(max(assumeNotNull(max_record_time_ms))) AS archived_through_ms, \
                       arraySort(groupUniqArrayIf(extract(_path, 'day=([0-9]{4}-[0-9]{2}-[0-9]{2})/'), \
                           tags > 0 AND max_time_ms >= ? AND min_time_ms < ?)) AS days \
                FROM ",
            $function,
            "(?, 'JSONEachRow') GROUP BY partition \
            ) ORDER BY partition"
        )
    };
}

/// [`SERIES`] from the archive's Parquet files, tags only (`kind = 0`, what the projector
/// inserts): the same buckets, the minute computed as the cube's view computes it.
/// Binds: bucket width in seconds, the files' glob, action, from and to as epoch ms,
/// then the five filter pairs.
macro_rules! archive_series {
    ($function:literal) => {
        concat!(
            "SELECT ?fields FROM ( \
                SELECT toUInt32(toStartOfInterval(toDateTime(intDiv(time_ms, 60000) * 60, 'UTC'), toIntervalSecond(?))) AS bucket_start, \
                       count() AS total_count, \
                       sum(toInt64(price)) AS total_sum_price \
                FROM ",
            $function,
            "(?, 'Parquet') \
                WHERE kind = 0 AND action = ? AND time_ms >= ? AND time_ms < ? ",
            cube_filters!(),
            " GROUP BY bucket_start \
            ) ORDER BY bucket_start"
        )
    };
}

/// [`TOP`] from the archive's Parquet files, tags only. Binds: the dimension's column
/// (an identifier), the files' glob, action, from and to as epoch ms, the five filter
/// pairs, the column ranked on (an identifier), the limit.
macro_rules! archive_top {
    ($function:literal) => {
        concat!(
            "SELECT ?fields FROM ( \
                SELECT toString(?) AS value, \
                       count() AS total_count, \
                       sum(toInt64(price)) AS total_sum_price, \
                       sum(count()) OVER () AS all_count, \
                       sum(sum(toInt64(price))) OVER () AS all_sum_price \
                FROM ",
            $function,
            "(?, 'Parquet') \
                WHERE kind = 0 AND action = ? AND time_ms >= ? AND time_ms < ? ",
            cube_filters!(),
            " GROUP BY value \
            ) ORDER BY ? DESC, value LIMIT ?"
        )
    };
}

/// [`archive_scope!`] over a directory ClickHouse reads with `file()`.
pub const ARCHIVE_SCOPE_FILE: &str = archive_scope!("file");
/// [`archive_scope!`] over a bucket ClickHouse reads with `s3()`.
pub const ARCHIVE_SCOPE_S3: &str = archive_scope!("s3");
/// [`archive_series!`] with `file()`.
pub const ARCHIVE_SERIES_FILE: &str = archive_series!("file");
/// [`archive_series!`] with `s3()`.
pub const ARCHIVE_SERIES_S3: &str = archive_series!("s3");
/// [`archive_top!`] with `file()`.
pub const ARCHIVE_TOP_FILE: &str = archive_top!("file");
/// [`archive_top!`] with `s3()`.
pub const ARCHIVE_TOP_S3: &str = archive_top!("s3");

/// The latest batch-log entry of every partition of a topic (see
/// [`crate::rows::BatchLogRow`]). Binds: topic.
pub const LATEST_BATCHES: &str = "\
    SELECT ?fields FROM projector_batches \
    WHERE kafka_topic = ? \
    ORDER BY kafka_partition, version DESC \
    LIMIT 1 BY kafka_partition";

/// One past the newest event time `user_tags` holds (1 when it holds none): read after
/// the projector's watermark, every tag below that watermark is older (the profile
/// cache's start: read-api/src/profile_cache/outside.rs).
pub const STORED_BEFORE: &str = "SELECT max(time_ms) + 1 FROM user_tags";

/// How many (cookie, action) pairs are above `?` rows, and how many rows they hold in
/// all (from the counts, never user_tags). Binds: the bound.
pub const TRIM_BACKLOG: &str = "\
    SELECT count() AS pairs, sum(counted) AS rows FROM ( \
        SELECT cookie, action, sum(rows) AS counted FROM user_tag_counts \
        GROUP BY cookie, action HAVING counted > ? \
    )";

/// A trim run's candidates: the pairs of one slice (cookie hash modulo the slices)
/// above the bound. Binds: run, bound, slices, slice.
pub const TRIM_CANDIDATES: &str = "\
    INSERT INTO trim_candidates (run, cookie, action, counted) \
    SELECT ?, cookie, action, counted FROM ( \
        SELECT cookie, action, sum(rows) AS counted FROM user_tag_counts \
        GROUP BY cookie, action HAVING counted > ? \
    ) WHERE cityHash64(cookie) % ? = ?";

/// A trim run's keys, from one snapshot of the candidates' rows. Each pair's distinct
/// event times less than `recent` ms older than its newest one are all kept (so a query whose range
/// ends anywhere in that window still gets its full newest `keep`); of the older ones,
/// the newest `keep` are kept and the rest doomed. The pair's newest key is stored too,
/// to carry the rows the pair held. Binds: run, keep, recent, run.
pub const TRIM_KEYS: &str = "\
    INSERT INTO trim_keys (run, cookie, action, time_ms, copies, present, doomed) \
    SELECT ?, cookie, action, time_ms, copies, present, doomed FROM ( \
        SELECT cookie, action, time_ms, copies, present, newest, \
               old AND row_number() OVER (PARTITION BY cookie, action, old ORDER BY time_ms DESC) > ? AS doomed \
        FROM ( \
            SELECT cookie, action, time_ms, copies, present, newest, time_ms <= newest - ? AS old \
            FROM ( \
                SELECT cookie, action, time_ms, copies, \
                       max(time_ms) OVER (PARTITION BY cookie, action) AS newest, \
                       sum(copies) OVER (PARTITION BY cookie, action) AS present \
                FROM ( \
                    SELECT cookie, action, time_ms, count() AS copies FROM user_tags \
                    WHERE (cookie, action) IN (SELECT cookie, action FROM trim_candidates WHERE run = ?) \
                    GROUP BY cookie, action, time_ms \
                ) \
            ) \
        ) \
    ) WHERE doomed OR time_ms = newest";

/// Deletes a run's doomed keys as a patch part (its cost follows the rows deleted, not
/// the table's size); `_force` fails rather than fall back to a full mutation. Binds:
/// run.
pub const TRIM_DELETE: &str = "\
    DELETE FROM user_tags WHERE (cookie, action, time_ms) IN \
        (SELECT cookie, action, time_ms FROM trim_keys WHERE run = ? AND doomed) \
    SETTINGS lightweight_delete_mode = 'lightweight_update_force', lightweight_deletes_sync = 2";

/// Writes the deletes' patch parts into every part's row mask now, so point reads never
/// pay for patch parts (measured: about 1.2 ms per unapplied patch part per read).
pub const TRIM_APPLY: &str = "ALTER TABLE user_tags APPLY PATCHES SETTINGS mutations_sync = 2";

/// Corrects a run's pairs' counts to the rows present in its snapshot less the rows
/// deleted (the view adds what arrived since). Binds: run, run; the insert carries the
/// run's deduplication token, so a retried correction is applied once.
pub const TRIM_CORRECT: &str = "\
    INSERT INTO user_tag_counts (cookie, action, rows) \
    SELECT candidates.cookie, candidates.action, \
           toInt64(keys.present) - toInt64(keys.deleted) - candidates.counted \
    FROM trim_candidates AS candidates \
    INNER JOIN ( \
        SELECT cookie, action, any(present) AS present, sumIf(copies, doomed = 1) AS deleted \
        FROM trim_keys WHERE run = ? GROUP BY cookie, action \
    ) AS keys USING (cookie, action) \
    WHERE candidates.run = ?";

/// Rows a run deleted. Binds: run.
pub const TRIM_DELETED: &str =
    "SELECT sumIf(copies, doomed = 1) AS deleted, uniqExact(cookie, action) AS pairs FROM trim_keys WHERE run = ?";

/// Rewrites user_tags into one part per partition: the rows trims masked leave the disk,
/// copies of replayed tags collapse, and point reads touch one part.
pub const RECLAIM: &str = "OPTIMIZE TABLE user_tags FINAL";

/// The table the projector's batch log lives in.
pub const BATCH_LOG_TABLE: &str = "projector_batches";

/// The profile store.
pub const USER_TAGS_TABLE: &str = "user_tags";

/// The newest minute of one action in the minute cube that starts before an instant:
/// one row, or none when the cube holds nothing earlier. The cube is sorted by
/// (action, minute, ..), so ClickHouse reads each part backwards from the bound and
/// stops at its first row (read in order). Binds: action, the bound as epoch seconds.
pub const NEWEST_MINUTE: &str = "\
    SELECT ?fields FROM ( \
        SELECT toUInt32(minute) AS minute_start \
        FROM minute_aggregates \
        WHERE action = ? AND minute < toDateTime(?) \
        ORDER BY minute DESC \
        LIMIT 1 \
    )";

/// The tables a trim run reads and writes. On a sharded cluster each is a Distributed
/// table over a shard-local `<name>_local` table (the migrations' `{{table}}`), and a
/// trim runs on each shard's local tables: a pair's rows all live on one shard (sharded
/// by Kafka partition, keyed by cookie), and deletes, mutations and `OPTIMIZE` do not go
/// through a Distributed table.
pub const TRIMMED_TABLES: [&str; 4] = [
    "user_tags",
    "user_tag_counts",
    "trim_candidates",
    "trim_keys",
];

/// `query` (one of the trim's) addressing a shard's local tables: every identifier
/// naming one of [`TRIMMED_TABLES`] gets the `_local` suffix.
pub fn on_shard(query: &str) -> String {
    let mut local = String::with_capacity(query.len() + 32);
    let mut word = String::new();
    let flush = |word: &mut String, local: &mut String| {
        local.push_str(word);
        if TRIMMED_TABLES.contains(&word.as_str()) {
            local.push_str("_local");
        }
        word.clear();
    };
    for character in query.chars() {
        if character.is_ascii_alphanumeric() || character == '_' {
            word.push(character);
        } else {
            flush(&mut word, &mut local);
            local.push(character);
        }
    }
    flush(&mut word, &mut local);
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_on_a_shard_touches_only_its_local_tables() {
        assert_eq!(
            on_shard(TRIM_APPLY),
            "ALTER TABLE user_tags_local APPLY PATCHES SETTINGS mutations_sync = 2"
        );
        assert_eq!(on_shard(RECLAIM), "OPTIMIZE TABLE user_tags_local FINAL");
        for query in [
            TRIM_BACKLOG,
            TRIM_CANDIDATES,
            TRIM_KEYS,
            TRIM_DELETE,
            TRIM_CORRECT,
            TRIM_DELETED,
        ] {
            let local = on_shard(query);
            let words: Vec<&str> = local
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for table in TRIMMED_TABLES {
                assert!(!words.contains(&table), "{table} left in {local}");
            }
            assert_eq!(
                local.replace("_local", ""),
                query,
                "only table names changed"
            );
            assert!(local.contains("_local"), "{local}");
        }
        assert_eq!(
            on_shard("SELECT user_tags_x, xuser_tags FROM t"),
            "SELECT user_tags_x, xuser_tags FROM t"
        );
    }

    #[test]
    fn a_batch_read_does_not_grow_with_the_batch() {
        assert_eq!(NEWEST_ROWS_OF_COOKIES.matches('?').count(), 1 + 5 + 1);
        assert!(NEWEST_ROWS_OF_COOKIES.contains("LIMIT ? BY cookie"));
    }
}
