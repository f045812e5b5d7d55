//! Counted once or not, per range of event time: what `minute_aggregates` counts there,
//! read from ClickHouse directly (not through the API), against what the harness knows
//! was sent there: tags answered 204 (each must be counted) and tags that failed (each
//! may or may not be stored, as the contract allows). More counted than both together
//! is a tag counted twice; fewer than the 204s is a tag lost.
//!
//! `user_tags` is no reference for this: the projector trims it to the newest 200 tags
//! per cookie and action (older than five minutes of event time), so a long run holds
//! fewer tags there than it sent. Its contents are checked through the profiles the
//! harness asks, live and in its final round.

use clickhouse::Client;
use schemas::EventTime;
use serde::Serialize;

/// The counts over one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Tags answered 204 (the final round's per-minute totals of the harness).
    pub accepted: u64,
    /// Tags sent and not answered 204: each may be counted or not.
    pub uncertain: u64,
    /// `sum(count)` over `minute_aggregates`.
    pub counted: u64,
}

impl Counts {
    /// Tags counted more than once: counted beyond every tag that may be there (0 when
    /// none; a double count hidden within the uncertain tags cannot be told).
    pub fn double_counted(&self) -> u64 {
        self.counted
            .saturating_sub(self.accepted.saturating_add(self.uncertain))
    }

    /// Tags answered 204 that are not counted (0 when none).
    pub fn uncounted(&self) -> u64 {
        self.accepted.saturating_sub(self.counted)
    }
}

/// `[from_ms, to_ms)` widened to whole minutes (the aggregates' grain).
pub fn whole_minutes(from_ms: i64, to_ms: i64) -> (i64, i64) {
    (
        EventTime::from_millis(from_ms).floor_minute().millis(),
        EventTime::from_millis(to_ms).ceil_minute().millis(),
    )
}

/// What `minute_aggregates` counts over `[from_ms, to_ms)`, both whole minutes (see
/// [`whole_minutes`]): the cube keeps one row per minute and combination of all five
/// dimensions, so each tag is in exactly one row.
pub async fn counted(
    client: &Client,
    from_ms: i64,
    to_ms: i64,
) -> Result<u64, clickhouse::error::Error> {
    read_model::cube::tags_counted_between(client, from_ms / 1000, to_ms / 1000).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_widen_to_whole_minutes() {
        assert_eq!(whole_minutes(60_000, 120_000), (60_000, 120_000));
        assert_eq!(whole_minutes(61_000, 121_000), (60_000, 180_000));
        let counts = Counts {
            accepted: 10,
            uncertain: 1,
            counted: 12,
        };
        assert_eq!((counts.double_counted(), counts.uncounted()), (1, 0));
        let counts = Counts {
            accepted: 10,
            uncertain: 1,
            counted: 9,
        };
        assert_eq!((counts.double_counted(), counts.uncounted()), (0, 1));
    }
}
