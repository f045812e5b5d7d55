//! projector: materializes the tag log into the ClickHouse read models.
//!
//! A consumer group on the tag topic decodes each Confluent-framed Avro tag (any
//! compatible writer schema, resolved into the current one) and inserts batches into
//! `user_tags`; materialized views derive the minute aggregates and the per-partition
//! resume offsets from the same insert.
//!
//! Exactly once in effect: every batch is one insert of one block (all or nothing),
//! carrying each row's partition and offset; a partition is always resumed from the
//! next offset ClickHouse holds, never from the broker's committed offset. A batch not
//! yet inserted when partitions are revoked (or the process dies) is simply read again
//! by whoever owns the partition next.
//!
//! Layout:
//! - [`config`]: command-line settings (`--help`);
//! - [`sink`]: the ClickHouse side (insert a batch, read resume offsets);
//! - [`batch`]: rows waiting to be inserted, bounded by count and age;
//! - [`rebalance`]: the consumer context (resume offsets on assignment, lag metrics);
//! - [`dead_letter`]: undecodable messages go to a dead-letter topic with the reason;
//! - [`pipeline`]: the consume-decode-insert loop;
//! - [`retention`]: drops aggregate partitions older than the retention window;
//! - [`rebuild`]: `projector rebuild`, a full replay of the log into fresh tables;
//! - [`startup`]: wires it all and serves `/health`, `/ready`, `/metrics`.

pub mod batch;
pub mod config;
pub mod dead_letter;
pub mod pipeline;
pub mod rebalance;
pub mod rebuild;
pub mod retention;
pub mod sink;
pub mod startup;
