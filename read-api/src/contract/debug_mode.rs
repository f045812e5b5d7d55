//! Debug mode: a query's JSON body is the answer the caller expects. It is compared
//! with ours; a mismatch is counted in `read_api_debug_mismatches_total{endpoint}` and
//! logged with the whole difference (an RFC 6902 JSON patch from the expected answer to
//! ours, every differing value included), at most one line a second per endpoint (the
//! line says how many it stands for). Our answer and status never change, and the body
//! is never echoed.
//!
//! The harness sends an expected answer with every query, so the check is on the hot
//! path: the body is parsed straight into the contract's answer type and compared
//! typed; only a mismatch (or a body that is not such an answer) pays for the generic
//! JSON comparison that finds the difference.

use schemas::contract::{AggregatesAnswer, ProfileAnswer};
use schemas::EventTime;
use serde::Serialize;
use serde_json::Value;
use service_kit::metric_names::read_api as names;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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

    const fn index(self) -> usize {
        match self {
            Self::UserProfiles => 0,
            Self::Aggregates => 1,
        }
    }
}

/// An answer the service gives, comparable with the caller's expected one.
pub(crate) trait Answer: Serialize {
    /// The endpoint that gives it.
    const ENDPOINT: Endpoint;

    /// Whether `body` is this kind of answer and says the same as `self`.
    fn same_as_body(&self, body: &[u8]) -> bool;
}

impl Answer for ProfileAnswer<'_> {
    const ENDPOINT: Endpoint = Endpoint::UserProfiles;

    fn same_as_body(&self, body: &[u8]) -> bool {
        serde_json::from_slice::<ProfileAnswer<'static>>(body)
            .is_ok_and(|expected| self.same_as(&expected))
    }
}

impl Answer for AggregatesAnswer {
    const ENDPOINT: Endpoint = Endpoint::Aggregates;

    fn same_as_body(&self, body: &[u8]) -> bool {
        serde_json::from_slice::<Self>(body).is_ok_and(|expected| *self == expected)
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

/// Compares `ours` with the answer the caller expects, if the body carries one (a body
/// that is not JSON carries none), and reports a mismatch.
pub(crate) fn check<A: Answer>(expected: Option<&[u8]>, ours: &A) {
    let Some(body) = expected else {
        return;
    };
    if ours.same_as_body(body) {
        return;
    }
    let Ok(expected) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Ok(ours) = serde_json::to_value(ours) else {
        return;
    };
    let endpoint = A::ENDPOINT;
    let difference = difference(endpoint, &expected, &ours);
    if difference.0.is_empty() {
        return;
    }
    metrics::counter!(names::DEBUG_MISMATCHES.name, "endpoint" => endpoint.label()).increment(1);
    let Some(mismatches) = LOG_LINES[endpoint.index()].admit(Instant::now()) else {
        return;
    };
    tracing::warn!(
        endpoint = endpoint.label(),
        mismatches,
        differences = difference.0.len(),
        difference = %serde_json::to_string(&difference).unwrap_or_default(),
        expected = %expected,
        ours = %ours,
        "answer differs from the expected one"
    );
}

/// How often a mismatch of one endpoint is logged at most. A caller whose expectations
/// differ from every answer (its own model wrong, or a tag it thinks failed that the log
/// holds) would otherwise have every answer logged twice over, at hundreds of lines a
/// second; the metric counts every mismatch.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The log lines of one endpoint's mismatches: at most one per [`LOG_EVERY`]. Only a
/// mismatch takes its lock.
struct LogLines(Mutex<LogState>);

struct LogState {
    /// No line before this instant (none yet: the first mismatch is logged).
    next_at: Option<Instant>,
    /// Mismatches since the last line written.
    pending: u64,
}

static LOG_LINES: [LogLines; 2] = [LogLines::new(), LogLines::new()];

impl LogLines {
    const fn new() -> Self {
        Self(Mutex::new(LogState {
            next_at: None,
            pending: 0,
        }))
    }

    /// Counts a mismatch at `now`. `Some(n)` when it is to be logged, standing for `n`
    /// mismatches (itself and those not logged since the last line).
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.pending += 1;
        if state.next_at.is_some_and(|next_at| now < next_at) {
            return None;
        }
        state.next_at = Some(now + LOG_EVERY);
        Some(std::mem::take(&mut state.pending))
    }
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

    fn profile_body(time: &str, price: u32) -> String {
        format!(
            r#"{{"cookie":"c","views":[{{"time":"{time}","cookie":"c","country":"PL","device":"PC","action":"VIEW","origin":"o","product_info":{{"product_id":1,"brand_id":"b","category_id":"k","price":{price}}}}}],"buys":[]}}"#
        )
    }

    #[test]
    fn the_typed_comparison_agrees_with_the_json_difference() {
        let ours: ProfileAnswer<'static> =
            serde_json::from_str(&profile_body("2026-03-01T12:00:00Z", 10)).expect("an answer");
        let ours_json = serde_json::to_value(&ours).expect("serializes");
        for (body, same) in [
            (profile_body("2026-03-01T12:00:00.000Z", 10), true),
            (profile_body("2026-03-01T12:00:00Z", 10), true),
            (profile_body("2026-03-01T12:00:00.001Z", 10), false),
            (profile_body("2026-03-01T12:00:00Z", 11), false),
            (r#"{"cookie":"c","views":[],"buys":[]}"#.to_owned(), false),
        ] {
            assert_eq!(ours.same_as_body(body.as_bytes()), same, "{body}");
            let expected: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(
                difference(Endpoint::UserProfiles, &expected, &ours_json)
                    .0
                    .is_empty(),
                same,
                "{body}"
            );
        }
        assert!(!ours.same_as_body(b"not json {"));

        let table = AggregatesAnswer {
            columns: vec![
                "1m_bucket".to_owned(),
                "action".to_owned(),
                "count".to_owned(),
            ],
            rows: vec![vec![
                "2026-03-01T12:00:00".to_owned(),
                "BUY".to_owned(),
                "1".to_owned(),
            ]],
        };
        let body = serde_json::to_string(&table).expect("serializes");
        assert!(table.same_as_body(body.as_bytes()));
        assert!(!table.same_as_body(body.replace("\"1\"", "1").as_bytes()));
        assert!(!table.same_as_body(body.replace("\"1\"", "\"2\"").as_bytes()));
    }

    #[test]
    fn a_mismatch_is_logged_at_most_once_a_second_standing_for_those_not_logged() {
        let lines = LogLines::new();
        let start = Instant::now();
        assert_eq!(lines.admit(start), Some(1));
        assert_eq!(lines.admit(start + Duration::from_millis(10)), None);
        assert_eq!(lines.admit(start + Duration::from_millis(999)), None);
        assert_eq!(lines.admit(start + LOG_EVERY), Some(3));
        assert_eq!(lines.admit(start + LOG_EVERY), None);
        assert_eq!(lines.admit(start + LOG_EVERY * 5), Some(2));
    }
}
