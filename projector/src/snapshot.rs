//! Profiles that outlive the log: `projector snapshot` copies the profile store
//! (`user_tags`, already trimmed to each shopper's newest tags) into another database,
//! and `projector rebuild --from-snapshot` starts from such a copy.
//!
//! The broker keeps the log for a deliberate time (7 days by default): a rebuild from
//! the log alone recovers every aggregate inside the 24-hour window, but only the
//! profile tags the log still holds. A shopper's older tags survive a rebuild only in a
//! snapshot. A rebuild restores the snapshot's rows into `user_tags` with the
//! aggregates' views detached (a snapshot holds each shopper's newest tags only, so it
//! must never feed the aggregates), then replays the whole retained log as usual: the
//! aggregates come from the log alone, and a tag both in the snapshot and the log is
//! two copies of one row, which the profile store collapses.

use clickhouse::sql::Identifier;
use clickhouse::Client;

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error)]
#[error("snapshot of the profile store")]
pub struct SnapshotError(#[from] clickhouse::error::Error);

/// Copies `source`'s `user_tags` into `target` (created; its `user_tags` must not
/// exist). Returns the rows copied.
pub async fn take(server: &Client, source: &str, target: &str) -> Result<u64, SnapshotError> {
    server
        .query("CREATE DATABASE IF NOT EXISTS ?")
        .bind(Identifier(target))
        .execute()
        .await?;
    server
        .query("CREATE TABLE ?.user_tags AS ?.user_tags")
        .bind(Identifier(target))
        .bind(Identifier(source))
        .execute()
        .await?;
    server
        .query("INSERT INTO ?.user_tags SELECT * FROM ?.user_tags")
        .bind(Identifier(target))
        .bind(Identifier(source))
        .execute()
        .await?;
    rows(server, target).await
}

/// The views that derive aggregates from `user_tags`: the cube's and its rollup's.
const AGGREGATE_VIEWS: [&str; 2] = ["minute_aggregates_mv", "minute_dimension_totals_mv"];

/// Restores the snapshot in `snapshot` into `target`'s `user_tags` with the aggregates'
/// views detached (the profile counts' view stays, so trimming sees the rows). Returns
/// the rows restored.
pub async fn restore(server: &Client, snapshot: &str, target: &str) -> Result<u64, SnapshotError> {
    for view in AGGREGATE_VIEWS {
        server
            .query("DETACH TABLE ?.?")
            .bind(Identifier(target))
            .bind(Identifier(view))
            .execute()
            .await?;
    }
    let copied = server
        .query("INSERT INTO ?.user_tags SELECT * FROM ?.user_tags")
        .bind(Identifier(target))
        .bind(Identifier(snapshot))
        .execute()
        .await;
    let mut attached = Ok(());
    for view in AGGREGATE_VIEWS {
        let outcome = server
            .query("ATTACH TABLE ?.?")
            .bind(Identifier(target))
            .bind(Identifier(view))
            .execute()
            .await;
        attached = attached.and(outcome);
    }
    copied?;
    attached?;
    rows(server, snapshot).await
}

async fn rows(server: &Client, database: &str) -> Result<u64, SnapshotError> {
    Ok(server
        .query("SELECT count() FROM ?.user_tags")
        .bind(Identifier(database))
        .fetch_one()
        .await?)
}
