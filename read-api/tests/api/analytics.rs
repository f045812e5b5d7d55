//! The analysts' API (`/v1/`) against a real ClickHouse: series, top-N and shopper
//! answers with exact expected values, every filter (country and device included), bad
//! parameters, API keys, the OpenAPI description.

use crate::common::{
    assert_bad_parameter, insert_tags, ok_json, spawn_app, spawn_app_with, tag, BASE_MILLIS,
    MINUTE_MILLIS,
};
use read_api::Config;
use serde_json::{json, Value};
use std::time::Duration;

/// A tag of `cookie` with every dimension given.
#[allow(clippy::too_many_arguments)]
fn full_tag(
    action: &str,
    millis: i64,
    origin: &str,
    brand: &str,
    category: &str,
    country: &str,
    device: &str,
    price: i64,
) -> Value {
    let mut tag = tag("analyst", action, millis);
    tag["origin"] = json!(origin);
    tag["country"] = json!(country);
    tag["device"] = json!(device);
    tag["product_info"]["brand_id"] = json!(brand);
    tag["product_info"]["category_id"] = json!(category);
    tag["product_info"]["price"] = json!(price);
    tag
}

/// Two hours of known tags: at minute m (0..120) of BASE, (m % 3) + 1 views in origin
/// `o{m%2}`, brand `b{m%5}`, country `C{m%4}`, device PC/MOBILE/TV by m % 3, price 10 * m
/// + 1; and one buy every 10 minutes in country PL on TV at price 1000.
fn known_tags() -> Vec<Value> {
    let devices = ["PC", "MOBILE", "TV"];
    let mut tags = Vec::new();
    for minute in 0..120_i64 {
        for copy in 0..=(minute % 3) {
            tags.push(full_tag(
                "VIEW",
                BASE_MILLIS + minute * MINUTE_MILLIS + copy * 7,
                &format!("o{}", minute % 2),
                &format!("b{}", minute % 5),
                "shoes",
                &format!("C{}", minute % 4),
                devices[(minute % 3) as usize],
                10 * minute + 1,
            ));
        }
        if minute % 10 == 0 {
            tags.push(full_tag(
                "BUY",
                BASE_MILLIS + minute * MINUTE_MILLIS + 500,
                "o9",
                "b9",
                "hats",
                "PL",
                "TV",
                1000,
            ));
        }
    }
    tags
}

/// (count, sum) of the known views of the minutes `minutes` that pass `keep`.
fn expected_views(minutes: std::ops::Range<i64>, keep: impl Fn(i64) -> bool) -> (u64, i64) {
    minutes
        .filter(|minute| keep(*minute))
        .map(|minute| {
            let copies = (minute % 3) + 1;
            (copies as u64, copies * (10 * minute + 1))
        })
        .fold((0, 0), |(count, sum), (c, s)| (count + c, sum + s))
}

fn at(minute: i64) -> String {
    schemas::EventTime::from_millis(BASE_MILLIS + minute * MINUTE_MILLIS).to_bucket_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_have_every_bucket_with_exact_totals_for_any_filter_combination() {
    let database = test_support::migrated_database("read_api_v1").await;
    insert_tags(&database, &known_tags()).await;
    let app = spawn_app(&database).await;

    // 5-minute buckets over the first hour, unfiltered.
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW&bucket=5m",
            at(0),
            at(60)
        ))
        .await,
    )
    .await;
    assert_eq!(series["bucket"], "5m");
    let points = series["points"].as_array().expect("points");
    assert_eq!(points.len(), 12);
    for (index, point) in points.iter().enumerate() {
        let first = index as i64 * 5;
        let (count, sum) = expected_views(first..first + 5, |_| true);
        assert_eq!(point["start"], at(first));
        assert_eq!(
            (point["count"].as_u64(), point["sum_price"].as_i64()),
            (Some(count), Some(sum))
        );
    }

    // One-hour buckets, country and device filters together, the range given unaligned.
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}Z&action=VIEW&bucket=1h&country=C1&device=MOBILE",
            "2026-03-01T12:10:00", "2026-03-01T13:59:59"
        ))
        .await,
    )
    .await;
    assert_eq!(
        (series["from"].as_str(), series["to"].as_str()),
        (Some(at(0).as_str()), Some(at(120).as_str()))
    );
    let points = series["points"].as_array().expect("points");
    for (hour, point) in points.iter().enumerate() {
        let first = hour as i64 * 60;
        let expected = expected_views(first..first + 60, |minute| {
            minute % 4 == 1 && minute % 3 == 1
        });
        assert_eq!(
            (point["count"].as_u64(), point["sum_price"].as_i64()),
            (Some(expected.0), Some(expected.1))
        );
    }

    // Every filter at once; minutes with nothing matching are zeros.
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW&origin=o0&brand_id=b2&category_id=shoes&country=C0&device=PC",
            at(0),
            at(60)
        ))
        .await,
    )
    .await;
    let points = series["points"].as_array().expect("points");
    assert_eq!(points.len(), 60);
    for (minute, point) in points.iter().enumerate() {
        let minute = minute as i64;
        let matches = minute % 2 == 0 && minute % 5 == 2 && minute % 4 == 0 && minute % 3 == 0;
        let expected = expected_views(minute..minute + 1, |_| matches);
        assert_eq!(
            (point["count"].as_u64(), point["sum_price"].as_i64()),
            (Some(expected.0), Some(expected.1)),
            "minute {minute}"
        );
    }

    // Buys.
    let buys = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=BUY&bucket=1h",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let counts: Vec<u64> = buys["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["count"].as_u64())
        .collect();
    assert_eq!(counts, vec![6, 6]);

    // Bad parameters name themselves.
    for (query, parameter) in [
        ("from=2026-03-01T12:00:00&action=VIEW", "to"),
        (
            "from=2026-03-01T12:00:00&to=2026-03-01T11:00:00&action=VIEW",
            "to",
        ),
        (
            "from=2026-03-01T12:00:00&to=2026-03-01T13:00:00&action=CLICK",
            "action",
        ),
        (
            "from=2026-03-01T12:00:00&to=2026-03-01T13:00:00&action=VIEW&bucket=2m",
            "bucket",
        ),
        (
            "from=2026-03-01T12:00:00&to=2026-03-01T13:00:00&action=VIEW&device=FRIDGE",
            "device",
        ),
        (
            "from=2026-03-01T00:00:00&to=2026-03-20T00:00:00&action=VIEW",
            "bucket",
        ),
    ] {
        assert_bad_parameter(app.get(&format!("/v1/series?{query}")).await, parameter).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_n_ranks_by_count_or_revenue_with_totals() {
    let database = test_support::migrated_database("read_api_v1").await;
    insert_tags(&database, &known_tags()).await;
    let app = spawn_app(&database).await;

    let brands = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=VIEW&dimension=brand_id&limit=3",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let mut expected: Vec<(String, u64, i64)> = (0..5)
        .map(|brand| {
            let (count, sum) = expected_views(0..120, |minute| minute % 5 == brand);
            (format!("b{brand}"), count, sum)
        })
        .collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows: Vec<(String, u64, i64)> = brands["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["value"].as_str().unwrap_or_default().to_owned(),
                row["count"].as_u64().unwrap_or_default(),
                row["sum_price"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rows, expected[..3].to_vec());
    let (all_count, all_sum) = expected_views(0..120, |_| true);
    assert_eq!(
        brands["total"],
        json!({"count": all_count, "sum_price": all_sum})
    );

    // By revenue, devices, filtered to one country.
    let devices = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=VIEW&dimension=device&by=sum_price&country=C2",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let mut expected: Vec<(String, i64)> = ["PC", "MOBILE", "TV"]
        .iter()
        .enumerate()
        .map(|(index, device)| {
            let sum = expected_views(0..120, |minute| {
                minute % 4 == 2 && minute % 3 == index as i64
            })
            .1;
            ((*device).to_owned(), sum)
        })
        .filter(|(_, sum)| *sum > 0)
        .collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows: Vec<(String, i64)> = devices["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["value"].as_str().unwrap_or_default().to_owned(),
                row["sum_price"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rows, expected);

    let countries = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=BUY&dimension=country",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    assert_eq!(
        countries["rows"],
        json!([{"value": "PL", "count": 12, "sum_price": 12000}])
    );

    for (query, parameter) in [
        ("action=VIEW&dimension=colour", "dimension"),
        ("action=VIEW&dimension=origin&by=avg", "by"),
        ("action=VIEW&dimension=origin&limit=0", "limit"),
        ("action=VIEW&dimension=origin&limit=ten", "limit"),
    ] {
        assert_bad_parameter(
            app.get(&format!("/v1/top?from={}&to={}&{query}", at(0), at(60)))
                .await,
            parameter,
        )
        .await;
    }
}

/// (count, sum) per point of a series answer.
fn point_totals(series: &Value) -> Vec<(u64, i64)> {
    series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| {
            (
                point["count"].as_u64().unwrap_or(u64::MAX),
                point["sum_price"].as_i64().unwrap_or(i64::MIN),
            )
        })
        .collect()
}

/// Series with one filter at most and top-N filtered on their own dimension only are
/// read from the one-dimension rollup (ClickHouse's query log says which table each
/// read touched), with the same exact totals the cube gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_one_dimension_at_most_come_from_the_rollup_with_exact_totals() {
    let database = test_support::migrated_database("read_api_v1_rollup").await;
    insert_tags(&database, &known_tags()).await;
    let app = spawn_app(&database).await;
    let devices = ["PC", "MOBILE", "TV"];

    // Unfiltered, 1-minute buckets: the devices' rows summed.
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=VIEW",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let expected: Vec<(u64, i64)> = (0..120)
        .map(|minute| expected_views(minute..minute + 1, |_| true))
        .collect();
    assert_eq!(point_totals(&series), expected);

    // One filter on each dimension in turn, 1-hour buckets.
    type Keep = fn(i64) -> bool;
    let filters: [(&str, &str, Keep); 5] = [
        ("origin", "o1", |minute| minute % 2 == 1),
        ("brand_id", "b3", |minute| minute % 5 == 3),
        ("category_id", "shoes", |_| true),
        ("country", "C2", |minute| minute % 4 == 2),
        ("device", "TV", |minute| minute % 3 == 2),
    ];
    for (dimension, value, keep) in filters {
        let series = ok_json(
            app.get(&format!(
                "/v1/series?from={}&to={}&action=VIEW&bucket=1h&{dimension}={value}",
                at(0),
                at(120)
            ))
            .await,
        )
        .await;
        let expected: Vec<(u64, i64)> = [0, 60]
            .iter()
            .map(|first| expected_views(*first..first + 60, keep))
            .collect();
        assert_eq!(point_totals(&series), expected, "{dimension}={value}");
    }
    // A value no tag has: zeros, not another value's rows.
    let series = ok_json(
        app.get(&format!(
            "/v1/series?from={}&to={}&action=BUY&bucket=1h&country=C1",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    assert_eq!(point_totals(&series), vec![(0, 0), (0, 0)]);

    // Top devices by revenue, unfiltered; top brands filtered to one brand.
    let top = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=VIEW&dimension=device&by=sum_price",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let mut expected: Vec<Value> = devices
        .iter()
        .enumerate()
        .map(|(index, device)| {
            let (count, sum) = expected_views(0..120, |minute| minute % 3 == index as i64);
            json!({"value": device, "count": count, "sum_price": sum})
        })
        .collect();
    expected.sort_by_key(|row| std::cmp::Reverse(row["sum_price"].as_i64()));
    assert_eq!(top["rows"], json!(expected));
    let (all_count, all_sum) = expected_views(0..120, |_| true);
    assert_eq!(
        top["total"],
        json!({"count": all_count, "sum_price": all_sum})
    );
    let top = ok_json(
        app.get(&format!(
            "/v1/top?from={}&to={}&action=VIEW&dimension=brand_id&brand_id=b2",
            at(0),
            at(120)
        ))
        .await,
    )
    .await;
    let (count, sum) = expected_views(0..120, |minute| minute % 5 == 2);
    assert_eq!(
        top["rows"],
        json!([{"value": "b2", "count": count, "sum_price": sum}])
    );

    // Every read above touched the rollup, none the cube.
    let client = service_kit::clickhouse::client(&database);
    let (rollup, cube) = logged_reads(&client).await;
    assert_eq!(
        (rollup, cube),
        (9, 0),
        "reads of the rollup and of the cube"
    );
}

/// A day of generated views: tag `n` (0..120,000) of cookie `c{n % 1000}` at minute
/// `n % 1440`, price `n % 97`, and with `d = n / 1440` (0..83, each a distinct
/// combination within its minute) origin `o{d}`, brand `b{d % 50}`, category
/// `k{d % 30}`, country `C{d % 20}`, device PC/MOBILE/TV by `d % 3`: a cube row per
/// tag (one part of about 15 granules), enough that reading a projection is cheaper
/// than the cube's own order, which is what ClickHouse chooses by.
const DAY_OF_VIEWS: u64 = 120_000;

/// The totals per hour of [`DAY_OF_VIEWS`]'s tags that `keep` keeps.
/// This test database's logged reads of the rollup and of the cube (every read of the
/// database ended and the log flushed first).
async fn logged_reads(client: &clickhouse::Client) -> (u64, u64) {
    test_support::flush_query_log(client).await;
    client
        .query(
            "SELECT countIf(has(tables, currentDatabase() || '.minute_dimension_totals')), \
                    countIf(has(tables, currentDatabase() || '.minute_aggregates')) \
             FROM system.query_log WHERE type = 'QueryFinish' AND query_kind = 'Select' \
             AND current_database = currentDatabase()",
        )
        .fetch_one()
        .await
        .expect("query log read")
}

fn expected_hours_of_day(keep: impl Fn(u64) -> bool) -> Vec<(u64, i64)> {
    let mut hours = vec![(0_u64, 0_i64); 24];
    for n in (0..DAY_OF_VIEWS).filter(|n| keep(*n)) {
        let hour = ((n % 1440) / 60) as usize;
        hours[hour].0 += 1;
        hours[hour].1 += (n % 97) as i64;
    }
    hours
}

/// Two filters over a day, or a top-N filtered on device, read one of the cube's
/// projections (0012: sorted by brand and origin, or by category and country; 0014:
/// summed per device and one other dimension) instead of every cube row of the day,
/// with the same exact totals, before and after a merge (which rebuilds the
/// projections, 0011).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_with_two_filters_or_a_device_filter_reads_a_projection_with_exact_totals() {
    let database = test_support::migrated_database("read_api_v1_projection").await;
    let client = service_kit::clickhouse::client(&database);
    client
        .query(
            "INSERT INTO user_tags (cookie, action, time_ms, country, device, origin, product_id, \
                 product_id_is_text, brand_id, category_id, price, kafka_partition, kafka_offset) \
             SELECT concat('c', toString(number % 1000)), 'VIEW', \
                 ? + (number % 1440) * 60000 + intDiv(number, 1440), \
                 concat('C', toString(d % 20)), ['PC', 'MOBILE', 'TV'][d % 3 + 1], \
                 concat('o', toString(d)), 'p', 0, concat('b', toString(d % 50)), \
                 concat('k', toString(d % 30)), number % 97, 0, number \
             FROM (SELECT number, intDiv(number, 1440) AS d FROM numbers(?))",
        )
        .bind(BASE_MILLIS)
        .bind(DAY_OF_VIEWS)
        .execute()
        .await
        .expect("a day of views inserted");
    let app = spawn_app(&database).await;
    type Keep = fn(u64) -> bool;
    // Each pair of filters, and the projection that serves it: sorted by brand, or
    // the aggregating one per device and category (fewer rows than sorted by category).
    let pairs: [(&str, Keep, &str); 2] = [
        (
            "brand_id=b7&country=C7",
            |n| (n / 1440) % 100 == 7,
            "by_brand_origin",
        ),
        (
            "category_id=k4&device=MOBILE",
            |n| (n / 1440) % 30 == 4,
            "by_device_category",
        ),
    ];
    // The day's top 3 brands on MOBILE by count (ties by value), and every MOBILE view.
    let mut brands = std::collections::BTreeMap::<String, (u64, i64)>::new();
    let mut mobile = (0_u64, 0_i64);
    for n in (0..DAY_OF_VIEWS).filter(|n| (n / 1440) % 3 == 1) {
        let totals = brands.entry(format!("b{}", (n / 1440) % 50)).or_default();
        totals.0 += 1;
        totals.1 += (n % 97) as i64;
        mobile.0 += 1;
        mobile.1 += (n % 97) as i64;
    }
    let mut ranked: Vec<(String, (u64, i64))> = brands.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    let top_brands: Vec<Value> = ranked
        .iter()
        .take(3)
        .map(|(brand, (count, sum))| json!({"value": brand, "count": count, "sum_price": sum}))
        .collect();
    let mut expected_projections = Vec::new();
    for merged in [false, true] {
        if merged {
            client
                .query("OPTIMIZE TABLE minute_aggregates FINAL")
                .execute()
                .await
                .expect("cube merged");
        }
        for (filters, keep, projection) in pairs {
            let series = ok_json(
                app.get(&format!(
                    "/v1/series?from={}&to={}&action=VIEW&bucket=1h&{filters}",
                    at(0),
                    at(1440)
                ))
                .await,
            )
            .await;
            assert_eq!(
                point_totals(&series),
                expected_hours_of_day(keep),
                "{filters}, merged: {merged}"
            );
            expected_projections.push(projection);
        }
        // A top-N filtered on device alone: the aggregating projection per device and brand.
        let top = ok_json(
            app.get(&format!(
                "/v1/top?from={}&to={}&action=VIEW&dimension=brand_id&device=MOBILE&limit=3",
                at(0),
                at(1440)
            ))
            .await,
        )
        .await;
        assert_eq!(top["rows"], json!(top_brands), "merged: {merged}");
        assert_eq!(
            top["total"],
            json!({"count": mobile.0, "sum_price": mobile.1}),
            "merged: {merged}"
        );
        expected_projections.push("by_device_brand");
    }

    // Every one of those reads came from a projection, not the cube's own order.
    test_support::flush_query_log(&client).await;
    let projections: Vec<Vec<String>> = client
        .query(
            "SELECT projections FROM system.query_log WHERE type = 'QueryFinish' \
             AND query_kind = 'Select' AND current_database = currentDatabase() \
             AND has(tables, currentDatabase() || '.minute_aggregates') \
             ORDER BY event_time_microseconds",
        )
        .fetch_all()
        .await
        .expect("query log read");
    let cube = format!("{}.minute_aggregates", database.database);
    let expected: Vec<Vec<String>> = expected_projections
        .iter()
        .map(|projection| vec![format!("{cube}.{projection}")])
        .collect();
    assert_eq!(projections, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_is_a_timeline_of_views_and_buys() {
    let database = test_support::migrated_database("read_api_v1").await;
    insert_tags(&database, &known_tags()).await;
    let app = spawn_app(&database).await;
    let shopper = ok_json(
        app.get(&format!(
            "/v1/shoppers/analyst?from={}&to={}&limit=2",
            at(100),
            at(120)
        ))
        .await,
    )
    .await;
    assert_eq!(shopper["cookie"], "analyst");
    let times: Vec<&str> = shopper["buys"]
        .as_array()
        .expect("buys")
        .iter()
        .filter_map(|tag| tag["time"].as_str())
        .collect();
    assert_eq!(
        times,
        vec!["2026-03-01T13:50:00.500Z", "2026-03-01T13:40:00.500Z"]
    );
    assert_eq!(shopper["views"].as_array().map(Vec::len), Some(2));
    let everything = ok_json(app.get("/v1/shoppers/analyst?limit=1000").await).await;
    assert_eq!(everything["buys"].as_array().map(Vec::len), Some(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_guard_v1_never_the_contract() {
    let database = test_support::migrated_database("read_api_v1").await;
    let mut config = Config::local_defaults();
    config.api_keys = "secret-1,secret-2".to_owned();
    config.query_deadline = Duration::from_secs(5);
    let app = spawn_app_with(&database, config).await;
    let series = format!("/v1/series?from={}&to={}&action=VIEW", at(0), at(10));

    for (header, value) in [
        (None, None),
        (Some("x-api-key"), Some("wrong")),
        (Some("authorization"), Some("Bearer secret-3")),
    ] {
        let mut request = app.http.get(format!("{}{series}", app.address));
        if let (Some(header), Some(value)) = (header, value) {
            request = request.header(header, value);
        }
        let answer = request.send().await.expect("answer");
        assert_eq!(answer.status(), 401);
        assert!(answer.headers().contains_key("www-authenticate"));
        assert_eq!(
            answer.text().await.expect("body"),
            r#"{"error":"unauthorized"}"#
        );
    }
    for (header, value) in [
        ("x-api-key", "secret-1".to_owned()),
        ("authorization", "Bearer secret-2".to_owned()),
        (
            "authorization",
            format!("Basic {}", base64_of("me:secret-1")),
        ),
    ] {
        let answer = app
            .http
            .get(format!("{}{series}", app.address))
            .header(header, value)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
    }
    // The contract's endpoints never ask for a key.
    let profile = app
        .http
        .post(format!(
            "{}/user_profiles/c?time_range=2026-03-01T12:00:00.000_2026-03-01T12:00:01.000",
            app.address
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(profile.status(), 200);
    let openapi = app
        .http
        .get(format!("{}/v1/openapi.json", app.address))
        .header("x-api-key", "secret-1")
        .send()
        .await
        .expect("answer");
    let description: Value = openapi.json().await.expect("json");
    for path in [
        "/v1/series",
        "/v1/top",
        "/v1/shoppers/{cookie}",
        "/v1/ingest",
    ] {
        assert!(
            description["paths"][path].is_object(),
            "{path} missing from the description"
        );
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
