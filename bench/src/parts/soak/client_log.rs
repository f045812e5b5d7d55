//! The soak's requests by minute and endpoint: the client's own log, from loadgen's
//! events, beside the server's, from nginx's access log.

use loadgen::harness::{Event, Verdict};
use loadgen::report::Kind;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// The endpoint a request path belongs to, if any.
pub fn endpoint_of(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    if method == "POST" && path.trim_end_matches('/') == "/user_tags" {
        Some("tags")
    } else if path.starts_with("/user_profiles/") {
        Some("profiles")
    } else if path.trim_end_matches('/') == "/aggregates" {
        Some("aggregates")
    } else {
        None
    }
}

/// Requests of one minute: per endpoint, (latency ms, whether it went as wanted).
pub(super) type MinuteRequests = BTreeMap<&'static str, Vec<(f64, bool)>>;

/// Requests per minute (minutes since the soak's first tag was due).
pub(super) type RequestLog = BTreeMap<u64, MinuteRequests>;

/// Client-side outcomes, bucketed by the minute they were answered in.
#[derive(Default)]
pub(super) struct ClientLog {
    /// Per minute.
    pub(super) minutes: RequestLog,
    pub(super) accepted: BTreeMap<u64, u64>,
    pub(super) wrong: BTreeMap<u64, u64>,
    pub(super) freshness: BTreeMap<u64, Vec<f64>>,
}

impl ClientLog {
    pub(super) fn record(&mut self, origin: Instant, event: Event) {
        let minute_of = |at: Instant| at.saturating_duration_since(origin).as_secs() / 60;
        match event {
            Event::Tag {
                due,
                answered,
                accepted,
                ..
            } => {
                let minute = minute_of(answered);
                let ms = answered.saturating_duration_since(due).as_secs_f64() * 1000.0;
                self.push(minute, "tags", ms, accepted);
                if accepted {
                    *self.accepted.entry(minute).or_default() += 1;
                }
            }
            Event::Query {
                kind,
                sent,
                answered,
                verdict,
                ..
            } => {
                let minute = minute_of(answered);
                let endpoint = match kind {
                    Kind::Profile | Kind::FinalProfile => "profiles",
                    Kind::Aggregate | Kind::FinalAggregate => "aggregates",
                };
                let ms = answered.saturating_duration_since(sent).as_secs_f64() * 1000.0;
                self.push(minute, endpoint, ms, verdict != Verdict::Failed);
                if verdict == Verdict::Wrong {
                    *self.wrong.entry(minute).or_default() += 1;
                }
            }
            Event::Fresh { seen, latency } => {
                self.freshness
                    .entry(minute_of(seen))
                    .or_default()
                    .push(latency.as_secs_f64() * 1000.0);
            }
            Event::MinuteCounted { .. } => {}
        }
    }

    fn push(&mut self, minute: u64, endpoint: &'static str, ms: f64, ok: bool) {
        self.minutes
            .entry(minute)
            .or_default()
            .entry(endpoint)
            .or_default()
            .push((ms, ok));
    }
}

/// Server-side requests per minute from nginx's log.
pub(super) type ServerLog = RequestLog;

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_path() {
        assert_eq!(endpoint_of("POST", "/user_tags"), Some("tags"));
        assert_eq!(endpoint_of("POST", "/user_tags/"), Some("tags"));
        assert_eq!(
            endpoint_of("POST", "/user_profiles/c1?time_range=a_b"),
            Some("profiles")
        );
        assert_eq!(
            endpoint_of("POST", "/aggregates?time_range=a_b&action=VIEW"),
            Some("aggregates")
        );
        assert_eq!(endpoint_of("GET", "/user_tags"), None);
        assert_eq!(endpoint_of("GET", "/metrics"), None);
    }
}
