//! The HTTP contract of the two query endpoints, owned once for the service that
//! answers them (read-api) and every client that asks them (loadgen, bench, chaos, the
//! tests): what a query is, how it is read from a query string and written into a URL,
//! and what its answer looks like on the wire.
//!
//! - [`minutes`]: [`MINUTE_MILLIS`] and minute arithmetic on [`EventTime`](crate::EventTime);
//! - [`parameter`]: a query string's pairs, and the refusal naming the parameter at fault;
//! - [`time_range`]: the half-open `time_range=<from>_<to>`, parsed and rendered;
//! - [`profile`]: `POST /user_profiles/{cookie}`, its query and its answer;
//! - [`aggregates`]: `POST /aggregates`, its vocabulary, its query and its answer.
//!
//! The answers are compared by external harnesses: their JSON is the contract's, byte
//! for byte, and a change here is a change of the public API.

pub mod aggregates;
pub mod minutes;
pub mod parameter;
pub mod profile;
pub mod time_range;

pub use aggregates::{
    Aggregate, AggregatesAnswer, AggregatesQuery, Filters, Totals, MAX_AGGREGATES_MINUTES,
};
pub use minutes::MINUTE_MILLIS;
pub use parameter::InvalidParameter;
pub use profile::{ProfileAnswer, ProfileQuery, DEFAULT_PROFILE_LIMIT};
pub use time_range::TimeRange;
