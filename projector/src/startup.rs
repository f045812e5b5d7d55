//! Builds the projector (consumer, sink, decoder, dead letters, health endpoints) and
//! runs it until a shutdown future resolves; tests pass their own shutdown.

use crate::batch::Batch;
use crate::config::Config;
use crate::dead_letter::DeadLetters;
use crate::pipeline::{Pipeline, PipelineParts, Positions};
use crate::sink::ClickHouseSink;
use crate::source::SourceContext;
use crate::trim::Trimmer;
use axum::Router;
use rdkafka::consumer::{BaseConsumer, Consumer};
use schemas::retries::RecentPayloads;
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::assignment::{Assignment, InvalidAssignment};
use service_kit::health::{DependencyStatus, Readiness};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why the projector could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen")]
    Bind(#[from] std::io::Error),
    /// librdkafka refused the configuration.
    #[error("kafka client")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The schema registry settings are invalid.
    #[error("schema registry settings")]
    Catalog(#[from] schemas::catalog::CatalogError),
    /// The instance number does not fit the instance count.
    #[error("instance settings")]
    Assignment(#[from] InvalidAssignment),
    /// The pipeline thread panicked.
    #[error("pipeline thread panicked")]
    PipelinePanicked,
}

/// A built, not yet running, projector.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pipeline: Pipeline,
    positions: watch::Receiver<Positions>,
    cancel: CancellationToken,
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

impl Application {
    /// Creates the consumer, sink and endpoints; nothing is consumed until [`Self::run_until`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = service_kit::metrics::install();
        let assignment = Assignment::new(config.instance, config.instances)?;
        let clickhouse = service_kit::clickhouse::client(&config.clickhouse);
        let sink = ClickHouseSink::new(
            clickhouse.clone(),
            &config.kafka.topic,
            config.clickhouse_timeout,
        );
        let runtime = Handle::current();
        let consumer =
            crate::source::consumer_config(&config).create_with_context(SourceContext::default())?;
        let catalog =
            SchemaCatalog::from_registry_url(config.kafka.schema_registry_url.as_deref())?;
        let parts = PipelineParts {
            consumer,
            sink,
            decoder: TagDecoder::new(catalog),
            dead_letters: DeadLetters::new(
                &config.kafka,
                &config.dead_letter_topic(),
                runtime.clone(),
            )?,
            batch: Batch::new(config.batch_max_rows, config.batch_max_wait),
            recent: RecentPayloads::new(config.retries.window, config.retries.records),
            kafka: config.kafka.clone(),
            assignment,
            replay_max_age: Duration::from_secs(config.replay_max_age_s),
            runtime,
        };
        let cancel = CancellationToken::new();
        let (pipeline, positions) = Pipeline::new(parts, cancel.clone());
        let readiness = ProjectorReadiness {
            clickhouse,
            kafka: Arc::new(service_kit::kafka::metadata_client(&config.kafka)?),
            topic: config.kafka.topic.clone(),
        };
        let router = service_kit::health::routes(Arc::new(readiness), metrics);
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            pipeline,
            positions,
            cancel,
            config,
        })
    }

    /// Per partition, the next offset below which everything is durably projected,
    /// updated as batches are inserted.
    pub fn positions(&self) -> watch::Receiver<Positions> {
        self.positions.clone()
    }

    /// The bound port of the health endpoints (useful with port 0).
    pub fn port(&self) -> u16 {
        service_kit::http::bound_port(&self.listener)
    }

    /// Projects until `shutdown` resolves, then inserts what is pending and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Self {
            listener,
            router,
            pipeline,
            positions: _,
            cancel,
            config,
        } = self;
        let worker = std::thread::Builder::new()
            .name("projector-pipeline".into())
            .spawn(move || pipeline.run())?;
        // One trimmer, or one per shard on its local tables.
        let trimmers: Vec<Trimmer> = match config.trim_policy() {
            None => Vec::new(),
            Some(policy) if config.shards.urls.is_empty() => {
                let client = service_kit::clickhouse::client(&config.clickhouse);
                vec![Trimmer::new(client, policy)]
            }
            Some(policy) => config
                .shards
                .servers(&config.clickhouse)
                .iter()
                .map(|shard| {
                    let client = service_kit::clickhouse::client(shard);
                    Trimmer::on_shard(client, policy, &shard.url)
                })
                .collect(),
        };
        let trimmers: Vec<_> = trimmers
            .into_iter()
            .map(|trimmer| tokio::spawn(trimmer.run_periodically(cancel.clone())))
            .collect();
        tracing::info!(
            topic = %config.kafka.topic,
            instance = config.instance,
            instances = config.instances,
            "projector running"
        );
        let stop = cancel.clone();
        let stop_signal = async move {
            tokio::select! {
                () = shutdown => {},
                () = stop.cancelled() => {},
            }
        };
        service_kit::http::serve(listener, router, stop_signal, "projector").await;
        cancel.cancel();
        for trimmer in trimmers {
            let _ = trimmer.await;
        }
        match tokio::task::spawn_blocking(move || worker.join()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(StartupError::PipelinePanicked),
        }
    }
}
