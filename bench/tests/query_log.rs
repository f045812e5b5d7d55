//! `cpu_by_work` against the real ClickHouse of the running stack (`make up`): one
//! batch inserted as the projector inserts it, one profile read and one aggregates read
//! as read-api sends them (read-model's typed functions, which log their work as
//! `log_comment`), each counted under its own work in a fresh database.

use bench::database::{cpu_by_work, server_now};
use read_model::cube::{MinuteTotals, MinuteTotalsRead};
use read_model::profile::{CookieRead, ProfileRows};
use read_model::UserTagRow;
use schemas::{Action, EventTime, Filters};

#[tokio::test]
async fn each_query_is_counted_under_its_work() {
    let settings = test_support::migrated_database("bench_query_log").await;
    let client = service_kit::clickhouse::client(&settings);
    let server = service_kit::clickhouse::server_client(&settings);
    let from = server_now(&server).await.expect("clock");

    let row = UserTagRow {
        cookie: "c".to_owned(),
        action: 1,
        time_ms: 1_772_323_200_000,
        time_text: String::new(),
        country: "PL".to_owned(),
        device: 1,
        origin: "o".to_owned(),
        product_id: "1".to_owned(),
        product_id_is_text: 0,
        brand_id: "b".to_owned(),
        category_id: "k".to_owned(),
        price: 10,
        kafka_partition: 0,
        kafka_offset: 0,
        batch_ingested_in: 0,
    };
    read_model::tags::insert(
        &client,
        &[row],
        "bench-query-log",
        std::time::Duration::from_secs(10),
    )
    .await
    .expect("batch inserted");
    let read = CookieRead {
        cookie: "c",
        from: EventTime::from_millis(0),
        to: EventTime::from_millis(i64::MAX),
        limit: 10,
    };
    let profile = client
        .newest_rows_of_cookies(&[read], 10)
        .await
        .expect("profile read");
    assert_eq!(profile.len(), 1);
    let totals = read_model::cube::minute_totals(
        &client,
        &MinuteTotalsRead {
            action: Action::View,
            from_seconds: 1_772_323_200,
            to_seconds: 1_772_323_260,
            filters: &Filters::default(),
        },
    )
    .await
    .expect("aggregates read");
    assert_eq!(
        totals,
        vec![MinuteTotals {
            minute_start: 1_772_323_200,
            total_count: 1,
            total_sum_price: 10
        }]
    );
    let to = server_now(&server).await.expect("clock") + 1;

    let logged = cpu_by_work(&server, &settings.database, from, to)
        .await
        .expect("query log read");
    // The profile read found the one row, in the one part, through the primary key.
    let profile_read = logged
        .iter()
        .find(|work| work.work == "profile reads")
        .and_then(|work| work.read)
        .expect("what the profile read read");
    assert_eq!(
        (
            profile_read.rows[0],
            profile_read.granules[0],
            profile_read.parts[0]
        ),
        (1.0, 1.0, 1.0)
    );
    let mut works: Vec<(String, u64)> = logged
        .into_iter()
        .map(|work| (work.work, work.queries))
        // The rest: the clock reads, the log flush, the migrations of the same second.
        .filter(|(work, _)| work != bench::database::OTHER_WORK)
        .collect();
    works.sort();
    assert_eq!(
        works,
        vec![
            ("aggregates reads".to_owned(), 1),
            ("profile reads".to_owned(), 1),
            ("projector batches (views included)".to_owned(), 1),
        ]
    );
}

/// `SELECT 1` sent by the benchmark is found again in the query log, every one of them,
/// and the server process's CPU is read when its pid is given.
#[tokio::test]
async fn every_select_one_is_found_in_the_query_log() {
    let settings = test_support::migrated_database("bench_select_one").await;
    let server = service_kit::clickhouse::server_client(&settings);
    let pid_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../.stack/run/clickhouse.pid");
    let pid = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse().ok());
    let cost = bench::query_cost::select_one(&server, pid, 20)
        .await
        .expect("measured");
    assert_eq!(cost.queries, 20);
    assert_eq!(cost.logged_queries, 20, "{cost:?}");
    assert_eq!(cost.process_us.is_some(), pid.is_some(), "{cost:?}");
}
