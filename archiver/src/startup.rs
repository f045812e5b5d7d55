//! Builds the archiver (consumer, archive store, decoder, health endpoints) and runs it
//! until a shutdown future resolves; tests pass their own shutdown.

use crate::config::Config;
use crate::pipeline::{Archived, Pipeline, PipelineParts};
use archive::{ArchiveError, ArchiveStore};
use axum::Router;
use rdkafka::consumer::{BaseConsumer, Consumer};
use schemas::retries::RecentPayloads;
use schemas::{SchemaCatalog, TagDecoder};
use service_kit::assignment::{Assignment, InvalidAssignment};
use service_kit::health::{DependencyStatus, Readiness};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why the archiver could not start or stopped.
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
    /// The pipeline thread panicked.
    #[error("pipeline thread panicked")]
    PipelinePanicked,
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
pub fn consumer(config: &Config) -> Result<BaseConsumer, rdkafka::error::KafkaError> {
    service_kit::kafka::base_config(&config.kafka)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Positions always come from the archive's files (or the log's start); a position
        // outside the log stops that partition loudly, never a silent jump.
        .set("auto.offset.reset", "error")
        .create()
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
    ) -> Result<(), StartupError> {
        let Self {
            listener,
            router,
            pipeline,
            archived: _,
            cancel,
            config,
        } = self;
        let worker = std::thread::Builder::new()
            .name("archiver-pipeline".into())
            .spawn(move || pipeline.run())?;
        tracing::info!(
            topic = %config.kafka.topic,
            archive = %config.archive_url,
            instance = config.instance,
            instances = config.instances,
            "archiver running"
        );
        let stop = cancel.clone();
        let stop_signal = async move {
            tokio::select! {
                () = shutdown => {},
                () = stop.cancelled() => {},
            }
        };
        service_kit::http::serve(listener, router, stop_signal, "archiver").await;
        cancel.cancel();
        match tokio::task::spawn_blocking(move || worker.join()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(StartupError::PipelinePanicked),
        }
    }
}
