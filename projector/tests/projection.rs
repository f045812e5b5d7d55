//! The projector in-process against the real broker and ClickHouse.

mod common;

use common::{
    aggregated_count, distinct_tags, eventually, expected_minutes, produce, produce_raw,
    stored_minutes,
};
use projector::config::Config;
use projector::startup::Application;
use schemas::Action;
use std::time::Duration;

struct Running {
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), projector::startup::StartupError>>,
}

async fn start_projector(
    topic: &str,
    clickhouse: &service_kit::settings::ClickHouseSettings,
    group: &str,
) -> Running {
    let mut config = Config::local_defaults();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.kafka = test_support::kafka_settings(&test_support::brokers(), topic);
    config.clickhouse = clickhouse.clone();
    config.group_id = group.to_owned();
    config.batch_max_wait = Duration::from_millis(100);
    let application = Application::build(config).await.expect("projector builds");
    let port = application.port();
    let (stop, receiver) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until(async move {
        let _ = receiver.await;
    }));
    Running { port, stop, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_become_profiles_and_aggregates_and_garbage_becomes_a_dead_letter() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("projector");
    test_support::create_topic(&brokers, &topic, 3).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    let clickhouse = test_support::migrated_database("projector").await;
    let group = test_support::unique_name("group");

    produce(&brokers, &topic, 0..3000).await;
    produce_raw(&brokers, &topic, "bad", b"not avro at all").await;
    let running = start_projector(&topic, &clickhouse, &group).await;

    assert!(
        eventually(Duration::from_secs(60), || async {
            distinct_tags(&clickhouse).await == 3000
        })
        .await,
        "not every tag was projected"
    );
    // Tags produced while the projector runs are visible within a second or two.
    produce(&brokers, &topic, 3000..3100).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            distinct_tags(&clickhouse).await == 3100
        })
        .await
    );

    assert_eq!(aggregated_count(&clickhouse).await, 3100);
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&clickhouse, action, None).await,
            expected_minutes(0..3100, action, None)
        );
        assert_eq!(
            stored_minutes(&clickhouse, action, Some("origin1")).await,
            expected_minutes(0..3100, action, Some("origin1"))
        );
    }

    let dead = test_support::read_topic(&brokers, &format!("{topic}-dead-letter"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, b"not avro at all".to_vec());

    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", running.port))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "projector_rows_written_total",
        "projector_dead_letters_total",
        "projector_batch_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics}");
    }
    let ready = reqwest::get(format!("http://127.0.0.1:{}/ready", running.port))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);

    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_projector_resumes_from_clickhouse_not_the_broker() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("resume");
    test_support::create_topic(&brokers, &topic, 2).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    let clickhouse = test_support::migrated_database("resume").await;
    let group = test_support::unique_name("group");

    produce(&brokers, &topic, 0..500).await;
    let first = start_projector(&topic, &clickhouse, &group).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            distinct_tags(&clickhouse).await == 500
        })
        .await
    );
    let _ = first.stop.send(());
    first.task.await.expect("task").expect("clean stop");

    // Rewind what ClickHouse holds (as if the broker's committed offsets were ahead or
    // behind): the projector must follow ClickHouse. Here it must not re-count 0..500.
    produce(&brokers, &topic, 500..800).await;
    let second = start_projector(
        &topic,
        &clickhouse,
        &test_support::unique_name("other_group"),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            distinct_tags(&clickhouse).await == 800
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        aggregated_count(&clickhouse).await,
        800,
        "a tag was counted twice"
    );
    let _ = second.stop.send(());
    second.task.await.expect("task").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_replays_the_whole_log_into_a_fresh_database_exactly_once() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("rebuild");
    test_support::create_topic(&brokers, &topic, 3).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    produce(&brokers, &topic, 0..1500).await;
    // The last message of its partition cannot be decoded: completion must not wait
    // for a row that will never exist.
    produce_raw(&brokers, &topic, "tail", b"garbage at the tail").await;

    let mut config = Config::local_defaults();
    config.kafka = test_support::kafka_settings(&brokers, &topic);
    config.batch_max_wait = Duration::from_millis(100);
    let target = test_support::unique_name("rebuilt");
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        projector::rebuild::rebuild(config, &target, &migrations::bundled_dir()),
    )
    .await
    .expect("rebuild finishes")
    .expect("rebuild succeeds");
    assert_eq!(report.messages, 1501);

    let rebuilt = test_support::clickhouse_settings(&target);
    assert_eq!(distinct_tags(&rebuilt).await, 1500);
    assert_eq!(aggregated_count(&rebuilt).await, 1500);
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&rebuilt, action, None).await,
            expected_minutes(0..1500, action, None)
        );
    }
    assert_eq!(
        test_support::read_topic(&brokers, &format!("{topic}-dead-letter")).len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_position_beyond_the_log_stops_the_partition_instead_of_replaying_it() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("outofrange");
    test_support::create_topic(&brokers, &topic, 1).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    let clickhouse = test_support::migrated_database("outofrange").await;
    produce(&brokers, &topic, 0..200).await;
    // As if the topic had been recreated: ClickHouse says 10,000 were projected.
    service_kit::clickhouse::client(&clickhouse)
        .query("INSERT INTO projector_offsets (kafka_topic, kafka_partition, next_offset) VALUES (?, 0, 10000)")
        .bind(&topic)
        .execute()
        .await
        .expect("offset planted");

    let running = start_projector(&topic, &clickhouse, &test_support::unique_name("group")).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        distinct_tags(&clickhouse).await,
        0,
        "the partition was replayed from the start"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", running.port))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("projector_resume_outside_log_total"),
        "the stop is visible to operators"
    );
    let _ = running.stop.send(());
    running.task.await.expect("task").expect("clean stop");
}
