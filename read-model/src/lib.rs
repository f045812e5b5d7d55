//! The read models the projector writes into ClickHouse and the APIs read back: the
//! one owner of their row shapes, of the codes enums are stored as, and of the SQL that
//! reads and writes them, so no service or test keeps a copy.
//!
//! Layout:
//! - [`codes`]: the one table of enum codes (`Action`, `Device`), from which the Rust
//!   conversions come and against which the migrations' `Enum8`s and the Avro symbols
//!   are checked;
//! - [`rows`]: `user_tags` rows and where they came from in the log;
//! - [`profile`]: a shopper's profile as read back (`Profile { views, buys }`) and how
//!   copies of a replayed tag are dropped;
//! - [`queries`]: every named query on the read models.

pub mod codes;
pub mod profile;
pub mod queries;
pub mod rows;

pub use profile::Profile;
pub use rows::{BatchLogRow, CookieProfileRow, LogPosition, ProfileRow, RowError, UserTagRow};
