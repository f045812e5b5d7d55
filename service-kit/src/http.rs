//! Serving a service's router: the bound port (port 0 in tests) and graceful shutdown.

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The port `listener` is bound to (0 if unknown).
pub fn bound_port(listener: &TcpListener) -> u16 {
    listener
        .local_addr()
        .map(|address| address.port())
        .unwrap_or_default()
}

/// Serves `router` until `shutdown` resolves, then stops accepting and lets requests in
/// flight finish before returning.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    service: &'static str,
) {
    tracing::info!(service, port = bound_port(&listener), "listening");
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(service, error = %error, "server error");
    }
}
