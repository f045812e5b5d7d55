//! ClickHouse's own counts over an event-time range, read directly (not through the
//! API): the distinct tags `user_tags` holds (one per cookie, action and event time,
//! whatever copies merges have not collapsed yet) against the tags `minute_aggregates`
//! counts. Exactly once means the two are equal; more counted than stored is a tag
//! counted twice, fewer is a tag the aggregates miss.

use clickhouse::Client;
use serde::Serialize;

const MINUTE_MILLIS: i64 = 60_000;

/// The counts over one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Distinct tags in `user_tags`.
    pub stored: u64,
    /// `sum(count)` over `minute_aggregates`.
    pub counted: u64,
}

impl Counts {
    /// Tags counted more than once (0 when exact).
    pub fn double_counted(&self) -> u64 {
        self.counted.saturating_sub(self.stored)
    }

    /// Stored tags the aggregates miss (0 when exact).
    pub fn uncounted(&self) -> u64 {
        self.stored.saturating_sub(self.counted)
    }
}

/// `[from_ms, to_ms)` widened to whole minutes (the aggregates' grain).
pub fn whole_minutes(from_ms: i64, to_ms: i64) -> (i64, i64) {
    let from = from_ms.div_euclid(MINUTE_MILLIS) * MINUTE_MILLIS;
    let to = (to_ms + MINUTE_MILLIS - 1).div_euclid(MINUTE_MILLIS) * MINUTE_MILLIS;
    (from, to)
}

/// The counts over `[from_ms, to_ms)`, both whole minutes (see [`whole_minutes`]).
pub async fn counts(
    client: &Client,
    from_ms: i64,
    to_ms: i64,
) -> Result<Counts, clickhouse::error::Error> {
    let stored: u64 = client
        .query(
            "SELECT count() FROM (SELECT DISTINCT cookie, action, time_ms FROM user_tags \
             WHERE time_ms >= ? AND time_ms < ?)",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one()
        .await?;
    let counted: u64 = client
        .query(
            "SELECT toUInt64(sum(count)) FROM minute_aggregates \
             WHERE minute >= toDateTime(?) AND minute < toDateTime(?)",
        )
        .bind(from_ms / 1000)
        .bind(to_ms / 1000)
        .fetch_one()
        .await?;
    Ok(Counts { stored, counted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_widen_to_whole_minutes() {
        assert_eq!(whole_minutes(60_000, 120_000), (60_000, 120_000));
        assert_eq!(whole_minutes(61_000, 121_000), (60_000, 180_000));
        let counts = Counts {
            stored: 10,
            counted: 12,
        };
        assert_eq!((counts.double_counted(), counts.uncounted()), (2, 0));
    }
}
