//! The analysts' series and top-N beyond the cube's 24 hours, read from the archive.
//!
//! The minute cube keeps what was ingested in the last 24 hours; the archive (the
//! archiver's Parquet files, see the `archive` crate) keeps every tag for good.
//! ClickHouse reads the archive directly, with `file()` over a directory or `s3()` over
//! a bucket: first the day manifests (small JSON lines, one per file), to find the days
//! whose files hold tags of the range and how far the archive reaches; then only those
//! days' Parquet files, tags only (`kind = 0`: exactly the rows the projector inserts,
//! so the totals are the cube's totals). Slower than the cube (every file of a day is
//! opened), so it serves only what the cube cannot.
//!
//! Which one answers (`source=auto`, the default): the cube, unless the range starts
//! more than the cube's window (24 hours) before the cube's newest minute of the
//! action, or the cube holds nothing of it. Senders at real-time speed age event time
//! as ingestion time, so that is the range the cube has dropped. `source=cube` and
//! `source=archive` choose explicitly. An answer says which (`source`) and, from the
//! archive, up to when the archive is complete (`archived_through`: every tag the
//! broker received before it is in a file).

use super::newest::{newest_minute, NewestQuery};
use super::params::{SeriesQuery, Source, TopQuery};
use super::store::{series_read, top_read, BucketTotals, RankedValue};
use crate::contract::store::StoreError;
use clickhouse::Client;
use read_model::cube::ArchiveAccess;
use schemas::contract::TimeRange;
use schemas::{Action, EventTime};

/// Where the archive is, as ClickHouse reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// A directory on ClickHouse's machine (`file()`).
    Directory(String),
    /// An S3-compatible bucket URL (`s3()`, credentials in ClickHouse's configuration).
    Bucket(String),
}

/// The days to read and how far the archive reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArchiveScope {
    /// Days whose files hold tags of the range, `YYYY-MM-DD`, in order.
    pub days: Vec<String>,
    /// Every record the broker received before this instant is archived (the oldest,
    /// over partitions, of each partition's newest archived record); `None`: the
    /// archive is empty.
    pub archived_through: Option<EventTime>,
}

/// Reads of the archive through ClickHouse.
#[derive(Clone)]
pub(crate) struct ArchiveHistory {
    client: Client,
    location: Location,
    cube_window_ms: i64,
}

impl ArchiveHistory {
    /// Reads of the archive of `topic` at `url` (an absolute directory, or an `http(s)://`
    /// bucket URL), chosen over the cube for ranges starting `cube_window_minutes` before
    /// its newest minute. `None` when no archive is configured.
    pub(crate) fn new(
        client: Client,
        url: &str,
        topic: &str,
        cube_window_minutes: u32,
    ) -> Option<Self> {
        let url = url.trim().trim_end_matches('/');
        if url.is_empty() {
            return None;
        }
        let root = format!("{url}/{topic}");
        let location = if url.starts_with("http://") || url.starts_with("https://") {
            Location::Bucket(root)
        } else {
            Location::Directory(root.strip_prefix("file://").unwrap_or(&root).to_owned())
        };
        Some(Self {
            client: client
                .with_setting("max_threads", "2")
                .with_setting("cancel_http_readonly_queries_on_client_close", "1"),
            location,
            cube_window_ms: i64::from(cube_window_minutes) * 60_000,
        })
    }

    fn root(&self) -> &str {
        match &self.location {
            Location::Directory(root) | Location::Bucket(root) => root,
        }
    }

    fn access(&self) -> ArchiveAccess {
        match self.location {
            Location::Directory(_) => ArchiveAccess::File,
            Location::Bucket(_) => ArchiveAccess::S3,
        }
    }

    /// Whether `source` sends a read of `action` from `from` to the archive: asked for,
    /// or (auto) the range starts before the cube's window or the cube has nothing.
    pub(crate) async fn chosen(
        &self,
        cube: &Client,
        source: Source,
        action: Action,
        from: EventTime,
    ) -> Result<bool, StoreError> {
        match source {
            Source::Cube => Ok(false),
            Source::Archive => Ok(true),
            Source::Auto => {
                let actions: &'static [Action] = match action {
                    Action::View => &[Action::View],
                    Action::Buy => &[Action::Buy],
                };
                let query = NewestQuery {
                    actions,
                    action: Some(action),
                    before_seconds: u32::MAX,
                    bounded: false,
                };
                Ok(match newest_minute(cube, &query).await? {
                    None => true,
                    Some(minute) => from.millis() < i64::from(minute) * 1000 - self.cube_window_ms,
                })
            }
        }
    }

    /// The days of the range and how far the archive reaches.
    pub(crate) async fn scope(&self, range: &TimeRange) -> Result<ArchiveScope, StoreError> {
        let glob = format!("{}/day=*/partition=*/manifest.jsonl", self.root());
        let partitions = read_model::cube::archive_scope(
            &self.client,
            self.access(),
            &glob,
            range.from(),
            range.to(),
        )
        .await?;
        let mut days: Vec<String> = partitions
            .iter()
            .flat_map(|partition| partition.days.iter().cloned())
            .filter(|day| valid_day(day))
            .collect();
        days.sort();
        days.dedup();
        let archived_through = partitions
            .iter()
            .map(|partition| partition.archived_through_ms)
            .min()
            .map(EventTime::from_millis);
        Ok(ArchiveScope {
            days,
            archived_through,
        })
    }

    fn files(&self, days: &[String]) -> String {
        let days = if days.len() == 1 {
            days[0].clone()
        } else {
            format!("{{{}}}", days.join(","))
        };
        format!("{}/day={days}/partition=*/*.parquet", self.root())
    }

    /// A series from the archive.
    pub(crate) async fn series(
        &self,
        query: &SeriesQuery,
    ) -> Result<(Vec<BucketTotals>, ArchiveScope), StoreError> {
        let scope = self.scope(&query.range).await?;
        if scope.days.is_empty() || query.filters.matches_nothing() {
            return Ok((Vec::new(), scope));
        }
        let files = self.files(&scope.days);
        let totals = read_model::cube::archive_series(
            &self.client,
            self.access(),
            &files,
            &series_read(query),
        )
        .await?;
        Ok((totals, scope))
    }

    /// A top-N from the archive.
    pub(crate) async fn top(
        &self,
        query: &TopQuery,
    ) -> Result<(Vec<RankedValue>, ArchiveScope), StoreError> {
        let scope = self.scope(&query.range).await?;
        if scope.days.is_empty() || query.filters.matches_nothing() {
            return Ok((Vec::new(), scope));
        }
        let files = self.files(&scope.days);
        let values =
            read_model::cube::archive_top(&self.client, self.access(), &files, &top_read(query))
                .await?;
        Ok((values, scope))
    }
}

fn valid_day(day: &str) -> bool {
    day.len() == 10
        && day.bytes().enumerate().all(|(index, byte)| {
            if index == 4 || index == 7 {
                byte == b'-'
            } else {
                byte.is_ascii_digit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(url: &str) -> Option<ArchiveHistory> {
        ArchiveHistory::new(Client::default(), url, "user-tags", 1440)
    }

    #[test]
    fn a_directory_or_a_bucket_and_the_days_glob() {
        assert!(history("  ").is_none());
        let local = history("file:///srv/archive/").expect("configured");
        assert_eq!(
            local.location,
            Location::Directory("/srv/archive/user-tags".into())
        );
        assert_eq!(
            local.files(&["2026-03-01".into(), "2026-03-02".into()]),
            "/srv/archive/user-tags/day={2026-03-01,2026-03-02}/partition=*/*.parquet"
        );
        let bucket = history("https://s3.example/archive").expect("configured");
        assert!(matches!(bucket.location, Location::Bucket(_)));
        assert_eq!(bucket.access(), ArchiveAccess::S3);
        assert_eq!(local.access(), ArchiveAccess::File);
        assert!(valid_day("2026-03-01"));
        assert!(!valid_day("2026-03-01}"));
    }
}
