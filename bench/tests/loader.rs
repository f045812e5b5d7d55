//! The loader against the real ClickHouse of the running stack (`make up`): a few
//! thousand tags of loadgen's stream into a fresh database, counted in `user_tags` and
//! in the minute cube the materialized view fills from the same inserts; a chunk sent
//! again with its token is not counted twice, and a second load of the same tags
//! reuses the database, while a load of other tags replaces it.

use bench::loader::{chunk_token, insert_chunk, load, synthetic_position, LoadOptions};
use loadgen::stream::{Cardinalities, TagStream, STREAM_START_MS};
use read_model::UserTagRow;
use std::time::Duration;

const TAGS: u64 = 5_000;

fn options(clickhouse: service_kit::settings::ClickHouseSettings) -> LoadOptions {
    LoadOptions {
        clickhouse,
        migrations_dir: migrations::bundled_dir(),
        tags: TAGS,
        seed: 3,
        chunk_rows: 1_500,
        force: false,
        insert_timeout: Duration::from_secs(60),
    }
}

async fn counts(client: &clickhouse::Client) -> (u64, u64, i64, i64) {
    let tags: u64 = client
        .query("SELECT count() FROM user_tags")
        .fetch_one()
        .await
        .expect("count user_tags");
    let aggregated: u64 = client
        .query("SELECT sum(count) FROM minute_aggregates")
        .fetch_one()
        .await
        .expect("sum minute_aggregates");
    let (first, last): (i64, i64) = client
        .query("SELECT min(time_ms), max(time_ms) FROM user_tags")
        .fetch_one()
        .await
        .expect("time span");
    (tags, aggregated, first, last)
}

#[tokio::test]
async fn the_stream_lands_once_in_both_read_models() {
    let settings = test_support::migrated_database("bench_loader").await;
    let client = service_kit::clickhouse::client(&settings);

    let report = load(&options(settings.clone())).await.expect("load");
    assert!(report.loaded_now);
    assert_eq!(report.tags, TAGS);
    assert_eq!(
        counts(&client).await,
        (
            TAGS,
            TAGS,
            STREAM_START_MS,
            STREAM_START_MS + TAGS as i64 - 1
        )
    );
    let buys: u64 = client
        .query("SELECT sum(count) FROM minute_aggregates WHERE action = 'BUY'")
        .fetch_one()
        .await
        .expect("buys");
    let expected_buys = TagStream::new(3, Cardinalities::default())
        .take(TAGS as usize)
        .filter(|tag| tag.action == schemas::Action::Buy)
        .count() as u64;
    assert_eq!(buys, expected_buys);

    // The first chunk again, with its token: nothing changes.
    let rows: Vec<UserTagRow> = TagStream::new(3, Cardinalities::default())
        .take(1_500)
        .enumerate()
        .map(|(index, tag)| UserTagRow::from_tag(&tag, synthetic_position(index as u64)))
        .collect();
    insert_chunk(
        &client,
        &rows,
        &chunk_token(3, 1_500, 0),
        Duration::from_secs(60),
    )
    .await
    .expect("retried chunk");
    assert_eq!(counts(&client).await.0, TAGS);
    assert_eq!(counts(&client).await.1, TAGS);

    // The same load again reuses the database.
    let again = load(&options(settings.clone())).await.expect("second load");
    assert!(!again.loaded_now);
    assert_eq!(counts(&client).await.1, TAGS);

    // Other tags: the database is dropped, loaded again and the new load recorded, so
    // the next load of those reuses it.
    let other = LoadOptions {
        tags: 2_000,
        ..options(settings.clone())
    };
    let reloaded = load(&other).await.expect("reload with other tags");
    assert!(reloaded.loaded_now);
    assert_eq!(counts(&client).await.0, 2_000);
    assert!(!load(&other).await.expect("reuse the reload").loaded_now);

    let server = service_kit::clickhouse::server_client(&settings);
    let _ = server
        .query("DROP DATABASE IF EXISTS ?")
        .bind(clickhouse::sql::Identifier(&settings.database))
        .execute()
        .await;
}
