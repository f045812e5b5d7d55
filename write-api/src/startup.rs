//! Builds the application (listener, producer, router) and serves it until a
//! shutdown future resolves; tests bind port 0 and pass their own shutdown.

use crate::config::Config;
use crate::producer::{ProducerSetupError, TagProducer};
use crate::routes::{record_tag, AppState};
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use service_kit::health::{DependencyStatus, Readiness};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How much longer than the produce deadline a request may take before the backstop
/// answers 503.
const BACKSTOP_MARGIN: Duration = Duration::from_secs(1);

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen")]
    Bind(#[from] std::io::Error),
    /// The producer could not be set up.
    #[error(transparent)]
    Producer(#[from] ProducerSetupError),
}

/// A built, not yet serving, write-api.
pub struct Application {
    listener: TcpListener,
    router: Router,
    producer: Arc<TagProducer>,
}

struct BrokerReadiness(Arc<TagProducer>);

impl Readiness for BrokerReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Vec<DependencyStatus>> + Send + '_>> {
        let producer = Arc::clone(&self.0);
        Box::pin(async move {
            let probe = tokio::task::spawn_blocking(move || {
                producer.probe_blocking(Duration::from_millis(1000))
            })
            .await;
            vec![probe.unwrap_or_else(|error| DependencyStatus {
                name: "kafka",
                ready: false,
                error: Some(error.to_string()),
            })]
        })
    }
}

impl Application {
    /// Binds the listener and sets up the producer.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = service_kit::metrics::install();
        let producer = Arc::new(
            TagProducer::new(&config.kafka, config.produce_deadline, config.linger_ms).await?,
        );
        let state = AppState {
            producer: Arc::clone(&producer),
            max_body_bytes: config.max_body_bytes,
        };
        let api = Router::new()
            .route("/user_tags", post(record_tag))
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .with_state(state);
        // The produce deadline answers first; the backstop bounds a request that would
        // otherwise hang (a body that never finishes arriving, say).
        let backstop = config.produce_deadline + BACKSTOP_MARGIN;
        let router = service_kit::http::layers(api, "write-api", backstop).merge(
            service_kit::health::routes(Arc::new(BrokerReadiness(Arc::clone(&producer))), metrics),
        );
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            producer,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        service_kit::http::bound_port(&self.listener)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests
    /// finish (each waits for its acknowledgement) and flushes the producer.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        service_kit::http::serve(self.listener, self.router, shutdown, "write-api").await;
        let producer = self.producer;
        let _flushed =
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
        tracing::info!("write-api stopped");
    }
}
