//! The analysts' query parameters, parsed and checked: past this module a range is
//! ordered, aligned to its buckets and short enough to answer, every enum is known, and
//! every refusal names its parameter (as the contract's endpoints do).

use schemas::contract::{InvalidParameter, TimeRange};
use schemas::{Action, Device, EventTime};
use serde::Deserialize;
use utoipa::IntoParams;

pub(crate) use read_model::cube::{CubeFilters, Dimension, Metric};

/// The most points a series may have (a week of minutes).
pub(crate) const MAX_POINTS: i64 = 7 * 24 * 60;
/// The most rows a top-N may have.
pub(crate) const MAX_TOP: u32 = 100;
/// Rows of a top-N when the query names no limit.
pub(crate) const DEFAULT_TOP: u32 = 10;

/// The width of a series' buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// One minute.
    OneMinute,
    /// Five minutes.
    FiveMinutes,
    /// One hour.
    OneHour,
}

impl Bucket {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "1m" => Some(Self::OneMinute),
            "5m" => Some(Self::FiveMinutes),
            "1h" => Some(Self::OneHour),
            _ => None,
        }
    }

    /// The name used in queries and answers.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::OneMinute => "1m",
            Self::FiveMinutes => "5m",
            Self::OneHour => "1h",
        }
    }

    /// Its width in seconds.
    pub(crate) const fn seconds(self) -> i64 {
        match self {
            Self::OneMinute => 60,
            Self::FiveMinutes => 300,
            Self::OneHour => 3600,
        }
    }
}

/// Where a series or top-N is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The minute cube, unless the range starts before the cube's window (then the
    /// archive, when one is configured).
    Auto,
    /// The minute cube (24 hours of ingestion).
    Cube,
    /// The archive of every tag (older ranges; slower).
    Archive,
}

impl Source {
    fn parse(text: Option<&str>) -> Result<Self, InvalidParameter> {
        match text {
            None | Some("auto") => Ok(Self::Auto),
            Some("cube") => Ok(Self::Cube),
            Some("archive") => Ok(Self::Archive),
            Some(_) => Err(InvalidParameter::new(
                "source",
                "expected auto, cube or archive",
            )),
        }
    }
}

/// The query string of `GET /v1/series`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SeriesParams {
    /// First instant included, UTC: `2026-03-01T12:00:00` (a `Z` may follow). Aligned
    /// down to the bucket.
    pub from: String,
    /// First instant excluded, UTC; aligned up to the bucket.
    pub to: String,
    /// `VIEW` or `BUY`.
    pub action: String,
    /// `1m`, `5m` or `1h` (default `1m`).
    pub bucket: Option<String>,
    /// Only tags of this campaign.
    pub origin: Option<String>,
    /// Only tags of this brand.
    pub brand_id: Option<String>,
    /// Only tags of this category.
    pub category_id: Option<String>,
    /// Only tags from this country.
    pub country: Option<String>,
    /// Only tags from this device: `PC`, `MOBILE` or `TV`.
    pub device: Option<String>,
    /// `auto` (default: the cube, or the archive for a range that starts before the
    /// cube's 24 hours), `cube` or `archive`.
    pub source: Option<String>,
}

/// The query string of `GET /v1/top`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TopParams {
    /// First instant included, UTC: `2026-03-01T12:00:00` (a `Z` may follow); whole
    /// minutes are counted, so it is aligned down to the minute.
    pub from: String,
    /// First instant excluded, UTC; aligned up to the minute.
    pub to: String,
    /// `VIEW` or `BUY`.
    pub action: String,
    /// `origin`, `brand_id`, `category_id`, `country` or `device`.
    pub dimension: String,
    /// `count` (default) or `sum_price`.
    pub by: Option<String>,
    /// How many, 1 to 100 (default 10).
    pub limit: Option<u32>,
    /// Only tags of this campaign.
    pub origin: Option<String>,
    /// Only tags of this brand.
    pub brand_id: Option<String>,
    /// Only tags of this category.
    pub category_id: Option<String>,
    /// Only tags from this country.
    pub country: Option<String>,
    /// Only tags from this device: `PC`, `MOBILE` or `TV`.
    pub device: Option<String>,
    /// `auto` (default: the cube, or the archive for a range that starts before the
    /// cube's 24 hours), `cube` or `archive`.
    pub source: Option<String>,
}

/// The query string of `GET /v1/shoppers/{cookie}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShopperParams {
    /// First instant included, UTC (default: the earliest there is).
    pub from: Option<String>,
    /// First instant excluded, UTC (default: the latest there is).
    pub to: Option<String>,
    /// At most this many views and this many buys (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// A checked series query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeriesQuery {
    /// Whole buckets.
    pub range: TimeRange,
    /// The action counted.
    pub action: Action,
    /// The bucket width.
    pub bucket: Bucket,
    /// The filters.
    pub filters: CubeFilters,
    /// Where it is read from.
    pub source: Source,
}

/// A checked top-N query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopQuery {
    /// Whole minutes.
    pub range: TimeRange,
    /// The action counted.
    pub action: Action,
    /// The dimension ranked.
    pub dimension: Dimension,
    /// What it is ranked by.
    pub by: Metric,
    /// How many.
    pub limit: u32,
    /// The filters.
    pub filters: CubeFilters,
    /// Where it is read from.
    pub source: Source,
}

/// A checked shopper query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShopperQuery {
    /// The range.
    pub range: TimeRange,
    /// At most this many of each action.
    pub limit: u64,
}

impl SeriesParams {
    /// The checked query.
    pub(crate) fn check(self) -> Result<SeriesQuery, InvalidParameter> {
        let bucket = match self.bucket.as_deref() {
            None => Bucket::OneMinute,
            Some(text) => Bucket::parse(text)
                .ok_or_else(|| InvalidParameter::new("bucket", "expected 1m, 5m or 1h"))?,
        };
        let range = aligned_range(&self.from, &self.to, bucket.seconds())?;
        let points = (range.to().millis() - range.from().millis()) / (bucket.seconds() * 1000);
        if points > MAX_POINTS {
            return Err(InvalidParameter::new(
                "bucket",
                format!("{points} buckets; at most {MAX_POINTS}: choose a larger bucket"),
            ));
        }
        Ok(SeriesQuery {
            source: Source::parse(self.source.as_deref())?,
            range,
            action: action(&self.action)?,
            bucket,
            filters: filters(
                self.origin,
                self.brand_id,
                self.category_id,
                self.country,
                self.device,
            )?,
        })
    }
}

impl TopParams {
    /// The checked query.
    pub(crate) fn check(self) -> Result<TopQuery, InvalidParameter> {
        let limit = self.limit.unwrap_or(DEFAULT_TOP);
        if !(1..=MAX_TOP).contains(&limit) {
            return Err(InvalidParameter::new(
                "limit",
                format!("expected 1 to {MAX_TOP}"),
            ));
        }
        Ok(TopQuery {
            source: Source::parse(self.source.as_deref())?,
            range: aligned_range(&self.from, &self.to, 60)?,
            action: action(&self.action)?,
            dimension: Dimension::parse(&self.dimension).ok_or_else(|| {
                InvalidParameter::new(
                    "dimension",
                    "expected origin, brand_id, category_id, country or device",
                )
            })?,
            by: match self.by.as_deref() {
                None => Metric::Count,
                Some(text) => Metric::parse(text)
                    .ok_or_else(|| InvalidParameter::new("by", "expected count or sum_price"))?,
            },
            limit,
            filters: filters(
                self.origin,
                self.brand_id,
                self.category_id,
                self.country,
                self.device,
            )?,
        })
    }
}

impl ShopperParams {
    /// The checked query.
    pub(crate) fn check(self) -> Result<ShopperQuery, InvalidParameter> {
        let from = match self.from.as_deref() {
            None => EventTime::MIN_STORABLE,
            Some(text) => instant("from", text)?,
        };
        let to = match self.to.as_deref() {
            None => EventTime::from_millis(EventTime::MAX_STORABLE.millis() + 1),
            Some(text) => instant("to", text)?,
        };
        let limit = self.limit.unwrap_or(200);
        if limit > 1000 {
            return Err(InvalidParameter::new("limit", "at most 1000"));
        }
        Ok(ShopperQuery {
            range: TimeRange::new(from, to)?,
            limit: u64::from(limit),
        })
    }
}

fn action(text: &str) -> Result<Action, InvalidParameter> {
    Action::parse(text).ok_or_else(|| InvalidParameter::new("action", "expected VIEW or BUY"))
}

fn filters(
    origin: Option<String>,
    brand_id: Option<String>,
    category_id: Option<String>,
    country: Option<String>,
    device: Option<String>,
) -> Result<CubeFilters, InvalidParameter> {
    let device = match device.as_deref() {
        None => None,
        Some(text) => Some(
            Device::parse(text)
                .ok_or_else(|| InvalidParameter::new("device", "expected PC, MOBILE or TV"))?,
        ),
    };
    Ok(CubeFilters {
        origin,
        brand_id,
        category_id,
        country,
        device,
    })
}

/// `YYYY-MM-DDTHH:MM:SS`, UTC, optionally followed by `Z`, within the storable years.
pub(super) fn instant(parameter: &'static str, text: &str) -> Result<EventTime, InvalidParameter> {
    let time = EventTime::parse_query_seconds(text.strip_suffix('Z').unwrap_or(text))
        .map_err(|error| InvalidParameter::new(parameter, error.to_string()))?;
    if !time.is_storable() {
        return Err(InvalidParameter::new(
            parameter,
            "outside the supported years (1970 to 2106)",
        ));
    }
    Ok(time)
}

/// `[from, to)` widened to whole buckets of `width` seconds.
fn aligned_range(from: &str, to: &str, width: i64) -> Result<TimeRange, InvalidParameter> {
    let width_ms = width * 1000;
    let from = instant("from", from)?.millis();
    let to = instant("to", to)?.millis();
    if from >= to {
        return Err(InvalidParameter::new("to", "must be after from"));
    }
    let from = from.div_euclid(width_ms) * width_ms;
    let to = (to + width_ms - 1).div_euclid(width_ms) * width_ms;
    TimeRange::new(EventTime::from_millis(from), EventTime::from_millis(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(from: &str, to: &str, bucket: Option<&str>) -> Result<SeriesQuery, InvalidParameter> {
        SeriesParams {
            from: from.to_owned(),
            to: to.to_owned(),
            action: "VIEW".to_owned(),
            bucket: bucket.map(str::to_owned),
            origin: None,
            brand_id: None,
            category_id: None,
            country: None,
            device: None,
            source: None,
        }
        .check()
    }

    #[test]
    fn a_range_is_widened_to_whole_buckets() {
        let query =
            series("2026-03-01T12:03:10", "2026-03-01T12:07:00Z", Some("5m")).expect("valid");
        assert_eq!(query.range.from().to_bucket_string(), "2026-03-01T12:00:00");
        assert_eq!(query.range.to().to_bucket_string(), "2026-03-01T12:10:00");
    }

    #[test]
    fn refusals_name_their_parameter() {
        let refused = |result: Result<SeriesQuery, InvalidParameter>| match result {
            Ok(query) => panic!("accepted {query:?}"),
            Err(error) => error.parameter,
        };
        assert_eq!(
            refused(series("2026-03-01T12:00:00", "2026-03-01T12:00:00", None)),
            "to"
        );
        assert_eq!(
            refused(series("yesterday", "2026-03-01T12:00:00", None)),
            "from"
        );
        assert_eq!(
            refused(series(
                "2026-03-01T12:00:00",
                "2026-03-02T12:00:00",
                Some("2m")
            )),
            "bucket"
        );
        // Eight days of minutes is too many points; of hours it is fine.
        assert_eq!(
            refused(series("2026-03-01T00:00:00", "2026-03-09T00:00:00", None)),
            "bucket"
        );
        assert!(series("2026-03-01T00:00:00", "2026-03-09T00:00:00", Some("1h")).is_ok());
        assert_eq!(
            refused(series(
                "1969-12-31T00:00:00",
                "2026-03-09T00:00:00",
                Some("1h")
            )),
            "from"
        );
    }

    #[test]
    fn a_top_n_knows_its_dimension_metric_and_limit() {
        let top = |dimension: &str, by: Option<&str>, limit: Option<u32>| {
            TopParams {
                from: "2026-03-01T12:00:00".to_owned(),
                to: "2026-03-01T13:00:00".to_owned(),
                action: "BUY".to_owned(),
                dimension: dimension.to_owned(),
                by: by.map(str::to_owned),
                limit,
                origin: None,
                brand_id: None,
                category_id: None,
                country: None,
                device: Some("TV".to_owned()),
                source: None,
            }
            .check()
        };
        let query = top("country", Some("sum_price"), None).expect("valid");
        assert_eq!(
            (query.dimension, query.by, query.limit, query.filters.device),
            (
                Dimension::Country,
                Metric::SumPrice,
                DEFAULT_TOP,
                Some(Device::Tv)
            )
        );
        assert_eq!(
            top("colour", None, None).map_err(|e| e.parameter),
            Err("dimension")
        );
        assert_eq!(
            top("origin", Some("avg"), None).map_err(|e| e.parameter),
            Err("by")
        );
        assert_eq!(
            top("origin", None, Some(0)).map_err(|e| e.parameter),
            Err("limit")
        );
        assert_eq!(
            top("origin", None, Some(101)).map_err(|e| e.parameter),
            Err("limit")
        );
    }
}
