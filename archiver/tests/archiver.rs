//! The archiver against a real broker: every record archived once, under SIGKILL.
//!
//! An archiver process writes small files (a few hundred records, every 150 ms) while
//! tags flow, a sender's retry and a record that is no tag among them, and is killed
//! with SIGKILL at random moments (mid-file, mid-write, between a file and its
//! manifest, during start-up) and started again. At the end `archiver verify` passes,
//! and the archive's tags are exactly the tags produced, each once.

use archive::{recover, ArchiveStore, RecordKind, RecoveryMode};
use loadgen::stream::{Cardinalities, TagStream};
use rand::Rng;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use schemas::UserTag;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TAGS: usize = 20_000;
const KILLS: usize = 6;
const PARTITIONS: i32 = 4;

fn archiver(brokers: &str, topic: &str, archive: &Path, log: &Path) -> Command {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_archiver"));
    command
        .env("KAFKA_BROKERS", brokers)
        .env("KAFKA_TOPIC", topic)
        .env("ARCHIVE_URL", archive)
        .env("ARCHIVER_LISTEN", "127.0.0.1:0")
        .env("ARCHIVER_GROUP_ID", format!("{topic}-archiver"))
        // Many small files: kills land in every phase of a file's life.
        .env("ARCHIVER_ROLL_INTERVAL_MS", "150")
        .env("ARCHIVER_MAX_FILE_RECORDS", "400")
        .env("RUST_LOG", "warn,archiver=info,archive=info")
        .stdout(Stdio::from(log_file.try_clone().expect("log file handle")))
        .stderr(Stdio::from(log_file));
    command
}

fn spawn(brokers: &str, topic: &str, archive: &Path, log: &Path) -> Child {
    archiver(brokers, topic, archive, log)
        .spawn()
        .expect("archiver starts")
}

/// Sends `tags` keyed by cookie; the first tag is sent twice (a sender's retry) and one
/// record that is not a tag goes first.
async fn produce(brokers: &str, topic: &str, tags: Vec<UserTag>) {
    let producer: FutureProducer =
        service_kit::kafka::base_config(&test_support::kafka_settings(brokers, topic))
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
    let encoder = schemas::TagEncoder::new(&schemas::SchemaCatalog::Bundled, "unused")
        .await
        .expect("encoder");
    let send = |key: Vec<u8>, payload: Vec<u8>| {
        let producer = producer.clone();
        let topic = topic.to_owned();
        async move {
            producer
                .send(
                    FutureRecord::to(&topic).key(&key).payload(&payload),
                    Timeout::After(Duration::from_secs(30)),
                )
                .await
                .map(|_| ())
                .map_err(|(error, _)| error)
                .expect("acknowledged");
        }
    };
    send(b"junk".to_vec(), b"not a tag".to_vec()).await;
    let first = encoder.encode(&tags[0]).expect("encodes");
    send(tags[0].cookie.clone().into_bytes(), first.clone()).await;
    send(tags[0].cookie.clone().into_bytes(), first).await;
    for chunk in tags[1..].chunks(1000) {
        let sends = chunk.iter().map(|tag| {
            let payload = encoder.encode(tag).expect("encodes");
            send(tag.cookie.clone().into_bytes(), payload)
        });
        futures::future::join_all(sends).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn high_watermarks(brokers: &str, topic: &str) -> BTreeMap<i32, i64> {
    service_kit::kafka::watermarks(&test_support::kafka_settings(brokers, topic))
        .expect("watermarks")
        .into_iter()
        .map(|(partition, (_, high))| (partition, high))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_archives_every_record_exactly_once() {
    // A private broker, as in the projector's crash test: the kills must not disturb the
    // shared stack's broker.
    let broker = test_support::PrivateBroker::start();
    let brokers = broker.brokers();
    let topic = test_support::unique_name("archive_crash");
    test_support::create_topic(&brokers, &topic, PARTITIONS).await;
    let archive: PathBuf = std::env::temp_dir().join(&topic);
    let log = std::env::temp_dir().join(format!("{topic}.log"));
    let tags: Vec<UserTag> = TagStream::new(27, Cardinalities::default())
        .take(TAGS)
        .collect();

    let mut process = spawn(&brokers, &topic, &archive, &log);
    let producer = tokio::spawn({
        let (brokers, topic, tags) = (brokers.clone(), topic.clone(), tags.clone());
        async move { produce(&brokers, &topic, tags).await }
    });
    for kill in 0..KILLS {
        let pause = rand::rng().random_range(200..1200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let _ = process.kill();
        let _ = process.wait();
        eprintln!("kill {kill} after {pause} ms");
        process = spawn(&brokers, &topic, &archive, &log);
    }
    producer.await.expect("producer task");

    // The last one catches up by itself, from its own files.
    let marks = high_watermarks(&brokers, &topic);
    let store = ArchiveStore::open(archive.to_str().expect("utf-8"), &topic).expect("archive");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let recovered = recover(&store, RecoveryMode::ReadOnly)
            .await
            .expect("readable");
        let done = marks
            .iter()
            .all(|(partition, high)| recovered.next_offset(*partition).unwrap_or(0) >= *high);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the archive did not catch up: {:?} of {marks:?}; log in {}",
            recovered
                .partitions
                .keys()
                .map(|p| (p, recovered.next_offset(*p)))
                .collect::<Vec<_>>(),
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A last kill, then what `make up` does: start again (the files are the truth: a file
    // its manifest missed is adopted), then `archiver verify`.
    let _ = process.kill();
    let _ = process.wait();
    let mut again = spawn(&brokers, &topic, &archive, &log);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = again.kill();
    let _ = again.wait();
    let verified = archiver(&brokers, &topic, &archive, &log)
        .arg("verify")
        .stdout(Stdio::piped())
        .output()
        .expect("verify runs");
    assert!(
        verified.status.success(),
        "archiver verify failed: {}; log in {}",
        String::from_utf8_lossy(&verified.stdout),
        log.display()
    );

    let recovered = recover(&store, RecoveryMode::ReadOnly)
        .await
        .expect("readable");
    let mut archived_tags: Vec<UserTag> = Vec::new();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut files = 0;
    for entries in recovered.partitions.values() {
        for entry in entries {
            files += 1;
            let key = entry.key().expect("valid name");
            for record in store.read_file(&key).await.expect("readable file") {
                match record.kind {
                    RecordKind::Tag => archived_tags.push(record.row.to_tag().expect("a tag")),
                    RecordKind::SenderRetry => *kinds.entry("retry").or_default() += 1,
                    RecordKind::NotATag => *kinds.entry("not a tag").or_default() += 1,
                }
            }
        }
    }
    eprintln!(
        "{files} files, {} adopted at the last start",
        recovered.adopted.len()
    );
    let key = |tag: &UserTag| (tag.time.millis(), tag.cookie.clone());
    let mut expected = tags.clone();
    expected.sort_by_key(key);
    archived_tags.sort_by_key(key);
    assert_eq!(archived_tags.len(), TAGS, "tags lost or doubled");
    assert_eq!(
        archived_tags, expected,
        "the archive's tags are not the tags sent"
    );
    assert_eq!(kinds, BTreeMap::from([("not a tag", 1), ("retry", 1)]));
    let _ = std::fs::remove_dir_all(&archive);
}
