//! loadgen: the platform's own harness.
//!
//! Layout:
//! - [`stream`]: a deterministic tag stream from a seed (event time 1 ms apart, skewed
//!   cookies and dimensions like the reference harness);
//! - [`http`]: the client, open-loop pacing, posting a tag;
//! - [`ingest`]: open-loop load on `POST /user_tags` at a fixed rate or flat out;
//! - [`ceiling`]: the raw rate of an rdkafka producer on the same broker, the limit the
//!   write path is compared with;
//! - the checking run, [`harness`]: [`model`] (what was sent and what became of it, and
//!   from that every expected answer, in the contract's answer types of
//!   [`schemas::contract`]), [`planner`] (which of the contract's queries to ask),
//!   [`report`] (tallies and the summary);
//! - [`start`]: where a run's event time starts on a platform that already holds tags;
//! - [`latency`]: latency recording and its summary;
//! - [`document`]: generated sections of committed documents (chaos's, the capacity
//!   model's).

pub mod ceiling;
pub mod document;
pub mod harness;
pub mod http;
pub mod ingest;
pub mod latency;
pub mod model;
pub mod planner;
pub mod report;
pub mod start;
pub mod stream;
