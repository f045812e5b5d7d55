//! `POST /aggregates`: per-minute count and price sum of one action, optionally
//! filtered by origin, brand and category; one row per minute, every value a string.

use super::AppState;
use crate::contract::answers;
use crate::contract::debug_mode;
use crate::contract::error::ApiError;
use crate::contract::extract::{AggregatesRequest, ExpectedAnswer};
use axum::extract::State;
use axum::Json;
use schemas::contract::AggregatesAnswer;

/// Answers an aggregates query.
pub(crate) async fn aggregates(
    State(state): State<AppState>,
    AggregatesRequest(query): AggregatesRequest,
    ExpectedAnswer(expected): ExpectedAnswer,
) -> Result<Json<AggregatesAnswer>, ApiError> {
    let totals = state
        .gate
        .run(
            state.aggregates_deadline,
            state.store.read_minute_totals(&query),
        )
        .await?;
    let answer = answers::aggregates(&query, &totals);
    debug_mode::check(expected.as_deref(), &answer);
    Ok(Json(answer))
}
