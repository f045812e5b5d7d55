//! Latency recording (HdrHistogram, microseconds) and the run summary.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Latencies of one kind of request.
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty recorder (1 µs to 60 s, 3 significant digits).
    pub fn new() -> Self {
        // Constant, valid bounds: construction cannot fail.
        #[allow(clippy::expect_used)]
        let histogram =
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        Self { histogram }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = latency.as_micros().clamp(1, 60_000_000) as u64;
        let _ = self.histogram.record(micros);
    }

    /// Adds another recorder's samples.
    pub fn merge(&mut self, other: &Self) {
        let _ = self.histogram.add(&other.histogram);
    }

    /// p50, p90, p99 and max in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let millis = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            samples: self.histogram.len(),
            p50_ms: millis(self.histogram.value_at_quantile(0.50)),
            p90_ms: millis(self.histogram.value_at_quantile(0.90)),
            p99_ms: millis(self.histogram.value_at_quantile(0.99)),
            max_ms: millis(self.histogram.max()),
        }
    }
}

/// Percentiles of one kind of request.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub samples: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
}
