//! Every way a request can fail, and the one place mapping each to a status code.
//! Client faults are 4xx with a JSON body naming the problem; dependency faults are a
//! fast 503 with an opaque body (the cause and its chain go to the log, never to the
//! caller).

use crate::producer::ProduceError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemas::TagError;
use serde::Serialize;

/// Why a tag was not recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The body is not a valid tag.
    #[error("invalid tag")]
    InvalidTag(#[from] TagError),
    /// The body is not declared as JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The body is over the configured limit.
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body could not be read.
    #[error("unreadable body")]
    UnreadableBody,
    /// The tag was not appended to the log.
    #[error("tag not appended")]
    NotAppended(#[from] ProduceError),
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// The label used for the `reason` of rejection metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::InvalidTag(_) => "invalid_tag",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::NotAppended(ProduceError::Encoding(_)) => "encoding",
            Self::NotAppended(_) => "broker_unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let opaque = |status: StatusCode, message: &str| {
            (
                status,
                ErrorBody {
                    error: message.to_owned(),
                    field: None,
                },
            )
        };
        let (status, body) = match &self {
            Self::InvalidTag(error) => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    error: error.to_string(),
                    field: Some(&error.field),
                },
            ),
            Self::UnsupportedMediaType => {
                opaque(StatusCode::UNSUPPORTED_MEDIA_TYPE, &self.to_string())
            }
            Self::PayloadTooLarge(_) => opaque(StatusCode::PAYLOAD_TOO_LARGE, &self.to_string()),
            Self::UnreadableBody => opaque(StatusCode::BAD_REQUEST, &self.to_string()),
            Self::NotAppended(ProduceError::Encoding(_)) => {
                tracing::error!(error = %service_kit::error::chain(&self), "tag could not be encoded");
                opaque(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            Self::NotAppended(_) => {
                tracing::warn!(error = %service_kit::error::chain(&self), "tag not acknowledged by the broker");
                opaque(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable, retry",
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
