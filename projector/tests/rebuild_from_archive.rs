//! `projector rebuild --from-archive` against the real broker and ClickHouse: the
//! archiver's files, then the broker's tail, rebuild exactly what the log says
//! (`projector reconcile` finds no difference); replaying the archive again inserts
//! nothing twice; an archive with a hole is refused.

mod common;

use common::{
    aggregated_count, distinct_tags, eventually, expected_minutes, produce, stored_minutes,
    START_MS,
};
use projector::{reconcile, Config, ReconcileRequest};
use schemas::{Action, EventTime};
use std::time::Duration;

const ARCHIVED: u32 = 3_000;
const TAIL: u32 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_the_archive_and_the_tail_reconciles_with_the_log() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("from_archive");
    test_support::create_topic(&brokers, &topic, 2).await;
    test_support::create_topic(&brokers, &format!("{topic}-dead-letter"), 1).await;
    produce(&brokers, &topic, 0..ARCHIVED).await;

    // The archiver archives what the log holds so far, then stops.
    let archive_dir = std::env::temp_dir().join(&topic);
    let mut archiver_config = archiver::Config::local_defaults();
    archiver_config.listen = "127.0.0.1:0".parse().expect("address");
    archiver_config.kafka = test_support::kafka_settings(&brokers, &topic);
    archiver_config.archive_url = archive_dir.to_string_lossy().into_owned();
    archiver_config.group_id = format!("{topic}-archiver");
    archiver_config.roll_interval = Duration::from_millis(200);
    archiver_config.max_file_records = 700;
    let application = archiver::Application::build(archiver_config)
        .await
        .expect("archiver builds");
    let mut archived = application.archived();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let all_archived = tokio::time::timeout(
        Duration::from_secs(60),
        archived.wait_for(|archived| archived.values().sum::<i64>() >= i64::from(ARCHIVED)),
    )
    .await;
    assert!(all_archived.is_ok(), "the archiver did not archive the log");
    let _ = stop.send(());
    running
        .await
        .expect("archiver task")
        .expect("archiver stops");

    // The tail: tags the archive does not hold, only the broker.
    produce(&brokers, &topic, ARCHIVED..ARCHIVED + TAIL).await;

    let target = test_support::unique_name("from_archive_db");
    let mut config = Config::local_defaults();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.kafka = test_support::kafka_settings(&brokers, &topic);
    config.clickhouse = test_support::clickhouse_settings(&target);
    config.batch_max_rows = 500;
    config.batch_max_wait = Duration::from_millis(100);
    config.trim_interval = Duration::ZERO;
    let archive_url = archive_dir.to_string_lossy().into_owned();
    let report = projector::rebuild(
        config.clone(),
        &target,
        &migrations::bundled_dir(),
        None,
        Some(&archive_url),
    )
    .await
    .expect("rebuilds");
    let from_archive = report.archive.clone().expect("the archive was replayed");
    assert_eq!(
        (from_archive.records, from_archive.tags),
        (u64::from(ARCHIVED), u64::from(ARCHIVED))
    );
    assert!(from_archive.files >= 5, "{from_archive:?}");
    assert_eq!(report.messages, i64::from(ARCHIVED + TAIL));

    let database = config.clickhouse.clone();
    let total = u64::from(ARCHIVED + TAIL);
    assert!(
        eventually(Duration::from_secs(30), || async {
            common::projected(&database, total).await
        })
        .await,
        "{} of {total} tags rebuilt",
        distinct_tags(&database).await
    );
    for action in [Action::View, Action::Buy] {
        assert_eq!(
            stored_minutes(&database, action, None).await,
            expected_minutes(0..ARCHIVED + TAIL, action, None)
        );
    }

    // Replaying the archive into the same database again (a rebuild run twice) starts
    // where the batch log stands: nothing inserted twice, the batch log not moved back.
    let again = projector::replay_archive(&config, &archive_url)
        .await
        .expect("replays");
    assert_eq!((again.records, again.already), (0, u64::from(ARCHIVED)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(aggregated_count(&database).await, total);

    // The rebuilt database reconciles with a replay of the whole log.
    let from = EventTime::from_millis(START_MS - START_MS % 60_000);
    let request = ReconcileRequest {
        from,
        to: EventTime::from_millis(from.millis() + 120_000),
        scratch_database: test_support::unique_name("from_archive_check"),
        keep: false,
        json_out: None,
        metrics_out: None,
        migrations_dir: migrations::bundled_dir(),
    };
    let reconciled = reconcile(config.clone(), &request)
        .await
        .expect("reconciles");
    assert!(
        reconciled.differences.is_empty(),
        "{:?}",
        reconciled.differences
    );
    assert_eq!(
        (reconciled.tags_in_log, reconciled.tags_live),
        (total, total)
    );

    // An archive with a hole is refused before anything is inserted.
    let store = archive::ArchiveStore::open(&archive_url, &topic).expect("archive");
    let recovered = archive::recover(&store, archive::RecoveryMode::ReadOnly)
        .await
        .expect("readable");
    let middle = recovered
        .partitions
        .values()
        .find(|entries| entries.len() >= 3)
        .map(|entries| entries[1].file.clone())
        .expect("a partition with three files");
    store.delete(&middle).await.expect("deleted");
    let mut holed = config.clone();
    holed.clickhouse = test_support::migrated_database("from_archive_hole").await;
    let refused = projector::replay_archive(&holed, &archive_url).await;
    assert!(
        matches!(refused, Err(projector::ArchiveReplayError::Hole { .. })),
        "{refused:?}"
    );
    assert_eq!(distinct_tags(&holed.clickhouse).await, 0);
    let _ = std::fs::remove_dir_all(&archive_dir);
}
