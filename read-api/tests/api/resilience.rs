//! ClickHouse down or slow: a fast 503, `/ready` 503, and recovery without a restart.
//! The outage is simulated by a proxy in front of the shared ClickHouse.

use crate::common::{
    insert_tags, millis_range, ok_json, seconds_range, spawn_app, spawn_app_with, tag, TestApp,
    BASE_MILLIS, MINUTE_MILLIS,
};
use read_api::Config;
use std::time::{Duration, Instant};

fn clickhouse_address(settings: &service_kit::settings::ClickHouseSettings) -> String {
    settings
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

async fn profile_status(app: &TestApp) -> (u16, Duration) {
    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    let started = Instant::now();
    let status = app
        .profile("c", &[("time_range", range.as_str())], None)
        .await
        .status();
    (status.as_u16(), started.elapsed())
}

async fn aggregates_status(app: &TestApp) -> (u16, Duration) {
    let window = seconds_range(BASE_MILLIS, BASE_MILLIS + MINUTE_MILLIS);
    let query = [
        ("time_range", window.as_str()),
        ("action", "VIEW"),
        ("aggregates", "COUNT"),
    ];
    let started = Instant::now();
    let status = app.aggregates(&query, None).await.status();
    (status.as_u16(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_gives_a_fast_503_and_service_recovers_without_restart() {
    let database = test_support::migrated_database("read_api").await;
    insert_tags(&database, &[tag("c", "VIEW", BASE_MILLIS)]).await;
    let proxy = test_support::ToggleProxy::start(&clickhouse_address(&database)).await;
    let mut through_proxy = database.clone();
    through_proxy.url = format!("http://{}", proxy.address());
    let app = spawn_app_with(&through_proxy, Config::local_defaults()).await;
    assert_eq!(app.get("/ready").await.status(), 200);
    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    let before = ok_json(
        app.profile("c", &[("time_range", range.as_str())], None)
            .await,
    )
    .await;
    assert_eq!(before["views"].as_array().map(Vec::len), Some(1));

    proxy.disable().await;
    for (status, elapsed) in [profile_status(&app).await, aggregates_status(&app).await] {
        assert_eq!(status, 503);
        assert!(elapsed < Duration::from_secs(1), "503 took {elapsed:?}");
    }
    let unavailable = app
        .profile("c", &[("time_range", range.as_str())], None)
        .await;
    let body = unavailable.text().await.expect("body");
    assert!(
        !body.to_lowercase().contains("connect"),
        "opaque body expected: {body}"
    );
    assert_eq!(app.get("/ready").await.status(), 503);
    assert_eq!(app.get("/health").await.status(), 200);

    proxy.enable().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if profile_status(&app).await.0 == 200 && aggregates_status(&app).await.0 == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 within 10 s of ClickHouse's return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = ok_json(
        app.profile("c", &[("time_range", range.as_str())], None)
            .await,
    )
    .await;
    assert_eq!(after, before);
    assert_eq!(app.get("/ready").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_that_never_answers_gives_503_at_the_deadline() {
    // Connections are accepted by the kernel's backlog and never answered.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut settings = test_support::clickhouse_settings("never_answers");
    settings.url = format!("http://{}", silent.local_addr().expect("address"));
    let app = spawn_app_with(&settings, Config::local_defaults()).await;

    let (status, elapsed) = profile_status(&app).await;
    assert_eq!(status, 503);
    assert!(elapsed < Duration::from_millis(600), "503 took {elapsed:?}");
    let started = Instant::now();
    assert_eq!(app.get("/ready").await.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish_and_refuses_new_ones() {
    let database = test_support::migrated_database("read_api").await;
    insert_tags(&database, &[tag("c", "VIEW", BASE_MILLIS)]).await;
    // ClickHouse answers 700 ms late: the request below is still in flight when the
    // shutdown starts.
    let proxy = test_support::ToggleProxy::start_delayed(
        &clickhouse_address(&database),
        Duration::from_millis(700),
    )
    .await;
    let mut slow = database.clone();
    slow.url = format!("http://{}", proxy.address());
    let mut app = spawn_app(&slow).await;
    let (http, url) = (
        app.http.clone(),
        format!(
            "{}/user_profiles/c?time_range={}",
            app.address,
            millis_range(BASE_MILLIS, BASE_MILLIS + 1_000)
        ),
    );
    let in_flight = tokio::spawn(async move { http.post(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // run_until returns (and the process would exit) only once the request in flight
    // has been answered: at least the 500 ms ClickHouse still takes.
    let shutting_down = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), app.shut_down())
        .await
        .expect("shut down within 10 s");
    let waited = shutting_down.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "shutdown returned after {waited:?}, before the request in flight was answered"
    );
    let answer = in_flight
        .await
        .expect("request task")
        .expect("the request in flight was answered, not cut");
    assert_eq!(answer.status(), 200);
    let profile: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(profile["views"].as_array().map(Vec::len), Some(1));
    let refused = reqwest::Client::new()
        .get(format!("{}/health", app.address))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new request was accepted after shutdown"
    );
}
