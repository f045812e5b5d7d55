//! Builds the projector (consumer, sink, decoder, dead letters, health endpoints) and
//! runs it until a shutdown future resolves; tests pass their own shutdown.

use crate::batch::Batch;
use crate::config::Config;
use crate::dead_letter::DeadLetters;
use crate::pipeline::{Pipeline, PipelineParts, Positions};
use crate::sink::ClickHouseSink;
use crate::source::{KafkaSource, SourceContext};
use crate::trim::Trimmer;
use axum::Router;
use rdkafka::consumer::BaseConsumer;
use schemas::retries::RecentPayloads;
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::assignment::{Assignment, InvalidAssignment};
use service_kit::health::{DependencyStatus, Readiness};
use service_kit::worker::{Worker, WorkerPanicked};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why the projector could not start.
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
}

/// Why a running projector stopped other than when told to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline's thread could not be started.
    #[error("pipeline thread not started")]
    Spawn(#[source] std::io::Error),
    /// The pipeline's thread panicked.
    #[error("pipeline thread panicked")]
    PipelinePanicked(#[from] WorkerPanicked),
}

/// The pipeline over the real broker (tag log and dead letters) and ClickHouse.
type LivePipeline = Pipeline<KafkaSource, ClickHouseSink, DeadLetters>;

/// A built, not yet running, projector.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pipeline: LivePipeline,
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
            let broker = service_kit::kafka::probe(
                Arc::clone(&self.kafka),
                self.topic.clone(),
                Duration::from_millis(1000),
            )
            .await;
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
            source: KafkaSource::new(consumer, config.kafka.clone()),
            sink,
            topic: config.kafka.topic.clone(),
            decoder: TagDecoder::new(catalog),
            dead_letters: DeadLetters::new(
                &config.kafka,
                &config.dead_letter_topic(),
                runtime.clone(),
            )?,
            batch: Batch::new(config.batch_max_rows, config.batch_max_wait),
            recent: RecentPayloads::new(config.retries.window, config.retries.records),
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
    pub(crate) fn positions(&self) -> watch::Receiver<Positions> {
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
    ) -> Result<(), RunError> {
        let Self {
            listener,
            router,
            pipeline,
            positions: _,
            cancel,
            config,
        } = self;
        let worker =
            Worker::spawn("projector-pipeline", move || pipeline.run()).map_err(RunError::Spawn)?;
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
        let stop_signal = service_kit::worker::stop_signal(shutdown, cancel.clone());
        service_kit::http::serve(listener, router, stop_signal, "projector").await;
        cancel.cancel();
        for trimmer in trimmers {
            let _ = trimmer.await;
        }
        Ok(worker.join().await?)
    }
}
