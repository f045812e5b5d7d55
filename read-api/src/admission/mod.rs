//! Admission: which reads run in ClickHouse now, which wait, and which are refused at
//! once because they could not be answered before their deadline. It owns the
//! aggregates' and the analysts' query slots ([`gate`]), the profile reads' batching
//! ([`batcher`]) and its admission rule ([`batch_cost`], [`standing_queue`]), and the
//! time-aware running estimates both rules price work with ([`recent`]).
//!
//! - [`gate`]: a bound on queries running at once, queueing what can be answered in
//!   time and refusing the rest;
//! - [`batcher`]: profile reads, batched into one query when requests pile up;
//! - [`batch_cost`]: what a batch of profile reads costs, and the batcher's admission;
//! - [`standing_queue`]: whether the profile queue is a passing burst or a standing queue;
//! - [`recent`]: running estimates that know how old their evidence is.

pub(crate) mod batch_cost;
pub(crate) mod batcher;
pub(crate) mod gate;
pub(crate) mod recent;
pub(crate) mod standing_queue;
