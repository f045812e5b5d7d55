//! Generated query requests and what the server must make of each part: path segments
//! (any bytes, percent-encoded or raw, `/`, `..`, empty, far longer than any cookie),
//! query strings (every parameter in malformed and edge forms, repeated, unknown, junk)
//! and debug-mode bodies (garbage, huge, nested past any parser's limit, right and wrong
//! answers). Each value is generated with its meaning, so the oracle never asks the code
//! under test.

use crate::hostile::data;
use proptest::prelude::*;
use proptest::sample::select;
use std::fmt;

/// 0000-01-01T00:00:00.000, the earliest time a query end can spell.
const YEAR_0_MS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999, the latest.
const YEAR_9999_END_MS: i64 = 253_402_300_799_999;
const MINUTE_MS: i64 = 60_000;
/// The longest request target the server's HTTP layer takes (the `http` crate's URI limit).
pub(crate) const LONGEST_TARGET: usize = 65_534;

/// Percent-encodes every byte but the unreserved ones.
pub(crate) fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(byte) {
                char::from(*byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

// ----- path segments -----

/// What the server must make of a path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// This cookie.
    Cookie(String),
    /// Percent-decodes to bytes that are not UTF-8: 400 naming `cookie`.
    NotUtf8,
    /// No route (an empty segment, or a `/` in it): 404.
    NoRoute,
    /// Bytes no HTTP parser owes an opinion on: anything but a 5xx.
    Unruly,
}

/// A path segment as sent, and its meaning.
#[derive(Clone)]
pub(crate) struct SegmentCase {
    pub(crate) raw: Vec<u8>,
    pub(crate) meaning: Segment,
}

impl fmt::Debug for SegmentCase {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = String::from_utf8_lossy(&self.raw[..self.raw.len().min(120)]);
        write!(
            formatter,
            "{:?} ({} bytes) {:?}",
            shown,
            self.raw.len(),
            self.meaning
        )
    }
}

/// Any text: plain, any Unicode, control characters, quoting trouble, or long.
pub(crate) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9_]{1,24}",
        3 => ".{0,16}",
        2 => prop::collection::vec(any::<char>(), 0..16).prop_map(|chars| chars.into_iter().collect()),
        2 => select(vec![
            "'", "\\", "`", "\"", "\u{0}", "%00", "%", "\r\n", "\t", "'; DROP TABLE user_tags; --",
            "\u{202e}", "\u{feff}", "😀", "null", " ", "+", "&", "=", "?", "#", ";",
        ])
        .prop_map(str::to_owned),
        1 => (select(vec!["x", "é", "€", "😀"]), select(vec![4_095_usize, 4_096, 4_097, 5_000, 12_000]))
            .prop_map(|(unit, bytes)| unit.repeat(bytes.div_ceil(unit.len()))),
    ]
}

pub(crate) fn segment() -> impl Strategy<Value = SegmentCase> {
    let encoded = |text: String| SegmentCase {
        raw: encode(text.as_bytes()).into_bytes(),
        meaning: if text.is_empty() {
            Segment::NoRoute
        } else {
            Segment::Cookie(text)
        },
    };
    prop_oneof![
        6 => select(data::cookies()).prop_map(encoded),
        3 => any_text().prop_map(encoded),
        1 => prop::collection::vec(any::<u8>(), 1..40).prop_map(|bytes| SegmentCase {
            raw: encode(&bytes).into_bytes(),
            meaning: match String::from_utf8(bytes) {
                Ok(text) => Segment::Cookie(text),
                Err(_) => Segment::NotUtf8,
            },
        }),
        2 => select(vec![
            ("", Segment::NoRoute),
            ("a/b", Segment::NoRoute),
            ("/", Segment::NoRoute),
            ("..", Segment::Cookie("..".to_owned())),
            (".", Segment::Cookie(".".to_owned())),
            ("%2E%2E", Segment::Cookie("..".to_owned())),
            ("a%2Fb", Segment::Cookie("a/b".to_owned())),
            ("%2F", Segment::Cookie("/".to_owned())),
            ("a+b", Segment::Cookie("a+b".to_owned())),
            ("x;y=1", Segment::Cookie("x;y=1".to_owned())),
            ("%C3", Segment::NotUtf8),
            ("%ED%A0%80", Segment::NotUtf8),
            ("%", Segment::Unruly),
            ("%ZZ", Segment::Unruly),
            ("a b", Segment::Unruly),
            ("\u{0}", Segment::Unruly),
            ("é", Segment::Unruly),
            ("#frag", Segment::Unruly),
            ("\"<>{}|^`", Segment::Unruly),
        ])
        .prop_map(|(raw, meaning)| SegmentCase { raw: raw.as_bytes().to_vec(), meaning }),
        // Unencoded and long: beyond any cookie a tag may carry, and beyond the URI limit.
        1 => select(vec![4_096_usize, 4_097, 30_000, 70_000]).prop_map(|length| SegmentCase {
            raw: vec![b'x'; length],
            meaning: Segment::Cookie("x".repeat(length)),
        }),
    ]
}

// ----- query strings -----

/// One `key=value` of a query string, as sent (its meaning is kept by the case).
#[derive(Clone)]
pub(crate) struct Param {
    /// `key=value`, as sent.
    pub(crate) raw: String,
    /// The parameter it was made for, if one the server knows.
    pub(crate) key: Option<&'static str>,
}

impl fmt::Debug for Param {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.raw.chars().take(120).collect();
        write!(formatter, "{shown:?}")
    }
}

/// `key=value`, the key either plain or wholly percent-encoded (the server decodes both
/// to the same name), the value encoded unless it is plain.
pub(crate) fn param(key: &'static str, value: String, encode_key: bool) -> Param {
    let raw_key = if encode_key {
        key.bytes().map(|byte| format!("%{byte:02X}")).collect()
    } else {
        key.to_owned()
    };
    let plain = value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte));
    let raw_value = if plain {
        value.clone()
    } else {
        encode(value.as_bytes())
    };
    Param {
        raw: format!("{raw_key}={raw_value}"),
        key: Some(key),
    }
}

/// The parameters of both endpoints.
const KNOWN_KEYS: [&str; 7] = [
    "time_range",
    "limit",
    "action",
    "aggregates",
    "origin",
    "brand_id",
    "category_id",
];

/// Parameters the server does not know, and junk that is no `key=value` at all.
pub(crate) fn stray_params() -> impl Strategy<Value = Vec<Param>> {
    let stray = prop_oneof![
        3 => (any_text().prop_filter("a key the server knows", |key| !KNOWN_KEYS.contains(&key.as_str())), any_text())
            .prop_map(|(key, value)| Param {
            raw: format!("{}={}", encode(key.as_bytes()), encode(value.as_bytes())),
            key: None,
        }),
        1 => select(vec![
            "", "=", "==", "&", "%ZZ=1", "%", "a=%", "time-range=1", "TIME_RANGE=1", "time_range%20=1",
            "time_range[]=1", "limit%00=1", "%E0%80=%FF", "+=+", "a=b=c",
        ])
        .prop_map(|raw| Param { raw: raw.to_owned(), key: None }),
    ];
    prop::collection::vec(stray, 0..3)
}

/// How many times a parameter is given, 0, 1 or 2, mostly once.
pub(crate) fn occurrences() -> impl Strategy<Value = usize> {
    prop_oneof![20 => Just(1_usize), 1 => Just(0), 1 => Just(2)]
}

/// Puts parameters in a generated order, except that the repeats of one key keep their
/// order among themselves (`aggregates` are answered in the order given).
pub(crate) fn shuffled(params: Vec<Param>) -> impl Strategy<Value = Vec<Param>> {
    Just(params.clone())
        .prop_shuffle()
        .prop_map(move |mut shuffled| {
            for key in params.iter().filter_map(|param| param.key) {
                let mut in_order = params.iter().filter(|param| param.key == Some(key));
                for slot in shuffled.iter_mut().filter(|param| param.key == Some(key)) {
                    if let Some(original) = in_order.next() {
                        *slot = original.clone();
                    }
                }
            }
            shuffled
        })
}

// ----- time ranges -----

/// The precision an endpoint's range ends have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    /// `2026-03-01T12:00:00.000` (profiles).
    Millis,
    /// `2026-03-01T12:00:00` (aggregates).
    Seconds,
}

/// What a `time_range` value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// Both ends spelled right, at these instants (in ms; maybe reversed or equal).
    Spelled(i64, i64),
    /// Not two ends spelled right: 400 naming `time_range`.
    Malformed,
    /// Spellings a lenient parser may take (a leap second): 400 or an answer.
    Either,
}

/// A `time_range` value and its meaning.
#[derive(Debug, Clone)]
pub(crate) struct RangeCase {
    pub(crate) text: String,
    pub(crate) meaning: Range,
}

fn spell(millis: i64, precision: Precision) -> String {
    let Some(time) = chrono::DateTime::from_timestamp_millis(millis) else {
        return String::new();
    };
    match precision {
        Precision::Millis => time.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        Precision::Seconds => time.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

/// An instant a range end may take: near the data mostly, anywhere from year 0 to
/// 9999 sometimes, the edges of what ClickHouse's `DateTime` holds now and then; for
/// seconds precision, whole seconds (mostly whole minutes).
fn end(precision: Precision) -> BoxedStrategy<i64> {
    let base = crate::common::BASE_MILLIS;
    let any = prop_oneof![
        6 => base - 3 * MINUTE_MS..base + 8 * MINUTE_MS,
        2 => YEAR_0_MS..=YEAR_9999_END_MS,
        1 => select(vec![
            YEAR_0_MS, -60_000, -1, 0, 60_000, 4_294_967_295_999 - 15_999, 4_294_967_295_999,
            4_294_967_296_000, YEAR_9999_END_MS,
        ]),
    ];
    match precision {
        Precision::Millis => any.boxed(),
        Precision::Seconds => (any, 0_u8..8)
            .prop_map(|(millis, rounding)| {
                if rounding == 0 {
                    millis.div_euclid(1000) * 1000
                } else {
                    millis.div_euclid(MINUTE_MS) * MINUTE_MS
                }
            })
            .boxed(),
    }
}

/// An aggregates window near the data: whole minutes, 1 to 12 of them (a few over the
/// limit), so most answers have rows with counts in them.
fn window() -> impl Strategy<Value = (i64, i64)> {
    let base = crate::common::BASE_MILLIS;
    (-3_i64..8, 1_i64..=12).prop_map(move |(start, minutes)| {
        let from = base + start * MINUTE_MS;
        (from, from + minutes * MINUTE_MS)
    })
}

/// Range ends no endpoint of `precision` accepts.
fn misspelled_end(precision: Precision) -> Vec<&'static str> {
    let mut ends = vec![
        "",
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00.000Z",
        "2026-03-01 12:00:00",
        "2026-03-01t12:00:00",
        "2026-02-30T12:00:00",
        "2026-03-01T24:00:00",
        "2026-03-01T12:61:00",
        "2026-13-01T12:00:00",
        "2026-3-01T12:00:00",
        "２０２６-03-01T12:00:00",
        "yesterday",
        "1772366400000",
        "2026-03-01",
        "+2026-03-01T12:00:00",
        "2026-03-01T12:00:00+01:00",
        "\u{0}",
    ];
    match precision {
        // Seconds on a profile end and milliseconds on an aggregates end are accepted
        // (clients send them): not misspellings.
        Precision::Millis => ends.extend([
            "2026-03-01T12:00:00.00",
            "2026-03-01T12:00:00.0000",
            "2026-03-01T12:00:00,000",
            "2026-02-30T12:00:00.000",
            "2026-03-01T24:00:00.000",
            "2026-03-01 12:00:00.000",
            "2026-03-01T12:00:00.000 ",
        ]),
        Precision::Seconds => ends.extend([
            "2026-03-01T12:00:00.00",
            "2026-03-01T12:00",
            "2026-03-01T12:00:00 ",
            "2026-03-01T12:00:0",
        ]),
    }
    ends
}

pub(crate) fn time_range(precision: Precision) -> impl Strategy<Value = RangeCase> {
    let spelled = (end(precision), end(precision)).prop_map(move |(from, to)| RangeCase {
        text: format!("{}_{}", spell(from, precision), spell(to, precision)),
        meaning: Range::Spelled(from, to),
    });
    let windowed = window().prop_map(move |(from, to)| RangeCase {
        text: format!("{}_{}", spell(from, precision), spell(to, precision)),
        meaning: Range::Spelled(from, to),
    });
    let misspelled = (
        end(precision),
        select(misspelled_end(precision)),
        any::<bool>(),
    )
        .prop_map(move |(good, bad, bad_first)| {
            let good = spell(good, precision);
            let text = if bad_first {
                format!("{bad}_{good}")
            } else {
                format!("{good}_{bad}")
            };
            RangeCase {
                text,
                meaning: Range::Malformed,
            }
        });
    let whole = select(vec![
        "",
        "_",
        "__",
        "x",
        "2026-03-01T12:00:00.000",
        "2026-03-01T12:00:00",
        "2026-03-01T12:00:00.000-2026-03-01T12:00:01.000",
        "2026-03-01T12:00:00.000__2026-03-01T12:00:01.000",
        "2026-03-01T12:00:00_2026-03-01T12:01:00_2026-03-01T12:02:00",
        "2026-03-01T12:00:00.000_2026-03-01T12:00:01.000_",
    ])
    .prop_map(|text| RangeCase {
        text: text.to_owned(),
        meaning: Range::Malformed,
    });
    let leap = Just(match precision {
        Precision::Millis => "2026-03-01T11:59:60.000_2026-03-01T12:00:01.000",
        Precision::Seconds => "2026-03-01T11:59:60_2026-03-01T12:01:00",
    })
    .prop_map(|text| RangeCase {
        text: text.to_owned(),
        meaning: Range::Either,
    });
    prop_oneof![
        5 => spelled,
        if precision == Precision::Seconds { 14 } else { 4 } => windowed,
        3 => misspelled,
        1 => whole,
        1 => leap,
        1 => any_text().prop_map(|text| RangeCase { text, meaning: Range::Malformed }),
    ]
}

// ----- debug-mode bodies -----

/// A request body. Debug mode reads a JSON body as the expected answer; none of these
/// may change the answer or its status.
#[derive(Debug, Clone)]
pub(crate) enum DebugBody {
    /// No body.
    None,
    /// These bytes (garbage, empty, whitespace, JSON of the wrong shape).
    Bytes(Vec<u8>),
    /// The answer the server must give.
    Right,
    /// That answer with one value changed.
    Wrong,
    /// A JSON document of about this many bytes.
    Huge(usize),
    /// Arrays nested this deep.
    Deep(usize),
}

pub(crate) fn debug_body() -> impl Strategy<Value = (DebugBody, Option<&'static str>)> {
    let body = prop_oneof![
        8 => Just(DebugBody::None),
        2 => Just(DebugBody::Right),
        2 => Just(DebugBody::Wrong),
        2 => prop::collection::vec(any::<u8>(), 0..200).prop_map(DebugBody::Bytes),
        1 => select(vec!["", " ", "null", "[]", "{}", "{\"views\":null}", "{\"rows\":[[1]]}", "\u{feff}{}", "{"])
            .prop_map(|text| DebugBody::Bytes(text.as_bytes().to_vec())),
        1 => select(vec![10_000_usize, 300_000, 1_500_000, 3_000_000]).prop_map(DebugBody::Huge),
        1 => select(vec![100_usize, 129, 10_000, 200_000]).prop_map(DebugBody::Deep),
    ];
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/json; charset=utf-8")),
    ];
    (body, content_type)
}

/// The bytes of `body`, `right` being the answer the server must give.
pub(crate) fn body_bytes(body: &DebugBody, right: Option<&serde_json::Value>) -> Vec<u8> {
    match body {
        DebugBody::None => Vec::new(),
        DebugBody::Bytes(bytes) => bytes.clone(),
        DebugBody::Right => right
            .map(ToString::to_string)
            .unwrap_or_default()
            .into_bytes(),
        DebugBody::Wrong => {
            let mut wrong = right.cloned().unwrap_or_default();
            if let Some(object) = wrong.as_object_mut() {
                object.insert("views".to_owned(), serde_json::json!([{"time": 1}]));
                object.insert("rows".to_owned(), serde_json::json!([["x"]]));
            }
            wrong.to_string().into_bytes()
        }
        DebugBody::Huge(size) => {
            let item =
                serde_json::json!({"time": "2026-03-01T12:00:00.000Z", "cookie": "x".repeat(64)});
            let items = size / 100;
            serde_json::json!({"cookie": "c", "views": vec![item; items], "buys": [], "rows": []})
                .to_string()
                .into_bytes()
        }
        DebugBody::Deep(depth) => {
            format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)).into_bytes()
        }
    }
}

/// Methods: mostly POST.
pub(crate) fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        20 => Just("POST"),
        1 => select(vec!["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"]),
    ]
}
