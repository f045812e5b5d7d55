//! `POST /user_profiles/{cookie}`: a shopper's newest views and buys in a time range.

use super::AppState;
use crate::contract::answers;
use crate::contract::debug_mode;
use crate::contract::error::ApiError;
use crate::contract::extract::{ExpectedAnswer, ProfileRequest};
use crate::contract::store::ProfileRead;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Answers a user-profile query.
pub(crate) async fn user_profile(
    State(state): State<AppState>,
    request: ProfileRequest,
    ExpectedAnswer(expected): ExpectedAnswer,
) -> Result<Response, ApiError> {
    let ProfileRequest(query) = request;
    let limit = query.limit();
    let read = ProfileRead {
        cookie: query.cookie,
        range: query.time_range,
        limit,
    };
    let profile = state
        .profiles
        .read(read.clone(), state.profile_deadline)
        .await?;
    let cookie = read.cookie;
    let answer = answers::profile(&cookie, &profile);
    debug_mode::check(expected.as_deref(), &answer);
    Ok(Json(answer).into_response())
}
