//! The arithmetic of the reports: medians of repeated runs, ratios, percentiles of raw
//! samples and of Prometheus histograms, and [`Latency`], the latency summary the
//! results files keep (loadgen's [`LatencySummary`] is written, never read back).

use loadgen::latency::{Latencies, LatencySummary};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Percentiles of one kind of request, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl From<&LatencySummary> for Latency {
    fn from(summary: &LatencySummary) -> Self {
        Self {
            samples: summary.samples,
            p50_ms: summary.p50_ms,
            p90_ms: summary.p90_ms,
            p99_ms: summary.p99_ms,
            max_ms: summary.max_ms,
        }
    }
}

impl Latency {
    /// The summary of `samples` (each a latency in milliseconds), through loadgen's
    /// recorder (HdrHistogram, 3 significant digits).
    pub fn of_millis(samples: impl IntoIterator<Item = f64>) -> Self {
        let mut latencies = Latencies::new();
        for millis in samples {
            latencies.record(Duration::from_secs_f64(millis.max(0.0) / 1000.0));
        }
        Self::from(&latencies.summary())
    }
}

/// The median of `values` (the mean of the two middle ones for an even count); `None`
/// when there are none. NaNs sort last.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// `numerator / denominator`, or `None` when the denominator is zero or either is not a
/// finite number.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    let value = numerator / denominator;
    (denominator != 0.0 && value.is_finite()).then_some(value)
}

/// One cumulative bucket of a Prometheus histogram: how many samples were at most `le`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound (`f64::INFINITY` for `+Inf`, written `"+Inf"` in JSON, which has no
    /// infinity).
    #[serde(with = "bound")]
    pub le: f64,
    /// Samples at most `le` (cumulative).
    pub count: f64,
}

/// A bucket bound in JSON: a number, or `"+Inf"`.
mod bound {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_infinite() {
            serializer.serialize_str("+Inf")
        } else {
            serializer.serialize_f64(*value)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Bound {
        Number(f64),
        Text(String),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match Bound::deserialize(deserializer)? {
            Bound::Number(value) => Ok(value),
            Bound::Text(text) if text == "+Inf" => Ok(f64::INFINITY),
            Bound::Text(text) => Err(serde::de::Error::custom(format!(
                "bad bucket bound {text:?}"
            ))),
        }
    }
}

/// The `q`-quantile of a cumulative histogram, as Prometheus' `histogram_quantile`
/// estimates it: linear within the bucket holding the rank, the first bucket starting
/// at 0, and the lower bound of the `+Inf` bucket when the rank falls there. `None`
/// without samples. `buckets` must be sorted by `le`.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    let total = buckets.last()?.count;
    if total <= 0.0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let mut lower_bound = 0.0;
    let mut below = 0.0;
    for bucket in buckets {
        if bucket.count >= rank && bucket.count > below {
            if bucket.le.is_infinite() {
                return Some(lower_bound);
            }
            let share = (rank - below) / (bucket.count - below);
            return Some(lower_bound + (bucket.le - lower_bound) * share);
        }
        lower_bound = bucket.le;
        below = bucket.count;
    }
    Some(lower_bound)
}

/// The bounds `(lower, upper]` of the bucket holding the `q`-quantile: what the
/// histogram knows for certain about it.
pub fn histogram_quantile_bounds(q: f64, buckets: &[Bucket]) -> Option<(f64, f64)> {
    let total = buckets.last()?.count;
    if total <= 0.0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let mut lower_bound = 0.0;
    let mut below = 0.0;
    for bucket in buckets {
        if bucket.count >= rank && bucket.count > below {
            return Some((lower_bound, bucket.le));
        }
        lower_bound = bucket.le;
        below = bucket.count;
    }
    None
}

/// `after - before` bucket by bucket (the samples recorded between two scrapes).
/// Buckets missing from `before` count as empty there.
pub fn bucket_delta(before: &[Bucket], after: &[Bucket]) -> Vec<Bucket> {
    after
        .iter()
        .map(|bucket| {
            let earlier = before
                .iter()
                .find(|old| old.le == bucket.le)
                .map_or(0.0, |old| old.count);
            Bucket {
                le: bucket.le,
                count: (bucket.count - earlier).max(0.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([7.0]), Some(7.0));
        assert_eq!(median(Vec::<f64>::new()), None);
    }

    #[test]
    fn a_ratio_needs_a_denominator() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(le, count)| Bucket { le, count })
            .collect()
    }

    #[test]
    fn histogram_quantiles_interpolate_within_the_bucket() {
        // 100 samples: 50 at most 1 ms, 90 at most 2 ms, all at most 5 ms.
        let histogram = buckets(&[
            (0.001, 50.0),
            (0.002, 90.0),
            (0.005, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        let p50 = histogram_quantile(0.5, &histogram).expect("samples");
        assert!((p50 - 0.001).abs() < 1e-12, "{p50}");
        let p70 = histogram_quantile(0.7, &histogram).expect("samples");
        assert!((p70 - 0.0015).abs() < 1e-12, "{p70}");
        let p99 = histogram_quantile(0.99, &histogram).expect("samples");
        assert!((p99 - (0.002 + 0.003 * 0.9)).abs() < 1e-12, "{p99}");
        assert_eq!(
            histogram_quantile_bounds(0.99, &histogram),
            Some((0.002, 0.005))
        );
        assert_eq!(
            histogram_quantile_bounds(0.5, &histogram),
            Some((0.0, 0.001))
        );
    }

    #[test]
    fn a_rank_in_the_infinite_bucket_is_its_lower_bound_and_empty_is_none() {
        let histogram = buckets(&[(0.01, 1.0), (f64::INFINITY, 10.0)]);
        assert_eq!(histogram_quantile(0.99, &histogram), Some(0.01));
        assert_eq!(histogram_quantile(0.5, &buckets(&[(0.01, 0.0)])), None);
        assert_eq!(histogram_quantile(0.5, &[]), None);
    }

    #[test]
    fn deltas_subtract_bucket_by_bucket() {
        let before = buckets(&[(0.001, 5.0), (f64::INFINITY, 7.0)]);
        let after = buckets(&[(0.001, 15.0), (0.002, 3.0), (f64::INFINITY, 27.0)]);
        assert_eq!(
            bucket_delta(&before, &after),
            buckets(&[(0.001, 10.0), (0.002, 3.0), (f64::INFINITY, 20.0)])
        );
    }

    #[test]
    fn infinite_bounds_survive_json() {
        let histogram = buckets(&[(0.001, 1.0), (f64::INFINITY, 2.0)]);
        let text = serde_json::to_string(&histogram).expect("serialize");
        assert!(text.contains("\"+Inf\""), "{text}");
        let back: Vec<Bucket> = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, histogram);
    }

    #[test]
    fn samples_summarise_through_loadgen_recorder() {
        let latency = Latency::of_millis((1..=100).map(f64::from));
        assert_eq!(latency.samples, 100);
        assert!((latency.p50_ms - 50.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p99_ms - 99.0).abs() < 0.1, "{latency:?}");
        assert!((latency.max_ms - 100.0).abs() < 0.1, "{latency:?}");
    }
}
