//! The statements of a profile snapshot (`projector snapshot`, `projector rebuild
//! --from-snapshot`): copying `user_tags` into another database, and restoring it with
//! the aggregates' views detached, so a snapshot never feeds the aggregates.

use crate::work::{LoggedClient, Work};
use clickhouse::sql::Identifier;
use clickhouse::Client;

/// The views that derive aggregates from `user_tags`: the cube's and its rollup's.
pub const AGGREGATE_VIEWS: [&str; 2] = ["minute_aggregates_mv", "minute_dimension_totals_mv"];

/// Creates `database` unless it exists.
pub async fn create_database(
    server: &Client,
    database: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(Work::Snapshot, "CREATE DATABASE IF NOT EXISTS ?")
        .bind(Identifier(database))
        .execute()
        .await
}

/// Creates `target.user_tags` as `source.user_tags` is (it must not exist).
pub async fn create_user_tags_like(
    server: &Client,
    target: &str,
    source: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(Work::Snapshot, "CREATE TABLE ?.user_tags AS ?.user_tags")
        .bind(Identifier(target))
        .bind(Identifier(source))
        .execute()
        .await
}

/// Copies every row of `source.user_tags` into `target.user_tags`.
pub async fn copy_user_tags(
    server: &Client,
    target: &str,
    source: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(
            Work::Snapshot,
            "INSERT INTO ?.user_tags SELECT * FROM ?.user_tags",
        )
        .bind(Identifier(target))
        .bind(Identifier(source))
        .execute()
        .await
}

/// Detaches `database.view` (one of [`AGGREGATE_VIEWS`]).
pub async fn detach_view(
    server: &Client,
    database: &str,
    view: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(Work::Snapshot, "DETACH TABLE ?.?")
        .bind(Identifier(database))
        .bind(Identifier(view))
        .execute()
        .await
}

/// Attaches `database.view` again.
pub async fn attach_view(
    server: &Client,
    database: &str,
    view: &str,
) -> Result<(), clickhouse::error::Error> {
    server
        .query_for(Work::Snapshot, "ATTACH TABLE ?.?")
        .bind(Identifier(database))
        .bind(Identifier(view))
        .execute()
        .await
}

/// The rows of `database.user_tags`.
pub async fn user_tags_rows(
    server: &Client,
    database: &str,
) -> Result<u64, clickhouse::error::Error> {
    server
        .query_for(Work::Snapshot, "SELECT count() FROM ?.user_tags")
        .bind(Identifier(database))
        .fetch_one()
        .await
}
