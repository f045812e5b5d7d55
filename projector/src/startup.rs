//! Builds the projector (consumer, sink, decoder, dead letters, health endpoints) and
//! runs it until a shutdown future resolves; tests pass their own shutdown.

use crate::batch::Batch;
use crate::config::Config;
use crate::dead_letter::DeadLetters;
use crate::pipeline::{Pipeline, PipelineError, Projection};
use crate::rebalance::ProjectorContext;
use crate::sink::ClickHouseSink;
use axum::Router;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::health::{DependencyStatus, Readiness};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Handle;

/// Why the projector could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    /// librdkafka refused the configuration.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The schema registry settings are invalid.
    #[error("schema registry: {0}")]
    Catalog(#[from] schemas::catalog::CatalogError),
    /// The pipeline stopped on an error.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The pipeline thread panicked.
    #[error("pipeline thread panicked")]
    PipelinePanicked,
}

/// A built, not yet running, projector.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pipeline: Pipeline,
    retention_client: clickhouse::Client,
    config: Config,
}

struct ProjectorReadiness {
    clickhouse: clickhouse::Client,
    kafka: Arc<BaseConsumer>,
    topic: String,
}

impl Readiness for ProjectorReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Vec<DependencyStatus>> + Send + '_>> {
        Box::pin(async move {
            let clickhouse =
                service_kit::clickhouse::probe(&self.clickhouse, Duration::from_millis(1000)).await;
            let (kafka, topic) = (Arc::clone(&self.kafka), self.topic.clone());
            let broker = tokio::task::spawn_blocking(move || {
                service_kit::kafka::probe_blocking(
                    kafka.client(),
                    &topic,
                    Duration::from_millis(1000),
                )
            })
            .await
            .unwrap_or_else(|error| DependencyStatus {
                name: "kafka",
                ready: false,
                error: Some(error.to_string()),
            });
            vec![clickhouse, broker]
        })
    }
}

/// The projector's consumer settings (also used by `bench-projector` to measure the raw
/// consume rate with exactly these settings).
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut consumer = service_kit::kafka::base_config(&config.kafka);
    consumer
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Positions always come from ClickHouse (or the explicit beginning). A stored
        // position outside the log (topic recreated, log truncated by retention)
        // must stop that partition loudly, never silently replay and double-count.
        .set("auto.offset.reset", "error")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("statistics.interval.ms", "5000");
    consumer
}

impl Application {
    /// Creates the consumer, sink and endpoints; nothing is consumed until [`Self::run_until`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = service_kit::metrics::install();
        let clickhouse = service_kit::clickhouse::client(&config.clickhouse);
        let sink = ClickHouseSink::new(clickhouse.clone(), &config.kafka.topic);
        let runtime = Handle::current();
        let context = ProjectorContext::new(runtime.clone(), sink.clone());
        let consumer: BaseConsumer<ProjectorContext> =
            consumer_config(&config).create_with_context(context)?;
        let catalog =
            SchemaCatalog::from_registry_url(config.kafka.schema_registry_url.as_deref())?;
        let projection = Projection {
            sink,
            decoder: TagDecoder::new(catalog),
            dead_letters: DeadLetters::new(
                &config.kafka,
                &config.dead_letter_topic(),
                runtime.clone(),
            )?,
            batch: Batch::new(config.batch_max_rows, config.batch_max_wait),
            topic: config.kafka.topic.clone(),
            runtime,
            stop: Arc::new(AtomicBool::new(false)),
            durable: Arc::new(Mutex::new(HashMap::new())),
        };
        let pipeline = Pipeline {
            consumer,
            projection,
        };
        let readiness = ProjectorReadiness {
            clickhouse: clickhouse.clone(),
            kafka: Arc::new(service_kit::kafka::metadata_client(&config.kafka)?),
            topic: config.kafka.topic.clone(),
        };
        let router = service_kit::health::routes(Arc::new(readiness), metrics);
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            pipeline,
            retention_client: clickhouse,
            config,
        })
    }

    /// Per partition, the next offset below which everything is durably handled.
    pub fn durable_positions(&self) -> Arc<Mutex<HashMap<i32, i64>>> {
        Arc::clone(&self.pipeline.projection.durable)
    }

    /// The bound port of the health endpoints (useful with port 0).
    pub fn port(&self) -> u16 {
        service_kit::http::bound_port(&self.listener)
    }

    /// Projects until `shutdown` resolves (or the pipeline fails), then inserts what is
    /// pending, leaves the group and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Self {
            listener,
            router,
            pipeline,
            retention_client,
            config,
        } = self;
        let stop = Arc::clone(&pipeline.projection.stop);
        let (done_sender, done_receiver) = tokio::sync::oneshot::channel();
        let worker = std::thread::Builder::new()
            .name("projector-pipeline".into())
            .spawn(move || {
                let outcome = pipeline.run();
                let _ = done_sender.send(());
                outcome
            })?;
        let retention = tokio::spawn(crate::retention::run_periodically(
            retention_client,
            config.retention_hours,
            config.retention_interval,
        ));
        tracing::info!(topic = %config.kafka.topic, group = %config.group_id, "projector running");
        let stop_signal = async move {
            tokio::select! {
                () = shutdown => {},
                _ = done_receiver => {},
            }
        };
        service_kit::http::serve(listener, router, stop_signal, "projector").await;
        stop.store(true, Ordering::SeqCst);
        retention.abort();
        let joined = tokio::task::spawn_blocking(move || worker.join()).await;
        match joined {
            Ok(Ok(outcome)) => Ok(outcome?),
            _ => Err(StartupError::PipelinePanicked),
        }
    }
}
