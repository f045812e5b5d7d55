//! Exactly once and live, under SIGKILL: two projector processes (instance 0 and 1 of
//! 2) are killed at random moments (mid-batch, mid-insert, between the batch log and
//! the insert, during start-up) and restarted while tags flow. Every restarted instance
//! must take its partitions back by itself (they are assigned, not handed out by a group
//! coordinator), and at the end every tag is counted exactly once.

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
    instance: usize,
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
        .env("PROJECTOR_INSTANCE", instance.to_string())
        .env("PROJECTOR_INSTANCES", "2")
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
    let log = std::env::temp_dir().join(format!("{topic}.log"));

    let mut projectors: Vec<Child> = (0..2)
        .map(|instance| spawn_projector(&brokers, &topic, &clickhouse, instance, &log))
        .collect();
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
        // A batch the kill cut in half may be missing from the aggregates until the
        // instance is back; counted twice, never.
        let (counted, projected) = (
            aggregated_count(&clickhouse).await,
            distinct_tags(&clickhouse).await,
        );
        assert!(
            counted <= projected,
            "{counted} counted for {projected} tags after kill {kills}"
        );
        projectors[victim] = spawn_projector(&brokers, &topic, &clickhouse, victim, &log);
        kills += 1;
    }
    let last_restart = std::time::Instant::now();
    producer.await.expect("producer task");

    // The restarted instances catch up by themselves: no new group, no manual step.
    // Judged once the batch log says every partition's last batch is in at the end of
    // the topic: no insert is pending or under way then (see `caught_up`).
    let caught_up = eventually(Duration::from_secs(120), || {
        common::caught_up(&clickhouse, &brokers, &topic)
    })
    .await;
    eprintln!(
        "every partition settled at its end {:?} after the last restart",
        last_restart.elapsed()
    );
    for projector in &mut projectors {
        let _ = projector.kill();
        let _ = projector.wait();
    }
    assert!(
        caught_up,
        "the batch log never settled at the end of the topic ({} of {TAGS} tags projected); log in {}",
        distinct_tags(&clickhouse).await,
        log.display()
    );
    assert_eq!(distinct_tags(&clickhouse).await, u64::from(TAGS));
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
