//! `POST /aggregates`: per-minute count and price sum of one action, optionally
//! filtered by origin, brand and category; one row per minute, every value a string.

use super::{observed, within, AppState};
use crate::debug_mode::{self, Endpoint};
use crate::error::ApiError;
use crate::params::{Aggregate, AggregatesQuery, InvalidParameter};
use crate::store::MinuteTotals;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Answers an aggregates query.
pub async fn aggregates(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    observed(Endpoint::Aggregates, answer(&state, query, body)).await
}

async fn answer(
    state: &AppState,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(pairs) =
        query.map_err(|_| InvalidParameter::new("query", "unreadable query string"))?;
    let query = AggregatesQuery::parse(&pairs)?;
    let store = state.store.clone();
    let read_query = query.clone();
    let totals = within(&state.gate, state.aggregates_deadline, async move {
        store.minute_totals(&read_query).await
    })
    .await?;
    let table = render(&query, &totals);
    if let Ok(body) = body {
        debug_mode::check(Endpoint::Aggregates, &body, &table);
    }
    Ok(Json(table))
}

/// The contract's table: `1m_bucket`, `action`, the present filters, the aggregates in
/// query order; a row for every minute of the range, zeros where nothing matched.
fn render(query: &AggregatesQuery, totals: &[MinuteTotals]) -> Value {
    let filters = query.filters.present();
    let mut columns = vec!["1m_bucket", "action"];
    columns.extend(filters.iter().map(|(name, _)| *name));
    columns.extend(query.aggregates.iter().map(|aggregate| aggregate.column()));
    let by_minute: HashMap<i64, &MinuteTotals> = totals
        .iter()
        .map(|totals| (i64::from(totals.minute_start) * 1000, totals))
        .collect();
    let rows: Vec<Vec<String>> =
        query
            .minutes()
            .into_iter()
            .map(|minute| {
                let minute_totals = by_minute.get(&minute.millis());
                let mut row = vec![minute.to_bucket_string(), query.action.as_str().to_owned()];
                row.extend(filters.iter().map(|(_, value)| (*value).to_owned()));
                row.extend(query.aggregates.iter().map(|aggregate| {
                    match (aggregate, minute_totals) {
                        (Aggregate::Count, Some(totals)) => totals.total_count.to_string(),
                        (Aggregate::SumPrice, Some(totals)) => totals.total_sum_price.to_string(),
                        (_, None) => "0".to_owned(),
                    }
                }));
                row
            })
            .collect();
    json!({"columns": columns, "rows": rows})
}
