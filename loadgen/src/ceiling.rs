//! The raw ceiling: how fast an rdkafka producer with write-api's settings (idempotent,
//! `acks=all`, Avro tags keyed by cookie) appends to the same broker, no HTTP involved.

use crate::latency::{Latencies, LatencySummary};
use crate::stream::{Cardinalities, TagStream};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use schemas::{SchemaCatalog, TagEncoder};
use serde::Serialize;
use service_kit::settings::KafkaSettings;
use std::time::{Duration, Instant};

/// The measured ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    /// Records acknowledged.
    pub acknowledged: u64,
    /// Records per second.
    pub rate: f64,
    /// Acknowledgement latency.
    pub latency: LatencySummary,
}

/// Why the ceiling could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    /// The producer could not be created or a record was refused.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The encoder could not be set up.
    #[error("schema: {0}")]
    Schema(#[from] schemas::CodecError),
}

/// Produces `count` tags with at most `in_flight` unacknowledged, and times it.
pub async fn measure(
    settings: &KafkaSettings,
    count: u64,
    in_flight: usize,
) -> Result<CeilingReport, CeilingError> {
    let producer: FutureProducer = service_kit::kafka::base_config(settings)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .create()?;
    let encoder = TagEncoder::new(&SchemaCatalog::Bundled, "unused").await?;
    let mut stream = TagStream::new(99, Cardinalities::default());
    let mut latencies = Latencies::new();
    let started = Instant::now();
    let mut produced = 0_u64;
    while produced < count {
        let window = (count - produced).min(in_flight as u64);
        let mut sends = Vec::with_capacity(window as usize);
        for tag in stream.by_ref().take(window as usize) {
            let payload = encoder.encode(&tag)?;
            let producer = &producer;
            let topic = settings.topic.as_str();
            sends.push(async move {
                let sent_at = Instant::now();
                let record = FutureRecord::to(topic)
                    .key(tag.cookie.as_bytes())
                    .payload(&payload);
                producer
                    .send(record, Timeout::After(Duration::from_secs(30)))
                    .await
                    .map(|_| sent_at.elapsed())
                    .map_err(|(error, _)| error)
            });
        }
        for outcome in futures::future::join_all(sends).await {
            latencies.record(outcome?);
        }
        produced += window;
    }
    Ok(CeilingReport {
        acknowledged: produced,
        rate: produced as f64 / started.elapsed().as_secs_f64(),
        latency: latencies.summary(),
    })
}
