//! `POST /aggregates?time_range=..&action=..&aggregates=..[&origin=..]...`: per-minute
//! count and price sum of one action. Its vocabulary (which aggregates may be asked
//! for, their query-string values and answer columns, the optional filters in the
//! contract's fixed column order), the query as read from a request and written into a
//! URL, and the answer `{"columns", "rows"}` as sent and as parsed.
//!
//! Past parsing, a query's range is whole minutes, at most [`MAX_AGGREGATES_MINUTES`]
//! of them, within what a ClickHouse `DateTime` holds, and it asks for at least one
//! aggregate.

use super::minutes::MINUTE_MILLIS;
use super::parameter::{required, single, InvalidParameter};
use super::time_range::TimeRange;
use crate::tag::{Action, UserTag};
use crate::EventTime;
use serde::{Deserialize, Serialize};
use url::Url;

/// The longest aggregates window the contract allows, in minutes.
pub const MAX_AGGREGATES_MINUTES: i64 = 10;

/// An aggregate the caller asks for, in the order asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT`: the number of matching tags, column `count`.
    Count,
    /// `SUM_PRICE`: the sum of their prices (64 bits), column `sum_price`.
    SumPrice,
}

impl Aggregate {
    /// The aggregate a query-string value names (`COUNT`, `SUM_PRICE`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "COUNT" => Some(Self::Count),
            "SUM_PRICE" => Some(Self::SumPrice),
            _ => None,
        }
    }

    /// The query-string value.
    pub const fn parameter(self) -> &'static str {
        match self {
            Self::Count => "COUNT",
            Self::SumPrice => "SUM_PRICE",
        }
    }

    /// The answer's column name.
    pub const fn column(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::SumPrice => "sum_price",
        }
    }
}

/// The optional filters of an aggregates query. A filter given with an empty value
/// (`origin=`) is present and matches tags whose field is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `origin`: the campaign.
    pub origin: Option<String>,
    /// `brand_id`: the brand.
    pub brand_id: Option<String>,
    /// `category_id`: the category.
    pub category_id: Option<String>,
}

impl Filters {
    /// The present filters as `(column name, value)`, in the contract's fixed order.
    pub fn present(&self) -> Vec<(&'static str, &str)> {
        [
            ("origin", &self.origin),
            ("brand_id", &self.brand_id),
            ("category_id", &self.category_id),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }

    /// Whether `tag` passes every present filter.
    pub fn admit(&self, tag: &UserTag) -> bool {
        let matches = |filter: &Option<String>, value: &str| {
            filter.as_deref().is_none_or(|wanted| wanted == value)
        };
        matches(&self.origin, &tag.origin)
            && matches(&self.brand_id, &tag.product_info.brand_id)
            && matches(&self.category_id, &tag.product_info.category_id)
    }
}

/// An aggregates query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatesQuery {
    time_range: TimeRange,
    action: Action,
    aggregates: Vec<Aggregate>,
    filters: Filters,
}

impl AggregatesQuery {
    /// A query, refused unless its range is an aggregates window (see the module doc)
    /// and it asks for at least one aggregate.
    pub fn new(
        time_range: TimeRange,
        action: Action,
        aggregates: Vec<Aggregate>,
        filters: Filters,
    ) -> Result<Self, InvalidParameter> {
        check_window(time_range)?;
        if aggregates.is_empty() {
            return Err(InvalidParameter::new(
                "aggregates",
                "at least one is required",
            ));
        }
        Ok(Self {
            time_range,
            action,
            aggregates,
            filters,
        })
    }

    /// Reads and checks every parameter of an aggregates query, in the order
    /// `time_range`, `action`, `aggregates`, the filters: the first fault is the one
    /// named.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidParameter> {
        let time_range = TimeRange::parse(required(pairs, "time_range")?)?;
        check_window(time_range)?;
        let action = Action::parse(required(pairs, "action")?)
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
        Self::new(time_range, action, aggregates, filters)
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
        let (from, to) = (self.time_range.from(), self.time_range.to());
        (0..to.minutes_since(from))
            .map(|minute| from.plus_minutes(minute))
            .collect()
    }

    /// The range as epoch seconds, for comparisons with ClickHouse `DateTime`s.
    pub fn epoch_seconds(&self) -> (u32, u32) {
        (
            epoch_seconds(self.time_range.from()),
            epoch_seconds(self.time_range.to()),
        )
    }

    /// The request URL under `base` (built with `url`'s encoders, never by pasting).
    pub fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("aggregates");
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("time_range", &self.time_range.to_seconds_parameter());
            pairs.append_pair("action", self.action.as_str());
            for aggregate in &self.aggregates {
                pairs.append_pair("aggregates", aggregate.parameter());
            }
            for (name, value) in self.filters.present() {
                pairs.append_pair(name, value);
            }
        }
        url
    }
}

/// Whole minutes, at most ten, within what a ClickHouse `DateTime` can hold.
fn check_window(range: TimeRange) -> Result<(), InvalidParameter> {
    let invalid = |message: &str| InvalidParameter::new("time_range", message);
    let (from, to) = (range.from(), range.to());
    if !from.is_whole_minute() || !to.is_whole_minute() {
        return Err(invalid("both ends must be whole minutes"));
    }
    if to.millis() - from.millis() > MAX_AGGREGATES_MINUTES * MINUTE_MILLIS {
        return Err(invalid("at most 10 minutes long"));
    }
    let representable =
        |time: EventTime| u32::try_from(time.millis() / 1000).is_ok() && time.millis() >= 0;
    if !representable(from) || !representable(to) {
        return Err(invalid("out of the supported years (1970 to 2105)"));
    }
    Ok(())
}

fn epoch_seconds(time: EventTime) -> u32 {
    // Checked by check_window.
    u32::try_from(time.millis() / 1000).unwrap_or(u32::MAX)
}

/// One minute's figures, as a row of the answer shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// The number of matching tags.
    pub count: u64,
    /// The sum of their prices.
    pub sum_price: i64,
}

/// An aggregates answer: `{"columns": [...], "rows": [[...], ...]}`, every value a
/// string. Parsing is strict (unknown fields refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatesAnswer {
    /// `1m_bucket`, `action`, the present filters, the aggregates in query order.
    pub columns: Vec<String>,
    /// One row per minute of the range, in order.
    pub rows: Vec<Vec<String>>,
}

impl AggregatesAnswer {
    /// The contract's table for `query`: one row per minute of its range, with the
    /// totals `totals_at` gives for the minute starting at that time.
    pub fn new(query: &AggregatesQuery, mut totals_at: impl FnMut(EventTime) -> Totals) -> Self {
        let filters = query.filters.present();
        let mut columns = vec!["1m_bucket".to_owned(), "action".to_owned()];
        columns.extend(filters.iter().map(|(name, _)| (*name).to_owned()));
        columns.extend(
            query
                .aggregates
                .iter()
                .map(|aggregate| aggregate.column().to_owned()),
        );
        let rows = query
            .minutes()
            .into_iter()
            .map(|minute| {
                let totals = totals_at(minute);
                let mut row = vec![minute.to_bucket_string(), query.action.as_str().to_owned()];
                row.extend(filters.iter().map(|(_, value)| (*value).to_owned()));
                row.extend(query.aggregates.iter().map(|aggregate| match aggregate {
                    Aggregate::Count => totals.count.to_string(),
                    Aggregate::SumPrice => totals.sum_price.to_string(),
                }));
                row
            })
            .collect();
        Self { columns, rows }
    }

    /// The values of column `name`, one per row, as numbers (none if the column is
    /// absent or a value is not a number).
    pub fn numbers(&self, name: &str) -> Option<Vec<u64>> {
        let column = self.columns.iter().position(|column| column == name)?;
        self.rows
            .iter()
            .map(|row| row.get(column)?.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parameter::pairs;
    use super::*;

    #[test]
    fn each_aggregate_parses_back_from_its_parameter() {
        for aggregate in [Aggregate::Count, Aggregate::SumPrice] {
            assert_eq!(Aggregate::parse(aggregate.parameter()), Some(aggregate));
        }
        assert_eq!(Aggregate::parse("count"), None);
    }

    #[test]
    fn present_filters_come_in_the_contracts_order() {
        let filters = Filters {
            origin: None,
            brand_id: Some("b".into()),
            category_id: Some(String::new()),
        };
        assert_eq!(
            filters.present(),
            vec![("brand_id", "b"), ("category_id", "")]
        );
    }

    fn refused(query: &[(&str, &str)]) -> InvalidParameter {
        match AggregatesQuery::parse(&pairs(query)) {
            Ok(query) => panic!("accepted: {query:?}"),
            Err(error) => error,
        }
    }

    fn base() -> Url {
        Url::parse("http://127.0.0.1:8000").expect("valid URL")
    }

    #[test]
    fn ranges_come_in_seconds_or_whole_minute_milliseconds() {
        let minutes = |range: &str| {
            AggregatesQuery::parse(&pairs(&[
                ("time_range", range),
                ("action", "VIEW"),
                ("aggregates", "COUNT"),
            ]))
            .map(|query| query.minutes())
        };
        assert_eq!(
            minutes("2026-03-01T12:00:00.000_2026-03-01T12:05:00.000").expect("whole minutes"),
            minutes("2026-03-01T12:00:00_2026-03-01T12:05:00").expect("seconds")
        );
        assert_eq!(
            minutes("2026-03-01T12:00:00.000_2026-03-01T12:05:00.500")
                .expect_err("not a whole minute")
                .message,
            "both ends must be whole minutes"
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
        let minutes = query.minutes();
        assert_eq!(minutes.len(), 10);
        assert_eq!(minutes[5].to_bucket_string(), "2026-03-02T00:00:00");
    }

    #[test]
    fn every_refusal_names_its_parameter_with_the_same_message() {
        let window = "2026-03-01T12:00:00_2026-03-01T12:05:00";
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("action", "VIEW"), ("aggregates", "COUNT")],
                "time_range: missing",
            ),
            (
                &[
                    ("time_range", "2026-03-01T12:05:00_2026-03-01T12:00:00"),
                    ("action", "CLICK"),
                ],
                "time_range: from must be before to",
            ),
            (
                &[
                    ("time_range", "2026-03-01T12:00:30_2026-03-01T12:05:00"),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                "time_range: both ends must be whole minutes",
            ),
            (
                &[
                    ("time_range", "2026-03-01T12:00:00_2026-03-01T12:11:00"),
                    ("aggregates", "AVG"),
                ],
                "time_range: at most 10 minutes long",
            ),
            (
                &[
                    ("time_range", "1969-12-31T23:59:00_1970-01-01T00:01:00"),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                "time_range: out of the supported years (1970 to 2105)",
            ),
            (
                &[
                    ("time_range", window),
                    ("action", "CLICK"),
                    ("aggregates", "COUNT"),
                ],
                "action: expected VIEW or BUY",
            ),
            (
                &[("time_range", window), ("aggregates", "COUNT")],
                "action: missing",
            ),
            (
                &[("time_range", window), ("action", "VIEW")],
                "aggregates: at least one is required",
            ),
            (
                &[
                    ("time_range", window),
                    ("action", "VIEW"),
                    ("aggregates", "AVG"),
                ],
                "aggregates: expected COUNT or SUM_PRICE",
            ),
            (
                &[
                    ("time_range", window),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                    ("origin", "a"),
                    ("origin", "b"),
                ],
                "origin: given more than once",
            ),
        ];
        for (query, message) in cases {
            assert_eq!(refused(query).to_string(), *message, "{query:?}");
        }
    }

    #[test]
    fn a_built_query_is_checked_like_a_parsed_one() {
        let range = |from: i64, to: i64| {
            TimeRange::new(EventTime::from_millis(from), EventTime::from_millis(to))
                .expect("ordered")
        };
        let start = 1_772_323_200_000;
        let build = |range, aggregates: &[Aggregate]| {
            AggregatesQuery::new(range, Action::View, aggregates.to_vec(), Filters::default())
        };
        assert!(build(range(start, start + MINUTE_MILLIS), &[Aggregate::Count]).is_ok());
        assert!(build(range(start, start + MINUTE_MILLIS), &[]).is_err());
        assert!(build(range(start, start + 1), &[Aggregate::Count]).is_err());
        assert!(build(
            range(start, start + 11 * MINUTE_MILLIS),
            &[Aggregate::Count]
        )
        .is_err());
    }

    #[test]
    fn urls_parse_back_and_answers_follow_the_contract_order() {
        let query = AggregatesQuery::new(
            TimeRange::new(
                EventTime::from_millis(1_772_323_200_000),
                EventTime::from_millis(1_772_323_320_000),
            )
            .expect("ordered"),
            Action::Buy,
            vec![Aggregate::SumPrice, Aggregate::Count],
            Filters {
                origin: None,
                brand_id: Some("Brand_1".to_owned()),
                category_id: Some("Category_2".to_owned()),
            },
        )
        .expect("valid");
        let url = query.url(&base());
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8000/aggregates?time_range=2026-03-01T00%3A00%3A00_2026-03-01T00%3A02%3A00&action=BUY&aggregates=SUM_PRICE&aggregates=COUNT&brand_id=Brand_1&category_id=Category_2"
        );
        let read: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(AggregatesQuery::parse(&read), Ok(query.clone()));
        let answer = AggregatesAnswer::new(&query, |minute| {
            if minute.millis() == 1_772_323_200_000 {
                Totals {
                    count: 2,
                    sum_price: 30,
                }
            } else {
                Totals::default()
            }
        });
        assert_eq!(
            serde_json::to_string(&answer).expect("serializable"),
            r#"{"columns":["1m_bucket","action","brand_id","category_id","sum_price","count"],"rows":[["2026-03-01T00:00:00","BUY","Brand_1","Category_2","30","2"],["2026-03-01T00:01:00","BUY","Brand_1","Category_2","0","0"]]}"#
        );
        assert_eq!(answer.numbers("count"), Some(vec![2, 0]));
        assert_eq!(answer.numbers("origin"), None);
    }
}
