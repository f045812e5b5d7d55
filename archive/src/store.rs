//! Where the archive lives, and its writes, each atomic: a reader sees a whole file or
//! none.
//!
//! The location is a URL: a directory (`file:///var/lib/allezon/archive`, or a bare
//! path, relative to the working directory) or an S3-compatible bucket
//! (`s3://bucket/prefix`, credentials and endpoint from the usual `AWS_*` variables:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
//! `AWS_ALLOW_HTTP`). Both go through `object_store`, whose `put` is atomic on both: on
//! a directory it writes a staged file (`<name>#<n>`) and renames it into place, on a
//! bucket it is one PUT (a local put is also fsynced, so it survives a power cut). A staged file left by a crash is invisible to listings and to
//! `*.parquet` globs, and [`ArchiveStore::discard_staged`] removes it.

use crate::layout::{self, FileKey, MANIFEST_NAME};
use crate::manifest::{self, ManifestEntry};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::PathBuf;
use std::sync::Arc;

/// Why the archive could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The location is not a directory or a bucket URL this archive understands.
    #[error("archive location {0:?}: expected a directory, file:///path or s3://bucket/prefix")]
    Location(String),
    /// The directory could not be created.
    #[error("archive directory {path}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store refused or could not be reached.
    #[error("archive store")]
    Store(#[from] object_store::Error),
    /// A file could not be written or read.
    #[error("archive file {file}")]
    Format {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: crate::format::FormatError,
    },
}

/// A data file found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its key.
    pub key: FileKey,
    /// Its size.
    pub bytes: u64,
    /// When it was last modified, ms.
    pub modified_ms: i64,
}

/// What a listing found.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Data files, in (partition, first offset) order.
    pub files: Vec<StoredFile>,
    /// Manifests, as (day, partition).
    pub manifests: Vec<(String, i32)>,
    /// Paths under the topic that are neither.
    pub strangers: Vec<String>,
}

/// One topic's archive in one location.
#[derive(Clone)]
pub struct ArchiveStore {
    store: Arc<dyn ObjectStore>,
    topic_root: Path,
    local_topic_dir: Option<PathBuf>,
    location: String,
}

impl std::fmt::Debug for ArchiveStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ArchiveStore")
            .field("location", &self.location)
            .field("topic_root", &self.topic_root)
            .finish()
    }
}

impl ArchiveStore {
    /// The archive of `topic` at `location` (a directory is created if missing).
    pub fn open(location: &str, topic: &str) -> Result<Self, ArchiveError> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(ArchiveError::Location(location.to_owned()));
            }
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?;
            let prefix = prefix.trim_matches('/');
            let topic_root = if prefix.is_empty() {
                Path::from(topic)
            } else {
                layout::join(&Path::from(prefix), topic)
            };
            return Ok(Self {
                store: Arc::new(store),
                topic_root,
                local_topic_dir: None,
                location: location.to_owned(),
            });
        }
        let directory = local_directory(location)?;
        std::fs::create_dir_all(&directory).map_err(|source| ArchiveError::Directory {
            path: directory.clone(),
            source,
        })?;
        // fsync before and after the rename: a file in place survives a power cut too.
        let store = LocalFileSystem::new_with_prefix(&directory)?.with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            topic_root: Path::from(topic),
            local_topic_dir: Some(directory.join(topic)),
            location: location.to_owned(),
        })
    }

    /// The location as configured.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The topic's directory, when the archive is a local directory.
    pub fn local_topic_directory(&self) -> Option<&std::path::Path> {
        self.local_topic_dir.as_deref()
    }

    fn path(&self, relative: &str) -> Path {
        layout::join(&self.topic_root, relative)
    }

    /// Writes a data file (atomically).
    pub async fn put_file(&self, key: &FileKey, bytes: Bytes) -> Result<(), ArchiveError> {
        self.store
            .put(&self.path(&key.relative()), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Writes the manifest of a day and partition (atomically), replacing it.
    pub async fn put_manifest(
        &self,
        day: &str,
        partition: i32,
        entries: &[ManifestEntry],
    ) -> Result<(), ArchiveError> {
        let relative = format!("{}/{MANIFEST_NAME}", layout::directory(day, partition));
        let text = manifest::render(entries);
        self.store
            .put(&self.path(&relative), PutPayload::from(text.into_bytes()))
            .await?;
        Ok(())
    }

    /// The manifest of a day and partition (empty when it has none), and its lines
    /// that do not parse.
    pub async fn manifest(
        &self,
        day: &str,
        partition: i32,
    ) -> Result<(Vec<ManifestEntry>, Vec<String>), ArchiveError> {
        let relative = format!("{}/{MANIFEST_NAME}", layout::directory(day, partition));
        match self.get(&relative).await {
            Ok(bytes) => Ok(manifest::parse(&String::from_utf8_lossy(&bytes))),
            Err(ArchiveError::Store(object_store::Error::NotFound { .. })) => {
                Ok((Vec::new(), Vec::new()))
            }
            Err(error) => Err(error),
        }
    }

    /// A file's bytes, by its path relative to the topic's directory.
    pub async fn get(&self, relative: &str) -> Result<Bytes, ArchiveError> {
        Ok(self.store.get(&self.path(relative)).await?.bytes().await?)
    }

    /// Every record of a data file.
    pub async fn read_file(
        &self,
        key: &FileKey,
    ) -> Result<Vec<crate::record::ArchivedRecord>, ArchiveError> {
        let relative = key.relative();
        let bytes = self.get(&relative).await?;
        tokio::task::spawn_blocking(move || crate::format::decode_file(bytes))
            .await
            .map_err(|_| ArchiveError::Location("decoding task failed".to_owned()))?
            .map_err(|source| ArchiveError::Format {
                file: relative,
                source,
            })
    }

    /// Deletes a file by its path relative to the topic's directory.
    pub async fn delete(&self, relative: &str) -> Result<(), ArchiveError> {
        self.store.delete(&self.path(relative)).await?;
        Ok(())
    }

    /// Every data file and manifest of the topic.
    pub async fn list(&self) -> Result<Listing, ArchiveError> {
        let found: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.topic_root))
            .try_collect()
            .await?;
        let root = format!("{}/", self.topic_root.as_ref());
        let mut listing = Listing::default();
        for meta in found {
            let full = meta.location.as_ref();
            let relative = full.strip_prefix(&root).unwrap_or(full);
            if let Some(key) = FileKey::parse(relative) {
                listing.files.push(StoredFile {
                    key,
                    bytes: meta.size,
                    modified_ms: meta.last_modified.timestamp_millis(),
                });
            } else if let Some(manifest) = layout::parse_manifest(relative) {
                listing.manifests.push(manifest);
            } else {
                listing.strangers.push(relative.to_owned());
            }
        }
        listing
            .files
            .sort_by_key(|file| (file.key.partition, file.key.first, file.key.last));
        listing.manifests.sort();
        Ok(listing)
    }

    /// Removes the staged files a crash left in a local directory (a bucket has none: a
    /// PUT that did not complete left nothing). Returns how many.
    pub fn discard_staged(&self) -> usize {
        let Some(root) = &self.local_topic_dir else {
            return 0;
        };
        let mut discarded = 0;
        let mut directories = vec![root.clone()];
        while let Some(directory) = directories.pop() {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    directories.push(path);
                } else if is_staged(&entry.file_name().to_string_lossy()) {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {
                            tracing::warn!(file = %path.display(), "staged file of an interrupted write discarded");
                            discarded += 1;
                        }
                        Err(error) => {
                            tracing::warn!(file = %path.display(), %error, "staged file not discarded");
                        }
                    }
                }
            }
        }
        discarded
    }
}

/// Whether a file name is one of `object_store`'s staged uploads: `<name>#<digits>`.
fn is_staged(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// The directory a local location names, made absolute.
fn local_directory(location: &str) -> Result<PathBuf, ArchiveError> {
    let path = match location.strip_prefix("file://") {
        Some(path) => path,
        None if location.contains("://") => {
            return Err(ArchiveError::Location(location.to_owned()))
        }
        None => location,
    };
    if path.is_empty() {
        return Err(ArchiveError::Location(location.to_owned()));
    }
    let path = PathBuf::from(path);
    if path.is_absolute() {
        return Ok(path);
    }
    std::env::current_dir()
        .map(|directory| directory.join(&path))
        .map_err(|source| ArchiveError::Directory { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_names_are_recognised() {
        assert!(is_staged("00-01.parquet#1"));
        assert!(is_staged("manifest.jsonl#23"));
        assert!(!is_staged("00-01.parquet"));
        assert!(!is_staged("a#b"));
    }

    #[test]
    fn locations_are_parsed() {
        assert!(local_directory("http://x").is_err());
        assert!(local_directory("file://").is_err());
        assert_eq!(
            local_directory("file:///tmp/a").expect("path"),
            PathBuf::from("/tmp/a")
        );
        assert!(local_directory(".stack/archive")
            .expect("path")
            .is_absolute());
    }
}
