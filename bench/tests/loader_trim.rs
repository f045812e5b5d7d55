//! The loader trims what it loaded as the projector would, with the projector's policy
//! from its environment: here a small one (10 tags kept per cookie and action, no
//! slack, no recent window), so a few thousand tags are enough to trim. Its own test
//! binary, because the policy is set in the process environment.

use bench::loader::{load, LoadOptions};
use std::time::Duration;

const TAGS: u64 = 4_000;
const KEEP: u64 = 10;

#[tokio::test]
async fn loaded_tags_are_trimmed_to_the_projectors_policy_and_aggregates_keep_all() {
    // The only test of this binary: nothing else reads the environment meanwhile.
    std::env::set_var("PROJECTOR_TRIM_KEEP", KEEP.to_string());
    std::env::set_var("PROJECTOR_TRIM_SLACK", "0");
    std::env::set_var("PROJECTOR_TRIM_RECENT_MS", "0");
    let settings = test_support::migrated_database("bench_loader_trim").await;
    let report = load(&LoadOptions {
        clickhouse: settings.clone(),
        migrations_dir: migrations::bundled_dir(),
        tags: TAGS,
        seed: 5,
        chunk_rows: 1_000,
        force: false,
        insert_timeout: Duration::from_secs(60),
    })
    .await
    .expect("load");
    let deleted = report.trimmed_rows.expect("trimmed now");
    assert!(deleted > 0, "the hot cookies hold more than {KEEP} tags");

    let client = service_kit::clickhouse::client(&settings);
    let (rows, largest): (u64, u64) = client
        .query(
            "SELECT sum(c), max(c) FROM \
             (SELECT cookie, action, count() AS c FROM user_tags GROUP BY cookie, action)",
        )
        .fetch_one()
        .await
        .expect("rows per pair");
    assert_eq!(rows, TAGS - deleted);
    assert!(largest <= KEEP, "a pair kept {largest} rows");
    let aggregated: u64 = client
        .query("SELECT sum(count) FROM minute_aggregates")
        .fetch_one()
        .await
        .expect("aggregates");
    assert_eq!(aggregated, TAGS, "trimming never touches the aggregates");

    let server = service_kit::clickhouse::server_client(&settings);
    let _ = server
        .query("DROP DATABASE IF EXISTS ?")
        .bind(clickhouse::sql::Identifier(&settings.database))
        .execute()
        .await;
}
