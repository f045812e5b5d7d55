//! `archiver verify`: proof that the archive holds every record once.
//!
//! Per partition, from the first archived offset: the manifests' ranges follow each
//! other with no gap and no overlap; every listed file exists and every file is listed;
//! each file holds exactly one row per offset of its range, in order, all of its
//! partition, with the kinds its manifest entry counts (tags, sender's retries, records
//! that are not tags: the projector projects the first and skips the others); and the
//! archive reaches at least the offset its writer committed to the broker (what it
//! claims to have archived).

use crate::manifest::ManifestEntry;
use crate::record::RecordKind;
use crate::recovery::{recover, RecoveryMode};
use crate::store::{ArchiveError, ArchiveStore};
use serde::Serialize;
use std::collections::BTreeMap;

/// One partition's archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartitionSummary {
    /// The partition.
    pub partition: i32,
    /// Files.
    pub files: usize,
    /// The first archived offset.
    pub first_offset: Option<i64>,
    /// The offset after the last archived one.
    pub next_offset: Option<i64>,
    /// The offset the writer committed to the broker, when known.
    pub committed: Option<i64>,
    /// Rows (records).
    pub records: u64,
    /// Rows that are tags.
    pub tags: u64,
    /// Rows that are a sender's retry.
    pub sender_retries: u64,
    /// Rows that are not a tag.
    pub not_tags: u64,
    /// Bytes of its files.
    pub bytes: u64,
}

/// Something that makes the archive incomplete or doubled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Offsets `from..to` of a partition are in no file.
    Gap {
        /// The partition.
        partition: i32,
        /// First offset missing.
        from: i64,
        /// First offset present again.
        to: i64,
    },
    /// A file's range overlaps the one before it.
    Overlap {
        /// The file.
        file: String,
        /// The file before it.
        previous: String,
    },
    /// The manifest lists a file that does not exist.
    MissingFile {
        /// The file.
        file: String,
    },
    /// A file its manifest does not list (adopted at the writer's next start).
    Unlisted {
        /// The file.
        file: String,
    },
    /// A file's rows are not exactly its range, or not the kinds its entry counts.
    Rows {
        /// The file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read.
    Unreadable {
        /// The file.
        file: String,
        /// Why.
        error: String,
    },
    /// A manifest line that does not parse.
    ManifestLine {
        /// The line.
        line: String,
    },
    /// The writer committed an offset the archive does not reach.
    BehindCommitted {
        /// The partition.
        partition: i32,
        /// The offset after the archive's last.
        next: Option<i64>,
        /// The committed offset.
        committed: i64,
    },
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Per partition.
    pub partitions: Vec<PartitionSummary>,
    /// Every problem (none: the archive is complete and has no record twice).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the archive passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the archive against the offsets its writer `committed` (per partition).
pub async fn verify(
    store: &ArchiveStore,
    committed: &BTreeMap<i32, i64>,
) -> Result<VerifyReport, ArchiveError> {
    let recovered = recover(store, RecoveryMode::ReadOnly).await?;
    let mut report = VerifyReport::default();
    for file in &recovered.adopted {
        report
            .problems
            .push(Problem::Unlisted { file: file.clone() });
    }
    for entry in &recovered.missing {
        report.problems.push(Problem::MissingFile {
            file: entry.file.clone(),
        });
    }
    for line in &recovered.unreadable_lines {
        report
            .problems
            .push(Problem::ManifestLine { line: line.clone() });
    }
    let mut partitions: Vec<i32> = recovered.partitions.keys().copied().collect();
    partitions.extend(
        committed
            .keys()
            .filter(|p| !recovered.partitions.contains_key(p)),
    );
    partitions.sort_unstable();
    for partition in partitions {
        let entries = recovered
            .partitions
            .get(&partition)
            .cloned()
            .unwrap_or_default();
        let mut summary = PartitionSummary {
            partition,
            files: entries.len(),
            first_offset: entries.first().map(|entry| entry.first_offset),
            next_offset: entries.last().map(|entry| entry.last_offset + 1),
            committed: committed.get(&partition).copied(),
            ..PartitionSummary::default()
        };
        let mut previous: Option<&ManifestEntry> = None;
        for entry in &entries {
            if let Some(before) = previous {
                if entry.first_offset > before.last_offset + 1 {
                    report.problems.push(Problem::Gap {
                        partition,
                        from: before.last_offset + 1,
                        to: entry.first_offset,
                    });
                } else if entry.first_offset <= before.last_offset {
                    report.problems.push(Problem::Overlap {
                        file: entry.file.clone(),
                        previous: before.file.clone(),
                    });
                }
            }
            previous = Some(entry);
            summary.records += entry.records;
            summary.tags += entry.tags;
            summary.sender_retries += entry.sender_retries;
            summary.not_tags += entry.not_tags;
            summary.bytes += entry.bytes;
            if let Some(problem) = check_file(store, entry).await {
                report.problems.push(problem);
            }
        }
        if let Some(committed) = summary.committed {
            if summary.next_offset.unwrap_or(0) < committed {
                report.problems.push(Problem::BehindCommitted {
                    partition,
                    next: summary.next_offset,
                    committed,
                });
            }
        }
        report.partitions.push(summary);
    }
    Ok(report)
}

/// Reads a file and checks its rows against its entry.
async fn check_file(store: &ArchiveStore, entry: &ManifestEntry) -> Option<Problem> {
    let key = entry.key()?;
    let records = match store.read_file(&key).await {
        Ok(records) => records,
        Err(error) => {
            return Some(Problem::Unreadable {
                file: entry.file.clone(),
                error: error.to_string(),
            })
        }
    };
    let rows = |detail: String| {
        Some(Problem::Rows {
            file: entry.file.clone(),
            detail,
        })
    };
    let expected = u64::try_from(key.records()).unwrap_or(0);
    if records.len() as u64 != expected || entry.records != expected {
        return rows(format!(
            "{} rows and {} in the manifest for {} offsets",
            records.len(),
            entry.records,
            expected
        ));
    }
    let in_order = records
        .iter()
        .zip(key.first..)
        .all(|(record, offset)| record.offset() == offset && record.partition() == key.partition);
    if !in_order {
        return rows("the rows are not exactly the range's offsets of the partition".to_owned());
    }
    let count = |kind: RecordKind| records.iter().filter(|r| r.kind == kind).count() as u64;
    let kinds = (
        count(RecordKind::Tag),
        count(RecordKind::SenderRetry),
        count(RecordKind::NotATag),
    );
    if kinds != (entry.tags, entry.sender_retries, entry.not_tags) {
        return rows(format!(
            "kinds {kinds:?} in the file, ({}, {}, {}) in the manifest",
            entry.tags, entry.sender_retries, entry.not_tags
        ));
    }
    None
}
