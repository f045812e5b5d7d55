//! Serving a service's router: the layers every API shares, the bound port (port 0 in
//! tests) and graceful shutdown.
//!
//! [`layers`] wraps a router with, outermost first:
//! - a request id (`x-request-id`, taken from the caller or made up, returned in the
//!   answer) and a `request` span carrying it, so every log line of a request says
//!   which one it belongs to;
//! - request metrics: `http_requests_total{service,route,status}`,
//!   `http_request_duration_seconds{service,route}` and the
//!   `http_requests_in_flight{service}` gauge, released by a guard when the request
//!   ends however it ends (a caller that hangs up drops the future: the gauge still
//!   goes down);
//! - a backstop timeout answering 503: each handler keeps its own, shorter deadline.

use crate::metric_names::http as names;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_http::normalize_path::NormalizePath;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The header carrying a request's id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` with the layers every API shares (see the module documentation).
pub fn layers(router: Router, service: &'static str, backstop: Duration) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            backstop,
        ))
        .layer(middleware::from_fn(move |request, next| {
            observe(service, request, next)
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                })
                .on_request(())
                .on_response(())
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Counts a request in flight for as long as it lives.
struct InFlight(&'static str);

impl InFlight {
    fn start(service: &'static str) -> Self {
        metrics::gauge!(names::REQUESTS_IN_FLIGHT.name, "service" => service).increment(1.0);
        Self(service)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(names::REQUESTS_IN_FLIGHT.name, "service" => self.0).decrement(1.0);
    }
}

async fn observe(service: &'static str, request: Request, next: Next) -> Response {
    let _in_flight = InFlight::start(service);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(names::REQUEST_DURATION.name, "service" => service, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        names::REQUESTS.name,
        "service" => service,
        "route" => route,
        "status" => response.status().as_str().to_owned()
    )
    .increment(1);
    response
}

/// The port `listener` is bound to (0 if unknown).
pub fn bound_port(listener: &TcpListener) -> u16 {
    listener
        .local_addr()
        .map(|address| address.port())
        .unwrap_or_default()
}

/// `router` answering a path with a trailing slash as the path without it
/// (`POST /aggregates/?...` is `POST /aggregates?...`), as clients whose framework adds
/// the slash expect. The path is rewritten before routing, so every route, layer and
/// metric sees one name.
pub fn accepting_trailing_slashes(router: Router) -> NormalizePath<Router> {
    NormalizePath::trim_trailing_slash(router)
}

/// Serves `router` until `shutdown` resolves, then stops accepting and lets requests in
/// flight finish before returning. A trailing slash is ignored on every path (see
/// [`accepting_trailing_slashes`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    service: &'static str,
) {
    tracing::info!(service, port = bound_port(&listener), "listening");
    let app = accepting_trailing_slashes(router);
    if let Err(error) = axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        tracing::error!(service, error = %error, "server error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        let router = Router::new().route("/fast", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        );
        layers(router, "test", Duration::from_millis(50))
    }

    #[tokio::test]
    async fn every_answer_carries_a_request_id_the_caller_may_choose() {
        let answer = app()
            .oneshot(
                Request::get("/fast")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.headers().contains_key(&REQUEST_ID));
        let chosen = app()
            .oneshot(
                Request::get("/fast")
                    .header(&REQUEST_ID, "abc-123")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(chosen.headers()[&REQUEST_ID], "abc-123");
    }

    #[tokio::test(start_paused = true)]
    async fn the_backstop_answers_503() {
        let answer = app()
            .oneshot(
                Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
