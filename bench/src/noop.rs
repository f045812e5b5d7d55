//! The floor of the write path: an axum server that answers `POST /user_tags` with 204
//! without parsing anything. Driven by the same load generator at the same rate as
//! write-api, with the same JSON bodies, its CPU per request is what HTTP alone costs on
//! this machine (hyper, tokio, the socket), so write-api's CPU per accepted tag can be
//! read as a multiple of it. It runs in its own process (`bench-noop-server`) on the
//! same runtime flavour as write-api (`#[tokio::main]`: multi-threaded, one worker per
//! core), so `/proc` gives its CPU apart from the benchmark's.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

/// `POST /user_tags`: takes the body as write-api does (the bytes must be read off the
/// socket either way), answers 204 without looking at it; `GET /ready`: 200.
pub fn router() -> Router {
    Router::new()
        .route("/user_tags", post(accept))
        .route("/ready", get(|| async { StatusCode::OK }))
}

async fn accept(_body: Bytes) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn any_body_gets_204_and_ready_gets_200() {
        for body in ["{\"not\": \"a tag\"}", "garbage", ""] {
            let request = Request::post("/user_tags")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let response = router().oneshot(request).await.expect("answer");
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
        let request = Request::get("/ready").body(Body::empty()).expect("request");
        let response = router().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
