//! loadgen: the platform's own harness.
//!
//! Layout:
//! - [`stream`]: a deterministic tag stream from a seed (event time 1 ms apart, skewed
//!   cookies and dimensions like the reference harness);
//! - [`latency`]: latency recording and the summary printed and written as JSON;
//! - [`ingest`]: open-loop HTTP load on `POST /user_tags` at a fixed rate or flat out;
//! - [`ceiling`]: the raw rate of an rdkafka producer on the same broker, the limit the
//!   write path is compared with.

pub mod ceiling;
pub mod ingest;
pub mod latency;
pub mod stream;
