//! The Kafka side of write-api: one idempotent producer (`acks=all`) appending
//! Confluent-framed Avro tags keyed by cookie, each append bounded by a deadline.
//!
//! Delivery guarantee: `append` returns `Ok` only after the broker acknowledged the
//! record on all in-sync replicas; any other outcome is an error the caller answers
//! with 503 (the tag may or may not have been stored, as the contract allows).
//! A producer that hits a fatal error (idempotence state lost) is replaced, so the
//! service recovers without a restart.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use schemas::{SchemaCatalog, TagEncoder, UserTag};
use service_kit::health::DependencyStatus;
use service_kit::metric_names::write_api as names;
use service_kit::settings::KafkaSettings;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Why the producer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProducerSetupError {
    /// librdkafka refused the configuration.
    #[error("kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    /// The schema could not be registered or found.
    #[error("schema: {0}")]
    Schema(#[from] schemas::CodecError),
    /// The registry settings are invalid.
    #[error("schema registry: {0}")]
    Catalog(#[from] schemas::catalog::CatalogError),
}

/// Why a tag was not appended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProduceError {
    /// The tag could not be encoded (a bug: a valid tag always encodes).
    #[error("tag could not be encoded")]
    Encoding(#[source] schemas::CodecError),
    /// The broker refused the record, or the local queue is full (overload).
    #[error("broker refused the record")]
    Broker(#[source] KafkaError),
    /// The broker did not acknowledge within the deadline (the record may still be
    /// stored later, which the contract allows for a 503).
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
}

/// Appends tags to the tag topic.
pub(crate) struct TagProducer {
    producer: RwLock<Arc<FutureProducer>>,
    settings: KafkaSettings,
    linger_ms: u32,
    encoder: TagEncoder,
    deadline: Duration,
    last_replaced: Mutex<Option<Instant>>,
}

impl TagProducer {
    /// Connects (lazily) to the broker and registers or finds the current schema.
    pub(crate) async fn new(
        settings: &KafkaSettings,
        deadline: Duration,
        linger_ms: u32,
    ) -> Result<Self, ProducerSetupError> {
        let catalog = SchemaCatalog::from_registry_url(settings.schema_registry_url.as_deref())?;
        let encoder =
            TagEncoder::new(&catalog, &SchemaCatalog::subject_for_topic(&settings.topic)).await?;
        let producer = create_producer(settings, linger_ms)?;
        let producer = Self {
            producer: RwLock::new(Arc::new(producer)),
            settings: settings.clone(),
            linger_ms,
            encoder,
            deadline,
            last_replaced: Mutex::new(None),
        };
        producer.warm_up().await;
        tracing::info!(topic = %settings.topic, schema_id = producer.encoder.schema_id(), "producer ready");
        Ok(producer)
    }

    /// Connects and loads the topic's metadata before the first request, so the first
    /// tag is not the one paying for connection set-up and producer-id allocation.
    /// A broker that is down now is not fatal: readiness reports it and sends recover later.
    async fn warm_up(&self) {
        let producer = self.current();
        let topic = self.settings.topic.clone();
        let probe = tokio::task::spawn_blocking(move || {
            service_kit::kafka::probe_blocking(producer.client(), &topic, Duration::from_secs(5))
        })
        .await;
        match probe {
            Ok(status) if status.ready => {}
            Ok(status) => tracing::warn!(error = ?status.error, "broker not ready at start-up"),
            Err(error) => tracing::warn!(error = %error, "broker probe failed at start-up"),
        }
    }

    /// Appends one tag and waits for the broker's acknowledgement, at most the deadline.
    pub(crate) async fn append(&self, tag: &UserTag) -> Result<(), ProduceError> {
        let payload = self.encoder.encode(tag).map_err(ProduceError::Encoding)?;
        let producer = self.current();
        let record = FutureRecord::to(&self.settings.topic)
            .key(tag.cookie.as_bytes())
            .payload(&payload);
        let started = Instant::now();
        // A full local queue fails at once (queue timeout zero): that is overload, answered 503.
        let delivery = tokio::time::timeout(
            self.deadline,
            producer.send(record, Timeout::After(Duration::ZERO)),
        )
        .await;
        metrics::histogram!(names::PRODUCE_DURATION.name).record(started.elapsed().as_secs_f64());
        match delivery {
            Ok(Ok(_delivery)) => Ok(()),
            Ok(Err((error, _message))) => {
                metrics::counter!(names::BROKER_ERRORS.name).increment(1);
                self.replace_if_broken(&producer, &error);
                Err(ProduceError::Broker(error))
            }
            Err(_elapsed) => {
                metrics::counter!(names::BROKER_ERRORS.name).increment(1);
                Err(ProduceError::Timeout(self.deadline))
            }
        }
    }

    /// Waits for queued records to be delivered (on shutdown).
    pub(crate) fn flush(&self, timeout: Duration) {
        if let Err(error) = self.current().flush(Timeout::After(timeout)) {
            tracing::warn!(error = %error, "producer flush incomplete");
        }
    }

    /// Whether the broker answers and knows the topic. Blocking.
    pub(crate) fn probe_blocking(&self, timeout: Duration) -> DependencyStatus {
        service_kit::kafka::probe_blocking(self.current().client(), &self.settings.topic, timeout)
    }

    fn current(&self) -> Arc<FutureProducer> {
        match self.producer.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the producer after a fatal error, or after the broker refused a record
    /// (Tansu, for one, refuses every record of an idempotent session that outlived a
    /// broker restart). At most once per second, so a flapping broker cannot cause a storm.
    fn replace_if_broken(&self, failed: &Arc<FutureProducer>, error: &KafkaError) {
        let fatal = failed.client().fatal_error();
        let refused_by_broker = matches!(
            error,
            KafkaError::MessageProduction(code) if !is_local_transient(*code)
        );
        if fatal.is_none() && !refused_by_broker {
            return;
        }
        let Ok(mut last_replaced) = self.last_replaced.lock() else {
            return;
        };
        if last_replaced.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last_replaced = Some(Instant::now());
        tracing::warn!(error = %error, fatal = ?fatal, "replacing the kafka producer");
        match create_producer(&self.settings, self.linger_ms) {
            Ok(fresh) => {
                if let Ok(mut guard) = self.producer.write() {
                    if Arc::ptr_eq(&guard, failed) {
                        *guard = Arc::new(fresh);
                        metrics::counter!(names::PRODUCER_REPLACEMENTS.name).increment(1);
                    }
                }
            }
            Err(error) => {
                tracing::error!(error = %service_kit::error::chain(&error), "producer could not be replaced")
            }
        }
    }
}

/// Local conditions that a healthy producer recovers from by itself.
fn is_local_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::QueueFull
            | RDKafkaErrorCode::AllBrokersDown
    )
}

fn create_producer(settings: &KafkaSettings, linger_ms: u32) -> Result<FutureProducer, KafkaError> {
    // The HTTP deadline, not librdkafka, decides when the caller gets 503. Records are
    // never expired locally early: an expired record makes an idempotent producer bump
    // its epoch, and Tansu 0.6 (the local broker) panics on the bumped epoch's first
    // produce and stops serving. A record answered 503 may therefore still be stored
    // later, which the contract allows. A full local queue answers 503 at once.
    service_kit::kafka::base_config(settings)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", linger_ms.to_string())
        .set("message.timeout.ms", "300000")
        .set("queue.buffering.max.messages", "100000")
        .set("socket.connection.setup.timeout.ms", "1000")
        .set("reconnect.backoff.max.ms", "500")
        .create()
}
