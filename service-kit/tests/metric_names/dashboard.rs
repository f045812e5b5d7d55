//! The Grafana dashboard (deploy/compose/grafana/dashboards/allezon.json) against
//! [`service_kit::metric_names`]: every metric its PromQL names is one the services
//! export, and every label it matches on is one that metric has. A renamed metric
//! leaves no panel silently empty.
//!
//! The other way round is not required: the dashboard shows a chosen few (the
//! operations guide's table lists them all), so a metric missing from it is no error.

use serde_json::Value;
use service_kit::metric_names::{self, Kind};

const DASHBOARD: &str = include_str!("../../../deploy/compose/grafana/dashboards/allezon.json");

/// Aggregation operators, written `sum by (x) (...)` as well as `sum(...)`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Binary-operator and modifier keywords.
const KEYWORDS: &[&str] = &["and", "or", "unless", "offset", "bool", "atan2"];

/// A metric selector of an expression: the metric and the labels it matches on.
#[derive(Debug, PartialEq)]
struct Selector {
    metric: String,
    labels: Vec<String>,
}

/// Every `"expr"` of the dashboard, however deep in its panels.
fn expressions(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr", Value::String(expr)) => found.push(expr.clone()),
                    _ => expressions(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        _ => {}
    }
}

/// The index just past the string literal starting at `start` (its quote).
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut index = start + 1;
    while index < chars.len() && chars[index] != quote {
        index += if chars[index] == '\\' { 2 } else { 1 };
    }
    index + 1
}

/// The index just past the bracket closing the one at `start` (strings skipped).
fn skip_group(chars: &[char], start: usize) -> usize {
    let (open, close) = (chars[start], closing(chars[start]));
    let mut depth = 0;
    let mut index = start;
    while index < chars.len() {
        match chars[index] {
            '"' | '\'' | '`' => {
                index = skip_string(chars, index);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    index
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn next_non_space(chars: &[char], mut index: usize) -> usize {
    while index < chars.len() && chars[index].is_whitespace() {
        index += 1;
    }
    index
}

/// The label names matched in `{a="x", b=~"y"}`.
fn matcher_labels(matchers: &[char]) -> Vec<String> {
    let mut labels = Vec::new();
    let mut index = 0;
    while index < matchers.len() {
        match matchers[index] {
            '"' | '\'' | '`' => index = skip_string(matchers, index),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = index;
                while index < matchers.len()
                    && (matchers[index].is_ascii_alphanumeric() || matchers[index] == '_')
                {
                    index += 1;
                }
                labels.push(matchers[start..index].iter().collect());
            }
            _ => index += 1,
        }
    }
    labels
}

/// The metric selectors of a PromQL expression: identifiers that are not functions,
/// aggregations, keywords or label names, with the labels of their `{...}` matchers.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '"' || c == '\'' || c == '`' {
            index = skip_string(&chars, index);
        } else if c == '[' || c == '{' {
            // A range, or matchers without a metric name (`{__name__=...}` is not used).
            index = skip_group(&chars, index);
        } else if c.is_ascii_digit() || c == '.' {
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric() || chars[index] == '.')
            {
                index += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = index;
            while index < chars.len()
                && (chars[index].is_ascii_alphanumeric()
                    || chars[index] == '_'
                    || chars[index] == ':')
            {
                index += 1;
            }
            let word: String = chars[start..index].iter().collect();
            let after = next_non_space(&chars, index);
            let next = chars.get(after).copied();
            if LABEL_LISTS.contains(&word.as_str()) {
                if next == Some('(') {
                    index = skip_group(&chars, after);
                }
            } else if AGGREGATIONS.contains(&word.as_str()) || KEYWORDS.contains(&word.as_str()) {
                // an operator, not a metric
            } else if next == Some('(') {
                // a function call
            } else {
                let mut labels = Vec::new();
                if next == Some('{') {
                    let end = skip_group(&chars, after);
                    labels = matcher_labels(&chars[after + 1..end.saturating_sub(1)]);
                    index = end;
                }
                found.push(Selector {
                    metric: word,
                    labels,
                });
            }
        } else {
            index += 1;
        }
    }
    found
}

#[test]
fn promql_selectors_are_found() {
    assert_eq!(
        selectors(
            r#"histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{service="read-api", route=~"/v1.*"}[1m])))"#
        ),
        vec![Selector {
            metric: "http_request_duration_seconds_bucket".to_owned(),
            labels: vec!["service".to_owned(), "route".to_owned()],
        }]
    );
    let metrics: Vec<String> =
        selectors("sum(rate(a_total[1m])) or max by (partition) (b) + on (x) c offset 5m")
            .into_iter()
            .map(|selector| selector.metric)
            .collect();
    assert_eq!(metrics, ["a_total", "b", "c"]);
}

#[test]
fn every_metric_on_the_dashboard_is_exported() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    expressions(&dashboard, &mut exprs);
    assert!(!exprs.is_empty(), "the dashboard has no queries");
    let mut unknown = Vec::new();
    for expr in &exprs {
        let found = selectors(expr);
        assert!(!found.is_empty(), "no metric found in {expr:?}");
        for selector in found {
            let Some(metric) = metric_names::find(&selector.metric) else {
                unknown.push(format!("{} (in {expr:?})", selector.metric));
                continue;
            };
            for label in &selector.labels {
                let bucket_bound = metric.kind == Kind::Histogram && label == "le";
                assert!(
                    bucket_bound || metric.labels.contains(&label.as_str()),
                    "the dashboard matches {} on label {label}, which it does not have (in {expr:?})",
                    metric.name
                );
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics service_kit::metric_names does not declare: {unknown:#?}"
    );
}
