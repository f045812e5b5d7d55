//! Hostile input on `POST /user_tags`, property-based: 10,000 generated requests (valid
//! tags; tags with one field broken in every way `hostile/cases.rs` knows; bodies that
//! are no tag at all; other methods, paths and content types) against a write-api served
//! by this test on the real broker, each on a topic of its own.
//!
//! Every answer must be the one the case predicts: never a 5xx, a 400 only with a JSON
//! body naming the field at fault, a 204 only for a valid tag. Afterwards the topic must
//! hold exactly the tags answered 204: a refused request wrote nothing. `PROPTEST_CASES`
//! sets another number of cases.

#[path = "hostile/cases.rs"]
mod cases;
mod common;

use cases::{Case, Expected};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use schemas::UserTag;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

const CASES: u32 = 10_000;

/// What the run saw: the bodies answered 204, and how many answers of each status.
#[derive(Default)]
struct Seen {
    recorded: Vec<Vec<u8>>,
    statuses: BTreeMap<u16, u32>,
}

#[test]
fn every_hostile_request_gets_its_answer_and_only_answered_tags_reach_the_topic() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("hostile");
    let app = runtime.block_on(async {
        test_support::create_topic(&brokers, &topic, 2).await;
        common::spawn_app(&brokers, &topic).await
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES);
    let seen = Mutex::new(Seen::default());
    // A connection per request: a server may close a connection after refusing a request
    // whose body it did not read, and a pooled client could then send the next request
    // into the closing connection. Any transport error left is the server's doing.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();

    let mut runner = TestRunner::new(Config {
        cases,
        // A failure is fixed with a regression test of its own, not a persistence file.
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&cases::case(), |case| {
        runtime.block_on(check(&http, &app.address, &case, &seen))
    });
    let seen = seen
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    eprintln!(
        "{cases} cases in {:.1} s, answers by status: {:?}",
        started.elapsed().as_secs_f64(),
        seen.statuses
    );
    if let Err(failure) = outcome {
        panic!("{failure}");
    }

    let mut expected: Vec<String> = seen
        .recorded
        .iter()
        .map(|body| {
            let tag = UserTag::from_json(body).expect("a body answered 204 is a tag");
            tag.to_json_value().to_string()
        })
        .collect();
    let mut stored: Vec<String> = runtime
        .block_on(common::decode_all(&app.topic_payloads()))
        .iter()
        .map(ToString::to_string)
        .collect();
    expected.sort();
    stored.sort();
    assert_eq!(
        stored.len(),
        expected.len(),
        "the topic holds {} records for {} answers 204",
        stored.len(),
        expected.len()
    );
    assert!(
        stored == expected,
        "the topic holds other tags than those answered 204"
    );
}

/// Sends `case` and checks its answer against [`Case::expected`].
async fn check(
    http: &reqwest::Client,
    address: &str,
    case: &Case,
    seen: &Mutex<Seen>,
) -> Result<(), TestCaseError> {
    let mut request = http
        .request(case.method.clone(), format!("{address}{}", case.path))
        .body(case.body.bytes.clone());
    if let Some(content_type) = &case.content_type {
        let value = reqwest::header::HeaderValue::from_bytes(content_type)
            .map_err(|error| TestCaseError::reject(format!("not a header value: {error}")))?;
        request = request.header(reqwest::header::CONTENT_TYPE, value);
    }
    let response = request
        .send()
        .await
        .map_err(|error| TestCaseError::fail(format!("no answer: {error:?}")))?;
    let status = response.status().as_u16();
    let answer = response
        .bytes()
        .await
        .map_err(|error| TestCaseError::fail(format!("unreadable answer: {error}")))?;
    {
        let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *seen.statuses.entry(status).or_default() += 1;
        if status == 204 {
            seen.recorded.push(case.body.bytes.clone());
        }
    }
    let answer_text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
    proptest::prop_assert!(status < 500, "answered {status}: {answer_text}");
    let named = if status == 400 {
        let error: serde_json::Value = serde_json::from_slice(&answer).map_err(|error| {
            TestCaseError::fail(format!(
                "a 400 without a JSON body ({error}): {answer_text}"
            ))
        })?;
        proptest::prop_assert!(
            error["error"].as_str().is_some_and(|text| !text.is_empty()),
            "a 400 without an error message: {answer_text}"
        );
        error["field"].as_str().map(str::to_owned)
    } else {
        None
    };
    match case.expected() {
        Expected::Status(expected) => {
            proptest::prop_assert_eq!(status, expected, "answer: {}", answer_text)
        }
        Expected::Recorded => proptest::prop_assert_eq!(status, 204, "answer: {}", answer_text),
        Expected::Refused(fields) => {
            proptest::prop_assert_eq!(status, 400, "answer: {}", answer_text);
            let named = named.unwrap_or_default();
            proptest::prop_assert!(
                fields.is_empty() || fields.contains(&named.as_str()),
                "the 400 names {named:?}, not one of {fields:?}: {answer_text}"
            );
            proptest::prop_assert!(
                named == "body"
                    || named == "product_info"
                    || cases::FIELDS.contains(&named.as_str()),
                "the 400 names no field of a tag: {answer_text}"
            );
        }
        Expected::RecordedOrRefused => proptest::prop_assert!(
            status == 204 || status == 400,
            "answered {status}: {answer_text}"
        ),
    }
    Ok(())
}
