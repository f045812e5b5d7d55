//! POST /user_tags against the real broker of the local stack.

mod common;

use common::{decode_all, sample_tag, spawn_app};
use serde_json::{json, Value};
use service_kit::metric_names::write_api as names;

async fn app_with_topic() -> common::TestApp {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("write_api");
    test_support::create_topic(&brokers, &topic, 2).await;
    spawn_app(&brokers, &topic).await
}

#[tokio::test]
async fn a_recorded_tag_is_on_the_topic_keyed_by_cookie_and_decodes_to_the_same_value() {
    let app = app_with_topic().await;
    let tag = sample_tag("9WkYGxkiXBfpMIjBGURC", 123);
    let mut string_id = sample_tag("other", 0);
    string_id["product_info"]["product_id"] = json!("sku-1");

    assert_eq!(app.post_tag(&tag).await.status(), 204);
    assert_eq!(app.post_tag(&string_id).await.status(), 204);

    let payloads = app.topic_payloads();
    assert_eq!(payloads.len(), 2);
    let mut decoded = decode_all(&payloads).await;
    decoded.sort_by_key(|value| value["cookie"].as_str().map(str::to_owned));
    assert_eq!(decoded, vec![tag, string_id]);
    for (key, payload) in &payloads {
        let decoded = schemas::TagDecoder::new(schemas::SchemaCatalog::Bundled)
            .decode(payload)
            .await
            .expect("decodes");
        assert_eq!(key, decoded.cookie.as_bytes());
        assert_eq!(payload[0], 0, "Confluent magic byte");
    }
}

#[tokio::test]
async fn every_rejection_is_a_4xx_naming_the_problem_and_produces_nothing() {
    let app = app_with_topic().await;
    let mut cases: Vec<(&str, String, u16, Option<&str>)> = Vec::new();
    let mutate = |change: &dyn Fn(&mut Value)| {
        let mut tag = sample_tag("c", 1);
        change(&mut tag);
        tag.to_string()
    };
    cases.push(("application/json", "{not json".into(), 400, Some("body")));
    cases.push((
        "application/json",
        mutate(&|tag| drop(tag.as_object_mut().map(|o| o.remove("origin")))),
        400,
        Some("origin"),
    ));
    cases.push((
        "application/json",
        mutate(&|tag| tag["extra"] = json!(1)),
        400,
        None,
    ));
    cases.push((
        "application/json",
        mutate(&|tag| tag["action"] = json!("CLICK")),
        400,
        Some("action"),
    ));
    cases.push((
        "application/json",
        mutate(&|tag| tag["device"] = json!(null)),
        400,
        Some("device"),
    ));
    cases.push((
        "application/json",
        mutate(&|tag| tag["time"] = json!("2026-03-01T12:00:00")),
        400,
        Some("time"),
    ));
    cases.push((
        "application/json",
        mutate(&|tag| tag["product_info"]["price"] = json!(2_147_483_648_i64)),
        400,
        Some("product_info.price"),
    ));
    cases.push(("application/json", "[]".into(), 400, Some("body")));
    cases.push(("text/plain", sample_tag("c", 1).to_string(), 415, None));
    cases.push((
        "application/json",
        format!("{{\"cookie\":\"{}\"}}", "x".repeat(100_000)),
        413,
        None,
    ));

    for (content_type, body, status, field) in cases {
        let response = app.post_raw(content_type, body.clone()).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "body {}",
            &body[..body.len().min(120)]
        );
        let error: Value = response.json().await.expect("JSON error body");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "{error}"
        );
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{error}");
        }
    }
    assert!(
        app.topic_payloads().is_empty(),
        "a rejected tag reached the topic"
    );
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let app = app_with_topic().await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    assert_eq!(app.post_tag(&sample_tag("m", 5)).await.status(), 204);
    let _ = app.post_raw("text/plain", "x".into()).await;
    let metrics = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics text");
    assert!(metrics.contains(names::TAGS_ACCEPTED.name), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "{}{{reason=\"unsupported_media_type\"}}",
            names::TAGS_REJECTED.name
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&names::PRODUCE_DURATION.bucket_series()),
        "{metrics}"
    );
}
