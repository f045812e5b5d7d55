//! Writes and whole-table reads of `user_tags`, the profile store: the batch insert the
//! projector makes (and the benchmarks' loader makes the same way), and the newest
//! event time stored.

use crate::rows::UserTagRow;
use clickhouse::Client;
use std::time::Duration;

/// The profile store.
const USER_TAGS_TABLE: &str = "user_tags";

/// The newest event time stored, epoch ms (0 when the table is empty).
const NEWEST_TIME: &str = "SELECT max(time_ms) FROM user_tags";

/// Inserts `rows` as one insert carrying the deduplication `token`: inserting the same
/// rows with the same token again changes nothing, in the table and in every view
/// (`deduplicate_blocks_in_dependent_materialized_views`). Callers keep a batch under
/// ClickHouse's `max_insert_block_size`, so the server writes it as one block. Each of
/// the insert's requests may take `timeout`.
pub async fn insert(
    client: &Client,
    rows: &[UserTagRow],
    token: &str,
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client
        .insert::<UserTagRow>(USER_TAGS_TABLE)
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
    client.query(NEWEST_TIME).fetch_one().await
}
