//! Builds the application (listener, ClickHouse store, router) and serves it until a
//! shutdown future resolves; tests bind port 0 and pass their own shutdown.

use crate::admission::batcher::ProfileBatcher;
use crate::admission::gate::QueryGate;
use crate::analytics::auth::ApiKeys;
use crate::analytics::history::ArchiveHistory;
use crate::analytics::ingest::IngestFigures;
use crate::analytics::routes::AnalyticsState;
use crate::analytics::store::CubeStore;
use crate::config::Config;
use crate::contract::routes::aggregates::aggregates;
use crate::contract::routes::profiles::user_profile;
use crate::contract::routes::AppState;
use crate::contract::store::Store;
use crate::profile_cache::state::Limits;
use crate::profile_cache::{ProfileCache, ProfileReader, FILL_LIMIT};
use axum::routing::post;
use axum::Router;
use service_kit::health::{DependencyStatus, Readiness};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long the readiness probe waits for ClickHouse.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);
/// How much longer than the longest deadline a request may take before the backstop
/// answers 503.
const BACKSTOP_MARGIN: Duration = Duration::from_secs(5);

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen")]
    Bind(#[from] std::io::Error),
    /// The schema registry settings (for the profile cache's log reader) are invalid.
    #[error("schema registry settings")]
    Catalog(#[from] schemas::catalog::CatalogError),
}

/// A built, not yet serving, read-api.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// Stops the profile cache's background work when serving ends.
    background: CancellationToken,
}

struct ClickHouseReadiness(Store);

impl Readiness for ClickHouseReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Vec<DependencyStatus>> + Send + '_>> {
        Box::pin(async move {
            vec![service_kit::clickhouse::probe(self.0.client(), READINESS_TIMEOUT).await]
        })
    }
}

impl Application {
    /// Binds the listener and sets up the store. ClickHouse need not be up yet:
    /// `/ready` says when it is, and every query connects afresh.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = service_kit::metrics::install();
        // Every query read-api sends only reads, and goes as a read-only request
        // (`readonly=2`: settings may still be changed). ClickHouse cancels the query of a
        // client that hung up (`cancel_http_readonly_queries_on_client_close`, which the
        // stores set) only when the request is read-only, and the clickhouse crate POSTs
        // every query, which is not: without this, a read dropped at its deadline or by
        // its client ran on to its end (tests/api/cancellation.rs).
        let store = Store::new(&config.clickhouse).with_setting("readonly", "2");
        let background = CancellationToken::new();
        let cache = match std::num::NonZeroUsize::new(config.profile_cache_cookies) {
            Some(cookies) => Some(ProfileCache::start(
                config.kafka.clone(),
                store.client().clone(),
                Limits {
                    cookies,
                    bytes: config.profile_cache_mib.saturating_mul(1 << 20),
                    tail_tags: config.profile_cache_tail_tags,
                    per_action: usize::try_from(FILL_LIMIT).unwrap_or(usize::MAX),
                },
                background.clone(),
            )?),
            None => None,
        };
        let state = AppState {
            store: Arc::new(store.clone()),
            profile_deadline: config.query_deadline,
            aggregates_deadline: config.aggregates_deadline,
            gate: QueryGate::new(config.max_concurrent_queries),
            profiles: ProfileReader::new(
                ProfileBatcher::new(store.clone(), config.profile_slots, config.profile_batch),
                cache,
            ),
        };
        let analytics = AnalyticsState {
            cube: CubeStore::new(store.client().clone()),
            store: store.clone(),
            gate: QueryGate::new(config.analytics_concurrent_queries),
            deadline: config.analytics_deadline,
            ingest: IngestFigures::new(config.peer_metrics.clone(), metrics.clone()),
            history: ArchiveHistory::new(
                store.client().clone(),
                &config.archive_url,
                &config.kafka.topic,
                config.cube_window_minutes,
            ),
        };
        let keys = ApiKeys::from_list(&config.api_keys);
        let api = Router::new()
            .route(
                "/user_profiles/{cookie}",
                post(user_profile).get(user_profile),
            )
            .route("/aggregates", post(aggregates).get(aggregates))
            .with_state(state)
            .merge(crate::analytics::routes::router(analytics, keys.clone()))
            .merge(crate::console::router(keys));
        // The handlers keep their own deadlines; the backstop only bounds a request that
        // would otherwise hang (reading a slow body, say).
        let backstop = config.aggregates_deadline.max(config.analytics_deadline) + BACKSTOP_MARGIN;
        let router = service_kit::http::layers(api, "read-api", backstop).merge(
            service_kit::health::routes(Arc::new(ClickHouseReadiness(store)), metrics),
        );
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            background,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        service_kit::http::bound_port(&self.listener)
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight
    /// requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        service_kit::http::serve(self.listener, self.router, shutdown, "read-api").await;
        self.background.cancel();
        tracing::info!("read-api stopped");
    }
}
