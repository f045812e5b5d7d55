//! Hostile input on the analysts' API, property-based like the contract's endpoints:
//! 10,000 generated requests per `/v1/` endpoint (series, top, shoppers, newest, ingest,
//! openapi.json), sent byte for byte to a read-api that requires an API key, over the
//! same hostile data.
//!
//! Never a 5xx. A request without the key is a 401 whatever else it holds; a method
//! other than GET or HEAD is a 405; a malformed query is a 400 whose JSON body names a
//! parameter at fault (any of them when several are); a well-formed one is answered
//! exactly as an independent model of the data says (every bucket of a series, a top-N
//! with its ties ordered by value, a shopper's newest tags, the newest minute). And the
//! requests change nothing in the database.
//!
//! Each generated value carries its meaning (a parameter's text and what it spells), so
//! the oracle never asks the code under test.

use super::data;
use super::requests::{any_text, encode, param, segment, shuffled, Param, Segment, SegmentCase};
use super::{Served, Want};
use crate::common::{BASE_MILLIS, MINUTE_MILLIS};
use base64::Engine;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The API key the served read-api requires.
const KEY: &str = "fuzz-key-7Qm";
/// The most points a series may have (a week of minutes).
const MAX_POINTS: i64 = 7 * 24 * 60;
/// The longest value a tag's field may hold: longer filters match nothing.
const MAX_FIELD_BYTES: usize = 4096;
/// The first and last instants the read models hold, in ms (1970 to 2106-02-07T06:28:15).
const FIRST_STORABLE_MS: i64 = 0;
const LAST_STORABLE_MS: i64 = u32::MAX as i64 * 1000 + 999;
/// 0001-01-01T00:00:00 and 9999-12-31T23:59:59: the instants four-digit years spell.
const YEAR_1_MS: i64 = -62_135_596_800_000;
const YEAR_9999_END_MS: i64 = 253_402_300_799_000;

/// A read-api requiring [`KEY`], reading no peer's metrics (the ingest panel then holds
/// read-api's own figures only: no other stack on this machine is asked).
fn served() -> Served {
    let mut config = read_api::Config::local_defaults();
    config.query_deadline = std::time::Duration::from_secs(5);
    config.aggregates_deadline = std::time::Duration::from_secs(10);
    config.api_keys = KEY.to_owned();
    config.peer_metrics = Vec::new();
    Served::start_with(Some(config))
}

// ----- authentication -----

/// The credentials a request presents, and whether they are the key.
#[derive(Debug, Clone)]
struct AuthCase {
    headers: Vec<(&'static str, Vec<u8>)>,
    accepted: bool,
}

fn basic(credentials: &str) -> Vec<u8> {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
    .into_bytes()
}

fn auth() -> impl Strategy<Value = AuthCase> {
    let right = vec![
        vec![("x-api-key", KEY.as_bytes().to_vec())],
        vec![("authorization", format!("Bearer {KEY}").into_bytes())],
        vec![("authorization", format!("bearer {KEY}").into_bytes())],
        vec![("authorization", basic(&format!("analyst:{KEY}")))],
        vec![("authorization", basic(&format!(":{KEY}")))],
    ];
    let wrong = vec![
        vec![],
        vec![("x-api-key", b"wrong".to_vec())],
        vec![("x-api-key", format!("{KEY}x").into_bytes())],
        vec![("x-api-key", KEY.as_bytes()[..KEY.len() - 1].to_vec())],
        vec![("authorization", b"Bearer".to_vec())],
        vec![("authorization", b"Bearer wrong".to_vec())],
        vec![("authorization", format!("Token {KEY}").into_bytes())],
        vec![("authorization", KEY.as_bytes().to_vec())],
        vec![("authorization", b"Basic !!!not-base64".to_vec())],
        vec![("authorization", basic(KEY))],
        vec![("authorization", basic("analyst:wrong"))],
        vec![("authorization", basic(&format!("analyst:{KEY}:")))],
        // The API key header wins over a right Authorization.
        vec![
            ("x-api-key", b"wrong".to_vec()),
            ("authorization", format!("Bearer {KEY}").into_bytes()),
        ],
    ];
    prop_oneof![
        12 => select(right).prop_map(|headers| AuthCase { headers, accepted: true }),
        1 => select(wrong).prop_map(|headers| AuthCase { headers, accepted: false }),
    ]
}

/// GET mostly; HEAD (answered like GET without a body), and methods no route takes.
fn v1_method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        20 => Just("GET"),
        2 => Just("HEAD"),
        1 => select(vec!["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"]),
    ]
}

/// A body a GET may carry: ignored.
fn stray_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => select(vec!["{}", "null", "[[[[", "from=2026-03-01T12:00:00"]).prop_map(|text| text.as_bytes().to_vec()),
    ]
}

/// What `method` and `auth` make of a request that would otherwise get `want`: 401
/// without the key (before anything else is looked at), 405 for a method no route takes,
/// HEAD like GET without a body.
fn gated(want: Want, method: &str, auth: &AuthCase) -> Want {
    let want = if auth.accepted {
        want
    } else {
        Want::Status(401)
    };
    match method {
        "GET" => want,
        "HEAD" => Want::Head(Box::new(want)),
        _ if auth.accepted => Want::Status(405),
        _ => Want::Status(401),
    }
}

/// Sends `target` with the case's method, credentials and body, and judges the answer.
fn send(
    served: &Served,
    method: &str,
    target: &[u8],
    auth: &AuthCase,
    body: &[u8],
    want: &Want,
) -> Result<(), TestCaseError> {
    let headers: Vec<(&str, &[u8])> = auth
        .headers
        .iter()
        .map(|(name, value)| (*name, value.as_slice()))
        .collect();
    served.exchange_with_headers(method, target, &headers, body, want)
}

// ----- query parameters -----

/// What an instant parameter's text means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instant {
    /// A storable instant, in ms.
    At(i64),
    /// Spelled right but outside the years the read models hold, or not an instant.
    Refused,
    /// A leap second: a parser may take it or not.
    Either,
}

/// An instant parameter's text and its meaning.
#[derive(Debug, Clone)]
struct InstantCase {
    text: String,
    meaning: Instant,
}

fn spell_seconds(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn meaning_of(millis: i64) -> Instant {
    if (FIRST_STORABLE_MS..=LAST_STORABLE_MS).contains(&millis) {
        Instant::At(millis)
    } else {
        Instant::Refused
    }
}

/// An instant in `YYYY-MM-DDTHH:MM:SS` (a `Z` may follow): near the data mostly, whole
/// minutes mostly, anywhere from year 1 to 9999 now and then, the storable edges, and
/// misspellings.
fn instant() -> impl Strategy<Value = InstantCase> {
    let near = (-90_i64..200, 0_u8..4).prop_map(|(seconds, rounding)| {
        let millis = BASE_MILLIS + seconds * 5_000;
        if rounding == 0 {
            millis
        } else {
            millis.div_euclid(MINUTE_MILLIS) * MINUTE_MILLIS
        }
    });
    let anywhere = (YEAR_1_MS / 1000..=YEAR_9999_END_MS / 1000).prop_map(|seconds| seconds * 1000);
    let edges = select(vec![
        FIRST_STORABLE_MS,
        FIRST_STORABLE_MS - 1000,
        LAST_STORABLE_MS - 999,
        LAST_STORABLE_MS - 999 - 3_600_000,
        LAST_STORABLE_MS + 1,
        YEAR_1_MS,
        YEAR_9999_END_MS,
    ]);
    let spelled = (
        prop_oneof![12 => near, 2 => anywhere, 1 => edges],
        prop_oneof![4 => Just(""), 1 => Just("Z")],
    )
        .prop_map(|(millis, zone)| InstantCase {
            text: format!("{}{zone}", spell_seconds(millis)),
            meaning: meaning_of(millis),
        });
    let misspelled = select(vec![
        "",
        "2026-03-01T12:00:00.000",
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T12:00:00ZZ",
        "2026-03-01T12:00:00z",
        "2026-03-01 12:00:00",
        "2026-03-01t12:00:00",
        "2026-02-30T12:00:00",
        "2026-03-01T24:00:00",
        "2026-03-01T12:61:00",
        "2026-13-01T12:00:00",
        "2026-3-01T12:00:00",
        "２０２６-03-01T12:00:00",
        "2026-03-01T12:00:00+01:00",
        "2026-03-01T12:00",
        "2026-03-01",
        "1772366400",
        "yesterday",
        "+2026-03-01T12:00:00",
        " 2026-03-01T12:00:00",
        "\u{0}",
    ])
    .prop_map(|text| InstantCase {
        text: text.to_owned(),
        meaning: Instant::Refused,
    });
    let leap = Just(InstantCase {
        text: "2026-03-01T11:59:60".to_owned(),
        meaning: Instant::Either,
    });
    prop_oneof![
        16 => spelled,
        2 => misspelled,
        1 => any_text().prop_map(|text| InstantCase { text, meaning: Instant::Refused }),
        1 => leap,
    ]
}

/// The occurrences of `from` and of `to`.
type RangeParams = (Vec<Given<InstantCase>>, Vec<Given<InstantCase>>);

/// `from` and `to` of a series or a top-N: mostly a range in order near the data (one
/// occurrence each, so most requests get an answer), otherwise each drawn on its own
/// (any spelling, either order, missing or given twice).
fn range_params() -> BoxedStrategy<RangeParams> {
    let window = (
        (-360_i64..120, 1_i64..=2_160, 0_u8..3),
        (any::<bool>(), any::<bool>()),
        prop_oneof![4 => Just(""), 1 => Just("Z")],
    )
        .prop_map(
            |((start, length, rounding), (encode_from, encode_to), zone)| {
                // From an hour before the data to 20 minutes after it, up to 6 hours long, in
                // 10 s steps; now and then on whole minutes.
                let mut from = BASE_MILLIS + start * 10_000;
                let mut to = from + length * 10_000;
                if rounding == 0 {
                    from = from.div_euclid(MINUTE_MILLIS) * MINUTE_MILLIS;
                    to = (to.div_euclid(MINUTE_MILLIS) + 1) * MINUTE_MILLIS;
                }
                let given = |key: &'static str, millis: i64, encode_key: bool| {
                    let value = InstantCase {
                        text: format!("{}{zone}", spell_seconds(millis)),
                        meaning: meaning_of(millis),
                    };
                    Given {
                        param: instant_param(key, &value, encode_key),
                        value,
                    }
                };
                (
                    vec![given("from", from, encode_from)],
                    vec![given("to", to, encode_to)],
                )
            },
        );
    let required = [1, 20, 1];
    let apart = (
        occurrences_of("from", instant().boxed(), instant_param, required),
        occurrences_of("to", instant().boxed(), instant_param, required),
    );
    prop_oneof![7 => window, 3 => apart].boxed()
}

/// A value and whether it is one of `valid` (which the server reads it as).
fn one_of(
    valid: &'static [&'static str],
    hostile: &'static [&'static str],
) -> impl Strategy<Value = String> {
    prop_oneof![
        20 => select(valid).prop_map(str::to_owned),
        1 => select(hostile).prop_map(str::to_owned),
        1 => any_text(),
    ]
}

/// A filter value as sent and as the server decodes it.
#[derive(Debug, Clone)]
struct FilterValue {
    raw: String,
    decoded: String,
}

/// Values of the origin, brand, category and country filters: the data's own values
/// mostly, any text, values no tag may hold (longer than a field may be), and raw
/// encodings the server decodes (`+` is a space, invalid UTF-8 becomes U+FFFD).
fn filter_value() -> impl Strategy<Value = FilterValue> {
    let encoded = |text: String| FilterValue {
        raw: encode(text.as_bytes()),
        decoded: text,
    };
    prop_oneof![
        8 => select(data::dimensions()).prop_map(encoded),
        2 => any_text().prop_map(encoded),
        1 => select(vec![MAX_FIELD_BYTES + 1, 10_000]).prop_map(move |length| encoded("x".repeat(length))),
        1 => select(vec![("a+b", "a b"), ("%FF", "\u{fffd}"), ("%C3%28", "\u{fffd}("), ("+", " "), ("%2B", "+")])
            .prop_map(|(raw, decoded)| FilterValue { raw: raw.to_owned(), decoded: decoded.to_owned() }),
    ]
}

/// One occurrence of a known parameter: its key, the text as sent, and what the
/// server reads.
#[derive(Debug, Clone)]
struct Given<T> {
    param: Param,
    value: T,
}

fn given_text(key: &'static str, text: String, encode_key: bool) -> Given<String> {
    Given {
        param: param(key, text.clone(), encode_key),
        value: text,
    }
}

/// 0, 1 or 2 occurrences (mostly one) of a parameter made by `value`.
fn occurrences_of<T: Clone + std::fmt::Debug + 'static>(
    key: &'static str,
    value: BoxedStrategy<T>,
    to_param: fn(&'static str, &T, bool) -> Param,
    presence: [u32; 3],
) -> BoxedStrategy<Vec<Given<T>>> {
    let count = prop_oneof![
        presence[0] => Just(0_usize),
        presence[1] => Just(1),
        presence[2] => Just(2),
    ];
    count
        .prop_flat_map(move |count| {
            prop::collection::vec((value.clone(), any::<bool>()), count).prop_map(move |values| {
                values
                    .into_iter()
                    .map(|(value, encode_key)| Given {
                        param: to_param(key, &value, encode_key),
                        value,
                    })
                    .collect()
            })
        })
        .boxed()
}

// `&String`, not `&str`: its type is `occurrences_of`'s `fn(&str, &T, bool)` with T = String.
#[allow(clippy::ptr_arg)]
fn text_param(key: &'static str, value: &String, encode_key: bool) -> Param {
    given_text(key, value.clone(), encode_key).param
}

fn instant_param(key: &'static str, value: &InstantCase, encode_key: bool) -> Param {
    param(key, value.text.clone(), encode_key)
}

fn filter_param(key: &'static str, value: &FilterValue, encode_key: bool) -> Param {
    let raw_key = if encode_key {
        key.bytes().map(|byte| format!("%{byte:02X}")).collect()
    } else {
        key.to_owned()
    };
    Param {
        raw: format!("{raw_key}={}", value.raw),
        key: Some(key),
    }
}

/// Every `/v1/` query parameter.
const V1_KEYS: [&str; 15] = [
    "from",
    "to",
    "action",
    "bucket",
    "dimension",
    "by",
    "limit",
    "origin",
    "brand_id",
    "category_id",
    "country",
    "device",
    "before",
    "time_range",
    "cookie",
];

/// Parameters no endpoint knows, and junk that is no `key=value` at all.
fn v1_stray_params() -> impl Strategy<Value = Vec<Param>> {
    let stray = prop_oneof![
        3 => (any_text().prop_filter("a key the server knows", |key| !V1_KEYS.contains(&key.as_str())), any_text())
            .prop_map(|(key, value)| Param {
                raw: format!("{}={}", encode(key.as_bytes()), encode(value.as_bytes())),
                key: None,
            }),
        1 => select(vec![
            "", "=", "==", "&", "%ZZ=1", "%", "a=%", "FROM=1", "from%20=1", "from[]=1", "limit%00=1",
            "%E0%80=%FF", "+=+", "a=b=c", "time_range=2026-03-01T12:00:00_2026-03-01T12:01:00",
        ])
        .prop_map(|raw| Param { raw: raw.to_owned(), key: None }),
    ];
    prop::collection::vec(stray, 0..3)
}

/// The query string of `params`.
fn query_target(path: &[u8], params: &[Param]) -> Vec<u8> {
    super::target(path, params)
}

/// What the serde layer makes of the occurrences of a parameter: `Err(())` when it is
/// given twice (refused, named); the value when given once; `None` when absent.
fn single<T: Clone>(given: &[Given<T>]) -> Result<Option<T>, ()> {
    match given {
        [] => Ok(None),
        [one] => Ok(Some(one.value.clone())),
        _ => Err(()),
    }
}

/// The faults found so far, and how to record one.
#[derive(Debug, Default)]
struct Faults(Vec<&'static str>);

impl Faults {
    fn add(&mut self, parameter: &'static str) {
        if !self.0.contains(&parameter) {
            self.0.push(parameter);
        }
    }

    /// A parameter given twice is refused before anything is checked.
    fn single<T: Clone>(&mut self, name: &'static str, given: &[Given<T>]) -> Option<T> {
        match single(given) {
            Ok(value) => value,
            Err(()) => {
                self.add(name);
                None
            }
        }
    }

    /// A parameter that must be given once.
    fn required<T: Clone>(&mut self, name: &'static str, given: &[Given<T>]) -> Option<T> {
        if given.is_empty() {
            self.add(name);
        }
        self.single(name, given)
    }
}

/// The verdict once the parameters are read: refused, naming one of the faults, or
/// (with none) `answer`.
fn verdict(serde: Faults, checks: Faults, answer: impl FnOnce() -> Want) -> Want {
    if !serde.0.is_empty() {
        return Want::Refused(serde.0);
    }
    if !checks.0.is_empty() {
        return Want::Refused(checks.0);
    }
    answer()
}

/// The instant a checked parameter gives, recording a fault when it has none. A leap
/// second makes the whole request's verdict uncertain.
fn checked_instant(
    checks: &mut Faults,
    name: &'static str,
    case: Option<&InstantCase>,
    uncertain: &mut bool,
) -> Option<i64> {
    match case?.meaning {
        Instant::At(millis) => Some(millis),
        Instant::Refused => {
            checks.add(name);
            None
        }
        Instant::Either => {
            *uncertain = true;
            checks.add(name);
            None
        }
    }
}

/// A refusal, or when a leap second was read either way, an answer or a refusal.
fn maybe_uncertain(want: Want, uncertain: bool, fields: &[&'static str]) -> Want {
    if uncertain {
        let mut fields = fields.to_vec();
        if let Want::Refused(named) = &want {
            fields.extend(named.iter().copied());
        }
        Want::AnswerOrRefused(fields)
    } else {
        want
    }
}

// ----- the model of the data -----

/// One stored tag, as the model reads it.
#[derive(Debug, Clone)]
struct Tag {
    millis: i64,
    action: String,
    origin: String,
    brand_id: String,
    category_id: String,
    country: String,
    device: String,
    price: i64,
}

fn model(tags: &[Value]) -> Vec<Tag> {
    tags.iter()
        .map(|tag| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            Tag {
                millis: tag["time"]
                    .as_str()
                    .and_then(|time| schemas::EventTime::parse_instant(time).ok())
                    .map_or(i64::MIN, schemas::EventTime::millis),
                action: text(&tag["action"]),
                origin: text(&tag["origin"]),
                brand_id: text(&tag["product_info"]["brand_id"]),
                category_id: text(&tag["product_info"]["category_id"]),
                country: text(&tag["country"]),
                device: text(&tag["device"]),
                price: tag["product_info"]["price"].as_i64().unwrap_or_default(),
            }
        })
        .collect()
}

impl Tag {
    fn field(&self, dimension: &str) -> &str {
        match dimension {
            "origin" => &self.origin,
            "brand_id" => &self.brand_id,
            "category_id" => &self.category_id,
            "country" => &self.country,
            _ => &self.device,
        }
    }
}

/// The filters of a cube query: (dimension, value), each given once.
type Filters = Vec<(&'static str, String)>;

fn matches(tag: &Tag, action: &str, filters: &Filters) -> bool {
    tag.action == action
        && filters
            .iter()
            .all(|(dimension, value)| tag.field(dimension) == value)
}

fn bucket_string(millis: i64) -> String {
    schemas::EventTime::from_millis(millis).to_bucket_string()
}

const ACTIONS: [&str; 2] = ["VIEW", "BUY"];
const DEVICES: [&str; 3] = ["PC", "MOBILE", "TV"];
const DIMENSIONS: [&str; 5] = ["origin", "brand_id", "category_id", "country", "device"];

/// The filter parameters of a cube query.
#[derive(Debug, Clone)]
struct FilterParams {
    origin: Vec<Given<FilterValue>>,
    brand_id: Vec<Given<FilterValue>>,
    category_id: Vec<Given<FilterValue>>,
    country: Vec<Given<FilterValue>>,
    device: Vec<Given<String>>,
}

fn filter_params() -> impl Strategy<Value = FilterParams> {
    let presence = [20, 6, 1];
    (
        occurrences_of("origin", filter_value().boxed(), filter_param, presence),
        occurrences_of("brand_id", filter_value().boxed(), filter_param, presence),
        occurrences_of(
            "category_id",
            filter_value().boxed(),
            filter_param,
            presence,
        ),
        occurrences_of("country", filter_value().boxed(), filter_param, presence),
        occurrences_of(
            "device",
            one_of(&DEVICES, &["pc", "Pc", "", "PHONE", "PC ", "TV,PC"]).boxed(),
            text_param,
            presence,
        ),
    )
        .prop_map(
            |(origin, brand_id, category_id, country, device)| FilterParams {
                origin,
                brand_id,
                category_id,
                country,
                device,
            },
        )
}

impl FilterParams {
    fn params(&self) -> Vec<Param> {
        let mut params: Vec<Param> = Vec::new();
        for given in [
            &self.origin,
            &self.brand_id,
            &self.category_id,
            &self.country,
        ] {
            params.extend(given.iter().map(|given| given.param.clone()));
        }
        params.extend(self.device.iter().map(|given| given.param.clone()));
        params
    }

    /// The filters as the server reads them, faults recorded.
    fn read(&self, serde: &mut Faults, checks: &mut Faults) -> Filters {
        let mut filters = Filters::new();
        for (name, given) in [
            ("origin", &self.origin),
            ("brand_id", &self.brand_id),
            ("category_id", &self.category_id),
            ("country", &self.country),
        ] {
            let values: Vec<Given<String>> = given
                .iter()
                .map(|given| Given {
                    param: given.param.clone(),
                    value: given.value.decoded.clone(),
                })
                .collect();
            if let Some(value) = serde.single(name, &values) {
                filters.push((name, value));
            }
        }
        if let Some(device) = serde.single("device", &self.device) {
            if DEVICES.contains(&device.as_str()) {
                filters.push(("device", device));
            } else {
                checks.add("device");
            }
        }
        filters
    }
}

// ----- GET /v1/series -----

#[derive(Debug, Clone)]
struct SeriesCase {
    method: &'static str,
    auth: AuthCase,
    from: Vec<Given<InstantCase>>,
    to: Vec<Given<InstantCase>>,
    action: Vec<Given<String>>,
    bucket: Vec<Given<String>>,
    filters: FilterParams,
    params: Vec<Param>,
    body: Vec<u8>,
}

fn series_case() -> impl Strategy<Value = SeriesCase> {
    let required = [1, 20, 1];
    (
        (v1_method(), auth(), stray_body()),
        range_params(),
        occurrences_of(
            "action",
            one_of(&ACTIONS, &["view", "BUY ", "", "CLICK", "VIEW,BUY"]).boxed(),
            text_param,
            required,
        ),
        occurrences_of(
            "bucket",
            one_of(&["1m", "5m", "1h"], &["", "1M", "2m", "60s", "1d", "1h "]).boxed(),
            text_param,
            [6, 6, 1],
        ),
        filter_params(),
        v1_stray_params(),
    )
        .prop_flat_map(
            |((method, auth, body), (from, to), action, bucket, filters, stray)| {
                let mut params: Vec<Param> = Vec::new();
                params.extend(from.iter().map(|given| given.param.clone()));
                params.extend(to.iter().map(|given| given.param.clone()));
                params.extend(action.iter().map(|given| given.param.clone()));
                params.extend(bucket.iter().map(|given| given.param.clone()));
                params.extend(filters.params());
                params.extend(stray);
                shuffled(params).prop_map(move |params| SeriesCase {
                    method,
                    auth: auth.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    action: action.clone(),
                    bucket: bucket.clone(),
                    filters: filters.clone(),
                    params,
                    body: body.clone(),
                })
            },
        )
}

/// `[from, to)` aligned out to whole buckets of `width` ms.
fn aligned(from: i64, to: i64, width: i64) -> (i64, i64) {
    (
        from.div_euclid(width) * width,
        (to + width - 1).div_euclid(width) * width,
    )
}

fn series_answer(
    tags: &[Tag],
    from: i64,
    to: i64,
    bucket: &str,
    width: i64,
    action: &str,
    filters: &Filters,
) -> Value {
    let points = usize::try_from((to - from) / width).unwrap_or_default();
    let mut totals = vec![(0_u64, 0_i64); points];
    for tag in tags.iter().filter(|tag| matches(tag, action, filters)) {
        if (from..to).contains(&tag.millis) {
            let index = usize::try_from((tag.millis - from) / width).unwrap_or_default();
            totals[index].0 += 1;
            totals[index].1 += tag.price;
        }
    }
    let points: Vec<Value> = totals
        .iter()
        .enumerate()
        .map(|(index, (count, sum))| {
            json!({
                "start": bucket_string(from + index as i64 * width),
                "count": count,
                "sum_price": sum,
            })
        })
        .collect();
    json!({
        "action": action,
        "bucket": bucket,
        "from": bucket_string(from),
        "to": bucket_string(to),
        "points": points,
        // This read-api has no archive: the cube answers everything (history.rs tests
        // the archive's answers).
        "source": "cube",
        "archived_through": null,
    })
}

fn series_want(tags: &[Tag], case: &SeriesCase, target_length: usize) -> Want {
    if target_length > super::requests::LONGEST_TARGET {
        // The HTTP layer refuses it before any route, key or method is looked at.
        return Want::ClientError;
    }
    let want = {
        let mut serde = Faults::default();
        let mut checks = Faults::default();
        let from = serde.required("from", &case.from);
        let to = serde.required("to", &case.to);
        let action = serde.required("action", &case.action);
        let bucket = serde.single("bucket", &case.bucket);
        let filters = case.filters.read(&mut serde, &mut checks);
        let mut uncertain = false;
        let width = match bucket.as_deref() {
            None | Some("1m") => Some(("1m", 60_000)),
            Some("5m") => Some(("5m", 300_000)),
            Some("1h") => Some(("1h", 3_600_000)),
            Some(_) => {
                checks.add("bucket");
                None
            }
        };
        let from = checked_instant(&mut checks, "from", from.as_ref(), &mut uncertain);
        let to = checked_instant(&mut checks, "to", to.as_ref(), &mut uncertain);
        let mut range = None;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                checks.add("to");
            } else if let Some((_, width)) = width {
                let (from, to) = aligned(from, to, width);
                if (to - from) / width > MAX_POINTS {
                    checks.add("bucket");
                } else {
                    range = Some((from, to));
                }
            }
        }
        if action
            .as_deref()
            .is_some_and(|action| !ACTIONS.contains(&action))
        {
            checks.add("action");
        }
        let want = verdict(serde, checks, || match (range, width, action) {
            (Some((from, to)), Some((bucket, width)), Some(action)) => Want::Answer(series_answer(
                tags, from, to, bucket, width, &action, &filters,
            )),
            _ => Want::Anything,
        });
        maybe_uncertain(want, uncertain, &["from", "to", "bucket"])
    };
    gated(want, case.method, &case.auth)
}

fn check_series(served: &Served, tags: &[Tag], case: &SeriesCase) -> Result<(), TestCaseError> {
    let target = query_target(b"/v1/series", &case.params);
    let want = series_want(tags, case, target.len());
    send(served, case.method, &target, &case.auth, &case.body, &want)
}

#[test]
fn hostile_series_queries_are_answered_exactly_or_refused_and_never_with_a_5xx() {
    let served = served();
    let tags = model(&served.tags);
    served.run("v1 series", series_case(), |served, case| {
        check_series(served, &tags, case)
    });
}

// ----- GET /v1/top -----

#[derive(Debug, Clone)]
struct TopCase {
    method: &'static str,
    auth: AuthCase,
    from: Vec<Given<InstantCase>>,
    to: Vec<Given<InstantCase>>,
    action: Vec<Given<String>>,
    dimension: Vec<Given<String>>,
    by: Vec<Given<String>>,
    /// Each `limit` given, and its value when it is a `u32`.
    limit: Vec<Given<(String, Option<u32>)>>,
    filters: FilterParams,
    params: Vec<Param>,
    body: Vec<u8>,
}

fn top_limit() -> impl Strategy<Value = (String, Option<u32>)> {
    prop_oneof![
        12 => (1_u32..=100).prop_map(|limit| (limit.to_string(), Some(limit))),
        1 => any::<u32>().prop_map(|limit| (limit.to_string(), Some(limit))),
        // Rust's integers take a leading `+` and zeros.
        1 => select(vec![("0", Some(0)), ("007", Some(7)), ("+1", Some(1)), ("101", Some(101)), ("4294967295", Some(u32::MAX))])
            .prop_map(|(text, limit)| (text.to_owned(), limit)),
        1 => select(vec!["", "-1", "1.5", " 1", "1e2", "4294967296", "ten", "１", "0x10"])
            .prop_map(|text| (text.to_owned(), None)),
    ]
}

fn limit_param(key: &'static str, value: &(String, Option<u32>), encode_key: bool) -> Param {
    param(key, value.0.clone(), encode_key)
}

fn top_case() -> impl Strategy<Value = TopCase> {
    let required = [1, 20, 1];
    (
        (v1_method(), auth(), stray_body()),
        range_params(),
        occurrences_of(
            "action",
            one_of(&ACTIONS, &["view", "BUY ", "", "CLICK"]).boxed(),
            text_param,
            required,
        ),
        occurrences_of(
            "dimension",
            one_of(
                &DIMENSIONS,
                &["", "Origin", "brand", "price", "cookie", "device,origin"],
            )
            .boxed(),
            text_param,
            required,
        ),
        occurrences_of(
            "by",
            one_of(&["count", "sum_price"], &["", "COUNT", "price", "sum"]).boxed(),
            text_param,
            [6, 6, 1],
        ),
        occurrences_of("limit", top_limit().boxed(), limit_param, [6, 6, 1]),
        filter_params(),
        v1_stray_params(),
    )
        .prop_flat_map(
            |((method, auth, body), (from, to), action, dimension, by, limit, filters, stray)| {
                let mut params: Vec<Param> = Vec::new();
                params.extend(from.iter().map(|given| given.param.clone()));
                params.extend(to.iter().map(|given| given.param.clone()));
                params.extend(action.iter().map(|given| given.param.clone()));
                params.extend(dimension.iter().map(|given| given.param.clone()));
                params.extend(by.iter().map(|given| given.param.clone()));
                params.extend(limit.iter().map(|given| given.param.clone()));
                params.extend(filters.params());
                params.extend(stray);
                shuffled(params).prop_map(move |params| TopCase {
                    method,
                    auth: auth.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    action: action.clone(),
                    dimension: dimension.clone(),
                    by: by.clone(),
                    limit: limit.clone(),
                    filters: filters.clone(),
                    params,
                    body: body.clone(),
                })
            },
        )
}

#[allow(clippy::too_many_arguments)]
fn top_answer(
    tags: &[Tag],
    from: i64,
    to: i64,
    action: &str,
    dimension: &str,
    by: &str,
    limit: usize,
    filters: &Filters,
) -> Value {
    let mut values: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    let mut total = (0_u64, 0_i64);
    for tag in tags
        .iter()
        .filter(|tag| (from..to).contains(&tag.millis) && matches(tag, action, filters))
    {
        let entry = values.entry(tag.field(dimension)).or_default();
        entry.0 += 1;
        entry.1 += tag.price;
        total.0 += 1;
        total.1 += tag.price;
    }
    // Best first; ties by value (bytewise, as ClickHouse orders strings).
    let mut ranked: Vec<(&str, (u64, i64))> = values.into_iter().collect();
    ranked.sort_by(|a, b| {
        let order = if by == "count" {
            b.1 .0.cmp(&a.1 .0)
        } else {
            b.1 .1.cmp(&a.1 .1)
        };
        order.then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    let rows: Vec<Value> = ranked
        .iter()
        .take(limit)
        .map(|(value, (count, sum))| json!({"value": value, "count": count, "sum_price": sum}))
        .collect();
    json!({
        "action": action,
        "dimension": dimension,
        "by": by,
        "from": bucket_string(from),
        "to": bucket_string(to),
        "rows": rows,
        "total": {"count": total.0, "sum_price": total.1},
        "source": "cube",
        "archived_through": null,
    })
}

fn top_want(tags: &[Tag], case: &TopCase, target_length: usize) -> Want {
    if target_length > super::requests::LONGEST_TARGET {
        // The HTTP layer refuses it before any route, key or method is looked at.
        return Want::ClientError;
    }
    let want = {
        let mut serde = Faults::default();
        let mut checks = Faults::default();
        let from = serde.required("from", &case.from);
        let to = serde.required("to", &case.to);
        let action = serde.required("action", &case.action);
        let dimension = serde.required("dimension", &case.dimension);
        let by = serde.single("by", &case.by);
        let limit = match serde.single("limit", &case.limit) {
            None => Some(10),
            Some((_, None)) => {
                serde.add("limit");
                None
            }
            Some((_, Some(limit))) => Some(limit),
        };
        let filters = case.filters.read(&mut serde, &mut checks);
        let mut uncertain = false;
        if limit.is_some_and(|limit| !(1..=100).contains(&limit)) {
            checks.add("limit");
        }
        let from = checked_instant(&mut checks, "from", from.as_ref(), &mut uncertain);
        let to = checked_instant(&mut checks, "to", to.as_ref(), &mut uncertain);
        let mut range = None;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                checks.add("to");
            } else {
                range = Some(aligned(from, to, MINUTE_MILLIS));
            }
        }
        if action
            .as_deref()
            .is_some_and(|action| !ACTIONS.contains(&action))
        {
            checks.add("action");
        }
        if dimension
            .as_deref()
            .is_some_and(|dimension| !DIMENSIONS.contains(&dimension))
        {
            checks.add("dimension");
        }
        let by = by.unwrap_or_else(|| "count".to_owned());
        if !["count", "sum_price"].contains(&by.as_str()) {
            checks.add("by");
        }
        let want = verdict(serde, checks, || match (range, action, dimension, limit) {
            (Some((from, to)), Some(action), Some(dimension), Some(limit)) => {
                Want::Answer(top_answer(
                    tags,
                    from,
                    to,
                    &action,
                    &dimension,
                    &by,
                    usize::try_from(limit).unwrap_or(usize::MAX),
                    &filters,
                ))
            }
            _ => Want::Anything,
        });
        maybe_uncertain(want, uncertain, &["from", "to"])
    };
    gated(want, case.method, &case.auth)
}

fn check_top(served: &Served, tags: &[Tag], case: &TopCase) -> Result<(), TestCaseError> {
    let target = query_target(b"/v1/top", &case.params);
    let want = top_want(tags, case, target.len());
    send(served, case.method, &target, &case.auth, &case.body, &want)
}

#[test]
fn hostile_top_queries_are_answered_exactly_or_refused_and_never_with_a_5xx() {
    let served = served();
    let tags = model(&served.tags);
    served.run("v1 top", top_case(), |served, case| {
        check_top(served, &tags, case)
    });
}

// ----- GET /v1/shoppers/{cookie} -----

#[derive(Debug, Clone)]
struct ShopperCase {
    method: &'static str,
    auth: AuthCase,
    segment: SegmentCase,
    from: Vec<Given<InstantCase>>,
    to: Vec<Given<InstantCase>>,
    /// Each `limit` given, and its value when it is a `u32`.
    limit: Vec<Given<(String, Option<u32>)>>,
    params: Vec<Param>,
    body: Vec<u8>,
}

fn shopper_limit() -> impl Strategy<Value = (String, Option<u32>)> {
    prop_oneof![
        6 => (0_u32..=1000).prop_map(|limit| (limit.to_string(), Some(limit))),
        1 => any::<u32>().prop_map(|limit| (limit.to_string(), Some(limit))),
        1 => select(vec![("1001", Some(1001)), ("0", Some(0)), ("0200", Some(200))])
            .prop_map(|(text, limit)| (text.to_owned(), limit)),
        1 => select(vec!["", "-1", "1.0", "ten", "4294967296"]).prop_map(|text| (text.to_owned(), None)),
    ]
}

fn shopper_case() -> impl Strategy<Value = ShopperCase> {
    let optional = [4, 8, 1];
    (
        (v1_method(), auth(), stray_body()),
        segment(),
        occurrences_of("from", instant().boxed(), instant_param, optional),
        occurrences_of("to", instant().boxed(), instant_param, optional),
        occurrences_of("limit", shopper_limit().boxed(), limit_param, [3, 3, 1]),
        v1_stray_params(),
    )
        .prop_flat_map(|((method, auth, body), segment, from, to, limit, stray)| {
            let mut params: Vec<Param> = Vec::new();
            params.extend(from.iter().map(|given| given.param.clone()));
            params.extend(to.iter().map(|given| given.param.clone()));
            params.extend(limit.iter().map(|given| given.param.clone()));
            params.extend(stray);
            shuffled(params).prop_map(move |params| ShopperCase {
                method,
                auth: auth.clone(),
                segment: segment.clone(),
                from: from.clone(),
                to: to.clone(),
                limit: limit.clone(),
                params,
                body: body.clone(),
            })
        })
}

fn shopper_want(served: &Served, case: &ShopperCase, target_length: usize) -> Want {
    if target_length > super::requests::LONGEST_TARGET {
        // The HTTP layer refuses it before any route, key or method is looked at.
        return Want::ClientError;
    }
    let cookie = match &case.segment.meaning {
        // No route: no key is asked for either.
        Segment::NoRoute => return Want::Status(404),
        Segment::Unruly => return Want::Anything,
        // axum's own refusal of the path (text, not our JSON).
        Segment::NotUtf8 => return gated(Want::ClientError, case.method, &case.auth),
        Segment::Cookie(cookie) => cookie,
    };
    let mut serde = Faults::default();
    let mut checks = Faults::default();
    let from = serde.single("from", &case.from);
    let to = serde.single("to", &case.to);
    let limit = match serde.single("limit", &case.limit) {
        None => Some(200),
        Some((_, None)) => {
            serde.add("limit");
            None
        }
        Some((_, Some(limit))) => Some(limit),
    };
    let mut uncertain = false;
    let from = match from {
        None => Some(FIRST_STORABLE_MS),
        Some(case) => checked_instant(&mut checks, "from", Some(&case), &mut uncertain),
    };
    let to = match to {
        None => Some(LAST_STORABLE_MS + 1),
        Some(case) => checked_instant(&mut checks, "to", Some(&case), &mut uncertain),
    };
    if limit.is_some_and(|limit| limit > 1000) {
        checks.add("limit");
    }
    let mut range = None;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            checks.add("time_range");
        } else {
            range = Some((from, to));
        }
    }
    let want = verdict(serde, checks, || match (range, limit) {
        (Some((from, to)), Some(limit)) => Want::Answer(data::profile(
            &served.tags,
            cookie,
            from,
            to,
            u64::from(limit),
        )),
        _ => Want::Anything,
    });
    gated(
        maybe_uncertain(want, uncertain, &["from", "to", "time_range"]),
        case.method,
        &case.auth,
    )
}

fn check_shopper(served: &Served, case: &ShopperCase) -> Result<(), TestCaseError> {
    let mut path = b"/v1/shoppers/".to_vec();
    path.extend_from_slice(&case.segment.raw);
    let target = query_target(&path, &case.params);
    let want = shopper_want(served, case, target.len());
    send(served, case.method, &target, &case.auth, &case.body, &want)
}

#[test]
fn hostile_shopper_queries_are_answered_exactly_or_refused_and_never_with_a_5xx() {
    let served = served();
    served.run("v1 shoppers", shopper_case(), check_shopper);
}

// ----- GET /v1/newest -----

#[derive(Debug, Clone)]
struct NewestCase {
    method: &'static str,
    auth: AuthCase,
    action: Vec<Given<String>>,
    before: Vec<Given<InstantCase>>,
    params: Vec<Param>,
    body: Vec<u8>,
}

fn newest_case() -> impl Strategy<Value = NewestCase> {
    (
        (v1_method(), auth(), stray_body()),
        occurrences_of(
            "action",
            one_of(&ACTIONS, &["view", "", "CLICK", "VIEW "]).boxed(),
            text_param,
            [4, 8, 1],
        ),
        occurrences_of("before", instant().boxed(), instant_param, [4, 8, 1]),
        v1_stray_params(),
    )
        .prop_flat_map(|((method, auth, body), action, before, stray)| {
            let mut params: Vec<Param> = Vec::new();
            params.extend(action.iter().map(|given| given.param.clone()));
            params.extend(before.iter().map(|given| given.param.clone()));
            params.extend(stray);
            shuffled(params).prop_map(move |params| NewestCase {
                method,
                auth: auth.clone(),
                action: action.clone(),
                before: before.clone(),
                params,
                body: body.clone(),
            })
        })
}

fn newest_want(tags: &[Tag], case: &NewestCase, target_length: usize) -> Want {
    if target_length > super::requests::LONGEST_TARGET {
        // The HTTP layer refuses it before any route, key or method is looked at.
        return Want::ClientError;
    }
    let mut serde = Faults::default();
    let mut checks = Faults::default();
    let action = serde.single("action", &case.action);
    let before = serde.single("before", &case.before);
    if action
        .as_deref()
        .is_some_and(|action| !ACTIONS.contains(&action))
    {
        checks.add("action");
    }
    let mut uncertain = false;
    // The bound, in whole seconds (ClickHouse compares minutes with seconds).
    let bound = match &before {
        None => Some(None),
        Some(case) => checked_instant(&mut checks, "before", Some(case), &mut uncertain)
            .map(|millis| Some(millis.div_euclid(1000))),
    };
    let want = verdict(serde, checks, || {
        let Some(bound) = bound else {
            return Want::Anything;
        };
        let newest = tags
            .iter()
            .filter(|tag| action.as_deref().is_none_or(|action| tag.action == action))
            .map(|tag| tag.millis.div_euclid(MINUTE_MILLIS) * 60)
            .filter(|minute| bound.is_none_or(|bound| *minute < bound))
            .max();
        Want::Answer(json!({
            "action": action,
            "before": bound.map(|seconds| bucket_string(seconds * 1000)),
            "minute": newest.map(|seconds| bucket_string(seconds * 1000)),
        }))
    });
    gated(
        maybe_uncertain(want, uncertain, &["before"]),
        case.method,
        &case.auth,
    )
}

fn check_newest(served: &Served, tags: &[Tag], case: &NewestCase) -> Result<(), TestCaseError> {
    let target = query_target(b"/v1/newest", &case.params);
    let want = newest_want(tags, case, target.len());
    send(served, case.method, &target, &case.auth, &case.body, &want)
}

#[test]
fn hostile_newest_queries_are_answered_exactly_or_refused_and_never_with_a_5xx() {
    let served = served();
    let tags = model(&served.tags);
    served.run("v1 newest", newest_case(), |served, case| {
        check_newest(served, &tags, case)
    });
}

// ----- GET /v1/ingest and GET /v1/openapi.json: no parameters -----

/// A request to a parameterless endpoint: anything in its query string and body.
#[derive(Debug, Clone)]
struct BareCase {
    method: &'static str,
    auth: AuthCase,
    params: Vec<Param>,
    body: Vec<u8>,
}

fn bare_case() -> impl Strategy<Value = BareCase> {
    (
        (v1_method(), auth(), stray_body()),
        v1_stray_params(),
        prop::collection::vec(
            (select(V1_KEYS.to_vec()), any_text(), any::<bool>())
                .prop_map(|(key, value, encode_key)| param(key, value, encode_key)),
            0..3,
        ),
    )
        .prop_map(|((method, auth, body), mut params, known)| {
            params.extend(known);
            BareCase {
                method,
                auth,
                params,
                body,
            }
        })
}

/// What a request to a parameterless endpoint gets when a GET would get `answer`.
fn bare_want(answer: Want, case: &BareCase, target_length: usize) -> Want {
    if target_length > super::requests::LONGEST_TARGET {
        // The HTTP layer refuses it before any route, key or method is looked at.
        return Want::ClientError;
    }
    gated(answer, case.method, &case.auth)
}

/// The ingest figures: read-api's own counters (no peer is configured), whatever their
/// values, in the documented shape.
fn check_ingest(served: &Served, case: &BareCase) -> Result<(), TestCaseError> {
    let target = query_target(b"/v1/ingest", &case.params);
    let want = bare_want(Want::Status(200), case, target.len());
    send(served, case.method, &target, &case.auth, &case.body, &want)
}

#[test]
fn hostile_ingest_requests_are_answered_and_never_with_a_5xx() {
    let served = served();
    served.run("v1 ingest", bare_case(), check_ingest);
}

#[test]
fn hostile_openapi_requests_get_the_description_and_never_a_5xx() {
    let served = served();
    let description = Want::Answer(
        serde_json::to_value(read_api::openapi_document()).expect("description as JSON"),
    );
    served.run("v1 openapi.json", bare_case(), |served, case| {
        let target = query_target(b"/v1/openapi.json", &case.params);
        let want = bare_want(description.clone(), case, target.len());
        send(served, case.method, &target, &case.auth, &case.body, &want)
    });
}
