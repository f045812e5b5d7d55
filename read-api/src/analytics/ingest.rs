//! The ingest panel's figures (`GET /v1/ingest`), read from the services' own
//! Prometheus metrics: write-api's and the projector's `/metrics` (the peers of
//! `--peer-metrics`), read-api's own registry. Counters come back cumulative; the
//! console turns two readings into rates. The metrics are read by their names in
//! [`service_kit::metric_names`].

use metrics_exporter_prometheus::PrometheusHandle;
use prometheus_parse::{Scrape, Value};
use serde::Serialize;
use service_kit::metric_names::{http, projector, write_api};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a peer may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_millis(1000);

/// One service whose metrics are read: `name=url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The service (`write-api`, `projector`).
    pub service: String,
    /// Its `/metrics` URL.
    pub url: String,
}

/// Parses `name=url,name=url` (a service may appear more than once: replicas are summed).
pub(crate) fn parse_peers(list: &str) -> Result<Vec<Peer>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(service, url)| Peer {
                    service: service.trim().to_owned(),
                    url: url.trim().to_owned(),
                })
                .ok_or_else(|| format!("expected service=url, got {entry:?}"))
        })
        .collect()
}

/// The figures of the ingest panel at one moment.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct IngestAnswer {
    /// When they were read, milliseconds since the epoch.
    pub sampled_at_ms: i64,
    /// Tags answered 204 (write-api, cumulative).
    pub tags_accepted: f64,
    /// Tags refused with 4xx (write-api, cumulative).
    pub tags_rejected: f64,
    /// Tags answered 503 (write-api, cumulative).
    pub tags_unavailable: f64,
    /// Rows inserted into ClickHouse (projector, cumulative).
    pub rows_projected: f64,
    /// Time from a tag's append to its visibility, for the last inserted batch
    /// (projector, seconds; the largest across projectors).
    pub freshness_seconds: Option<f64>,
    /// Records not yet projected (projector, sum over partitions).
    pub consumer_lag: Option<f64>,
    /// Queries answered 200 (read-api, cumulative).
    pub queries_answered: f64,
    /// Queries answered 5xx (read-api, cumulative).
    pub queries_failed: f64,
    /// Whether each peer answered.
    pub peers: Vec<PeerStatus>,
}

/// Whether a peer's metrics were read.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PeerStatus {
    /// The service.
    pub service: String,
    /// Its `/metrics` URL.
    pub url: String,
    /// Whether it answered.
    pub up: bool,
}

/// Reads the panel's figures.
#[derive(Clone)]
pub(crate) struct IngestFigures {
    peers: Vec<Peer>,
    http: reqwest::Client,
    own: PrometheusHandle,
}

impl IngestFigures {
    /// Figures from `peers` and read-api's own registry `own`.
    pub(crate) fn new(peers: Vec<Peer>, own: PrometheusHandle) -> Self {
        Self {
            peers,
            http: reqwest::Client::builder()
                .timeout(PEER_TIMEOUT)
                .build()
                .unwrap_or_default(),
            own,
        }
    }

    /// Reads every peer (at once) and read-api's own metrics.
    pub(crate) async fn read(&self) -> IngestAnswer {
        let scrapes = futures::future::join_all(self.peers.iter().map(|peer| async move {
            let text = async { self.http.get(&peer.url).send().await?.text().await };
            (peer, text.await.ok())
        }))
        .await;
        let mut answer = IngestAnswer {
            sampled_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or_default(),
            ..IngestAnswer::default()
        };
        for (peer, text) in scrapes {
            answer.peers.push(PeerStatus {
                service: peer.service.clone(),
                url: peer.url.clone(),
                up: text.is_some(),
            });
            let Some(scrape) = text.and_then(|text| parse(&text)) else {
                continue;
            };
            answer.tags_accepted += sum(&scrape, write_api::TAGS_ACCEPTED.name, |_| true);
            answer.tags_rejected += sum(&scrape, write_api::TAGS_REJECTED.name, |labels| {
                labels.get("reason") != Some("broker_unavailable")
            });
            answer.tags_unavailable += sum(&scrape, write_api::TAGS_REJECTED.name, |labels| {
                labels.get("reason") == Some("broker_unavailable")
            });
            answer.rows_projected += sum(&scrape, projector::ROWS_WRITTEN.name, |_| true);
            if let Some(delay) = first(&scrape, projector::LAST_VISIBILITY_DELAY.name) {
                answer.freshness_seconds =
                    Some(answer.freshness_seconds.map_or(delay, |old| old.max(delay)));
            }
            if has(&scrape, projector::CONSUMER_LAG.name) {
                let lag = sum(&scrape, projector::CONSUMER_LAG.name, |_| true);
                answer.consumer_lag = Some(answer.consumer_lag.unwrap_or(0.0) + lag);
            }
        }
        if let Some(own) = parse(&self.own.render()) {
            let read_api =
                |labels: &prometheus_parse::Labels| labels.get("service") == Some("read-api");
            answer.queries_answered = sum(&own, http::REQUESTS.name, |labels| {
                read_api(labels) && labels.get("status") == Some("200")
            });
            answer.queries_failed = sum(&own, http::REQUESTS.name, |labels| {
                read_api(labels)
                    && labels
                        .get("status")
                        .is_some_and(|status| status.starts_with('5'))
            });
        }
        answer
    }
}

fn parse(text: &str) -> Option<Scrape> {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).ok()
}

fn value(sample: &prometheus_parse::Sample) -> Option<f64> {
    match sample.value {
        Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => Some(value),
        _ => None,
    }
}

fn sum(scrape: &Scrape, metric: &str, keep: impl Fn(&prometheus_parse::Labels) -> bool) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric && keep(&sample.labels))
        .filter_map(value)
        .fold(0.0, |total, value| total + value)
}

fn first(scrape: &Scrape, metric: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric)
        .find_map(value)
}

fn has(scrape: &Scrape, metric: &str) -> bool {
    scrape.samples.iter().any(|sample| sample.metric == metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_service_url_pairs() {
        assert_eq!(
            parse_peers(" write-api=http://a:1/metrics, projector=http://b:2/metrics ,"),
            Ok(vec![
                Peer {
                    service: "write-api".into(),
                    url: "http://a:1/metrics".into()
                },
                Peer {
                    service: "projector".into(),
                    url: "http://b:2/metrics".into()
                },
            ])
        );
        assert!(parse_peers("write-api").is_err());
    }

    #[test]
    fn counters_are_summed_by_label() {
        let scrape = parse(
            "# TYPE write_api_tags_rejected_total counter\n\
             write_api_tags_rejected_total{reason=\"invalid_tag\"} 3\n\
             write_api_tags_rejected_total{reason=\"broker_unavailable\"} 2\n\
             write_api_tags_rejected_total{reason=\"payload_too_large\"} 1\n",
        )
        .expect("parses");
        let rejected = sum(&scrape, write_api::TAGS_REJECTED.name, |labels| {
            labels.get("reason") != Some("broker_unavailable")
        });
        assert_eq!(rejected, 4.0);
    }
}
