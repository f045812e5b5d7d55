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

/// The latest batch-log entry of every partition of a topic (see
/// [`crate::rows::BatchLogRow`]). Binds: topic.
pub const LATEST_BATCHES: &str = "\
    SELECT ?fields FROM projector_batches \
    WHERE kafka_topic = ? \
    ORDER BY kafka_partition, version DESC \
    LIMIT 1 BY kafka_partition";

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
