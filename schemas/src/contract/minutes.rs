//! Minute arithmetic on [`EventTime`]: aggregates are counted per minute of event time,
//! and their ranges are whole minutes. Times before 1970 are negative milliseconds and
//! round like the others (a minute starts at a multiple of [`MINUTE_MILLIS`], towards
//! minus infinity); results past the ends of `i64` saturate.

use crate::EventTime;

/// One minute, in milliseconds: the only definition in the workspace.
pub const MINUTE_MILLIS: i64 = 60_000;

impl EventTime {
    /// The start of the minute holding this time.
    pub const fn floor_minute(self) -> Self {
        Self::from_millis(
            self.millis()
                .saturating_sub(self.millis().rem_euclid(MINUTE_MILLIS)),
        )
    }

    /// The first minute start at or after this time.
    pub const fn ceil_minute(self) -> Self {
        let floor = self.floor_minute();
        if floor.millis() == self.millis() {
            floor
        } else {
            Self::from_millis(floor.millis().saturating_add(MINUTE_MILLIS))
        }
    }

    /// Whether this time starts a minute.
    pub const fn is_whole_minute(self) -> bool {
        self.millis().rem_euclid(MINUTE_MILLIS) == 0
    }

    /// This time moved by `minutes` (negative moves back).
    pub const fn plus_minutes(self, minutes: i64) -> Self {
        Self::from_millis(
            self.millis()
                .saturating_add(minutes.saturating_mul(MINUTE_MILLIS)),
        )
    }

    /// Whole minutes from `earlier` to this time, rounded down (negative when `earlier`
    /// is later).
    pub const fn minutes_since(self, earlier: Self) -> i64 {
        self.millis()
            .saturating_sub(earlier.millis())
            .div_euclid(MINUTE_MILLIS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(millis: i64) -> EventTime {
        EventTime::from_millis(millis)
    }

    #[test]
    fn minute_boundaries_are_their_own_floor_and_ceiling() {
        for millis in [0, MINUTE_MILLIS, -MINUTE_MILLIS, 1_772_323_200_000] {
            assert_eq!(time(millis).floor_minute(), time(millis));
            assert_eq!(time(millis).ceil_minute(), time(millis));
            assert!(time(millis).is_whole_minute());
        }
    }

    #[test]
    fn times_inside_a_minute_round_to_its_ends() {
        for start in [0, 1_772_323_200_000, -3 * MINUTE_MILLIS] {
            for offset in [1, 30_000, MINUTE_MILLIS - 1] {
                let inside = time(start + offset);
                assert_eq!(inside.floor_minute(), time(start));
                assert_eq!(inside.ceil_minute(), time(start + MINUTE_MILLIS));
                assert!(!inside.is_whole_minute());
            }
        }
    }

    #[test]
    fn times_before_1970_round_towards_minus_infinity() {
        assert_eq!(time(-1).floor_minute(), time(-MINUTE_MILLIS));
        assert_eq!(time(-1).ceil_minute(), time(0));
        assert_eq!(
            time(-MINUTE_MILLIS - 1).floor_minute(),
            time(-2 * MINUTE_MILLIS)
        );
        assert_eq!(time(-1).minutes_since(time(0)), -1);
    }

    #[test]
    fn minutes_move_and_count() {
        let start = time(1_772_323_200_000);
        assert_eq!(start.plus_minutes(10).minutes_since(start), 10);
        assert_eq!(
            start.plus_minutes(-2),
            time(start.millis() - 2 * MINUTE_MILLIS)
        );
        assert_eq!(
            time(start.millis() + MINUTE_MILLIS - 1).minutes_since(start),
            0
        );
        assert_eq!(time(start.millis() + MINUTE_MILLIS).minutes_since(start), 1);
    }

    #[test]
    fn the_ends_of_time_saturate() {
        assert_eq!(time(i64::MAX).ceil_minute(), time(i64::MAX));
        assert_eq!(time(i64::MAX).plus_minutes(1), time(i64::MAX));
        assert_eq!(time(i64::MIN).plus_minutes(-1), time(i64::MIN));
        assert_eq!(time(i64::MIN).floor_minute(), time(i64::MIN));
    }
}
