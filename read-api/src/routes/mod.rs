//! The HTTP handlers and their shared state. Request metrics, spans and ids come from
//! `service_kit::http::layers`.

pub mod aggregates;
pub mod profiles;

use crate::gate::QueryGate;
use crate::profile_cache::ProfileReader;
use crate::store::AggregatesStore;
use std::sync::Arc;
use std::time::Duration;

/// What the handlers need.
#[derive(Clone)]
pub struct AppState {
    /// The aggregates read (ClickHouse's `Store`, or a double in tests).
    pub store: Arc<dyn AggregatesStore>,
    /// How long a user-profile query may wait for ClickHouse.
    pub profile_deadline: Duration,
    /// How long an aggregates query may wait for ClickHouse.
    pub aggregates_deadline: Duration,
    /// The bound on aggregates reads running in ClickHouse.
    pub gate: QueryGate,
    /// Profile reads: from the profile cache, or from ClickHouse batched when they pile up.
    pub profiles: ProfileReader,
}
