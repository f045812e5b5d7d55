//! `POST /user_tags`: validate, encode, append, answer 204 once the broker has it.

use crate::error::ApiError;
use crate::producer::TagProducer;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use schemas::UserTag;
use service_kit::metric_names::write_api as names;
use std::sync::Arc;

/// What the handler needs.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The tag producer.
    pub producer: Arc<TagProducer>,
    /// The body limit, echoed in 413 answers.
    pub max_body_bytes: usize,
}

/// Records one tag.
pub(crate) async fn record_tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let outcome = record(&state, &headers, body).await;
    match &outcome {
        Ok(_) => metrics::counter!(names::TAGS_ACCEPTED.name).increment(1),
        Err(error) => {
            metrics::counter!(names::TAGS_REJECTED.name, "reason" => error.reason()).increment(1)
        }
    }
    outcome
}

async fn record(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.max_body_bytes)
        } else {
            ApiError::UnreadableBody
        }
    })?;
    let tag = UserTag::from_json(&body)?;
    state.producer.append(&tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}
