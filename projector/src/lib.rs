//! projector: materializes the tag log into the ClickHouse read models.
//!
//! Each instance owns a fixed share of the topic's partitions (assigned directly, no
//! consumer-group coordinator: `service_kit::assignment`), decodes each Confluent-framed Avro tag (any compatible
//! writer schema, resolved into the current one) and inserts batches into `user_tags`;
//! materialized views derive the minute aggregates from the same insert.
//!
//! Exactly once, crashes included: a batch is recorded in the batch log before it is
//! inserted, carries a deduplication token derived from its offset ranges, and is
//! retried (or, after a crash, read again from those ranges and inserted) with the same
//! token until it is in, so ClickHouse keeps it once in every table. A sender's retry
//! of the same tag is projected once too (`schemas::retries`). See [`pipeline`] for the
//! guarantee in full.
//!
//! Layout:
//! - [`config`]: command-line settings (`--help`);
//! - [`edges`]: the I/O edges as traits (the tag log read, the read models written, the
//!   dead letters sent), so the pipeline's exactly-once logic is unit-tested against
//!   in-memory doubles;
//! - [`source`]: the Kafka side (consumer, partitions, watermarks, exact range reads);
//! - [`batch`]: rows waiting to be inserted, their offset ranges and token;
//! - [`sink`]: the ClickHouse side (batch log, inserts);
//! - [`dead_letter`]: messages that can never be projected go to a dead-letter topic;
//! - [`pipeline`]: the consume-decode-insert loop (resume from the batch log, the live
//!   loop, the projection of one message);
//! - [`rebuild`]: `projector rebuild`, a full replay of the log into fresh tables;
//! - [`archive_replay`]: `rebuild --from-archive`, the archive's records before the broker's tail;
//! - [`reconcile`]: `projector reconcile`, the live aggregates checked against a replay;
//! - [`snapshot`]: `projector snapshot`, profiles kept beyond the log's retention;
//! - [`trim`]: keeps the profile store at the newest 200 tags per cookie and action;
//! - [`startup`]: wires it all and serves `/health`, `/ready`, `/metrics`.

mod archive_replay;
mod batch;
mod config;
mod dead_letter;
mod edges;
mod pipeline;
mod rebuild;
mod reconcile;
mod sink;
mod snapshot;
mod source;
mod startup;
mod trim;

pub use archive_replay::{replay as replay_archive, ArchiveReplayError};
pub use config::{Config, Mode};
pub use rebuild::rebuild;
pub use reconcile::{reconcile, ReconcileRequest};
pub use snapshot::take as take_snapshot;
pub use source::consumer_config;
pub use startup::{Application, RunError};
pub use trim::{TrimError, TrimPolicy, Trimmer};
