//! The consume-classify-write loop, run on a thread of its own.
//!
//! Delivery guarantee: every record of an owned partition is in exactly one archive
//! file, whatever crashes.
//! - A partition's records go, in offset order, into its open file (in memory). The
//!   file is closed at most `roll_interval` after its first record arrived, when it
//!   holds `max_file_records`, at the UTC midnight of the log, or at shutdown: it is
//!   written whole and atomically (staged and renamed, or one PUT), then its day's
//!   manifest is rewritten.
//! - At start-up the archive's own files are the truth ([`archive::recover`]): a file
//!   missing from its manifest is adopted, a staged file discarded, and each partition
//!   resumes at the offset after its last file. Records of an open file lost by a crash
//!   are simply read again from the broker: nothing is lost (what is not in a file is
//!   still read) and nothing doubled (no range is written twice). The broker's committed
//!   offsets are written for lag tooling and `verify` only, never read to resume.
//! - A resume point outside the broker's log (the log expired past a stopped archiver,
//!   or the topic was recreated) stops that partition loudly: continuing would leave a
//!   hole in the archive.
//!
//! Each record is classified as the projector classifies it (`schemas::retries`, then
//! `TagDecoder::decode_record`), with the records before the resume point read again to
//! remember recent payloads, so the archive's tags are exactly the projector's rows. A
//! schema registry that cannot be reached is waited out; a store that cannot be written
//! is retried with backoff (the consumer waits: partitions are assigned, there is no
//! group membership to keep alive).

use archive::{
    day_of, ArchiveStore, ArchivedRecord, FileKey, ManifestEntry, RecordKind, Recovered,
};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use read_model::{LogPosition, UserTagRow};
use schemas::retries::RecentPayloads;
use schemas::TagDecoder;
use service_kit::assignment::Assignment;
use service_kit::backoff::{Attempts, Backoff};
use service_kit::kafka::ReadBack;
use service_kit::metric_names::archiver as names;
use service_kit::settings::KafkaSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Longest single wait for the broker, so cancellation and due files are seen promptly.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// How often the topic is checked for new partitions.
const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(30);
/// How long one read of the records before a resume point may take.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(60);
/// The first chunk read back before a resume point (as the projector's).
const READ_BACK_CHUNK: i64 = 8_000;

/// Per partition, the offset after the last archived record (what tests and `ready`
/// watch).
pub(crate) type Archived = BTreeMap<i32, i64>;

/// What the pipeline is built from.
pub(crate) struct PipelineParts {
    /// The consumer (partitions assigned by the pipeline).
    pub consumer: BaseConsumer,
    /// The archive.
    pub store: ArchiveStore,
    /// Decodes payloads of any known schema.
    pub decoder: TagDecoder,
    /// Recent payloads, to recognise a sender's retries.
    pub recent: RecentPayloads,
    /// The broker and topic.
    pub kafka: KafkaSettings,
    /// Which partitions are ours.
    pub assignment: Assignment,
    /// Longest a file stays open after its first record.
    pub roll_interval: Duration,
    /// Most records in one file.
    pub max_file_records: usize,
    /// Runtime for the async store and decoder calls.
    pub runtime: Handle,
    /// Set while the archive cannot be written (readiness).
    pub store_failing: Arc<AtomicBool>,
}

/// A partition's file being filled.
struct OpenFile {
    day: String,
    records: Vec<ArchivedRecord>,
    opened: Instant,
}

/// The running loop's state.
pub(crate) struct Pipeline {
    parts: PipelineParts,
    cancel: CancellationToken,
    archived: watch::Sender<Archived>,
    recovered: Option<Recovered>,
    /// Partitions assigned, with the next offset expected from each.
    expected: BTreeMap<i32, i64>,
    /// Partitions left alone: their resume point is outside the log.
    stopped: BTreeSet<i32>,
    open: BTreeMap<i32, OpenFile>,
    /// The entries of each (day, partition) manifest written or read so far.
    manifests: BTreeMap<(String, i32), Vec<ManifestEntry>>,
    last_partition_check: Instant,
}

impl Pipeline {
    /// A pipeline over `parts`, stopped by `cancel`, publishing what is archived.
    pub(crate) fn new(
        parts: PipelineParts,
        cancel: CancellationToken,
    ) -> (Self, watch::Receiver<Archived>) {
        let (archived, receiver) = watch::channel(Archived::new());
        let pipeline = Self {
            parts,
            cancel,
            archived,
            recovered: None,
            expected: BTreeMap::new(),
            stopped: BTreeSet::new(),
            open: BTreeMap::new(),
            manifests: BTreeMap::new(),
            last_partition_check: Instant::now(),
        };
        (pipeline, receiver)
    }

    /// Archives until cancelled, then writes the open files (one try each). Blocking:
    /// run it on a thread of its own.
    pub(crate) fn run(mut self) {
        let store = self.parts.store.clone();
        let runtime = self.parts.runtime.clone();
        let Some(recovered) = self.retry("recover the archive", || {
            runtime.block_on(archive::recover(&store, archive::RecoveryMode::Repair))
        }) else {
            return;
        };
        tracing::info!(
            adopted = recovered.adopted.len(),
            discarded = recovered.discarded,
            missing = recovered.missing.len(),
            "archive recovered"
        );
        metrics::counter!(names::FILES_ADOPTED.name).increment(recovered.adopted.len() as u64);
        self.recovered = Some(recovered);
        self.adopt_new_partitions();
        self.last_partition_check = Instant::now();
        while !self.cancel.is_cancelled() {
            match self.parts.consumer.poll(POLL_SLICE) {
                Some(Ok(message)) => {
                    let message = message.detach();
                    if !self.handle(&message) {
                        break;
                    }
                }
                Some(Err(error)) => {
                    metrics::counter!(names::CONSUMER_ERRORS.name).increment(1);
                    tracing::error!(error = %service_kit::error::chain(&error), "consumer error");
                }
                None => {}
            }
            self.close_due_files();
            if self.last_partition_check.elapsed() >= PARTITION_CHECK_EVERY {
                self.last_partition_check = Instant::now();
                self.adopt_new_partitions();
                self.report_lag();
            }
        }
        let partitions: Vec<i32> = self.open.keys().copied().collect();
        for partition in partitions {
            self.close(partition, false);
        }
        tracing::info!("archiver pipeline stopped");
    }

    /// Assigns every owned partition not yet assigned, at the offset after its last
    /// file, after reading back the records before it to remember recent payloads.
    fn adopt_new_partitions(&mut self) {
        let topic = self.parts.kafka.topic.clone();
        let Some(all) = self.retry("list partitions", || {
            service_kit::kafka::partitions(&self.parts.consumer, &topic)
        }) else {
            return;
        };
        let new: Vec<i32> = self
            .parts
            .assignment
            .owned(all)
            .into_iter()
            .filter(|p| !self.expected.contains_key(p) && !self.stopped.contains(p))
            .collect();
        let mut list = TopicPartitionList::new();
        let mut archived = self.archived.borrow().clone();
        for partition in new {
            let next = self
                .recovered
                .as_ref()
                .and_then(|recovered| recovered.next_offset(partition));
            let Some((low, high)) = self.retry("read the watermarks", || {
                service_kit::kafka::watermarks_of(&self.parts.consumer, &topic, partition)
            }) else {
                return;
            };
            let start = match next {
                Some(next) if next < low || next > high => {
                    metrics::counter!(names::RESUME_OUTSIDE_LOG.name, "partition" => partition.to_string()).increment(1);
                    tracing::error!(partition, resume = next, low, high, "the archive ends outside the broker's log: partition stopped (records between them are in neither); see docs/operations.md");
                    self.stopped.insert(partition);
                    continue;
                }
                Some(next) => next,
                None => low,
            };
            self.remember_before(partition, start);
            if self.cancel.is_cancelled() {
                return;
            }
            if list
                .add_partition_offset(&topic, partition, Offset::Offset(start))
                .is_err()
            {
                continue;
            }
            tracing::info!(partition, start, archived_before = ?next, "partition assigned");
            self.expected.insert(partition, start);
            if let Some(next) = next {
                archived.insert(partition, next);
            }
        }
        if list.count() == 0 {
            return;
        }
        if let Err(error) = self.parts.consumer.incremental_assign(&list) {
            tracing::error!(error = %service_kit::error::chain(&error), "assignment failed");
            for element in list.elements() {
                self.expected.remove(&element.partition());
            }
            return;
        }
        self.archived.send_replace(archived);
    }

    /// Reads the records before `next` again, so a retry of a record archived before a
    /// restart is still recognised as one.
    fn remember_before(&mut self, partition: i32, next: i64) {
        let bounds = ReadBack {
            first_chunk: READ_BACK_CHUNK,
            max_records: i64::try_from(self.parts.recent.max_records()).unwrap_or(i64::MAX),
            window_ms: self.parts.recent.window_ms(),
            timeout: READ_BACK_TIMEOUT,
        };
        let collected = match service_kit::kafka::read_back(
            &self.parts.kafka,
            partition,
            next,
            bounds,
        ) {
            Ok(collected) => collected,
            Err(error) => {
                tracing::warn!(partition, error = %service_kit::error::chain(&error), "recent records not read again; a sender's retry of one may be archived as a tag");
                Vec::new()
            }
        };
        self.parts.recent.forget(partition);
        for (time, payload) in &collected {
            self.parts.recent.is_retry(partition, *time, payload);
        }
    }

    /// Adds one polled record to its partition's open file. False when cancelled first.
    fn handle(&mut self, message: &OwnedMessage) -> bool {
        let (partition, offset) = (message.partition(), message.offset());
        let Some(expected) = self.expected.get(&partition).copied() else {
            return true;
        };
        if offset < expected {
            return true;
        }
        if offset > expected {
            // The log has no record between them (never seen on a log without
            // transactions): the open file ends before the hole, which `verify` reports.
            metrics::counter!(names::LOG_HOLES.name).increment(1);
            tracing::error!(partition, expected, offset, "the broker skipped offsets");
            self.close(partition, true);
        }
        let Some(record) = self.classify(message) else {
            return false;
        };
        let day = day_of(record.record_time_ms);
        if self
            .open
            .get(&partition)
            .is_some_and(|open| open.day != day)
        {
            self.close(partition, true);
        }
        self.open
            .entry(partition)
            .or_insert_with(|| OpenFile {
                day,
                records: Vec::new(),
                opened: Instant::now(),
            })
            .records
            .push(record);
        self.expected.insert(partition, offset + 1);
        if self
            .open
            .get(&partition)
            .is_some_and(|open| open.records.len() >= self.parts.max_file_records)
        {
            self.close(partition, true);
        }
        true
    }

    /// What a record is, as the projector decides it. `None` when cancelled while the
    /// schema registry was unreachable.
    fn classify(&mut self, message: &OwnedMessage) -> Option<ArchivedRecord> {
        let (partition, offset) = (message.partition(), message.offset());
        let record_time_ms = message.timestamp().to_millis().unwrap_or(0);
        let retry = message.payload().is_some_and(|payload| {
            self.parts
                .recent
                .is_retry(partition, record_time_ms, payload)
        });
        let mut backoff = Backoff::new();
        loop {
            match self
                .parts
                .runtime
                .block_on(self.parts.decoder.decode_record(message.payload()))
            {
                Ok(tag) => {
                    let kind = if retry {
                        RecordKind::SenderRetry
                    } else {
                        RecordKind::Tag
                    };
                    metrics::counter!(names::RECORDS.name, "kind" => kind_label(kind)).increment(1);
                    return Some(ArchivedRecord {
                        record_time_ms,
                        kind,
                        row: UserTagRow::from_tag(&tag, LogPosition { partition, offset }),
                        payload: None,
                    });
                }
                Err(error) if error.is_transient() => {
                    metrics::counter!(names::DECODE_RETRIES.name).increment(1);
                    tracing::warn!(error = %service_kit::error::chain(&error), partition, offset, "schema registry unavailable; retrying");
                    if !backoff.wait(&self.parts.runtime, &self.cancel) {
                        return None;
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %service_kit::error::chain(&error), partition, offset, "record is not a tag; archived as its payload");
                    let mut record = ArchivedRecord::not_a_tag(
                        partition,
                        offset,
                        record_time_ms,
                        message.payload().unwrap_or_default(),
                    );
                    if retry {
                        record.kind = RecordKind::SenderRetry;
                    }
                    metrics::counter!(names::RECORDS.name, "kind" => kind_label(record.kind))
                        .increment(1);
                    return Some(record);
                }
            }
        }
    }

    /// Closes every open file that is due.
    fn close_due_files(&mut self) {
        let due: Vec<i32> = self
            .open
            .iter()
            .filter(|(_, open)| open.opened.elapsed() >= self.parts.roll_interval)
            .map(|(partition, _)| *partition)
            .collect();
        for partition in due {
            self.close(partition, true);
        }
    }

    /// Writes a partition's open file and lists it in its manifest. With
    /// `retry_forever` it retries until the store takes it or the pipeline is cancelled;
    /// otherwise (shutdown) it tries once. A file not written is read again at the next
    /// start.
    fn close(&mut self, partition: i32, retry_forever: bool) {
        let Some(open) = self.open.remove(&partition) else {
            return;
        };
        let (Some(first), Some(last)) = (open.records.first(), open.records.last()) else {
            return;
        };
        let started = Instant::now();
        let key = FileKey {
            day: open.day.clone(),
            partition,
            first: first.offset(),
            last: last.offset(),
        };
        let metadata = [
            ("allezon.archive.format", "1".to_owned()),
            ("allezon.archive.topic", self.parts.kafka.topic.clone()),
        ];
        let bytes = match archive::encode_file(&open.records, &metadata) {
            Ok(bytes) => bytes,
            Err(error) => {
                // Cannot happen with the rows this loop builds; never lose them silently.
                tracing::error!(error = %service_kit::error::chain(&error), file = %key.relative(), "archive file not encoded; stopping");
                self.cancel.cancel();
                return;
            }
        };
        let size = bytes.len() as u64;
        let store = self.parts.store.clone();
        let runtime = self.parts.runtime.clone();
        let attempts = if retry_forever {
            Attempts::UntilCancelled
        } else {
            Attempts::AtMost(1)
        };
        let written = self.retry_bounded(attempts, "write an archive file", || {
            runtime.block_on(store.put_file(&key, bytes.clone()))
        });
        if !written {
            tracing::warn!(file = %key.relative(), "archive file not written: its records are read again at the next start");
            return;
        }
        let written_at_ms = service_kit::clock::now_ms();
        let entry = ManifestEntry::describe(&key, &open.records, size, written_at_ms);
        let manifest_key = (key.day.clone(), partition);
        if !self.manifests.contains_key(&manifest_key) {
            let entries = self
                .recovered
                .as_ref()
                .map(|recovered| recovered.day_entries(&key.day, partition))
                .unwrap_or_default();
            self.manifests.insert(manifest_key.clone(), entries);
        }
        let entries = self.manifests.entry(manifest_key).or_default();
        entries.push(entry.clone());
        let entries = entries.clone();
        let listed = self.retry_bounded(attempts, "write a manifest", || {
            runtime.block_on(store.put_manifest(&key.day, partition, &entries))
        });
        if !listed {
            tracing::warn!(file = %key.relative(), "manifest not rewritten: the file is adopted at the next start");
        }
        metrics::counter!(names::FILES_WRITTEN.name).increment(1);
        metrics::counter!(names::BYTES_WRITTEN.name).increment(size);
        metrics::histogram!(names::FILE_WRITE_DURATION.name)
            .record(started.elapsed().as_secs_f64());
        // Freshness: from the broker's timestamp of the file's first record (about the
        // 204 of its tag) to the file in place.
        let freshness = (written_at_ms - entry.min_record_time_ms).max(0) as f64 / 1000.0;
        metrics::histogram!(names::FRESHNESS.name).record(freshness);
        metrics::gauge!(names::LAST_FRESHNESS.name).set(freshness);
        tracing::debug!(file = %key.relative(), records = entry.records, bytes = size, "archive file written");
        let mut offsets = TopicPartitionList::new();
        if offsets
            .add_partition_offset(
                &self.parts.kafka.topic,
                partition,
                Offset::Offset(key.last + 1),
            )
            .is_ok()
        {
            if let Err(error) = self.parts.consumer.commit(&offsets, CommitMode::Async) {
                tracing::debug!(error = %error, "position commit to the broker failed (lag tooling only)");
            }
        }
        self.archived.send_modify(|archived| {
            archived.insert(partition, key.last + 1);
        });
    }

    fn report_lag(&self) {
        let archived = self.archived.borrow().clone();
        for partition in self.expected.keys() {
            if let Ok((_, high)) = service_kit::kafka::watermarks_of(
                &self.parts.consumer,
                &self.parts.kafka.topic,
                *partition,
            ) {
                let next = archived.get(partition).copied().unwrap_or(0);
                metrics::gauge!(names::LAG_RECORDS.name, "partition" => partition.to_string())
                    .set((high - next).max(0) as f64);
            }
        }
    }

    /// Runs `attempt` until it succeeds or the pipeline is cancelled (`None`).
    fn retry<T, E: std::error::Error + 'static>(
        &self,
        what: &str,
        attempt: impl FnMut() -> Result<T, E>,
    ) -> Option<T> {
        service_kit::backoff::retry_until_cancelled(
            &self.parts.runtime,
            &self.cancel,
            what,
            names::RETRIES,
            attempt,
        )
    }

    /// Runs a store request `attempts` times at most, with backoff; false when every attempt
    /// failed or cancellation came first. Readiness says whether the store is failing.
    fn retry_bounded<E: std::error::Error + 'static>(
        &self,
        attempts: Attempts,
        what: &str,
        attempt: impl FnMut() -> Result<(), E>,
    ) -> bool {
        let written = service_kit::backoff::retry(
            &self.parts.runtime,
            &self.cancel,
            attempts,
            attempt,
            |attempt, error| {
                self.parts.store_failing.store(true, Ordering::Relaxed);
                metrics::counter!(names::STORE_RETRIES.name).increment(1);
                tracing::warn!(what, attempt, error = %service_kit::error::chain(error), "archive store request failed");
            },
        );
        if written.is_some() {
            self.parts.store_failing.store(false, Ordering::Relaxed);
        }
        written.is_some()
    }
}

fn kind_label(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Tag => "tag",
        RecordKind::SenderRetry => "sender_retry",
        RecordKind::NotATag => "not_a_tag",
    }
}
