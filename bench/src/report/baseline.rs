//! The figures of the platform on ClickHouse 18.16, which every report shows beside the
//! new ones. They cannot be measured again: 18.16 left the project (commit 1bb6061 moved
//! the local stack to 26.9). They are the last full `make bench` on 18.16, run on
//! 2026-11-24 at commit 75a6f2a (reports `docs/benchmarks.md`, `bench-write.md`,
//! `bench-projector.md` and `bench-read.md` as of commit caff8b2:
//! `git show caff8b2:docs/benchmarks.md`), on the same kind of machine (2 cores, AMD
//! EPYC, 24 GiB), copied here by hand. That run measured some things differently (no
//! ingestion under the read benchmark, no CPU per tag at a fixed rate); where a figure
//! has no 18.16 counterpart the reports say so instead of inventing one.

/// When and where the 18.16 figures were measured.
pub const MEASURED: &str = "make bench of 2026-11-24 at 75a6f2a";

/// Short column title.
pub const COLUMN: &str = "ClickHouse 18.16 (2026-11-24, 75a6f2a)";

/// Write path (`bench-write.md`, medians of 3 runs).
pub mod write {
    /// Raw producer ceiling, tags/s.
    pub const CEILING_RATE: f64 = 39_564.0;
    /// write-api flat out, direct (512 in flight), tags/s.
    pub const FLAT_DIRECT_RATE: f64 = 13_242.0;
    /// Flat out through the front door, tags/s.
    pub const FLAT_FRONT_RATE: f64 = 8_267.0;
    /// CPU while flat out, direct: whole machine, cores.
    pub const FLAT_CPU_MACHINE: f64 = 1.88;
    /// ... write-api, cores.
    pub const FLAT_CPU_WRITE_API: f64 = 0.76;
    /// ... broker, cores.
    pub const FLAT_CPU_BROKER: f64 = 0.49;
    /// write-api CPU per tag flat out, µs ("about 17,311 tags/s per core it uses"): the
    /// only CPU per tag the 18.16 run gives (no fixed-rate CPU, no no-op floor).
    pub const FLAT_CPU_PER_TAG_US: f64 = 1e6 / 17_311.0;
    /// Latency at 1,000 tags/s through the front door (client side): p50, p99, max, ms.
    pub const FRONT_1K_MS: [f64; 3] = [3.581, 8.575, 23.519];
    /// Latency at 1,000 tags/s direct (client side): p50, p99, max, ms.
    pub const DIRECT_1K_MS: [f64; 3] = [3.135, 7.715, 17.647];
    /// Flat-out latency direct: p50, p99, ms.
    pub const FLAT_DIRECT_MS: [f64; 2] = [35.711, 84.095];
    /// Flat-out latency through the front door: p50, p99, ms.
    pub const FLAT_FRONT_MS: [f64; 2] = [49.055, 133.119];
}

/// Projector (`bench-projector.md`, 1,000,000-tag backlog, medians of 3 runs).
pub mod projector {
    /// Raw consume, tags/s.
    pub const RAW_RATE: f64 = 46_333.0;
    /// Consume + decode + rows, tags/s.
    pub const DECODE_RATE: f64 = 45_999.0;
    /// Projector catch-up, tags/s.
    pub const CATCH_UP_RATE: f64 = 42_966.0;
    /// Rates counted from the first message/rows: raw, decode, projector, tags/s.
    pub const AFTER_FIRST_RATES: [f64; 3] = [49_527.0, 49_053.0, 47_173.0];
    /// Seconds to the first message (raw) and to the first rows (projector).
    pub const FIRST_S: [f64; 2] = [1.40, 2.02];
    /// Where the time went, seconds: wall clock, inside inserts, pipeline thread CPU,
    /// librdkafka threads CPU, projector CPU, ClickHouse CPU, broker CPU.
    pub const TIME_S: [f64; 7] = [23.3, 9.2, 4.7, 0.2, 5.1, 10.9, 21.2];
    /// Inserts (batches) per catch-up.
    pub const INSERTS: f64 = 36.0;
    /// The projector's own-work estimate, tags/s.
    pub const OWN_WORK_RATE: f64 = 71_912.0;
}

/// Read path (`bench-read.md`, 86,400,000 tags loaded, no ingestion, medians of 3 runs).
pub mod read {
    /// Loading 86,400,000 tags (INSERT ... SELECT FROM numbers, inside ClickHouse), s.
    pub const LOAD_SECONDS: f64 = 1_294.0;
    /// Tags loaded.
    pub const LOAD_TAGS: f64 = 86_400_000.0;
    /// Profiles at 100/s through read-api: p50, p99, max, ms (0 of 6,000 failed).
    pub const PROFILES_100_READ_API_MS: [f64; 3] = [9.26, 36.58, 71.3];
    /// The same SQL straight to ClickHouse: p50, p99, max, ms.
    pub const PROFILES_100_SQL_MS: [f64; 3] = [8.08, 31.98, 49.0];
    /// Profiles at 1,000/s through read-api: p50, p99, max, ms.
    pub const PROFILES_1000_READ_API_MS: [f64; 3] = [52.51, 92.93, 139.3];
    /// ... requests failed (mostly shed with 503) of those sent.
    pub const PROFILES_1000_FAILED: [f64; 2] = [45_962.0, 60_000.0];
    /// The same SQL straight to ClickHouse at 1,000/s: p50, p99, max, ms.
    pub const PROFILES_1000_SQL_MS: [f64; 3] = [202.37, 205.18, 224.8];
    /// Aggregates p99 per filter combination (mask 0..8): read-api, ms.
    pub const AGGREGATES_P99_READ_API_MS: [f64; 8] =
        [8.86, 10.35, 10.02, 13.57, 10.98, 14.13, 11.58, 11.27];
    /// Aggregates p99 per filter combination: the same SQL direct, ms.
    pub const AGGREGATES_P99_SQL_MS: [f64; 8] = [7.53, 8.68, 8.00, 8.38, 8.21, 254.08, 7.63, 8.72];
    /// Aggregates p50 per filter combination: read-api, ms.
    pub const AGGREGATES_P50_READ_API_MS: [f64; 8] =
        [5.51, 6.22, 6.04, 8.26, 5.66, 7.31, 6.59, 7.03];
    /// Parts after loading: user_tags (parts, rows, GiB on disk).
    pub const USER_TAGS_PARTS: [f64; 3] = [4.0, 86_400_000.0, 2.85];
    /// Parts after loading: minute_aggregates (parts, rows, GiB on disk).
    pub const MINUTE_AGGREGATES_PARTS: [f64; 3] = [96.0, 239_477_003.0, 2.25];
}

/// Whole platform (`benchmarks.md`: 300,000 tags at 1,000 tags/s from an empty scratch
/// database, contract lags, freshness probes).
pub mod e2e {
    /// Answers: correct, wrong, failed.
    pub const ANSWERS: [f64; 3] = [29_356.0, 0.0, 1.0];
    /// Tags answered 204 and lost.
    pub const LOST_TAGS: f64 = 0.0;
    /// Ingest latency through the front door: p50, p99, max, ms.
    pub const INGEST_MS: [f64; 3] = [3.9, 21.6, 126.4];
    /// Profile latency: p50, p99, ms.
    pub const PROFILES_MS: [f64; 2] = [5.5, 58.4];
    /// Aggregate latency: p50, p99, ms.
    pub const AGGREGATES_MS: [f64; 2] = [8.0, 73.8];
    /// Freshness, 204 to visible: p50, p99, max, ms (300 of 300 probes).
    pub const FRESHNESS_MS: [f64; 3] = [656.4, 854.5, 890.4];
    /// Bytes per stored tag: all tables, profiles, aggregates.
    pub const BYTES_PER_TAG: [f64; 3] = [66.3, 36.8, 29.5];
    /// Peak resident memory during the run, MiB.
    pub const MEMORY_MIB: [(&str, f64); 6] = [
        ("clickhouse", 4_529.0),
        ("tansu", 29.0),
        ("write-api", 17.0),
        ("read-api", 16.0),
        ("projector", 13.0),
        ("nginx", 7.0),
    ];

    /// The 18.16 peak of `component`, MiB.
    pub fn memory_mib(component: &str) -> Option<f64> {
        MEMORY_MIB
            .iter()
            .find(|(name, _)| *name == component)
            .map(|(_, mib)| *mib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_figures_match_the_old_report() {
        // bench-write.md: 0.76 cores at 13,242 tags/s, "about 17,311 tags/s per core".
        assert!((write::FLAT_CPU_PER_TAG_US - 57.8).abs() < 0.1);
        assert!((write::FLAT_CPU_WRITE_API / write::FLAT_DIRECT_RATE * 1e6 - 57.4).abs() < 0.1);
        assert_eq!(e2e::memory_mib("clickhouse"), Some(4_529.0));
        assert_eq!(e2e::memory_mib("kafka"), None);
        // 45,962 of 60,000 profiles at 1,000/s were not answered.
        assert!(
            (read::PROFILES_1000_FAILED[0] / read::PROFILES_1000_FAILED[1] - 0.766).abs() < 0.001
        );
    }
}
