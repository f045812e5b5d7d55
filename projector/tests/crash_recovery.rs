//! Exactly once in effect: two projector processes in one group are killed with
//! SIGKILL at random moments (mid-insert, between insert and commit, mid-rebalance)
//! and restarted while tags flow; afterwards every tag is counted exactly once.
//!
//! Phase 1 (two instances, repeated kills) checks safety: at no point is a tag counted
//! twice. Tansu 0.6's group coordinator does not always hand every member its share
//! after a rebalance (seen here: partitions left unowned until the next rebalance), so
//! progress during phase 1 is not required. Phase 2 leaves one instance (in a fresh
//! group, proving the resume point is ClickHouse's), which must catch up to every tag,
//! each counted exactly once.

mod common;

use common::{
    aggregated_count, distinct_tags, eventually, expected_minutes, produce, stored_minutes,
};
use rand::Rng;
use schemas::Action;
use service_kit::settings::ClickHouseSettings;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TAGS: u32 = 30_000;
const KILLS: usize = 8;

fn spawn_projector(
    brokers: &str,
    topic: &str,
    clickhouse: &ClickHouseSettings,
    group: &str,
    log: &std::path::Path,
) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_projector"))
        .env("KAFKA_BROKERS", brokers)
        .env("KAFKA_TOPIC", topic)
        .env("CLICKHOUSE_URL", &clickhouse.url)
        .env("CLICKHOUSE_DATABASE", &clickhouse.database)
        .env("PROJECTOR_GROUP_ID", group)
        .env("PROJECTOR_LISTEN", "127.0.0.1:0")
        // Small, frequent batches: many inserts, so kills land in every phase.
        .env("PROJECTOR_BATCH_MAX_ROWS", "400")
        .env("PROJECTOR_BATCH_MAX_WAIT_MS", "30")
        .env("RUST_LOG", "warn,projector=info")
        .stdout(Stdio::from(log_file.try_clone().expect("log file handle")))
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("projector process starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_counts_every_tag_exactly_once() {
    // A private broker: group churn from SIGKILLs can crash Tansu 0.6's storage
    // (seen here), and that must not take the shared broker down for other tests.
    let broker = test_support::PrivateBroker::start();
    let brokers = broker.brokers();
    let topic = test_support::unique_name("crash");
    test_support::create_topic(&brokers, &topic, 4).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    let clickhouse = test_support::migrated_database("crash").await;
    let group = test_support::unique_name("group");
    let log = std::env::temp_dir().join(format!("{topic}.log"));

    let mut projectors = vec![
        spawn_projector(&brokers, &topic, &clickhouse, &group, &log),
        spawn_projector(&brokers, &topic, &clickhouse, &group, &log),
    ];
    let producer = {
        let (brokers, topic) = (brokers.clone(), topic.clone());
        tokio::spawn(async move {
            for start in (0..TAGS).step_by(1000) {
                produce(&brokers, &topic, start..(start + 1000).min(TAGS)).await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };

    let mut kills = 0;
    while kills < KILLS {
        let pause = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let victim = kills % projectors.len();
        let _ = projectors[victim].kill();
        let _ = projectors[victim].wait();
        projectors[victim] = spawn_projector(&brokers, &topic, &clickhouse, &group, &log);
        kills += 1;
    }
    producer.await.expect("producer task");

    // Phase 1 verdict: whatever was projected so far was counted exactly once.
    for projector in &mut projectors {
        let _ = projector.kill();
        let _ = projector.wait();
    }
    let projected = distinct_tags(&clickhouse).await;
    assert_eq!(
        aggregated_count(&clickhouse).await,
        projected,
        "a tag was counted twice during the kills"
    );

    // Phase 2: one survivor catches up from ClickHouse's offsets. It joins a fresh group:
    // Tansu may keep the killed members' stale group state for a long time, and the
    // projector never needs the group's committed offsets anyway (it resumes from
    // ClickHouse), so a new group is a legitimate way to take over.
    let mut survivor = spawn_projector(
        &brokers,
        &topic,
        &clickhouse,
        &test_support::unique_name("survivor"),
        &log,
    );
    let caught_up = eventually(Duration::from_secs(120), || async {
        distinct_tags(&clickhouse).await == u64::from(TAGS)
    })
    .await;
    // Let any straggling insert land before judging the counts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = survivor.kill();
    let _ = survivor.wait();
    assert!(
        caught_up,
        "only {} of {TAGS} tags projected; log in {}",
        distinct_tags(&clickhouse).await,
        log.display()
    );
    assert_eq!(
        aggregated_count(&clickhouse).await,
        u64::from(TAGS),
        "aggregates counted a tag twice or missed one"
    );
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&clickhouse, action, None).await,
            expected_minutes(0..TAGS, action, None)
        );
        assert_eq!(
            stored_minutes(&clickhouse, action, Some("origin2")).await,
            expected_minutes(0..TAGS, action, Some("origin2"))
        );
    }
}
