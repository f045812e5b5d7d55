//! What real clients of this API send beyond the strict contract, through the front door
//! and on each service of the running stack (`make up`; `make test` brings it up first),
//! with exact expected answers:
//! - a trailing slash on every endpoint;
//! - profile ranges in second or millisecond precision, aggregate ranges in millisecond
//!   precision on whole minutes (anything else: a 400 saying what was expected);
//! - a tag's `time` given back byte for byte as it was sent (`.000Z` included);
//! - `GET` on the query endpoints;
//! - the same tag sent twice: one tag in the profile and one in the aggregates.
//!
//! The tags live in a minute of 2030 drawn at random and under a cookie of their own,
//! so nothing else on the stack mixes into the answers.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

struct Stack {
    client: Client,
    front_door: String,
    write_api: String,
    read_api: String,
}

impl Stack {
    fn from_env() -> Self {
        Self {
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            front_door: env_or("ALLEZON_URL", "http://127.0.0.1:8000"),
            write_api: env_or("WRITE_API_URL", "http://127.0.0.1:8081"),
            read_api: env_or("READ_API_URL", "http://127.0.0.1:8082"),
        }
    }

    async fn send(&self, base: &str, path: &str, tag: &Value) -> StatusCode {
        self.client
            .post(format!("{base}{path}"))
            .json(tag)
            .send()
            .await
            .expect("the write-api answers")
            .status()
    }

    async fn ask(&self, method: Method, url: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, url)
            .send()
            .await
            .expect("the read-api answers");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Asks until the answer is `expected` (the tags' way to the read side takes about
    /// a second), giving up after 30 s with the last answer.
    async fn eventually(&self, method: Method, url: &str, expected: &Value) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.ask(method.clone(), url).await;
            if (status == StatusCode::OK && &body == expected)
                || started.elapsed() > Duration::from_secs(30)
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A minute of 2030 no other test uses, as epoch milliseconds.
fn random_minute() -> i64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let base = 1_893_456_000_000; // 2030-01-01T00:00:00Z
    base + i64::from(nanos % 100_000) * 60_000
}

fn tag(cookie: &str, time: &str, action: &str, price: i64) -> Value {
    json!({
        "time": time,
        "cookie": cookie,
        "country": "PL",
        "device": "PC",
        "action": action,
        "origin": "compat-origin",
        "product_info": {"product_id": 7, "brand_id": "compat-brand", "category_id": "compat-category", "price": price}
    })
}

fn iso(millis: i64, fraction: &str) -> String {
    let time = schemas::EventTime::from_millis(millis).to_bucket_string();
    format!("{time}{fraction}Z")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_real_clients_send_is_accepted_and_given_back_exactly() {
    let stack = Stack::from_env();
    let minute = random_minute();
    let cookie = format!("compat-{minute}");

    // Each form of `time` a client may send, through the front door and each service,
    // with and without a trailing slash. The third BUY is sent twice (a client's retry).
    let views = [
        (iso(minute + 1_000, ".000"), &stack.front_door, "/user_tags"),
        (iso(minute + 2_000, ""), &stack.front_door, "/user_tags/"),
        (iso(minute + 3_000, ".1"), &stack.write_api, "/user_tags/"),
        (iso(minute + 4_000, ".250"), &stack.write_api, "/user_tags"),
    ];
    for (time, base, path) in &views {
        let status = stack
            .send(base, path, &tag(&cookie, time, "VIEW", 10))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{base}{path} {time}");
    }
    let buy = tag(&cookie, &iso(minute + 5_000, ".000"), "BUY", 1_000);
    for _ in 0..2 {
        assert_eq!(
            stack.send(&stack.front_door, "/user_tags/", &buy).await,
            StatusCode::NO_CONTENT
        );
    }

    // The profile: every time as sent, newest first; the repeated BUY once.
    let mut expected_views: Vec<Value> = views
        .iter()
        .map(|(time, _, _)| tag(&cookie, time, "VIEW", 10))
        .collect();
    expected_views.reverse();
    let expected_profile = json!({"cookie": cookie, "views": expected_views, "buys": [buy]});
    let seconds_range = format!(
        "{}_{}",
        schemas::EventTime::from_millis(minute).to_bucket_string(),
        schemas::EventTime::from_millis(minute + 60_000).to_bucket_string()
    );
    let millis_range = format!(
        "{}_{}",
        schemas::EventTime::from_millis(minute).to_query_millis_string(),
        schemas::EventTime::from_millis(minute + 60_000).to_query_millis_string()
    );
    let profile_paths = [
        (
            Method::POST,
            &stack.front_door,
            format!("/user_profiles/{cookie}?time_range={millis_range}"),
        ),
        (
            Method::POST,
            &stack.front_door,
            format!("/user_profiles/{cookie}/?time_range={seconds_range}"),
        ),
        (
            Method::GET,
            &stack.front_door,
            format!("/user_profiles/{cookie}?time_range={seconds_range}"),
        ),
        (
            Method::POST,
            &stack.read_api,
            format!("/user_profiles/{cookie}/?time_range={millis_range}"),
        ),
        (
            Method::GET,
            &stack.read_api,
            format!("/user_profiles/{cookie}/?time_range={seconds_range}"),
        ),
    ];
    for (method, base, path) in &profile_paths {
        let url = format!("{base}{path}");
        let answer = stack
            .eventually(method.clone(), &url, &expected_profile)
            .await;
        assert_eq!(answer, expected_profile, "{method} {url}");
    }

    // The aggregates of that minute: the repeated BUY counted once.
    let bucket = schemas::EventTime::from_millis(minute).to_bucket_string();
    let aggregates = |action: &str, count: &str, sum: &str| {
        json!({
            "columns": ["1m_bucket", "action", "origin", "count", "sum_price"],
            "rows": [[bucket, action, "compat-origin", count, sum]]
        })
    };
    let query = |range: &str, action: &str| {
        format!("?time_range={range}&action={action}&origin=compat-origin&aggregates=COUNT&aggregates=SUM_PRICE")
    };
    let aggregate_paths = [
        (
            Method::POST,
            &stack.front_door,
            format!("/aggregates{}", query(&seconds_range, "BUY")),
            aggregates("BUY", "1", "1000"),
        ),
        (
            Method::POST,
            &stack.front_door,
            format!("/aggregates/{}", query(&millis_range, "BUY")),
            aggregates("BUY", "1", "1000"),
        ),
        (
            Method::GET,
            &stack.front_door,
            format!("/aggregates/{}", query(&seconds_range, "VIEW")),
            aggregates("VIEW", "4", "40"),
        ),
        (
            Method::GET,
            &stack.read_api,
            format!("/aggregates{}", query(&millis_range, "VIEW")),
            aggregates("VIEW", "4", "40"),
        ),
        (
            Method::POST,
            &stack.read_api,
            format!("/aggregates/{}", query(&seconds_range, "BUY")),
            aggregates("BUY", "1", "1000"),
        ),
    ];
    for (method, base, path, expected) in &aggregate_paths {
        let url = format!("{base}{path}");
        let answer = stack.eventually(method.clone(), &url, expected).await;
        assert_eq!(&answer, expected, "{method} {url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_or_invalid_ranges_get_a_400_that_says_what_was_expected() {
    let stack = Stack::from_env();
    let cases = [
        // A fraction of one or two digits is neither precision.
        "/user_profiles/c?time_range=2030-01-01T00:00:00.5_2030-01-01T00:01:00",
        "/user_profiles/c/?time_range=2030-01-01T00:00_2030-01-01T00:01",
        // An instant with a zone is a tag's form, not a range end's.
        "/aggregates/?time_range=2030-01-01T00:00:00Z_2030-01-01T00:01:00Z&action=VIEW&aggregates=COUNT",
        // Milliseconds off a whole minute.
        "/aggregates?time_range=2030-01-01T00:00:00.000_2030-01-01T00:01:00.001&action=VIEW&aggregates=COUNT",
    ];
    for path in cases {
        for method in [Method::POST, Method::GET] {
            let url = format!("{}{path}", stack.front_door);
            let (status, body) = stack.ask(method.clone(), &url).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {url}: {body}");
            let message = body.to_string();
            assert!(
                message.contains("time_range")
                    && (message.contains("YYYY-MM-DDTHH:MM:SS")
                        || message.contains("whole minutes")),
                "{method} {url}: {message}"
            );
        }
    }
}
