//! The analysts' API under `/v1/`, beside the contract's endpoints (which it never
//! changes): time series and top-N from the minute cube, a shopper's timeline, the
//! ingest panel's figures, and its OpenAPI description at `/v1/openapi.json`,
//! generated from the code (utoipa). Everything here needs an API key when keys are
//! configured ([`auth`]).
//!
//! Layout: [`params`] parses and checks the queries; [`store`] reads the cube;
//! [`answers`] shapes the answers; [`ingest`] reads the services' metrics; [`auth`]
//! checks keys; [`routes`] holds the handlers and the router; [`openapi`] the
//! description.

pub mod answers;
pub mod auth;
pub mod ingest;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod store;
