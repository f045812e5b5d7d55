//! archiver: keeps every record of the tag topic beyond the broker's retention, in
//! immutable Parquet files by day and partition (the `archive` crate's format), in a
//! local directory or an S3-compatible bucket.
//!
//! A service of its own rather than a mode of the projector: it fails apart (a
//! ClickHouse outage must not stop the archive, nor a bucket outage the read models),
//! it batches on another clock (a file a minute, not an insert every 250 ms), and it
//! scales apart. Like the projector, each instance owns a fixed share of the partitions
//! (assigned directly, no group coordinator) and resumes from its own durable state:
//! here the archive's files, never the broker's committed offsets. See [`pipeline`] for
//! the guarantee in full.
//!
//! Layout:
//! - [`config`]: command-line settings (`--help`);
//! - [`pipeline`]: the consume-classify-write loop;
//! - [`verify`]: `archiver verify`, the proof that the archive is complete;
//! - [`startup`]: wires it all and serves `/health`, `/ready`, `/metrics`.

mod config;
mod pipeline;
mod startup;
mod verify;

pub use config::{Config, Mode};
pub use startup::{Application, RunError, StartupError};
pub use verify::run as verify_archive;
