//! Hostile input on the query endpoints, property-based: 10,000 generated requests per
//! endpoint (see `hostile/requests.rs`), sent byte for byte (no client library to
//! normalise or refuse them) to a read-api served by the test on a database holding
//! hostile but legal data (`hostile/data.rs`).
//!
//! Never a 5xx. A malformed request is a 400 whose JSON body names a parameter at
//! fault; a request that passes is answered exactly as the model of the data says,
//! whatever the debug-mode body. Input ClickHouse would refuse (a cookie longer than any
//! tag may carry, a filter value as long) is answered without asking it. A request the
//! HTTP layer cannot take (a target past the URI limit) is a 4xx. And the requests change
//! nothing: the database holds the same tables, tags and sums afterwards
//! ([`Served::fingerprint`]). `PROPTEST_CASES` sets another number of cases.
//!
//! The analysts' endpoints under `/v1/` get the same treatment in `hostile/v1.rs`.

mod data;
mod requests;
mod v1;

use crate::common::{spawn_app, spawn_app_with, TestApp, DEBUG_MISMATCHES};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use requests::{
    body_bytes, debug_body, method, occurrences, param, segment, shuffled, stray_params,
    time_range, DebugBody, Param, Precision, Range, RangeCase, Segment, SegmentCase,
    LONGEST_TARGET,
};
use serde_json::Value;
use service_kit::settings::ClickHouseSettings;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::raw_http;

const CASES: u32 = 10_000;
/// axum's default body limit: read-api reads a debug-mode body up to this.
const SERVER_BODY_LIMIT: usize = 2 * 1024 * 1024;
const MINUTE_MS: i64 = 60_000;
/// The last whole minute a ClickHouse `DateTime` holds.
const LAST_MINUTE_MS: i64 = 4_294_967_280_000;

/// What a request must get.
#[derive(Debug, Clone)]
enum Want {
    /// Exactly this status.
    Status(u16),
    /// A 4xx from the HTTP layer or from us.
    ClientError,
    /// 400 naming one of these parameters.
    Refused(Vec<&'static str>),
    /// 200 with exactly this answer.
    Answer(Value),
    /// 200 (any answer) or 400 naming one of these.
    AnswerOrRefused(Vec<&'static str>),
    /// Anything but a 5xx.
    Anything,
    /// The status the same GET would get, and no body (a HEAD).
    Head(Box<Want>),
}

impl Want {
    /// What a request with `method` gets when a POST or GET would get `self`: the
    /// query endpoints answer POST and GET alike (some clients GET), HEAD like GET
    /// without a body, and refuse other methods with 405.
    fn for_method(self, method: &str) -> Self {
        match method {
            "POST" | "GET" => self,
            "HEAD" => Self::Head(Box::new(self)),
            _ => Self::Status(405),
        }
    }
}

/// A served read-api over the hostile data.
struct Served {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
    database: ClickHouseSettings,
    tags: Vec<Value>,
    statuses: Mutex<BTreeMap<u16, u32>>,
}

impl Served {
    fn start() -> Self {
        Self::start_with(None)
    }

    /// A read-api over the hostile data, with `config` (its ClickHouse settings are
    /// replaced by the test database's) or the tests' defaults.
    fn start_with(config: Option<read_api::Config>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let tags = data::tags();
        let (database, app) = runtime.block_on(async {
            let database = test_support::migrated_database("hostile").await;
            crate::common::insert_tags(&database, &tags).await;
            let app = match config {
                Some(config) => spawn_app_with(&database, config).await,
                None => spawn_app(&database).await,
            };
            (database, app)
        });
        Self {
            runtime,
            app,
            database,
            tags,
            statuses: Mutex::default(),
        }
    }

    /// Runs `cases` of `strategy` through `check`, and reports how long it took.
    fn run<S: Strategy>(
        &self,
        name: &str,
        strategy: S,
        check: impl Fn(&Self, &S::Value) -> Result<(), TestCaseError>,
    ) {
        // Hostile bodies include wrong expected answers, which move the process-wide
        // debug-mode mismatch counter; the debug-mode test must not see that.
        let _counter = DEBUG_MISMATCHES.blocking_read();
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(CASES);
        let before = self.fingerprint();
        let started = Instant::now();
        let mut runner = TestRunner::new(Config {
            cases,
            // A failure is fixed with a regression test of its own, not a persistence file.
            failure_persistence: None,
            // Each step is a request; a few hundred find a small case in a minute or two.
            max_shrink_iters: 500,
            ..Config::default()
        });
        let outcome = runner.run(&strategy, |case| check(self, &case));
        eprintln!(
            "{name}: {cases} cases in {:.1} s, answers by status: {:?}",
            started.elapsed().as_secs_f64(),
            self.statuses
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        );
        if let Err(failure) = outcome {
            panic!("{failure}");
        }
        assert_eq!(
            self.fingerprint(),
            before,
            "{name}: the requests changed the data"
        );
    }

    /// What the database holds, in a form any write would change: per table, its name,
    /// its distinct rows, and a hash of their content (order and merges aside: copies of
    /// a row and a SummingMergeTree's rows are summed per key first).
    fn fingerprint(&self) -> Vec<(String, u64, u64)> {
        let client = service_kit::clickhouse::client(&self.database);
        self.runtime.block_on(async {
            let tables: Vec<String> = client
                .query(
                    "SELECT name FROM system.tables WHERE database = currentDatabase() \
                     AND engine LIKE '%MergeTree' ORDER BY name",
                )
                .fetch_all()
                .await
                .expect("tables listed");
            let mut fingerprint = Vec::new();
            for table in tables {
                let sql = if table == "minute_aggregates" {
                    "SELECT count(), sum(cityHash64(key, total, price)) FROM (\
                     SELECT (action, minute, origin, brand_id, category_id, country, device) AS key, \
                     sum(count) AS total, sum(sum_price) AS price FROM minute_aggregates GROUP BY key)"
                        .to_owned()
                } else {
                    format!("SELECT count(), sum(cityHash64(*)) FROM (SELECT DISTINCT * FROM {table})")
                };
                let (rows, hash): (u64, u64) = client
                    .query(&sql)
                    .fetch_one()
                    .await
                    .unwrap_or_else(|error| panic!("{table} fingerprinted: {error}"));
                fingerprint.push((table, rows, hash));
            }
            fingerprint
        })
    }

    /// Sends a request and checks its answer against `want`.
    fn exchange(
        &self,
        method: &str,
        target: &[u8],
        content_type: Option<&str>,
        body: &[u8],
        want: &Want,
    ) -> Result<(), TestCaseError> {
        let headers: Vec<(&str, &[u8])> = content_type
            .map(|content_type| ("content-type", content_type.as_bytes()))
            .into_iter()
            .collect();
        self.exchange_with_headers(method, target, &headers, body, want)
    }

    /// Sends a request with `headers` and checks its answer against `want`.
    fn exchange_with_headers(
        &self,
        method: &str,
        target: &[u8],
        headers: &[(&str, &[u8])],
        body: &[u8],
        want: &Want,
    ) -> Result<(), TestCaseError> {
        let address = self.app.address.trim_start_matches("http://");
        let request = raw_http::request(method, target, headers, body);
        let exchanged = self.runtime.block_on(raw_http::exchange(
            address,
            &request,
            Duration::from_secs(30),
        ));
        let response = match exchanged {
            Ok(response) => response,
            // A body past axum's limit is not read to its end: read-api answers from its
            // own data and closes, and a client still sending may get a reset instead of
            // the answer (no lingering close). Through the front door nginx refuses such
            // a body first (413, client_max_body_size 1m).
            Err(error)
                if body.len() > SERVER_BODY_LIMIT
                    && matches!(
                        error.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
            {
                self.count(0);
                return Ok(());
            }
            Err(error) => return Err(TestCaseError::fail(format!("no answer: {error}"))),
        };
        self.count(response.status);
        judge(&response, want)
    }

    /// Counts an answer by status (0: the connection was reset).
    fn count(&self, status: u16) {
        *self
            .statuses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(status)
            .or_default() += 1;
    }
}

fn judge(response: &raw_http::RawResponse, want: &Want) -> Result<(), TestCaseError> {
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body[..response.body.len().min(400)]).into_owned();
    prop_assert!(status < 500, "answered {status}: {text}");
    let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
    let refusal = |fields: &[&str]| -> Result<(), TestCaseError> {
        prop_assert_eq!(status, 400, "answer: {}", text);
        let body = parsed
            .as_ref()
            .ok_or_else(|| TestCaseError::fail(format!("a 400 without a JSON body: {text}")))?;
        let named = body["parameter"].as_str().unwrap_or_default();
        prop_assert!(
            fields.contains(&named),
            "the 400 names {named:?}, not one of {fields:?}: {text}"
        );
        prop_assert!(
            body["error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "a 400 without an error message: {text}"
        );
        Ok(())
    };
    match want {
        Want::Status(expected) => prop_assert_eq!(status, *expected, "answer: {}", text),
        Want::ClientError => {
            prop_assert!((400..500).contains(&status), "answered {status}: {text}")
        }
        Want::Refused(fields) => refusal(fields)?,
        Want::Answer(expected) => {
            prop_assert_eq!(status, 200, "answer: {}", text);
            prop_assert!(
                parsed.as_ref() == Some(expected),
                "answered {text}\nexpected {}",
                expected.to_string().chars().take(400).collect::<String>()
            );
        }
        Want::AnswerOrRefused(fields) => {
            if status != 200 {
                refusal(fields)?;
            }
        }
        Want::Anything => {}
        Want::Head(of) => {
            prop_assert!(
                response.body.is_empty(),
                "a HEAD answered with a body: {text}"
            );
            match of.as_ref() {
                Want::Status(expected) => prop_assert_eq!(status, *expected),
                Want::ClientError => {
                    prop_assert!((400..500).contains(&status), "HEAD answered {status}")
                }
                Want::Refused(_) => prop_assert_eq!(status, 400),
                Want::Answer(_) => prop_assert_eq!(status, 200),
                Want::AnswerOrRefused(_) => {
                    prop_assert!(status == 200 || status == 400, "HEAD answered {status}")
                }
                Want::Anything | Want::Head(_) => {}
            }
        }
    }
    Ok(())
}

// ----- profiles -----

/// One generated `POST /user_profiles/{cookie}`.
#[derive(Debug, Clone)]
struct ProfileCase {
    method: &'static str,
    segment: SegmentCase,
    time_ranges: Vec<RangeCase>,
    /// Each `limit` given: its text, and its value when it is a valid limit.
    limits: Vec<(String, Option<u64>)>,
    /// Every parameter, in the order sent.
    params: Vec<Param>,
    body: (DebugBody, Option<&'static str>),
}

fn limit() -> impl Strategy<Value = (String, Option<u64>)> {
    prop_oneof![
        4 => (0_u64..300).prop_map(|limit| (limit.to_string(), Some(limit))),
        1 => any::<u64>().prop_map(|limit| (limit.to_string(), Some(limit))),
        1 => select(vec![("007", Some(7)), ("0", Some(0)), ("18446744073709551615", Some(u64::MAX))])
            .prop_map(|(text, limit)| (text.to_owned(), limit)),
        1 => select(vec![
            "-1", "+1", "1.5", "", " 1", "1 ", "0x10", "１", "18446744073709551616",
            "99999999999999999999999", "1e3", "ten", "\u{0}", "\u{fffd}", "2,3",
        ])
        .prop_map(|text| (text.to_owned(), None)),
    ]
}

fn profile_case() -> impl Strategy<Value = ProfileCase> {
    (
        method(),
        segment(),
        occurrences().prop_flat_map(|count| {
            prop::collection::vec((time_range(Precision::Millis), any::<bool>()), count)
        }),
        prop_oneof![3 => Just(0_usize), 2 => Just(1), 1 => Just(2)]
            .prop_flat_map(|count| prop::collection::vec((limit(), any::<bool>()), count)),
        stray_params(),
        debug_body(),
    )
        .prop_flat_map(|(method, segment, ranges, limits, stray, body)| {
            let mut params: Vec<Param> = ranges
                .iter()
                .map(|(range, encode_key)| param("time_range", range.text.clone(), *encode_key))
                .collect();
            params.extend(
                limits
                    .iter()
                    .map(|((text, _), encode_key)| param("limit", text.clone(), *encode_key)),
            );
            params.extend(stray);
            let time_ranges: Vec<RangeCase> = ranges.into_iter().map(|(range, _)| range).collect();
            let limits: Vec<(String, Option<u64>)> =
                limits.into_iter().map(|(limit, _)| limit).collect();
            shuffled(params).prop_map(move |params| ProfileCase {
                method,
                segment: segment.clone(),
                time_ranges: time_ranges.clone(),
                limits: limits.clone(),
                params,
                body: body.clone(),
            })
        })
}

fn target(path: &[u8], params: &[Param]) -> Vec<u8> {
    let mut target = path.to_vec();
    if !params.is_empty() {
        target.push(b'?');
        let joined: Vec<&str> = params.iter().map(|param| param.raw.as_str()).collect();
        target.extend_from_slice(joined.join("&").as_bytes());
    }
    target
}

/// The parameters of a single range that is refused, or its ends.
fn range_verdict(ranges: &[RangeCase]) -> Result<Option<(i64, i64)>, ()> {
    match ranges {
        [single] => match single.meaning {
            Range::Spelled(from, to) if from < to => Ok(Some((from, to))),
            Range::Either => Ok(None),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

fn profile_want(served: &Served, case: &ProfileCase, target_length: usize) -> Want {
    if target_length > LONGEST_TARGET {
        return Want::ClientError;
    }
    let cookie = match &case.segment.meaning {
        Segment::NoRoute => return Want::Status(404),
        Segment::Unruly => return Want::Anything,
        Segment::NotUtf8 => return Want::Refused(vec!["cookie"]).for_method(case.method),
        Segment::Cookie(cookie) => cookie,
    };
    if !matches!(case.method, "POST" | "GET" | "HEAD") {
        return Want::Status(405);
    }
    let range = range_verdict(&case.time_ranges);
    let limit = match case.limits.as_slice() {
        [] => Ok(200),
        [(_, Some(limit))] => Ok(*limit),
        _ => Err(()),
    };
    let mut refused = Vec::new();
    if range.is_err() {
        refused.push("time_range");
    }
    if limit.is_err() {
        refused.push("limit");
    }
    let want = match (range, limit) {
        (Ok(Some((from, to))), Ok(limit)) => {
            Want::Answer(data::profile(&served.tags, cookie, from, to, limit))
        }
        (Ok(None), Ok(_)) => Want::AnswerOrRefused(vec!["time_range"]),
        (Ok(None), Err(())) => Want::Refused(vec!["time_range", "limit"]),
        _ => Want::Refused(refused),
    };
    want.for_method(case.method)
}

fn check_profile(served: &Served, case: &ProfileCase) -> Result<(), TestCaseError> {
    let mut path = b"/user_profiles/".to_vec();
    path.extend_from_slice(&case.segment.raw);
    let target = target(&path, &case.params);
    let want = profile_want(served, case, target.len());
    let right = match &want {
        Want::Answer(answer) => Some(answer),
        _ => None,
    };
    let body = body_bytes(&case.body.0, right);
    served.exchange(case.method, &target, case.body.1, &body, &want)
}

#[test]
fn hostile_profile_queries_are_answered_by_us_and_never_with_a_5xx() {
    let served = Served::start();
    served.run("profiles", profile_case(), check_profile);
}

// ----- aggregates -----

/// One generated `POST /aggregates`.
#[derive(Debug, Clone)]
struct AggregatesCase {
    method: &'static str,
    time_ranges: Vec<RangeCase>,
    /// Each `action` given, and whether it is one.
    actions: Vec<(String, bool)>,
    /// Each `aggregates` given, and which one it is.
    aggregates: Vec<(String, Option<&'static str>)>,
    /// Each filter's values, in the contract's order.
    filters: Vec<(&'static str, Vec<String>)>,
    params: Vec<Param>,
    body: (DebugBody, Option<&'static str>),
}

fn action() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        14 => select(vec!["VIEW", "BUY"]).prop_map(|action| (action.to_owned(), true)),
        1 => select(vec!["view", "BUY ", "", "CLICK", "VIEW,BUY", "\u{0}", "VIEW\u{0}", "ВUY"])
            .prop_map(|action| (action.to_owned(), false)),
        1 => requests::any_text().prop_map(|text| {
            let valid = text == "VIEW" || text == "BUY";
            (text, valid)
        }),
    ]
}

fn aggregate() -> impl Strategy<Value = (String, Option<&'static str>)> {
    prop_oneof![
        14 => select(vec!["COUNT", "SUM_PRICE"]).prop_map(|name| (name.to_owned(), Some(name))),
        1 => select(vec!["count", "AVG", "", "COUNT ", "SUM_PRICE,COUNT", "SUM", "\u{0}"])
            .prop_map(|name| (name.to_owned(), None)),
        1 => requests::any_text().prop_map(|text| {
            let known = ["COUNT", "SUM_PRICE"].into_iter().find(|name| *name == text);
            (text, known)
        }),
    ]
}

fn filter_values() -> impl Strategy<Value = Vec<String>> {
    let value = prop_oneof![
        4 => select(data::dimensions()),
        1 => requests::any_text(),
    ];
    prop_oneof![10 => Just(0_usize), 8 => Just(1), 1 => Just(2)]
        .prop_flat_map(move |count| prop::collection::vec(value.clone(), count))
}

fn aggregates_case() -> impl Strategy<Value = AggregatesCase> {
    let ranges = occurrences().prop_flat_map(|count| {
        prop::collection::vec((time_range(Precision::Seconds), any::<bool>()), count)
    });
    let actions = occurrences().prop_flat_map(|count| prop::collection::vec(action(), count));
    let aggregates = prop_oneof![
        16 => 1_usize..=2,
        1 => Just(0),
        1 => 3_usize..30,
    ]
    .prop_flat_map(|count| prop::collection::vec(aggregate(), count));
    let filters = (filter_values(), filter_values(), filter_values());
    (
        method(),
        ranges,
        actions,
        aggregates,
        filters,
        stray_params(),
        debug_body(),
    )
        .prop_flat_map(
            |(method, ranges, actions, aggregates, (origin, brand, category), stray, body)| {
                let mut params: Vec<Param> = ranges
                    .iter()
                    .map(|(range, encode_key)| param("time_range", range.text.clone(), *encode_key))
                    .collect();
                params.extend(
                    actions
                        .iter()
                        .map(|(action, _)| param("action", action.clone(), false)),
                );
                params.extend(
                    aggregates
                        .iter()
                        .map(|(name, _)| param("aggregates", name.clone(), false)),
                );
                let filters = vec![
                    ("origin", origin),
                    ("brand_id", brand),
                    ("category_id", category),
                ];
                for (name, values) in &filters {
                    params.extend(values.iter().map(|value| param(name, value.clone(), false)));
                }
                params.extend(stray);
                let time_ranges: Vec<RangeCase> =
                    ranges.into_iter().map(|(range, _)| range).collect();
                shuffled(params).prop_map(move |params| AggregatesCase {
                    method,
                    time_ranges: time_ranges.clone(),
                    actions: actions.clone(),
                    aggregates: aggregates.clone(),
                    filters: filters.clone(),
                    params,
                    body: body.clone(),
                })
            },
        )
}

/// Whole minutes, at most ten of them, within what a ClickHouse `DateTime` holds.
fn admissible_window(from: i64, to: i64) -> bool {
    from < to
        && from % MINUTE_MS == 0
        && to % MINUTE_MS == 0
        && to - from <= 10 * MINUTE_MS
        && from >= 0
        && to <= LAST_MINUTE_MS
}

fn aggregates_want(served: &Served, case: &AggregatesCase, target_length: usize) -> Want {
    if target_length > LONGEST_TARGET {
        return Want::ClientError;
    }
    if !matches!(case.method, "POST" | "GET" | "HEAD") {
        return Want::Status(405);
    }
    let mut refused = Vec::new();
    let range = match case.time_ranges.as_slice() {
        [single] => match single.meaning {
            Range::Spelled(from, to) if admissible_window(from, to) => Ok(Some((from, to))),
            Range::Either => Ok(None),
            _ => Err(()),
        },
        _ => Err(()),
    };
    if range.is_err() {
        refused.push("time_range");
    }
    let action = match case.actions.as_slice() {
        [(action, true)] => Some(if action == "VIEW" { "VIEW" } else { "BUY" }),
        _ => {
            refused.push("action");
            None
        }
    };
    let aggregates: Option<Vec<&'static str>> =
        case.aggregates.iter().map(|(_, known)| *known).collect();
    let aggregates = aggregates.filter(|aggregates| !aggregates.is_empty());
    if aggregates.is_none() {
        refused.push("aggregates");
    }
    let mut filters = Vec::new();
    for (name, values) in &case.filters {
        match values.as_slice() {
            [] => {}
            [value] => filters.push((*name, value.clone())),
            _ => refused.push(*name),
        }
    }
    let want = match (range, action, aggregates) {
        (Ok(Some((from, to))), Some(action), Some(aggregates)) if refused.is_empty() => {
            Want::Answer(data::aggregates(
                &served.tags,
                &data::AggregatesQuery {
                    from,
                    to,
                    action,
                    aggregates,
                    filters,
                },
            ))
        }
        (Ok(None), _, _) => {
            refused.push("time_range");
            if refused.len() == 1 {
                Want::AnswerOrRefused(refused)
            } else {
                Want::Refused(refused)
            }
        }
        _ => Want::Refused(refused),
    };
    want.for_method(case.method)
}

fn check_aggregates(served: &Served, case: &AggregatesCase) -> Result<(), TestCaseError> {
    let target = target(b"/aggregates", &case.params);
    let want = aggregates_want(served, case, target.len());
    let right = match &want {
        Want::Answer(answer) => Some(answer),
        _ => None,
    };
    let body = body_bytes(&case.body.0, right);
    served.exchange(case.method, &target, case.body.1, &body, &want)
}

#[test]
fn hostile_aggregates_queries_are_answered_by_us_and_never_with_a_5xx() {
    let served = Served::start();
    served.run("aggregates", aggregates_case(), check_aggregates);
}
