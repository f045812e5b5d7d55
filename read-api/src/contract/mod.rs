//! The contract's two endpoints, from request to answer: `POST /user_profiles/{cookie}`
//! and `POST /aggregates`. It owns their parsing into the queries of
//! [`schemas::contract`] ([`extract`]), their ClickHouse reads ([`store`], which the
//! analysts' API and the profile cache read through too), the answers built from the
//! rows ([`answers`]), the handlers and their state ([`routes`]), debug mode's
//! comparison with an expected answer ([`debug_mode`]) and the error enum mapped to
//! status codes ([`error`], which the analysts' API answers with as well). What runs
//! when is admission's ([`crate::admission`]); profiles may come from memory
//! ([`crate::profile_cache`]).
//!
//! - [`extract`]: typed extractors that parse requests into the contract's queries
//!   before any handler runs;
//! - [`store`]: the ClickHouse reads, with bound parameters only;
//! - [`answers`]: the store's rows put into the contract's answers;
//! - [`routes`]: the HTTP handlers and their shared state;
//! - [`debug_mode`]: comparison of our answer with an expected one;
//! - [`error`]: the one error enum and its mapping to status codes.

pub(crate) mod answers;
pub(crate) mod debug_mode;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod routes;
pub(crate) mod store;
