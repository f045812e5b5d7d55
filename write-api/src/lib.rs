//! write-api: records user tags on the Kafka log.
//!
//! `POST /user_tags` validates a tag through the typed model of `schemas`, encodes it
//! as Confluent-framed Avro and appends it to the tag topic keyed by cookie, answering
//! `204` only once the broker has acknowledged it (`acks=all`, idempotent producer).
//!
//! Layout:
//! - [`config`]: command-line settings (`--help`);
//! - [`producer`]: the Kafka producer and its deadline-bounded append;
//! - [`routes`]: the HTTP handler;
//! - [`error`]: the one error enum and its mapping to status codes;
//! - [`startup`]: binds the listener, wires the state, serves until shutdown.

mod config;
mod error;
mod producer;
mod routes;
mod startup;

pub use config::Config;
pub use startup::Application;
