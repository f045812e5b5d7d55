//! `projector reconcile` against the real broker and ClickHouse: a live database that
//! matches the log reconciles clean; one that was tampered with shows exactly the keys
//! that differ, in the JSON and Prometheus reports too.

mod common;

use common::{aggregated_count, eventually, produce, START_MS};
use projector::{reconcile, Application, Config, ReconcileRequest};
use schemas::EventTime;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_nothing_on_a_faithful_database_and_exactly_what_was_tampered_with() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("reconcile");
    test_support::create_topic(&brokers, &topic, 2).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    let clickhouse = test_support::migrated_database("reconcile").await;
    produce(&brokers, &topic, 0..2000).await;

    let mut config = Config::local_defaults();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.kafka = test_support::kafka_settings(&brokers, &topic);
    config.clickhouse = clickhouse.clone();
    config.batch_max_wait = Duration::from_millis(100);
    let live = Application::build(config.clone())
        .await
        .expect("projector builds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(live.run_until(async move {
        let _ = stopped.await;
    }));
    assert!(
        eventually(Duration::from_secs(60), || async {
            aggregated_count(&clickhouse).await == 2000
        })
        .await
    );

    // The test stream spans 14 s from START_MS: one window of two minutes covers it.
    let from = EventTime::from_millis(START_MS - START_MS % 60_000);
    let to = EventTime::from_millis(from.millis() + 120_000);
    let dir = std::env::temp_dir().join(test_support::unique_name("reconcile_out"));
    std::fs::create_dir_all(&dir).expect("out dir");
    let request = |name: &str| ReconcileRequest {
        from,
        to,
        scratch_database: test_support::unique_name(name),
        keep: false,
        json_out: Some(dir.join(format!("{name}.json"))),
        metrics_out: Some(dir.join(format!("{name}.prom"))),
        migrations_dir: migrations::bundled_dir(),
    };

    let clean = reconcile(config.clone(), &request("clean"))
        .await
        .expect("reconciles");
    assert!(clean.differences.is_empty(), "{:?}", clean.differences);
    assert_eq!((clean.tags_in_log, clean.tags_live), (2000, 2000));
    assert!(clean.combinations_compared >= 20, "{clean:?}");
    assert!(clean.rollup_keys_compared >= 20, "{clean:?}");

    // One key counted once more than the log says, one key the log never had.
    let client = service_kit::clickhouse::client(&clickhouse);
    client
        .query(
            "INSERT INTO minute_aggregates (action, minute, origin, brand_id, category_id, country, device, count, sum_price, ingested_in) \
             SELECT action, minute, origin, brand_id, category_id, country, device, 1, 5, ingested_in \
             FROM minute_aggregates ORDER BY minute, origin, brand_id, category_id, country, device LIMIT 1",
        )
        .execute()
        .await
        .expect("tampered");
    client
        .query(
            "INSERT INTO minute_aggregates (action, minute, origin, brand_id, category_id, country, device, count, sum_price, ingested_in) \
             VALUES ('BUY', toDateTime(?), 'forged', 'b', 'c', 'XX', 'TV', 3, 30, now())",
        )
        .bind(from.millis() / 1000 + 60)
        .execute()
        .await
        .expect("forged");
    // And one rollup key counted once more (the rollup is stored apart from the cube).
    client
        .query(
            "INSERT INTO minute_dimension_totals (action, dimension, minute, value, count, sum_price, ingested_in) \
             SELECT action, dimension, minute, value, 1, 5, ingested_in \
             FROM minute_dimension_totals WHERE dimension = 'brand_id' ORDER BY minute, value LIMIT 1",
        )
        .execute()
        .await
        .expect("rollup tampered");
    let tampered = reconcile(config, &request("tampered"))
        .await
        .expect("reconciles");
    assert_eq!(tampered.differences.len(), 3, "{:#?}", tampered.differences);
    let forged = tampered
        .differences
        .iter()
        .find(|difference| difference.origin == "forged")
        .expect("the forged key is reported");
    assert_eq!(
        (
            forged.live_count,
            forged.log_count,
            forged.live_sum_price,
            forged.log_sum_price
        ),
        (3, 0, 30, 0)
    );
    let doubled = tampered
        .differences
        .iter()
        .find(|difference| difference.origin != "forged" && difference.origin != "*")
        .expect("the tampered key is reported");
    assert_eq!(doubled.live_count, doubled.log_count + 1);
    assert_eq!(doubled.live_sum_price, doubled.log_sum_price + 5);
    let rollup = tampered
        .differences
        .iter()
        .find(|difference| difference.origin == "*")
        .expect("the tampered rollup key is reported");
    assert_ne!(rollup.brand_id, "*", "{rollup:?}");
    assert_eq!(
        (
            rollup.category_id.as_str(),
            rollup.country.as_str(),
            rollup.device.as_str()
        ),
        ("*", "*", "*")
    );
    assert_eq!(
        (rollup.live_count, rollup.live_sum_price),
        (rollup.log_count + 1, rollup.log_sum_price + 5)
    );

    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("tampered.json")).expect("json report written"),
    )
    .expect("json");
    assert_eq!(json["differences"].as_array().map(Vec::len), Some(3));
    let metrics = std::fs::read_to_string(dir.join("tampered.prom")).expect("metrics written");
    assert!(
        metrics.contains("allezon_reconcile_differences{"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("allezon_reconcile_differences{") && line.ends_with(" 3")),
        "{metrics}"
    );

    let _ = stop.send(());
    running.await.expect("task").expect("clean stop");
    let _ = std::fs::remove_dir_all(&dir);
}
