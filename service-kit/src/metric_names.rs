//! Every metric Allezon exports, named once: the services record through these
//! constants, and whatever reads a metric back by name (read-api's `/v1/ingest`, bench,
//! the tests, the Grafana dashboard's check) reads it through them too.
//!
//! A metric is its exported name (what `/metrics` shows, so what operators' dashboards
//! and alerts query: renaming one breaks them), its kind, its label names and a line of
//! help. Names follow `<owner>_<name>_<unit>`, counters end in `_total`; a histogram
//! `x` is exported as the series `x_bucket`, `x_sum` and `x_count`.
//!
//! Groups, by owner: [`http`] (service-kit's HTTP layer, in every service with a
//! `service` label), [`write_api`], [`read_api`], [`projector`], [`archiver`], and
//! [`reconcile`] (the projector's `reconcile` command, for a textfile collector rather
//! than `/metrics`). [`ALL`] is every group.
//!
//! The list is pinned twice over: docs/operations.md's metrics table must match it
//! (a test renders the table from this module), and the dashboard's PromQL may only
//! name metrics found here (`tests/dashboard.rs`). Labels are recorded with literal
//! keys at the call sites; `labels` documents them.

/// What a metric is, in Prometheus' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever grows (`_total`).
    Counter,
    /// Set to the current value.
    Gauge,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl Kind {
    /// The Prometheus `# TYPE` word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One exported metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The exported name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The names of its labels (none for most).
    pub labels: &'static [&'static str],
    /// One line saying what it counts or measures.
    pub help: &'static str,
}

impl Metric {
    /// A histogram's bucket series (`<name>_bucket`).
    pub fn bucket_series(&self) -> String {
        debug_assert_eq!(self.kind, Kind::Histogram, "{} has no buckets", self.name);
        format!("{}_bucket", self.name)
    }

    /// A histogram's sum of observations (`<name>_sum`).
    pub fn sum_series(&self) -> String {
        debug_assert_eq!(self.kind, Kind::Histogram, "{} has no sum", self.name);
        format!("{}_sum", self.name)
    }

    /// A histogram's count of observations (`<name>_count`).
    pub fn count_series(&self) -> String {
        debug_assert_eq!(self.kind, Kind::Histogram, "{} has no count", self.name);
        format!("{}_count", self.name)
    }

    /// Whether `series` (a name as found in Prometheus text or PromQL) is this metric:
    /// its name, or for a histogram one of its three series.
    pub fn exports(&self, series: &str) -> bool {
        if series == self.name {
            return true;
        }
        self.kind == Kind::Histogram
            && series
                .strip_prefix(self.name)
                .is_some_and(|suffix| matches!(suffix, "_bucket" | "_sum" | "_count"))
    }
}

/// Declares a group's metrics as constants (the help line is each one's doc) and the
/// group's `ALL`, from one list, so no metric is declared without being listed.
macro_rules! metrics {
    ($($constant:ident: $kind:ident $name:literal [$($label:literal),*] $help:literal;)+) => {
        $(
            #[doc = $help]
            pub const $constant: Metric = Metric {
                name: $name,
                kind: Kind::$kind,
                labels: &[$($label),*],
                help: $help,
            };
        )+
        /// Every metric of this group, in declaration order.
        pub const ALL: &[Metric] = &[$($constant),+];
    };
}

/// service-kit's HTTP layer, in every service; `service` is the service's name.
pub mod http {
    use super::{Kind, Metric};

    metrics! {
        REQUESTS_IN_FLIGHT: Gauge "http_requests_in_flight" ["service"]
            "Requests being answered.";
        REQUEST_DURATION: Histogram "http_request_duration_seconds" ["service", "route"]
            "Time to answer a request, by matched route (`unmatched` for none).";
        REQUESTS: Counter "http_requests_total" ["service", "route", "status"]
            "Requests answered, by matched route and status code.";
    }
}

/// write-api: tags taken in and appended to the log.
pub mod write_api {
    use super::{Kind, Metric};

    metrics! {
        TAGS_ACCEPTED: Counter "write_api_tags_accepted_total" []
            "Tags appended to the log and answered 204.";
        TAGS_REJECTED: Counter "write_api_tags_rejected_total" ["reason"]
            "Tags refused, by reason (`broker_unavailable` is the 503; the others are 4xx or 500).";
        PRODUCE_DURATION: Histogram "write_api_produce_duration_seconds" []
            "Time from handing a tag to the producer to the broker's acknowledgement or the deadline.";
        BROKER_ERRORS: Counter "write_api_broker_errors_total" []
            "Appends the broker refused or did not acknowledge in time.";
        PRODUCER_REPLACEMENTS: Counter "write_api_producer_replacements_total" []
            "Producers replaced after a fatal error.";
    }
}

/// read-api: the shoppers' and analysts' reads.
pub mod read_api {
    use super::{Kind, Metric};

    metrics! {
        QUERIES_SHED: Counter "read_api_queries_shed_total" ["reason"]
            "Queries refused before reaching ClickHouse because they could not finish by their deadline, by reason.";
        QUERIES_LATE: Counter "read_api_queries_late_total" []
            "Queries whose answer did not come by their deadline.";
        PROFILE_BATCH_SIZE: Histogram "read_api_profile_batch_size" []
            "Profile reads sent to ClickHouse in one query.";
        CLICKHOUSE_QUERIES_IN_FLIGHT: Gauge "read_api_clickhouse_queries_in_flight" []
            "Queries running on ClickHouse.";
        PROFILE_CACHE: Counter "read_api_profile_cache_total" ["outcome"]
            "Profile reads by what the profile cache did (hit, whole, short, miss, unavailable, fill_refused).";
        PROFILE_CACHE_TAIL_SKIPPED: Counter "read_api_profile_cache_tail_skipped_total" []
            "Records left out of the cache's tail of the log (the cache empties until the projector passes them).";
        PROFILE_CACHE_TAIL_ERRORS: Counter "read_api_profile_cache_tail_errors_total" []
            "Errors reading the tail of the log.";
        PROFILE_CACHE_TAIL_TAGS: Gauge "read_api_profile_cache_tail_tags" []
            "Tags held in the cache's tail of the log.";
        PROFILE_CACHE_COOKIES: Gauge "read_api_profile_cache_cookies" []
            "Profiles held in the cache.";
        PROFILE_CACHE_BYTES: Gauge "read_api_profile_cache_bytes" []
            "Bytes the cached profiles hold (their tags and keys; at most --profile-cache-mib).";
        PROFILE_CACHE_TAIL_BEHIND: Gauge "read_api_profile_cache_tail_behind" []
            "Records of the log the cache's tail has not read yet.";
        PROFILE_CACHE_CAUGHT_UP: Gauge "read_api_profile_cache_caught_up" []
            "1 once the cache's tail has read the log up to its end, else 0.";
        UNAUTHORIZED: Counter "read_api_unauthorized_total" []
            "Analysts' requests refused for a missing or unknown API key.";
        DEBUG_MISMATCHES: Counter "read_api_debug_mismatches_total" ["endpoint"]
            "Debug mode: answers that differ from the expected one sent with the request, by endpoint.";
    }
}

/// projector: the log projected into ClickHouse, and the profile store trimmed.
pub mod projector {
    use super::{Kind, Metric};

    metrics! {
        ROWS_WRITTEN: Counter "projector_rows_written_total" []
            "Rows inserted into ClickHouse.";
        BATCH_ROWS: Histogram "projector_batch_rows" []
            "Rows per inserted batch.";
        BATCH_DURATION: Histogram "projector_batch_duration_seconds" []
            "Time to insert a batch.";
        VISIBILITY_DELAY: Histogram "projector_visibility_delay_seconds" []
            "Time from a batch's oldest record's append to the batch inserted.";
        LAST_VISIBILITY_DELAY: Gauge "projector_last_visibility_delay_seconds" []
            "The visibility delay of the last inserted batch.";
        CONSUMER_LAG: Gauge "projector_consumer_lag" ["partition"]
            "Records of the log not yet projected, by partition.";
        CONSUMER_ERRORS: Counter "projector_consumer_errors_total" []
            "Errors reading the log.";
        DEAD_LETTERS: Counter "projector_dead_letters_total" []
            "Records that are not tags, sent to the dead-letter topic.";
        DECODE_RETRIES: Counter "projector_decode_retries_total" []
            "Records whose decoding failed for a transient reason and was retried.";
        SENDER_RETRIES_SKIPPED: Counter "projector_sender_retries_skipped_total" []
            "Records skipped as a sender's retry of a record already projected.";
        REPLAYED_SKIPPED: Counter "projector_replayed_skipped_total" []
            "Records read again below the resume point and skipped.";
        RETRIES: Counter "projector_retries_total" []
            "Retries of a step of adopting partitions and resuming (broker requests, the batch log, batches inserted again).";
        CLICKHOUSE_RETRIES: Counter "projector_clickhouse_retries_total" []
            "Retries of a failed ClickHouse write of the live loop.";
        UNRESOLVED_BATCHES: Counter "projector_unresolved_batches_total" []
            "Batches found pending at a resume too old to check whether they were inserted.";
        BATCHES_INSERTED_AGAIN: Counter "projector_batches_inserted_again_total" []
            "Batches found pending at a resume and inserted again.";
        RESUME_OUTSIDE_LOG: Counter "projector_resume_outside_log_total" ["partition"]
            "Resume points outside the log (the partition stops), by partition.";
        TRIM_RUNS: Counter "projector_trim_runs_total" []
            "Runs of the profile store's trim.";
        TRIM_ROWS_DELETED: Counter "projector_trim_rows_deleted_total" []
            "Rows of the profile store deleted by the trim.";
        TRIM_PAIRS: Counter "projector_trim_pairs_total" []
            "Cookie and action pairs whose oldest tags the trim deleted.";
        TRIM_DURATION: Histogram "projector_trim_duration_seconds" []
            "Time of a trim run.";
        TRIM_FAILURES: Counter "projector_trim_failures_total" []
            "Trim or reclaim runs that failed.";
        RECLAIMS: Counter "projector_reclaims_total" []
            "Rewrites of the profile store that reclaimed the trimmed rows' disk.";
    }
}

/// archiver: the log written to the archive.
pub mod archiver {
    use super::{Kind, Metric};

    metrics! {
        RECORDS: Counter "archiver_records_total" ["kind"]
            "Records archived, by kind (tag, sender_retry, not_a_tag).";
        FILES_WRITTEN: Counter "archiver_files_written_total" []
            "Archive files written.";
        BYTES_WRITTEN: Counter "archiver_bytes_written_total" []
            "Bytes of the archive files written.";
        FILE_WRITE_DURATION: Histogram "archiver_file_write_duration_seconds" []
            "Time to write an archive file into place.";
        FRESHNESS: Histogram "archiver_freshness_seconds" []
            "Time from a file's first record's append to the file in place.";
        LAST_FRESHNESS: Gauge "archiver_last_freshness_seconds" []
            "The freshness of the last file written.";
        LAG_RECORDS: Gauge "archiver_lag_records" ["partition"]
            "Records of the log not yet archived, by partition.";
        FILES_ADOPTED: Counter "archiver_files_adopted_total" []
            "Files found in the archive at start and adopted into its manifest.";
        CONSUMER_ERRORS: Counter "archiver_consumer_errors_total" []
            "Errors reading the log.";
        DECODE_RETRIES: Counter "archiver_decode_retries_total" []
            "Records whose decoding failed for a transient reason and was retried.";
        LOG_HOLES: Counter "archiver_log_holes_total" []
            "Gaps between consecutive offsets read from the log.";
        RESUME_OUTSIDE_LOG: Counter "archiver_resume_outside_log_total" ["partition"]
            "Resume points outside the log (the archive has a hole), by partition.";
        RETRIES: Counter "archiver_retries_total" []
            "Retries of a step of starting and adopting partitions (recovering the archive, broker requests).";
        STORE_RETRIES: Counter "archiver_store_retries_total" []
            "Retries of a write the archive's store refused.";
    }
}

/// The projector's `reconcile` command: written to `--metrics-out` for a textfile
/// collector, not served on `/metrics`.
pub mod reconcile {
    use super::{Kind, Metric};

    metrics! {
        DIFFERENCES: Gauge "allezon_reconcile_differences" ["from", "to"]
            "Cube and rollup keys whose live totals differ from the log's, last reconciliation.";
        COMBINATIONS_COMPARED: Gauge "allezon_reconcile_combinations_compared" ["from", "to"]
            "Cube keys compared, last reconciliation.";
    }
}

/// Every group: its owner and its metrics.
pub const ALL: &[(&str, &[Metric])] = &[
    ("service-kit (every service)", http::ALL),
    ("write-api", write_api::ALL),
    ("read-api", read_api::ALL),
    ("projector", projector::ALL),
    ("archiver", archiver::ALL),
    ("projector reconcile", reconcile::ALL),
];

/// Every metric, group after group.
pub fn every_metric() -> impl Iterator<Item = &'static Metric> {
    ALL.iter().flat_map(|(_, metrics)| metrics.iter())
}

/// The metric `series` belongs to (its name or, for a histogram, one of its series).
pub fn find(series: &str) -> Option<&'static Metric> {
    every_metric().find(|metric| metric.exports(series))
}

/// The metrics table of docs/operations.md, rendered from [`ALL`].
pub fn markdown_table() -> String {
    let mut table =
        String::from("| metric | kind | labels | owner | what it says |\n|---|---|---|---|---|\n");
    for (owner, metrics) in ALL {
        for metric in *metrics {
            let labels = if metric.labels.is_empty() {
                String::new()
            } else {
                metric
                    .labels
                    .iter()
                    .map(|label| format!("`{label}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            table.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                metric.name,
                metric.kind.as_str(),
                labels,
                owner,
                metric.help
            ));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_name_is_declared_once() {
        let mut seen = HashSet::new();
        for metric in every_metric() {
            assert!(seen.insert(metric.name), "{} declared twice", metric.name);
        }
        // No histogram's series may collide with another metric's name.
        for metric in every_metric() {
            assert_eq!(find(metric.name), Some(metric));
        }
    }

    #[test]
    fn names_follow_the_convention() {
        let prefixes = [
            (http::ALL, "http_"),
            (write_api::ALL, "write_api_"),
            (read_api::ALL, "read_api_"),
            (projector::ALL, "projector_"),
            (archiver::ALL, "archiver_"),
            (reconcile::ALL, "allezon_reconcile_"),
        ];
        for (metrics, prefix) in prefixes {
            for metric in metrics {
                assert!(
                    metric.name.starts_with(prefix),
                    "{} lacks {prefix}",
                    metric.name
                );
                assert!(
                    metric
                        .name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{} is not snake case",
                    metric.name
                );
                assert_eq!(
                    metric.kind == Kind::Counter,
                    metric.name.ends_with("_total"),
                    "{}: counters, and only counters, end in _total",
                    metric.name
                );
                assert!(!metric.help.is_empty(), "{} has no help", metric.name);
            }
        }
    }

    #[test]
    fn histogram_series_are_found() {
        let duration = projector::BATCH_DURATION;
        assert_eq!(
            duration.count_series(),
            "projector_batch_duration_seconds_count"
        );
        assert_eq!(find(&duration.sum_series()), Some(&duration));
        assert_eq!(find(&duration.bucket_series()), Some(&duration));
        assert_eq!(find("projector_rows_written_total_count"), None);
        assert_eq!(find("projector_batch_duration"), None);
    }

    /// The exported names are a contract with operators' dashboards and alerts and with
    /// bench: the documented table and this module must agree, so renaming a metric
    /// means changing both on purpose.
    #[test]
    fn the_operations_guide_lists_every_metric() {
        let guide = include_str!("../../docs/operations.md");
        let table = markdown_table();
        assert!(
            guide.contains(&table),
            "docs/operations.md's metrics table differs from service_kit::metric_names; \
             the table should read:\n{table}"
        );
    }
}
