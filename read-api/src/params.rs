//! Query-string parsing: raw `(key, value)` pairs in, typed queries out. Past this
//! module a time range is ordered, an aggregates window is whole minutes and at most
//! ten of them, and every enum is known; each refusal names its parameter.
//!
//! Parameters this service does not know are ignored; a known parameter given twice
//! is refused (except `aggregates`, which is repeatable by contract).

use schemas::event_time::TimeError;
use schemas::{Action, EventTime};
pub use schemas::{Aggregate, Filters};

/// The `limit` of a user profile when the query gives none.
pub const DEFAULT_PROFILE_LIMIT: u64 = 200;

/// The longest aggregates window the contract allows.
pub const MAX_AGGREGATES_MINUTES: i64 = 10;

const MINUTE_MILLIS: i64 = 60_000;

/// A parameter that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct InvalidParameter {
    /// The parameter's name as in the contract (`time_range`, `limit`, ...).
    pub parameter: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidParameter {
    /// A refusal of `parameter`.
    pub fn new(parameter: &'static str, message: impl Into<String>) -> Self {
        Self {
            parameter,
            message: message.into(),
        }
    }
}

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

    /// Parses `<from>_<to>`, each end read by `parse_end`, and checks `from < to`.
    fn parse(
        text: &str,
        parse_end: fn(&str) -> Result<EventTime, TimeError>,
    ) -> Result<Self, InvalidParameter> {
        let invalid = |message: String| InvalidParameter::new("time_range", message);
        let (from, to) = text
            .split_once('_')
            .ok_or_else(|| invalid("expected <from>_<to>".to_owned()))?;
        let from = parse_end(from).map_err(|error| invalid(format!("from: {error}")))?;
        let to = parse_end(to).map_err(|error| invalid(format!("to: {error}")))?;
        Self::new(from, to)
    }
}

/// A parsed `POST /user_profiles/{cookie}` query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileQuery {
    time_range: TimeRange,
    limit: u64,
}

impl ProfileQuery {
    /// Parses `time_range` (millisecond precision) and the optional `limit`.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidParameter> {
        let time_range = required(pairs, "time_range")?;
        let time_range = TimeRange::parse(time_range, EventTime::parse_query)?;
        let limit = match single(pairs, "limit")? {
            None => DEFAULT_PROFILE_LIMIT,
            Some(text) => parse_limit(text)?,
        };
        Ok(Self { time_range, limit })
    }

    /// Tags with event time in this range.
    pub fn time_range(&self) -> TimeRange {
        self.time_range
    }

    /// At most this many tags per action.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

fn parse_limit(text: &str) -> Result<u64, InvalidParameter> {
    let invalid = || InvalidParameter::new("limit", "expected a non-negative integer");
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// A parsed `POST /aggregates` query string: whole minutes, at most
/// [`MAX_AGGREGATES_MINUTES`] of them, within what a ClickHouse `DateTime` holds, and at
/// least one aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatesQuery {
    time_range: TimeRange,
    action: Action,
    aggregates: Vec<Aggregate>,
    filters: Filters,
}

impl AggregatesQuery {
    /// Parses and checks every parameter of an aggregates query.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidParameter> {
        let time_range = required(pairs, "time_range")?;
        let time_range = TimeRange::parse(time_range, EventTime::parse_query)?;
        check_aggregates_window(time_range)?;
        let action = required(pairs, "action")?;
        let action = Action::parse(action)
            .ok_or_else(|| InvalidParameter::new("action", "expected VIEW or BUY"))?;
        let aggregates = pairs
            .iter()
            .filter(|(key, _)| key == "aggregates")
            .map(|(_, value)| {
                Aggregate::parse(value).ok_or_else(|| {
                    InvalidParameter::new("aggregates", "expected COUNT or SUM_PRICE")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if aggregates.is_empty() {
            return Err(InvalidParameter::new(
                "aggregates",
                "at least one is required",
            ));
        }
        let filters = Filters {
            origin: single(pairs, "origin")?.map(str::to_owned),
            brand_id: single(pairs, "brand_id")?.map(str::to_owned),
            category_id: single(pairs, "category_id")?.map(str::to_owned),
        };
        Ok(Self {
            time_range,
            action,
            aggregates,
            filters,
        })
    }

    /// The range, whole minutes.
    pub fn time_range(&self) -> TimeRange {
        self.time_range
    }

    /// The action counted.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The aggregates, in query order, repeats kept.
    pub fn aggregates(&self) -> &[Aggregate] {
        &self.aggregates
    }

    /// The filters.
    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    /// The start of every minute of the range, in order.
    pub fn minutes(&self) -> Vec<EventTime> {
        let TimeRange { from, to } = self.time_range;
        (from.millis()..to.millis())
            .step_by(MINUTE_MILLIS as usize)
            .map(EventTime::from_millis)
            .collect()
    }

    /// The range as epoch seconds, for `minute` (a DateTime) comparisons.
    pub fn epoch_seconds(&self) -> (u32, u32) {
        (
            epoch_seconds(self.time_range.from),
            epoch_seconds(self.time_range.to),
        )
    }
}

/// Whole minutes, at most ten, within what a ClickHouse DateTime can hold.
fn check_aggregates_window(range: TimeRange) -> Result<(), InvalidParameter> {
    let invalid = |message: &str| InvalidParameter::new("time_range", message);
    let (from, to) = (range.from.millis(), range.to.millis());
    if from % MINUTE_MILLIS != 0 || to % MINUTE_MILLIS != 0 {
        return Err(invalid("both ends must be whole minutes"));
    }
    if to - from > MAX_AGGREGATES_MINUTES * MINUTE_MILLIS {
        return Err(invalid("at most 10 minutes long"));
    }
    let representable = |millis: i64| u32::try_from(millis / 1000).is_ok() && millis >= 0;
    if !representable(from) || !representable(to) {
        return Err(invalid("out of the supported years (1970 to 2105)"));
    }
    Ok(())
}

fn epoch_seconds(time: EventTime) -> u32 {
    // Checked by check_aggregates_window.
    u32::try_from(time.millis() / 1000).unwrap_or(u32::MAX)
}

/// The one value of `name`, or a refusal when it is missing or repeated.
fn required<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, InvalidParameter> {
    single(pairs, name)?.ok_or_else(|| InvalidParameter::new(name, "missing"))
}

/// The value of `name` when given once, `None` when absent, a refusal when repeated.
fn single<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, InvalidParameter> {
    let mut values = pairs
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(InvalidParameter::new(name, "given more than once"));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn refused_parameter(result: Result<AggregatesQuery, InvalidParameter>) -> &'static str {
        match result {
            Ok(query) => panic!("accepted: {query:?}"),
            Err(error) => error.parameter,
        }
    }

    #[test]
    fn a_profile_query_defaults_its_limit() {
        let query = ProfileQuery::parse(&pairs(&[(
            "time_range",
            "2026-03-01T12:00:00.000_2026-03-01T12:00:00.001",
        )]))
        .expect("valid");
        assert_eq!(query.limit(), DEFAULT_PROFILE_LIMIT);
        assert_eq!(
            query.time_range().to().millis() - query.time_range().from().millis(),
            1
        );
    }

    #[test]
    fn ranges_come_in_seconds_or_milliseconds() {
        let profile = |range: &str| {
            ProfileQuery::parse(&pairs(&[("time_range", range)])).map(|query| query.time_range())
        };
        assert_eq!(
            profile("2022-03-22T12:15:00_2025-03-22T12:30:00").expect("seconds"),
            profile("2022-03-22T12:15:00.000_2025-03-22T12:30:00.000").expect("millis")
        );
        assert!(profile("2022-03-22T12:15:00_2025-03-22T12:30:00.5").is_err());
        let aggregates = |range: &str| {
            AggregatesQuery::parse(&pairs(&[
                ("time_range", range),
                ("action", "VIEW"),
                ("aggregates", "COUNT"),
            ]))
            .map(|query| query.minutes())
        };
        assert_eq!(
            aggregates("2026-03-01T12:00:00.000_2026-03-01T12:05:00.000").expect("whole minutes"),
            aggregates("2026-03-01T12:00:00_2026-03-01T12:05:00").expect("seconds")
        );
        assert_eq!(
            aggregates("2026-03-01T12:00:00.000_2026-03-01T12:05:00.500")
                .expect_err("not a whole minute")
                .message,
            "both ends must be whole minutes"
        );
    }

    #[test]
    fn a_range_cannot_be_empty_or_reversed() {
        let time = EventTime::from_millis;
        assert!(TimeRange::new(time(1), time(2)).is_ok());
        assert!(TimeRange::new(time(2), time(2)).is_err());
        assert!(TimeRange::new(time(3), time(2)).is_err());
    }

    #[test]
    fn limits_are_plain_non_negative_integers() {
        assert_eq!(parse_limit("0"), Ok(0));
        assert_eq!(parse_limit("250"), Ok(250));
        for bad in ["", "-1", "+1", "1.5", "ten", "99999999999999999999999"] {
            assert_eq!(
                parse_limit(bad).map_err(|error| error.parameter),
                Err("limit")
            );
        }
    }

    #[test]
    fn present_filters_come_in_the_contracts_order() {
        let mut filters = Filters::default();
        assert!(filters.present().is_empty());
        filters.category_id = Some("c".to_owned());
        filters.brand_id = Some(String::new());
        filters.origin = Some("o".to_owned());
        assert_eq!(
            filters.present(),
            vec![("origin", "o"), ("brand_id", ""), ("category_id", "c")]
        );
    }

    #[test]
    fn aggregates_queries_keep_order_and_repeats() {
        let query = AggregatesQuery::parse(&pairs(&[
            ("time_range", "2026-03-01T23:55:00_2026-03-02T00:05:00"),
            ("action", "BUY"),
            ("aggregates", "SUM_PRICE"),
            ("aggregates", "COUNT"),
            ("aggregates", "SUM_PRICE"),
        ]))
        .expect("valid");
        assert_eq!(
            query.aggregates(),
            [Aggregate::SumPrice, Aggregate::Count, Aggregate::SumPrice]
        );
        assert_eq!(query.minutes().len(), 10);
    }

    #[test]
    fn every_refusal_names_its_parameter() {
        let window = "2026-03-01T12:00:00_2026-03-01T12:05:00";
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("action", "VIEW"), ("aggregates", "COUNT")], "time_range"),
            (
                &[
                    ("time_range", "2026-03-01T12:05:00_2026-03-01T12:00:00"),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                "time_range",
            ),
            (
                &[
                    ("time_range", "2026-03-01T12:00:30_2026-03-01T12:05:00"),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                "time_range",
            ),
            (
                &[
                    ("time_range", "2026-03-01T12:00:00_2026-03-01T12:11:00"),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                "time_range",
            ),
            (
                &[
                    ("time_range", window),
                    ("action", "CLICK"),
                    ("aggregates", "COUNT"),
                ],
                "action",
            ),
            (&[("time_range", window), ("aggregates", "COUNT")], "action"),
            (&[("time_range", window), ("action", "VIEW")], "aggregates"),
            (
                &[
                    ("time_range", window),
                    ("action", "VIEW"),
                    ("aggregates", "AVG"),
                ],
                "aggregates",
            ),
            (
                &[
                    ("time_range", window),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                    ("origin", "a"),
                    ("origin", "b"),
                ],
                "origin",
            ),
        ];
        for (query, parameter) in cases {
            assert_eq!(
                refused_parameter(AggregatesQuery::parse(&pairs(query))),
                *parameter,
                "{query:?}"
            );
        }
    }
}
