//! Where an archive's files and manifests live, relative to the archive's root:
//!
//! ```text
//! <topic>/day=2026-03-01/partition=0/00000000000000000000-00000000000000014999.parquet
//! <topic>/day=2026-03-01/partition=0/manifest.jsonl
//! ```
//!
//! The day is the UTC day of the broker's timestamp of a file's first record (a file
//! never spans two days of the log: the writer closes it at midnight), so a day's
//! directory holds what the log received that day, whatever event times the senders
//! gave. Offsets are zero-padded to 20 digits, so names sort by offset.

use object_store::path::Path;

/// The manifest's file name in each day and partition directory.
pub(crate) const MANIFEST_NAME: &str = "manifest.jsonl";
/// The extension of data files.
const EXTENSION: &str = ".parquet";

/// One data file: its day, partition and offset range (both ends included).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The partition.
    pub partition: i32,
    /// The first offset.
    pub first: i64,
    /// The last offset.
    pub last: i64,
}

impl FileKey {
    /// The file's path under the topic's directory: `day=D/partition=P/F-L.parquet`.
    pub fn relative(&self) -> String {
        format!(
            "{}/{:020}-{:020}{EXTENSION}",
            directory(&self.day, self.partition),
            self.first,
            self.last
        )
    }

    /// Parses a path under the topic's directory (`relative`'s form).
    pub fn parse(relative: &str) -> Option<Self> {
        let mut parts = relative.split('/');
        let day = parts.next()?.strip_prefix("day=")?;
        let partition = parts.next()?.strip_prefix("partition=")?.parse().ok()?;
        let name = parts.next()?.strip_suffix(EXTENSION)?;
        if parts.next().is_some() || !valid_day(day) {
            return None;
        }
        let (first, last) = name.split_once('-')?;
        let (first, last) = (first.parse().ok()?, last.parse().ok()?);
        (first <= last).then(|| Self {
            day: day.to_owned(),
            partition,
            first,
            last,
        })
    }

    /// Records in the range.
    pub fn records(&self) -> i64 {
        self.last - self.first + 1
    }
}

/// `day=D/partition=P`.
pub(crate) fn directory(day: &str, partition: i32) -> String {
    format!("day={day}/partition={partition}")
}

/// The (day, partition) of a manifest path under the topic's directory.
pub(crate) fn parse_manifest(relative: &str) -> Option<(String, i32)> {
    let mut parts = relative.split('/');
    let day = parts.next()?.strip_prefix("day=")?;
    let partition = parts.next()?.strip_prefix("partition=")?.parse().ok()?;
    (parts.next()? == MANIFEST_NAME && parts.next().is_none() && valid_day(day))
        .then(|| (day.to_owned(), partition))
}

/// Joins a relative path onto a prefix.
pub(crate) fn join(prefix: &Path, relative: &str) -> Path {
    relative
        .split('/')
        .fold(prefix.clone(), |path, part| path.clone().join(part))
}

fn valid_day(day: &str) -> bool {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
}

/// The UTC day (`YYYY-MM-DD`) of an instant in ms since the epoch.
pub fn day_of(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_offset() {
        let key = FileKey {
            day: "2026-03-01".into(),
            partition: 2,
            first: 9,
            last: 10,
        };
        let path = key.relative();
        assert_eq!(
            path,
            "day=2026-03-01/partition=2/00000000000000000009-00000000000000000010.parquet"
        );
        assert_eq!(FileKey::parse(&path), Some(key.clone()));
        let later = FileKey {
            first: 11,
            last: 100,
            ..key
        };
        assert!(path < later.relative());
        for bad in [
            "day=2026-13-01/partition=2/1-2.parquet",
            "day=2026-03-01/partition=x/1-2.parquet",
            "day=2026-03-01/partition=2/3-2.parquet",
            "day=2026-03-01/partition=2/1-2.parquet#1",
            "day=2026-03-01/partition=2/1-2.parquet/x",
        ] {
            assert_eq!(FileKey::parse(bad), None, "{bad}");
        }
        assert_eq!(
            parse_manifest("day=2026-03-01/partition=2/manifest.jsonl"),
            Some(("2026-03-01".into(), 2))
        );
        assert_eq!(day_of(1_772_366_400_000), "2026-03-01");
    }
}
