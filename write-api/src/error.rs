//! Every way a request can fail, and the one place mapping each to a status code.
//! Client faults are 4xx with a JSON body naming the problem; dependency faults are a
//! fast 503 with an opaque body (the cause goes to the log, never to the caller).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemas::TagError;

/// Why a tag was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not a valid tag.
    #[error("invalid tag: {0}")]
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
    /// The broker did not acknowledge in time, or refused.
    #[error("broker unavailable")]
    BrokerUnavailable(String),
    /// The tag could not be encoded (a bug: a valid tag always encodes).
    #[error("tag could not be encoded")]
    Encoding(String),
}

impl ApiError {
    /// The label used for the `reason` of rejection metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidTag(_) => "invalid_tag",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::BrokerUnavailable(_) => "broker_unavailable",
            Self::Encoding(_) => "encoding",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::InvalidTag(error) => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": error.to_string(), "field": error.field}),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                serde_json::json!({"error": self.to_string()}),
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error": self.to_string()}),
            ),
            Self::UnreadableBody => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": self.to_string()}),
            ),
            Self::BrokerUnavailable(cause) => {
                tracing::warn!(cause = %cause, "tag not acknowledged by the broker");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"error": "temporarily unavailable, retry"}),
                )
            }
            Self::Encoding(cause) => {
                tracing::error!(cause = %cause, "tag could not be encoded");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({"error": "internal error"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
