//! `projector rebuild --from-archive`: the archive's records inserted into a fresh
//! database before the broker's tail, with the projector's exactly-once machinery.
//!
//! The archive (see the `archive` crate) holds every record of each partition from its
//! first archived offset, in files of contiguous ranges; its rows of kind tag are
//! exactly the rows the projector inserts (the archiver classifies records by the same
//! rules). Each file's rows go in batches of at most `--batch-max-rows`, each a
//! contiguous range: as in the live pipeline, the batch is recorded in the batch log
//! (pending, with its token) before it is inserted with that token, so a replay that
//! crashes and is run again into the same database inserts nothing twice. The batch log
//! then says where each partition continues, and the ordinary projector takes the tail
//! from the broker (`rebuild`). Run again into the same database (after a crash), it
//! starts where the batch log says, each partition's unfinished batch again with its
//! token: it never moves a batch log back, nor inserts a batch twice.
//!
//! Refused, before anything is inserted: an archive with a hole in a partition (a
//! rebuild would silently miss those records; `archiver verify` names it), and an
//! archive that ends before the broker's log begins (the records between are in
//! neither).

use crate::batch::Batch;
use crate::config::Config;
use crate::sink::{ClickHouseSink, SinkError};
use archive::{ArchiveError, ArchiveStore, ArchivedRecord, ManifestEntry, RecordKind};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Attempts per insert (each with the batch's token) before the replay gives up, with
/// `service_kit::backoff`'s delays between them.
const INSERT_ATTEMPTS: u32 = 5;
/// Files read ahead of the inserts.
const READ_AHEAD: usize = 2;

/// Why the archive could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveReplayError {
    /// The archive could not be read.
    #[error("reading the archive")]
    Archive(#[from] ArchiveError),
    /// The archive misses records of a partition.
    #[error(
        "the archive misses offsets {from}..{to} of partition {partition} (run `archiver verify`)"
    )]
    Hole {
        /// The partition.
        partition: i32,
        /// First offset missing.
        from: i64,
        /// First offset present again.
        to: i64,
    },
    /// The archive ends before the broker's log begins.
    #[error("the archive of partition {partition} ends at offset {next} but the broker's log starts at {low}: those records are in neither")]
    BeforeLog {
        /// The partition.
        partition: i32,
        /// The offset after the archive's last.
        next: i64,
        /// The broker's first offset.
        low: i64,
    },
    /// The broker's watermarks could not be read.
    #[error("reading the topic's watermarks")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// ClickHouse refused a batch every time.
    #[error("inserting a batch")]
    Sink(#[from] SinkError),
    /// A blocking task failed.
    #[error("watermark task failed")]
    Join,
}

/// What the replay inserted.
#[derive(Debug, Clone, Default)]
pub struct ArchiveReplay {
    /// Files read.
    pub files: usize,
    /// Records covered (every kind), by this run.
    pub records: u64,
    /// Records the database's batch log already had (an earlier run's).
    pub already: u64,
    /// Rows inserted (tags).
    pub tags: u64,
    /// Per partition, the offset the broker's tail starts at.
    pub next: BTreeMap<i32, i64>,
    /// How long it took.
    pub elapsed: Duration,
}

impl ArchiveReplay {
    /// Records covered per second.
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Replays `archive_url`'s archive of the configured topic into the configured database
/// (migrated, its batch log empty or left by an earlier run of the same replay).
pub async fn replay(
    config: &Config,
    archive_url: &str,
) -> Result<ArchiveReplay, ArchiveReplayError> {
    let started = Instant::now();
    let store = ArchiveStore::open(archive_url, &config.kafka.topic)?;
    let recovered = archive::recover(&store, archive::RecoveryMode::ReadOnly).await?;
    for (partition, entries) in &recovered.partitions {
        for pair in entries.windows(2) {
            if pair[1].first_offset != pair[0].last_offset + 1 {
                return Err(ArchiveReplayError::Hole {
                    partition: *partition,
                    from: pair[0].last_offset + 1,
                    to: pair[1].first_offset,
                });
            }
        }
    }
    let kafka = config.kafka.clone();
    let marks = tokio::task::spawn_blocking(move || service_kit::kafka::watermarks(&kafka))
        .await
        .map_err(|_| ArchiveReplayError::Join)??;
    for (partition, (low, _)) in &marks {
        if let Some(next) = recovered.next_offset(*partition) {
            if next < *low {
                return Err(ArchiveReplayError::BeforeLog {
                    partition: *partition,
                    next,
                    low: *low,
                });
            }
        }
    }

    let entries: Vec<ManifestEntry> = recovered.partitions.values().flatten().cloned().collect();
    let (files, mut receiver) =
        mpsc::channel::<Result<Vec<ArchivedRecord>, ArchiveError>>(READ_AHEAD);
    let reader_store = store.clone();
    let reader = tokio::spawn(async move {
        for entry in entries {
            let read = match entry.key() {
                Some(key) => reader_store.read_file(&key).await,
                None => continue,
            };
            if files.send(read).await.is_err() {
                return;
            }
        }
    });

    let client = service_kit::clickhouse::client(&config.clickhouse);
    let sink = ClickHouseSink::new(client, &config.kafka.topic, config.clickhouse_timeout);
    let mut report = ArchiveReplay::default();
    // Where the database's batch log stands: a settled entry's next offset, or the first
    // offset of an unfinished batch (inserted again, with its token).
    let latest = sink.latest_batches().await?;
    // The unfinished batches by token, with the version they were recorded at: one read
    // again from the archive goes in as first recorded (see `insert`).
    let unfinished: HashMap<String, u64> = latest
        .values()
        .filter(|entry| entry.is_pending())
        .map(|entry| (entry.token.clone(), entry.version))
        .collect();
    let start: BTreeMap<i32, i64> = latest
        .into_iter()
        .map(|(partition, entry)| {
            let from = if entry.is_pending() {
                crate::sink::pending_ranges(&entry)
                    .get(&partition)
                    .map_or(entry.next_offset, |range| range.first)
            } else {
                entry.next_offset
            };
            (partition, from)
        })
        .collect();
    let mut settled: BTreeMap<i32, i64> = BTreeMap::new();
    let mut version = 0;
    while let Some(records) = receiver.recv().await {
        let records = records?;
        report.files += 1;
        for chunk in records.chunks(config.batch_max_rows.max(1)) {
            let done = chunk.last().is_some_and(|last| {
                start
                    .get(&last.partition())
                    .is_some_and(|start| last.offset() < *start)
            });
            if done {
                report.already += chunk.len() as u64;
                continue;
            }
            let mut batch = Batch::new(usize::MAX, Duration::MAX);
            for record in chunk {
                if record.kind == RecordKind::Tag {
                    batch.push(record.row.clone());
                } else {
                    batch.cover(record.partition(), record.offset());
                }
            }
            version = crate::sink::next_version(version);
            let recorded = insert(
                &sink,
                &mut batch,
                &settled,
                version,
                &unfinished,
                &config.kafka.topic,
            )
            .await?;
            if recorded {
                settled.clear();
            }
            for (partition, range) in batch.ranges() {
                settled.insert(*partition, range.last + 1);
                report.next.insert(*partition, range.last + 1);
            }
            report.records += chunk.len() as u64;
            report.tags += batch.rows().len() as u64;
        }
    }
    let _ = reader.await;
    if !settled.is_empty() {
        version = crate::sink::next_version(version);
        sink.record_settled(&settled, version).await?;
    }
    report.elapsed = started.elapsed();
    tracing::info!(
        files = report.files,
        records = report.records,
        tags = report.tags,
        seconds = report.elapsed.as_secs_f64(),
        "archive replayed"
    );
    Ok(report)
}

/// Records the batch in the batch log, then inserts it with its token, each retried.
/// A batch the log holds as unfinished (same token) is not recorded again: it is
/// inserted with the rows stamped by the version it was first recorded at, so it lands
/// in the aggregates' partition of its first attempt and its token deduplicates what of
/// it landed there. Returns whether the batch (and `settled`) was recorded.
async fn insert(
    sink: &ClickHouseSink,
    batch: &mut Batch,
    settled: &BTreeMap<i32, i64>,
    version: u64,
    unfinished: &HashMap<String, u64>,
    topic: &str,
) -> Result<bool, SinkError> {
    let token = batch.token(topic);
    let first_recorded = unfinished.get(&token).copied();
    batch.stamp(first_recorded.unwrap_or(version));
    let (batch, token) = (&*batch, token.as_str());
    service_kit::backoff::retry_async(
        INSERT_ATTEMPTS,
        || async move {
            if first_recorded.is_none() {
                sink.record_batch(batch, settled, version).await?;
            }
            if !batch.rows().is_empty() {
                sink.write(batch.rows(), token).await?;
            }
            Ok::<(), SinkError>(())
        },
        |attempt, error| {
            if attempt < INSERT_ATTEMPTS {
                tracing::warn!(attempt, error = %service_kit::error::chain(error), "archive batch not inserted; retrying with its token");
            }
        },
    )
    .await?;
    Ok(first_recorded.is_none())
}
