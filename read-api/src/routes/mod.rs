//! The HTTP handlers, their shared state and their request metrics
//! (`read_api_requests_total{endpoint,status}`, `read_api_request_duration_seconds{endpoint}`).

pub mod aggregates;
pub mod profiles;

use crate::debug_mode::Endpoint;
use crate::error::ApiError;
use crate::gate::QueryGate;
use crate::store::Store;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::time::{Duration, Instant};

/// What the handlers need.
#[derive(Clone)]
pub struct AppState {
    /// The ClickHouse reads.
    pub store: Store,
    /// How long a user-profile query may wait for ClickHouse.
    pub profile_deadline: Duration,
    /// How long an aggregates query may wait for ClickHouse.
    pub aggregates_deadline: Duration,
    /// The bound on reads running in ClickHouse.
    pub gate: QueryGate,
}

/// Runs a handler's work, turns its outcome into a response and records the metrics.
async fn observed<T: IntoResponse>(
    endpoint: Endpoint,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Response {
    let started = Instant::now();
    let response = work.await.into_response();
    metrics::histogram!("read_api_request_duration_seconds", "endpoint" => endpoint.label())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "read_api_requests_total",
        "endpoint" => endpoint.label(),
        "status" => response.status().as_str().to_owned()
    )
    .increment(1);
    response
}

/// Runs a ClickHouse read through the gate, slot wait included, for at most `deadline`;
/// no free slot, a failure or a late answer is 503.
async fn within<T: Send + 'static>(
    gate: &QueryGate,
    deadline: Duration,
    read: impl Future<Output = Result<T, clickhouse::error::Error>> + Send + 'static,
) -> Result<T, ApiError> {
    gate.run(deadline, read)
        .await
        .map_err(|error| ApiError::StoreUnavailable(error.to_string()))
}
