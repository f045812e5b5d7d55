//! The tag archive: the log kept beyond the broker's retention.
//!
//! The broker keeps the topic 7 days; the archive keeps every record of it for good, in
//! immutable Parquet files beside the broker (a local directory, or an S3-compatible
//! bucket in production), so the read models can be rebuilt, a new projection
//! backfilled and last month looked at after the log itself is gone.
//!
//! What a file holds: every record of one contiguous offset range of one partition, in
//! offset order, one row each (a tag, a sender's retry of a tag, or a record that is not
//! a tag, with its payload), so a file's completeness is its row count and its offsets,
//! readable from the file alone. Its name says the range
//! (`<topic>/day=YYYY-MM-DD/partition=P/<first>-<last>.parquet`, offsets zero-padded to
//! 20 digits so names sort by offset), and so does the day's manifest beside it.
//!
//! Layout:
//! - [`record`]: one archived record and what kind it is;
//! - [`format`]: the Parquet layout (columns, encodings, compression), writing a file
//!   and reading one back;
//! - [`layout`]: where files and manifests live, and parsing their names;
//! - [`manifest`]: one line per file, per day and partition;
//! - [`store`]: the archive's location (a directory or a bucket) and its atomic writes;
//! - [`recovery`]: the archive's state from the files themselves (a file missing from
//!   its manifest is adopted, a staged file discarded), where a writer resumes;
//! - [`verify`]: proof that the archive is complete and has no record twice.

mod format;
mod layout;
mod manifest;
mod record;
mod recovery;
mod store;
mod verify;

pub use format::{decode_file, encode_file, FormatError};
pub use layout::{day_of, FileKey};
pub use manifest::ManifestEntry;
pub use record::{ArchivedRecord, RecordKind};
pub use recovery::{recover, Recovered, RecoveryMode};
pub use store::{ArchiveError, ArchiveStore, Listing, StoredFile};
pub use verify::{verify, PartitionSummary, Problem, VerifyReport};
