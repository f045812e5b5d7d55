//! The two query kinds of the contract as the harness asks them: their URL (built with
//! `url`'s encoders, never by string pasting) and their answers' shape, which is both
//! the expected answer sent in debug mode and what a response is parsed into and
//! compared with.

use reqwest::Url;
use schemas::{Action, EventTime, UserTag};
use serde::{Deserialize, Serialize};

/// One minute's totals as the model knows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteTotals {
    /// Tags answered 204.
    pub accepted_count: u64,
    /// Their price sum.
    pub accepted_sum: i64,
    /// Tags that failed: each may or may not be counted.
    pub uncertain_count: u64,
}

/// The profile limit when a query gives none (the contract's default).
pub const DEFAULT_LIMIT: usize = 200;

const MINUTE_MILLIS: i64 = 60_000;

/// `POST /user_profiles/{cookie}?time_range=..[&limit=..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileQuery {
    /// The shopper.
    pub cookie: String,
    /// First instant included.
    pub from: EventTime,
    /// First instant excluded.
    pub to: EventTime,
    /// `limit`, or none for the default.
    pub limit: Option<usize>,
}

impl ProfileQuery {
    /// The effective limit.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// The request URL under `base`.
    pub fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("user_profiles")
                .push(&self.cookie);
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair(
                "time_range",
                &format!(
                    "{}_{}",
                    self.from.to_query_millis_string(),
                    self.to.to_query_millis_string()
                ),
            );
            if let Some(limit) = self.limit {
                pairs.append_pair("limit", &limit.to_string());
            }
        }
        url
    }
}

/// A profile answer: `{"cookie", "views", "buys"}`, lists newest first. Parsing is
/// strict (unknown fields refused, tags through the contract's own model), and tag
/// times compare as instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileAnswer {
    /// The shopper.
    pub cookie: String,
    /// VIEW tags in range, newest first.
    pub views: Vec<UserTag>,
    /// BUY tags in range, newest first.
    pub buys: Vec<UserTag>,
}

/// An aggregate the query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT`, column `count`.
    Count,
    /// `SUM_PRICE`, column `sum_price`.
    SumPrice,
}

impl Aggregate {
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

/// The optional filters of an aggregates query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `origin`.
    pub origin: Option<String>,
    /// `brand_id`.
    pub brand_id: Option<String>,
    /// `category_id`.
    pub category_id: Option<String>,
}

impl Filters {
    /// The present filters as `(name, value)`, in the contract's column order.
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

/// `POST /aggregates?time_range=..&action=..&aggregates=..[&origin=..]...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateQuery {
    /// First minute included (whole minute).
    pub from: EventTime,
    /// First minute excluded (whole minute).
    pub to: EventTime,
    /// The action counted.
    pub action: Action,
    /// The filters.
    pub filters: Filters,
    /// The aggregates, in the order asked.
    pub aggregates: Vec<Aggregate>,
}

impl AggregateQuery {
    /// The request URL under `base`.
    pub fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("aggregates");
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair(
                "time_range",
                &format!(
                    "{}_{}",
                    self.from.to_bucket_string(),
                    self.to.to_bucket_string()
                ),
            );
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

    /// The contract's table for these per-minute totals (one per minute of the range).
    pub fn render(&self, totals: &[MinuteTotals]) -> AggregateAnswer {
        let filters = self.filters.present();
        let mut columns = vec!["1m_bucket".to_owned(), "action".to_owned()];
        columns.extend(filters.iter().map(|(name, _)| (*name).to_owned()));
        columns.extend(
            self.aggregates
                .iter()
                .map(|aggregate| aggregate.column().to_owned()),
        );
        let rows = totals
            .iter()
            .enumerate()
            .map(|(minute, totals)| {
                let start =
                    EventTime::from_millis(self.from.millis() + minute as i64 * MINUTE_MILLIS);
                let mut row = vec![start.to_bucket_string(), self.action.as_str().to_owned()];
                row.extend(filters.iter().map(|(_, value)| (*value).to_owned()));
                row.extend(self.aggregates.iter().map(|aggregate| match aggregate {
                    Aggregate::Count => totals.accepted_count.to_string(),
                    Aggregate::SumPrice => totals.accepted_sum.to_string(),
                }));
                row
            })
            .collect();
        AggregateAnswer { columns, rows }
    }
}

/// An aggregates answer: `{"columns": [...], "rows": [[...], ...]}`, every value a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateAnswer {
    /// Column names.
    pub columns: Vec<String>,
    /// One row per minute.
    pub rows: Vec<Vec<String>>,
}

impl AggregateAnswer {
    /// The values of column `name`, one per row, as numbers (None if absent or not a
    /// number).
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
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:8000").expect("valid URL")
    }

    #[test]
    fn profile_urls_encode_the_cookie_and_the_range() {
        let query = ProfileQuery {
            cookie: "a b/c".to_owned(),
            from: EventTime::from_millis(1_772_323_200_000),
            to: EventTime::from_millis(1_772_323_200_250),
            limit: Some(5),
        };
        assert_eq!(
            query.url(&base()).as_str(),
            "http://127.0.0.1:8000/user_profiles/a%20b%2Fc?time_range=2026-03-01T00%3A00%3A00.000_2026-03-01T00%3A00%3A00.250&limit=5"
        );
    }

    #[test]
    fn aggregate_tables_follow_the_contract_order() {
        let query = AggregateQuery {
            from: EventTime::from_millis(1_772_323_200_000),
            to: EventTime::from_millis(1_772_323_320_000),
            action: Action::Buy,
            filters: Filters {
                origin: None,
                brand_id: Some("Brand_1".to_owned()),
                category_id: Some("Category_2".to_owned()),
            },
            aggregates: vec![Aggregate::SumPrice, Aggregate::Count],
        };
        let url = query.url(&base());
        assert_eq!(
            url.query(),
            Some("time_range=2026-03-01T00%3A00%3A00_2026-03-01T00%3A02%3A00&action=BUY&aggregates=SUM_PRICE&aggregates=COUNT&brand_id=Brand_1&category_id=Category_2")
        );
        let totals = [
            MinuteTotals {
                accepted_count: 2,
                accepted_sum: 30,
                uncertain_count: 0,
            },
            MinuteTotals::default(),
        ];
        let answer = query.render(&totals);
        assert_eq!(
            answer.columns,
            [
                "1m_bucket",
                "action",
                "brand_id",
                "category_id",
                "sum_price",
                "count"
            ]
        );
        assert_eq!(
            answer.rows[0],
            [
                "2026-03-01T00:00:00",
                "BUY",
                "Brand_1",
                "Category_2",
                "30",
                "2"
            ]
        );
        assert_eq!(
            answer.rows[1],
            [
                "2026-03-01T00:01:00",
                "BUY",
                "Brand_1",
                "Category_2",
                "0",
                "0"
            ]
        );
        assert_eq!(answer.numbers("count"), Some(vec![2, 0]));
    }
}
