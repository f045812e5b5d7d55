//! Debug mode: an expected answer in the body is compared, never echoed. The mismatch
//! counter is process-wide: this test holds `DEBUG_MISMATCHES` while it reads it.

use crate::common::{
    insert_tags, metric_value, millis_range, ok_json, priced_tag, seconds_range, spawn_app, tag,
    BASE_MILLIS, DEBUG_MISMATCHES, MINUTE_MILLIS,
};
use serde_json::json;
use service_kit::metric_names::{http, read_api as names};

/// The mismatch counter's series for `endpoint`.
fn mismatches(endpoint: &str) -> String {
    format!(
        "{}{{endpoint=\"{endpoint}\"}}",
        names::DEBUG_MISMATCHES.name
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_answers_are_compared_and_mismatches_counted_never_echoed() {
    let _counter = DEBUG_MISMATCHES.write().await;
    let database = test_support::migrated_database("read_api").await;
    // A whole second: our answer says ...:00Z, the expectation below says ...:00.000Z.
    let sent = tag("c", "VIEW", BASE_MILLIS);
    insert_tags(
        &database,
        &[
            sent.clone(),
            priced_tag("BUY", BASE_MILLIS, "o", "b", "k", 9),
        ],
    )
    .await;
    let app = spawn_app(&database).await;

    // Profiles.
    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    let query = [("time_range", range.as_str())];
    let ours = ok_json(app.profile("c", &query, None).await).await;
    let mut same_instant = ours.clone();
    same_instant["views"][0]["time"] = json!("2026-03-01T12:00:00.000Z");
    assert_ne!(same_instant, ours);
    // No mismatch yet in this process: the counter is not rendered until one.
    let before = metric_value(&app.metrics().await, &mismatches("user_profiles")).unwrap_or(0.0);

    let matching = app
        .profile("c", &query, Some(same_instant.to_string()))
        .await;
    assert_eq!(ok_json(matching).await, ours);
    let not_json = app
        .profile("c", &query, Some("not json {".to_owned()))
        .await;
    assert_eq!(ok_json(not_json).await, ours);
    assert_eq!(
        metric_value(&app.metrics().await, &mismatches("user_profiles")).unwrap_or(0.0),
        before
    );

    let wrong = json!({"cookie": "c", "views": [], "buys": [sent]});
    let answer = app.profile("c", &query, Some(wrong.to_string())).await;
    assert_eq!(ok_json(answer).await, ours);
    assert_eq!(
        metric_value(&app.metrics().await, &mismatches("user_profiles")),
        Some(before + 1.0)
    );

    // Aggregates.
    let window = seconds_range(BASE_MILLIS, BASE_MILLIS + MINUTE_MILLIS);
    let query = [
        ("time_range", window.as_str()),
        ("action", "BUY"),
        ("aggregates", "COUNT"),
    ];
    let ours = ok_json(app.aggregates(&query, None).await).await;
    let before = metric_value(&app.metrics().await, &mismatches("aggregates")).unwrap_or(0.0);

    let matching = app.aggregates(&query, Some(ours.to_string())).await;
    assert_eq!(ok_json(matching).await, ours);
    assert_eq!(
        metric_value(&app.metrics().await, &mismatches("aggregates")).unwrap_or(0.0),
        before
    );

    let mut wrong = ours.clone();
    wrong["rows"][0][2] = json!("2");
    let answer = app.aggregates(&query, Some(wrong.to_string())).await;
    assert_eq!(ok_json(answer).await, ours);
    let mut as_numbers = ours.clone();
    as_numbers["rows"][0][2] = json!(1);
    let answer = app.aggregates(&query, Some(as_numbers.to_string())).await;
    assert_eq!(ok_json(answer).await, ours);
    assert_eq!(
        metric_value(&app.metrics().await, &mismatches("aggregates")),
        Some(before + 2.0)
    );

    // The request metrics of the shared HTTP layers are rendered, per route.
    let metrics = app.metrics().await;
    for series in [
        http::REQUESTS.name.to_owned(),
        http::REQUEST_DURATION.bucket_series(),
        http::REQUESTS_IN_FLIGHT.name.to_owned(),
        names::DEBUG_MISMATCHES.name.to_owned(),
    ] {
        assert!(
            metrics.contains(&format!("{series}{{")),
            "{series} missing from:\n{metrics}"
        );
    }
    assert!(
        metrics.contains(
            r#"http_requests_total{service="read-api",route="/aggregates",status="200"}"#
        ),
        "{metrics}"
    );
}
