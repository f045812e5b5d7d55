//! The aggregates: the minute cube (`minute_aggregates`), its one-dimension rollup
//! (`minute_dimension_totals`) and the archive's Parquet files read the same way. This
//! module owns their vocabulary (dimensions, metrics, filters), the rows their reads
//! give, the SQL (private) and which table answers which read.
//!
//! Each read goes to the smallest table that answers it exactly. The one-dimension
//! rollup (at most about 1,400 rows a minute, three for the devices) answers a series
//! filtered on one dimension at most and a top-N filtered on nothing but the ranked
//! dimension; the minute cube (a row per combination of the five dimensions, tens of
//! thousands a minute) answers the rest. A day's unfiltered series sums 4,320 rollup
//! rows (about 51,000 read, in whole granules) instead of 17-69M cube rows. A read of
//! the cube filtered on two dimensions or more, or on device beside a grouping, is
//! served by one of the cube's projections (migration 0012: sorted by brand and origin,
//! or by category and country; 0014: summed per device and one other dimension)
//! whenever that reads fewer granules than the cube's own time order: ClickHouse
//! chooses, the SQL is the same. A day with two filters reads 1.4-24M rows instead of
//! 69M.
//!
//! Every value travels as a bound parameter; a filter value longer than any a tag may
//! carry matches nothing, and ClickHouse is not asked.

use crate::work::{LoggedClient, Work};
use clickhouse::query::Query;
use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use schemas::{Action, Device, EventTime, Filters, MAX_FIELD_BYTES};
use serde::Deserialize;

/// A dimension tags are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The campaign.
    Origin,
    /// The brand.
    BrandId,
    /// The category.
    CategoryId,
    /// The shopper's country.
    Country,
    /// The shopper's device.
    Device,
}

impl Dimension {
    /// The dimension of a name (`origin`, `brand_id`, ...), as queries spell it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "origin" => Some(Self::Origin),
            "brand_id" => Some(Self::BrandId),
            "category_id" => Some(Self::CategoryId),
            "country" => Some(Self::Country),
            "device" => Some(Self::Device),
            _ => None,
        }
    }

    /// Its name, which is also its column in `minute_aggregates`.
    pub const fn column(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::BrandId => "brand_id",
            Self::CategoryId => "category_id",
            Self::Country => "country",
            Self::Device => "device",
        }
    }
}

/// What a top-N ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Number of tags.
    Count,
    /// Revenue: the sum of their prices.
    SumPrice,
}

impl Metric {
    /// The metric of a name (`count`, `sum_price`), as queries spell it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "count" => Some(Self::Count),
            "sum_price" => Some(Self::SumPrice),
            _ => None,
        }
    }

    /// Its name in queries and answers, also the result column ranked on.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::SumPrice => "sum_price",
        }
    }

    /// The column of a top-N's rows it ranks on.
    const fn ranked_column(self) -> &'static str {
        match self {
            Self::Count => "total_count",
            Self::SumPrice => "total_sum_price",
        }
    }
}

/// Filters on any of the five dimensions; an absent one matches everything. A value
/// may be empty (it then matches tags whose field is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CubeFilters {
    /// Campaign.
    pub origin: Option<String>,
    /// Brand.
    pub brand_id: Option<String>,
    /// Category.
    pub category_id: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Device.
    pub device: Option<Device>,
}

impl CubeFilters {
    /// The filters given, each with its dimension, in the dimensions' order.
    pub fn given(&self) -> Vec<(Dimension, &str)> {
        [
            (Dimension::Origin, self.origin.as_deref()),
            (Dimension::BrandId, self.brand_id.as_deref()),
            (Dimension::CategoryId, self.category_id.as_deref()),
            (Dimension::Country, self.country.as_deref()),
            (Dimension::Device, self.device.map(Device::as_str)),
        ]
        .into_iter()
        .filter_map(|(dimension, value)| value.map(|value| (dimension, value)))
        .collect()
    }

    /// Whether some filter value is longer than any tag may carry (nothing matches).
    pub fn matches_nothing(&self) -> bool {
        [
            &self.origin,
            &self.brand_id,
            &self.category_id,
            &self.country,
        ]
        .iter()
        .any(|value| {
            value
                .as_ref()
                .is_some_and(|value| value.len() > MAX_FIELD_BYTES)
        })
    }
}

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

/// The totals of one bucket that has data.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct BucketTotals {
    /// The bucket's start, epoch seconds.
    pub bucket_start: u32,
    /// Number of matching tags.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
}

/// One value of a top-N, with the totals over every value.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct RankedValue {
    /// The dimension's value.
    pub value: String,
    /// Number of matching tags with it.
    pub total_count: u64,
    /// Sum of their prices.
    pub total_sum_price: i64,
    /// Number of matching tags, every value.
    pub all_count: u64,
    /// Sum of their prices, every value.
    pub all_sum_price: i64,
}

/// The newest minute of the cube, as [`NEWEST_MINUTE`] reads it.
#[derive(Debug, Row, Deserialize)]
struct NewestMinute {
    minute_start: u32,
}

/// What the archive's manifests say about one partition.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct PartitionScope {
    /// The partition.
    pub partition: i32,
    /// The broker timestamp of its newest archived record, epoch ms.
    pub archived_through_ms: i64,
    /// Days (`YYYY-MM-DD`, as the files' paths spell them) whose files hold tags of
    /// the range.
    pub days: Vec<String>,
}

/// Per-minute totals of one action in `[from, to)`, optionally filtered by origin,
/// brand and category, from the minute cube; rows are summed here because
/// `SummingMergeTree` merges them eventually, not at once. Each filter is a pair of
/// binds: whether it applies (0 or 1), then its value (the crate binds literals, so
/// ClickHouse folds the unused ones away). Binds: action, from and to as epoch seconds,
/// then (applies, value) for origin, brand and category.
const MINUTE_TOTALS: &str = "\
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
const SERIES: &str = concat!(
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
const TOP: &str = concat!(
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
const SERIES_OF_DIMENSION: &str = "\
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
const TOP_OF_DIMENSION: &str = "\
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

/// The newest minute of one action in the minute cube that starts before an instant:
/// one row, or none when the cube holds nothing earlier. The cube is sorted by
/// (action, minute, ..), so ClickHouse reads each part backwards from the bound and
/// stops at its first row (read in order). Binds: action, the bound as epoch seconds.
const NEWEST_MINUTE: &str = "\
    SELECT ?fields FROM ( \
        SELECT toUInt32(minute) AS minute_start \
        FROM minute_aggregates \
        WHERE action = ? AND minute < toDateTime(?) \
        ORDER BY minute DESC \
        LIMIT 1 \
    )";

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
const ARCHIVE_SCOPE_FILE: &str = archive_scope!("file");
/// [`archive_scope!`] over a bucket ClickHouse reads with `s3()`.
const ARCHIVE_SCOPE_S3: &str = archive_scope!("s3");
/// [`archive_series!`] with `file()`.
const ARCHIVE_SERIES_FILE: &str = archive_series!("file");
/// [`archive_series!`] with `s3()`.
const ARCHIVE_SERIES_S3: &str = archive_series!("s3");
/// [`archive_top!`] with `file()`.
const ARCHIVE_TOP_FILE: &str = archive_top!("file");
/// [`archive_top!`] with `s3()`.
const ARCHIVE_TOP_S3: &str = archive_top!("s3");

/// Every tag the cube counts. Binds: none.
const TAGS_COUNTED: &str = "SELECT toUInt64(sum(count)) FROM minute_aggregates";

/// The tags the cube counts in whole minutes `[from, to)`. Binds: from and to as epoch
/// seconds.
const TAGS_COUNTED_BETWEEN: &str = "SELECT toUInt64(sum(count)) FROM minute_aggregates \
             WHERE minute >= toDateTime(?) AND minute < toDateTime(?)";

/// The contract's aggregates read: per-minute totals of one action, filtered by origin,
/// brand and category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteTotalsRead<'a> {
    /// The action counted.
    pub action: Action,
    /// First second included, epoch seconds.
    pub from_seconds: u32,
    /// First second excluded, epoch seconds.
    pub to_seconds: u32,
    /// The contract's filters (origin, brand, category).
    pub filters: &'a Filters,
}

/// A series: totals per bucket of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRead<'a> {
    /// The action counted.
    pub action: Action,
    /// First instant included (a bucket's start).
    pub from: EventTime,
    /// First instant excluded.
    pub to: EventTime,
    /// The bucket width, seconds.
    pub bucket_seconds: i64,
    /// The filters.
    pub filters: &'a CubeFilters,
}

/// A top-N: the values of one dimension with the most tags (or revenue) of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopRead<'a> {
    /// The action counted.
    pub action: Action,
    /// First instant included.
    pub from: EventTime,
    /// First instant excluded.
    pub to: EventTime,
    /// The dimension ranked.
    pub dimension: Dimension,
    /// What it is ranked by.
    pub by: Metric,
    /// How many.
    pub limit: u32,
    /// The filters.
    pub filters: &'a CubeFilters,
}

/// The totals of every minute of the read's range that has matching rows, in order.
pub async fn minute_totals(
    client: &Client,
    read: &MinuteTotalsRead<'_>,
) -> Result<Vec<MinuteTotals>, clickhouse::error::Error> {
    let filters = read.filters;
    let values = [&filters.origin, &filters.brand_id, &filters.category_id];
    if values.iter().any(|value| {
        value
            .as_ref()
            .is_some_and(|value| value.len() > MAX_FIELD_BYTES)
    }) {
        return Ok(Vec::new());
    }
    let mut query = client
        .query_for(Work::AggregatesRead, MINUTE_TOTALS)
        .bind(read.action.as_str())
        .bind(read.from_seconds)
        .bind(read.to_seconds);
    for filter in values {
        query = query
            .bind(u8::from(filter.is_some()))
            .bind(filter.as_deref().unwrap_or(""));
    }
    query.fetch_all::<MinuteTotals>().await
}

/// The totals of every bucket of the read's range that has matching tags, in order.
pub async fn series(
    client: &Client,
    read: &SeriesRead<'_>,
) -> Result<Vec<BucketTotals>, clickhouse::error::Error> {
    if read.filters.matches_nothing() {
        return Ok(Vec::new());
    }
    let (from, to) = epoch_seconds(read.from, read.to);
    let query = match series_rollup(read.filters) {
        Some(rollup) => rollup.bind(
            client
                .query_for(Work::AnalystsRead, SERIES_OF_DIMENSION)
                .bind(read.bucket_seconds)
                .bind(read.action.as_str()),
            from,
            to,
        ),
        None => bind_filters(
            client
                .query_for(Work::AnalystsRead, SERIES)
                .bind(read.bucket_seconds)
                .bind(read.action.as_str())
                .bind(from)
                .bind(to),
            read.filters,
        ),
    };
    query.fetch_all::<BucketTotals>().await
}

/// The read's top values, best first.
pub async fn top(
    client: &Client,
    read: &TopRead<'_>,
) -> Result<Vec<RankedValue>, clickhouse::error::Error> {
    if read.filters.matches_nothing() {
        return Ok(Vec::new());
    }
    let (from, to) = epoch_seconds(read.from, read.to);
    let query = match top_rollup(read.dimension, read.filters) {
        Some(rollup) => rollup.bind(
            client
                .query_for(Work::AnalystsRead, TOP_OF_DIMENSION)
                .bind(read.action.as_str()),
            from,
            to,
        ),
        None => bind_filters(
            client
                .query_for(Work::AnalystsRead, TOP)
                .bind(Identifier(read.dimension.column()))
                .bind(read.action.as_str())
                .bind(from)
                .bind(to),
            read.filters,
        ),
    };
    query
        .bind(Identifier(read.by.ranked_column()))
        .bind(read.limit)
        .fetch_all::<RankedValue>()
        .await
}

/// The start of the newest minute of `action` in the cube that starts before
/// `before_seconds` (epoch seconds), if any.
pub async fn newest_minute(
    client: &Client,
    action: Action,
    before_seconds: u32,
) -> Result<Option<u32>, clickhouse::error::Error> {
    Ok(client
        .query_for(Work::AnalystsRead, NEWEST_MINUTE)
        .bind(action.as_str())
        .bind(before_seconds)
        .fetch_optional::<NewestMinute>()
        .await?
        .map(|row| row.minute_start))
}

/// Every tag the cube counts (each tag is in exactly one of its rows).
pub async fn tags_counted(client: &Client) -> Result<u64, clickhouse::error::Error> {
    client
        .query_for(Work::Inspection, TAGS_COUNTED)
        .fetch_one()
        .await
}

/// The tags the cube counts in the minutes from `from_seconds` (included) to
/// `to_seconds` (excluded), both whole minutes, epoch seconds.
pub async fn tags_counted_between(
    client: &Client,
    from_seconds: i64,
    to_seconds: i64,
) -> Result<u64, clickhouse::error::Error> {
    client
        .query_for(Work::Inspection, TAGS_COUNTED_BETWEEN)
        .bind(from_seconds)
        .bind(to_seconds)
        .fetch_one()
        .await
}

/// How ClickHouse reaches the archive: a directory on its machine, or a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveAccess {
    /// `file()`: a directory on ClickHouse's machine.
    File,
    /// `s3()`: an S3-compatible bucket (credentials in ClickHouse's configuration).
    S3,
}

/// What the archive's manifests matching `manifests` (a glob) say about `[from, to)`,
/// per partition. No manifest at all yet: an empty archive, no partition.
pub async fn archive_scope(
    client: &Client,
    access: ArchiveAccess,
    manifests: &str,
    from: EventTime,
    to: EventTime,
) -> Result<Vec<PartitionScope>, clickhouse::error::Error> {
    let statement = match access {
        ArchiveAccess::File => ARCHIVE_SCOPE_FILE,
        ArchiveAccess::S3 => ARCHIVE_SCOPE_S3,
    };
    let read = client
        .query_for(Work::AnalystsRead, statement)
        .bind(from.millis())
        .bind(to.millis())
        .bind(manifests)
        .fetch_all::<PartitionScope>()
        .await;
    match read {
        Ok(partitions) => Ok(partitions),
        Err(clickhouse::error::Error::BadResponse(message))
            if message.contains("CANNOT_EXTRACT_TABLE_STRUCTURE")
                || message.contains("FILE_DOESNT_EXIST") =>
        {
            Ok(Vec::new())
        }
        Err(error) => Err(error),
    }
}

/// [`series`] from the archive's Parquet files matching `files` (a glob).
pub async fn archive_series(
    client: &Client,
    access: ArchiveAccess,
    files: &str,
    read: &SeriesRead<'_>,
) -> Result<Vec<BucketTotals>, clickhouse::error::Error> {
    if read.filters.matches_nothing() {
        return Ok(Vec::new());
    }
    let statement = match access {
        ArchiveAccess::File => ARCHIVE_SERIES_FILE,
        ArchiveAccess::S3 => ARCHIVE_SERIES_S3,
    };
    bind_filters(
        client
            .query_for(Work::AnalystsRead, statement)
            .bind(read.bucket_seconds)
            .bind(files)
            .bind(read.action.as_str())
            .bind(read.from.millis())
            .bind(read.to.millis()),
        read.filters,
    )
    .fetch_all::<BucketTotals>()
    .await
}

/// [`top`] from the archive's Parquet files matching `files` (a glob).
pub async fn archive_top(
    client: &Client,
    access: ArchiveAccess,
    files: &str,
    read: &TopRead<'_>,
) -> Result<Vec<RankedValue>, clickhouse::error::Error> {
    if read.filters.matches_nothing() {
        return Ok(Vec::new());
    }
    let statement = match access {
        ArchiveAccess::File => ARCHIVE_TOP_FILE,
        ArchiveAccess::S3 => ARCHIVE_TOP_S3,
    };
    bind_filters(
        client
            .query_for(Work::AnalystsRead, statement)
            .bind(Identifier(read.dimension.column()))
            .bind(files)
            .bind(read.action.as_str())
            .bind(read.from.millis())
            .bind(read.to.millis()),
        read.filters,
    )
    .bind(Identifier(read.by.ranked_column()))
    .bind(read.limit)
    .fetch_all::<RankedValue>()
    .await
}

/// A read of the one-dimension rollup: the dimension's rows, all values or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RollupRead<'a> {
    dimension: Dimension,
    value: Option<&'a str>,
}

impl RollupRead<'_> {
    /// Binds the rollup's part of a query: dimension, from and to, the value filter.
    fn bind(self, query: Query, from: i64, to: i64) -> Query {
        query
            .bind(self.dimension.column())
            .bind(from)
            .bind(to)
            .bind(u8::from(self.value.is_some()))
            .bind(self.value.unwrap_or(""))
    }
}

/// A range's ends as epoch seconds.
fn epoch_seconds(from: EventTime, to: EventTime) -> (i64, i64) {
    (from.millis() / 1000, to.millis() / 1000)
}

/// The rollup read that answers a series with `filters`, if one does: the filtered
/// dimension's value, or with no filter the devices (every tag has one, and there are
/// three values a minute).
fn series_rollup(filters: &CubeFilters) -> Option<RollupRead<'_>> {
    match filters.given().as_slice() {
        [] => Some(RollupRead {
            dimension: Dimension::Device,
            value: None,
        }),
        [(dimension, value)] => Some(RollupRead {
            dimension: *dimension,
            value: Some(value),
        }),
        _ => None,
    }
}

/// The rollup read that answers a top-N of `ranked` with `filters`, if one does: with no
/// filter, or a filter on `ranked` itself.
fn top_rollup(ranked: Dimension, filters: &CubeFilters) -> Option<RollupRead<'_>> {
    match filters.given().as_slice() {
        [] => Some(RollupRead {
            dimension: ranked,
            value: None,
        }),
        [(dimension, value)] if *dimension == ranked => Some(RollupRead {
            dimension: ranked,
            value: Some(value),
        }),
        _ => None,
    }
}

/// Binds the five (applies, value) filter pairs (the archive's reads bind them alike). An
/// absent device filter still binds a device name: ClickHouse checks the literal
/// against the Enum8 even where the condition is folded away.
fn bind_filters(mut query: Query, filters: &CubeFilters) -> Query {
    for filter in [
        &filters.origin,
        &filters.brand_id,
        &filters.category_id,
        &filters.country,
    ] {
        query = query
            .bind(u8::from(filter.is_some()))
            .bind(filter.as_deref().unwrap_or(""));
    }
    query
        .bind(u8::from(filters.device.is_some()))
        .bind(filters.device.unwrap_or(Device::Pc).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(origin: Option<&str>, device: Option<Device>) -> CubeFilters {
        CubeFilters {
            origin: origin.map(str::to_owned),
            device,
            ..CubeFilters::default()
        }
    }

    #[test]
    fn a_series_with_one_filter_at_most_reads_the_rollup() {
        assert_eq!(
            series_rollup(&filters(None, None)),
            Some(RollupRead {
                dimension: Dimension::Device,
                value: None
            })
        );
        assert_eq!(
            series_rollup(&filters(Some("o1"), None)),
            Some(RollupRead {
                dimension: Dimension::Origin,
                value: Some("o1")
            })
        );
        assert_eq!(
            series_rollup(&filters(None, Some(Device::Tv))),
            Some(RollupRead {
                dimension: Dimension::Device,
                value: Some("TV")
            })
        );
        assert_eq!(series_rollup(&filters(Some("o1"), Some(Device::Tv))), None);
    }

    #[test]
    fn a_top_n_reads_the_rollup_unless_filtered_on_another_dimension() {
        assert_eq!(
            top_rollup(Dimension::BrandId, &filters(None, None)),
            Some(RollupRead {
                dimension: Dimension::BrandId,
                value: None
            })
        );
        assert_eq!(
            top_rollup(Dimension::Origin, &filters(Some("o1"), None)),
            Some(RollupRead {
                dimension: Dimension::Origin,
                value: Some("o1")
            })
        );
        assert_eq!(
            top_rollup(Dimension::BrandId, &filters(Some("o1"), None)),
            None
        );
        assert_eq!(
            top_rollup(Dimension::Origin, &filters(Some("o1"), Some(Device::Pc))),
            None
        );
    }
}
