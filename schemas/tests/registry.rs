//! The schema-registry path against an HTTP stub of the Confluent REST API: no
//! Confluent-compatible registry can be installed on these machines (see
//! shared/env-notes.md), so this stub stands in for it. Production uses Confluent
//! Schema Registry.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use schemas::{SchemaCatalog, TagDecoder, TagEncoder, UserTag};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const REGISTERED_ID: u32 = 4242;

#[derive(Clone, Default)]
struct Registry {
    registered: Arc<Mutex<Vec<(String, String)>>>,
}

async fn register(
    State(registry): State<Registry>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let schema = body["schema"].as_str().unwrap_or_default().to_owned();
    registry
        .registered
        .lock()
        .expect("lock")
        .push((subject, schema));
    Json(json!({"id": REGISTERED_ID}))
}

async fn schema_by_id(
    State(registry): State<Registry>,
    Path(id): Path<u32>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let registered = registry.registered.lock().expect("lock");
    match registered.last() {
        Some((_, schema)) if id == REGISTERED_ID => Ok(Json(json!({"schema": schema}))),
        _ => Err(axum::http::StatusCode::NOT_FOUND),
    }
}

#[tokio::test]
async fn registers_under_topic_value_and_decodes_by_the_registered_id() {
    let registry = Registry::default();
    let router = Router::new()
        .route("/subjects/{subject}/versions", post(register))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .with_state(registry.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let catalog = SchemaCatalog::from_registry_url(Some(&url)).expect("catalog");
    let subject = SchemaCatalog::subject_for_topic("user-tags");
    let encoder = TagEncoder::new(&catalog, &subject)
        .await
        .expect("schema registered");
    assert_eq!(encoder.schema_id(), REGISTERED_ID);
    assert_eq!(
        registry.registered.lock().expect("lock")[0].0,
        "user-tags-value"
    );

    let tag = UserTag::from_json(
        br#"{"time":"2026-03-01T12:00:00Z","cookie":"c","country":"CL","device":"PC","action":"BUY",
            "origin":"o","product_info":{"product_id":1,"brand_id":"b","category_id":"k","price":5}}"#,
    )
    .expect("valid tag");
    let payload = encoder.encode(&tag).expect("encodes");
    assert_eq!(&payload[1..5], &REGISTERED_ID.to_be_bytes());
    let decoder = TagDecoder::new(SchemaCatalog::from_registry_url(Some(&url)).expect("catalog"));
    assert_eq!(
        decoder
            .decode(&payload)
            .await
            .expect("decodes via the registry"),
        tag
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_an_error_not_a_panic() {
    let catalog = SchemaCatalog::from_registry_url(Some("http://127.0.0.1:1")).expect("catalog");
    assert!(TagEncoder::new(&catalog, "user-tags-value").await.is_err());
}
