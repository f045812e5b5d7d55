//! `POST /user_profiles/{cookie}`: contract section 2.

use crate::common::{
    assert_bad_parameter, insert_tags, millis_range, ok_json, spawn_app, tag, BASE_MILLIS,
};
use serde_json::{json, Value};

fn times(tags: &Value) -> Vec<String> {
    tags.as_array()
        .expect("a list of tags")
        .iter()
        .map(|tag| tag["time"].as_str().expect("time").to_owned())
        .collect()
}

fn time_of(millis: i64) -> String {
    schemas::EventTime::from_millis(millis).to_instant_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_range_is_half_open() {
    let database = test_support::migrated_database("read_api").await;
    let (from, to) = (BASE_MILLIS + 1_000, BASE_MILLIS + 2_000);
    insert_tags(
        &database,
        &[
            tag("c", "VIEW", from - 1),
            tag("c", "VIEW", from),
            tag("c", "VIEW", to - 1),
            tag("c", "VIEW", to),
            tag("c", "BUY", from),
            tag("c", "BUY", to),
        ],
    )
    .await;
    let app = spawn_app(&database).await;

    let profile = app.profile_json("c", from, to, None).await;

    assert_eq!(
        times(&profile["views"]),
        vec![time_of(to - 1), time_of(from)]
    );
    assert_eq!(times(&profile["buys"]), vec![time_of(from)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_come_back_newest_first_exactly_as_sent() {
    let database = test_support::migrated_database("read_api").await;
    // Inserted out of order; 12:00:00Z sorts after 12:00:00.500Z as a string but is earlier.
    let sent = [
        tag("c", "VIEW", BASE_MILLIS + 500),
        tag("c", "VIEW", BASE_MILLIS),
        tag("c", "VIEW", BASE_MILLIS + 61_000),
        tag("c", "VIEW", BASE_MILLIS + 1_001),
    ];
    insert_tags(&database, &sent).await;
    let app = spawn_app(&database).await;

    let profile = app
        .profile_json("c", BASE_MILLIS, BASE_MILLIS + 120_000, None)
        .await;

    let expected = [&sent[2], &sent[3], &sent[0], &sent[1]];
    assert_eq!(profile["views"], json!(expected));
    assert_eq!(profile["buys"], json!([]));
    assert_eq!(profile["cookie"], "c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_defaults_to_200_and_caps_each_action_separately() {
    let database = test_support::migrated_database("read_api").await;
    let mut tags: Vec<Value> = (0..250)
        .map(|i| tag("c", "VIEW", BASE_MILLIS + i))
        .collect();
    tags.extend((0..3).map(|i| tag("c", "BUY", BASE_MILLIS + 1_000 + i)));
    insert_tags(&database, &tags).await;
    let app = spawn_app(&database).await;
    let (from, to) = (BASE_MILLIS, BASE_MILLIS + 10_000);

    let default = app.profile_json("c", from, to, None).await;
    let views = times(&default["views"]);
    assert_eq!(views.len(), 200);
    assert_eq!(views[0], time_of(BASE_MILLIS + 249));
    assert_eq!(views[199], time_of(BASE_MILLIS + 50));
    assert_eq!(default["buys"].as_array().map(Vec::len), Some(3));

    let ten = app.profile_json("c", from, to, Some("10")).await;
    assert_eq!(times(&ten["views"]).len(), 10);
    assert_eq!(times(&ten["views"])[9], time_of(BASE_MILLIS + 240));
    assert_eq!(ten["buys"].as_array().map(Vec::len), Some(3));

    let two = app.profile_json("c", from, to, Some("2")).await;
    assert_eq!(
        times(&two["buys"]),
        vec![time_of(BASE_MILLIS + 1_002), time_of(BASE_MILLIS + 1_001)]
    );

    let all = app.profile_json("c", from, to, Some("1000")).await;
    assert_eq!(times(&all["views"]).len(), 250);

    let none = app.profile_json("c", from, to, Some("0")).await;
    assert_eq!(none["views"], json!([]));
    assert_eq!(none["buys"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_rows_of_a_tag_come_back_once() {
    let database = test_support::migrated_database("read_api").await;
    let replayed = tag("c", "BUY", BASE_MILLIS + 7);
    // Separate inserts make separate parts, and with merges stopped they stay apart.
    service_kit::clickhouse::client(&database)
        .query("SYSTEM STOP MERGES user_tags")
        .execute()
        .await
        .expect("merges stopped");
    insert_tags(
        &database,
        &[replayed.clone(), tag("c", "BUY", BASE_MILLIS + 8)],
    )
    .await;
    insert_tags(&database, std::slice::from_ref(&replayed)).await;
    insert_tags(&database, std::slice::from_ref(&replayed)).await;
    let app = spawn_app(&database).await;

    let profile = app
        .profile_json("c", BASE_MILLIS, BASE_MILLIS + 1_000, None)
        .await;

    assert_eq!(
        times(&profile["buys"]),
        vec![time_of(BASE_MILLIS + 8), time_of(BASE_MILLIS + 7)]
    );
}

/// More copies of the newest tag than any of read-api's cut reads leaves room for (both
/// actions' first read, then the per-action one): the answer still holds every distinct
/// tag, through the exact per-action read for views and the per-action read for buys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_copies_than_the_margin_still_give_every_tag() {
    let database = test_support::migrated_database("read_api").await;
    // With limit 2, the first read takes 2 × (2 + margin) rows: all copies.
    let copies = 2 * (read_model::profile::DUPLICATE_MARGIN + 2) + 10;
    service_kit::clickhouse::client(&database)
        .query("SYSTEM STOP MERGES user_tags")
        .execute()
        .await
        .expect("merges stopped");
    let newest = tag("c", "VIEW", BASE_MILLIS + 9);
    let mut rows: Vec<Value> = (0..copies).map(|_| newest.clone()).collect();
    rows.extend([
        tag("c", "VIEW", BASE_MILLIS + 5),
        tag("c", "VIEW", BASE_MILLIS + 3),
        tag("c", "BUY", BASE_MILLIS + 4),
    ]);
    insert_tags(&database, &rows).await;
    let stored: u64 = service_kit::clickhouse::client(&database)
        .query("SELECT count() FROM user_tags")
        .fetch_one()
        .await
        .expect("row count");
    assert_eq!(stored, copies + 3, "the copies must be stored apart");
    let app = spawn_app(&database).await;

    let two = app
        .profile_json("c", BASE_MILLIS, BASE_MILLIS + 1_000, Some("2"))
        .await;
    let all = app
        .profile_json("c", BASE_MILLIS, BASE_MILLIS + 1_000, None)
        .await;

    assert_eq!(
        times(&two["views"]),
        vec![time_of(BASE_MILLIS + 9), time_of(BASE_MILLIS + 5)]
    );
    assert_eq!(times(&two["buys"]), vec![time_of(BASE_MILLIS + 4)]);
    assert_eq!(
        times(&all["views"]),
        vec![
            time_of(BASE_MILLIS + 9),
            time_of(BASE_MILLIS + 5),
            time_of(BASE_MILLIS + 3)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_id_keeps_its_json_type() {
    let database = test_support::migrated_database("read_api").await;
    let mut text_id = tag("c", "VIEW", BASE_MILLIS + 2);
    text_id["product_info"]["product_id"] = json!("12486");
    let number_id = tag("c", "VIEW", BASE_MILLIS + 1);
    insert_tags(&database, &[text_id.clone(), number_id.clone()]).await;
    let app = spawn_app(&database).await;

    let profile = app
        .profile_json("c", BASE_MILLIS, BASE_MILLIS + 1_000, None)
        .await;

    assert_eq!(
        profile["views"][0]["product_info"]["product_id"],
        json!("12486")
    );
    assert_eq!(
        profile["views"][1]["product_info"]["product_id"],
        json!(12486)
    );
    assert_eq!(profile["views"], json!([text_id, number_id]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cookie_or_an_empty_range_gives_empty_lists() {
    let database = test_support::migrated_database("read_api").await;
    insert_tags(&database, &[tag("known", "VIEW", BASE_MILLIS)]).await;
    let app = spawn_app(&database).await;

    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    // Parameters the contract does not define are ignored.
    let query = [("time_range", range.as_str()), ("debug", "1")];
    let unknown = ok_json(app.profile("never-seen", &query, None).await).await;
    assert_eq!(
        unknown,
        json!({"cookie": "never-seen", "views": [], "buys": []})
    );

    let elsewhere = app
        .profile_json("known", BASE_MILLIS + 1, BASE_MILLIS + 1_000, None)
        .await;
    assert_eq!(
        elsewhere,
        json!({"cookie": "known", "views": [], "buys": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_may_cross_minutes_and_days() {
    let database = test_support::migrated_database("read_api").await;
    // 2026-03-01T23:55:00Z .. 2026-03-02T00:05:00Z
    let from = BASE_MILLIS + 11 * 3_600_000 + 55 * 60_000;
    let to = from + 10 * 60_000;
    let midnight = from + 5 * 60_000;
    insert_tags(
        &database,
        &[
            tag("c", "VIEW", from - 1),
            tag("c", "VIEW", midnight - 1),
            tag("c", "VIEW", midnight),
            tag("c", "BUY", midnight + 60_000),
            tag("c", "VIEW", to),
        ],
    )
    .await;
    let app = spawn_app(&database).await;

    let profile = app.profile_json("c", from, to, None).await;

    assert_eq!(
        times(&profile["views"]),
        vec!["2026-03-02T00:00:00Z", "2026-03-01T23:59:59.999Z"]
    );
    assert_eq!(times(&profile["buys"]), vec!["2026-03-02T00:01:00Z"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_400_naming_the_parameter() {
    let database = test_support::migrated_database("read_api").await;
    let app = spawn_app(&database).await;
    let range = millis_range(BASE_MILLIS, BASE_MILLIS + 1_000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "time_range"),
        (vec![("limit", "5")], "time_range"),
        (vec![("time_range", "")], "time_range"),
        (vec![("time_range", "yesterday_today")], "time_range"),
        (
            vec![("time_range", "2026-03-01T12:00:00.000")],
            "time_range",
        ),
        // Seconds are accepted (clients send them); one fraction digit is neither form.
        (
            vec![("time_range", "2026-03-01T12:00:00.5_2026-03-01T12:00:01")],
            "time_range",
        ),
        (
            vec![(
                "time_range",
                "2026-03-01T12:00:00.000Z_2026-03-01T12:00:01.000Z",
            )],
            "time_range",
        ),
        (
            vec![(
                "time_range",
                "2026-03-01T12:00:01.000_2026-03-01T12:00:00.000",
            )],
            "time_range",
        ),
        (
            vec![(
                "time_range",
                "2026-03-01T12:00:00.000_2026-03-01T12:00:00.000",
            )],
            "time_range",
        ),
        (
            vec![(
                "time_range",
                "2026-02-30T12:00:00.000_2026-03-01T12:00:00.000",
            )],
            "time_range",
        ),
        (
            vec![
                ("time_range", range.as_str()),
                ("time_range", range.as_str()),
            ],
            "time_range",
        ),
        (
            vec![("time_range", range.as_str()), ("limit", "-1")],
            "limit",
        ),
        (
            vec![("time_range", range.as_str()), ("limit", "ten")],
            "limit",
        ),
        (
            vec![("time_range", range.as_str()), ("limit", "1.5")],
            "limit",
        ),
        (vec![("time_range", range.as_str()), ("limit", "")], "limit"),
    ];
    for (query, parameter) in cases {
        assert_bad_parameter(app.profile("c", &query, None).await, parameter).await;
    }
    let not_utf8 = app
        .http
        .post(format!(
            "{}/user_profiles/%FF%FE?time_range={range}",
            app.address
        ))
        .send()
        .await
        .expect("request sent");
    assert_bad_parameter(not_utf8, "cookie").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookies_are_only_data() {
    let database = test_support::migrated_database("read_api").await;
    let stored = "'; DROP TABLE user_tags; --";
    let bystander = tag("bystander", "VIEW", BASE_MILLIS);
    let hostile_tag = tag(stored, "BUY", BASE_MILLIS + 1);
    insert_tags(&database, &[bystander.clone(), hostile_tag.clone()]).await;
    let app = spawn_app(&database).await;
    let (from, to) = (BASE_MILLIS, BASE_MILLIS + 1_000);

    for cookie in [
        "'",
        "\"",
        "\\",
        "\\'",
        "' OR '1'='1",
        "'; DROP TABLE user_tags; --\\",
        "?",
        "??",
        "`",
        "a/b",
        "%00",
        "\0",
        "tab\there",
        "line\nbreak",
        "żółć 🍪 日本",
        "{cookie}",
    ] {
        let profile = app.profile_json(cookie, from, to, None).await;
        assert_eq!(
            profile,
            json!({"cookie": cookie, "views": [], "buys": []}),
            "cookie {cookie:?}"
        );
    }

    let hostile = app.profile_json(stored, from, to, None).await;
    assert_eq!(
        hostile,
        json!({"cookie": stored, "views": [], "buys": [hostile_tag]})
    );
    let still_there = app.profile_json("bystander", from, to, None).await;
    assert_eq!(still_there["views"], json!([bystander]));
}

/// Requests that pile up are read together in one query: with one query slot, 150
/// requests at once (distinct and repeated cookies, different ranges and limits) are
/// batched, and every answer is exactly the answer of the same request alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_read_together_get_exactly_their_own_answers() {
    let database = test_support::migrated_database("read_api").await;
    let mut tags = Vec::new();
    for cookie in 0..40_i64 {
        for index in 0..(cookie % 7) * 3 {
            let action = if index % 4 == 0 { "BUY" } else { "VIEW" };
            tags.push(tag(
                &format!("c{cookie}"),
                action,
                BASE_MILLIS + cookie * 1_000 + index * 10,
            ));
        }
    }
    insert_tags(&database, &tags).await;
    let mut config = read_api::Config::local_defaults();
    config.profile_slots = 1;
    config.query_deadline = std::time::Duration::from_secs(10);
    let app = crate::common::spawn_app_with(&database, config).await;

    let requests: Vec<(String, i64, i64, Option<String>)> = (0..150_i64)
        .map(|index| {
            let cookie = format!("c{}", index % 45);
            let start = BASE_MILLIS + (index % 45) * 1_000 + (index % 3) * 20;
            let limit = (index % 4 != 0).then(|| (index % 5).to_string());
            (cookie, start, start + 500, limit)
        })
        .collect();
    let together =
        futures::future::join_all(requests.iter().map(|(cookie, from, to, limit)| {
            app.profile_json(cookie, *from, *to, limit.as_deref())
        }))
        .await;
    // The reads of this test's own database (the metrics are the process's, shared
    // with the tests running beside this one): 150 requests in far fewer queries.
    let client = service_kit::clickhouse::client(&database);
    test_support::flush_query_log(&client).await;
    let reads: u64 = client
        .query(
            "SELECT count() FROM system.query_log WHERE type = 'QueryFinish' \
             AND query_kind = 'Select' AND current_database = currentDatabase() \
             AND has(tables, currentDatabase() || '.user_tags')",
        )
        .fetch_one()
        .await
        .expect("query log read");
    assert!(
        reads > 0 && reads * 3 <= 150 * 2,
        "requests were not read together: 150 requests in {reads} queries"
    );
    for ((cookie, from, to, limit), answer) in requests.iter().zip(together) {
        let alone = app.profile_json(cookie, *from, *to, limit.as_deref()).await;
        assert_eq!(answer, alone, "{cookie} {from} {to} {limit:?}");
    }
}
