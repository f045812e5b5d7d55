//! Reading the services' `/metrics` (Prometheus text format): unlabelled samples (the
//! projector's batch counters) and the cumulative buckets of a labelled histogram
//! (write-api's `http_request_duration_seconds{route="/user_tags"}`), so a benchmark
//! can take the server's own latency between two scrapes.

use crate::stats::Bucket;
use std::collections::BTreeMap;

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

/// Parses a sample line; `None` for comments, blank lines and lines it cannot read.
fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    let Some((name, labels)) = series.split_once('{') else {
        return Some(Sample {
            name: series,
            labels: Vec::new(),
            value,
        });
    };
    Some(Sample {
        name,
        labels: parse_labels(labels.strip_suffix('}')?)?,
        value,
    })
}

/// `a="x",b="y \"quoted\""` into pairs, escapes undone.
fn parse_labels(text: &str) -> Option<Vec<(&str, String)>> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.trim().is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    value.push(if escaped == 'n' { '\n' } else { escaped });
                }
                '"' => {
                    end = Some(index);
                    break;
                }
                other => value.push(other),
            }
        }
        let end = end?;
        labels.push((key.trim().trim_start_matches(','), value));
        rest = after.get(end + 1..)?.trim_start_matches(',');
    }
    Some(labels)
}

/// Every unlabelled sample (`name value` lines).
pub fn scalars(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(parse_sample)
        .filter(|sample| sample.labels.is_empty())
        .map(|sample| (sample.name.to_owned(), sample.value))
        .collect()
}

/// The cumulative buckets of histogram `name` over the series carrying every label of
/// `with` (summed across the others), sorted by bound. Empty when there is no such series.
pub fn histogram(text: &str, name: &str, with: &[(&str, &str)]) -> Vec<Bucket> {
    let bucket_name = format!("{name}_bucket");
    let mut by_bound: Vec<Bucket> = Vec::new();
    for sample in text.lines().filter_map(parse_sample) {
        if sample.name != bucket_name {
            continue;
        }
        let matches = with.iter().all(|(key, value)| {
            sample
                .labels
                .iter()
                .any(|(label, found)| label == key && found == value)
        });
        if !matches {
            continue;
        }
        let Some(le) = sample
            .labels
            .iter()
            .find(|(label, _)| *label == "le")
            .and_then(|(_, bound)| match bound.as_str() {
                "+Inf" => Some(f64::INFINITY),
                other => other.parse().ok(),
            })
        else {
            continue;
        };
        match by_bound.iter_mut().find(|bucket| bucket.le == le) {
            Some(bucket) => bucket.count += sample.value,
            None => by_bound.push(Bucket {
                le,
                count: sample.value,
            }),
        }
    }
    by_bound.sort_by(|a, b| a.le.total_cmp(&b.le));
    by_bound
}

/// Scrapes `url` (a `/metrics` endpoint).
pub async fn scrape(client: &reqwest::Client, url: &str) -> Result<String, reqwest::Error> {
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{service="write-api",route="/user_tags",le="0.001"} 10
http_request_duration_seconds_bucket{service="write-api",route="/user_tags",le="0.002"} 30
http_request_duration_seconds_bucket{service="write-api",route="/user_tags",le="+Inf"} 31
http_request_duration_seconds_bucket{service="write-api",route="/health",le="0.001"} 500
http_request_duration_seconds_bucket{service="write-api",route="/health",le="+Inf"} 500
http_request_duration_seconds_sum{service="write-api",route="/user_tags"} 0.05
projector_batch_duration_seconds_count 36
projector_batch_duration_seconds_sum 9.25
odd_label{path="a \"b\", c",le="1"} 2
"#;

    #[test]
    fn a_labelled_histogram_is_picked_out() {
        let buckets = histogram(
            TEXT,
            "http_request_duration_seconds",
            &[("route", "/user_tags")],
        );
        assert_eq!(
            buckets,
            vec![
                Bucket {
                    le: 0.001,
                    count: 10.0
                },
                Bucket {
                    le: 0.002,
                    count: 30.0
                },
                Bucket {
                    le: f64::INFINITY,
                    count: 31.0
                },
            ]
        );
        let everything = histogram(TEXT, "http_request_duration_seconds", &[]);
        assert_eq!(everything[0].count, 510.0);
        assert!(histogram(TEXT, "missing", &[]).is_empty());
    }

    #[test]
    fn unlabelled_samples_are_scalars() {
        let values = scalars(TEXT);
        assert_eq!(
            values.get("projector_batch_duration_seconds_count"),
            Some(&36.0)
        );
        assert_eq!(
            values.get("projector_batch_duration_seconds_sum"),
            Some(&9.25)
        );
        assert!(!values.contains_key("http_request_duration_seconds_sum"));
    }

    #[test]
    fn quoted_label_values_keep_their_escapes() {
        let sample = parse_sample(r#"odd_label{path="a \"b\", c",le="1"} 2"#).expect("sample");
        assert_eq!(
            sample.labels,
            vec![("path", "a \"b\", c".to_owned()), ("le", "1".to_owned())]
        );
    }
}
