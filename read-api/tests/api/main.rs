//! read-api against a real ClickHouse: every rule of the contract's sections 2 and 3,
//! the profile cache against the tag log, debug mode, bad input (and generated hostile input, on the contract's endpoints and
//! on `/v1/`), abandoned reads cancelled in ClickHouse, and ClickHouse outages. One test
//! binary; each test has its own migrated database.

#[path = "../common/mod.rs"]
mod common;

mod aggregates;
mod analytics;
mod cancellation;
mod console;
mod debug_mode;
mod history;
mod hostile;
mod newest;
mod profile_cache;
mod profiles;
mod resilience;
