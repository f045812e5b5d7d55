//! The profile cache against the real broker and ClickHouse, with no projector running:
//! the test writes to the log and to ClickHouse itself, as the projector would, so it
//! controls what each of them holds. A profile read once is kept current from the log:
//! a tag only the log holds shows at once, a copy from a later offset replaces the
//! earlier one, and a tag both hold shows once.

use crate::common::{metric_value, spawn_app_with, BASE_MILLIS};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use read_api::Config;
use read_model::{BatchLogRow, LogPosition, UserTagRow};
use schemas::{SchemaCatalog, TagEncoder, UserTag};
use serde_json::{json, Value};
use service_kit::metric_names::read_api as names;
use service_kit::settings::ClickHouseSettings;
use std::time::Duration;

const COOKIE: &str = "cached-shopper";

fn logged_tag(action: &str, millis: i64, price: i64) -> UserTag {
    tag_of(COOKIE, action, millis, price)
}

fn tag_of(cookie: &str, action: &str, millis: i64, price: i64) -> UserTag {
    let mut value = crate::common::tag(cookie, action, millis);
    value["product_info"]["price"] = json!(price);
    UserTag::from_json(value.to_string().as_bytes()).expect("valid test tag")
}

/// Appends `tag` to the log (one partition) and gives its offset.
async fn append(producer: &FutureProducer, topic: &str, tag: &UserTag) -> i64 {
    let encoder = TagEncoder::new(&SchemaCatalog::Bundled, "unused")
        .await
        .expect("encoder");
    let payload = encoder.encode(tag).expect("encodes");
    let record = FutureRecord::to(topic)
        .key(tag.cookie.as_bytes())
        .payload(&payload);
    let delivery = producer
        .send(record, Timeout::After(Duration::from_secs(30)))
        .await
        .map_err(|(error, _)| error)
        .expect("tag acknowledged");
    delivery.offset
}

/// What the projector does with a batch: the rows into `user_tags`, then the batch log
/// saying every offset below `next_offset` is in.
async fn project(
    clickhouse: &ClickHouseSettings,
    topic: &str,
    rows: &[(i64, &UserTag)],
    next_offset: i64,
) {
    let client = service_kit::clickhouse::client(clickhouse);
    let rows: Vec<UserTagRow> = rows
        .iter()
        .map(|(offset, tag)| {
            let position = LogPosition {
                partition: 0,
                offset: *offset,
            };
            UserTagRow::from_tag(tag, position)
        })
        .collect();
    let first = rows.first().map_or(-1, |row| row.kafka_offset);
    let token = format!("{topic}-{first}-{next_offset}");
    read_model::tags::insert(&client, &rows, &token, Duration::from_secs(10))
        .await
        .expect("rows inserted");
    let entry = BatchLogRow {
        kafka_topic: topic.to_owned(),
        kafka_partition: 0,
        version: u64::try_from(next_offset).expect("offset") + 1,
        token: String::new(),
        ranges: Vec::new(),
        next_offset,
    };
    read_model::batch_log::write(&client, &[entry], Duration::from_secs(10))
        .await
        .expect("batch log row written");
}

async fn stored_rows(clickhouse: &ClickHouseSettings) -> u64 {
    stored_rows_of(clickhouse, COOKIE).await
}

async fn stored_rows_of(clickhouse: &ClickHouseSettings, cookie: &str) -> u64 {
    service_kit::clickhouse::client(clickhouse)
        .query("SELECT count() FROM user_tags WHERE cookie = ?")
        .bind(cookie)
        .fetch_one::<u64>()
        .await
        .expect("count")
}

/// (time, price) of the answer's views or buys.
fn listed(answer: &Value, list: &str) -> Vec<(String, i64)> {
    answer[list]
        .as_array()
        .expect("list")
        .iter()
        .map(|tag| {
            (
                tag["time"].as_str().expect("time").to_owned(),
                tag["product_info"]["price"].as_i64().expect("price"),
            )
        })
        .collect()
}

fn time_of(millis: i64) -> String {
    schemas::EventTime::from_millis(millis).to_instant_string()
}

/// A database, a one-partition topic and an idempotent producer to it.
async fn log_and_store(name: &str) -> (ClickHouseSettings, String, String, FutureProducer) {
    let clickhouse = test_support::migrated_database(name).await;
    let brokers = test_support::brokers();
    let topic = test_support::unique_name(name);
    test_support::create_topic(&brokers, &topic, 1).await;
    let producer: FutureProducer =
        service_kit::kafka::base_config(&test_support::kafka_settings(&brokers, &topic))
            .set("enable.idempotence", "true")
            .create()
            .expect("producer");
    (clickhouse, brokers, topic, producer)
}

/// A read-api with the profile cache on, reading `topic`, once its log reader is at the
/// log's end.
async fn cached_app(
    clickhouse: &ClickHouseSettings,
    brokers: &str,
    topic: &str,
) -> crate::common::TestApp {
    let mut config = Config::local_defaults();
    config.query_deadline = Duration::from_secs(5);
    config.profile_cache_cookies = 100;
    config.kafka = test_support::kafka_settings(brokers, topic);
    let app = spawn_app_with(clickhouse, config).await;
    assert!(
        test_support::eventually(Duration::from_secs(30), || async {
            metric_value(&app.metrics().await, names::PROFILE_CACHE_CAUGHT_UP.name) == Some(1.0)
        })
        .await,
        "the cache's log reader catches up"
    );
    app
}

#[tokio::test]
async fn a_cached_profile_shows_what_the_log_holds_before_clickhouse_does() {
    let (clickhouse, brokers, topic, producer) = log_and_store("read_api_cache").await;

    // One tag, in the log and projected.
    let first = logged_tag("VIEW", BASE_MILLIS + 1_000, 1);
    let first_offset = append(&producer, &topic, &first).await;
    project(
        &clickhouse,
        &topic,
        &[(first_offset, &first)],
        first_offset + 1,
    )
    .await;

    let app = cached_app(&clickhouse, &brokers, &topic).await;

    let (from, to) = (BASE_MILLIS, BASE_MILLIS + 60_000);
    let answer = app.profile_json(COOKIE, from, to, None).await;
    assert_eq!(
        listed(&answer, "views"),
        vec![(time_of(BASE_MILLIS + 1_000), 1)]
    );

    // Two more tags reach the log; the projector has not put them into ClickHouse.
    let second = logged_tag("VIEW", BASE_MILLIS + 2_000, 2);
    let buy = logged_tag("BUY", BASE_MILLIS + 1_500, 3);
    let second_offset = append(&producer, &topic, &second).await;
    let buy_offset = append(&producer, &topic, &buy).await;
    let expected_views = vec![
        (time_of(BASE_MILLIS + 2_000), 2),
        (time_of(BASE_MILLIS + 1_000), 1),
    ];
    let expected_buys = vec![(time_of(BASE_MILLIS + 1_500), 3)];
    assert!(
        test_support::eventually(Duration::from_secs(10), || async {
            let answer = app.profile_json(COOKIE, from, to, None).await;
            listed(&answer, "views") == expected_views && listed(&answer, "buys") == expected_buys
        })
        .await,
        "tags only the log holds are in the answer"
    );
    assert_eq!(
        stored_rows(&clickhouse).await,
        1,
        "ClickHouse still holds one tag"
    );
    let hits = metric_value(
        &app.metrics().await,
        &format!("{}{{outcome=\"hit\"}}", names::PROFILE_CACHE.name),
    );
    assert!(
        hits.is_some_and(|hits| hits >= 1.0),
        "answered from the cache: {hits:?}"
    );

    // The projector catches up: the tags are in both, and show once.
    project(
        &clickhouse,
        &topic,
        &[(second_offset, &second), (buy_offset, &buy)],
        buy_offset + 1,
    )
    .await;
    let answer = app.profile_json(COOKIE, from, to, None).await;
    assert_eq!(listed(&answer, "views"), expected_views);
    assert_eq!(listed(&answer, "buys"), expected_buys);

    // A copy of a tag from a later offset (a replay of a changed tag) wins, once.
    let copy = logged_tag("VIEW", BASE_MILLIS + 2_000, 9);
    append(&producer, &topic, &copy).await;
    let with_copy = vec![
        (time_of(BASE_MILLIS + 2_000), 9),
        (time_of(BASE_MILLIS + 1_000), 1),
    ];
    assert!(
        test_support::eventually(Duration::from_secs(10), || async {
            listed(&app.profile_json(COOKIE, from, to, None).await, "views") == with_copy
        })
        .await,
        "the later copy replaces the earlier one"
    );

    // A range and limit are applied to the cached tags as ClickHouse would.
    let answer = app
        .profile_json(COOKIE, BASE_MILLIS + 1_200, to, Some("1"))
        .await;
    assert_eq!(
        listed(&answer, "views"),
        vec![(time_of(BASE_MILLIS + 2_000), 9)]
    );
    assert_eq!(listed(&answer, "buys"), expected_buys);
}

#[tokio::test]
async fn a_shopper_first_seen_after_the_cache_started_is_answered_from_the_log_alone() {
    let (clickhouse, brokers, topic, producer) = log_and_store("read_api_cache_whole").await;

    // ClickHouse holds a returning shopper's old tag when the read-api starts.
    let old = tag_of("returning", "VIEW", BASE_MILLIS + 1_000, 1);
    let old_offset = append(&producer, &topic, &old).await;
    project(&clickhouse, &topic, &[(old_offset, &old)], old_offset + 1).await;
    let app = cached_app(&clickhouse, &brokers, &topic).await;

    // New tags reach the log; no projector puts them into ClickHouse.
    for tag in [
        tag_of("first-time", "VIEW", BASE_MILLIS + 2_000, 2),
        tag_of("first-time", "BUY", BASE_MILLIS + 2_500, 3),
        tag_of("returning", "VIEW", BASE_MILLIS + 3_000, 4),
    ] {
        append(&producer, &topic, &tag).await;
    }
    // Every tag from one past the newest stored one on is in the log's tail.
    let (since, to) = (BASE_MILLIS + 1_001, BASE_MILLIS + 60_000);
    let first_time_views = vec![(time_of(BASE_MILLIS + 2_000), 2)];
    assert!(
        test_support::eventually(Duration::from_secs(10), || async {
            let answer = app.profile_json("first-time", since, to, None).await;
            listed(&answer, "views") == first_time_views
        })
        .await,
        "a shopper only the log holds is answered"
    );
    let answer = app.profile_json("first-time", since, to, None).await;
    assert_eq!(
        listed(&answer, "buys"),
        vec![(time_of(BASE_MILLIS + 2_500), 3)]
    );
    let answer = app.profile_json("returning", since, to, None).await;
    assert_eq!(
        listed(&answer, "views"),
        vec![(time_of(BASE_MILLIS + 3_000), 4)],
        "a range after every stored tag needs only the log"
    );
    let whole = metric_value(
        &app.metrics().await,
        &format!("{}{{outcome=\"whole\"}}", names::PROFILE_CACHE.name),
    );
    assert!(
        whole.is_some_and(|whole| whole >= 2.0),
        "answered from the log alone: {whole:?}"
    );

    // A range reaching back to the stored tag reads it from ClickHouse.
    let answer = app.profile_json("returning", BASE_MILLIS, to, None).await;
    assert_eq!(
        listed(&answer, "views"),
        vec![
            (time_of(BASE_MILLIS + 3_000), 4),
            (time_of(BASE_MILLIS + 1_000), 1)
        ]
    );
    assert_eq!(stored_rows_of(&clickhouse, "first-time").await, 0);
}
