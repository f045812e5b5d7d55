//! The comparison `projector reconcile` makes: the live database's minute cube and
//! rollup against those of a scratch database replayed from the log, over a window of
//! event time, key by key (a full outer join on each table's key; a side without a key
//! counts zero).

use crate::work::{LoggedClient, Work};
use clickhouse::query::Query;
use clickhouse::sql::Identifier;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// One key whose live totals differ from the log's: a cube key (every dimension
/// given), or a rollup key (one dimension given, `*` for the four others).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Difference {
    /// `VIEW` or `BUY`.
    pub action: String,
    /// The minute, epoch seconds.
    pub minute: u32,
    /// Campaign.
    pub origin: String,
    /// Brand.
    pub brand_id: String,
    /// Category.
    pub category_id: String,
    /// Country.
    pub country: String,
    /// Device.
    pub device: String,
    /// Live count.
    pub live_count: u64,
    /// Live revenue.
    pub live_sum_price: i64,
    /// Count from the log.
    pub log_count: u64,
    /// Revenue from the log.
    pub log_sum_price: i64,
}

/// How many cube keys and tags each side has in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Coverage {
    /// Cube keys on either side.
    pub combinations: u64,
    /// Tags according to the log (the scratch replay).
    pub log_tags: u64,
    /// Tags according to the live cube.
    pub live_tags: u64,
}

/// The comparison of two databases' cubes over a window: a full outer join on the
/// cube's key (a side without a key counts zero). Binds: live database, from, to,
/// scratch database, from, to (identifiers and epoch seconds).
const COMPARE: &str = "\
    SELECT ?fields FROM ( \
        SELECT toString(action) AS action, toUInt32(minute) AS minute, toString(origin) AS origin, \
               toString(brand_id) AS brand_id, toString(category_id) AS category_id, \
               toString(country) AS country, toString(device) AS device, \
               live.c AS live_count, live.s AS live_sum_price, log.c AS log_count, log.s AS log_sum_price \
        FROM ( \
            SELECT action, minute, origin, brand_id, category_id, country, device, \
                   sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_aggregates \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, origin, brand_id, category_id, country, device \
        ) AS live \
        FULL OUTER JOIN ( \
            SELECT action, minute, origin, brand_id, category_id, country, device, \
                   sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_aggregates \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, origin, brand_id, category_id, country, device \
        ) AS log \
        USING (action, minute, origin, brand_id, category_id, country, device) \
        WHERE live.c != log.c OR live.s != log.s \
    ) ORDER BY minute, action, origin, brand_id, category_id, country, device";

/// How many cube keys and tags each side has in the window. Binds as [`COMPARE`].
const COVERAGE: &str = "\
    SELECT count() AS combinations, sum(log.c) AS log_tags, sum(live.c) AS live_tags FROM ( \
        SELECT action, minute, origin, brand_id, category_id, country, device, sum(count) AS c \
        FROM ?.minute_aggregates WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
        GROUP BY action, minute, origin, brand_id, category_id, country, device \
    ) AS live FULL OUTER JOIN ( \
        SELECT action, minute, origin, brand_id, category_id, country, device, sum(count) AS c \
        FROM ?.minute_aggregates WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
        GROUP BY action, minute, origin, brand_id, category_id, country, device \
    ) AS log USING (action, minute, origin, brand_id, category_id, country, device)";

/// [`COMPARE`] for the one-dimension rollup, a rollup key reported as a [`Difference`]
/// with `*` for the dimensions it sums over. Binds as [`COMPARE`].
const COMPARE_ROLLUP: &str = "\
    SELECT ?fields FROM ( \
        SELECT toString(action) AS action, toUInt32(minute) AS minute, \
               if(dimension = 'origin', value, '*') AS origin, \
               if(dimension = 'brand_id', value, '*') AS brand_id, \
               if(dimension = 'category_id', value, '*') AS category_id, \
               if(dimension = 'country', value, '*') AS country, \
               if(dimension = 'device', value, '*') AS device, \
               live.c AS live_count, live.s AS live_sum_price, log.c AS log_count, log.s AS log_sum_price \
        FROM ( \
            SELECT action, minute, dimension, value, sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_dimension_totals \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, dimension, value \
        ) AS live \
        FULL OUTER JOIN ( \
            SELECT action, minute, dimension, value, sum(count) AS c, sum(sum_price) AS s \
            FROM ?.minute_dimension_totals \
            WHERE minute >= toDateTime(?) AND minute < toDateTime(?) \
            GROUP BY action, minute, dimension, value \
        ) AS log \
        USING (action, minute, dimension, value) \
        WHERE live.c != log.c OR live.s != log.s \
    ) ORDER BY minute, action, origin, brand_id, category_id, country, device";

/// How many rollup keys the two sides have in the window. Binds as [`COMPARE`].
const ROLLUP_KEYS: &str = "\
    SELECT count() FROM ( \
        SELECT action, minute, dimension, value FROM ?.minute_dimension_totals \
        WHERE minute >= toDateTime(?) AND minute < toDateTime(?) GROUP BY ALL \
    ) AS live FULL OUTER JOIN ( \
        SELECT action, minute, dimension, value FROM ?.minute_dimension_totals \
        WHERE minute >= toDateTime(?) AND minute < toDateTime(?) GROUP BY ALL \
    ) AS log USING (action, minute, dimension, value)";

/// The two databases compared and the window, epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides<'a> {
    /// The live database.
    pub live: &'a str,
    /// The database replayed from the log.
    pub log: &'a str,
    /// First second included.
    pub from_seconds: i64,
    /// First second excluded.
    pub to_seconds: i64,
}

impl Sides<'_> {
    fn bind(&self, query: Query) -> Query {
        query
            .bind(Identifier(self.live))
            .bind(self.from_seconds)
            .bind(self.to_seconds)
            .bind(Identifier(self.log))
            .bind(self.from_seconds)
            .bind(self.to_seconds)
    }
}

/// Every cube key, then every rollup key, whose totals differ between the sides.
pub async fn differences(
    server: &Client,
    sides: &Sides<'_>,
) -> Result<Vec<Difference>, clickhouse::error::Error> {
    let mut differences = sides
        .bind(server.query_for(Work::Reconcile, COMPARE))
        .fetch_all::<Difference>()
        .await?;
    differences.extend(
        sides
            .bind(server.query_for(Work::Reconcile, COMPARE_ROLLUP))
            .fetch_all::<Difference>()
            .await?,
    );
    Ok(differences)
}

/// The cube keys and tags of each side.
pub async fn coverage(
    server: &Client,
    sides: &Sides<'_>,
) -> Result<Coverage, clickhouse::error::Error> {
    sides
        .bind(server.query_for(Work::Reconcile, COVERAGE))
        .fetch_one::<Coverage>()
        .await
}

/// The rollup keys of either side.
pub async fn rollup_keys(
    server: &Client,
    sides: &Sides<'_>,
) -> Result<u64, clickhouse::error::Error> {
    sides
        .bind(server.query_for(Work::Reconcile, ROLLUP_KEYS))
        .fetch_one::<u64>()
        .await
}

/// Drops a scratch database (and everything in it), if it exists.
pub async fn drop_database(
    server: &Client,
    database: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(Work::Reconcile, "DROP DATABASE IF EXISTS ?")
        .bind(Identifier(database))
        .execute()
        .await
}
