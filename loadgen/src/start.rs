//! Where a run's event time starts, so that it does not mix with tags the platform
//! already holds: the first whole minute after the newest stored tag (or the fixed
//! [`STREAM_START_MS`] on an empty platform). Reads ClickHouse directly: the API has no
//! question for "your newest tag", and a harness must not depend on one.

use crate::stream::STREAM_START_MS;
use schemas::EventTime;
use service_kit::settings::ClickHouseSettings;

/// The start for a platform whose newest tag is at `newest_ms` (0 when empty).
pub fn start_after(newest_ms: i64) -> EventTime {
    let next_minute = EventTime::from_millis(newest_ms)
        .floor_minute()
        .plus_minutes(1);
    EventTime::from_millis(next_minute.millis().max(STREAM_START_MS))
}

/// The start after the newest tag in `settings`' database.
pub async fn after_newest(
    settings: &ClickHouseSettings,
) -> Result<EventTime, clickhouse::error::Error> {
    let newest =
        read_model::tags::newest_time_ms(&service_kit::clickhouse::client(settings)).await?;
    Ok(start_after(newest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_the_next_whole_minute_and_never_before_the_fixed_start() {
        assert_eq!(start_after(0).millis(), STREAM_START_MS);
        let newest = STREAM_START_MS + 90_500;
        assert_eq!(start_after(newest).millis(), STREAM_START_MS + 120_000);
        assert_eq!(
            start_after(STREAM_START_MS + 120_000).millis(),
            STREAM_START_MS + 180_000
        );
    }
}
