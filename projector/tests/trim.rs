//! Trimming the profile store against the real ClickHouse: each cookie and action keeps
//! exactly its newest 200 distinct tags once above 200 + the slack, copies of a kept tag
//! stay, nothing else is touched, counts follow, and a reclaim gives the disk back.

mod common;

use projector::{TrimPolicy, Trimmer};
use read_model::UserTagRow;
use std::time::Duration;

fn row(cookie: &str, action: i8, time_ms: i64, offset: i64) -> UserTagRow {
    common::stored_row(cookie, action, time_ms, 0, offset)
}

async fn insert(client: &clickhouse::Client, rows: &[UserTagRow]) {
    // Copies stay apart, as separate projector batches would leave them.
    let mut insert = client
        .insert::<UserTagRow>("user_tags")
        .await
        .expect("insert starts")
        .with_setting("optimize_on_insert", "0");
    for row in rows {
        insert.write(row).await.expect("row written");
    }
    insert.end().await.expect("inserted");
}

async fn times(client: &clickhouse::Client, cookie: &str, action: &str) -> Vec<i64> {
    client
        .query(
            "SELECT time_ms FROM user_tags WHERE cookie = ? AND action = ? ORDER BY time_ms DESC",
        )
        .bind(cookie)
        .bind(action)
        .fetch_all()
        .await
        .expect("times")
}

async fn counted(client: &clickhouse::Client, cookie: &str, action: &str) -> i64 {
    client
        .query("SELECT sum(rows) FROM user_tag_counts WHERE cookie = ? AND action = ?")
        .bind(cookie)
        .bind(action)
        .fetch_one()
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cookie_and_action_keeps_its_newest_200_and_nothing_else_changes() {
    let database = test_support::migrated_database("trim").await;
    let client = service_kit::clickhouse::client(&database);
    let mut rows = Vec::new();
    let mut offset = 0;
    let mut next = || {
        offset += 1;
        offset
    };
    for time in 0..1000 {
        rows.push(row("a", 1, time, next()));
    }
    for time in 0..100 {
        rows.push(row("a", 2, time, next()));
    }
    for time in 0..300 {
        rows.push(row("b", 1, time, next()));
    }
    // Copies of b's ten newest tags (a replay): one key each, kept with them.
    for time in 290..300 {
        rows.push(row("b", 1, time, next()));
    }
    for time in 0..251 {
        rows.push(row("c", 1, time, next()));
    }
    for time in 0..250 {
        rows.push(row("d", 1, time, next()));
    }
    insert(&client, &rows).await;

    let trimmer = Trimmer::new(
        client.clone(),
        TrimPolicy {
            keep: 200,
            slack: 50,
            recent: Duration::ZERO,
            interval: Duration::from_secs(3600),
            reclaim_interval: Duration::ZERO,
        },
    );
    let report = trimmer.run_once().await.expect("trims");
    assert_eq!(report.pairs, 3, "{report:?}");
    assert_eq!(report.rows_deleted, 800 + 100 + 51, "{report:?}");

    assert_eq!(
        times(&client, "a", "VIEW").await,
        (800..1000).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        times(&client, "a", "BUY").await.len(),
        100,
        "under the bound: untouched"
    );
    let b = times(&client, "b", "VIEW").await;
    assert_eq!(b.len(), 210, "the kept tags' copies stay");
    let mut distinct = b.clone();
    distinct.dedup();
    assert_eq!(distinct, (100..300).rev().collect::<Vec<_>>());
    assert_eq!(times(&client, "c", "VIEW").await.len(), 200);
    assert_eq!(
        times(&client, "d", "VIEW").await.len(),
        250,
        "at the bound: untouched"
    );
    assert_eq!(counted(&client, "a", "VIEW").await, 200);
    assert_eq!(counted(&client, "b", "VIEW").await, 210);
    assert_eq!(counted(&client, "d", "VIEW").await, 250);

    // Nothing left to do; then newer tags push the older ones out.
    assert_eq!(trimmer.run_once().await.expect("trims").pairs, 0);
    let newer: Vec<UserTagRow> = (1000..1100)
        .map(|time| row("a", 1, time, time + 10_000))
        .collect();
    insert(&client, &newer).await;
    trimmer.run_once().await.expect("trims");
    assert_eq!(
        times(&client, "a", "VIEW").await,
        (900..1100).rev().collect::<Vec<_>>()
    );

    // The masked rows leave the disk when the table is rewritten.
    trimmer.reclaim().await.expect("reclaims");
    let (physical, visible): (u64, u64) = client
        .query(
            "SELECT toUInt64(ifNull((SELECT sum(rows) FROM system.parts WHERE database = currentDatabase() \
             AND table = 'user_tags' AND active AND NOT startsWith(name, 'patch')), 0)), \
             toUInt64(ifNull((SELECT count() FROM user_tags), 0))",
        )
        .fetch_one()
        .await
        .expect("rows");
    assert_eq!(physical, visible, "masked rows still on disk");
    assert_eq!(visible, 200 + 100 + 200 + 200 + 250, "copies collapsed too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_ending_in_the_recent_window_keeps_its_full_answer() {
    let database = test_support::migrated_database("trim_recent").await;
    let client = service_kit::clickhouse::client(&database);
    // 1,000 tags 1 ms apart; the window protects the newest 300 ms (times 700..999).
    let rows: Vec<UserTagRow> = (0..1000).map(|time| row("a", 1, time, time + 1)).collect();
    insert(&client, &rows).await;
    let trimmer = Trimmer::new(
        client.clone(),
        TrimPolicy {
            keep: 200,
            slack: 50,
            recent: Duration::from_millis(300),
            interval: Duration::from_secs(3600),
            reclaim_interval: Duration::ZERO,
        },
    );
    let report = trimmer.run_once().await.expect("trims");
    // Kept: 700..=999 (less than 300 ms older than the newest, 999) and the newest 200
    // of the older ones.
    let kept = times(&client, "a", "VIEW").await;
    assert_eq!(kept, (500..1000).rev().collect::<Vec<_>>(), "{report:?}");
    assert_eq!(report.rows_deleted, 500);
    // A query whose range ends (exclusive) at 700, 299 ms behind the newest, still
    // gets its newest 200.
    let answer: Vec<i64> = kept
        .iter()
        .copied()
        .filter(|&time| time < 700)
        .take(200)
        .collect();
    assert_eq!(answer, (500..700).rev().collect::<Vec<_>>());
    assert_eq!(counted(&client, "a", "VIEW").await, 500);
}
