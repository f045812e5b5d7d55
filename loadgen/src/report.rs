//! The checking run's tallies and its report: what was sent and answered, which answers
//! were right or wrong by kind, latencies, freshness, a few mismatch examples; as JSON
//! and as a short text for the screen.

use crate::latency::{Latencies, LatencySummary};
use serde::Serialize;

/// How many mismatch examples a report keeps.
const MISMATCH_EXAMPLES: usize = 5;

/// How much of each answer an example keeps.
const EXAMPLE_CHARS: usize = 600;

/// The kinds of request the harness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A profile query while tags flow.
    Profile,
    /// An aggregates query while tags flow.
    Aggregate,
    /// A profile query of the final round.
    FinalProfile,
    /// An aggregates query of the final round.
    FinalAggregate,
}

impl Kind {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Aggregate => "aggregate",
            Self::FinalProfile => "final_profile",
            Self::FinalAggregate => "final_aggregate",
        }
    }
}

/// Running counts of one kind of query.
#[derive(Default)]
pub struct QueryTally {
    asked: u64,
    correct: u64,
    wrong: u64,
    errors: u64,
    uncertain: u64,
    latency: Latencies,
}

impl QueryTally {
    /// A query answered 200 in `latency`, right or wrong.
    pub fn answered(&mut self, correct: bool, latency: std::time::Duration) {
        self.asked += 1;
        self.latency.record(latency);
        if correct {
            self.correct += 1;
        } else {
            self.wrong += 1;
        }
    }

    /// A query answered with another status, a transport error or past its deadline.
    pub fn failed(&mut self) {
        self.asked += 1;
        self.errors += 1;
    }

    /// A query not asked because its answer depends on a tag that failed.
    pub fn skipped_uncertain(&mut self) {
        self.uncertain += 1;
    }

    /// Wrong answers plus errors.
    pub fn bad(&self) -> u64 {
        self.wrong + self.errors
    }

    /// The counts so far.
    pub fn report(&self) -> QueryReport {
        QueryReport {
            asked: self.asked,
            correct: self.correct,
            wrong: self.wrong,
            errors: self.errors,
            skipped_uncertain: self.uncertain,
            latency: self.latency.summary(),
        }
    }
}

/// One kind of query in the report.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    /// Queries sent.
    pub asked: u64,
    /// Answered 200 with the expected answer.
    pub correct: u64,
    /// Answered 200 with another answer.
    pub wrong: u64,
    /// Another status, a transport error, or past the deadline.
    pub errors: u64,
    /// Not asked: the answer depended on a tag that failed.
    pub skipped_uncertain: u64,
    /// Latency of the answered ones.
    pub latency: LatencySummary,
}

/// A wrong answer or an error, kept as an example.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// The query kind.
    pub kind: &'static str,
    /// The request URL.
    pub url: String,
    /// What the model expected (truncated).
    pub expected: String,
    /// What came back (truncated).
    pub got: String,
}

impl Mismatch {
    /// An example, each answer cut to a readable window around the first character where
    /// the two differ (prefixed with that character's offset when the window starts later),
    /// so that a difference deep in a long answer is visible.
    pub fn new(kind: Kind, url: &str, expected: &str, got: &str) -> Self {
        let first_difference = expected
            .chars()
            .zip(got.chars())
            .position(|(left, right)| left != right)
            .unwrap_or_else(|| expected.chars().count().min(got.chars().count()));
        let start = first_difference.saturating_sub(EXAMPLE_CHARS / 4);
        let cut = |text: &str| {
            let window = text
                .chars()
                .skip(start)
                .take(EXAMPLE_CHARS)
                .collect::<String>();
            if start == 0 {
                window
            } else {
                format!("[from char {start}] {window}")
            }
        };
        Self {
            kind: kind.name(),
            url: url.to_owned(),
            expected: cut(expected),
            got: cut(got),
        }
    }
}

/// The first few examples of wrong answers and, apart, of failed queries (so a burst
/// of 503s never hides a wrong answer).
#[derive(Default)]
pub struct Examples {
    wrong: Vec<Mismatch>,
    failed: Vec<Mismatch>,
}

impl Examples {
    /// Keeps a wrong answer if there is room.
    pub fn keep_wrong(&mut self, example: Mismatch) {
        if self.wrong.len() < MISMATCH_EXAMPLES {
            self.wrong.push(example);
        }
    }

    /// Keeps a failed query if there is room.
    pub fn keep_failed(&mut self, example: Mismatch) {
        if self.failed.len() < MISMATCH_EXAMPLES {
            self.failed.push(example);
        }
    }

    /// The kept examples, wrong answers first.
    pub fn to_vec(&self) -> Vec<Mismatch> {
        self.wrong.iter().chain(&self.failed).cloned().collect()
    }
}

/// Tags sent.
#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    /// Requests sent.
    pub sent: u64,
    /// Answered 204.
    pub accepted: u64,
    /// Another status, a transport error, or past the deadline.
    pub failed: u64,
    /// Requested rate (0 = flat out).
    pub target_rate: u32,
    /// Accepted tags per second while sending.
    pub achieved_rate: f64,
    /// Latency of the accepted ones, from each request's due time.
    pub latency: LatencySummary,
}

/// Freshness: from a tag's 204 to the moment its profile shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FreshnessReport {
    /// Tags probed.
    pub probes: u64,
    /// Probes that saw their tag within the probe deadline.
    pub visible: u64,
    /// From 204 to visible.
    pub latency: LatencySummary,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct HarnessReport {
    /// Base URL checked.
    pub base_url: String,
    /// Stream seed.
    pub seed: u64,
    /// First event time of the stream.
    pub stream_start: String,
    /// Event time covered by the stream, seconds.
    pub event_time_seconds: f64,
    /// Lags after a 204 before a query may depend on a tag: profiles, aggregates (ms).
    pub lags_ms: [u64; 2],
    /// Tags.
    pub tags: TagReport,
    /// Profile queries while tags flowed.
    pub profiles: QueryReport,
    /// Aggregates queries while tags flowed.
    pub aggregates: QueryReport,
    /// Profile queries of the final round.
    pub final_profiles: QueryReport,
    /// Aggregates queries of the final round.
    pub final_aggregates: QueryReport,
    /// Tags answered 204 that the final round's unfiltered counts are missing.
    pub lost_tags: u64,
    /// Freshness probes (absent when not asked for).
    pub freshness: Option<FreshnessReport>,
    /// A few wrong answers and errors.
    pub mismatches: Vec<Mismatch>,
    /// Whether [`HarnessReport::verdict`] found nothing wrong.
    pub passed: bool,
}

impl HarnessReport {
    /// Why the run failed, if it did: any wrong answer, any query error, any lost tag,
    /// or a freshness probe that never saw its tag.
    pub fn verdict(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (name, report) in [
            ("profile", &self.profiles),
            ("aggregate", &self.aggregates),
            ("final profile", &self.final_profiles),
            ("final aggregate", &self.final_aggregates),
        ] {
            if report.wrong > 0 {
                problems.push(format!("{} wrong {name} answers", report.wrong));
            }
            if report.errors > 0 {
                problems.push(format!("{} {name} queries failed", report.errors));
            }
        }
        if self.lost_tags > 0 {
            problems.push(format!("{} tags answered 204 were lost", self.lost_tags));
        }
        if let Some(freshness) = &self.freshness {
            if freshness.visible < freshness.probes {
                problems.push(format!(
                    "{} of {} probed tags never became visible",
                    freshness.probes - freshness.visible,
                    freshness.probes
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// A short text for the screen.
    pub fn summary_text(&self) -> String {
        let mut text = format!(
            "loadgen run against {} (seed {}, {:.0} s of event time from {})\n",
            self.base_url, self.seed, self.event_time_seconds, self.stream_start
        );
        text += &format!(
            "  tags        sent {:>8}  accepted {:>8}  failed {:>6}  rate {:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms\n",
            self.tags.sent,
            self.tags.accepted,
            self.tags.failed,
            self.tags.achieved_rate,
            self.tags.latency.p50_ms,
            self.tags.latency.p99_ms,
            self.tags.latency.max_ms
        );
        for (name, report) in [
            ("profiles", &self.profiles),
            ("aggregates", &self.aggregates),
            ("final prof.", &self.final_profiles),
            ("final aggr.", &self.final_aggregates),
        ] {
            text += &format!(
                "  {name:<11} asked {:>7}  correct {:>7}  wrong {:>5}  errors {:>5}  skipped {:>5}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms\n",
                report.asked,
                report.correct,
                report.wrong,
                report.errors,
                report.skipped_uncertain,
                report.latency.p50_ms,
                report.latency.p99_ms,
                report.latency.max_ms
            );
        }
        if let Some(freshness) = &self.freshness {
            text += &format!(
                "  freshness   probes {:>6}  visible {:>6}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms\n",
                freshness.probes,
                freshness.visible,
                freshness.latency.p50_ms,
                freshness.latency.p99_ms,
                freshness.latency.max_ms
            );
        }
        text += &format!("  lost tags   {}\n", self.lost_tags);
        for mismatch in &self.mismatches {
            text += &format!(
                "  MISMATCH {} {}\n    expected {}\n    got      {}\n",
                mismatch.kind, mismatch.url, mismatch.expected, mismatch.got
            );
        }
        text += match self.verdict() {
            Ok(()) => "  PASSED: every answer correct, no answered tag lost\n".to_owned(),
            Err(problems) => format!("  FAILED: {problems}\n"),
        }
        .as_str();
        text
    }
}

/// Why a report could not be written as JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonWriteError {
    /// It did not serialize.
    #[error("serializing the report")]
    Serialize(#[from] serde_json::Error),
    /// The file could not be written.
    #[error("writing {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `report` to `path` as pretty JSON (`--json-out` of loadgen and chaos).
pub fn write_json(path: &std::path::Path, report: &impl Serialize) -> Result<(), JsonWriteError> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).map_err(|source| JsonWriteError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_written_as_json_or_the_failure_names_the_file() {
        let path = std::env::temp_dir().join(format!("loadgen-report-{}.json", std::process::id()));
        write_json(&path, &serde_json::json!({"passed": true})).expect("written");
        let text = std::fs::read_to_string(&path).expect("read back");
        std::fs::remove_file(&path).expect("removed");
        assert_eq!(text, "{\n  \"passed\": true\n}");
        let missing = std::env::temp_dir()
            .join("no-such-dir-of-loadgen")
            .join("r.json");
        let error = write_json(&missing, &1).expect_err("no such directory");
        assert!(
            error.to_string().contains("no-such-dir-of-loadgen"),
            "{error}"
        );
    }
}
