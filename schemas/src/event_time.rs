//! Time formats fixed by the API contract.
//!
//! - Tag `time`: an instant as Java's `Instant.toString()` writes it, always with a
//!   `Z` suffix, with the fraction omitted when the milliseconds are zero.
//! - Query ranges: `YYYY-MM-DDTHH:MM:SS[.mmm]`, UTC, no suffix.
//! - Aggregate buckets: `YYYY-MM-DDTHH:MM:SS`, UTC, no suffix.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use std::fmt;

/// An event time in milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventTime(i64);

/// Why a time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not an ISO-8601 instant with a `Z` suffix.
    #[error("expected an ISO-8601 UTC instant such as 2026-03-01T12:00:00.123Z")]
    NotAnInstant,
    /// A fraction finer than milliseconds that is not zero.
    #[error("precision finer than milliseconds is not supported")]
    SubMillisecond,
    /// Not `YYYY-MM-DDTHH:MM:SS` with the fraction the endpoint asks for.
    #[error("expected {0}")]
    BadQueryTime(&'static str),
}

impl EventTime {
    /// The earliest time the read models can hold: 1970-01-01T00:00:00Z.
    pub const MIN_STORABLE: Self = Self(0);
    /// The latest time the read models can hold, 2106-02-07T06:28:15.999Z: the minute
    /// aggregates keep ClickHouse `DateTime`s, 32-bit seconds since 1970.
    pub const MAX_STORABLE: Self = Self(u32::MAX as i64 * 1000 + 999);

    /// Whether the read models can hold this time (see [`Self::MIN_STORABLE`] and
    /// [`Self::MAX_STORABLE`]); a tag at any other time is refused.
    pub const fn is_storable(self) -> bool {
        self.0 >= Self::MIN_STORABLE.0 && self.0 <= Self::MAX_STORABLE.0
    }

    /// Wraps milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses a tag's `time`: an instant with a `Z` suffix, fraction optional.
    pub fn parse_instant(text: &str) -> Result<Self, TimeError> {
        if !text.ends_with('Z') {
            return Err(TimeError::NotAnInstant);
        }
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| TimeError::NotAnInstant)?;
        if parsed.nanosecond() % 1_000_000 != 0 {
            return Err(TimeError::SubMillisecond);
        }
        Ok(Self(parsed.timestamp_millis()))
    }

    /// Parses a query range end with milliseconds: `2026-03-01T12:00:00.000`.
    pub fn parse_query_millis(text: &str) -> Result<Self, TimeError> {
        const EXPECTED: &str = "YYYY-MM-DDTHH:MM:SS.mmm";
        if text.len() != EXPECTED.len() {
            return Err(TimeError::BadQueryTime(EXPECTED));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f")
            .map(|naive| Self(naive.and_utc().timestamp_millis()))
            .map_err(|_| TimeError::BadQueryTime(EXPECTED))
    }

    /// Parses a query range end with seconds: `2026-03-01T12:00:00`.
    pub fn parse_query_seconds(text: &str) -> Result<Self, TimeError> {
        const EXPECTED: &str = "YYYY-MM-DDTHH:MM:SS";
        if text.len() != EXPECTED.len() {
            return Err(TimeError::BadQueryTime(EXPECTED));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .map(|naive| Self(naive.and_utc().timestamp_millis()))
            .map_err(|_| TimeError::BadQueryTime(EXPECTED))
    }

    /// Parses a query range end in either precision clients send: seconds
    /// (`2026-03-01T12:00:00`) or milliseconds (`2026-03-01T12:00:00.000`).
    pub fn parse_query(text: &str) -> Result<Self, TimeError> {
        Self::parse_query_millis(text)
            .or_else(|_| Self::parse_query_seconds(text))
            .map_err(|_| {
                TimeError::BadQueryTime("YYYY-MM-DDTHH:MM:SS or YYYY-MM-DDTHH:MM:SS.mmm (UTC)")
            })
    }

    fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// Formats as Java's `Instant.toString()`: `2026-03-01T12:00:00.123Z`, or
    /// `2026-03-01T12:00:02Z` when the milliseconds are zero.
    pub fn to_instant_string(self) -> String {
        let datetime = self.to_datetime();
        if self.0.rem_euclid(1000) == 0 {
            datetime.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            datetime.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    }

    /// Formats as a query range end with milliseconds: `2026-03-01T12:05:00.123`.
    pub fn to_query_millis_string(self) -> String {
        self.to_datetime()
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string()
    }

    /// Formats as an aggregate bucket, which is also a query range end with seconds:
    /// `2026-03-01T12:05:00`.
    pub fn to_bucket_string(self) -> String {
        self.to_datetime().format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_instant_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_in_java_form() {
        for text in [
            "2026-03-01T12:00:00.123Z",
            "2026-03-01T12:00:02Z",
            "2026-03-01T12:00:00.100Z",
        ] {
            let time = EventTime::parse_instant(text).expect("valid instant");
            assert_eq!(time.to_instant_string(), text);
        }
        let zero_fraction = EventTime::parse_instant("2026-03-01T12:00:02.000Z").expect("valid");
        assert_eq!(zero_fraction.to_instant_string(), "2026-03-01T12:00:02Z");
    }

    #[test]
    fn instants_without_z_or_finer_than_millis_are_refused() {
        assert_eq!(
            EventTime::parse_instant("2026-03-01T12:00:00.123"),
            Err(TimeError::NotAnInstant)
        );
        assert_eq!(
            EventTime::parse_instant("2026-03-01T12:00:00+01:00"),
            Err(TimeError::NotAnInstant)
        );
        assert_eq!(
            EventTime::parse_instant("yesterday"),
            Err(TimeError::NotAnInstant)
        );
        assert_eq!(
            EventTime::parse_instant("2026-03-01T12:00:00.1234Z"),
            Err(TimeError::SubMillisecond)
        );
        assert!(EventTime::parse_instant("2026-03-01T12:00:00.123000Z").is_ok());
    }

    #[test]
    fn a_query_end_in_seconds_or_milliseconds_is_one_instant() {
        let seconds = EventTime::parse_query("2026-03-01T12:00:00").expect("seconds");
        let millis = EventTime::parse_query("2026-03-01T12:00:00.000").expect("millis");
        assert_eq!(seconds, millis);
        assert_eq!(
            EventTime::parse_query("2026-03-01T12:00:00.250")
                .expect("millis")
                .millis()
                - seconds.millis(),
            250
        );
        for bad in [
            "2026-03-01T12:00:00.25",
            "2026-03-01T12:00",
            "2026-03-01T12:00:00Z",
            "x",
        ] {
            let error = EventTime::parse_query(bad).expect_err(bad);
            assert!(
                error.to_string().contains("YYYY-MM-DDTHH:MM:SS or"),
                "{error}"
            );
        }
    }

    #[test]
    fn query_times_need_their_exact_precision() {
        let millis = EventTime::parse_query_millis("2026-03-01T12:00:00.250").expect("valid");
        assert_eq!(millis.millis() % 1000, 250);
        assert!(EventTime::parse_query_millis("2026-03-01T12:00:00").is_err());
        assert!(EventTime::parse_query_millis("2026-03-01T12:00:00.250Z").is_err());
        let seconds = EventTime::parse_query_seconds("2026-03-01T12:05:00").expect("valid");
        assert_eq!(seconds.to_bucket_string(), "2026-03-01T12:05:00");
        assert!(EventTime::parse_query_seconds("2026-03-01T12:05:00.000").is_err());
        assert!(EventTime::parse_query_seconds("2026-02-30T12:05:00").is_err());
    }

    #[test]
    fn storable_times_are_the_years_a_clickhouse_datetime_holds() {
        let storable = |text| EventTime::parse_instant(text).expect("valid").is_storable();
        assert!(storable("1970-01-01T00:00:00Z"));
        assert!(storable("2106-02-07T06:28:15.999Z"));
        assert!(!storable("1969-12-31T23:59:59.999Z"));
        assert!(!storable("2106-02-07T06:28:16Z"));
        assert!(!storable("0001-01-01T00:00:00Z"));
        assert!(!storable("9999-12-31T23:59:59.999Z"));
    }

    #[test]
    fn query_millis_strings_parse_back() {
        for text in ["2026-03-01T12:00:00.250", "2026-03-01T12:00:00.000"] {
            let time = EventTime::parse_query_millis(text).expect("valid");
            assert_eq!(time.to_query_millis_string(), text);
        }
    }
}
