//! The local stack's ClickHouse is the pinned release. It is served through chdb-core's
//! private entry point (deploy/local/clickhouse/serve.py), so an upgrade of chdb-core
//! that changed the engine or that entry point must fail here, loudly, rather than
//! change the SQL we test under our feet.

/// The ClickHouse release inside chdb-core 26.9.0 (scripts/install.sh pins it).
const PINNED: &str = "26.9.2.1";

#[tokio::test]
async fn the_local_clickhouse_is_the_pinned_release() {
    let settings = test_support::clickhouse_settings("default");
    let version: String = service_kit::clickhouse::client(&settings)
        .query("SELECT version()")
        .fetch_one()
        .await
        .expect("clickhouse answers");
    assert_eq!(version, PINNED);
    // The projector's inserts must be synchronous: chdb's clickhouse-local turns
    // async_insert on by default, deploy/local/clickhouse/users.xml turns it off.
    let async_insert: String = service_kit::clickhouse::client(&settings)
        .query("SELECT value FROM system.settings WHERE name = 'async_insert'")
        .fetch_one()
        .await
        .expect("setting readable");
    assert_eq!(async_insert, "0");
}
