//! Writes and whole-table reads of `user_tags`, the profile store: the batch insert the
//! projector makes (and the benchmarks' loader makes the same way), the newest event
//! time stored, and the counts the benchmarks check.

use crate::rows::UserTagRow;
use crate::work::{LoggedClient, Work};
use clickhouse::Client;
use std::time::Duration;

/// The profile store.
const USER_TAGS_TABLE: &str = "user_tags";

/// The newest event time stored, epoch ms (0 when the table is empty).
const NEWEST_TIME: &str = "SELECT max(time_ms) FROM user_tags";

/// The rows stored.
const ROWS: &str = "SELECT count() FROM user_tags";

/// The rows of each (cookie, action) pair of some cookies, in another database, fewest
/// first. Binds: the database (an identifier), the cookies (an array).
const ROWS_OF_PAIRS: &str = "SELECT count() FROM ?.user_tags WHERE has(?, cookie) \
             GROUP BY cookie, action ORDER BY count()";

/// The ten minutes of wall time a batch recorded at `unix_nanos` is ingested in, epoch
/// seconds: what its rows carry as `batch_ingested_in` (migration `0017`), on its first
/// insert and on every insert of it again. The aggregate tables are partitioned by it, and
/// ClickHouse recognises an insert's deduplication token only within the partition it
/// first saw it in: a slot taken from the insert's own wall time would put a batch
/// inserted again after a ten-minute boundary in a new partition, counted twice.
pub fn ingestion_slot(unix_nanos: u64) -> u32 {
    const SLOT_SECONDS: u64 = 600;
    let seconds = unix_nanos / 1_000_000_000;
    u32::try_from(seconds - seconds % SLOT_SECONDS).unwrap_or(u32::MAX)
}

/// Inserts `rows` as one insert carrying the deduplication `token`: inserting the same
/// rows with the same token again changes nothing, in the table and in every view
/// (`deduplicate_blocks_in_dependent_materialized_views`), provided the rows carry the
/// same `batch_ingested_in` each time (see [`ingestion_slot`]). Callers keep a batch under
/// ClickHouse's `max_insert_block_size`, so the server writes it as one block. Each of
/// the insert's requests may take `timeout`.
pub async fn insert(
    client: &Client,
    rows: &[UserTagRow],
    token: &str,
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client
        .insert_for::<UserTagRow>(Work::ProjectorBatch, USER_TAGS_TABLE)
        .await?
        .with_setting("insert_deduplication_token", token)
        .with_setting("insert_deduplicate", "1")
        .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
        .with_timeouts(Some(timeout), Some(timeout));
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// The newest event time stored, epoch ms; 0 when nothing is.
pub async fn newest_time_ms(client: &Client) -> Result<i64, clickhouse::error::Error> {
    client
        .query_for(Work::Inspection, NEWEST_TIME)
        .fetch_one()
        .await
}

/// The rows stored (every copy of a replayed tag until merges collapse them).
pub async fn rows(client: &Client) -> Result<u64, clickhouse::error::Error> {
    client.query_for(Work::Inspection, ROWS).fetch_one().await
}

/// The rows of each (cookie, action) pair of `cookies` in `database`'s `user_tags`,
/// fewest first (`server` reaches every database).
pub async fn rows_of_pairs(
    server: &Client,
    database: &str,
    cookies: &[String],
) -> Result<Vec<u64>, clickhouse::error::Error> {
    server
        .query_for(Work::Inspection, ROWS_OF_PAIRS)
        .bind(clickhouse::sql::Identifier(database))
        .bind(cookies)
        .fetch_all()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_ingested_in_the_ten_minutes_it_was_recorded_in() {
        // 2026-12-05 00:49:59.2 and 00:50:00.4 UTC.
        let before = 1_796_431_799_200_000_000;
        let after = 1_796_431_800_400_000_000;
        assert_eq!(ingestion_slot(before), 1_796_431_200);
        assert_eq!(ingestion_slot(after), 1_796_431_800);
        assert_eq!(ingestion_slot(1_796_431_800_000_000_000), 1_796_431_800);
        assert_eq!(ingestion_slot(0), 0);
    }
}
