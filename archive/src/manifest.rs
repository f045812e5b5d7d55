//! The manifest: per day and partition, one JSON line per data file (its range, what
//! its rows are, their event- and record-time bounds, its size, when it was written).
//!
//! It is rewritten whole (an atomic put) after each new file of its day, so it is at
//! most a day of lines (1,440 at one file a minute). The files are the truth: a file
//! written before a crash let its manifest be rewritten is adopted at the next start
//! ([`crate::recover`]). Readers use the manifests to find the files of a range of
//! event time (ClickHouse reads them too: `file('.../manifest.jsonl', JSONEachRow)`).

use crate::layout::FileKey;
use crate::record::{ArchivedRecord, RecordKind};
use serde::{Deserialize, Serialize};

/// One data file, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The file, relative to the topic's directory.
    pub file: String,
    /// The partition.
    pub partition: i32,
    /// Its first offset.
    pub first_offset: i64,
    /// Its last offset.
    pub last_offset: i64,
    /// Rows: every record of the range.
    pub records: u64,
    /// Rows that are tags.
    pub tags: u64,
    /// Rows that are a sender's retry.
    pub sender_retries: u64,
    /// Rows that are not a tag.
    pub not_tags: u64,
    /// The earliest event time of its tags, ms (`None`: no tag).
    pub min_time_ms: Option<i64>,
    /// The latest event time of its tags, ms.
    pub max_time_ms: Option<i64>,
    /// The broker's timestamp of its first record, ms.
    pub min_record_time_ms: i64,
    /// The latest broker timestamp of its records, ms.
    pub max_record_time_ms: i64,
    /// Bytes of the file.
    pub bytes: u64,
    /// When it was written (renamed into place), ms.
    pub written_at_ms: i64,
}

impl ManifestEntry {
    /// The entry of the file `key` holding `records`, `bytes` long, written at
    /// `written_at_ms`.
    pub fn describe(
        key: &FileKey,
        records: &[ArchivedRecord],
        bytes: u64,
        written_at_ms: i64,
    ) -> Self {
        let count = |kind: RecordKind| records.iter().filter(|r| r.kind == kind).count() as u64;
        let tag_times = records
            .iter()
            .filter(|record| record.kind == RecordKind::Tag)
            .map(|record| record.row.time_ms);
        let record_times = records.iter().map(|record| record.record_time_ms);
        Self {
            file: key.relative(),
            partition: key.partition,
            first_offset: key.first,
            last_offset: key.last,
            records: records.len() as u64,
            tags: count(RecordKind::Tag),
            sender_retries: count(RecordKind::SenderRetry),
            not_tags: count(RecordKind::NotATag),
            min_time_ms: tag_times.clone().min(),
            max_time_ms: tag_times.max(),
            min_record_time_ms: records.first().map_or(0, |record| record.record_time_ms),
            max_record_time_ms: record_times.max().unwrap_or(0),
            bytes,
            written_at_ms,
        }
    }

    /// The file's key (`None` when the entry names no valid file).
    pub fn key(&self) -> Option<FileKey> {
        FileKey::parse(&self.file)
    }
}

/// The manifest's text: one JSON line per entry, in offset order.
pub(crate) fn render(entries: &[ManifestEntry]) -> String {
    let mut text = String::new();
    for entry in entries {
        text.push_str(&serde_json::to_string(entry).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// The entries of a manifest's text; lines that do not parse are returned apart.
pub(crate) fn parse(text: &str) -> (Vec<ManifestEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut unreadable = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(entry) => entries.push(entry),
            Err(_) => unreadable.push(line.to_owned()),
        }
    }
    (entries, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_describes_its_file_and_round_trips() {
        let records = crate::format::tests::sample();
        let key = FileKey {
            day: "2026-03-01".into(),
            partition: 3,
            first: 10,
            last: 15,
        };
        let entry = ManifestEntry::describe(&key, &records, 123, 9);
        assert_eq!(
            (
                entry.records,
                entry.tags,
                entry.sender_retries,
                entry.not_tags
            ),
            (6, 4, 1, 1)
        );
        assert_eq!(entry.min_record_time_ms, 1_000);
        assert_eq!(entry.max_record_time_ms, 1_005);
        assert_eq!(entry.key(), Some(key));
        let (back, bad) = parse(&format!(
            "{}not json\n",
            render(std::slice::from_ref(&entry))
        ));
        assert_eq!(back, vec![entry]);
        assert_eq!(bad, vec!["not json".to_owned()]);
    }
}
