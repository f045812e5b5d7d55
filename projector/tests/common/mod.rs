//! Fixtures for the projector tests: a deterministic tag stream, a producer that
//! writes it Avro-encoded to a topic, the expected aggregates, and ClickHouse checks.

#![allow(dead_code, unreachable_pub)]

use rdkafka::consumer::Consumer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use schemas::{Action, UserTag};
use service_kit::settings::ClickHouseSettings;
use std::collections::BTreeMap;
use std::time::Duration;

// Not every test binary that shares these fixtures polls.
#[allow(unused_imports)]
pub use test_support::eventually;

/// A stored row of cookie `cookie` (fixed dimensions), as the projector would write it
/// from `partition` at `offset`: what the trimming tests insert directly.
pub fn stored_row(
    cookie: &str,
    action: i8,
    time_ms: i64,
    partition: i32,
    offset: i64,
) -> read_model::UserTagRow {
    read_model::UserTagRow {
        cookie: cookie.to_owned(),
        action,
        time_ms,
        time_text: String::new(),
        country: "PL".to_owned(),
        device: 1,
        origin: "o".to_owned(),
        product_id: "1".to_owned(),
        product_id_is_text: 0,
        brand_id: "b".to_owned(),
        category_id: "k".to_owned(),
        price: 1,
        kafka_partition: partition,
        kafka_offset: offset,
        batch_ingested_in: 0,
    }
}

/// Event time of tag 0: 2026-03-01T12:00:00Z.
pub const START_MS: i64 = 1_772_366_400_000;

/// Tag `index` of the deterministic test stream (1 ms apart, mixed actions and filters).
pub fn tag(index: u32) -> UserTag {
    let device = ["PC", "MOBILE", "TV"][(index % 3) as usize];
    let body = serde_json::json!({
        "time": schemas::EventTime::from_millis(START_MS + i64::from(index) * 7).to_instant_string(),
        "cookie": format!("cookie{}", index % 53),
        "country": "PL",
        "device": device,
        "action": if index.is_multiple_of(5) { "BUY" } else { "VIEW" },
        "origin": format!("origin{}", index % 3),
        "product_info": {
            "product_id": index,
            "brand_id": format!("brand{}", index % 4),
            "category_id": format!("category{}", index % 2),
            "price": 1_000_000 + (index % 997) as i32
        }
    });
    UserTag::from_json(body.to_string().as_bytes()).expect("test tag is valid")
}

/// Produces tags `range` to `topic`, keyed by cookie, waiting for every acknowledgement.
pub async fn produce(brokers: &str, topic: &str, range: std::ops::Range<u32>) {
    let producer: FutureProducer =
        service_kit::kafka::base_config(&test_support::kafka_settings(brokers, topic))
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
    let encoder = schemas::TagEncoder::new(&schemas::SchemaCatalog::Bundled, "unused")
        .await
        .expect("encoder");
    let indexes: Vec<u32> = range.collect();
    for chunk in indexes.chunks(500) {
        let sends = chunk.iter().map(|index| {
            let tag = tag(*index);
            let payload = encoder.encode(&tag).expect("encodes");
            let producer = &producer;
            async move {
                let record = FutureRecord::to(topic)
                    .key(tag.cookie.as_bytes())
                    .payload(&payload);
                producer
                    .send(record, Timeout::After(Duration::from_secs(30)))
                    .await
                    .map(|_| ())
            }
        });
        for outcome in futures::future::join_all(sends).await {
            outcome
                .map_err(|(error, _)| error)
                .expect("tag acknowledged");
        }
    }
}

/// Produces one raw payload (for dead-letter tests).
pub async fn produce_raw(brokers: &str, topic: &str, key: &str, payload: &[u8]) {
    let producer: FutureProducer =
        service_kit::kafka::base_config(&test_support::kafka_settings(brokers, topic))
            .create()
            .expect("producer");
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Timeout::After(Duration::from_secs(30)),
        )
        .await
        .map_err(|(error, _)| error)
        .expect("acknowledged");
}

/// Expected (minute, count, sum_price) of tags `range` for `action`, optionally one origin.
pub fn expected_minutes(
    range: std::ops::Range<u32>,
    action: Action,
    origin: Option<&str>,
) -> BTreeMap<u32, (u64, i64)> {
    let mut minutes = BTreeMap::new();
    for tag in range.map(tag) {
        if tag.action != action || origin.is_some_and(|origin| origin != tag.origin) {
            continue;
        }
        let minute = (tag.time.millis() / 60_000 * 60) as u32;
        let entry = minutes.entry(minute).or_insert((0_u64, 0_i64));
        entry.0 += 1;
        entry.1 += i64::from(tag.product_info.price);
    }
    minutes
}

/// Stored (minute, count, sum_price) for `action`, all origins or one, as the minute
/// cube holds them. The one-dimension rollup must hold the same: every dimension's
/// values summed (no origin given), or the origin's rows; it panics where they differ.
pub async fn stored_minutes(
    settings: &ClickHouseSettings,
    action: Action,
    origin: Option<&str>,
) -> BTreeMap<u32, (u64, i64)> {
    let client = service_kit::clickhouse::client(settings);
    let rows: Vec<(u32, u64, i64)> = client
        .query(
            "SELECT toUInt32(minute), sum(count), sum(sum_price) FROM minute_aggregates \
             WHERE action = ? AND (? = 0 OR origin = ?) GROUP BY minute ORDER BY minute",
        )
        .bind(action.as_str())
        .bind(u8::from(origin.is_some()))
        .bind(origin.unwrap_or(""))
        .fetch_all()
        .await
        .expect("aggregates readable");
    let cube: BTreeMap<u32, (u64, i64)> = rows
        .into_iter()
        .map(|(minute, count, sum)| (minute, (count, sum)))
        .collect();
    let dimensions: &[&str] = match origin {
        Some(_) => &["origin"],
        None => &["origin", "brand_id", "category_id", "country", "device"],
    };
    for dimension in dimensions {
        let rows: Vec<(u32, u64, i64)> = client
            .query(
                "SELECT toUInt32(minute), sum(count), sum(sum_price) FROM minute_dimension_totals \
                 WHERE action = ? AND dimension = ? AND (? = 0 OR value = ?) \
                 GROUP BY minute ORDER BY minute",
            )
            .bind(action.as_str())
            .bind(*dimension)
            .bind(u8::from(origin.is_some()))
            .bind(origin.unwrap_or(""))
            .fetch_all()
            .await
            .expect("rollup readable");
        let rollup: BTreeMap<u32, (u64, i64)> = rows
            .into_iter()
            .map(|(minute, count, sum)| (minute, (count, sum)))
            .collect();
        assert_eq!(
            rollup, cube,
            "the {dimension} rollup differs from the cube ({action:?}, origin {origin:?})"
        );
    }
    cube
}

/// Distinct tags stored in user_tags (after dedup by cookie, action, time).
pub async fn distinct_tags(settings: &ClickHouseSettings) -> u64 {
    service_kit::clickhouse::client(settings)
        .query("SELECT count() FROM (SELECT DISTINCT cookie, action, time_ms FROM user_tags)")
        .fetch_one()
        .await
        .expect("count readable")
}

/// A migrated database whose `user_tags` never merges, so a copy stored twice stays
/// visible to [`stored_rows`] instead of being collapsed by ReplacingMergeTree.
pub async fn unmerged_database(prefix: &str) -> ClickHouseSettings {
    let settings = test_support::migrated_database(prefix).await;
    service_kit::clickhouse::client(&settings)
        .query("SYSTEM STOP MERGES user_tags")
        .execute()
        .await
        .expect("merges stopped");
    settings
}

/// Rows in user_tags, copies included (see [`unmerged_database`]).
pub async fn stored_rows(settings: &ClickHouseSettings) -> u64 {
    service_kit::clickhouse::client(settings)
        .query("SELECT count() FROM user_tags")
        .fetch_one()
        .await
        .expect("count readable")
}

/// Sum of the minute counts (every tag counted once).
pub async fn aggregated_count(settings: &ClickHouseSettings) -> u64 {
    service_kit::clickhouse::client(settings)
        .query("SELECT toUInt64(sum(count)) FROM minute_aggregates")
        .fetch_one()
        .await
        .expect("count readable")
}

/// Whether `tags` distinct tags are stored *and* counted. One insert commits
/// `user_tags`' part a moment before its views' parts, so a reader can see a batch's
/// tags before their counts: waiting on [`distinct_tags`] alone and then reading the
/// aggregates races that moment. Counting *more* than `tags` is for the caller to judge,
/// once [`caught_up`] says no insert can still land.
pub async fn projected(settings: &ClickHouseSettings, tags: u64) -> bool {
    distinct_tags(settings).await == tags && aggregated_count(settings).await >= tags
}

/// Whether the projectors of `topic` are done with every record `brokers` hold now:
/// each partition's newest batch-log entry says its last batch is in (an empty token,
/// written only after that batch's INSERT returned, and an INSERT returns once
/// `user_tags` *and* every view fed by it have committed) at the partition's end.
///
/// This is the state to judge exact counts in. Waiting until the counts look right
/// and then for a pause (what these tests did) races the projector: a read between
/// `user_tags`' part and its views' parts of one insert saw 900 tags and 847 counted
/// (CI on 5bfa1b0), and a second copy of a batch could still land after any pause.
/// Here every insert of every record produced so far has returned, and none is
/// pending, so a double count, a missing count or a stored copy is there to be seen.
pub async fn caught_up(settings: &ClickHouseSettings, brokers: &str, topic: &str) -> bool {
    let ends = partition_ends(brokers, topic).await;
    let latest: Vec<(i32, String, i64)> = service_kit::clickhouse::client(settings)
        .query(
            "SELECT kafka_partition, token, next_offset FROM projector_batches \
             WHERE kafka_topic = ? ORDER BY kafka_partition, version DESC LIMIT 1 BY kafka_partition",
        )
        .bind(topic)
        .fetch_all()
        .await
        .expect("batch log readable");
    ends.iter().all(|(partition, end)| {
        match latest.iter().find(|(logged, _, _)| logged == partition) {
            Some((_, token, next)) => token.is_empty() && next == end,
            None => *end == 0,
        }
    })
}

/// Each partition of `topic` on `brokers` and its high watermark (the offset after its
/// last record).
async fn partition_ends(brokers: &str, topic: &str) -> Vec<(i32, i64)> {
    let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: rdkafka::consumer::BaseConsumer =
            service_kit::kafka::base_config(&test_support::kafka_settings(&brokers, &topic))
                .create()
                .expect("metadata client");
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("topic metadata");
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|found| found.partitions().iter().map(|partition| partition.id()))
            .collect();
        partitions
            .into_iter()
            .map(|partition| {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                    .expect("watermarks");
                (partition, high)
            })
            .collect()
    })
    .await
    .expect("watermarks task")
}
