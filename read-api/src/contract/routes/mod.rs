//! The HTTP handlers and their shared state. Request metrics, spans and ids come from
//! `service_kit::http::layers`.

pub(crate) mod aggregates;
pub(crate) mod profiles;

use crate::admission::gate::QueryGate;
use crate::contract::store::AggregatesStore;
use crate::profile_cache::ProfileReader;
use std::sync::Arc;
use std::time::Duration;

/// What the handlers need.
#[derive(Clone)]
pub(crate) struct AppState {
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

/// The contract's handlers against reads answered from memory: what each handler makes
/// of what the store gives (the aggregates' minute filling, the profile's shape and
/// the range and limit it asks for), without ClickHouse.
#[cfg(test)]
mod tests {
    use super::aggregates::aggregates;
    use super::profiles::user_profile;
    use super::*;
    use crate::admission::batcher::ProfileBatcher;
    use crate::contract::extract::{AggregatesRequest, ExpectedAnswer, ProfileRequest};
    use crate::contract::store::{
        AggregatesStore, BoxFuture, MinuteTotals, ProfileRead, ProfileStore, StoreError,
    };
    use axum::extract::State;
    use read_model::Profile;
    use schemas::contract::{AggregatesQuery, ProfileQuery};
    use schemas::UserTag;
    use serde_json::{json, Value};
    use std::sync::Mutex;

    /// Reads answered from memory, each profile read recorded.
    #[derive(Default)]
    struct InMemory {
        totals: Vec<MinuteTotals>,
        profile: Profile,
        asked: Arc<Mutex<Vec<ProfileRead>>>,
    }

    impl AggregatesStore for InMemory {
        fn read_minute_totals<'a>(
            &'a self,
            _query: &'a AggregatesQuery,
        ) -> BoxFuture<'a, Result<Vec<MinuteTotals>, StoreError>> {
            Box::pin(async move { Ok(self.totals.clone()) })
        }
    }

    impl ProfileStore for InMemory {
        fn read_profiles<'a>(
            &'a self,
            reads: &'a [ProfileRead],
        ) -> BoxFuture<'a, Result<Vec<Profile>, StoreError>> {
            Box::pin(async move {
                self.asked
                    .lock()
                    .expect("not poisoned")
                    .extend_from_slice(reads);
                Ok(reads.iter().map(|_| self.profile.clone()).collect())
            })
        }
    }

    fn state(aggregates: InMemory, profiles: InMemory) -> AppState {
        AppState {
            store: Arc::new(aggregates),
            profile_deadline: Duration::from_secs(5),
            aggregates_deadline: Duration::from_secs(5),
            gate: QueryGate::new(4),
            profiles: ProfileReader::new(ProfileBatcher::new(profiles, 2, 32), None),
        }
    }

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn tag(action: &str, time: &str, price: i32) -> UserTag {
        UserTag::from_json(
            json!({
                "time": time, "cookie": "shopper", "country": "PL", "device": "PC",
                "action": action, "origin": "o",
                "product_info": {"product_id": 7, "brand_id": "b", "category_id": "k", "price": price}
            })
            .to_string()
            .as_bytes(),
        )
        .expect("valid tag")
    }

    #[tokio::test]
    async fn every_minute_of_the_range_is_answered_with_zeros_where_nothing_matched() {
        let query = AggregatesQuery::parse(&pairs(&[
            ("time_range", "2026-03-01T12:00:00_2026-03-01T12:03:00"),
            ("action", "BUY"),
            ("origin", "o"),
            ("aggregates", "SUM_PRICE"),
            ("aggregates", "COUNT"),
        ]))
        .expect("valid query");
        let totals = InMemory {
            totals: vec![MinuteTotals {
                // 2026-03-01T12:01:00Z
                minute_start: 1_772_366_460,
                total_count: 3,
                total_sum_price: 30,
            }],
            ..InMemory::default()
        };
        let answer = aggregates(
            State(state(totals, InMemory::default())),
            AggregatesRequest(query),
            ExpectedAnswer(None),
        )
        .await
        .expect("answered");
        let answer = serde_json::to_value(&answer.0).expect("serializable");
        assert_eq!(
            answer,
            json!({
                "columns": ["1m_bucket", "action", "origin", "sum_price", "count"],
                "rows": [
                    ["2026-03-01T12:00:00", "BUY", "o", "0", "0"],
                    ["2026-03-01T12:01:00", "BUY", "o", "30", "3"],
                    ["2026-03-01T12:02:00", "BUY", "o", "0", "0"],
                ]
            })
        );
    }

    #[tokio::test]
    async fn a_profile_is_answered_as_read_for_the_queried_range_and_default_limit() {
        let profile = Profile {
            views: vec![
                tag("VIEW", "2026-03-01T12:00:02.000Z", 2),
                tag("VIEW", "2026-03-01T12:00:01.000Z", 1),
            ],
            buys: vec![tag("BUY", "2026-03-01T12:00:03.500Z", 3)],
        };
        let profiles = InMemory {
            profile: profile.clone(),
            ..InMemory::default()
        };
        let asked = Arc::clone(&profiles.asked);
        let query = ProfileQuery::parse(
            "shopper".to_owned(),
            &pairs(&[(
                "time_range",
                "2026-03-01T12:00:00.000_2026-03-01T12:01:00.000",
            )]),
        )
        .expect("valid query");
        let request = ProfileRequest(query.clone());
        let response = user_profile(
            State(state(InMemory::default(), profiles)),
            request,
            ExpectedAnswer(None),
        )
        .await
        .expect("answered");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let answer: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(answer["cookie"], "shopper");
        let times = |key: &str| -> Vec<Value> {
            answer[key]
                .as_array()
                .expect("array")
                .iter()
                .map(|tag| tag["time"].clone())
                .collect()
        };
        assert_eq!(
            times("views"),
            vec![
                json!("2026-03-01T12:00:02.000Z"),
                json!("2026-03-01T12:00:01.000Z")
            ]
        );
        assert_eq!(times("buys"), vec![json!("2026-03-01T12:00:03.500Z")]);
        assert_eq!(
            answer["views"][0],
            serde_json::to_value(&profile.views[0]).expect("serializable")
        );
        assert_eq!(
            *asked.lock().expect("not poisoned"),
            vec![ProfileRead {
                cookie: "shopper".to_owned(),
                range: query.time_range,
                limit: 200,
            }]
        );
    }
}
