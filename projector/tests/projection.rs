//! The projector in-process against the real broker and ClickHouse.

mod common;

use common::{
    aggregated_count, caught_up, distinct_tags, eventually, expected_minutes, produce, produce_raw,
    projected, stored_minutes, stored_row, stored_rows, tag, unmerged_database, START_MS,
};
use projector::{Application, Config};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use schemas::Action;
use service_kit::metric_names::projector as names;
use service_kit::settings::ClickHouseSettings;
use std::time::Duration;

struct Running {
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), projector::RunError>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("task").expect("clean stop");
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

fn config(topic: &str, clickhouse: &ClickHouseSettings) -> Config {
    let mut config = Config::local_defaults();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.kafka = test_support::kafka_settings(&test_support::brokers(), topic);
    config.clickhouse = clickhouse.clone();
    config.group_id = format!("{topic}-group");
    config.batch_max_wait = Duration::from_millis(100);
    config.clickhouse_timeout = Duration::from_secs(5);
    config
}

async fn start(config: Config) -> Running {
    let application = Application::build(config).await.expect("projector builds");
    let port = application.port();
    let (stop, receiver) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until(async move {
        let _ = receiver.await;
    }));
    Running { port, stop, task }
}

async fn start_projector(topic: &str, clickhouse: &ClickHouseSettings) -> Running {
    start(config(topic, clickhouse)).await
}

async fn topic_with_dead_letters(prefix: &str, partitions: i32) -> String {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name(prefix);
    test_support::create_topic(&brokers, &topic, partitions).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    topic
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_become_profiles_and_aggregates_and_garbage_becomes_a_dead_letter() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("projector", 3).await;
    let clickhouse = unmerged_database("projector").await;

    produce(&brokers, &topic, 0..3000).await;
    produce_raw(&brokers, &topic, "bad", b"not avro at all").await;
    let running = start_projector(&topic, &clickhouse).await;

    assert!(
        eventually(Duration::from_secs(60), || async {
            projected(&clickhouse, 3000).await
        })
        .await,
        "not every tag was projected"
    );
    // Tags produced while the projector runs are visible within a second or two.
    produce(&brokers, &topic, 3000..3100).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            projected(&clickhouse, 3100).await
        })
        .await
    );
    assert!(
        eventually(Duration::from_secs(60), || caught_up(
            &clickhouse,
            &brokers,
            &topic
        ))
        .await,
        "the batch log never settled at the end of the topic"
    );

    assert_eq!(aggregated_count(&clickhouse).await, 3100);
    assert_eq!(
        stored_rows(&clickhouse).await,
        3100,
        "a row was stored twice"
    );
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

    let metrics = running.metrics().await;
    for name in [
        names::ROWS_WRITTEN.name,
        names::DEAD_LETTERS.name,
        names::BATCH_DURATION.name,
        names::VISIBILITY_DELAY.name,
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics}");
    }
    let ready = reqwest::get(format!("http://127.0.0.1:{}/ready", running.port))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    running.stop().await;
}

/// Commits `offset` for every partition of `topic` under `group`, as a broker-side
/// rewind (0) or skip ahead (past the end) would leave it.
fn commit_broker_offsets(topic: &str, group: &str, partitions: i32, offset: Offset) {
    let consumer: BaseConsumer = service_kit::kafka::base_config(&test_support::kafka_settings(
        &test_support::brokers(),
        topic,
    ))
    .set("group.id", group)
    .set("enable.auto.commit", "false")
    .create()
    .expect("consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, offset)
            .expect("partition listed");
    }
    consumer.assign(&list).expect("assigned");
    consumer.commit(&list, CommitMode::Sync).expect("committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_projector_resumes_where_the_batch_log_says_whatever_the_broker_says() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("resume", 2).await;
    let clickhouse = unmerged_database("resume").await;
    let group = format!("{topic}-group");

    produce(&brokers, &topic, 0..500).await;
    let first = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            projected(&clickhouse, 500).await
        })
        .await
    );
    first.stop().await;

    // The broker's committed offsets are rewound to the start: resuming from them would
    // count 0..500 again.
    commit_broker_offsets(&topic, &group, 2, Offset::Offset(0));
    produce(&brokers, &topic, 500..800).await;
    let second = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || caught_up(
            &clickhouse,
            &brokers,
            &topic
        ))
        .await,
        "the second projector never settled at the end of the topic"
    );
    assert_eq!(distinct_tags(&clickhouse).await, 800);
    assert_eq!(
        aggregated_count(&clickhouse).await,
        800,
        "a tag was counted twice"
    );
    assert_eq!(
        stored_rows(&clickhouse).await,
        800,
        "a tag was stored twice"
    );
    second.stop().await;

    // Now they are pushed past the end: resuming from them would skip 800..900.
    commit_broker_offsets(&topic, &group, 2, Offset::Offset(100_000));
    produce(&brokers, &topic, 800..900).await;
    let third = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || caught_up(
            &clickhouse,
            &brokers,
            &topic
        ))
        .await,
        "the third projector never settled at the end of the topic"
    );
    assert_eq!(
        distinct_tags(&clickhouse).await,
        900,
        "tags after the broker's committed offsets were skipped"
    );
    assert_eq!(aggregated_count(&clickhouse).await, 900);
    assert_eq!(stored_rows(&clickhouse).await, 900);
    third.stop().await;
}

/// Makes the aggregates' view fail every insert while `fail_switch` holds a row: an
/// insert then commits `user_tags` but not the aggregates (what a ClickHouse crash or a
/// memory limit between the two leaves). The view is recreated from its migration
/// with one more condition.
async fn break_the_aggregates_view(clickhouse: &ClickHouseSettings) {
    let migration = migrations::discover(&migrations::bundled_dir())
        .expect("migrations readable")
        .into_iter()
        .find(|migration| migration.sql.contains("minute_aggregates_mv"))
        .expect("the aggregates view's migration");
    let view = migration
        .statements(&migrations::Target::SingleNode, &clickhouse.database)
        .expect("renders")
        .remove(0)
        .replace(
            "\nGROUP BY",
            &format!(
                "\nWHERE throwIf((SELECT count() FROM {}.fail_switch) > 0, 'injected failure') = 0\nGROUP BY",
                clickhouse.database
            ),
        );
    assert!(view.contains("injected failure"), "{view}");
    let client = service_kit::clickhouse::client(clickhouse);
    for statement in [
        "CREATE TABLE fail_switch (x UInt8) ENGINE = Memory",
        "INSERT INTO fail_switch VALUES (1)",
        "DROP TABLE minute_aggregates_mv",
        &view,
    ] {
        client
            .query(statement)
            .execute()
            .await
            .expect("fault installed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_half_inserted_when_the_projector_stops_is_completed_once_at_the_next_start() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("partial", 2).await;
    let clickhouse = unmerged_database("partial").await;
    break_the_aggregates_view(&clickhouse).await;

    produce(&brokers, &topic, 0..1000).await;
    let mut settings = config(&topic, &clickhouse);
    settings.batch_max_rows = 300;
    let running = start(settings).await;
    // The first batch lands in user_tags and fails in a view; the projector retries it.
    assert!(
        eventually(Duration::from_secs(30), || async {
            stored_rows(&clickhouse).await > 0
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;
    let half = stored_rows(&clickhouse).await;
    assert!(
        half > 0 && half < 1000,
        "{half} rows: the fault did not hold the batch"
    );
    assert_eq!(
        aggregated_count(&clickhouse).await,
        0,
        "the aggregates hold the failed batch: the fault is not a half-insert"
    );

    // Repaired, the next start inserts the unfinished batch again with its token: the
    // aggregates get it, user_tags does not get a second copy.
    service_kit::clickhouse::client(&clickhouse)
        .query("TRUNCATE TABLE fail_switch")
        .execute()
        .await
        .expect("fault removed");
    let running = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || caught_up(
            &clickhouse,
            &brokers,
            &topic
        ))
        .await,
        "the half-inserted batch was never completed"
    );
    assert_eq!(
        stored_rows(&clickhouse).await,
        1000,
        "user_tags got a batch twice"
    );
    assert_eq!(aggregated_count(&clickhouse).await, 1000);
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&clickhouse, action, None).await,
            expected_minutes(0..1000, action, None)
        );
    }
    assert!(running
        .metrics()
        .await
        .contains(names::BATCHES_INSERTED_AGAIN.name));
    running.stop().await;
}

/// A batch inserted again goes to the aggregates' partition of its first insert (the ten
/// minutes its batch was recorded in, which its rows carry) whatever the wall time of the
/// second insert, so its token deduplicates it there. With the partition taken from the
/// insert's own wall time, a batch inserted again after a ten-minute boundary was counted
/// twice (found by crash_recovery in make test, 2026-12-05: 30,148 counted for 30,000).
#[tokio::test]
async fn a_batch_inserted_again_goes_to_the_partition_of_its_first_insert_and_counts_once() {
    let database = test_support::migrated_database("replay_slot").await;
    let client = service_kit::clickhouse::client(&database);
    let timeout = Duration::from_secs(30);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    // Recorded twenty minutes ago: a boundary or two of wall time before this insert.
    let recorded = now.saturating_sub(Duration::from_secs(20 * 60));
    let slot = read_model::tags::ingestion_slot(recorded.as_nanos() as u64);
    let rows: Vec<read_model::UserTagRow> = (0..20)
        .map(|offset| {
            let mut row = stored_row("replayed", 1, START_MS + offset, 0, offset);
            row.batch_ingested_in = slot;
            row
        })
        .collect();
    for attempt in ["first", "again"] {
        read_model::tags::insert(&client, &rows, "tags/0:0-19", timeout)
            .await
            .unwrap_or_else(|error| panic!("{attempt} insert: {error}"));
    }
    let by_partition = |table: &'static str, filter: &'static str| {
        let client = client.clone();
        async move {
            client
                .query(&format!(
                    "SELECT toUInt32(ingested_in), sum(count) FROM {table} {filter} \
                     GROUP BY ingested_in ORDER BY ingested_in"
                ))
                .fetch_all::<(u32, u64)>()
                .await
                .expect("aggregates read")
        }
    };
    assert_eq!(
        by_partition("minute_aggregates", "").await,
        vec![(slot, 20)],
        "the cube: the batch's ten minutes, counted once"
    );
    assert_eq!(
        by_partition("minute_dimension_totals", "WHERE dimension = 'device'").await,
        vec![(slot, 20)],
        "the rollup: the batch's ten minutes, counted once"
    );

    // A row without a batch time (a writer from before the column) goes to the ten
    // minutes of its insert, as every row did before.
    let before = read_model::tags::ingestion_slot(now.as_nanos() as u64);
    let unstamped = stored_row("unstamped", 1, START_MS, 0, 20);
    read_model::tags::insert(&client, &[unstamped], "tags/0:20-20", timeout)
        .await
        .expect("unstamped insert");
    let after = read_model::tags::ingestion_slot(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64,
    );
    let cube = by_partition("minute_aggregates", "").await;
    assert_eq!(cube.len(), 2, "{cube:?}");
    let (own, count) = cube[1];
    assert!(
        (before..=after).contains(&own) && count == 1,
        "the unstamped row in the ten minutes of its insert: {cube:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senders_retry_of_the_same_tag_is_counted_once_across_a_restart() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("retries", 1).await;
    let clickhouse = test_support::migrated_database("retries").await;
    let encoder = schemas::TagEncoder::new(&schemas::SchemaCatalog::Bundled, "unused")
        .await
        .expect("encoder");
    let payload = |index: u32| encoder.encode(&tag(index)).expect("encodes");

    produce(&brokers, &topic, 0..100).await;
    produce_raw(&brokers, &topic, &tag(7).cookie, &payload(7)).await;
    let running = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            projected(&clickhouse, 100).await
        })
        .await
    );
    running.stop().await;
    // Retried again while the projector was down, and once more: the restarted
    // projector remembers the records before its resume point.
    produce_raw(&brokers, &topic, &tag(9).cookie, &payload(9)).await;
    produce(&brokers, &topic, 100..110).await;
    let running = start_projector(&topic, &clickhouse).await;
    assert!(
        eventually(Duration::from_secs(60), || caught_up(
            &clickhouse,
            &brokers,
            &topic
        ))
        .await,
        "the restarted projector never settled at the end of the topic"
    );
    assert_eq!(distinct_tags(&clickhouse).await, 110);
    assert_eq!(
        aggregated_count(&clickhouse).await,
        110,
        "a retry was counted"
    );
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&clickhouse, action, None).await,
            expected_minutes(0..110, action, None)
        );
    }
    assert!(running
        .metrics()
        .await
        .contains(names::SENDER_RETRIES_SKIPPED.name));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_registry_outage_is_waited_out_never_dead_lettered() {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    // A stub of the Confluent registry (none can be installed here): 503 while `down`.
    let down = Arc::new(AtomicBool::new(true));
    async fn schema_by_id(
        State(down): State<Arc<AtomicBool>>,
        Path(id): Path<u32>,
    ) -> Result<axum::Json<serde_json::Value>, StatusCode> {
        if down.load(Ordering::SeqCst) {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let version = schemas::avro::VERSIONS
            .iter()
            .find(|version| version.version == id)
            .ok_or(StatusCode::NOT_FOUND)?;
        Ok(axum::Json(serde_json::json!({"schema": version.text})))
    }
    let router = axum::Router::new()
        .route("/schemas/ids/{id}", axum::routing::get(schema_by_id))
        .with_state(Arc::clone(&down));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let registry = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("registry", 2).await;
    let clickhouse = test_support::migrated_database("registry").await;
    produce(&brokers, &topic, 0..300).await;
    let mut settings = config(&topic, &clickhouse);
    settings.kafka.schema_registry_url = Some(registry);
    let running = start(settings).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(distinct_tags(&clickhouse).await, 0);
    down.store(false, Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(60), || async {
            projected(&clickhouse, 300).await
        })
        .await,
        "the projector did not recover when the registry came back"
    );
    assert_eq!(aggregated_count(&clickhouse).await, 300);
    assert!(
        test_support::read_topic(&brokers, &format!("{topic}-dead-letter")).is_empty(),
        "valid tags were dead-lettered during the outage"
    );
    assert!(running.metrics().await.contains(names::DECODE_RETRIES.name));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_replays_the_whole_log_into_a_fresh_database_exactly_once() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("rebuild", 3).await;
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
        projector::rebuild(config, &target, &migrations::bundled_dir(), None, None),
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
    let topic = topic_with_dead_letters("outofrange", 1).await;
    let clickhouse = test_support::migrated_database("outofrange").await;
    produce(&brokers, &topic, 0..200).await;
    // As if the topic had been recreated: the batch log says 10,000 were projected.
    service_kit::clickhouse::client(&clickhouse)
        .query(
            "INSERT INTO projector_batches (kafka_topic, kafka_partition, version, token, ranges, next_offset) \
             VALUES (?, 0, 1, '', [], 10000)",
        )
        .bind(&topic)
        .execute()
        .await
        .expect("position planted");

    let running = start_projector(&topic, &clickhouse).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        distinct_tags(&clickhouse).await,
        0,
        "the partition was replayed from the start"
    );
    assert!(
        running
            .metrics()
            .await
            .contains(names::RESUME_OUTSIDE_LOG.name),
        "the stop is visible to operators"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_a_snapshot_keeps_profiles_the_log_no_longer_holds() {
    let brokers = test_support::brokers();
    let topic = topic_with_dead_letters("snapshot", 2).await;
    let live = test_support::migrated_database("snapshot_live").await;
    produce(&brokers, &topic, 0..1000).await;
    let running = start_projector(&topic, &live).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            aggregated_count(&live).await == 1000
        })
        .await
    );
    running.stop().await;
    // A shopper whose tag the log no longer holds (retention went past it).
    let ancient = tag(3);
    let mut old = ancient.clone();
    old.cookie = "ancient-shopper".to_owned();
    old.time = schemas::EventTime::from_millis(1_577_836_800_000).into();
    let client = service_kit::clickhouse::client(&live);
    let mut insert = client
        .insert::<read_model::UserTagRow>("user_tags")
        .await
        .expect("insert");
    insert
        .write(&read_model::UserTagRow::from_tag(
            &old,
            read_model::LogPosition {
                partition: 0,
                offset: -1,
            },
        ))
        .await
        .expect("row");
    insert.end().await.expect("inserted");

    let server = service_kit::clickhouse::server_client(&live);
    let snapshot = test_support::unique_name("snapshot");
    let copied = projector::take_snapshot(&server, &live.database, &snapshot)
        .await
        .expect("snapshot taken");
    assert_eq!(copied, 1001);

    let mut config = Config::local_defaults();
    config.kafka = test_support::kafka_settings(&brokers, &topic);
    config.batch_max_wait = Duration::from_millis(100);
    let target = test_support::unique_name("from_snapshot");
    projector::rebuild(
        config,
        &target,
        &migrations::bundled_dir(),
        Some(&snapshot),
        None,
    )
    .await
    .expect("rebuilt");
    let rebuilt = test_support::clickhouse_settings(&target);
    assert_eq!(
        distinct_tags(&rebuilt).await,
        1001,
        "the ancient shopper kept"
    );
    assert_eq!(
        aggregated_count(&rebuilt).await,
        1000,
        "the aggregates come from the log alone"
    );
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&rebuilt, action, None).await,
            expected_minutes(0..1000, action, None)
        );
    }
    let counted: i64 = service_kit::clickhouse::client(&rebuilt)
        .query("SELECT sum(rows) FROM user_tag_counts WHERE cookie = 'ancient-shopper'")
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(counted, 1, "the trimmer sees the restored rows");
}
