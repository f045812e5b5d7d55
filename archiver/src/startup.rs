//! Builds the archiver (consumer, archive store, decoder, health endpoints) and runs it
//! until a shutdown future resolves; tests pass their own shutdown. What stops a build
//! ([`StartupError`]) and what stops a run ([`RunError`]) are apart, as in the projector.

use crate::config::Config;
use crate::pipeline::{Archived, Pipeline, PipelineParts};
use archive::{ArchiveError, ArchiveStore};
use axum::Router;
use rdkafka::consumer::BaseConsumer;
use schemas::retries::RecentPayloads;
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::assignment::{Assignment, InvalidAssignment};
use service_kit::health::{DependencyStatus, Readiness};
use service_kit::worker::{Worker, WorkerPanicked};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why the archiver could not start.
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
    /// The archive's location is unusable.
    #[error("archive location")]
    Archive(#[from] ArchiveError),
}

/// Why a running archiver stopped other than when told to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline's thread could not be started.
    #[error("pipeline thread not started")]
    Spawn(#[source] std::io::Error),
    /// The pipeline's thread panicked.
    #[error("pipeline thread panicked")]
    PipelinePanicked(#[from] WorkerPanicked),
}

/// A built, not yet running, archiver.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pipeline: Pipeline,
    archived: watch::Receiver<Archived>,
    cancel: CancellationToken,
    config: Config,
}

struct ArchiverReadiness {
    kafka: Arc<BaseConsumer>,
    topic: String,
    store_failing: Arc<AtomicBool>,
}

impl Readiness for ArchiverReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Vec<DependencyStatus>> + Send + '_>> {
        Box::pin(async move {
            let broker = service_kit::kafka::probe(
                Arc::clone(&self.kafka),
                self.topic.clone(),
                Duration::from_millis(1000),
            )
            .await;
            let failing = self.store_failing.load(Ordering::Relaxed);
            let store = DependencyStatus {
                name: "archive",
                ready: !failing,
                error: failing.then(|| "the last write to the archive failed".to_owned()),
            };
            vec![broker, store]
        })
    }
}

/// The archiver's consumer settings: partitions are assigned, never subscribed; the
/// group id is used only to commit the end of the files for lag tooling and `verify`.
/// Positions always come from the archive's files (or the log's start).
pub(crate) fn consumer(config: &Config) -> Result<BaseConsumer, rdkafka::error::KafkaError> {
    service_kit::kafka::assigned_consumer_config(&config.kafka, &config.group_id).create()
}

impl Application {
    /// Opens the archive and creates the consumer and endpoints; nothing is consumed
    /// until [`Self::run_until`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = service_kit::metrics::install();
        let assignment = Assignment::new(config.instance, config.instances)?;
        let store = ArchiveStore::open(&config.archive_url, &config.kafka.topic)?;
        let catalog =
            SchemaCatalog::from_registry_url(config.kafka.schema_registry_url.as_deref())?;
        let store_failing = Arc::new(AtomicBool::new(false));
        let parts = PipelineParts {
            consumer: consumer(&config)?,
            store,
            decoder: TagDecoder::new(catalog),
            recent: RecentPayloads::new(config.retries.window, config.retries.records),
            kafka: config.kafka.clone(),
            assignment,
            roll_interval: config.roll_interval,
            max_file_records: config.max_file_records.max(1),
            runtime: Handle::current(),
            store_failing: Arc::clone(&store_failing),
        };
        let cancel = CancellationToken::new();
        let (pipeline, archived) = Pipeline::new(parts, cancel.clone());
        let readiness = ArchiverReadiness {
            kafka: Arc::new(service_kit::kafka::metadata_client(&config.kafka)?),
            topic: config.kafka.topic.clone(),
            store_failing,
        };
        let router = service_kit::health::routes(Arc::new(readiness), metrics);
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            pipeline,
            archived,
            cancel,
            config,
        })
    }

    /// Per partition, the offset after the last archived record, updated as files are
    /// written.
    pub fn archived(&self) -> watch::Receiver<Archived> {
        self.archived.clone()
    }

    /// The bound port of the health endpoints (useful with port 0).
    pub fn port(&self) -> u16 {
        service_kit::http::bound_port(&self.listener)
    }

    /// Archives until `shutdown` resolves, then writes the open files and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let Self {
            listener,
            router,
            pipeline,
            archived: _,
            cancel,
            config,
        } = self;
        let worker =
            Worker::spawn("archiver-pipeline", move || pipeline.run()).map_err(RunError::Spawn)?;
        tracing::info!(
            topic = %config.kafka.topic,
            archive = %config.archive_url,
            instance = config.instance,
            instances = config.instances,
            "archiver running"
        );
        let stop_signal = service_kit::worker::stop_signal(shutdown, cancel.clone());
        service_kit::http::serve(listener, router, stop_signal, "archiver").await;
        cancel.cancel();
        Ok(worker.join().await?)
    }
}
