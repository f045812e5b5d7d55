//! The read models the projector writes into ClickHouse and the APIs read back: the
//! one owner of their row shapes, of the codes enums are stored as, and of every
//! statement that reads and writes them. The SQL is private to this crate: services
//! and tools call the typed functions below, whose signatures fix what is bound and in
//! which order, so no service or test keeps a copy.
//!
//! Layout:
//! - [`codes`]: the one table of enum codes (`Action`, `Device`), from which the Rust
//!   conversions come and against which the migrations' `Enum8`s and the Avro symbols
//!   are checked;
//! - [`rows`]: `user_tags` rows and where they came from in the log;
//! - [`tags`]: the batch insert into `user_tags` and its newest event time;
//! - [`profile`]: a shopper's profile (`Profile { views, buys }`), its reads, single
//!   and batched, and how copies of a replayed tag are dropped;
//! - [`cube`]: the aggregates' vocabulary, rows and reads (the contract's minute
//!   totals, the analysts' series and top-N, from the cube, its rollup or the archive);
//! - [`batch_log`]: the projector's batch log, its writes and its latest entries;
//! - [`trim`]: the statements of a trim run and the disk's reclaim;
//! - [`reconcile`]: the comparison of the live aggregates with a replay's;
//! - [`snapshot`]: copying and restoring the profile store;
//! - [`work`]: what each statement is for, logged as its `log_comment` so the query
//!   log is grouped by work, not by SQL text.

pub mod batch_log;
pub mod codes;
pub mod cube;
pub mod profile;
pub mod reconcile;
pub mod rows;
pub mod snapshot;
pub mod tags;
pub mod trim;
pub mod work;

pub use batch_log::BatchLogRow;
pub use profile::Profile;
pub use rows::{CookieProfileRow, LogPosition, ProfileRow, RowError, UserTagRow};
pub use work::Work;
