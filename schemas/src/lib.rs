//! The user-tag event shared by every Allezon service, and the HTTP contract of the
//! queries about it.
//!
//! Layout:
//! - [`event_time`]: the contract's time formats (tag instants, query ranges, minute buckets);
//! - [`tag_time`]: a tag's time as sent (its instant, and its text when not canonical);
//! - [`tag`]: the typed [`UserTag`] and its strict JSON form, with errors naming the field;
//! - [`contract`]: the query endpoints' contract, for the service and its clients alike
//!   (queries parsed from and rendered to URLs, answers, minute arithmetic);
//! - [`avro`]: the bundled Avro schema versions and the tag <-> Avro value mapping;
//! - [`wire`]: the Confluent wire format (magic byte, schema id, Avro datum);
//! - [`catalog`]: where schema ids come from (bundled ids or a Confluent schema registry);
//! - [`codec`]: encoder and decoder that put the above together;
//! - [`retries`]: recognising a sender's retry of a tag (the same rule for every reader of the log).

pub mod avro;
pub mod catalog;
pub mod codec;
pub mod contract;
pub mod event_time;
pub mod retries;
pub mod tag;
pub mod tag_time;
pub mod wire;

pub use catalog::SchemaCatalog;
pub use codec::{CodecError, RecordError, TagDecoder, TagEncoder};
pub use contract::{Aggregate, Filters};
pub use event_time::EventTime;
pub use tag::{Action, Device, ProductId, ProductInfo, TagError, UserTag, MAX_FIELD_BYTES};
pub use tag_time::TagTime;
