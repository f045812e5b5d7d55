//! The runner against the real ClickHouse of the local stack (`make up`).

use service_kit::settings::ClickHouseSettings;
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
