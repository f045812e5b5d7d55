//! Generated requests to `POST /user_tags`, each with the answer it must get.
//!
//! The oracle is built with the case, not derived from the code under test: a value is
//! generated together with whether the contract admits it (a time is drawn as storable
//! or not, a string with its byte length known, a number as a literal of known range),
//! and each mutation of a valid tag knows which field it broke. Bodies are assembled as
//! JSON text, so a field can hold what `serde_json::Value` cannot: invalid UTF-8, lone
//! surrogates, 40-digit integers, nesting past any parser's limit, truncation.

use proptest::prelude::*;
use proptest::sample::select;
use std::fmt;

/// write-api's default body limit (`WRITE_API_MAX_BODY_BYTES`).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest string a tag field may hold, in bytes.
const MAX_FIELD_BYTES: usize = 4096;
/// 2106-02-07T06:28:15.999Z: the last instant the read models can hold.
const MAX_STORABLE_MS: i64 = u32::MAX as i64 * 1000 + 999;
/// 0001-01-01T00:00:00Z.
const YEAR_1_MS: i64 = -62_135_596_800_000;
/// 9999-12-31T23:59:59.999Z.
const YEAR_9999_END_MS: i64 = 253_402_300_799_999;

/// The fields of a tag, as the error body names them.
pub(crate) const FIELDS: [&str; 10] = [
    "time",
    "cookie",
    "country",
    "device",
    "action",
    "origin",
    "product_info.product_id",
    "product_info.brand_id",
    "product_info.category_id",
    "product_info.price",
];

/// What a body deserves, judged on the body alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A valid tag.
    Valid,
    /// Refused; the error names one of these fields (any name at all when empty).
    Invalid(Vec<&'static str>),
    /// Either answer keeps the contract (a lenient parse it does not rule out, such as
    /// a lowercase `t` separator that RFC 3339 allows).
    Either,
}

impl Verdict {
    fn invalid(field: &'static str) -> Self {
        Self::Invalid(vec![field])
    }

    /// Refused for broken JSON in `field`: the parser may name the field, the object
    /// holding it, or the body.
    fn syntax(field: &'static str) -> Self {
        let holder = if field.starts_with("product_info.") {
            "product_info"
        } else {
            "body"
        };
        Self::Invalid(vec![field, holder, "body"])
    }
}

/// A request body and what it deserves.
#[derive(Clone)]
pub(crate) struct Body {
    /// The bytes sent.
    pub(crate) bytes: Vec<u8>,
    /// What they deserve.
    pub(crate) verdict: Verdict,
    /// How they were made, for failure messages.
    pub(crate) how: String,
}

impl fmt::Debug for Body {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.bytes[..self.bytes.len().min(300)];
        write!(
            formatter,
            "{} ({} bytes, {:?}): {:?}",
            self.how,
            self.bytes.len(),
            self.verdict,
            String::from_utf8_lossy(shown)
        )
    }
}

/// One generated request.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    /// The method.
    pub(crate) method: reqwest::Method,
    /// Path and query, sent as they are.
    pub(crate) path: &'static str,
    /// Whether the path is the route (`/user_tags`, any query string).
    pub(crate) routed: bool,
    /// The content-type header's raw bytes, if sent.
    pub(crate) content_type: Option<Vec<u8>>,
    /// Whether that header declares JSON.
    pub(crate) declares_json: bool,
    /// The body.
    pub(crate) body: Body,
}

/// The answer a case must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expected {
    /// Exactly this status.
    Status(u16),
    /// 204: the tag is on the topic.
    Recorded,
    /// 400 whose JSON body names one of these fields (any when empty).
    Refused(Vec<&'static str>),
    /// 204 or such a 400.
    RecordedOrRefused,
}

impl Case {
    /// The answer this case must get. write-api decides in this order: route, method,
    /// content type, body size, then the tag itself.
    pub(crate) fn expected(&self) -> Expected {
        if !self.routed {
            Expected::Status(404)
        } else if self.method != reqwest::Method::POST {
            Expected::Status(405)
        } else if !self.declares_json {
            Expected::Status(415)
        } else if self.body.bytes.len() > MAX_BODY_BYTES {
            Expected::Status(413)
        } else {
            match &self.body.verdict {
                Verdict::Valid => Expected::Recorded,
                Verdict::Invalid(fields) => Expected::Refused(fields.clone()),
                Verdict::Either => Expected::RecordedOrRefused,
            }
        }
    }
}

/// Every request: mostly well-formed `POST /user_tags` with a JSON type, so the body
/// generators get most of the cases, and every other method, path and type now and then.
pub(crate) fn case() -> impl Strategy<Value = Case> {
    (method(), path(), content_type(), body()).prop_map(
        |(method, (path, routed), (content_type, declares_json), body)| Case {
            method,
            path,
            routed,
            content_type,
            declares_json,
            body,
        },
    )
}

fn method() -> impl Strategy<Value = reqwest::Method> {
    prop_oneof![
        20 => Just(reqwest::Method::POST),
        1 => select(vec!["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW", "post"])
            .prop_map(|name| reqwest::Method::from_bytes(name.as_bytes()).unwrap_or(reqwest::Method::GET)),
    ]
}

fn path() -> impl Strategy<Value = (&'static str, bool)> {
    prop_oneof![
        20 => Just(("/user_tags", true)),
        1 => select(vec![
            ("/user_tags?x=1", true),
            ("/user_tags?", true),
            ("/user_tags?cookie=%00&&==&%ZZ", true),
            // Slashes around the path are ignored (clients' frameworks add them).
            ("/user_tags/", true),
            ("/user_tags//", true),
            ("//user_tags", true),
            ("/user_tags/x", false),
            ("/USER_TAGS", false),
            ("/user_tags%2F", false),
            ("/%75ser_tags", false),
            ("/user_tags;x=1", false),
            ("/user_tags%00", false),
            ("/", false),
            ("/user_profiles/x", false),
            ("/aggregates", false),
        ]),
    ]
}

fn content_type() -> impl Strategy<Value = (Option<Vec<u8>>, bool)> {
    let header = |text: &str| Some(text.as_bytes().to_vec());
    prop_oneof![
        20 => Just((header("application/json"), true)),
        2 => select(vec![
            ("application/json; charset=utf-8", true),
            ("APPLICATION/JSON", true),
            ("Application/Json;charset=\"UTF-8\"", true),
            ("application/json ; x=y", true),
            ("application/json;", true),
            ("application/json; charset=latin1", true),
            ("text/plain", false),
            ("application/jsonp", false),
            ("application/x-www-form-urlencoded", false),
            ("*/*", false),
            ("application/*", false),
            ("application/json, text/plain", false),
            ("application/problem+json", false),
            ("text/json", false),
            ("json", false),
            ("", false),
        ])
        .prop_map(move |(text, declares)| (header(text), declares)),
        1 => Just((None, false)),
        // Visible ASCII and obs-text (bytes 0x80-0xFF, legal in a header, not UTF-8).
        1 => prop::collection::vec(prop_oneof![0x21_u8..0x7f, 0x80_u8..=0xff], 1..40)
            .prop_map(|bytes| (Some(bytes), false)),
    ]
}

/// A body: a valid tag, a valid tag with one thing broken, or no tag at all.
pub(crate) fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => valid_body(),
        8 => broken_field(),
        2 => missing_field(),
        2 => extra_field(),
        2 => text_inside_string(),
        1 => deep_nesting(),
        2 => truncated(),
        1 => duplicate_key(),
        1 => surrounded(),
        1 => positional(),
        1 => not_a_tag(),
    ]
}

// ----- a valid tag, as JSON text with one placeholder per field -----

/// A tag's fields as raw JSON values (each already valid JSON text).
#[derive(Debug, Clone)]
struct Fields {
    values: Vec<(&'static str, String)>,
}

impl Fields {
    fn set(&mut self, field: &str, raw: String) {
        if let Some(slot) = self.values.iter_mut().find(|(name, _)| *name == field) {
            slot.1 = raw;
        }
    }

    fn remove(&mut self, field: &str) {
        self.values.retain(|(name, _)| *name != field);
    }

    /// The tag as JSON text, `extra` (raw `"key":value` members) added to the top level
    /// or to `product_info`.
    fn render(&self, extra_top: &str, extra_product: &str) -> Vec<u8> {
        let member = |(name, raw): &(&str, String)| format!("{}:{raw}", quoted(name));
        let top: Vec<String> = self
            .values
            .iter()
            .filter(|(name, _)| !name.starts_with("product_info"))
            .map(member)
            .chain((!extra_top.is_empty()).then(|| extra_top.to_owned()))
            .collect();
        let product: Vec<String> = self
            .values
            .iter()
            .filter_map(|(name, raw)| {
                let inner = name.strip_prefix("product_info.")?;
                Some(member(&(inner, raw.clone())))
            })
            .chain((!extra_product.is_empty()).then(|| extra_product.to_owned()))
            .collect();
        let whole_product = self
            .values
            .iter()
            .find(|(name, _)| *name == "product_info")
            .map(|(_, raw)| raw.clone());
        let mut members = top;
        match whole_product {
            Some(raw) => members.push(format!("\"product_info\":{raw}")),
            None if self
                .values
                .iter()
                .any(|(name, _)| name.starts_with("product_info.")) =>
            {
                members.push(format!("\"product_info\":{{{}}}", product.join(",")))
            }
            None => {}
        }
        format!("{{{}}}", members.join(",")).into_bytes()
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn valid_fields() -> impl Strategy<Value = Fields> {
    (
        storable_time(),
        valid_text(1),
        valid_text(0),
        select(vec!["PC", "MOBILE", "TV"]),
        select(vec!["VIEW", "BUY"]),
        valid_text(0),
        valid_product_id(),
        valid_text(0),
        valid_text(0),
        any::<i32>(),
    )
        .prop_map(
            |(
                time,
                cookie,
                country,
                device,
                action,
                origin,
                product_id,
                brand,
                category,
                price,
            )| {
                Fields {
                    values: vec![
                        ("time", quoted(&time)),
                        ("cookie", quoted(&cookie)),
                        ("country", quoted(&country)),
                        ("device", quoted(device)),
                        ("action", quoted(action)),
                        ("origin", quoted(&origin)),
                        ("product_info.product_id", product_id),
                        ("product_info.brand_id", quoted(&brand)),
                        ("product_info.category_id", quoted(&category)),
                        ("product_info.price", price.to_string()),
                    ],
                }
            },
        )
}

fn valid_body() -> impl Strategy<Value = Body> {
    valid_fields().prop_map(|fields| Body {
        bytes: fields.render("", ""),
        verdict: Verdict::Valid,
        how: "valid tag".to_owned(),
    })
}

fn valid_product_id() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<i64>().prop_map(|number| number.to_string()),
        1 => valid_text(0).prop_map(|text| quoted(&text)),
    ]
}

/// Text whose byte length is within the field limit and at least `min_bytes` (0 or 1):
/// [`any_text`] cut to the limit on a character boundary, `c` when too short.
fn valid_text(min_bytes: usize) -> impl Strategy<Value = String> {
    any_text().prop_map(move |mut text| {
        while text.len() > MAX_FIELD_BYTES {
            text.pop();
        }
        if text.len() < min_bytes {
            text.push('c');
        }
        text
    })
}

/// Any text: plain, any Unicode, control characters, quoting trouble, or long (near
/// and past the field limit, in one-, two-, three- and four-byte characters).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9_]{0,24}",
        3 => ".{0,16}",
        2 => prop::collection::vec(any::<char>(), 0..16).prop_map(|chars| chars.into_iter().collect()),
        2 => select(vec![
            "'", "\\", "`", "\"", "\u{0}", "%00", "\r\n", "\t", "'; DROP TABLE user_tags; --",
            "\u{202e}", "\u{feff}", "\u{fffd}", "\u{10ffff}", "😀", "null", "{}", " ",
        ])
        .prop_map(str::to_owned),
        1 => (select(vec!["x", "é", "€", "😀", "\u{0}"]), long_length())
            .prop_map(|(unit, bytes)| unit.repeat(bytes.div_ceil(unit.len()))),
    ]
}

fn long_length() -> impl Strategy<Value = usize> {
    prop_oneof![
        select(vec![
            4_093_usize,
            4_094,
            4_095,
            4_096,
            4_097,
            4_100,
            8_192,
            60_000,
            70_000
        ]),
        1_usize..20_000,
    ]
}

// ----- times -----

/// A storable instant in one of the accepted spellings.
fn storable_time() -> impl Strategy<Value = String> {
    let millis = prop_oneof![
        4 => 1_700_000_000_000_i64..1_900_000_000_000,
        2 => 0..=MAX_STORABLE_MS,
        1 => select(vec![0, 1, 999, 1_000, MAX_STORABLE_MS - 999, MAX_STORABLE_MS]),
    ];
    (millis, 0_u8..5).prop_map(|(millis, spelling)| instant(millis, spelling))
}

/// `millis` as an instant: 0 Java's `Instant.toString()`, 1 always three fraction
/// digits, 2 and 3 padded with zeros to micro- and nanoseconds, 4 the shortest fraction.
fn instant(millis: i64, spelling: u8) -> String {
    let Some(datetime) = chrono::DateTime::from_timestamp_millis(millis) else {
        return String::new();
    };
    let seconds = datetime.format("%Y-%m-%dT%H:%M:%S");
    let fraction = millis.rem_euclid(1000);
    match spelling {
        0 if fraction == 0 => format!("{seconds}Z"),
        2 => format!("{seconds}.{fraction:03}000Z"),
        3 => format!("{seconds}.{fraction:03}000000Z"),
        4 if fraction == 0 => format!("{seconds}.0Z"),
        4 => format!(
            "{seconds}.{}Z",
            format!("{fraction:03}").trim_end_matches('0')
        ),
        _ => format!("{seconds}.{fraction:03}Z"),
    }
}

/// A time value (raw JSON) and its verdict.
fn time_value() -> impl Strategy<Value = (String, Verdict)> {
    let refused = || Verdict::invalid("time");
    let unstorable = prop_oneof![
        YEAR_1_MS..0,
        MAX_STORABLE_MS + 1..=YEAR_9999_END_MS,
        select(vec![
            YEAR_1_MS,
            -1,
            -31_536_000_000, // 1969-01-01
            MAX_STORABLE_MS + 1,
            YEAR_9999_END_MS
        ]),
    ];
    prop_oneof![
        3 => storable_time().prop_map(|time| (quoted(&time), Verdict::Valid)),
        2 => (unstorable, 0_u8..5).prop_map(move |(millis, spelling)| (quoted(&instant(millis, spelling)), refused())),
        // A fraction finer than milliseconds that is not zero.
        2 => (1_700_000_000_000_i64..1_900_000_000_000, 1_u32..1_000_000, 4_usize..=9)
            .prop_map(move |(millis, finer, digits)| {
                let base = instant(millis, 1);
                let nanos = (millis.rem_euclid(1000) as u32) * 1_000_000 + finer;
                let fraction = format!("{nanos:09}");
                let text = format!("{}.{}Z", &base[..19], &fraction[..digits]);
                let verdict = if fraction[3..digits].bytes().all(|digit| digit == b'0') {
                    Verdict::Valid
                } else {
                    refused()
                };
                (quoted(&text), verdict)
            }),
        2 => select(vec![
            "", " ", "Z", "2026-03-01T12:00:00", "2026-03-01T12:00:00.123",
            "2026-03-01T12:00:00z", "2026-03-01T12:00:00+00:00", "2026-03-01T12:00:00.123+01:00",
            "2026-02-30T12:00:00Z", "2026-03-01T24:00:00Z", "2026-03-01T12:60:00Z",
            "2026-13-01T12:00:00Z", "+12026-03-01T12:00:00Z", "-0001-01-01T00:00:00Z",
            "2026-3-1T12:00:00Z", "2026-03-01T12:00Z", "2026-03-01T12:00:00.Z",
            "1772366400000", "２０２６-03-01T12:00:00Z", "2026-03-01T12:00:00.123Z\u{0}",
            "2026-03-01T12:00:00.123ZZ", " 2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z ",
            "yesterday", "2026-03-01", "T12:00:00Z", "2026-03-01T12:00:00.-12Z",
        ])
        .prop_map(move |text| (quoted(text), refused())),
        // Spellings RFC 3339 allows that Java never writes: either answer keeps the contract.
        1 => select(vec![
            "2026-03-01t12:00:00Z", "2026-03-01 12:00:00Z", "2026-03-01T23:59:60Z",
            "2026-03-01T12:00:00,123Z",
        ])
        .prop_map(|text| (quoted(text), Verdict::Either)),
        1 => any_text().prop_map(move |text| (quoted(&text), refused())),
        1 => wrong_type().prop_map(move |raw| (raw, refused())),
    ]
}

// ----- one field broken -----

/// JSON of a type no tag field has: null, booleans, arrays, objects.
fn wrong_type() -> impl Strategy<Value = String> {
    select(vec![
        "null",
        "true",
        "false",
        "[]",
        "[1]",
        "[\"PC\"]",
        "{}",
        "{\"a\":1}",
        "[[]]",
    ])
    .prop_map(str::to_owned)
}

/// Number literals beyond 64 bits, fractional, exponents, and ones JSON forbids.
fn odd_number() -> impl Strategy<Value = (String, bool)> {
    // (literal, whether it is valid JSON)
    select(vec![
        ("1.0", true),
        ("1.5", true),
        ("1e3", true),
        ("1E400", false),
        ("-1e-400", true),
        ("0.1", true),
        ("1999.000", true),
        ("9223372036854775808", true),
        ("18446744073709551615", true),
        ("18446744073709551616", true),
        ("-9223372036854775809", true),
        ("1234567890123456789012345678901234567890", true),
        ("0123", false),
        ("+1", false),
        (".5", false),
        ("1.", false),
        ("0x10", false),
        ("NaN", false),
        ("Infinity", false),
        ("- 1", false),
    ])
    .prop_map(|(literal, json)| (literal.to_owned(), json))
}

/// A hostile value for `field` (raw JSON) and its verdict.
fn hostile_value(field: &'static str) -> BoxedStrategy<(String, Verdict)> {
    let refused = move || Verdict::invalid(field);
    let syntax = move || Verdict::syntax(field);
    let odd = odd_number()
        .prop_map(move |(literal, json)| (literal, if json { refused() } else { syntax() }));
    let wrong = wrong_type().prop_map(move |raw| (raw, refused()));
    match field {
        "time" => time_value().boxed(),
        "device" | "action" => {
            let valid: &[&str] = if field == "device" {
                &["PC", "MOBILE", "TV"]
            } else {
                &["VIEW", "BUY"]
            };
            let near = select(vec![
                "PC", "MOBILE", "TV", "VIEW", "BUY", "pc", "Pc", " PC", "PC ", "PC\u{0}", "MOBILE\n",
                "TABLET", "", "tv", "view", "ВUY", "BUY\u{200b}", "CLICK", "VIEW,BUY",
            ]);
            prop_oneof![
                4 => near.prop_map(move |text| {
                    let verdict = if valid.contains(&text) { Verdict::Valid } else { refused() };
                    (quoted(text), verdict)
                }),
                1 => any_text().prop_map(move |text| {
                    let verdict = if valid.contains(&text.as_str()) { Verdict::Valid } else { refused() };
                    (quoted(&text), verdict)
                }),
                1 => wrong,
                1 => odd,
            ]
            .boxed()
        }
        "product_info.product_id" => prop_oneof![
            2 => any::<i64>().prop_map(|number| (number.to_string(), Verdict::Valid)),
            2 => any_text().prop_map(move |text| {
                let verdict = if text.len() <= MAX_FIELD_BYTES { Verdict::Valid } else { refused() };
                (quoted(&text), verdict)
            }),
            // "-0" is a float to serde_json (refused); the contract has no opinion on it.
            1 => Just(("-0".to_owned(), Verdict::Either)),
            2 => odd,
            1 => wrong,
        ]
        .boxed(),
        "product_info.price" => prop_oneof![
            2 => any::<i32>().prop_map(|price| (price.to_string(), Verdict::Valid)),
            2 => prop_oneof![
                i64::from(i32::MAX) + 1..=i64::MAX,
                i64::MIN..i64::from(i32::MIN),
            ]
            .prop_map(move |price| (price.to_string(), refused())),
            1 => select(vec![i64::from(i32::MAX), i64::from(i32::MIN), 0])
                .prop_map(|price| (price.to_string(), Verdict::Valid)),
            1 => Just(("-0".to_owned(), Verdict::Either)),
            2 => odd,
            1 => any_text().prop_map(move |text| (quoted(&text), refused())),
            1 => wrong,
        ]
        .boxed(),
        // An object of the wrong shape ({}, {"a":1}) is refused naming it or a field in it.
        "product_info" => prop_oneof![
            wrong_type().prop_map(|raw| (raw, Verdict::Invalid(vec![
                "product_info",
                "product_info.product_id",
                "product_info.brand_id",
                "product_info.category_id",
                "product_info.price",
            ]))),
            any_text().prop_map(|text| (quoted(&text), Verdict::invalid("product_info"))),
        ]
        .boxed(),
        // cookie, country, origin, brand_id, category_id: strings within the limit.
        _ => {
            let min_bytes = usize::from(field == "cookie");
            prop_oneof![
                4 => any_text().prop_map(move |text| {
                    let verdict = if (min_bytes..=MAX_FIELD_BYTES).contains(&text.len()) {
                        Verdict::Valid
                    } else {
                        refused()
                    };
                    (quoted(&text), verdict)
                }),
                1 => wrong,
                1 => odd,
                1 => any::<i64>().prop_map(move |number| (number.to_string(), refused())),
            ]
            .boxed()
        }
    }
}

fn broken_field() -> impl Strategy<Value = Body> {
    let field = select(
        FIELDS
            .iter()
            .copied()
            .chain(["product_info"])
            .collect::<Vec<_>>(),
    );
    (
        valid_fields(),
        field.prop_flat_map(|field| (Just(field), hostile_value(field))),
    )
        .prop_map(|(mut fields, (field, (raw, verdict)))| {
            if field == "product_info" {
                fields
                    .values
                    .retain(|(name, _)| !name.starts_with("product_info."));
                fields.values.push(("product_info", raw.clone()));
            } else {
                fields.set(field, raw.clone());
            }
            Body {
                bytes: fields.render("", ""),
                verdict,
                how: format!("{field} = {}", cut(&raw)),
            }
        })
}

fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

fn missing_field() -> impl Strategy<Value = Body> {
    let field = select(
        FIELDS
            .iter()
            .copied()
            .chain(["product_info"])
            .collect::<Vec<_>>(),
    );
    (valid_fields(), field).prop_map(|(mut fields, field)| {
        if field == "product_info" {
            fields
                .values
                .retain(|(name, _)| !name.starts_with("product_info"));
        } else {
            fields.remove(field);
        }
        Body {
            bytes: fields.render("", ""),
            verdict: Verdict::invalid(field),
            how: format!("{field} missing"),
        }
    })
}

fn extra_field() -> impl Strategy<Value = Body> {
    let name = any_text().prop_filter("not a tag field", |name| {
        !FIELDS.iter().any(|field| {
            field == name || field.strip_prefix("product_info.") == Some(name.as_str())
        }) && name != "product_info"
    });
    let value = prop_oneof![wrong_type(), any_text().prop_map(|text| quoted(&text))];
    (valid_fields(), any::<bool>(), name, value).prop_map(|(fields, nested, name, value)| {
        let member = format!("{}:{value}", quoted(&name));
        let (top, product, verdict) = if nested {
            (
                String::new(),
                member,
                Verdict::Invalid(vec!["product_info", "body"]),
            )
        } else {
            (member, String::new(), Verdict::invalid("body"))
        };
        Body {
            bytes: fields.render(&top, &product),
            verdict,
            how: format!(
                "extra field {} in {}",
                cut(&name),
                if nested { "product_info" } else { "the tag" }
            ),
        }
    })
}

/// What can be put between a string's quotes, as raw bytes: escapes JSON allows, and
/// what it forbids (invalid UTF-8, raw control characters, lone surrogates, unknown escapes).
fn string_content() -> impl Strategy<Value = (Vec<u8>, bool)> {
    // (bytes, whether the string is valid JSON)
    select(vec![
        (b"\\u00e9".to_vec(), true),
        (b"\\ud83d\\ude00".to_vec(), true),
        (b"\\u0000".to_vec(), true),
        (b"\\/".to_vec(), true),
        (b"a\\\"b".to_vec(), true),
        (vec![0xff], false),
        (vec![0xc0, 0x80], false),
        (vec![0x80], false),
        (vec![0xed, 0xa0, 0x80], false),
        (vec![0xf4, 0x90, 0x80, 0x80], false),
        (vec![0xe2, 0x82], false),
        (vec![0x01], false),
        (b"\n".to_vec(), false),
        (b"\t".to_vec(), false),
        (b"\\ud800".to_vec(), false),
        (b"\\udc00x".to_vec(), false),
        (b"\\x41".to_vec(), false),
        (b"\\u12".to_vec(), false),
        (b"\\q".to_vec(), false),
        (b"\\".to_vec(), false),
    ])
}

/// Replaces the whole value of `field` in `bytes` (rendered with `marker` there) by `raw`.
fn splice(fields: &Fields, field: &'static str, raw: &[u8]) -> Vec<u8> {
    const MARKER: &str = "\u{e000}splice\u{e000}";
    let mut marked = fields.clone();
    marked.set(field, quoted(MARKER));
    let text = marked.render("", "");
    let needle = quoted(MARKER).into_bytes();
    let Some(at) = text
        .windows(needle.len())
        .position(|window| window == needle.as_slice())
    else {
        return text;
    };
    let mut out = text[..at].to_vec();
    out.extend_from_slice(raw);
    out.extend_from_slice(&text[at + needle.len()..]);
    out
}

fn string_field() -> impl Strategy<Value = &'static str> {
    select(vec![
        "time",
        "cookie",
        "country",
        "device",
        "action",
        "origin",
        "product_info.brand_id",
        "product_info.category_id",
    ])
}

fn text_inside_string() -> impl Strategy<Value = Body> {
    (valid_fields(), string_field(), string_content()).prop_map(
        |(fields, field, (content, json))| {
            let Some(original) = fields
                .values
                .iter()
                .find(|(name, _)| *name == field)
                .map(|(_, raw)| raw.clone())
            else {
                return Body {
                    bytes: Vec::new(),
                    verdict: Verdict::invalid("body"),
                    how: "empty".to_owned(),
                };
            };
            // Appended inside the field's quotes: the field stays what it was, plus the content.
            let mut raw = original.as_bytes()[..original.len() - 1].to_vec();
            raw.extend_from_slice(&content);
            raw.push(b'"');
            let verdict = if !json {
                Verdict::syntax(field)
            } else if matches!(field, "time" | "device" | "action") {
                Verdict::invalid(field)
            } else if original.len() + content.len() > MAX_FIELD_BYTES {
                Verdict::Either
            } else {
                Verdict::Valid
            };
            Body {
                bytes: splice(&fields, field, &raw),
                verdict,
                how: format!("{field} += {:?}", String::from_utf8_lossy(&content)),
            }
        },
    )
}

fn deep_nesting() -> impl Strategy<Value = Body> {
    let field = select(FIELDS.to_vec());
    (valid_fields(), field, 1_usize..5_000, any::<bool>()).prop_map(
        |(fields, field, depth, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            let raw = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            Body {
                bytes: splice(&fields, field, raw.as_bytes()),
                verdict: Verdict::syntax(field),
                how: format!("{field} nested {depth} deep"),
            }
        },
    )
}

fn truncated() -> impl Strategy<Value = Body> {
    (valid_fields(), any::<prop::sample::Index>()).prop_map(|(fields, index)| {
        let whole = fields.render("", "");
        let length = index.index(whole.len());
        Body {
            bytes: whole[..length].to_vec(),
            verdict: Verdict::invalid("body"),
            how: format!("cut to {length} of {} bytes", whole.len()),
        }
    })
}

fn duplicate_key() -> impl Strategy<Value = Body> {
    (valid_fields(), select(FIELDS[..6].to_vec())).prop_map(|(fields, field)| {
        let whole = fields.render("", "");
        let mut bytes = format!("{{{}:\"again\",", quoted(field)).into_bytes();
        bytes.extend_from_slice(&whole[1..]);
        Body {
            bytes,
            verdict: Verdict::syntax(field),
            how: format!("{field} twice"),
        }
    })
}

/// A valid tag with something before or after it: whitespace is fine, anything else not.
fn surrounded() -> impl Strategy<Value = Body> {
    let around = select(vec![
        ("", "\n", true),
        (" \t\r\n", "", true),
        ("", " \t\r\n ", true),
        ("\u{feff}", "", false),
        ("", " x", false),
        ("", "}", false),
        ("", "{}", false),
        ("", "\u{0}", false),
        ("", ",", false),
        ("[", "]", false),
        ("", "\n{\"time\":1}", false),
    ]);
    (valid_fields(), around).prop_map(|(fields, (before, after, valid))| {
        let mut bytes = before.as_bytes().to_vec();
        bytes.extend(fields.render("", ""));
        bytes.extend_from_slice(after.as_bytes());
        Body {
            bytes,
            verdict: if valid {
                Verdict::Valid
            } else {
                Verdict::invalid("body")
            },
            how: format!("tag between {before:?} and {after:?}"),
        }
    })
}

/// A valid tag's values in an array, in field order: the tag, or its product_info.
fn positional() -> impl Strategy<Value = Body> {
    (valid_fields(), any::<bool>()).prop_map(|(fields, whole)| {
        let value = |name: &str| {
            fields
                .values
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, raw)| raw.clone())
                .unwrap_or_default()
        };
        let product = format!(
            "[{},{},{},{}]",
            value("product_info.product_id"),
            value("product_info.brand_id"),
            value("product_info.category_id"),
            value("product_info.price")
        );
        if whole {
            let product_object = format!(
                "{{\"product_id\":{},\"brand_id\":{},\"category_id\":{},\"price\":{}}}",
                value("product_info.product_id"),
                value("product_info.brand_id"),
                value("product_info.category_id"),
                value("product_info.price")
            );
            let bytes = format!(
                "[{},{},{},{},{},{},{product_object}]",
                value("time"),
                value("cookie"),
                value("country"),
                value("device"),
                value("action"),
                value("origin")
            )
            .into_bytes();
            Body {
                bytes,
                verdict: Verdict::invalid("body"),
                how: "the tag's values in an array".to_owned(),
            }
        } else {
            let mut with_array = fields.clone();
            with_array
                .values
                .retain(|(name, _)| !name.starts_with("product_info."));
            with_array.values.push(("product_info", product));
            Body {
                bytes: with_array.render("", ""),
                verdict: Verdict::invalid("product_info"),
                how: "product_info's values in an array".to_owned(),
            }
        }
    })
}

/// Bodies that are not a tag at all: empty, other JSON values, random bytes.
fn not_a_tag() -> impl Strategy<Value = Body> {
    let named = |text: &'static str| Body {
        bytes: text.as_bytes().to_vec(),
        verdict: Verdict::Invalid(Vec::new()),
        how: format!("not a tag: {text:?}"),
    };
    prop_oneof![
        select(vec![
            "",
            " ",
            "\n\t",
            "null",
            "[]",
            "{}",
            "1",
            "\"tag\"",
            "true",
            "[{}]",
            "{\"time\":",
            "{\"product_info\":{}}",
            "{\"time\":null}",
            "{{}}",
            "{\"\":\"\"}",
        ])
        .prop_map(named),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| Body {
            bytes,
            verdict: Verdict::Invalid(Vec::new()),
            how: "random bytes".to_owned(),
        }),
    ]
}
