//! The data the hostile queries run against, and the answers it must give: tags whose
//! cookies and dimensions are as hostile as a tag may legally be (quotes, backslashes,
//! NUL, control characters, `/`, `..`, `%`, emoji, the 4,096-byte maximum), and an
//! independent model of every profile and aggregates answer over them.

use crate::common::{BASE_MILLIS, MINUTE_MILLIS};
use serde_json::{json, Value};

/// Cookies that hold tags. `shopper` holds more of each action than the default limit.
pub(crate) fn cookies() -> Vec<String> {
    let mut cookies: Vec<String> = [
        "shopper",
        "9WkYGxkiXBfpMIjBGURC",
        "'; DROP TABLE user_tags; --",
        "a\\b'c\"d`e",
        "tab\tnew\nline\r",
        "nul\u{0}byte",
        "ünïcödé 😀",
        "a/b",
        "a+b c",
        "..",
        ".",
        "%2F",
        "a?b#c&d=e",
        "\u{202e}\u{feff}",
    ]
    .iter()
    .map(|cookie| (*cookie).to_owned())
    .collect();
    cookies.push("c".repeat(4096));
    cookies.push("é".repeat(2048));
    cookies
}

/// Values of origin, brand and category.
pub(crate) fn dimensions() -> Vec<String> {
    let mut values: Vec<String> = [
        "CAMPAIGN_1",
        "",
        "'",
        "\\",
        "\u{0}",
        "😀 ü",
        "a&b=c",
        "+",
        "%41",
        " ",
    ]
    .iter()
    .map(|value| (*value).to_owned())
    .collect();
    values.push("x".repeat(4096));
    values
}

/// How many tags the data holds: over five minutes from [`BASE_MILLIS`].
const TAGS: i64 = 1_500;
/// Extra tags of `shopper`, past the default limit in both actions.
const SHOPPER_EXTRA: i64 = 600;

/// The seeded tags, as sent.
pub(crate) fn tags() -> Vec<Value> {
    let cookies = cookies();
    let dimensions = dimensions();
    let pick = |values: &[String], index: i64| values[index as usize % values.len()].clone();
    let prices = [1999, 0, -5, i32::MAX, i32::MIN, 7];
    let mut tags: Vec<Value> = (0..TAGS)
        .map(|index| {
            let product_id = if index % 3 == 0 {
                json!(format!("sku-{index}"))
            } else {
                json!(index * 1_000_003)
            };
            let device = ["PC", "MOBILE", "TV"][index as usize % 3];
            json!({
                "time": schemas::EventTime::from_millis(BASE_MILLIS + index * 200).to_instant_string(),
                "cookie": pick(&cookies, index),
                "country": pick(&dimensions, index + 1),
                "device": device,
                "action": if index % 4 == 1 { "BUY" } else { "VIEW" },
                "origin": pick(&dimensions, index),
                "product_info": {
                    "product_id": product_id,
                    "brand_id": pick(&dimensions, index / 3),
                    "category_id": pick(&dimensions, index / 7),
                    "price": prices[index as usize % prices.len()],
                }
            })
        })
        .collect();
    tags.extend((0..SHOPPER_EXTRA).map(|index| {
        json!({
            "time": schemas::EventTime::from_millis(BASE_MILLIS + index * 500 + 77).to_instant_string(),
            "cookie": "shopper",
            "country": "CL",
            "device": "PC",
            "action": if index % 2 == 0 { "BUY" } else { "VIEW" },
            "origin": "CAMPAIGN_1",
            "product_info": {"product_id": index, "brand_id": "+", "category_id": "", "price": 10}
        })
    }));
    tags
}

fn time_of(tag: &Value) -> i64 {
    tag["time"]
        .as_str()
        .and_then(|time| schemas::EventTime::parse_instant(time).ok())
        .map_or(i64::MIN, schemas::EventTime::millis)
}

/// The profile `cookie` must get over `[from, to)` with `limit`.
pub(crate) fn profile(tags: &[Value], cookie: &str, from: i64, to: i64, limit: u64) -> Value {
    let mut own: Vec<&Value> = tags
        .iter()
        .filter(|tag| tag["cookie"] == cookie)
        .filter(|tag| (from..to).contains(&time_of(tag)))
        .collect();
    own.sort_by_key(|tag| std::cmp::Reverse(time_of(tag)));
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let of = |action: &str| -> Vec<Value> {
        own.iter()
            .filter(|tag| tag["action"] == action)
            .take(limit)
            .map(|tag| (*tag).clone())
            .collect()
    };
    json!({"cookie": cookie, "views": of("VIEW"), "buys": of("BUY")})
}

/// An aggregates query, parsed.
#[derive(Debug, Clone)]
pub(crate) struct AggregatesQuery {
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) action: &'static str,
    pub(crate) aggregates: Vec<&'static str>,
    /// (`origin` | `brand_id` | `category_id`, value), in the contract's order.
    pub(crate) filters: Vec<(&'static str, String)>,
}

/// The aggregates answer `query` must get.
pub(crate) fn aggregates(tags: &[Value], query: &AggregatesQuery) -> Value {
    let mut columns = vec!["1m_bucket".to_owned(), "action".to_owned()];
    columns.extend(query.filters.iter().map(|(name, _)| (*name).to_owned()));
    columns.extend(query.aggregates.iter().map(|aggregate| match *aggregate {
        "COUNT" => "count".to_owned(),
        _ => "sum_price".to_owned(),
    }));
    let field = |tag: &Value, name: &str| -> Value {
        match name {
            "origin" => tag["origin"].clone(),
            other => tag["product_info"][other].clone(),
        }
    };
    let rows: Vec<Value> = (query.from..query.to)
        .step_by(MINUTE_MILLIS as usize)
        .map(|minute| {
            let matching: Vec<&Value> = tags
                .iter()
                .filter(|tag| tag["action"] == query.action)
                .filter(|tag| (minute..minute + MINUTE_MILLIS).contains(&time_of(tag)))
                .filter(|tag| {
                    query
                        .filters
                        .iter()
                        .all(|(name, value)| field(tag, name) == value.as_str())
                })
                .collect();
            let count = matching.len() as u64;
            let sum: i64 = matching
                .iter()
                .filter_map(|tag| tag["product_info"]["price"].as_i64())
                .sum();
            let bucket = chrono::DateTime::from_timestamp_millis(minute)
                .map(|time| time.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
            let mut row = vec![json!(bucket), json!(query.action)];
            row.extend(query.filters.iter().map(|(_, value)| json!(value)));
            row.extend(query.aggregates.iter().map(|aggregate| match *aggregate {
                "COUNT" => json!(count.to_string()),
                _ => json!(sum.to_string()),
            }));
            Value::Array(row)
        })
        .collect();
    json!({"columns": columns, "rows": rows})
}
