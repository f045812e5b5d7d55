//! read-api: answers the two query endpoints of the contract from ClickHouse.
//!
//! - `POST /user_profiles/{cookie}?time_range=..&limit=..`: a shopper's newest views
//!   and buys, read from `user_tags`;
//! - `POST /aggregates?time_range=..&action=..&aggregates=..`: per-minute count and
//!   price sum, read from the pre-summed `minute_aggregates`.
//!
//! A JSON request body is the caller's expected answer (debug mode): it is compared
//! with ours and a mismatch is logged and counted, never echoed.
//!
//! Beside them, the analysts' API under `/v1/` ([`analytics`]): series, top-N, a
//! shopper's timeline and ingest figures, with an OpenAPI description and API keys; and
//! the analysts' web console on it at `/console` ([`console`]).
//!
//! Layout:
//! - [`config`]: command-line settings (`--help`);
//! - [`extract`]: typed extractors that parse requests into the contract's queries
//!   ([`schemas::contract`]) before any handler runs;
//! - [`store`]: the ClickHouse reads, with bound parameters only;
//! - [`gate`]: admission control, queueing what can be answered in time, refusing the rest;
//! - [`profile_cache`]: profiles answered from memory, kept current from the tag log;
//! - [`batcher`]: profile reads, batched into one query when requests pile up;
//! - [`batch_cost`]: what a batch of profile reads costs, and the batcher's admission;
//! - [`recent`]: running estimates that know how old their evidence is (admission's);
//! - [`standing_queue`]: whether the profile queue is a passing burst or a standing queue;
//! - [`answers`]: the store's rows put into the contract's answers;
//! - [`routes`]: the HTTP handlers;
//! - [`debug_mode`]: comparison of our answer with an expected one;
//! - [`error`]: the one error enum and its mapping to status codes;
//! - [`analytics`]: the analysts' API under `/v1/`;
//! - [`console`]: the web console's page, embedded in the binary;
//! - [`startup`]: binds the listener, wires the state, serves until shutdown.

pub mod analytics;
pub mod answers;
pub mod batch_cost;
pub mod batcher;
pub mod config;
pub mod console;
pub mod debug_mode;
pub mod error;
pub mod extract;
pub mod gate;
pub mod profile_cache;
pub mod recent;
pub mod routes;
pub mod standing_queue;
pub mod startup;
pub mod store;
