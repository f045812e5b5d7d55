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
//! - [`contract`]: the contract's two endpoints, from request to answer: typed
//!   extractors into [`schemas::contract`]'s queries, the ClickHouse reads (bound
//!   parameters only), the answers, the handlers, debug mode and the error enum mapped
//!   to status codes;
//! - [`admission`]: what runs in ClickHouse now, what waits and what is refused at once:
//!   the query gate, the profile batcher, a batch's cost and the standing queue, priced
//!   by running estimates that know how old their evidence is;
//! - [`profile_cache`]: profiles answered from memory, kept current from the tag log;
//! - [`analytics`]: the analysts' API under `/v1/`;
//! - [`console`]: the web console's page, embedded in the binary;
//! - [`startup`]: binds the listener, wires the state, serves until shutdown.

mod admission;
mod analytics;
mod config;
mod console;
mod contract;
mod profile_cache;
mod startup;

pub use analytics::openapi::document as openapi_document;
pub use config::Config;
pub use contract::store::Store;
pub use startup::Application;
