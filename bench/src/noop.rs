//! The floor of the write path: an axum server that answers `POST /user_tags` with 204
//! without parsing anything. Driven by the same load generator at the same rate as
//! write-api, with the same JSON bodies, its CPU per request is what HTTP alone costs on
//! this machine (hyper, tokio, the socket), so write-api's CPU per accepted tag can be
//! read as a multiple of it. It runs in its own process (`bench-noop-server`) on the
//! same runtime flavour as write-api (`#[tokio::main]`: multi-threaded, one worker per
//! core), so `/proc` gives its CPU apart from the benchmark's.

use crate::error::BenchError;
use crate::stack::{free_port, is_executable, Stack};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::process::Stdio;
use std::time::Duration;

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

/// A running `bench-noop-server` (killed when dropped), logging to
/// `.stack/logs/bench-noop-server.log`.
pub struct NoopServer {
    _child: tokio::process::Child,
    /// Its process, for `/proc`.
    pub pid: u32,
    /// Its base URL.
    pub url: String,
}

impl NoopServer {
    /// Starts the server on `port` (0: a free one) and waits until it is ready.
    pub async fn start(stack: &Stack, port: u16) -> Result<Self, BenchError> {
        let binary = stack.binary("bench-noop-server");
        if !is_executable(&binary) {
            return Err(BenchError::Stack(format!(
                "{} missing: cargo build --release -p bench",
                binary.display()
            )));
        }
        let port = match port {
            0 => free_port()?,
            port => port,
        };
        let log_path = stack.logs_dir().join("bench-noop-server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(BenchError::io(format!("opening {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(BenchError::io("opening the no-op log"))?;
        let child = tokio::process::Command::new(&binary)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("starting {}", binary.display())))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Stack("the no-op server exited at once".to_owned()))?;
        let url = format!("http://127.0.0.1:{port}");
        stack
            .wait_ready(&format!("{url}/ready"), Duration::from_secs(10))
            .await?;
        Ok(Self {
            _child: child,
            pid,
            url,
        })
    }
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
