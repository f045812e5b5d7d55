//! `time_range=<from>_<to>`: a half-open interval `[from, to)` of event time, UTC, each
//! end in seconds (`2026-03-01T12:00:00`) or milliseconds (`2026-03-01T12:00:00.000`).
//! Parsing accepts either precision at either end (clients send both); rendering
//! writes the precision each endpoint states: milliseconds for profiles, seconds for
//! aggregates. Past parsing, `from < to` always holds.

use super::parameter::InvalidParameter;
use crate::EventTime;

/// A half-open interval `[from, to)` of event time; `from < to` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    from: EventTime,
    to: EventTime,
}

impl TimeRange {
    /// `[from, to)`, refused unless `from < to`.
    pub fn new(from: EventTime, to: EventTime) -> Result<Self, InvalidParameter> {
        if from >= to {
            return Err(InvalidParameter::new(
                "time_range",
                "from must be before to",
            ));
        }
        Ok(Self { from, to })
    }

    /// `[from, the end of time)`.
    pub fn since(from: EventTime) -> Self {
        Self {
            from,
            to: EventTime::from_millis(i64::MAX),
        }
    }

    /// First instant included.
    pub fn from(&self) -> EventTime {
        self.from
    }

    /// First instant excluded.
    pub fn to(&self) -> EventTime {
        self.to
    }

    /// Parses a `time_range` value, `<from>_<to>`, each end in seconds or milliseconds.
    pub fn parse(text: &str) -> Result<Self, InvalidParameter> {
        let invalid = |message: String| InvalidParameter::new("time_range", message);
        let (from, to) = text
            .split_once('_')
            .ok_or_else(|| invalid("expected <from>_<to>".to_owned()))?;
        let from =
            EventTime::parse_query(from).map_err(|error| invalid(format!("from: {error}")))?;
        let to = EventTime::parse_query(to).map_err(|error| invalid(format!("to: {error}")))?;
        Self::new(from, to)
    }

    /// The `time_range` value with millisecond ends (profiles):
    /// `2026-03-01T12:00:00.000_2026-03-01T12:00:00.250`.
    pub fn to_millis_parameter(&self) -> String {
        format!(
            "{}_{}",
            self.from.to_query_millis_string(),
            self.to.to_query_millis_string()
        )
    }

    /// The `time_range` value with second ends (aggregates), sub-second parts dropped:
    /// `2026-03-01T12:00:00_2026-03-01T12:05:00`.
    pub fn to_seconds_parameter(&self) -> String {
        format!(
            "{}_{}",
            self.from.to_bucket_string(),
            self.to.to_bucket_string()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn time(millis: i64) -> EventTime {
        EventTime::from_millis(millis)
    }

    /// 0001-01-01 to 9999-12-31: the years a query end can spell.
    const EARLIEST: i64 = -62_135_596_800_000;
    const LATEST: i64 = 253_402_300_799_999;

    #[test]
    fn a_range_cannot_be_empty_or_reversed() {
        assert!(TimeRange::new(time(1), time(2)).is_ok());
        assert!(TimeRange::new(time(2), time(2)).is_err());
        assert!(TimeRange::new(time(3), time(2)).is_err());
        assert_eq!(
            TimeRange::parse("2026-03-01T12:05:00_2026-03-01T12:00:00")
                .map_err(|error| error.to_string()),
            Err("time_range: from must be before to".to_owned())
        );
    }

    #[test]
    fn ends_come_in_seconds_or_milliseconds() {
        let seconds = TimeRange::parse("2022-03-22T12:15:00_2025-03-22T12:30:00").expect("seconds");
        let millis =
            TimeRange::parse("2022-03-22T12:15:00.000_2025-03-22T12:30:00.000").expect("millis");
        assert_eq!(seconds, millis);
        let mixed = TimeRange::parse("2022-03-22T12:15:00_2025-03-22T12:30:00.500").expect("mixed");
        assert_eq!(mixed.to().millis() - millis.to().millis(), 500);
    }

    #[test]
    fn refusals_say_which_end_is_wrong() {
        let refusal = |text: &str| {
            TimeRange::parse(text)
                .map_err(|error| error.to_string())
                .expect_err(text)
        };
        assert_eq!(
            refusal("2026-03-01T12:00:00"),
            "time_range: expected <from>_<to>"
        );
        assert_eq!(
            refusal("2026-03-01T12:00:00.5_2026-03-01T12:01:00"),
            "time_range: from: expected YYYY-MM-DDTHH:MM:SS or YYYY-MM-DDTHH:MM:SS.mmm (UTC)"
        );
        assert_eq!(
            refusal("2026-03-01T12:00:00_2026-03-01T12:01:00Z"),
            "time_range: to: expected YYYY-MM-DDTHH:MM:SS or YYYY-MM-DDTHH:MM:SS.mmm (UTC)"
        );
    }

    #[test]
    fn renders_in_each_endpoints_precision() {
        let range =
            TimeRange::new(time(1_772_323_200_000), time(1_772_323_200_250)).expect("ordered");
        assert_eq!(
            range.to_millis_parameter(),
            "2026-03-01T00:00:00.000_2026-03-01T00:00:00.250"
        );
        assert_eq!(
            range.to_seconds_parameter(),
            "2026-03-01T00:00:00_2026-03-01T00:00:00"
        );
    }

    proptest! {
        #[test]
        fn millisecond_ranges_parse_back_from_their_rendering(
            from in EARLIEST..LATEST,
            length in 1i64..=86_400_000,
        ) {
            let to = (from + length).min(LATEST);
            prop_assume!(from < to);
            let range = TimeRange::new(time(from), time(to)).expect("ordered");
            prop_assert_eq!(TimeRange::parse(&range.to_millis_parameter()), Ok(range));
        }

        #[test]
        fn second_ranges_parse_back_from_their_rendering(
            from in (EARLIEST / 1000)..(LATEST / 1000),
            seconds in 1i64..=600,
        ) {
            let to = (from + seconds).min(LATEST / 1000);
            prop_assume!(from < to);
            let range = TimeRange::new(time(from * 1000), time(to * 1000)).expect("ordered");
            let rendered = range.to_seconds_parameter();
            prop_assert_eq!(TimeRange::parse(&rendered), Ok(range));
            prop_assert_eq!(TimeRange::parse(&range.to_millis_parameter()), Ok(range));
            prop_assert_eq!(rendered.len(), "YYYY-MM-DDTHH:MM:SS_YYYY-MM-DDTHH:MM:SS".len());
        }
    }
}
