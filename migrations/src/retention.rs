//! Retention windows of the read models, set by `migrate` after the migrations.
//!
//! Aggregate rows (the minute cube and its one-dimension rollup, see
//! `0003_create_minute_aggregates.sql` and `0009_create_minute_dimension_totals.sql`)
//! expire on ingestion time: a partition, ten minutes of ingestion, is dropped once
//! those ten minutes ended more than the window ago. Both tables always share the window. The window is configuration (`--aggregates-retention-minutes`,
//! 24 hours by default; the soak shortens it), so it is applied here with `ALTER TABLE
//! ... MODIFY TTL` rather than written into a migration, and only when it differs from
//! the table's, because a changed TTL is recomputed for every part.

use crate::template::Target;
use crate::MigrationError;
use clickhouse::Client;

/// Length of the ingestion buckets (`ingested_in`) that aggregate partitions cover.
const INGESTION_BUCKET_MINUTES: u32 = 10;

/// How long the read models keep data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Minutes an aggregate row is kept after the ten minutes it was ingested in end.
    pub aggregates_minutes: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            aggregates_minutes: 24 * 60,
        }
    }
}

impl Retention {
    /// The TTL expression of `minute_aggregates`, as ClickHouse normalises it.
    fn aggregates_ttl(&self) -> String {
        format!(
            "ingested_in + toIntervalMinute({})",
            self.aggregates_minutes
                .saturating_add(INGESTION_BUCKET_MINUTES)
        )
    }
}

/// The tables holding aggregates, as the services name them.
pub const AGGREGATE_TABLES: [&str; 2] = ["minute_aggregates", "minute_dimension_totals"];

/// The table that stores `table`'s rows on `target` (the shard-local one on a cluster).
pub fn stored_table(target: &Target, table: &str) -> String {
    match target.cluster() {
        None => table.to_owned(),
        Some(_) => format!("{table}_local"),
    }
}

/// The statement setting aggregate table `table`'s TTL to `retention` on `target` (on
/// a cluster the shard-local table, `ON CLUSTER` where DDL propagates; unreplicated
/// shards are each altered by the caller).
pub fn alter_statement(
    target: &Target,
    database: &str,
    table: &str,
    retention: Retention,
) -> String {
    let on_cluster = target.on_cluster();
    format!(
        "ALTER TABLE {database}.{}{on_cluster} MODIFY TTL {}",
        stored_table(target, table),
        retention.aggregates_ttl()
    )
}

/// Whether a table's `engine_full` already has `retention`'s TTL.
pub fn is_in_effect(engine_full: &str, retention: Retention) -> bool {
    let ttl = format!("TTL {}", retention.aggregates_ttl());
    engine_full.contains(&format!("{ttl} ")) || engine_full.ends_with(&ttl)
}

/// Sets the TTL of every aggregate table to `retention` where it is not yet. Returns
/// whether any changed.
pub async fn apply_retention(
    server: &Client,
    database: &str,
    target: &Target,
    retention: Retention,
) -> Result<bool, MigrationError> {
    let mut changed = false;
    for table in AGGREGATE_TABLES {
        let stored = stored_table(target, table);
        let engine: String = server
            .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
            .bind(database)
            .bind(&stored)
            .fetch_one()
            .await?;
        if is_in_effect(&engine, retention) {
            continue;
        }
        let statement = alter_statement(target, database, table, retention);
        tracing::info!(
            database,
            table = stored,
            statement,
            "setting aggregates retention"
        );
        server
            .query(&statement)
            .execute()
            .await
            .map_err(MigrationError::Retention)?;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_alters_its_shard_local_tables_everywhere() {
        let cluster = Target::Cluster("prod".parse().expect("cluster name"));
        assert_eq!(
            alter_statement(&cluster, "allezon", "minute_aggregates", Retention::default()),
            "ALTER TABLE allezon.minute_aggregates_local ON CLUSTER prod MODIFY TTL ingested_in + toIntervalMinute(1450)"
        );
        assert_eq!(
            alter_statement(
                &Target::UnreplicatedShards("local".parse().expect("cluster name")),
                "allezon",
                "minute_aggregates",
                Retention::default()
            ),
            "ALTER TABLE allezon.minute_aggregates_local MODIFY TTL ingested_in + toIntervalMinute(1450)"
        );
        assert_eq!(
            alter_statement(
                &Target::SingleNode,
                "allezon",
                "minute_dimension_totals",
                Retention::default()
            ),
            "ALTER TABLE allezon.minute_dimension_totals MODIFY TTL ingested_in + toIntervalMinute(1450)"
        );
        assert!(is_in_effect(
            "SummingMergeTree PARTITION BY ingested_in ORDER BY x TTL ingested_in + toIntervalMinute(1450) SETTINGS a = 1",
            Retention::default()
        ));
        assert!(!is_in_effect(
            "SummingMergeTree TTL ingested_in + toIntervalMinute(14500)",
            Retention::default()
        ));
    }

    #[test]
    fn the_ttl_covers_the_window_after_the_ingestion_bucket_ends() {
        assert_eq!(
            Retention::default().aggregates_ttl(),
            "ingested_in + toIntervalMinute(1450)"
        );
        let soak = Retention {
            aggregates_minutes: 10,
        };
        assert_eq!(soak.aggregates_ttl(), "ingested_in + toIntervalMinute(20)");
    }
}
