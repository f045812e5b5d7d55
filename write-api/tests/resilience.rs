//! Broker outages and graceful shutdown. Each test runs its own private Tansu broker
//! so stopping it cannot disturb other tests or the shared stack.

mod common;

use common::{decode_all, sample_tag, spawn_app, spawn_app_with_deadline};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_gives_a_fast_503_and_service_recovers_without_restart() {
    let mut broker = test_support::PrivateBroker::start();
    let topic = test_support::unique_name("outage");
    test_support::create_topic(&broker.brokers(), &topic, 1).await;
    let production_deadline = write_api::Config::local_defaults().produce_deadline;
    let app = spawn_app_with_deadline(&broker.brokers(), &topic, production_deadline).await;
    // A fresh Tansu partition's first write can take longer than the deadline: warm it up.
    assert!(
        post_until_accepted(&app, "before", 1).await,
        "no 204 from a fresh broker"
    );

    broker.stop();
    let started = Instant::now();
    let status = app.post_tag(&sample_tag("during", 2)).await.status();
    let elapsed = started.elapsed();
    assert_eq!(status, 503);
    assert!(
        elapsed < Duration::from_millis(200),
        "503 took {elapsed:?}, past the 200 ms deadline"
    );
    assert_eq!(app.get("/ready").await.status(), 503);

    broker.resume();
    assert!(
        post_until_accepted(&app, "after", 3).await,
        "no 204 within 60 s of the broker's return"
    );
    assert_eq!(app.get("/ready").await.status(), 200);
    let cookies: HashSet<String> = decode_all(&app.topic_payloads())
        .await
        .iter()
        .filter_map(|tag| tag["cookie"].as_str().map(str::to_owned))
        .collect();
    assert!(
        cookies.contains("before") && cookies.contains("after"),
        "{cookies:?}"
    );
}

/// Posts tags (new event time each try) until one is answered 204, for at most 60 s.
async fn post_until_accepted(app: &common::TestApp, cookie: &str, first_millis: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut millis = first_millis;
    while Instant::now() < deadline {
        if app.post_tag(&sample_tag(cookie, millis)).await.status() == 204 {
            return true;
        }
        millis += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_loses_no_acknowledged_tag() {
    let brokers = test_support::brokers();
    let topic = test_support::unique_name("shutdown");
    test_support::create_topic(&brokers, &topic, 4).await;
    let mut app = spawn_app(&brokers, &topic).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let http = app.http.clone();
    let url = format!("{}/user_tags", app.address);

    let mut senders = Vec::new();
    for sender in 0..8_u32 {
        let (http, url, acknowledged) = (http.clone(), url.clone(), Arc::clone(&acknowledged));
        senders.push(tokio::spawn(async move {
            for sequence in 0..10_000_u32 {
                let tag = sample_tag(&format!("s{sender}-{sequence}"), sequence % 60_000);
                match http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(tag.to_string())
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 204 => acknowledged.lock().await.push(tag),
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    while acknowledged.lock().await.len() < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.shut_down().await;
    for sender in senders {
        sender.await.expect("sender task");
    }

    let acknowledged = acknowledged.lock().await.clone();
    let stored: HashSet<String> = decode_all(&app.topic_payloads())
        .await
        .iter()
        .map(|tag| tag.to_string())
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|tag| !stored.contains(&tag.to_string()))
        .collect();
    assert!(acknowledged.len() >= 300);
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged tags lost, e.g. {}",
        lost.len(),
        acknowledged.len(),
        lost[0]
    );
}
