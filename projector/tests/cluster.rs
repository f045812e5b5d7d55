//! The cluster's operations on the sharded stack (`make cluster-test` runs these; they
//! are ignored by a plain `cargo test`, whose stack has one server): each test makes a
//! scratch database on every shard as `migrate --cluster --clickhouse-shard-url` does,
//! sends rows through the Distributed tables, and checks on each shard's own server:
//! - the trimmer, one per shard on its local tables, keeps each pair's newest tags on
//!   whichever shard holds it, and the counts follow;
//! - retention ALTERs reach every shard's local tables;
//! - `projector rebuild` into a database migrated on every shard fills the cluster's
//!   tables, each partition on its shard; `projector reconcile` finds the live
//!   cluster's aggregates equal to the log.
//!
//! The shards come from the stack's environment (`scripts/lib.sh` exports them):
//! `CLICKHOUSE_CLUSTER` and `CLICKHOUSE_SHARD_URLS`.

mod common;

use migrations::{ClusterName, Target};
use projector::{TrimPolicy, Trimmer};
use read_model::UserTagRow;
use service_kit::settings::{ClickHouseSettings, ShardSettings};
use std::time::Duration;

/// The sharded stack's shards, each holding a fresh migrated database `prefix_*`.
struct Shards {
    target: Target,
    servers: Vec<ClickHouseSettings>,
}

impl Shards {
    async fn migrated(prefix: &str) -> Self {
        let cluster: ClusterName = std::env::var("CLICKHOUSE_CLUSTER")
            .expect("CLICKHOUSE_CLUSTER: run through make cluster-test")
            .parse()
            .expect("cluster name");
        let shards = ShardSettings {
            urls: std::env::var("CLICKHOUSE_SHARD_URLS")
                .expect("CLICKHOUSE_SHARD_URLS: run through make cluster-test")
                .split(',')
                .map(str::to_owned)
                .collect(),
        };
        assert!(
            shards.urls.len() >= 2,
            "a sharded stack has two shards or more"
        );
        let settings = test_support::clickhouse_settings(&test_support::unique_name(prefix));
        let target = Target::UnreplicatedShards(cluster);
        let servers = shards.servers(&settings);
        for server in &servers {
            migrations::apply_to(
                &service_kit::clickhouse::server_client(server),
                &server.database,
                &migrations::bundled_dir(),
                &target,
            )
            .await
            .expect("migrated on a shard");
        }
        Self { target, servers }
    }

    fn client(&self, shard: usize) -> clickhouse::Client {
        service_kit::clickhouse::client(&self.servers[shard])
    }

    async fn drop_database(&self) {
        for server in &self.servers {
            let _ = service_kit::clickhouse::server_client(server)
                .query("DROP DATABASE IF EXISTS ?")
                .bind(clickhouse::sql::Identifier(&server.database))
                .execute()
                .await;
        }
    }
}

fn row(cookie: &str, partition: i32, time_ms: i64, offset: i64) -> UserTagRow {
    common::stored_row(cookie, 1, time_ms, partition, offset)
}

async fn local_times(client: &clickhouse::Client, cookie: &str) -> Vec<i64> {
    client
        .query("SELECT time_ms FROM user_tags_local WHERE cookie = ? ORDER BY time_ms DESC")
        .bind(cookie)
        .fetch_all()
        .await
        .expect("times")
}

async fn counted(client: &clickhouse::Client, cookie: &str) -> i64 {
    client
        .query("SELECT sum(rows) FROM user_tag_counts WHERE cookie = ?")
        .bind(cookie)
        .fetch_one()
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the sharded stack: make cluster-test"]
async fn the_trimmer_trims_each_shards_local_tables() {
    let shards = Shards::migrated("cluster_trim").await;
    // Through the first shard's Distributed table, as the projector inserts: a cookie
    // on an even partition (shard 1) and one on an odd partition (shard 2), 40 tags
    // each, and a cookie under the bound on each shard.
    let mut rows = Vec::new();
    for time in 0..40 {
        rows.push(row("even", 0, time, time));
        rows.push(row("odd", 1, time, time));
    }
    for time in 0..5 {
        rows.push(row("even-small", 2, time, 100 + time));
        rows.push(row("odd-small", 3, time, 100 + time));
    }
    let writer = shards
        .client(0)
        .with_setting("distributed_foreground_insert", "1");
    let mut insert = writer
        .insert::<UserTagRow>("user_tags")
        .await
        .expect("insert starts");
    for row in &rows {
        insert.write(row).await.expect("row written");
    }
    insert.end().await.expect("inserted");
    assert_eq!(local_times(&shards.client(0), "even").await.len(), 40);
    assert_eq!(local_times(&shards.client(1), "odd").await.len(), 40);
    assert!(local_times(&shards.client(0), "odd").await.is_empty());

    // A single-server trimmer cannot work through the Distributed tables.
    let policy = TrimPolicy {
        keep: 10,
        slack: 5,
        recent: Duration::ZERO,
        interval: Duration::from_secs(3600),
        reclaim_interval: Duration::ZERO,
    };
    assert!(
        Trimmer::new(shards.client(0), policy)
            .run_once()
            .await
            .is_err(),
        "a trim through the Distributed tables went through"
    );

    for (shard, server) in shards.servers.iter().enumerate() {
        let report = Trimmer::on_shard(shards.client(shard), policy, &server.url)
            .run_once()
            .await
            .expect("trimmed on its shard");
        assert_eq!(report.pairs, 1, "shard {shard}: one pair above the bound");
        assert_eq!(report.rows_deleted, 30, "shard {shard}");
    }
    let newest: Vec<i64> = (30..40).rev().collect();
    assert_eq!(local_times(&shards.client(0), "even").await, newest);
    assert_eq!(local_times(&shards.client(1), "odd").await, newest);
    assert_eq!(local_times(&shards.client(0), "even-small").await.len(), 5);
    assert_eq!(local_times(&shards.client(1), "odd-small").await.len(), 5);
    // Counts read through the Distributed table follow, on either server.
    for shard in 0..2 {
        let client = shards.client(shard);
        assert_eq!(counted(&client, "even").await, 10);
        assert_eq!(counted(&client, "odd").await, 10);
        assert_eq!(counted(&client, "odd-small").await, 5);
    }
    // The disk is reclaimed on each shard's local table as well.
    for (shard, server) in shards.servers.iter().enumerate() {
        Trimmer::on_shard(shards.client(shard), policy, &server.url)
            .reclaim()
            .await
            .expect("reclaimed on its shard");
    }
    shards.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the sharded stack: make cluster-test"]
async fn retention_reaches_every_shard() {
    let shards = Shards::migrated("cluster_retention").await;
    let retention = migrations::Retention {
        aggregates_minutes: 15,
    };
    for server in &shards.servers {
        let changed = migrations::apply_retention(
            &service_kit::clickhouse::server_client(server),
            &server.database,
            &shards.target,
            retention,
        )
        .await
        .expect("retention set");
        assert!(changed, "{}: the window was already 15 minutes", server.url);
    }
    for server in &shards.servers {
        for table in migrations::retention::AGGREGATE_TABLES {
            let engine: String = service_kit::clickhouse::server_client(server)
                .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
                .bind(&server.database)
                .bind(format!("{table}_local"))
                .fetch_one()
                .await
                .expect("engine");
            assert!(
                migrations::retention::is_in_effect(&engine, retention),
                "{} {table}: {engine}",
                server.url
            );
        }
    }
    shards.drop_database().await;
}

/// The live stack's projector settings (the environment `scripts/lib.sh` exports), on a
/// free port.
fn live_config() -> projector::Config {
    let mut config = projector::Config::local_defaults();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config
}

async fn total_count(client: &clickhouse::Client) -> u64 {
    client
        .query("SELECT sum(count) FROM minute_aggregates")
        .fetch_one()
        .await
        .expect("aggregates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the sharded stack: make cluster-test"]
async fn rebuild_and_reconcile_work_against_the_cluster() {
    let config = live_config();
    assert!(
        !config.shards.urls.is_empty(),
        "CLICKHOUSE_SHARD_URLS: run through make cluster-test"
    );
    let live = service_kit::clickhouse::client(&config.clickhouse);
    let live_tags = total_count(&live).await;
    assert!(live_tags > 0, "the live cluster holds no tags yet");

    // A rebuild into a database migrated on every shard first (operations.md): the log
    // lands in the cluster's tables, each partition on its shard.
    let shards = Shards::migrated("cluster_rebuild").await;
    let target = shards.servers[0].database.clone();
    let report = projector::rebuild(
        config.clone(),
        &target,
        &migrations::bundled_dir(),
        None,
        None,
    )
    .await
    .expect("rebuilt");
    assert!(report.messages > 0);
    assert_eq!(
        total_count(&shards.client(0)).await,
        live_tags,
        "the rebuilt aggregates are not the live ones"
    );
    for (shard, parity) in [(0, 0), (1, 1)] {
        let partitions: Vec<i32> = shards
            .client(shard)
            .query("SELECT DISTINCT kafka_partition FROM user_tags_local ORDER BY kafka_partition")
            .fetch_all()
            .await
            .expect("partitions");
        assert!(!partitions.is_empty(), "shard {shard} got nothing");
        assert!(
            partitions.iter().all(|partition| partition % 2 == parity),
            "shard {shard} holds partitions {partitions:?}"
        );
    }
    shards.drop_database().await;

    // Reconcile the live cluster's aggregates with the log, over every minute it holds.
    let (first, last): (i64, i64) = live
        .query("SELECT min(time_ms), max(time_ms) FROM user_tags")
        .fetch_one()
        .await
        .expect("range");
    let from = schemas::EventTime::from_millis(first - first.rem_euclid(60_000));
    let to = schemas::EventTime::from_millis(last - last.rem_euclid(60_000) + 60_000);
    let reconciled = projector::reconcile(
        config,
        &projector::ReconcileRequest {
            from,
            to,
            scratch_database: test_support::unique_name("cluster_reconcile"),
            keep: false,
            json_out: None,
            metrics_out: None,
            migrations_dir: migrations::bundled_dir(),
        },
    )
    .await
    .expect("reconciled");
    assert!(reconciled.combinations_compared > 0);
    assert_eq!(reconciled.tags_live, reconciled.tags_in_log);
    assert!(
        reconciled.differences.is_empty(),
        "{:?}",
        &reconciled.differences[..reconciled.differences.len().min(5)]
    );
}
