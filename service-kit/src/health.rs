//! Liveness, readiness and metrics routes, the same on every service.
//!
//! `/health` answers whether the process is alive; `/ready` whether its dependencies
//! answer (a load balancer stops sending traffic while it is 503); `/metrics` renders
//! the Prometheus registry.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The outcome of checking one dependency.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DependencyStatus {
    /// The dependency's name (`kafka`, `clickhouse`).
    pub name: &'static str,
    /// Whether it answered.
    pub ready: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A service's answer to "can you serve traffic now?".
pub trait Readiness: Send + Sync + 'static {
    /// Checks every dependency, each within a short timeout.
    fn check(&self) -> Pin<Box<dyn Future<Output = Vec<DependencyStatus>> + Send + '_>>;
}

#[derive(Clone)]
struct HealthState {
    readiness: Arc<dyn Readiness>,
    metrics: PrometheusHandle,
}

/// Routes `/health`, `/ready` and `/metrics`, to be merged into the service's router.
pub fn routes(readiness: Arc<dyn Readiness>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(HealthState { readiness, metrics })
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "alive"}))
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let dependencies = state.readiness.check().await;
    let all_ready = dependencies.iter().all(|dependency| dependency.ready);
    let status = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"ready": all_ready, "dependencies": dependencies})),
    )
}

async fn render_metrics(State(state): State<HealthState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}
