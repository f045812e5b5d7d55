//! `spawn_app`: a read-api on a random port against a fresh migrated ClickHouse
//! database, with a shutdown handle, typed request helpers, and helpers that insert
//! tags into `user_tags` (the materialized view fills `minute_aggregates`).

#![allow(dead_code, unreachable_pub)]

use read_api::Application;
use read_api::Config;
use read_model::{LogPosition, UserTagRow};
use schemas::{EventTime, UserTag};
use serde_json::{json, Value};
use service_kit::settings::ClickHouseSettings;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use test_support::ServedApp;

/// 2026-03-01T12:00:00Z.
pub const BASE_MILLIS: i64 = 1_772_366_400_000;
pub use schemas::contract::MINUTE_MILLIS;

/// The debug-mode mismatch counter is process-wide: the test that reads it holds this
/// for writing, tests that send wrong expected answers hold it for reading.
pub static DEBUG_MISMATCHES: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    served: ServedApp,
}

/// A read-api with generous deadlines: correctness tests must not depend on latency
/// on a loaded two-core machine; the outage tests use the production deadline.
pub async fn spawn_app(clickhouse: &ClickHouseSettings) -> TestApp {
    let mut config = Config::local_defaults();
    config.query_deadline = Duration::from_secs(5);
    config.aggregates_deadline = Duration::from_secs(10);
    // No archive, whatever the environment says (scripts/lib.sh exports one): the cube
    // answers every /v1/ read; history.rs gives its app an archive of its own.
    config.archive_url = String::new();
    spawn_app_with(clickhouse, config).await
}

pub async fn spawn_app_with(clickhouse: &ClickHouseSettings, mut config: Config) -> TestApp {
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.clickhouse = clickhouse.clone();
    let application = Application::build(config).await.expect("read-api builds");
    let served = ServedApp::spawn(application.port(), |signal| application.run_until(signal));
    TestApp {
        address: served.address.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client"),
        served,
    }
}

impl TestApp {
    /// `POST /user_profiles/{cookie}?<query>` with an optional debug body.
    pub async fn profile(
        &self,
        cookie: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> reqwest::Response {
        let url = format!(
            "{}/user_profiles/{}?{}",
            self.address,
            encode(cookie),
            query_string(query)
        );
        self.post(url, body).await
    }

    /// The 200 answer to a profile query over `[from, to)` in ms.
    pub async fn profile_json(
        &self,
        cookie: &str,
        from: i64,
        to: i64,
        limit: Option<&str>,
    ) -> Value {
        let range = millis_range(from, to);
        let mut query = vec![("time_range", range.as_str())];
        if let Some(limit) = limit {
            query.push(("limit", limit));
        }
        ok_json(self.profile(cookie, &query, None).await).await
    }

    /// `POST /aggregates?<query>` with an optional debug body.
    pub async fn aggregates(
        &self,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> reqwest::Response {
        let url = format!("{}/aggregates?{}", self.address, query_string(query));
        self.post(url, body).await
    }

    /// The 200 answer to an aggregates query.
    pub async fn aggregates_json(&self, query: &[(&str, &str)]) -> Value {
        ok_json(self.aggregates(query, None).await).await
    }

    async fn post(&self, url: String, body: Option<String>) -> reqwest::Response {
        let mut request = self.http.post(url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text")
    }

    /// Starts the graceful shutdown and waits for it to finish.
    pub async fn shut_down(&mut self) {
        self.served.shut_down().await;
    }
}

pub async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "answer: {text}");
    serde_json::from_str(&text).expect("JSON answer")
}

/// Asserts a 400 whose JSON error names `parameter`.
pub async fn assert_bad_parameter(response: reqwest::Response, parameter: &str) {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 400, "answer: {text}");
    let body: Value = serde_json::from_str(&text).expect("JSON error");
    assert_eq!(body["parameter"], parameter, "answer: {text}");
    assert!(body["error"].is_string(), "answer: {text}");
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

pub fn query_string(query: &[(&str, &str)]) -> String {
    query
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query time with milliseconds: `2026-03-01T12:00:00.000`.
pub fn query_millis(millis: i64) -> String {
    let instant = EventTime::from_millis(millis).to_instant_string();
    let text = instant.trim_end_matches('Z');
    if text.contains('.') {
        text.to_owned()
    } else {
        format!("{text}.000")
    }
}

pub fn millis_range(from: i64, to: i64) -> String {
    format!("{}_{}", query_millis(from), query_millis(to))
}

/// A query time with seconds: `2026-03-01T12:00:00`.
pub fn query_seconds(millis: i64) -> String {
    EventTime::from_millis(millis).to_bucket_string()
}

pub fn seconds_range(from: i64, to: i64) -> String {
    format!("{}_{}", query_seconds(from), query_seconds(to))
}

/// A tag as the reference harness sends it (Java `Instant.toString()` time).
pub fn tag(cookie: &str, action: &str, millis: i64) -> Value {
    json!({
        "time": EventTime::from_millis(millis).to_instant_string(),
        "cookie": cookie,
        "country": "CL",
        "device": "PC",
        "action": action,
        "origin": "CAMPAIGN_321",
        "product_info": {"product_id": 12486, "brand_id": "Ebros_Gift", "category_id": "Shoes___Accessories", "price": 1999}
    })
}

/// A tag with the given filter fields and price.
pub fn priced_tag(
    action: &str,
    millis: i64,
    origin: &str,
    brand: &str,
    category: &str,
    price: i64,
) -> Value {
    let mut tag = tag("shopper", action, millis);
    tag["origin"] = json!(origin);
    tag["product_info"]["brand_id"] = json!(brand);
    tag["product_info"]["category_id"] = json!(category);
    tag["product_info"]["price"] = json!(price);
    tag
}

static NEXT_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Inserts the tags into `user_tags` in one insert. Copies of one tag are kept apart,
/// as separate projector batches (a replay) would leave them: ClickHouse would
/// otherwise collapse copies within one insert (`optimize_on_insert`).
pub async fn insert_tags(clickhouse: &ClickHouseSettings, tags: &[Value]) {
    let client = service_kit::clickhouse::client(clickhouse);
    let mut insert = client
        .insert::<UserTagRow>("user_tags")
        .await
        .expect("insert starts")
        .with_setting("optimize_on_insert", "0");
    for tag in tags {
        let parsed = UserTag::from_json(tag.to_string().as_bytes()).expect("valid test tag");
        let position = LogPosition {
            partition: 0,
            offset: NEXT_OFFSET.fetch_add(1, Ordering::Relaxed),
        };
        insert
            .write(&UserTagRow::from_tag(&parsed, position))
            .await
            .expect("row written");
    }
    insert.end().await.expect("insert ends");
}

/// The value of one series in a Prometheus text rendering, `None` when it is absent
/// (a counter never incremented is not rendered: callers say what absence means).
pub fn metric_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}
