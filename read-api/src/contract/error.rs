//! Every way a query can fail, and the one place mapping each to a status code.
//! A bad query is a 400 whose JSON body names the parameter at fault; ClickHouse being
//! down, slow or overloaded is a fast 503 with an opaque body (the cause and its chain
//! go to the log only).

use crate::admission::gate::GateError;
use crate::contract::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemas::contract::InvalidParameter;
use serde::Serialize;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A path or query parameter is missing or malformed.
    #[error("invalid parameter")]
    InvalidParameter(#[from] InvalidParameter),
    /// The read did not produce an answer in time, or ClickHouse failed.
    #[error("read not answered")]
    NotAnswered(#[from] GateError<StoreError>),
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, parameter) = match &self {
            Self::InvalidParameter(invalid) => (
                StatusCode::BAD_REQUEST,
                invalid.message.as_str(),
                Some(invalid.parameter),
            ),
            Self::NotAnswered(GateError::Query(StoreError::InvalidRow(_))) => {
                tracing::error!(error = %service_kit::error::chain(&self), "stored row is not a valid tag");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
            }
            Self::NotAnswered(GateError::Query(StoreError::Batch(cause)))
                if matches!(cause.as_ref(), StoreError::InvalidRow(_)) =>
            {
                tracing::error!(error = %service_kit::error::chain(&self), "stored row is not a valid tag");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
            }
            Self::NotAnswered(_) => {
                tracing::warn!(error = %service_kit::error::chain(&self), "query not answered");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable, retry",
                    None,
                )
            }
        };
        (status, Json(ErrorBody { error, parameter })).into_response()
    }
}
