//! The `/v1/` handlers and their router.

use super::answers::{SeriesAnswer, TopAnswer};
use super::auth::{require_key, ApiKeys};
use super::history::ArchiveHistory;
use super::ingest::{IngestAnswer, IngestFigures};
use super::params::{SeriesParams, ShopperParams, TopParams};
use super::store::CubeStore;
use crate::admission::gate::QueryGate;
use crate::contract::answers;
use crate::contract::error::ApiError;
use crate::contract::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use schemas::contract::InvalidParameter;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// What the handlers need.
#[derive(Clone)]
pub(crate) struct AnalyticsState {
    /// Reads of the minute cube.
    pub cube: CubeStore,
    /// Reads of the profile store (the shopper view).
    pub store: Store,
    /// The bound on the analysts' reads running in ClickHouse (their own slots, so a
    /// day-long scan never queues the contract's point reads).
    pub gate: QueryGate,
    /// How long one analysts' read may take.
    pub deadline: Duration,
    /// The ingest panel's figures.
    pub ingest: IngestFigures,
    /// Reads of the archive for ranges older than the cube's window (`None`: no archive
    /// configured, the cube answers everything).
    pub history: Option<ArchiveHistory>,
}

impl AnalyticsState {
    /// The archive's reads if `source` sends this read there.
    async fn archive_for(
        &self,
        source: super::params::Source,
        action: schemas::Action,
        from: schemas::EventTime,
    ) -> Result<Option<&ArchiveHistory>, ApiError> {
        let Some(history) = &self.history else {
            if source == super::params::Source::Archive {
                return Err(InvalidParameter::new("source", "no archive is configured").into());
            }
            return Ok(None);
        };
        let chosen = self
            .gate
            .run(
                self.deadline,
                history.chosen(self.store.client(), source, action, from),
            )
            .await?;
        Ok(chosen.then_some(history))
    }
}

/// The routes under `/v1/`, behind `keys`.
pub(crate) fn router(state: AnalyticsState, keys: ApiKeys) -> Router {
    Router::new()
        .route("/v1/series", get(series))
        .route("/v1/top", get(top))
        .route("/v1/shoppers/{cookie}", get(shopper))
        .route("/v1/ingest", get(ingest))
        .route("/v1/newest", get(super::newest::newest))
        .route("/v1/openapi.json", get(openapi))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(keys, require_key))
}

/// A query string parsed into `T`; a malformed one is a 400 naming the parameter.
pub(crate) struct V1Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for V1Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| invalid_query(&rejection).into())
    }
}

/// The parameter a query-string rejection is about: serde names a missing one in
/// backquotes and prefixes a malformed one's message with its name.
fn invalid_query(rejection: &QueryRejection) -> InvalidParameter {
    const KNOWN: [&str; 17] = [
        "from",
        "to",
        "before",
        "action",
        "bucket",
        "dimension",
        "by",
        "limit",
        "origin",
        "brand_id",
        "category_id",
        "country",
        "device",
        "time_range",
        "query",
        "cookie",
        "source",
    ];
    let text = rejection.body_text();
    let message = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_owned();
    let named = |name: &str| KNOWN.iter().find(|known| **known == name).copied();
    let parameter = message
        .split('`')
        .nth(1)
        .and_then(named)
        .or_else(|| {
            message
                .split_once(':')
                .and_then(|(name, _)| named(name.trim()))
        })
        .unwrap_or("query");
    InvalidParameter::new(parameter, message)
}

/// A time series of one action's COUNT and SUM_PRICE per bucket.
#[utoipa::path(
    get,
    path = "/v1/series",
    params(SeriesParams),
    responses(
        (status = 200, description = "every bucket of the range, zeros where nothing matched; `source` says whether the cube or the archive answered", body = SeriesAnswer),
        (status = 400, description = "a parameter is missing or malformed (named in the answer)"),
        (status = 401, description = "no key or a wrong one"),
        (status = 503, description = "ClickHouse could not answer in time"),
    ),
    security(("api_key" = []), ("basic" = []))
)]
pub(crate) async fn series(
    State(state): State<AnalyticsState>,
    V1Query(params): V1Query<SeriesParams>,
) -> Result<Json<SeriesAnswer>, ApiError> {
    let query = params.check()?;
    if let Some(history) = state
        .archive_for(query.source, query.action, query.range.from())
        .await?
    {
        let (totals, scope) = state
            .gate
            .run(state.deadline, history.series(&query))
            .await?;
        return Ok(Json(
            SeriesAnswer::new(&query, &totals).with_archive_scope(&scope),
        ));
    }
    let totals = state
        .gate
        .run(state.deadline, state.cube.series(&query))
        .await?;
    Ok(Json(SeriesAnswer::new(&query, &totals)))
}

/// The values of one dimension with the most tags or revenue of one action.
#[utoipa::path(
    get,
    path = "/v1/top",
    params(TopParams),
    responses(
        (status = 200, description = "the best values first, and the totals over every value; `source` says whether the cube or the archive answered", body = TopAnswer),
        (status = 400, description = "a parameter is missing or malformed (named in the answer)"),
        (status = 401, description = "no key or a wrong one"),
        (status = 503, description = "ClickHouse could not answer in time"),
    ),
    security(("api_key" = []), ("basic" = []))
)]
pub(crate) async fn top(
    State(state): State<AnalyticsState>,
    V1Query(params): V1Query<TopParams>,
) -> Result<Json<TopAnswer>, ApiError> {
    let query = params.check()?;
    if let Some(history) = state
        .archive_for(query.source, query.action, query.range.from())
        .await?
    {
        let (ranked, scope) = state.gate.run(state.deadline, history.top(&query)).await?;
        return Ok(Json(
            TopAnswer::new(&query, &ranked).with_archive_scope(&scope),
        ));
    }
    let ranked = state
        .gate
        .run(state.deadline, state.cube.top(&query))
        .await?;
    Ok(Json(TopAnswer::new(&query, &ranked)))
}

/// A shopper's views and buys in a range, newest first: the contract's profile answer.
#[utoipa::path(
    get,
    path = "/v1/shoppers/{cookie}",
    params(("cookie" = String, Path, description = "the shopper"), ShopperParams),
    responses(
        (status = 200, description = "`{\"cookie\", \"views\": [tag], \"buys\": [tag]}`, each tag exactly as it was sent"),
        (status = 400, description = "a parameter is missing or malformed (named in the answer)"),
        (status = 401, description = "no key or a wrong one"),
        (status = 503, description = "ClickHouse could not answer in time"),
    ),
    security(("api_key" = []), ("basic" = []))
)]
pub(crate) async fn shopper(
    State(state): State<AnalyticsState>,
    Path(cookie): Path<String>,
    V1Query(params): V1Query<ShopperParams>,
) -> Result<Response, ApiError> {
    let query = params.check()?;
    let profile = state
        .gate
        .run(
            state.deadline,
            state.store.profile(&cookie, query.range, query.limit),
        )
        .await?;
    Ok(Json(answers::profile(&cookie, &profile)).into_response())
}

/// The ingest panel's figures: cumulative counters and current gauges of the services.
#[utoipa::path(
    get,
    path = "/v1/ingest",
    responses(
        (status = 200, description = "the services' figures now; two readings give rates", body = IngestAnswer),
        (status = 401, description = "no key or a wrong one"),
    ),
    security(("api_key" = []), ("basic" = []))
)]
pub(crate) async fn ingest(State(state): State<AnalyticsState>) -> Json<IngestAnswer> {
    Json(state.ingest.read().await)
}

/// This API's OpenAPI description.
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}
