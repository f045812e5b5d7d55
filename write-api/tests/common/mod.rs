//! `spawn_app`: a write-api on a random port against a real broker, with a shutdown
//! handle, plus typed request helpers.

#![allow(dead_code, unreachable_pub)]

use serde_json::{json, Value};
use std::time::Duration;
use test_support::ServedApp;
use write_api::Application;
use write_api::Config;

pub struct TestApp {
    pub address: String,
    pub topic: String,
    pub brokers: String,
    pub http: reqwest::Client,
    served: ServedApp,
}

/// A write-api with a generous deadline: correctness tests must not depend on latency
/// (a brand-new Tansu partition's first write can take longer than the production
/// deadline); latency is measured by the benchmarks.
pub async fn spawn_app(brokers: &str, topic: &str) -> TestApp {
    spawn_app_with_deadline(brokers, topic, Duration::from_secs(2)).await
}

pub async fn spawn_app_with_deadline(brokers: &str, topic: &str, deadline: Duration) -> TestApp {
    let mut config = Config::local_defaults();
    config.produce_deadline = deadline;
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.kafka = test_support::kafka_settings(brokers, topic);
    let application = Application::build(config).await.expect("write-api builds");
    let served = ServedApp::spawn(application.port(), |signal| application.run_until(signal));
    TestApp {
        address: served.address.clone(),
        topic: topic.to_owned(),
        brokers: brokers.to_owned(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client"),
        served,
    }
}

impl TestApp {
    pub async fn post_tag(&self, tag: &Value) -> reqwest::Response {
        self.post_raw("application/json", tag.to_string()).await
    }

    pub async fn post_raw(&self, content_type: &str, body: String) -> reqwest::Response {
        self.http
            .post(format!("{}/user_tags", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// Starts the graceful shutdown and waits for it to finish.
    pub async fn shut_down(&mut self) {
        self.served.shut_down().await;
    }

    pub fn topic_payloads(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        test_support::read_topic(&self.brokers, &self.topic)
    }
}

pub fn sample_tag(cookie: &str, millis: u32) -> Value {
    json!({
        // Java's Instant.toString() form, as the reference harness sends it.
        "time": schemas::EventTime::from_millis(1_772_366_400_000 + i64::from(millis)).to_instant_string(),
        "cookie": cookie,
        "country": "CL",
        "device": "PC",
        "action": "BUY",
        "origin": "CAMPAIGN_321",
        "product_info": {"product_id": 12486, "brand_id": "Ebros_Gift", "category_id": "Shoes___Accessories", "price": 1999}
    })
}

pub async fn decode_all(payloads: &[(Vec<u8>, Vec<u8>)]) -> Vec<Value> {
    let decoder = schemas::TagDecoder::new(schemas::SchemaCatalog::Bundled);
    let mut tags = Vec::new();
    for (_key, payload) in payloads {
        tags.push(
            decoder
                .decode(payload)
                .await
                .expect("payload decodes")
                .to_json_value(),
        );
    }
    tags
}
