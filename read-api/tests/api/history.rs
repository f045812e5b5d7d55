//! The analysts' series and top-N older than the cube's 24 hours, from the archive:
//! ClickHouse reads the archive's Parquet files (`file()`), and the totals are exactly
//! those of loadgen's model of the tags (sender's retries and records that are not tags,
//! also archived, counted nowhere). The answer says it came from the archive.

use crate::common::{insert_tags, ok_json, spawn_app_with, tag};
use archive::{encode_file, ArchiveStore, ArchivedRecord, FileKey, ManifestEntry, RecordKind};
use loadgen::model::{Model, Outcome};
use loadgen::stream::{Cardinalities, TagStream, STREAM_START_MS};
use read_api::Config;
use read_model::{LogPosition, UserTagRow};
use schemas::contract::{Aggregate, AggregatesQuery, TimeRange};
use schemas::{Action, EventTime, Filters, UserTag};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TAGS: usize = 150_000;
const PARTITIONS: i64 = 4;
const FILE_RECORDS: usize = 9_000;

/// Archives `tags` as the archiver would: partition by tag index, every tag a record,
/// and after every 1,000th tag a sender's retry of it and, once, a record that is not a
/// tag. Returns the newest broker timestamp of each partition.
async fn archive(store: &ArchiveStore, tags: &[UserTag]) -> BTreeMap<i32, i64> {
    let mut partitions: BTreeMap<i32, Vec<ArchivedRecord>> = BTreeMap::new();
    for (index, tag) in tags.iter().enumerate() {
        let partition = (index as i64 % PARTITIONS) as i32;
        let records = partitions.entry(partition).or_default();
        let record_time_ms = tag.time.millis() + 3;
        let push = |kind: RecordKind, records: &mut Vec<ArchivedRecord>| {
            let offset = records.len() as i64;
            records.push(ArchivedRecord {
                record_time_ms,
                kind,
                row: UserTagRow::from_tag(tag, LogPosition { partition, offset }),
                payload: None,
            });
        };
        push(RecordKind::Tag, records);
        if index % 1000 == 0 {
            push(RecordKind::SenderRetry, records);
        }
        if index == 10 {
            let offset = records.len() as i64;
            records.push(ArchivedRecord::not_a_tag(
                partition,
                offset,
                record_time_ms,
                b"junk",
            ));
        }
    }
    let mut through = BTreeMap::new();
    for (partition, records) in partitions {
        let mut entries: BTreeMap<String, Vec<ManifestEntry>> = BTreeMap::new();
        for chunk in records.chunks(FILE_RECORDS) {
            let key = FileKey {
                day: archive::day_of(chunk[0].record_time_ms),
                partition,
                first: chunk[0].offset(),
                last: chunk[chunk.len() - 1].offset(),
            };
            let bytes = encode_file(chunk, &[]).expect("encodes");
            let size = bytes.len() as u64;
            store.put_file(&key, bytes).await.expect("file written");
            entries
                .entry(key.day.clone())
                .or_default()
                .push(ManifestEntry::describe(&key, chunk, size, 0));
        }
        for (day, entries) in entries {
            store
                .put_manifest(&day, partition, &entries)
                .await
                .expect("manifest written");
        }
        through.insert(
            partition,
            records.iter().map(|r| r.record_time_ms).max().unwrap_or(0),
        );
    }
    through
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_older_than_the_cube_are_read_from_the_archive_with_exact_totals() {
    let tags: Vec<UserTag> = TagStream::new(11, Cardinalities::default())
        .take(TAGS)
        .collect();
    let mut model = Model::new();
    let accepted = Instant::now();
    for tag in &tags {
        let index = model.push(tag.clone());
        model.settle(index, Outcome::Accepted(accepted));
    }
    let root = std::env::temp_dir().join(test_support::unique_name("history_archive"));
    let topic = "history-tags";
    let store = ArchiveStore::open(root.to_str().expect("utf-8"), topic).expect("archive");
    let through = archive(&store, &tags).await;

    // The cube holds one tag two days later: the archived range is older than its window.
    let database = test_support::migrated_database("read_api_history").await;
    let newest = STREAM_START_MS + 2 * 24 * 3_600_000;
    insert_tags(&database, &[tag("late", "VIEW", newest)]).await;
    let mut config = Config::local_defaults();
    config.analytics_deadline = Duration::from_secs(30);
    config.archive_url = root.to_string_lossy().into_owned();
    config.kafka.topic = topic.to_owned();
    let app = spawn_app_with(&database, config).await;

    let at = |millis: i64| EventTime::from_millis(millis).to_bucket_string();
    let (from, to) = (STREAM_START_MS, STREAM_START_MS + 3 * 60_000);
    let brand = tags[0].product_info.brand_id.clone();
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW&bucket=1m&brand_id={brand}",
            at(from),
            at(to)
        ))
        .await,
    )
    .await;
    assert_eq!(series["source"], "archive", "{series}");
    let oldest_through = through.values().min().copied().expect("partitions");
    assert_eq!(series["archived_through"], at(oldest_through));
    let window =
        TimeRange::new(EventTime::from_millis(from), EventTime::from_millis(to)).expect("ordered");
    let filters = Filters {
        brand_id: Some(brand.clone()),
        ..Filters::default()
    };
    let query = AggregatesQuery::new(window, Action::View, vec![Aggregate::Count], filters)
        .expect("whole minutes");
    let expected = model.minute_totals(&query);
    let points = series["points"].as_array().expect("points");
    assert_eq!(points.len(), 3);
    for (point, minute) in points.iter().zip(&expected) {
        assert_eq!(
            (point["count"].as_u64(), point["sum_price"].as_i64()),
            (Some(minute.accepted_count), Some(minute.accepted_sum)),
            "{point}"
        );
    }
    assert!(expected.iter().all(|minute| minute.accepted_count > 0));

    // Unfiltered, every tag of the first minute counts once: retries and the record that
    // is not a tag, archived beside them, count nowhere.
    let whole = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=BUY&bucket=5m",
            at(from),
            at(from + 300_000)
        ))
        .await,
    )
    .await;
    let buys: Vec<&UserTag> = tags
        .iter()
        .filter(|tag| tag.action == Action::Buy)
        .collect();
    assert_eq!(
        whole["points"][0]["count"].as_u64(),
        Some(buys.len() as u64)
    );
    assert_eq!(
        whole["points"][0]["sum_price"].as_i64(),
        Some(
            buys.iter()
                .map(|tag| i64::from(tag.product_info.price))
                .sum()
        )
    );

    // The top brands of the views on mobile, by revenue, against the model's tags.
    let top = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=VIEW&dimension=brand_id&by=sum_price&limit=5&device=MOBILE",
            at(from),
            at(to)
        ))
        .await,
    )
    .await;
    assert_eq!(top["source"], "archive");
    let mut by_brand: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for index in 0..model.len() {
        let Some(tag) = model.tag(index) else {
            continue;
        };
        if tag.action == Action::View && tag.device == schemas::Device::Mobile {
            let entry = by_brand
                .entry(tag.product_info.brand_id.clone())
                .or_default();
            entry.0 += 1;
            entry.1 += i64::from(tag.product_info.price);
        }
    }
    let mut ranked: Vec<(String, (u64, i64))> = by_brand.clone().into_iter().collect();
    ranked.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let rows = top["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);
    for (row, (value, (count, sum))) in rows.iter().zip(&ranked) {
        assert_eq!(
            (
                row["value"].as_str(),
                row["count"].as_u64(),
                row["sum_price"].as_i64()
            ),
            (Some(value.as_str()), Some(*count), Some(*sum))
        );
    }
    assert_eq!(
        top["total"]["count"].as_u64(),
        Some(by_brand.values().map(|(count, _)| count).sum())
    );

    // The cube, asked explicitly, has dropped (here: never had) that range; a recent
    // range is the cube's by default.
    let cube = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW&source=cube",
            at(from),
            at(to)
        ))
        .await,
    )
    .await;
    assert_eq!(cube["source"], "cube");
    assert_eq!(cube["points"][0]["count"].as_u64(), Some(0));
    let recent = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW",
            at(newest - newest % 60_000),
            at(newest - newest % 60_000 + 60_000)
        ))
        .await,
    )
    .await;
    assert_eq!(recent["source"], "cube");
    assert_eq!(recent["points"][0]["count"].as_u64(), Some(1));
    let _ = std::fs::remove_dir_all(root);
}
