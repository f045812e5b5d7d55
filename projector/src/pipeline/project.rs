//! What one message comes to, the same live and in a replay: a sender's retry is
//! skipped, a tag becomes a row, anything else becomes a dead letter. A schema registry
//! that cannot be reached is waited out with backoff (the live batch so far is inserted
//! first, so a long outage does not hold back what was already read).

use super::Pipeline;
use crate::edges::{BatchSink, DeadLetterSink, TagSource};
use rdkafka::message::{Message, OwnedMessage};
use read_model::{LogPosition, UserTagRow};
use service_kit::backoff::{Attempts, Backoff};
use service_kit::metric_names::projector as names;

/// What one message comes to.
pub(super) enum Projected {
    /// A tag to insert.
    Row(Box<UserTagRow>),
    /// Skipped (a sender's retry) or dead-lettered: only its offset is covered.
    Covered,
    /// Cancelled before it was handled: it will be read again.
    Cancelled,
}

impl<Source: TagSource, Sink: BatchSink, Letters: DeadLetterSink> Pipeline<Source, Sink, Letters> {
    /// The projection of `message` (see the module documentation).
    pub(super) fn project(&mut self, message: &OwnedMessage) -> Projected {
        let (partition, offset) = (message.partition(), message.offset());
        let time = message.timestamp().to_millis().unwrap_or(0);
        if let Some(payload) = message.payload() {
            if self.recent.is_retry(partition, time, payload) {
                metrics::counter!(names::SENDER_RETRIES_SKIPPED.name).increment(1);
                return Projected::Covered;
            }
        }
        let mut backoff = Backoff::new();
        loop {
            match self.wait(self.decoder.decode_record(message.payload())) {
                Ok(tag) => {
                    let row = UserTagRow::from_tag(&tag, LogPosition { partition, offset });
                    return Projected::Row(Box::new(row));
                }
                Err(error) if error.is_transient() => {
                    metrics::counter!(names::DECODE_RETRIES.name).increment(1);
                    tracing::warn!(error = %service_kit::error::chain(&error), partition, offset, "schema registry unavailable; retrying");
                    if !self.batch.is_empty() {
                        self.flush(true);
                    }
                    if !backoff.wait(&self.runtime, &self.cancel) {
                        return Projected::Cancelled;
                    }
                }
                Err(error) => {
                    let reason = service_kit::error::chain(&error).to_string();
                    return self.dead_letter(message, &reason);
                }
            }
        }
    }

    /// Sends `message` to the dead letters, retried with backoff until the topic has it
    /// (its offset moves on only then); `Cancelled` when the pipeline stopped first.
    fn dead_letter(&self, message: &OwnedMessage, reason: &str) -> Projected {
        let sent = service_kit::backoff::retry(
            &self.runtime,
            &self.cancel,
            Attempts::UntilCancelled,
            || self.dead_letters.send(message, reason),
            |_, error| {
                tracing::warn!(error = %service_kit::error::chain(error), "dead letter not delivered, retrying");
            },
        );
        if sent.is_none() {
            return Projected::Cancelled;
        }
        metrics::counter!(names::DEAD_LETTERS.name).increment(1);
        tracing::warn!(
            reason,
            partition = message.partition(),
            offset = message.offset(),
            "message dead-lettered"
        );
        Projected::Covered
    }
}
