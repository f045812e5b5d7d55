//! Debug mode: a query's JSON body is the answer the caller expects. It is compared
//! with ours; a mismatch is logged with the whole difference (an RFC 6902 JSON patch
//! from the expected answer to ours, every differing value included) and counted in
//! `read_api_debug_mismatches_total{endpoint}`. Our answer and status never change,
//! and the body is never echoed.

use schemas::EventTime;
use serde::Serialize;
use serde_json::Value;
use service_kit::metric_names::read_api as names;

/// The endpoint an answer belongs to (the metric's `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /user_profiles/{cookie}`.
    UserProfiles,
    /// `POST /aggregates`.
    Aggregates,
}

impl Endpoint {
    /// The label value.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::UserProfiles => "user_profiles",
            Self::Aggregates => "aggregates",
        }
    }
}

/// The difference between the expected answer and ours, as a JSON patch turning the
/// expected answer into ours; empty when they mean the same. Profile tag times are
/// compared as instants (`...:00Z` equals `...:00.000Z`); everything else must be
/// equal as JSON.
pub(crate) fn difference(endpoint: Endpoint, expected: &Value, ours: &Value) -> json_patch::Patch {
    match endpoint {
        Endpoint::UserProfiles => json_patch::diff(
            &normalized_profile(expected.clone()),
            &normalized_profile(ours.clone()),
        ),
        Endpoint::Aggregates => json_patch::diff(expected, ours),
    }
}

/// Compares `ours` with the caller's expected answer, if any, and reports a mismatch.
pub(crate) fn check(endpoint: Endpoint, expected: Option<&Value>, ours: &impl Serialize) {
    let Some(expected) = expected else {
        return;
    };
    let Ok(ours) = serde_json::to_value(ours) else {
        return;
    };
    let difference = difference(endpoint, expected, &ours);
    if difference.0.is_empty() {
        return;
    }
    metrics::counter!(names::DEBUG_MISMATCHES.name, "endpoint" => endpoint.label()).increment(1);
    tracing::warn!(
        endpoint = endpoint.label(),
        differences = difference.0.len(),
        difference = %serde_json::to_string(&difference).unwrap_or_default(),
        expected = %expected,
        ours = %ours,
        "answer differs from the expected one"
    );
}

/// The profile with every parseable tag time rewritten in one canonical form.
fn normalized_profile(mut profile: Value) -> Value {
    for list in ["views", "buys"] {
        let Some(tags) = profile.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for tag in tags {
            let Some(time) = tag.get_mut("time") else {
                continue;
            };
            let canonical = time
                .as_str()
                .and_then(|text| EventTime::parse_instant(text).ok())
                .map(EventTime::millis);
            if let Some(millis) = canonical {
                *time = Value::from(millis);
            }
        }
    }
    profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profile_times_compare_as_instants() {
        let ours = json!({"cookie": "c", "views": [{"time": "2026-03-01T12:00:00Z"}], "buys": []});
        let expected =
            json!({"cookie": "c", "views": [{"time": "2026-03-01T12:00:00.000Z"}], "buys": []});
        assert!(difference(Endpoint::UserProfiles, &expected, &ours)
            .0
            .is_empty());
        let later =
            json!({"cookie": "c", "views": [{"time": "2026-03-01T12:00:00.001Z"}], "buys": []});
        assert!(!difference(Endpoint::UserProfiles, &later, &ours)
            .0
            .is_empty());
    }

    #[test]
    fn the_difference_names_every_differing_place_however_long_the_answers() {
        let row = |count: u32| json!(["2026-03-01T12:00:00", "VIEW", count.to_string()]);
        let expected = json!({"columns": ["1m_bucket", "action", "count"],
            "rows": (0..500).map(row).collect::<Vec<_>>()});
        let mut ours = expected.clone();
        ours["rows"][3][2] = json!("x");
        ours["rows"][497][2] = json!("y");
        let patch = serde_json::to_value(difference(Endpoint::Aggregates, &expected, &ours))
            .expect("serializes");
        assert_eq!(
            patch,
            json!([
                {"op": "replace", "path": "/rows/3/2", "value": "x"},
                {"op": "replace", "path": "/rows/497/2", "value": "y"}
            ])
        );
    }
}
