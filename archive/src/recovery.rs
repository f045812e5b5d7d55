//! The archive's state, from the files themselves.
//!
//! A writer puts a data file (atomically), then rewrites its day's manifest. A crash
//! between the two leaves a file the manifest does not list: the file is the truth, so
//! it is adopted (read, described, added to the manifest). A crash during the put
//! leaves a staged file, which is discarded. What is archived is then exactly what the
//! manifests list, and a writer resumes at the offset after the last file of each
//! partition: nothing lost (everything before it is in a file), nothing doubled (no
//! file is written again).

use crate::manifest::ManifestEntry;
use crate::store::{ArchiveError, ArchiveStore};
use std::collections::{BTreeMap, BTreeSet};

/// Whether recovery may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// The writer's start: discard staged files, write adopted files into manifests.
    Repair,
    /// A reader's view (rebuild, verify): adopt in memory only, write nothing.
    ReadOnly,
}

/// The archive as recovered.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Per partition, every file's entry, in offset order.
    pub partitions: BTreeMap<i32, Vec<ManifestEntry>>,
    /// Files that were not in their manifest (adopted).
    pub adopted: Vec<String>,
    /// Staged files discarded.
    pub discarded: usize,
    /// Manifest entries whose file is missing (left out of `partitions`).
    pub missing: Vec<ManifestEntry>,
    /// Manifest lines that do not parse.
    pub unreadable_lines: Vec<String>,
}

impl Recovered {
    /// The offset after the last archived record of `partition` (`None`: nothing archived).
    pub fn next_offset(&self, partition: i32) -> Option<i64> {
        self.partitions
            .get(&partition)
            .and_then(|entries| entries.last())
            .map(|entry| entry.last_offset + 1)
    }

    /// Every partition's entries, for the day and partition of `key`, as they stand.
    pub fn day_entries(&self, day: &str, partition: i32) -> Vec<ManifestEntry> {
        self.partitions
            .get(&partition)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|entry| entry.key().is_some_and(|key| key.day == day))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Recovers the archive's state (see the module documentation).
pub async fn recover(store: &ArchiveStore, mode: RecoveryMode) -> Result<Recovered, ArchiveError> {
    let mut recovered = Recovered::default();
    if mode == RecoveryMode::Repair {
        recovered.discarded = store.discard_staged();
    }
    let listing = store.list().await?;
    let mut by_directory: BTreeMap<(String, i32), Vec<&crate::store::StoredFile>> = BTreeMap::new();
    for file in &listing.files {
        by_directory
            .entry((file.key.day.clone(), file.key.partition))
            .or_default()
            .push(file);
    }
    let directories: BTreeSet<(String, i32)> = by_directory
        .keys()
        .cloned()
        .chain(listing.manifests.iter().cloned())
        .collect();
    for (day, partition) in directories {
        let (mut entries, unreadable) = store.manifest(&day, partition).await?;
        recovered.unreadable_lines.extend(unreadable);
        let files = by_directory
            .remove(&(day.clone(), partition))
            .unwrap_or_default();
        let listed: BTreeSet<String> = entries.iter().map(|entry| entry.file.clone()).collect();
        let present: BTreeSet<String> = files.iter().map(|file| file.key.relative()).collect();
        let mut adopted_here = false;
        for file in files
            .iter()
            .filter(|file| !listed.contains(&file.key.relative()))
        {
            let records = store.read_file(&file.key).await?;
            entries.push(ManifestEntry::describe(
                &file.key,
                &records,
                file.bytes,
                file.modified_ms,
            ));
            tracing::warn!(file = %file.key.relative(), "archive file missing from its manifest adopted");
            recovered.adopted.push(file.key.relative());
            adopted_here = true;
        }
        entries.sort_by_key(|entry| (entry.first_offset, entry.last_offset));
        if adopted_here && mode == RecoveryMode::Repair {
            store.put_manifest(&day, partition, &entries).await?;
        }
        for entry in entries {
            if present.contains(&entry.file) {
                recovered
                    .partitions
                    .entry(partition)
                    .or_default()
                    .push(entry);
            } else {
                tracing::error!(file = %entry.file, "a file the manifest lists is missing");
                recovered.missing.push(entry);
            }
        }
    }
    for entries in recovered.partitions.values_mut() {
        entries.sort_by_key(|entry| (entry.first_offset, entry.last_offset));
    }
    Ok(recovered)
}
