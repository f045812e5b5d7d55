//! chaos: the platform under faults. While loadgen's checking harness replays the
//! stream through the front door (the same model, debug-mode queries, final round and
//! lost-tag check as `loadgen run`), a runner kills each component of the local stack
//! in turn with SIGKILL and restarts it, or freezes ClickHouse with SIGSTOP for longer
//! than the projector's ClickHouse timeout, and then says, fault by fault, what it cost:
//! tags answered 204 and lost, tags counted twice, wrong answers, time to recover.
//!
//! A crate of its own rather than a mode of loadgen: loadgen checks any deployment
//! through its HTTP contract alone, while this knows the local stack's processes, pid
//! files and scripts, and reads ClickHouse directly to count.
//!
//! Layout:
//! - [`stack`]: the components a fault may hit and chaos's restarts, over the
//!   `stack-control` crate (pid files checked against `/proc`, signals, `scripts/stack.sh`);
//! - [`fault`]: the faults, and the paths of the platform each can break;
//! - [`ledger`]: the harness's outcomes as they come, kept to time and attribute them;
//! - [`freshness`]: the probe of the projection's recovery;
//! - [`integrity`]: ClickHouse's counts over an event-time range (counted twice or not);
//! - [`staleness`]: a stale answer (right as of before the fault) told from a wrong one;
//! - [`run`]: the schedule (one fault per slot of the stream) and the per-slot results;
//! - [`report`]: the table of `docs/reliability.md`, the details and the verdict.

pub mod fault;
pub mod freshness;
pub mod integrity;
pub mod ledger;
pub mod report;
pub mod run;
pub mod stack;
pub mod staleness;
