//! Messages that can never be projected (not Confluent-framed Avro, a schema the registry
//! says does not exist, a tag at a time the read models cannot hold) go to a dead-letter
//! topic, untouched, with the reason and their origin in headers; they are counted and
//! never stop the projector. A registry that cannot be reached is not such a reason: the
//! pipeline retries those messages. Delivery is at least once: a dead letter sent after
//! the last insert of a partition may be sent again after a restart.
//!
//! [`DeadLetters`] is the real producer, one try a send; the pipeline reaches it through
//! [`crate::edges::DeadLetterSink`] (so its unit tests use an in-memory double) and
//! counts, logs and retries the sends itself.

use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use service_kit::settings::KafkaSettings;
use std::time::Duration;
use tokio::runtime::Handle;

/// The dead-letter producer.
pub(crate) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    runtime: Handle,
}

impl DeadLetters {
    /// A producer for `topic` on the configured brokers.
    pub(crate) fn new(
        settings: &KafkaSettings,
        topic: &str,
        runtime: Handle,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let producer = service_kit::kafka::base_config(settings)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
            runtime,
        })
    }

    /// Sends `message` to the dead-letter topic, one try: the pipeline retries it (with
    /// `service_kit::backoff`) until the broker has it, so the message's offset moves on
    /// only once its dead letter is safe.
    pub(crate) fn send(
        &self,
        message: &impl Message,
        reason: &str,
    ) -> Result<(), rdkafka::error::KafkaError> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "dead_letter_reason",
                value: Some(reason),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "source_partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "source_offset",
                value: Some(&offset),
            });
        let mut record = FutureRecord::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        self.runtime
            .block_on(
                self.producer
                    .send(record, Timeout::After(Duration::from_secs(5))),
            )
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}
