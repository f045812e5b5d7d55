//! Debug mode: a query's JSON body is the answer the caller expects. It is compared
//! with ours; a mismatch is logged (both answers, truncated) and counted in
//! `read_api_debug_mismatches_total{endpoint}`. Our answer and status never change,
//! and the body is never echoed. A body that is empty or not JSON is ignored.

use schemas::EventTime;
use serde_json::Value;

/// How much of each answer a mismatch log line carries.
const LOGGED_ANSWER_BYTES: usize = 2048;

/// The endpoint an answer belongs to (the metric's `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /user_profiles/{cookie}`.
    UserProfiles,
    /// `POST /aggregates`.
    Aggregates,
}

impl Endpoint {
    /// The label value.
    pub const fn label(self) -> &'static str {
        match self {
            Self::UserProfiles => "user_profiles",
            Self::Aggregates => "aggregates",
        }
    }
}

/// The expected answer carried by a request body, if it is JSON.
pub fn expected_answer(body: &[u8]) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// Whether two answers of `endpoint` mean the same. Profile tag times are compared as
/// instants (`...:00Z` equals `...:00.000Z`); everything else must be equal as JSON.
pub fn answers_match(endpoint: Endpoint, expected: &Value, ours: &Value) -> bool {
    match endpoint {
        Endpoint::UserProfiles => {
            normalized_profile(expected.clone()) == normalized_profile(ours.clone())
        }
        Endpoint::Aggregates => expected == ours,
    }
}

/// Compares `ours` with the expected answer in `body`, if any, and reports a mismatch.
pub fn check(endpoint: Endpoint, body: &[u8], ours: &Value) {
    let Some(expected) = expected_answer(body) else {
        return;
    };
    if answers_match(endpoint, &expected, ours) {
        return;
    }
    metrics::counter!("read_api_debug_mismatches_total", "endpoint" => endpoint.label())
        .increment(1);
    tracing::warn!(
        endpoint = endpoint.label(),
        expected = %truncated(&expected),
        ours = %truncated(ours),
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

fn truncated(answer: &Value) -> String {
    let mut text = answer.to_string();
    if text.len() > LOGGED_ANSWER_BYTES {
        let mut end = LOGGED_ANSWER_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...(truncated)");
    }
    text
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
        assert!(answers_match(Endpoint::UserProfiles, &expected, &ours));
        let later =
            json!({"cookie": "c", "views": [{"time": "2026-03-01T12:00:00.001Z"}], "buys": []});
        assert!(!answers_match(Endpoint::UserProfiles, &later, &ours));
    }

    #[test]
    fn empty_and_non_json_bodies_are_not_expectations() {
        assert_eq!(expected_answer(b""), None);
        assert_eq!(expected_answer(b" \n"), None);
        assert_eq!(expected_answer(b"not json"), None);
        assert_eq!(
            expected_answer(b"{\"rows\": []}"),
            Some(json!({"rows": []}))
        );
    }

    #[test]
    fn long_answers_are_cut_on_a_character_boundary() {
        let answer = Value::from("é".repeat(3000));
        let text = truncated(&answer);
        assert!(text.len() < LOGGED_ANSWER_BYTES + 20);
        assert!(text.ends_with("...(truncated)"));
    }
}
