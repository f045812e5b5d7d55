//! The runner against the real ClickHouse of the local stack (`make up`), and the
//! cluster mode against a private three-server cluster with ZooKeeper (`cluster`).

mod cluster;

use migrations::Target;
use service_kit::settings::ClickHouseSettings;
use service_kit::tables::UserTagRow;
use std::collections::HashMap;
use std::path::Path;

fn settings(database: &str) -> ClickHouseSettings {
    ClickHouseSettings {
        url: std::env::var("CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_owned()),
        database: database.to_owned(),
        user: "default".to_owned(),
        password: String::new(),
    }
}

fn unique_database(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("test_{prefix}_{}_{nanos}", std::process::id())
}

#[tokio::test]
async fn applies_every_migration_once_and_records_it() {
    let database = unique_database("migrate");
    let server = service_kit::clickhouse::server_client(&settings(&database));
    let all = migrations::discover(&migrations::bundled_dir()).expect("migrations readable");
    let first = migrations::apply(&server, &database, &migrations::bundled_dir())
        .await
        .expect("applies");
    assert_eq!(first.len(), all.len());
    let second = migrations::apply(&server, &database, &migrations::bundled_dir())
        .await
        .expect("re-run");
    assert!(second.is_empty(), "re-running applied {second:?}");
    let tables: Vec<String> = server
        .clone()
        .with_database(&database)
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(&database)
        .fetch_all()
        .await
        .expect("tables listed");
    for table in [
        "minute_aggregates",
        "minute_aggregates_mv",
        "projector_offsets",
        "schema_migrations",
        "user_tags",
    ] {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} missing from {tables:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_migration_names_its_file_and_stops() {
    let dir = std::env::temp_dir().join(unique_database("dir"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("0001_ok.sql"),
        "CREATE TABLE IF NOT EXISTS ok (x UInt8) ENGINE = Memory",
    )
    .expect("write");
    std::fs::write(
        dir.join("0002_broken.sql"),
        "CREATE TABLE broken (x NoSuchType) ENGINE = Memory",
    )
    .expect("write");
    std::fs::write(
        dir.join("0003_never.sql"),
        "CREATE TABLE never (x UInt8) ENGINE = Memory",
    )
    .expect("write");
    let database = unique_database("broken");
    let server = service_kit::clickhouse::server_client(&settings(&database));
    let error = migrations::apply(&server, &database, Path::new(&dir))
        .await
        .expect_err("must fail");
    let message = error.to_string();
    assert!(message.contains("0002_broken.sql"), "{message}");
    assert!(message.contains("NoSuchType"), "{message}");
    let applied: Vec<u32> = server
        .clone()
        .with_database(&database)
        .query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await
        .expect("recorded");
    assert_eq!(
        applied,
        vec![1],
        "only the migration before the failure is recorded"
    );
}

#[test]
fn file_names_without_a_version_are_refused() {
    let dir = std::env::temp_dir().join(unique_database("names"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("create_things.sql"), "SELECT 1").expect("write");
    assert!(matches!(
        migrations::discover(&dir),
        Err(migrations::MigrationError::BadFileName(name)) if name == "create_things.sql"
    ));
}

#[test]
fn every_bundled_migration_renders_for_a_single_server_and_a_cluster() {
    let cluster = Target::Cluster("prod".parse().expect("cluster name"));
    for migration in migrations::discover(&migrations::bundled_dir()).expect("readable") {
        let single = migration
            .statements(&Target::SingleNode, "allezon")
            .expect("renders for one server");
        assert_eq!(single.len(), 1, "{}", migration.file_name);
        assert!(
            !single[0].contains("{{") && !single[0].contains("_local"),
            "{}: {}",
            migration.file_name,
            single[0]
        );
        let statements = migration
            .statements(&cluster, "allezon")
            .expect("renders for a cluster");
        for statement in &statements {
            assert!(
                statement.contains(" ON CLUSTER prod"),
                "{}: {statement}",
                migration.file_name
            );
            // Every engine is replicated or distributed; views watch local tables only.
            if statement.contains("ENGINE") {
                assert!(
                    statement.contains("ENGINE = Replicated")
                        || statement.contains("ENGINE = Distributed(prod, allezon, "),
                    "{}: {statement}",
                    migration.file_name
                );
            }
            if let Some((_, select)) = statement.split_once(" AS\nSELECT") {
                assert!(
                    select.contains("FROM allezon.user_tags_local"),
                    "{}: {statement}",
                    migration.file_name
                );
            }
        }
    }
}

/// read-api's profile query (a copy of PROFILE_TAGS in read-api/src/store.rs).
const PROFILE_TAGS: &str = "\
    SELECT ?fields FROM user_tags \
    WHERE cookie = ? AND action = ? AND time_ms >= ? AND time_ms < ? \
    ORDER BY time_ms DESC \
    LIMIT 1 BY time_ms \
    LIMIT ?";

/// The projector's resume query (projector/src/sink.rs).
const RESUME_OFFSETS: &str = "SELECT kafka_partition, max(next_offset) FROM projector_offsets \
    WHERE kafka_topic = ? GROUP BY kafka_partition";

fn tag(partition: i32, offset: i64) -> UserTagRow {
    UserTagRow {
        cookie: format!("cookie-{partition}"),
        action: 1,
        time_ms: 1_772_366_400_000 + offset * 1_000,
        country: "CL".to_owned(),
        device: 1,
        origin: "CAMPAIGN".to_owned(),
        product_id: "12486".to_owned(),
        product_id_is_text: 0,
        brand_id: "Ebros".to_owned(),
        category_id: "Shoes".to_owned(),
        price: 100,
        kafka_topic: "user-tags".to_owned(),
        kafka_partition: partition,
        kafka_offset: offset,
    }
}

/// Waits until `server` holds every part its shard's other replicas have.
async fn sync_replicas(server: &clickhouse::Client, database: &str) {
    for table in [
        "schema_migrations",
        "user_tags_local",
        "projector_offsets_local",
        "minute_aggregates_local",
    ] {
        server
            .query(&format!("SYSTEM SYNC REPLICA {database}.{table}"))
            .execute()
            .await
            .expect("replica synced");
    }
}

#[tokio::test]
async fn on_a_cluster_a_partition_lives_on_one_shard_with_its_offsets_and_reads_see_every_shard() {
    let started = std::time::Instant::now();
    let cluster = cluster::TestCluster::start().await;
    eprintln!("cluster up in {:?}", started.elapsed());
    let [a, b, c] = [0, 1, 2].map(|index| cluster.servers[index].client());
    let target = Target::Cluster(cluster::NAME.parse().expect("cluster name"));
    let database = unique_database("cluster");
    let dir = migrations::bundled_dir();

    let all = migrations::discover(&dir).expect("migrations readable");
    let applied = migrations::apply_to(&a, &database, &dir, &target)
        .await
        .expect("cluster migrations apply");
    assert_eq!(applied.len(), all.len());
    eprintln!("migrated in {:?}", started.elapsed());
    // schema_migrations is replicated to every server: a later run may use any of them,
    // and so may `projector rebuild`'s single-server `apply` against a migrated database.
    sync_replicas(&c, &database).await;
    let again = migrations::apply_to(&c, &database, &dir, &target)
        .await
        .expect("re-run on another server");
    assert!(again.is_empty(), "re-running applied {again:?}");
    sync_replicas(&b, &database).await;
    let single = migrations::apply(&b, &database, &dir)
        .await
        .expect("single-server run on a migrated cluster database");
    assert!(single.is_empty(), "single-server run applied {single:?}");

    for server in [&a, &b, &c] {
        let engines: HashMap<String, String> = server
            .query("SELECT name, engine FROM system.tables WHERE database = ?")
            .bind(&database)
            .fetch_all::<(String, String)>()
            .await
            .expect("tables listed")
            .into_iter()
            .collect();
        let expected: HashMap<String, String> = [
            ("user_tags_local", "ReplicatedReplacingMergeTree"),
            ("user_tags", "Distributed"),
            ("projector_offsets_local", "ReplicatedReplacingMergeTree"),
            ("projector_offsets", "Distributed"),
            ("projector_offsets_mv", "MaterializedView"),
            ("minute_aggregates_local", "ReplicatedSummingMergeTree"),
            ("minute_aggregates", "Distributed"),
            ("minute_aggregates_mv", "MaterializedView"),
            ("schema_migrations", "ReplicatedMergeTree"),
        ]
        .into_iter()
        .map(|(name, engine)| (name.to_owned(), engine.to_owned()))
        .collect();
        assert_eq!(engines, expected);
    }

    // The projector's batch: one insert into the Distributed user_tags, synchronous
    // (see docs/operations.md), here through a replica that is not the first one.
    let writer = b
        .clone()
        .with_database(&database)
        .with_setting("insert_distributed_sync", "1");
    let batch: Vec<UserTagRow> = (0..4)
        .flat_map(|partition| (0..3).map(move |offset| tag(partition, offset)))
        .collect();
    let (writer_ref, batch_ref) = (&writer, &batch);
    let insert_batch = || async move {
        let mut insert = writer_ref
            .insert::<UserTagRow>("user_tags")
            .await
            .expect("insert opened");
        for row in batch_ref {
            insert.write(row).await.expect("row written");
        }
        insert.end().await.expect("batch inserted");
    };
    insert_batch().await;
    for server in [&a, &b, &c] {
        sync_replicas(server, &database).await;
    }

    // Sharded by kafka_partition: shard 1 (a, b) holds the even partitions, shard 2 (c)
    // the odd ones, and each partition's resume offset sits with its rows.
    for (server, partitions) in [(&a, [0, 2]), (&b, [0, 2]), (&c, [1, 3])] {
        for table in ["user_tags_local", "projector_offsets_local"] {
            let held: Vec<i32> = server
                .query(&format!(
                    "SELECT DISTINCT kafka_partition FROM {database}.{table} ORDER BY kafka_partition"
                ))
                .fetch_all()
                .await
                .expect("partitions listed");
            assert_eq!(held, partitions, "{table}");
        }
    }

    // The projector resends a batch whose insert failed: every shard deduplicates its
    // identical block, so nothing is counted twice.
    insert_batch().await;
    let reader = c.clone().with_database(&database);
    let resume: HashMap<i32, i64> = reader
        .query(RESUME_OFFSETS)
        .bind("user-tags")
        .fetch_all::<(i32, i64)>()
        .await
        .expect("resume offsets")
        .into_iter()
        .collect();
    assert_eq!(resume, (0..4).map(|partition| (partition, 3)).collect());
    let tags: u64 = reader
        .query("SELECT count() FROM user_tags")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(tags, 12, "the resent batch was stored twice");
    let counted: Vec<(u32, u64, i64)> = reader
        .query(
            "SELECT toUInt32(minute), sum(count), sum(sum_price) FROM minute_aggregates \
             WHERE filter_mask = 0 AND action = 'VIEW' GROUP BY minute ORDER BY minute",
        )
        .fetch_all()
        .await
        .expect("aggregates");
    assert_eq!(counted, vec![(1_772_366_400, 12, 1_200)]);

    // A profile is read through any server, whichever shard holds the cookie.
    let profile: Vec<UserTagRow> = a
        .clone()
        .with_database(&database)
        .query(PROFILE_TAGS)
        .bind("cookie-1")
        .bind("VIEW")
        .bind(0_i64)
        .bind(i64::MAX)
        .bind(200_u64)
        .fetch_all()
        .await
        .expect("profile");
    let offsets: Vec<i64> = profile.iter().map(|row| row.kafka_offset).collect();
    assert_eq!(offsets, vec![2, 1, 0], "newest first, once each");

    // Only views fill minute_aggregates: its Distributed table has no sharding key
    // and refuses inserts.
    let direct = writer
        .query("INSERT INTO minute_aggregates (filter_mask, minute, count) VALUES (0, now(), 1)")
        .execute()
        .await;
    assert!(
        direct.is_err(),
        "a direct insert into minute_aggregates was accepted"
    );

    // Retention on a cluster: the hourly partitions are dropped from the local tables.
    a.query(&format!(
        "ALTER TABLE {database}.minute_aggregates_local ON CLUSTER {} DROP PARTITION 492324",
        cluster::NAME
    ))
    .execute()
    .await
    .expect("partition dropped on every shard");
    for server in [&a, &b, &c] {
        sync_replicas(server, &database).await;
    }
    let left: u64 = reader
        .query("SELECT count() FROM minute_aggregates")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(left, 0);
    eprintln!("done in {:?}", started.elapsed());
}
