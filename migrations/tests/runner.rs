//! The runner against the real ClickHouse of the local stack (`make up`), and the
//! cluster mode against a private two-shard cluster (`cluster`); the ledger's
//! checksums (an edited migration refused by name, a database migrated before
//! checksums refused until accepted) and the upgrade from the released migrations
//! (`released.sha256`) to the current ones.

mod cluster;

use migrations::{MigrationError, Target};
use read_model::profile::{CookieRead, ProfileRows};
use read_model::UserTagRow;
use service_kit::settings::ClickHouseSettings;
use std::collections::{BTreeMap, HashMap};

use std::path::{Path, PathBuf};

/// The minute cube's projections (migrations 0012 and 0014), by name.
const CUBE_PROJECTIONS: [&str; 6] = [
    "by_brand_origin",
    "by_category_country",
    "by_device_brand",
    "by_device_category",
    "by_device_country",
    "by_device_origin",
];

fn settings(database: &str) -> ClickHouseSettings {
    test_support::clickhouse_settings(database)
}

fn unique_database(prefix: &str) -> String {
    test_support::unique_name(&format!("test_{prefix}"))
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
        "minute_dimension_totals",
        "minute_dimension_totals_mv",
        "projector_batches",
        "schema_migrations",
        "trim_candidates",
        "trim_keys",
        "user_tag_counts",
        "user_tag_counts_mv",
        "user_tags",
    ] {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} missing from {tables:?}"
        );
    }
    assert_eq!(
        projections(&server, &database, "minute_aggregates").await,
        CUBE_PROJECTIONS
    );
    assert_small_compression_blocks(&server, &database, "user_tags").await;
}

/// Migration 0016's compression blocks are `table`'s own settings in `database`.
async fn assert_small_compression_blocks(server: &clickhouse::Client, database: &str, table: &str) {
    let engine: String = server
        .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
        .bind(database)
        .bind(table)
        .fetch_one()
        .await
        .expect("table listed");
    for setting in [
        "min_compress_block_size = 4096",
        "max_compress_block_size = 16384",
    ] {
        assert!(
            engine.contains(setting),
            "{database}.{table} lacks {setting}: {engine}"
        );
    }
}

/// The projections ClickHouse holds for `table` in `database`, by name.
async fn projections(server: &clickhouse::Client, database: &str, table: &str) -> Vec<String> {
    server
        .query("SELECT name FROM system.projections WHERE database = ? AND table = ? ORDER BY name")
        .bind(database)
        .bind(table)
        .fetch_all()
        .await
        .expect("projections listed")
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
    let message = service_kit::error::chain(&error).to_string();
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

/// A folder of its own holding `files` (name, text).
fn migrations_dir(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_database("dir"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    dir
}

/// The versions `database`'s ledger holds, with their checksums, in order.
async fn ledger(server: &clickhouse::Client, database: &str) -> Vec<(u32, String, String)> {
    server
        .clone()
        .with_database(database)
        .query(
            "SELECT version, file_name, checksum FROM schema_migrations ORDER BY version, checksum",
        )
        .fetch_all()
        .await
        .expect("ledger read")
}

async fn table_exists(server: &clickhouse::Client, database: &str, table: &str) -> bool {
    server
        .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
        .bind(database)
        .bind(table)
        .fetch_one::<u64>()
        .await
        .expect("tables listed")
        == 1
}

#[tokio::test]
async fn an_edited_migration_stops_the_run_by_name_before_anything_is_applied() {
    let first = "CREATE TABLE IF NOT EXISTS first (x UInt8) ENGINE = Memory";
    let second = "-- the second table\nCREATE TABLE IF NOT EXISTS second (x UInt8) ENGINE = Memory";
    let dir = migrations_dir(&[("0001_first.sql", first), ("0002_second.sql", second)]);
    let database = unique_database("edited");
    let server = service_kit::clickhouse::server_client(&settings(&database));
    migrations::apply(&server, &database, &dir)
        .await
        .expect("applies");
    let recorded = ledger(&server, &database).await;
    let checksums: Vec<String> = recorded.iter().map(|row| row.2.clone()).collect();
    assert_eq!(
        checksums,
        vec![
            migrations::ledger::checksum(first.as_bytes()),
            migrations::ledger::checksum(second.as_bytes())
        ],
        "each applied file's checksum is recorded"
    );

    // 0002 edited in place (a comment is an edit too), and a new 0003 beside it.
    std::fs::write(
        dir.join("0002_second.sql"),
        second.replace("the second table", "the second table, edited"),
    )
    .expect("edit");
    std::fs::write(
        dir.join("0003_third.sql"),
        "CREATE TABLE third (x UInt8) ENGINE = Memory",
    )
    .expect("write");
    let error = migrations::apply(&server, &database, &dir)
        .await
        .expect_err("an edited migration must be refused");
    let message = service_kit::error::chain(&error).to_string();
    assert!(
        matches!(&error, MigrationError::Edited { file_name, .. } if file_name == "0002_second.sql"),
        "{message}"
    );
    assert!(message.contains("0002_second.sql"), "{message}");
    assert!(
        !table_exists(&server, &database, "third").await,
        "a migration was applied beside the edited one"
    );
    assert_eq!(ledger(&server, &database).await, recorded);

    // A file renamed is refused too; restored, the run goes on.
    std::fs::write(dir.join("0002_second.sql"), second).expect("restore");
    std::fs::rename(dir.join("0001_first.sql"), dir.join("0001_renamed.sql")).expect("rename");
    let error = migrations::apply(&server, &database, &dir)
        .await
        .expect_err("a renamed migration must be refused");
    assert!(
        matches!(&error, MigrationError::Renamed { recorded, file_name, .. }
            if recorded == "0001_first.sql" && file_name == "0001_renamed.sql"),
        "{error}"
    );
    std::fs::rename(dir.join("0001_renamed.sql"), dir.join("0001_first.sql")).expect("rename");
    let applied = migrations::apply(&server, &database, &dir)
        .await
        .expect("restored files apply");
    assert_eq!(applied, vec!["0003_third.sql"]);
}

/// The released migrations (merged into main): `released.sha256`, in `sha256sum`
/// format, in version order.
fn released() -> Vec<(String, String)> {
    let listing = std::fs::read_to_string(migrations::bundled_dir().join("released.sha256"))
        .expect("released.sha256 readable");
    listing
        .lines()
        .map(|line| {
            let (checksum, file_name) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("not a sha256sum line: {line:?}"));
            (checksum.to_owned(), file_name.to_owned())
        })
        .collect()
}

#[test]
fn released_migrations_are_frozen() {
    let released = released();
    let bundled = migrations::discover(&migrations::bundled_dir()).expect("readable");
    assert!(!released.is_empty());
    for (index, (checksum, file_name)) in released.iter().enumerate() {
        let migration = bundled
            .iter()
            .find(|migration| &migration.file_name == file_name)
            .unwrap_or_else(|| panic!("released migration {file_name} is gone"));
        assert_eq!(
            migration.version as usize,
            index + 1,
            "released.sha256 lists versions 1, 2, ... in order"
        );
        assert_eq!(
            &migration.checksum, checksum,
            "{file_name} was edited after its release: restore it and put the change in a new migration"
        );
    }
}

/// A database as the previous release's runner (3ea1401) left it after applying
/// `files`: its ledger without checksums (`version`, `file_name`, `applied_at`), each
/// file's statement run as written, one row per file.
async fn migrated_by_the_previous_runner(
    server: &clickhouse::Client,
    database: &str,
    files: &[migrations::Migration],
) {
    let client = server.clone().with_database(database);
    server
        .query("CREATE DATABASE IF NOT EXISTS ?")
        .bind(clickhouse::sql::Identifier(database))
        .execute()
        .await
        .expect("database created");
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, file_name String, applied_at DateTime DEFAULT now()) \
             ENGINE = MergeTree ORDER BY version",
        )
        .execute()
        .await
        .expect("ledger created");
    for migration in files {
        for statement in migration
            .statements(&Target::SingleNode, database)
            .expect("renders")
        {
            client
                .query(&statement)
                .execute()
                .await
                .unwrap_or_else(|error| panic!("{}: {error}", migration.file_name));
        }
        client
            .query("INSERT INTO schema_migrations (version, file_name) VALUES (?, ?)")
            .bind(migration.version)
            .bind(&migration.file_name)
            .execute()
            .await
            .expect("recorded");
    }
}

/// Every table and view of `database` as ClickHouse would create it again, the
/// database's name taken out.
async fn schema(server: &clickhouse::Client, database: &str) -> BTreeMap<String, String> {
    server
        .query("SELECT name, create_table_query FROM system.tables WHERE database = ?")
        .bind(database)
        .fetch_all::<(String, String)>()
        .await
        .expect("tables listed")
        .into_iter()
        .map(|(name, create)| (name, create.replace(database, "DATABASE")))
        .collect()
}

#[tokio::test]
async fn a_database_made_by_the_released_migrations_upgrades_to_the_current_schema() {
    let bundled = migrations::discover(&migrations::bundled_dir()).expect("readable");
    let released: Vec<migrations::Migration> = released()
        .iter()
        .map(|(_, file_name)| {
            bundled
                .iter()
                .find(|migration| &migration.file_name == file_name)
                .cloned()
                .unwrap_or_else(|| panic!("released migration {file_name} is gone"))
        })
        .collect();
    let upgraded = unique_database("upgraded");
    let fresh = unique_database("fresh");
    let server = service_kit::clickhouse::server_client(&settings(&upgraded));
    migrated_by_the_previous_runner(&server, &upgraded, &released).await;

    // Its ledger has no checksums: nothing says which text of each file made it, so the
    // current runner refuses it, naming every file, and changes nothing.
    let error = migrations::apply(&server, &upgraded, &migrations::bundled_dir())
        .await
        .expect_err("a ledger without checksums must be refused");
    let released_names: Vec<String> = released
        .iter()
        .map(|migration| migration.file_name.clone())
        .collect();
    assert!(
        matches!(&error, MigrationError::Unverified { file_names, .. } if *file_names == released_names),
        "{error}"
    );
    // The operator knows these files made it: the checksums are recorded once, then the
    // unreleased migrations are applied.
    let accepted = migrations::accept_unverified(
        &server,
        &upgraded,
        &migrations::bundled_dir(),
        &Target::SingleNode,
    )
    .await
    .expect("accepted");
    assert_eq!(accepted, released_names);
    let applied = migrations::apply(&server, &upgraded, &migrations::bundled_dir())
        .await
        .expect("upgrades");
    let unreleased: Vec<String> = bundled
        .iter()
        .skip(released.len())
        .map(|migration| migration.file_name.clone())
        .collect();
    assert_eq!(applied, unreleased);

    migrations::apply(&server, &fresh, &migrations::bundled_dir())
        .await
        .expect("a fresh database migrates");
    assert_eq!(
        schema(&server, &upgraded).await,
        schema(&server, &fresh).await,
        "the upgraded database differs from a fresh one"
    );
    let verified = |rows: Vec<(u32, String, String)>| -> Vec<(u32, String, String)> {
        rows.into_iter().filter(|row| !row.2.is_empty()).collect()
    };
    assert_eq!(
        verified(ledger(&server, &upgraded).await),
        verified(ledger(&server, &fresh).await),
        "the upgraded ledger records other checksums than a fresh one"
    );
    assert!(
        migrations::apply(&server, &upgraded, &migrations::bundled_dir())
            .await
            .expect("re-run")
            .is_empty()
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

fn tag(partition: i32, offset: i64) -> UserTagRow {
    UserTagRow {
        cookie: format!("cookie-{partition}"),
        action: 1,
        time_ms: 1_772_366_400_000 + offset * 1_000,
        time_text: String::new(),
        country: "CL".to_owned(),
        device: 1,
        origin: "CAMPAIGN".to_owned(),
        product_id: "12486".to_owned(),
        product_id_is_text: 0,
        brand_id: "Ebros".to_owned(),
        category_id: "Shoes".to_owned(),
        price: 100,
        kafka_partition: partition,
        kafka_offset: offset,
        batch_ingested_in: 0,
    }
}

#[tokio::test]
async fn on_a_sharded_cluster_a_partition_lives_on_one_shard_and_reads_see_every_shard() {
    let cluster = cluster::TestCluster::start().await;
    let [one, two] = [0, 1].map(|index| cluster.client(index));
    let target = Target::Cluster(cluster::NAME.parse().expect("cluster name"));
    let database = unique_database("cluster");

    // Every migration as `migrate --cluster --clickhouse-shard-url` renders it for a
    // cluster without replication is what `migrate --cluster` renders with replication
    // taken out (see the cluster module for what clickhouse-local cannot do), and
    // `migrate`'s own code applies it to each server in turn.
    let unreplicated = Target::UnreplicatedShards(cluster::NAME.parse().expect("cluster name"));
    let migrations = migrations::discover(&migrations::bundled_dir()).expect("readable");
    for migration in &migrations {
        let replicated: Vec<String> = migration
            .statements(&target, &database)
            .expect("renders")
            .iter()
            .map(|statement| {
                cluster::without_replication(statement).replace("MergeTree()", "MergeTree")
            })
            .collect();
        assert_eq!(
            migration
                .statements(&unreplicated, &database)
                .expect("renders"),
            replicated,
            "{}",
            migration.file_name
        );
    }
    for server in [&one, &two] {
        let applied =
            migrations::apply_to(server, &database, &migrations::bundled_dir(), &unreplicated)
                .await
                .expect("migrated");
        assert_eq!(applied.len(), migrations.len());
        let engines: HashMap<String, String> = server
            .query("SELECT name, engine FROM system.tables WHERE database = ?")
            .bind(&database)
            .fetch_all::<(String, String)>()
            .await
            .expect("tables listed")
            .into_iter()
            .collect();
        let expected: HashMap<String, String> = [
            ("user_tags_local", "ReplacingMergeTree"),
            ("user_tags", "Distributed"),
            ("projector_batches_local", "ReplacingMergeTree"),
            ("projector_batches", "Distributed"),
            ("minute_aggregates_local", "SummingMergeTree"),
            ("minute_aggregates", "Distributed"),
            ("minute_aggregates_mv", "MaterializedView"),
            ("minute_dimension_totals_local", "SummingMergeTree"),
            ("minute_dimension_totals", "Distributed"),
            ("minute_dimension_totals_mv", "MaterializedView"),
            ("user_tag_counts_local", "SummingMergeTree"),
            ("user_tag_counts", "Distributed"),
            ("user_tag_counts_mv", "MaterializedView"),
            ("trim_candidates_local", "MergeTree"),
            ("trim_candidates", "Distributed"),
            ("trim_keys_local", "MergeTree"),
            ("trim_keys", "Distributed"),
            ("schema_migrations", "MergeTree"),
        ]
        .into_iter()
        .map(|(name, engine)| (name.to_owned(), engine.to_owned()))
        .collect();
        assert_eq!(engines, expected);
        assert_eq!(
            projections(server, &database, "minute_aggregates_local").await,
            CUBE_PROJECTIONS,
            "the cube's projections live in each shard's local table"
        );
        assert_small_compression_blocks(server, &database, "user_tags_local").await;
    }

    // The projector's batch: one synchronous insert into the Distributed user_tags with
    // its deduplication token, here through the second server.
    let writer = two
        .clone()
        .with_database(&database)
        .with_setting("distributed_foreground_insert", "1")
        .with_setting("insert_deduplication_token", "tags/0:0-2/1:0-2/2:0-2/3:0-2");
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

    // Sharded by kafka_partition: shard 1 holds the even partitions, shard 2 the odd ones.
    for (server, partitions) in [(&one, [0, 2]), (&two, [1, 3])] {
        let held: Vec<i32> = server
            .query(&format!(
                "SELECT DISTINCT kafka_partition FROM {database}.user_tags_local ORDER BY kafka_partition"
            ))
            .fetch_all()
            .await
            .expect("partitions listed");
        assert_eq!(held, partitions);
    }

    // The projector resends a batch whose insert failed: each shard skips its block
    // (same token), in the table and in the view's aggregates.
    insert_batch().await;
    for server in [&one, &two] {
        let reader = server.clone().with_database(&database);
        let tags: u64 = reader
            .query("SELECT count() FROM user_tags")
            .fetch_one()
            .await
            .expect("count");
        assert_eq!(tags, 12, "the resent batch was stored twice");
        let counted: Vec<(u32, u64, i64)> = reader
            .query(
                "SELECT toUInt32(minute), sum(count), sum(sum_price) FROM minute_aggregates \
                 WHERE action = 'VIEW' GROUP BY minute ORDER BY minute",
            )
            .fetch_all()
            .await
            .expect("aggregates");
        assert_eq!(counted, vec![(1_772_366_400, 12, 1_200)]);
        let rolled_up: Vec<(String, u64, i64)> = reader
            .query(
                "SELECT toString(dimension), sum(count), sum(sum_price) FROM minute_dimension_totals \
                 WHERE action = 'VIEW' GROUP BY dimension ORDER BY dimension",
            )
            .fetch_all()
            .await
            .expect("rollup");
        let every_dimension: Vec<(String, u64, i64)> =
            ["origin", "brand_id", "category_id", "country", "device"]
                .iter()
                .map(|dimension| ((*dimension).to_owned(), 12, 1_200))
                .collect();
        assert_eq!(rolled_up, every_dimension, "the rollup across shards");
    }

    // A profile is read through any server, whichever shard holds the cookie.
    let read = CookieRead {
        cookie: "cookie-1",
        from: schemas::EventTime::from_millis(0),
        to: schemas::EventTime::from_millis(i64::MAX),
        limit: 200,
    };
    let profile = one
        .clone()
        .with_database(&database)
        .newest_distinct_of_action(read, schemas::Action::View)
        .await
        .expect("profile");
    let offsets: Vec<i64> = profile.iter().map(|row| row.kafka_offset).collect();
    assert_eq!(offsets, vec![2, 1, 0], "newest first, once each");

    // Only views fill minute_aggregates: its Distributed table has no sharding key and
    // refuses inserts on a cluster of two shards.
    let direct = writer
        .query("INSERT INTO minute_aggregates (action, minute, count) VALUES ('VIEW', now(), 1)")
        .execute()
        .await;
    assert!(
        direct.is_err(),
        "a direct insert into minute_aggregates was accepted"
    );

    // Retention on a cluster alters the shard-local tables.
    let retention = migrations::Retention {
        aggregates_minutes: 10,
    };
    for table in migrations::retention::AGGREGATE_TABLES {
        let statement =
            migrations::retention::alter_statement(&target, &database, table, retention);
        for server in [&one, &two] {
            server
                .query(&cluster::without_replication(&statement))
                .execute()
                .await
                .expect("retention altered");
            let engine: String = server
                .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
                .bind(&database)
                .bind(format!("{table}_local"))
                .fetch_one()
                .await
                .expect("engine");
            assert!(
                migrations::retention::is_in_effect(&engine, retention),
                "{table}: {engine}"
            );
        }
    }
}
