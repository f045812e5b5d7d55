//! `GET /v1/newest` against a real ClickHouse: the newest minute with data, per action,
//! before a bound (exclusive, on minute starts), null when there is none.

use crate::common::{
    assert_bad_parameter, insert_tags, ok_json, spawn_app, tag, BASE_MILLIS, MINUTE_MILLIS,
};
use serde_json::Value;

fn at(minute: i64) -> String {
    schemas::EventTime::from_millis(BASE_MILLIS + minute * MINUTE_MILLIS).to_bucket_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_minute_is_per_action_and_before_a_bound() {
    let database = test_support::migrated_database("read_api_newest").await;
    let app = spawn_app(&database).await;
    let empty = ok_json(app.get("/v1/newest").await).await;
    assert_eq!(empty["minute"], Value::Null);

    // Views at minutes 0, 5 and 42 (late in the minute), buys at 3 and 30; and a view
    // dated years ahead, as a test or a broken clock may send.
    let far_ahead = 6 * 365 * 24 * 60;
    let mut tags = Vec::new();
    for minute in [0, 5, 42] {
        tags.push(tag(
            "a",
            "VIEW",
            BASE_MILLIS + minute * MINUTE_MILLIS + 59_999,
        ));
    }
    for minute in [3, 30] {
        tags.push(tag("b", "BUY", BASE_MILLIS + minute * MINUTE_MILLIS));
    }
    tags.push(tag("c", "VIEW", BASE_MILLIS + far_ahead * MINUTE_MILLIS));
    insert_tags(&database, &tags).await;

    let newest = |query: String| {
        let app = &app;
        async move {
            let answer = ok_json(app.get(&format!("/v1/newest{query}")).await).await;
            answer["minute"].as_str().map(str::to_owned)
        }
    };
    assert_eq!(newest(String::new()).await, Some(at(far_ahead)));
    assert_eq!(newest("?action=BUY".to_owned()).await, Some(at(30)));
    // The bound is exclusive and on minute starts: minute 42 starts before 42:00:01.
    let bounded = |action: &str, before: String| format!("?action={action}&before={before}");
    assert_eq!(
        newest(bounded("VIEW", format!("{}Z", at(60)))).await,
        Some(at(42))
    );
    assert_eq!(newest(bounded("VIEW", at(42))).await, Some(at(5)));
    assert_eq!(
        newest(bounded("VIEW", "2026-03-01T12:42:01".to_owned())).await,
        Some(at(42))
    );
    assert_eq!(newest(format!("?before={}", at(4))).await, Some(at(3)));
    assert_eq!(newest(bounded("BUY", at(3))).await, None);

    let answer = ok_json(
        app.get(&format!("/v1/newest?action=VIEW&before={}", at(10)))
            .await,
    )
    .await;
    assert_eq!(
        answer,
        serde_json::json!({"action": "VIEW", "before": at(10), "minute": at(5)})
    );

    for (query, parameter) in [("action=CLICK", "action"), ("before=yesterday", "before")] {
        assert_bad_parameter(app.get(&format!("/v1/newest?{query}")).await, parameter).await;
    }
    let description = ok_json(app.get("/v1/openapi.json").await).await;
    assert!(description["paths"]["/v1/newest"]["get"].is_object());
    assert!(description["components"]["schemas"]["NewestAnswer"].is_object());
}
