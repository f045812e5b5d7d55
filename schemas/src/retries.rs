//! A sender's retry is one fact: the rule that recognises it, shared by every reader
//! of the log (the projector skips such a record; the archiver keeps it, marked as a
//! retry, so both agree on which records are tags).
//!
//! A sender that got a 503 may send the same tag again, and both copies may be on the
//! log (the first was stored after all). The profile store collapses them (same cookie,
//! action and event time), but the minute aggregates would count both. So the
//! projector remembers the payloads of recent records, per partition (a cookie's tags
//! all land in one partition), and skips a record whose payload is identical to one at
//! most `window` earlier (record time) and at most `max_records` records earlier in the
//! same partition. The rule depends on the log alone, so a replay or a rebuild skips
//! exactly the same records; at start-up the projector reads the records just before
//! its resume point again to remember them (`service_kit::kafka::read_back`), and so
//! does the archiver.
//!
//! Payloads are compared by a 64-bit hash: write-api encodes a tag deterministically,
//! so identical tags have identical payloads. A tag re-sent with any difference (another
//! price, a string product id instead of a number) is another fact and is counted.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// The recent payloads of every partition.
#[derive(Debug)]
pub struct RecentPayloads {
    window_ms: i64,
    max_records: usize,
    partitions: HashMap<i32, Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// (record time, payload hash), in log order.
    order: VecDeque<(i64, u64)>,
    /// How many entries of `order` have each hash.
    counts: HashMap<u64, u32>,
}

impl RecentPayloads {
    /// Remembers payloads for `window` of record time and at most `max_records` records.
    pub fn new(window: Duration, max_records: u32) -> Self {
        Self {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            max_records: usize::try_from(max_records).unwrap_or(usize::MAX),
            partitions: HashMap::new(),
        }
    }

    /// Remembers the record at `timestamp_ms` of `partition` and says whether it is a
    /// retry: an identical payload is among the remembered ones before it.
    pub fn is_retry(&mut self, partition: i32, timestamp_ms: i64, payload: &[u8]) -> bool {
        let window = self.partitions.entry(partition).or_default();
        let oldest_kept = timestamp_ms.saturating_sub(self.window_ms);
        while let Some(&(time, hash)) = window.order.front() {
            if time >= oldest_kept && window.order.len() <= self.max_records {
                break;
            }
            window.order.pop_front();
            if let Some(count) = window.counts.get_mut(&hash) {
                *count -= 1;
                if *count == 0 {
                    window.counts.remove(&hash);
                }
            }
        }
        let hash = payload_hash(payload);
        let seen = window.counts.contains_key(&hash);
        if self.max_records > 0 {
            window.order.push_back((timestamp_ms, hash));
            *window.counts.entry(hash).or_insert(0) += 1;
        }
        seen
    }

    /// Forgets a partition (it is read again from an earlier point).
    pub fn forget(&mut self, partition: i32) {
        self.partitions.remove(&partition);
    }

    /// How many records before a resume point must be read again to remember them.
    pub fn max_records(&self) -> usize {
        self.max_records
    }

    /// The record-time window.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }
}

fn payload_hash(payload: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    payload.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identical_payload_within_the_window_is_a_retry() {
        let mut recent = RecentPayloads::new(Duration::from_secs(30), 100);
        assert!(!recent.is_retry(0, 1_000, b"tag a"));
        assert!(!recent.is_retry(0, 1_100, b"tag b"));
        assert!(recent.is_retry(0, 1_200, b"tag a"));
        assert!(!recent.is_retry(1, 1_300, b"tag a"), "partitions are apart");
    }

    #[test]
    fn an_identical_payload_after_the_window_is_counted_again() {
        let mut recent = RecentPayloads::new(Duration::from_secs(30), 100);
        assert!(!recent.is_retry(0, 0, b"tag a"));
        assert!(recent.is_retry(0, 30_000, b"tag a"), "30 s later is within");
        assert!(
            !recent.is_retry(0, 61_000, b"tag a"),
            "both earlier copies left the window"
        );
    }

    #[test]
    fn the_record_bound_holds_too() {
        let mut recent = RecentPayloads::new(Duration::from_secs(3600), 2);
        assert!(!recent.is_retry(0, 0, b"a"));
        assert!(!recent.is_retry(0, 1, b"b"));
        assert!(!recent.is_retry(0, 2, b"c"));
        assert!(!recent.is_retry(0, 3, b"a"), "a is three records back");
        assert!(recent.is_retry(0, 4, b"c"));
    }

    #[test]
    fn the_same_sequence_gives_the_same_answers() {
        let sequence: Vec<(i64, &[u8])> = vec![
            (0, b"a"),
            (10, b"b"),
            (20, b"a"),
            (40_000, b"a"),
            (40_010, b"b"),
        ];
        let answers = |recent: &mut RecentPayloads| -> Vec<bool> {
            sequence
                .iter()
                .map(|(time, payload)| recent.is_retry(0, *time, payload))
                .collect()
        };
        let first = answers(&mut RecentPayloads::new(Duration::from_secs(30), 100));
        let second = answers(&mut RecentPayloads::new(Duration::from_secs(30), 100));
        assert_eq!(first, second);
        assert_eq!(first, vec![false, false, true, false, false]);
    }
}
