//! The analysts' API under `/v1/`, beside the contract's endpoints (which it never
//! changes): time series and top-N from the minute cube (or the archive, for older
//! ranges), a shopper's timeline, the
//! ingest panel's figures, the newest minute with data, and its OpenAPI description at
//! `/v1/openapi.json`, generated from the code (utoipa). Everything here needs an API
//! key when keys are configured ([`auth`]).
//!
//! Layout: [`params`] parses and checks the queries; [`store`] reads the cube;
//! [`history`] reads the archive for ranges older than the cube's 24 hours;
//! [`answers`] shapes the answers; [`ingest`] reads the services' metrics; [`newest`]
//! finds the newest minute with data (the console's default range); [`auth`]
//! checks keys; [`routes`] holds the handlers and the router; [`openapi`] the
//! description.

pub(crate) mod answers;
pub(crate) mod auth;
pub(crate) mod history;
pub(crate) mod ingest;
pub(crate) mod newest;
pub(crate) mod openapi;
pub(crate) mod params;
pub(crate) mod routes;
pub(crate) mod store;
