//! Every way a query can fail, and the one place mapping each to a status code.
//! A bad query is a 400 whose JSON body names the parameter at fault; ClickHouse being
//! down or slow is a fast 503 with an opaque body (the cause goes to the log only).

use crate::params::InvalidParameter;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use read_model::RowError;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A path or query parameter is missing or malformed.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// ClickHouse failed or did not answer within the deadline.
    #[error("clickhouse unavailable")]
    StoreUnavailable(String),
    /// A stored row is not a valid tag (a bug or a foreign writer).
    #[error("invalid stored row")]
    InvalidRow(#[from] RowError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::InvalidParameter(invalid) => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": invalid.message, "parameter": invalid.parameter}),
            ),
            Self::StoreUnavailable(cause) => {
                tracing::warn!(cause = %cause, "query not answered by clickhouse");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"error": "temporarily unavailable, retry"}),
                )
            }
            Self::InvalidRow(error) => {
                tracing::error!(error = %error, "stored row is not a valid tag");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({"error": "internal error"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
