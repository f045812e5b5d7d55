//! `POST /user_profiles/{cookie}`: a shopper's newest views and buys in a time range.

use super::{observed, within, AppState};
use crate::debug_mode::{self, Endpoint};
use crate::error::ApiError;
use crate::params::{InvalidParameter, ProfileQuery};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use read_model::codes::action_code;
use read_model::UserTagRow;
use schemas::Action;
use serde_json::{json, Value};

/// Answers a user-profile query.
pub async fn user_profile(
    State(state): State<AppState>,
    cookie: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    observed(Endpoint::UserProfiles, answer(&state, cookie, query, body)).await
}

async fn answer(
    state: &AppState,
    cookie: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(cookie) =
        cookie.map_err(|_| InvalidParameter::new("cookie", "expected a UTF-8 path segment"))?;
    let Query(pairs) =
        query.map_err(|_| InvalidParameter::new("query", "unreadable query string"))?;
    let query = ProfileQuery::parse(&pairs)?;
    let store = state.store.clone();
    let read_cookie = cookie.clone();
    let rows = within(&state.gate, state.profile_deadline, async move {
        store
            .profile_tags(&read_cookie, query.time_range, query.limit)
            .await
    })
    .await?;
    let (views, buys): (Vec<UserTagRow>, Vec<UserTagRow>) = rows
        .into_iter()
        .partition(|row| row.action == action_code(Action::View));
    let profile = json!({
        "cookie": cookie,
        "views": tags_json(&views)?,
        "buys": tags_json(&buys)?,
    });
    if let Ok(body) = body {
        debug_mode::check(Endpoint::UserProfiles, &body, &profile);
    }
    Ok(Json(profile))
}

fn tags_json(rows: &[UserTagRow]) -> Result<Vec<Value>, ApiError> {
    rows.iter()
        .map(|row| Ok(row.to_tag()?.to_json_value()))
        .collect()
}
