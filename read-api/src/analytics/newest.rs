//! `GET /v1/newest`: the newest minute that has data, so the console can open on the
//! last hour of event time that holds tags instead of an empty "last hour" of the
//! wall clock (a replayed stream, a benchmark in another month).
//!
//! A tag's time is whatever its sender said, and one dated years ahead would pull an
//! unbounded "newest" there for everyone; so `before` bounds it (the console passes its
//! clock and falls back to no bound only when nothing is older).

use super::params::instant;
use super::routes::{AnalyticsState, V1Query};
use crate::contract::error::ApiError;
use crate::contract::store::StoreError;
use axum::extract::State;
use axum::Json;
use clickhouse::Client;
use schemas::contract::InvalidParameter;
use schemas::{Action, EventTime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The query string of `GET /v1/newest`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NewestParams {
    /// `VIEW` or `BUY`; absent: either.
    pub action: Option<String>,
    /// Only minutes that start before this instant, UTC: `2026-03-01T12:00:00` (a `Z`
    /// may follow); absent: any minute.
    pub before: Option<String>,
}

/// The newest minute that has data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewestAnswer {
    /// The action asked about; null for either.
    pub action: Option<&'static str>,
    /// The bound asked for, aligned to the second; null for none.
    pub before: Option<String>,
    /// The start of the newest minute with tags of the action before the bound, UTC
    /// `YYYY-MM-DDTHH:MM:SS`; null when there is none.
    pub minute: Option<String>,
}

/// A checked newest-minute query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewestQuery {
    /// The actions looked at.
    pub actions: &'static [Action],
    /// Whether one action was asked for.
    pub action: Option<Action>,
    /// Minutes starting before this instant, epoch seconds (exclusive).
    pub before_seconds: u32,
    /// Whether the bound was given.
    pub bounded: bool,
}

impl NewestParams {
    /// The checked query.
    pub(crate) fn check(self) -> Result<NewestQuery, InvalidParameter> {
        let action = match self.action.as_deref() {
            None => None,
            Some(text) => Some(
                Action::parse(text)
                    .ok_or_else(|| InvalidParameter::new("action", "expected VIEW or BUY"))?,
            ),
        };
        let actions: &'static [Action] = match action {
            None => &[Action::View, Action::Buy],
            Some(Action::View) => &[Action::View],
            Some(Action::Buy) => &[Action::Buy],
        };
        // Without a bound, every storable minute starts before the last storable second.
        let (before_seconds, bounded) = match self.before.as_deref() {
            None => (u32::MAX, false),
            Some(text) => {
                let seconds = instant("before", text)?.millis() / 1000;
                (u32::try_from(seconds).unwrap_or(u32::MAX), true)
            }
        };
        Ok(NewestQuery {
            actions,
            action,
            before_seconds,
            bounded,
        })
    }
}

/// The newest minute start of `query`'s actions, epoch seconds (one read per action).
pub(super) async fn newest_minute(
    client: &Client,
    query: &NewestQuery,
) -> Result<Option<u32>, StoreError> {
    let mut newest = None;
    for action in query.actions {
        let minute = read_model::cube::newest_minute(client, *action, query.before_seconds).await?;
        newest = newest.max(minute);
    }
    Ok(newest)
}

/// The newest minute that has data, of one action or either, optionally before an
/// instant.
#[utoipa::path(
    get,
    path = "/v1/newest",
    params(NewestParams),
    responses(
        (status = 200, description = "the newest minute with data, null when there is none", body = NewestAnswer),
        (status = 400, description = "a parameter is malformed (named in the answer)"),
        (status = 401, description = "no key or a wrong one"),
        (status = 503, description = "ClickHouse could not answer in time"),
    ),
    security(("api_key" = []), ("basic" = []))
)]
pub(crate) async fn newest(
    State(state): State<AnalyticsState>,
    V1Query(params): V1Query<NewestParams>,
) -> Result<Json<NewestAnswer>, ApiError> {
    let query = params.check()?;
    let client = state.store.client().clone();
    let minute = state
        .gate
        .run(state.deadline, newest_minute(&client, &query))
        .await?;
    let instant = |seconds: u32| EventTime::from_millis(i64::from(seconds) * 1000);
    Ok(Json(NewestAnswer {
        action: query.action.map(Action::as_str),
        before: query
            .bounded
            .then(|| instant(query.before_seconds).to_bucket_string()),
        minute: minute.map(|seconds| instant(seconds).to_bucket_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(action: Option<&str>, before: Option<&str>) -> Result<NewestQuery, InvalidParameter> {
        NewestParams {
            action: action.map(str::to_owned),
            before: before.map(str::to_owned),
        }
        .check()
    }

    #[test]
    fn no_bound_reaches_every_storable_minute() {
        let query = check(None, None).expect("valid");
        assert_eq!(query.actions, &[Action::View, Action::Buy]);
        assert!(!query.bounded);
        let last_minute = EventTime::MAX_STORABLE.millis() / 60_000 * 60;
        assert!(last_minute < i64::from(query.before_seconds));
    }

    #[test]
    fn a_bound_and_an_action_are_checked() {
        let query = check(Some("BUY"), Some("2031-05-01T10:00:30Z")).expect("valid");
        assert_eq!(
            (query.actions, query.action),
            (&[Action::Buy][..], Some(Action::Buy))
        );
        assert_eq!(
            EventTime::from_millis(i64::from(query.before_seconds) * 1000).to_bucket_string(),
            "2031-05-01T10:00:30"
        );
        assert_eq!(
            check(Some("CLICK"), None).map_err(|error| error.parameter),
            Err("action")
        );
        assert_eq!(
            check(None, Some("soon")).map_err(|error| error.parameter),
            Err("before")
        );
    }
}
