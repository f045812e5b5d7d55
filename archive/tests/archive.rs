//! The archive's files, manifests, recovery and verification on a real directory: what
//! a crash can leave (a file its manifest does not list, a staged file) is repaired,
//! and every way of losing or doubling a record is caught by `verify`.

use archive::{
    encode_file, recover, verify, ArchiveStore, ArchivedRecord, FileKey, ManifestEntry, Problem,
    RecordKind, RecoveryMode,
};
use read_model::{LogPosition, UserTagRow};
use schemas::UserTag;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn directory(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("archive_{name}_{}_{nanos}", std::process::id()))
}

fn record(partition: i32, offset: i64) -> ArchivedRecord {
    let body = serde_json::json!({
        "time": schemas::EventTime::from_millis(1_772_366_400_000 + offset).to_instant_string(),
        "cookie": format!("cookie{}", offset % 7), "country": "PL", "device": "PC",
        "action": "VIEW", "origin": "o", "product_info": {"product_id": offset, "brand_id": "b", "category_id": "c", "price": 5}
    });
    let tag = UserTag::from_json(body.to_string().as_bytes()).expect("valid tag");
    ArchivedRecord {
        record_time_ms: 1_772_366_400_000 + offset,
        kind: RecordKind::Tag,
        row: UserTagRow::from_tag(&tag, LogPosition { partition, offset }),
        payload: None,
    }
}

/// Writes the file of `first..=last` of `partition` and returns its manifest entry.
async fn write(store: &ArchiveStore, partition: i32, first: i64, last: i64) -> ManifestEntry {
    let records: Vec<ArchivedRecord> = (first..=last)
        .map(|offset| record(partition, offset))
        .collect();
    let key = FileKey {
        day: "2026-03-01".into(),
        partition,
        first,
        last,
    };
    let bytes = encode_file(&records, &[]).expect("encodes");
    let size = bytes.len() as u64;
    store.put_file(&key, bytes).await.expect("file written");
    ManifestEntry::describe(&key, &records, size, 0)
}

#[tokio::test]
async fn a_file_its_manifest_misses_is_adopted_and_a_staged_file_discarded() {
    let root = directory("adopt");
    let store = ArchiveStore::open(root.to_str().expect("utf-8"), "tags").expect("opens");
    let first = write(&store, 0, 0, 9).await;
    let second = write(&store, 0, 10, 19).await;
    // The crash: the second file is in place, its manifest line never written, and a
    // third file was being staged.
    store
        .put_manifest("2026-03-01", 0, std::slice::from_ref(&first))
        .await
        .expect("manifest");
    let staged = root.join(
        "tags/day=2026-03-01/partition=0/00000000000000000020-00000000000000000029.parquet#1",
    );
    std::fs::write(&staged, b"half a file").expect("staged file");

    let before = verify(&store, &BTreeMap::new()).await.expect("verifies");
    assert_eq!(
        before.problems,
        vec![Problem::Unlisted {
            file: second.file.clone()
        }]
    );
    let recovered = recover(&store, RecoveryMode::Repair)
        .await
        .expect("recovers");
    assert_eq!(recovered.adopted, vec![second.file.clone()]);
    assert_eq!(recovered.discarded, 1);
    assert!(!staged.exists());
    assert_eq!(recovered.next_offset(0), Some(20));
    let (listed, _) = store.manifest("2026-03-01", 0).await.expect("manifest");
    assert_eq!(
        listed
            .iter()
            .map(|entry| entry.file.clone())
            .collect::<Vec<_>>(),
        vec![first.file, second.file]
    );
    let after = verify(&store, &BTreeMap::from([(0, 20)]))
        .await
        .expect("verifies");
    assert!(after.passed(), "{:?}", after.problems);
    assert_eq!(after.partitions[0].records, 20);
    assert_eq!(after.partitions[0].first_offset, Some(0));
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn verify_catches_a_hole_an_overlap_a_missing_file_bad_rows_and_an_unreached_commit() {
    let root = directory("verify");
    let store = ArchiveStore::open(root.to_str().expect("utf-8"), "tags").expect("opens");
    let mut entries = Vec::new();
    for (first, last) in [(0, 9), (10, 19), (20, 29)] {
        entries.push(write(&store, 1, first, last).await);
    }
    store
        .put_manifest("2026-03-01", 1, &entries)
        .await
        .expect("manifest");
    let clean = verify(&store, &BTreeMap::from([(1, 30)]))
        .await
        .expect("verifies");
    assert!(clean.passed(), "{:?}", clean.problems);

    // The committed offset beyond the archive's end.
    let ahead = verify(&store, &BTreeMap::from([(1, 31)]))
        .await
        .expect("verifies");
    assert_eq!(
        ahead.problems,
        vec![Problem::BehindCommitted {
            partition: 1,
            next: Some(30),
            committed: 31
        }]
    );

    // A file deleted: a missing file and a hole.
    store.delete(&entries[1].file).await.expect("deleted");
    let holed = verify(&store, &BTreeMap::new()).await.expect("verifies");
    assert!(holed.problems.contains(&Problem::MissingFile {
        file: entries[1].file.clone()
    }));
    assert!(holed.problems.contains(&Problem::Gap {
        partition: 1,
        from: 10,
        to: 20
    }));

    // A file covering records another file has: an overlap.
    entries[1] = write(&store, 1, 5, 19).await;
    store
        .put_manifest("2026-03-01", 1, &entries)
        .await
        .expect("manifest");
    let doubled = verify(&store, &BTreeMap::new()).await.expect("verifies");
    assert!(
        doubled
            .problems
            .iter()
            .any(|problem| matches!(problem, Problem::Overlap { .. })),
        "{:?}",
        doubled.problems
    );

    // A file whose rows are not its name's range.
    let key = FileKey {
        day: "2026-03-01".into(),
        partition: 1,
        first: 30,
        last: 39,
    };
    let short: Vec<ArchivedRecord> = (30..39).map(|offset| record(1, offset)).collect();
    store
        .put_file(&key, encode_file(&short, &[]).expect("encodes"))
        .await
        .expect("written");
    let mut entry = ManifestEntry::describe(&key, &short, 1, 0);
    entry.records = 10;
    entries.push(entry);
    store
        .put_manifest("2026-03-01", 1, &entries)
        .await
        .expect("manifest");
    let bad = verify(&store, &BTreeMap::new()).await.expect("verifies");
    assert!(
        bad.problems.iter().any(
            |problem| matches!(problem, Problem::Rows { file, .. } if file == &key.relative())
        ),
        "{:?}",
        bad.problems
    );
    let _ = std::fs::remove_dir_all(root);
}
