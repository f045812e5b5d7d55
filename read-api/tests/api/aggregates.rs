//! `POST /aggregates`: contract section 3.

use crate::common::{
    assert_bad_parameter, insert_tags, priced_tag, query_seconds, seconds_range, spawn_app,
    BASE_MILLIS, MINUTE_MILLIS,
};
use serde_json::{json, Value};

struct Sale {
    action: &'static str,
    minute: i64,
    origin: &'static str,
    brand: &'static str,
    category: &'static str,
    price: i64,
}

const SALES: &[Sale] = &[
    Sale {
        action: "VIEW",
        minute: 0,
        origin: "o1",
        brand: "b1",
        category: "k1",
        price: 10,
    },
    Sale {
        action: "VIEW",
        minute: 0,
        origin: "o1",
        brand: "b2",
        category: "k1",
        price: 20,
    },
    Sale {
        action: "VIEW",
        minute: 0,
        origin: "o2",
        brand: "b1",
        category: "k2",
        price: 40,
    },
    Sale {
        action: "BUY",
        minute: 0,
        origin: "o1",
        brand: "b1",
        category: "k1",
        price: 1000,
    },
    Sale {
        action: "VIEW",
        minute: 1,
        origin: "o1",
        brand: "b1",
        category: "k2",
        price: 80,
    },
    Sale {
        action: "VIEW",
        minute: 1,
        origin: "o1",
        brand: "b1",
        category: "k1",
        price: 160,
    },
    Sale {
        action: "VIEW",
        minute: 3,
        origin: "o3",
        brand: "b3",
        category: "k3",
        price: 320,
    },
];

async fn insert_sales(database: &service_kit::settings::ClickHouseSettings) {
    let tags: Vec<Value> = SALES
        .iter()
        .enumerate()
        .map(|(index, sale)| {
            let millis = BASE_MILLIS + sale.minute * MINUTE_MILLIS + index as i64 * 1_000;
            priced_tag(
                sale.action,
                millis,
                sale.origin,
                sale.brand,
                sale.category,
                sale.price,
            )
        })
        .collect();
    insert_tags(database, &tags).await;
}

fn bucket(minute: i64) -> String {
    query_seconds(BASE_MILLIS + minute * MINUTE_MILLIS)
}

fn window(minutes: i64) -> String {
    seconds_range(BASE_MILLIS, BASE_MILLIS + minutes * MINUTE_MILLIS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_combination_has_its_columns_and_totals() {
    let database = test_support::migrated_database("read_api").await;
    insert_sales(&database).await;
    let app = spawn_app(&database).await;
    let range = window(3);

    for mask in 0..8_u8 {
        let origin = (mask & 1 != 0).then_some("o1");
        let brand = (mask & 2 != 0).then_some("b1");
        let category = (mask & 4 != 0).then_some("k1");
        let mut query = vec![("time_range", range.as_str()), ("action", "VIEW")];
        let mut columns = vec!["1m_bucket", "action"];
        let mut filter_values = Vec::new();
        for (name, value) in [
            ("origin", origin),
            ("brand_id", brand),
            ("category_id", category),
        ] {
            if let Some(value) = value {
                query.push((name, value));
                columns.push(name);
                filter_values.push(value);
            }
        }
        query.push(("aggregates", "COUNT"));
        query.push(("aggregates", "SUM_PRICE"));
        columns.extend(["count", "sum_price"]);

        let answer = app.aggregates_json(&query).await;

        let expected_rows: Vec<Vec<String>> = (0..3)
            .map(|minute| {
                let matching: Vec<&Sale> = SALES
                    .iter()
                    .filter(|sale| {
                        sale.action == "VIEW"
                            && sale.minute == minute
                            && origin.is_none_or(|origin| sale.origin == origin)
                            && brand.is_none_or(|brand| sale.brand == brand)
                            && category.is_none_or(|category| sale.category == category)
                    })
                    .collect();
                let mut row = vec![bucket(minute), "VIEW".to_owned()];
                row.extend(filter_values.iter().map(|value| (*value).to_owned()));
                row.push(matching.len().to_string());
                row.push(
                    matching
                        .iter()
                        .map(|sale| sale.price)
                        .sum::<i64>()
                        .to_string(),
                );
                row
            })
            .collect();
        assert_eq!(
            answer,
            json!({"columns": columns, "rows": expected_rows}),
            "filter mask {mask}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_keep_query_order_and_repeats() {
    let database = test_support::migrated_database("read_api").await;
    insert_sales(&database).await;
    let app = spawn_app(&database).await;
    let range = window(1);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "BUY"),
            ("aggregates", "SUM_PRICE"),
            ("aggregates", "COUNT"),
            ("aggregates", "SUM_PRICE"),
        ])
        .await;

    assert_eq!(
        answer,
        json!({
            "columns": ["1m_bucket", "action", "sum_price", "count", "sum_price"],
            "rows": [[bucket(0), "BUY", "1000", "1", "1000"]],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_minute_has_a_row_and_every_value_is_a_string() {
    let database = test_support::migrated_database("read_api").await;
    insert_sales(&database).await;
    let app = spawn_app(&database).await;
    let range = window(10);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("aggregates", "COUNT"),
        ])
        .await;

    let rows = answer["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 10);
    for (minute, row) in rows.iter().enumerate() {
        let row = row.as_array().expect("row");
        assert!(row.iter().all(Value::is_string), "{row:?}");
        assert_eq!(row[0], bucket(minute as i64));
    }
    let counts: Vec<&str> = rows
        .iter()
        .map(|row| row[2].as_str().expect("count"))
        .collect();
    assert_eq!(counts, ["3", "2", "0", "1", "0", "0", "0", "0", "0", "0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_sums_go_beyond_32_bits() {
    let database = test_support::migrated_database("read_api").await;
    // One insert per tag, merges stopped: the minute's rows are summed by the query.
    service_kit::clickhouse::client(&database)
        .query("SYSTEM STOP MERGES minute_aggregates")
        .execute()
        .await
        .expect("merges stopped");
    for i in 0..5 {
        let price = i64::from(i32::MAX);
        insert_tags(
            &database,
            &[priced_tag("BUY", BASE_MILLIS + i, "o", "b", "k", price)],
        )
        .await;
    }
    let app = spawn_app(&database).await;
    let range = window(1);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "BUY"),
            ("brand_id", "b"),
            ("aggregates", "SUM_PRICE"),
            ("aggregates", "COUNT"),
        ])
        .await;

    assert_eq!(
        answer["rows"],
        json!([[
            bucket(0),
            "BUY",
            "b",
            (5 * i64::from(i32::MAX)).to_string(),
            "5"
        ]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_values_never_seen_give_zeros() {
    let database = test_support::migrated_database("read_api").await;
    insert_sales(&database).await;
    let app = spawn_app(&database).await;
    let range = window(2);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("origin", "o1"),
            ("category_id", "no-such-category"),
            ("aggregates", "COUNT"),
            ("aggregates", "SUM_PRICE"),
        ])
        .await;

    assert_eq!(
        answer,
        json!({
            "columns": ["1m_bucket", "action", "origin", "category_id", "count", "sum_price"],
            "rows": [
                [bucket(0), "VIEW", "o1", "no-such-category", "0", "0"],
                [bucket(1), "VIEW", "o1", "no-such-category", "0", "0"],
            ],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_filter_value_is_a_filter_on_the_empty_string() {
    let database = test_support::migrated_database("read_api").await;
    insert_tags(
        &database,
        &[
            priced_tag("VIEW", BASE_MILLIS, "", "b", "k", 5),
            priced_tag("VIEW", BASE_MILLIS + 1, "o", "b", "k", 7),
        ],
    )
    .await;
    let app = spawn_app(&database).await;
    let range = window(1);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("origin", ""),
            ("aggregates", "SUM_PRICE"),
        ])
        .await;

    assert_eq!(
        answer,
        json!({
            "columns": ["1m_bucket", "action", "origin", "sum_price"],
            "rows": [[bucket(0), "VIEW", "", "5"]],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_may_cross_midnight() {
    let database = test_support::migrated_database("read_api").await;
    // 2026-03-01T23:55:00 .. 2026-03-02T00:05:00
    let from = BASE_MILLIS + 11 * 3_600_000 + 55 * MINUTE_MILLIS;
    let midnight = from + 5 * MINUTE_MILLIS;
    insert_tags(
        &database,
        &[
            priced_tag("VIEW", from - 1, "o", "b", "k", 1),
            priced_tag("VIEW", midnight - 1, "o", "b", "k", 2),
            priced_tag("VIEW", midnight, "o", "b", "k", 4),
            priced_tag("VIEW", midnight + 59_999, "o", "b", "k", 8),
            priced_tag("VIEW", midnight + 5 * MINUTE_MILLIS, "o", "b", "k", 16),
        ],
    )
    .await;
    let app = spawn_app(&database).await;
    let range = seconds_range(from, from + 10 * MINUTE_MILLIS);

    let answer = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("aggregates", "SUM_PRICE"),
        ])
        .await;

    let rows = answer["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0][0], "2026-03-01T23:55:00");
    assert_eq!(rows[4], json!(["2026-03-01T23:59:00", "VIEW", "2"]));
    assert_eq!(rows[5], json!(["2026-03-02T00:00:00", "VIEW", "12"]));
    assert_eq!(rows[9], json!(["2026-03-02T00:04:00", "VIEW", "0"]));
    let sum: i64 = rows
        .iter()
        .map(|row| {
            row[2]
                .as_str()
                .and_then(|sum| sum.parse::<i64>().ok())
                .expect("sum")
        })
        .sum();
    assert_eq!(sum, 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_400_naming_the_parameter() {
    let database = test_support::migrated_database("read_api").await;
    let app = spawn_app(&database).await;
    let good = window(5);
    let time_range_cases = [
        "",
        "2026-03-01T12:00:00",
        // Milliseconds on whole minutes are accepted (clients send them); off a minute not.
        "2026-03-01T12:00:00.000_2026-03-01T12:05:00.001",
        "2026-03-01T12:05:00_2026-03-01T12:00:00",
        "2026-03-01T12:00:00_2026-03-01T12:00:00",
        "2026-03-01T12:00:30_2026-03-01T12:05:00",
        "2026-03-01T12:00:00_2026-03-01T12:04:59",
        "2026-03-01T12:00:00_2026-03-01T12:11:00",
        "2026-03-01T12:00:00_2026-03-02T12:00:00",
        "1960-01-01T00:00:00_1960-01-01T00:05:00",
        "noon_later",
    ];
    for time_range in time_range_cases {
        let response = app
            .aggregates(
                &[
                    ("time_range", time_range),
                    ("action", "VIEW"),
                    ("aggregates", "COUNT"),
                ],
                None,
            )
            .await;
        assert_bad_parameter(response, "time_range").await;
    }
    let other_cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("action", "VIEW"), ("aggregates", "COUNT")],
            "time_range",
        ),
        (
            vec![("time_range", &good), ("aggregates", "COUNT")],
            "action",
        ),
        (
            vec![
                ("time_range", &good),
                ("action", "view"),
                ("aggregates", "COUNT"),
            ],
            "action",
        ),
        (
            vec![
                ("time_range", &good),
                ("action", "CLICK"),
                ("aggregates", "COUNT"),
            ],
            "action",
        ),
        (
            vec![("time_range", &good), ("action", "VIEW")],
            "aggregates",
        ),
        (
            vec![
                ("time_range", &good),
                ("action", "VIEW"),
                ("aggregates", "AVG"),
            ],
            "aggregates",
        ),
        (
            vec![
                ("time_range", &good),
                ("action", "VIEW"),
                ("aggregates", "COUNT"),
                ("aggregates", ""),
            ],
            "aggregates",
        ),
        (
            vec![
                ("time_range", &good),
                ("action", "VIEW"),
                ("aggregates", "COUNT"),
                ("brand_id", "a"),
                ("brand_id", "b"),
            ],
            "brand_id",
        ),
    ];
    for (query, parameter) in other_cases {
        assert_bad_parameter(app.aggregates(&query, None).await, parameter).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_filter_values_are_only_data() {
    let database = test_support::migrated_database("read_api").await;
    let stored = "'; DROP TABLE user_tags; --";
    insert_tags(
        &database,
        &[
            priced_tag("VIEW", BASE_MILLIS, "o", "b", "k", 3),
            priced_tag("VIEW", BASE_MILLIS + 1, stored, "b", "k", 5),
        ],
    )
    .await;
    let app = spawn_app(&database).await;
    let range = window(1);

    for hostile in [
        "'",
        "\"",
        "\\",
        "\\'",
        "' OR '1'='1",
        "'; DROP TABLE minute_aggregates; --",
        "?",
        "`",
        "%00",
        "\0",
        "tab\there",
        "żółć 🍪 日本",
        "a&b=c",
    ] {
        for filter in ["origin", "brand_id", "category_id"] {
            let answer = app
                .aggregates_json(&[
                    ("time_range", range.as_str()),
                    ("action", "VIEW"),
                    (filter, hostile),
                    ("aggregates", "COUNT"),
                ])
                .await;
            assert_eq!(
                answer["rows"],
                json!([[bucket(0), "VIEW", hostile, "0"]]),
                "{filter}={hostile:?}"
            );
        }
    }

    let hostile_origin = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("origin", stored),
            ("aggregates", "SUM_PRICE"),
        ])
        .await;
    assert_eq!(
        hostile_origin["rows"],
        json!([[bucket(0), "VIEW", stored, "5"]])
    );
    let everything = app
        .aggregates_json(&[
            ("time_range", range.as_str()),
            ("action", "VIEW"),
            ("aggregates", "COUNT"),
        ])
        .await;
    assert_eq!(everything["rows"], json!([[bucket(0), "VIEW", "2"]]));
}
