//! A read read-api gives up on is cancelled in ClickHouse, not left running: the
//! promise of the query gate and the batcher ("a query still running at its request's
//! deadline is dropped, and ClickHouse cancels it"), and of a client that hangs up.
//!
//! ClickHouse cancels an HTTP query whose client closed the connection only when
//! `cancel_http_readonly_queries_on_client_close` is on *and* the request is read-only;
//! the `clickhouse` crate sends every query as a POST, which is not, so without
//! `readonly` (read-api sets `readonly=2`, settings still allowed) the query ran to its
//! end: measured on 26.9, a 4 s query abandoned after 0.7 s ended after 4 s with
//! "Broken pipe" (code 210), and with `readonly=2` after 1 s as cancelled (code 394).
//!
//! The reads are made slow on purpose: the table read-api reads is replaced by a view of
//! it that sleeps a little per block read, over a table kept in many parts (merges
//! stopped, one part per tag), so a read takes seconds, long past the deadline or the
//! client, and ClickHouse can stop it between blocks. Its query log then says how each
//! read ended.

use crate::common::{insert_tags, millis_range, spawn_app_with, tag, BASE_MILLIS};
use read_api::Config;
use service_kit::settings::ClickHouseSettings;
use std::time::Duration;

/// ClickHouse's code for a query cancelled (`QUERY_WAS_CANCELLED`).
const QUERY_WAS_CANCELLED: i32 = 394;
/// Parts of the slowed table: a block each.
const PARTS: i64 = 20;
/// What the slowed view sleeps per block: a read takes 6 s on one thread, 3 s on two.
const SLEEP_PER_BLOCK: &str = "0.3";
/// A read stopped when it was abandoned (at most 0.5 s in) ends well within this.
const CANCELLED_WITHIN_MS: u64 = 2_000;

/// `PARTS` tags of cookie `c`, one insert each, into `database` whose `table` keeps
/// every part (merges stopped), then `table` replaced by a view of its rows that sleeps
/// [`SLEEP_PER_BLOCK`] per block.
async fn slowed(database: &ClickHouseSettings, table: &str) -> clickhouse::Client {
    let client = service_kit::clickhouse::client(database);
    let stop = format!("SYSTEM STOP MERGES {table}");
    client.query(&stop).execute().await.expect("merges stopped");
    for index in 0..PARTS {
        insert_tags(database, &[tag("c", "VIEW", BASE_MILLIS + index)]).await;
    }
    for statement in [
        format!("RENAME TABLE {table} TO {table}_data"),
        format!(
            "CREATE VIEW {table} AS SELECT * FROM {table}_data WHERE sleep({SLEEP_PER_BLOCK}) = 0"
        ),
    ] {
        client
            .query(&statement)
            .execute()
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    client
}

/// How each read of `table` in the client's database ended: (type, exception code,
/// duration in ms), once every query of the database ended.
async fn reads_of(client: &clickhouse::Client, table: &str) -> Vec<(String, i32, u64)> {
    test_support::flush_query_log(client).await;
    client
        .query(
            "SELECT toString(type), exception_code, query_duration_ms FROM system.query_log \
             WHERE current_database = currentDatabase() AND type != 'QueryStart' \
             AND query_kind = 'Select' AND has(tables, currentDatabase() || '.' || ?) \
             ORDER BY event_time_microseconds",
        )
        .bind(table)
        .fetch_all()
        .await
        .expect("query log read")
}

/// Asserts one read, cancelled long before the slowed view would have let it end.
fn assert_cancelled(reads: &[(String, i32, u64)]) {
    assert_eq!(reads.len(), 1, "one read expected: {reads:?}");
    let (kind, code, duration_ms) = &reads[0];
    assert_eq!(
        (kind.as_str(), *code),
        ("ExceptionWhileProcessing", QUERY_WAS_CANCELLED),
        "the abandoned read was not cancelled: {reads:?}"
    );
    assert!(
        *duration_ms < CANCELLED_WITHIN_MS,
        "the abandoned read ran {duration_ms} ms after it was abandoned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_read_past_its_deadline_is_cancelled_in_clickhouse() {
    let database = test_support::migrated_database("read_api_cancel").await;
    let client = slowed(&database, "user_tags").await;
    let mut config = Config::local_defaults();
    config.query_deadline = Duration::from_millis(300);
    let app = spawn_app_with(&database, config).await;

    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    let answer = app
        .profile("c", &[("time_range", range.as_str())], None)
        .await;
    assert_eq!(
        answer.status(),
        503,
        "the slow read was not cut at its deadline"
    );
    assert_cancelled(&reads_of(&client, "user_tags").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysts_read_whose_client_hangs_up_is_cancelled_in_clickhouse() {
    let database = test_support::migrated_database("read_api_cancel_v1").await;
    let client = slowed(&database, "minute_dimension_totals").await;
    // The deadline is far: only the client's leaving can end the read early.
    let mut config = Config::local_defaults();
    config.analytics_deadline = Duration::from_secs(30);
    let app = spawn_app_with(&database, config).await;

    let address = app.address.trim_start_matches("http://").to_owned();
    let target = format!(
        "/v1/series?from={}&to={}&action=VIEW",
        crate::common::query_seconds(BASE_MILLIS),
        crate::common::query_seconds(BASE_MILLIS + 60_000)
    );
    let request = test_support::raw_http::request("GET", target.as_bytes(), &[], b"");
    let exchanged =
        test_support::raw_http::exchange(&address, &request, Duration::from_millis(500)).await;
    assert!(
        exchanged.is_err(),
        "the slow read answered within 0.5 s: {exchanged:?}"
    );
    assert_cancelled(&reads_of(&client, "minute_dimension_totals").await);
}
