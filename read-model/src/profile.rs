//! A shopper's profile as read back from `user_tags`, and how copies are dropped.
//!
//! `user_tags` is a ReplacingMergeTree: copies of one tag (the same cookie, action and
//! event time, written again by a replay) collapse when parts merge, not at once. A
//! read therefore takes a margin of rows beyond the limit and drops copies itself
//! ([`newest_distinct`]); the row kept is the one from the latest log offset, as the
//! merge would keep it.

use crate::codes::action_code;
use crate::rows::{ProfileRow, RowError};
use schemas::{Action, UserTag};

/// Rows read beyond the limit for each action, room for copies of replayed tags.
pub const DUPLICATE_MARGIN: u64 = 64;

/// A shopper's tags in a time range, newest first, at most the asked limit of each action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Views, newest first.
    pub views: Vec<UserTag>,
    /// Buys, newest first.
    pub buys: Vec<UserTag>,
}

impl Profile {
    /// `cookie`'s profile from each action's rows (already newest first, one per event
    /// time).
    pub fn from_rows(
        cookie: &str,
        views: &[ProfileRow],
        buys: &[ProfileRow],
    ) -> Result<Self, RowError> {
        let tags = |rows: &[ProfileRow]| -> Result<Vec<UserTag>, RowError> {
            rows.iter().map(|row| row.to_tag(cookie)).collect()
        };
        Ok(Self {
            views: tags(views)?,
            buys: tags(buys)?,
        })
    }
}

/// Splits rows of both actions into (views, buys), keeping their order.
pub fn split_by_action(rows: Vec<ProfileRow>) -> (Vec<ProfileRow>, Vec<ProfileRow>) {
    let view = action_code(Action::View);
    rows.into_iter().partition(|row| row.action == view)
}

/// The newest `limit` rows of `rows` (one action's rows), one per event time, newest
/// first; of copies of one tag, the one from the latest log offset. `None` when the
/// read was cut (`complete` false) short of `limit` distinct times, so older tags may
/// be missing and the caller must read more.
pub fn newest_distinct(
    mut rows: Vec<ProfileRow>,
    limit: u64,
    complete: bool,
) -> Option<Vec<ProfileRow>> {
    rows.sort_by(|a, b| {
        b.time_ms
            .cmp(&a.time_ms)
            .then(b.kafka_offset.cmp(&a.kafka_offset))
    });
    rows.dedup_by_key(|row| row.time_ms);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() >= limit {
        rows.truncate(limit);
        Some(rows)
    } else if complete {
        Some(rows)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_ms: i64, offset: i64) -> ProfileRow {
        ProfileRow {
            action: 1,
            time_ms,
            time_text: String::new(),
            country: "PL".into(),
            device: 1,
            origin: "o".into(),
            product_id: "1".into(),
            product_id_is_text: 0,
            brand_id: "b".into(),
            category_id: "k".into(),
            price: 1,
            kafka_offset: offset,
        }
    }

    fn times(rows: Option<Vec<ProfileRow>>) -> Option<Vec<i64>> {
        rows.map(|rows| rows.iter().map(|row| row.time_ms).collect())
    }

    #[test]
    fn copies_are_dropped_and_the_newest_kept_in_order() {
        let rows = vec![row(3, 1), row(9, 2), row(5, 3), row(9, 4), row(7, 5)];
        assert_eq!(
            times(newest_distinct(rows.clone(), 3, true)),
            Some(vec![9, 7, 5])
        );
        assert_eq!(
            times(newest_distinct(rows, 10, true)),
            Some(vec![9, 7, 5, 3])
        );
    }

    #[test]
    fn of_copies_the_one_from_the_latest_offset_is_kept() {
        let mut older = row(9, 1);
        older.price = 10;
        let mut newer = row(9, 8);
        newer.price = 20;
        let kept = newest_distinct(vec![older, newer], 1, true).expect("complete");
        assert_eq!(kept[0].price, 20);
    }

    #[test]
    fn a_cut_read_with_enough_distinct_rows_is_exact() {
        let rows = vec![row(9, 1), row(9, 2), row(8, 3), row(8, 4), row(7, 5)];
        assert_eq!(times(newest_distinct(rows, 2, false)), Some(vec![9, 8]));
    }

    #[test]
    fn a_cut_read_short_of_distinct_rows_asks_for_more() {
        let rows = vec![row(9, 1), row(9, 2), row(9, 3), row(8, 4)];
        assert_eq!(times(newest_distinct(rows, 3, false)), None);
    }

    #[test]
    fn a_zero_limit_gives_nothing() {
        assert_eq!(
            times(newest_distinct(vec![row(1, 1)], 0, true)),
            Some(vec![])
        );
    }
}
