//! Read-path queries of `bench read`: user profiles, 10-minute aggregates and the
//! analysts' series (`GET /v1/series`) drawn like the loaded data (loadgen's stream: skewed cookies and filter values, see
//! [`crate::loader`]), sent to read-api over HTTP (direct or through the front door) or,
//! as the very SQL read-api sends ([`read_api::Store`]), straight to ClickHouse.
//! Each answer is classified ([`Answer`]), so a shed request (503) is told apart from a
//! late or failed one.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use read_api::Store;
use schemas::contract::{AggregatesQuery, ProfileQuery};
use schemas::{Action, EventTime};
use serde::{Deserialize, Serialize};
use service_kit::settings::ClickHouseSettings;
use std::time::Duration;

const MINUTE_MS: i64 = 60_000;

/// The contract's client deadline for a profile query.
pub const PROFILE_DEADLINE: Duration = Duration::from_millis(200);

/// Sizes and event-time span of the loaded data.
#[derive(Debug, Clone, Copy)]
pub struct DataShape {
    /// First event time loaded, ms.
    pub start_ms: i64,
    /// Event time after the last loaded tag, ms.
    pub end_ms: i64,
    /// Distinct cookies.
    pub cookies: u32,
    /// Distinct origins.
    pub origins: u32,
    /// Distinct brands.
    pub brands: u32,
    /// Distinct categories.
    pub categories: u32,
    /// Distinct countries.
    pub countries: u32,
}

/// The filters of a series request, by how many dimensions they name. Read-api answers
/// a series of one filter at most from the one-dimension rollup and any other from the
/// minute cube, so each shape is measured apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesFilters {
    /// No filter: every tag of the action.
    #[default]
    None,
    /// One of the five dimensions, drawn at random, set to a value that exists.
    One,
    /// Two distinct dimensions, drawn at random.
    Two,
}

impl SeriesFilters {
    /// Every shape, in the order they are measured and reported.
    pub const ALL: [Self; 3] = [Self::None, Self::One, Self::Two];

    /// How many dimensions are filtered.
    pub const fn dimensions(self) -> usize {
        match self {
            Self::None => 0,
            Self::One => 1,
            Self::Two => 2,
        }
    }

    /// Its words in a report.
    pub const fn label(self) -> &'static str {
        match self {
            Self::None => "no filter",
            Self::One => "one filter",
            Self::Two => "two filters",
        }
    }
}

/// One request: a path and its query pairs, as read-api receives them.
#[derive(Debug, Clone)]
pub struct Request {
    /// `/user_profiles/{cookie}`, `/aggregates` or `/v1/series`.
    pub path: String,
    /// The cookie of a profile request.
    pub cookie: Option<String>,
    /// Query-string pairs.
    pub pairs: Vec<(String, String)>,
}

impl Request {
    /// The URL on `base`. Every value drawn here is URL-safe (letters, digits, `_:.-`).
    fn url(&self, base: &str) -> String {
        let query: Vec<String> = self
            .pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        format!("{base}{}?{}", self.path, query.join("&"))
    }

    /// The path and query string, as the front door's access log records them.
    pub fn path_and_query(&self) -> String {
        self.url("")
    }

    /// Whether it is a request of the analysts' API (`/v1/`: a GET), not of the
    /// contract (a POST).
    pub fn is_analytics(&self) -> bool {
        self.path.starts_with("/v1/")
    }
}

/// Draws requests like the reference harness would send them over the loaded data.
pub struct RequestMix {
    rng: StdRng,
    shape: DataShape,
}

impl RequestMix {
    /// A deterministic mix from `seed`.
    pub fn new(seed: u64, shape: DataShape) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            shape,
        }
    }

    /// A value in `0..size`, a quarter of the draws among the hottest (as loadgen's
    /// TagStream and the loaded data).
    fn skewed(&mut self, size: u32) -> u32 {
        if self.rng.random_range(0..4) == 0 {
            self.rng
                .random_range(0..size.min(loadgen::stream::HOT_VALUES))
        } else {
            self.rng.random_range(0..size)
        }
    }

    /// A profile query: a skewed cookie, a range ending within the last hour of the data
    /// (or anywhere in shorter data) and 1 to 60 minutes long (at millisecond
    /// precision), the default limit.
    pub fn profile(&mut self) -> Request {
        let cookie = loadgen::stream::cookie_name(self.skewed(self.shape.cookies));
        let earliest_end = (self.shape.end_ms - 60 * MINUTE_MS).max(self.shape.start_ms + 1);
        let to = self
            .rng
            .random_range(earliest_end..self.shape.end_ms.max(earliest_end + 1));
        let from = to - self.rng.random_range(MINUTE_MS..=60 * MINUTE_MS);
        Request {
            path: format!("/user_profiles/{cookie}"),
            cookie: Some(cookie),
            pairs: vec![(
                "time_range".to_owned(),
                format!("{}_{}", query_millis(from), query_millis(to)),
            )],
        }
    }

    /// An aggregates query with the filters of `mask` (bit 1 origin, 2 brand, 4 category)
    /// set to skewed values that exist, a random action, both aggregates, over 10 whole
    /// minutes anywhere in the data.
    pub fn aggregates(&mut self, mask: u8) -> Request {
        let minutes = (self.shape.end_ms - self.shape.start_ms) / MINUTE_MS - 10;
        let from = self.shape.start_ms + self.rng.random_range(0..=minutes.max(0)) * MINUTE_MS;
        let to = from + 10 * MINUTE_MS;
        let action = if self.rng.random_bool(0.5) {
            Action::View
        } else {
            Action::Buy
        };
        let mut pairs = vec![
            (
                "time_range".to_owned(),
                format!(
                    "{}_{}",
                    EventTime::from_millis(from).to_bucket_string(),
                    EventTime::from_millis(to).to_bucket_string()
                ),
            ),
            ("action".to_owned(), action.as_str().to_owned()),
            ("aggregates".to_owned(), "COUNT".to_owned()),
            ("aggregates".to_owned(), "SUM_PRICE".to_owned()),
        ];
        if mask & 1 != 0 {
            let origin = self.skewed(self.shape.origins);
            pairs.push(("origin".to_owned(), format!("CAMPAIGN_{origin}")));
        }
        if mask & 2 != 0 {
            let brand = self.skewed(self.shape.brands);
            pairs.push(("brand_id".to_owned(), format!("Brand_{brand}")));
        }
        if mask & 4 != 0 {
            let category = self.skewed(self.shape.categories);
            pairs.push(("category_id".to_owned(), format!("Category_{category}")));
        }
        Request {
            path: "/aggregates".to_owned(),
            cookie: None,
            pairs,
        }
    }
}

impl RequestMix {
    /// A series of `/v1/series`: `hours` whole hours ending on a whole minute anywhere in
    /// the data (at the data's end when the data is shorter than the range), a random
    /// action, `filters` on distinct random dimensions set to skewed values that exist;
    /// 1-minute buckets up to an hour, 5-minute ones beyond (what a chart of a day asks
    /// for).
    pub fn series(&mut self, hours: u32, filters: SeriesFilters) -> Request {
        let mut pairs = self.analysts_range(hours);
        let bucket = if hours <= 1 { "1m" } else { "5m" };
        pairs.push(("bucket".to_owned(), bucket.to_owned()));
        let mut dimensions: Vec<u32> = (0..5).collect();
        self.draw_filters(&mut dimensions, filters, &mut pairs);
        Request {
            path: "/v1/series".to_owned(),
            cookie: None,
            pairs,
        }
    }

    /// An analysts' top-N (`GET /v1/top`) over the same ranges as [`Self::series`]: the
    /// 10 values of a random dimension with the most tags or revenue (drawn), `filters`
    /// on distinct random dimensions other than the ranked one.
    pub fn top(&mut self, hours: u32, filters: SeriesFilters) -> Request {
        let mut pairs = self.analysts_range(hours);
        let mut dimensions: Vec<u32> = (0..5).collect();
        let ranked = dimensions.swap_remove(self.rng.random_range(0..dimensions.len()));
        let by = if self.rng.random_bool(0.5) {
            "count"
        } else {
            "sum_price"
        };
        pairs.extend([
            (
                "dimension".to_owned(),
                DIMENSIONS[ranked as usize].to_owned(),
            ),
            ("by".to_owned(), by.to_owned()),
            ("limit".to_owned(), "10".to_owned()),
        ]);
        self.draw_filters(&mut dimensions, filters, &mut pairs);
        Request {
            path: "/v1/top".to_owned(),
            cookie: None,
            pairs,
        }
    }

    /// `from`, `to` and `action` of an analysts' read: `hours` of whole minutes ending
    /// anywhere in the data (just after it when the data is shorter), a random action.
    fn analysts_range(&mut self, hours: u32) -> Vec<(String, String)> {
        let span_ms = i64::from(hours.max(1)) * 60 * MINUTE_MS;
        let last_end = (self.shape.end_ms + MINUTE_MS - 1).div_euclid(MINUTE_MS) * MINUTE_MS;
        let first_end =
            (self.shape.start_ms.div_euclid(MINUTE_MS) * MINUTE_MS + span_ms).min(last_end);
        let to = first_end
            + self
                .rng
                .random_range(0..=(last_end - first_end) / MINUTE_MS)
                * MINUTE_MS;
        let from = to - span_ms;
        let action = if self.rng.random_bool(0.5) {
            Action::View
        } else {
            Action::Buy
        };
        vec![
            (
                "from".to_owned(),
                EventTime::from_millis(from).to_bucket_string(),
            ),
            (
                "to".to_owned(),
                EventTime::from_millis(to).to_bucket_string(),
            ),
            ("action".to_owned(), action.as_str().to_owned()),
        ]
    }

    /// `filters`' number of filters, each on a distinct dimension drawn from (and taken
    /// out of) `dimensions`, appended to `pairs`.
    fn draw_filters(
        &mut self,
        dimensions: &mut Vec<u32>,
        filters: SeriesFilters,
        pairs: &mut Vec<(String, String)>,
    ) {
        for _ in 0..filters.dimensions() {
            let dimension = dimensions.swap_remove(self.rng.random_range(0..dimensions.len()));
            pairs.push(self.filter_on(dimension));
        }
    }

    /// A filter on dimension `dimension` (0 origin, 1 brand, 2 category, 3 country, 4
    /// device) with a skewed value that exists, as loadgen's stream names them.
    fn filter_on(&mut self, dimension: u32) -> (String, String) {
        match dimension {
            0 => (
                "origin".to_owned(),
                format!("CAMPAIGN_{}", self.skewed(self.shape.origins)),
            ),
            1 => (
                "brand_id".to_owned(),
                format!("Brand_{}", self.skewed(self.shape.brands)),
            ),
            2 => (
                "category_id".to_owned(),
                format!("Category_{}", self.skewed(self.shape.categories)),
            ),
            3 => (
                "country".to_owned(),
                format!("C{:02}", self.skewed(self.shape.countries)),
            ),
            _ => {
                let device = ["PC", "MOBILE", "TV"][self.rng.random_range(0..3)];
                ("device".to_owned(), device.to_owned())
            }
        }
    }
}

/// The analysts' API's names of the five dimensions, by number (0 origin, 1 brand, 2
/// category, 3 country, 4 device), as `dimension=` and as filters.
const DIMENSIONS: [&str; 5] = ["origin", "brand_id", "category_id", "country", "device"];

/// `2026-03-01T12:00:00.123`: a range end with milliseconds.
fn query_millis(millis: i64) -> String {
    format!(
        "{}.{:03}",
        EventTime::from_millis(millis).to_bucket_string(),
        millis.rem_euclid(1000)
    )
}

/// Where requests go.
#[derive(Clone)]
pub enum Target {
    /// read-api over HTTP.
    Http {
        /// The client (its timeout is the caller's deadline).
        client: reqwest::Client,
        /// Base URL, e.g. `http://127.0.0.1:18082`.
        base_url: String,
    },
    /// The SQL read-api sends, through read-api's own store, straight to ClickHouse.
    Direct {
        /// read-api's ClickHouse reads.
        store: Box<Store>,
        /// Deadline per request.
        deadline: Duration,
    },
}

impl Target {
    /// read-api at `base_url`, each request given `deadline`.
    pub fn http(base_url: &str, deadline: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(deadline)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .build()?;
        Ok(Self::Http {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// ClickHouse as configured, with extra ClickHouse settings (`name`, `value`) on
    /// every query, each request given `deadline`.
    pub fn direct(
        settings: &ClickHouseSettings,
        options: &[(String, String)],
        deadline: Duration,
    ) -> Self {
        // read-api's own store, its query settings included.
        let store = options
            .iter()
            .fold(Store::new(settings), |store, (name, value)| {
                store.with_setting(name, value)
            });
        Self::Direct {
            store: Box::new(store),
            deadline,
        }
    }

    /// Sends one request and says how it was answered within the deadline.
    pub async fn send(&self, request: Request) -> Answer {
        match self {
            Self::Http { client, base_url } => {
                let url = request.url(base_url);
                let sent = if request.is_analytics() {
                    client.get(url)
                } else {
                    client.post(url)
                };
                match sent.send().await {
                    Ok(response) if response.status().as_u16() == 200 => {
                        if response.bytes().await.is_ok() {
                            Answer::Ok
                        } else {
                            Answer::Failed
                        }
                    }
                    Ok(response) if response.status().as_u16() == 503 => Answer::Shed,
                    Ok(_) => Answer::Failed,
                    Err(error) if error.is_timeout() => Answer::Late,
                    Err(_) => Answer::Failed,
                }
            }
            Self::Direct { store, deadline } => {
                match tokio::time::timeout(*deadline, direct(store, &request)).await {
                    Ok(true) => Answer::Ok,
                    Ok(false) => Answer::Failed,
                    Err(_) => Answer::Late,
                }
            }
        }
    }
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// 200 (or rows from ClickHouse) within the deadline.
    Ok,
    /// 503: shed by read-api's admission gate or past its own deadline.
    Shed,
    /// No answer within the client's deadline.
    Late,
    /// Any other status or a transport error.
    Failed,
}

/// What read-api's handler asks ClickHouse for the same request: one profile query
/// (both actions) or one aggregates query. The analysts' API is measured through
/// read-api only: sent here, it fails.
async fn direct(store: &Store, request: &Request) -> bool {
    if request.is_analytics() {
        return false;
    }
    match &request.cookie {
        Some(cookie) => {
            let Ok(query) = ProfileQuery::parse(cookie.clone(), &request.pairs) else {
                return false;
            };
            store
                .profile(cookie, query.time_range, query.limit())
                .await
                .is_ok()
        }
        None => {
            let Ok(query) = AggregatesQuery::parse(&request.pairs) else {
                return false;
            };
            store.minute_totals(&query).await.is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> DataShape {
        DataShape {
            start_ms: 1_772_323_200_000,
            end_ms: 1_772_323_200_000 + 86_400_000,
            cookies: 1_000_000,
            origins: 1_000,
            brands: 250,
            categories: 67,
            countries: 100,
        }
    }

    #[test]
    fn drawn_requests_are_valid_queries() {
        let mut mix = RequestMix::new(1, shape());
        for _ in 0..1000 {
            let profile = mix.profile();
            ProfileQuery::parse(profile.cookie.clone().unwrap_or_default(), &profile.pairs)
                .expect("valid profile query");
            for mask in 0..8 {
                let aggregates = mix.aggregates(mask);
                let query = AggregatesQuery::parse(&aggregates.pairs).expect("valid aggregates");
                assert_eq!(
                    query.filters().present().len(),
                    (mask as u32).count_ones() as usize
                );
                assert_eq!(query.minutes().len(), 10);
            }
        }
    }

    /// The value of `request`'s query pair `key`.
    fn pair(request: &Request, key: &str) -> Option<String> {
        request
            .pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    }

    #[test]
    fn series_ranges_are_whole_hours_within_the_data() {
        let shape = shape();
        let mut mix = RequestMix::new(2, shape);
        for hours in [1, 24] {
            for _ in 0..200 {
                let filters = SeriesFilters::ALL[mix.rng.random_range(0..3)];
                let request = mix.series(hours, filters);
                assert!(request.is_analytics());
                let value = |key: &str| pair(&request, key).expect("a pair");
                let millis = |key: &str| {
                    chrono::NaiveDateTime::parse_from_str(&value(key), "%Y-%m-%dT%H:%M:%S")
                        .expect("a bucket time")
                        .and_utc()
                        .timestamp_millis()
                };
                let (from, to) = (millis("from"), millis("to"));
                assert_eq!(to - from, i64::from(hours) * 3_600_000);
                assert_eq!(to % MINUTE_MS, 0);
                assert!(from >= shape.start_ms && to <= shape.end_ms + MINUTE_MS);
                assert_eq!(value("bucket"), if hours == 1 { "1m" } else { "5m" });
                let filtered: Vec<&str> = request
                    .pairs
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .filter(|name| {
                        ["origin", "brand_id", "category_id", "country", "device"].contains(name)
                    })
                    .collect();
                assert_eq!(filtered.len(), filters.dimensions(), "{filtered:?}");
                assert!(filtered.len() < 2 || filtered[0] != filtered[1]);
            }
        }
        // Data shorter than the range: the range ends just after the data.
        let short = DataShape {
            end_ms: shape.start_ms + 20_000,
            ..shape
        };
        let request = RequestMix::new(3, short).series(1, SeriesFilters::None);
        assert!(request.pairs.contains(&(
            "to".to_owned(),
            EventTime::from_millis(shape.start_ms + MINUTE_MS).to_bucket_string()
        )));
        assert!(!request.url("http://x").contains(' '));
    }

    #[test]
    fn a_top_n_ranks_one_dimension_filtered_on_others() {
        let mut mix = RequestMix::new(5, shape());
        for filters in SeriesFilters::ALL {
            for _ in 0..100 {
                let request = mix.top(24, filters);
                assert_eq!(request.path, "/v1/top");
                assert!(request.is_analytics());
                let value = |key: &str| pair(&request, key);
                let ranked = value("dimension").expect("a dimension");
                assert!(DIMENSIONS.contains(&ranked.as_str()), "{ranked}");
                assert!(matches!(
                    value("by").as_deref(),
                    Some("count" | "sum_price")
                ));
                assert_eq!(value("limit").as_deref(), Some("10"));
                assert!(value("bucket").is_none());
                let filtered: Vec<&str> = request
                    .pairs
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .filter(|name| DIMENSIONS.contains(name))
                    .collect();
                assert_eq!(filtered.len(), filters.dimensions(), "{filtered:?}");
                assert!(!filtered.contains(&ranked.as_str()), "{request:?}");
                assert!(filtered.len() < 2 || filtered[0] != filtered[1]);
            }
        }
    }

    #[test]
    fn a_profile_request_logs_as_its_path_and_query() {
        let request = RequestMix::new(4, shape()).profile();
        let logged = request.path_and_query();
        assert!(logged.starts_with("/user_profiles/cookie"), "{logged}");
        assert!(logged.contains("?time_range="), "{logged}");
        assert_eq!(
            request.url("http://127.0.0.1:8000"),
            format!("http://127.0.0.1:8000{logged}")
        );
    }
}
