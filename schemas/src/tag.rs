//! The user tag: the one fact the platform records, in its typed form.
//!
//! JSON parsing is strict (every field required, unknown fields refused, enums and
//! int32 price checked) and every error names the offending field, so the write
//! path can answer `400` before anything is produced.

use crate::event_time::EventTime;
use crate::tag_time::TagTime;
use serde::{Deserialize, Deserializer, Serialize};

/// Where the shopper acted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Device {
    /// A desktop computer.
    #[serde(rename = "PC")]
    Pc,
    /// A phone or tablet.
    #[serde(rename = "MOBILE")]
    Mobile,
    /// A smart TV.
    #[serde(rename = "TV")]
    Tv,
}

/// What the shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Looked at a product.
    #[serde(rename = "VIEW")]
    View,
    /// Bought a product.
    #[serde(rename = "BUY")]
    Buy,
}

impl Action {
    /// The contract's name for the action.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::View => "VIEW",
            Self::Buy => "BUY",
        }
    }

    /// Parses the contract's name (`VIEW` or `BUY`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "VIEW" => Some(Self::View),
            "BUY" => Some(Self::Buy),
            _ => None,
        }
    }
}

impl Device {
    /// The contract's name for the device.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pc => "PC",
            Self::Mobile => "MOBILE",
            Self::Tv => "TV",
        }
    }

    /// Parses the contract's name (`PC`, `MOBILE` or `TV`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PC" => Some(Self::Pc),
            "MOBILE" => Some(Self::Mobile),
            "TV" => Some(Self::Tv),
            _ => None,
        }
    }
}

/// A product id keeps the JSON type it arrived with, so it is given back the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProductId {
    /// Sent as a JSON integer (what the reference harness sends).
    Number(i64),
    /// Sent as a JSON string.
    Text(String),
}

/// The product a tag is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInfo {
    /// The product.
    pub product_id: ProductId,
    /// Its brand.
    pub brand_id: String,
    /// Its category.
    pub category_id: String,
    /// Its price; sums need 64 bits.
    pub price: i32,
}

/// One shopper action, exactly as the contract defines it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTag {
    /// Event time (never wall-clock time).
    /// As sent: the instant, and the text when it is not the canonical form.
    pub time: TagTime,
    /// The shopper.
    pub cookie: String,
    /// The shopper's country.
    pub country: String,
    /// The shopper's device.
    pub device: Device,
    /// What the shopper did.
    pub action: Action,
    /// The ad campaign that brought the shopper.
    pub origin: String,
    /// The product.
    #[serde(deserialize_with = "object_only")]
    pub product_info: ProductInfo,
}

/// The longest text a tag's string fields may hold, in bytes. Real values are a few
/// dozen bytes (a cookie has 20 characters); the bound keeps every stored value usable
/// as a query parameter, where ClickHouse limits the size of a request.
pub const MAX_FIELD_BYTES: usize = 4096;

/// A tag that was refused, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TagError {
    /// Dotted path of the field at fault (`product_info.price`), or `body` for the whole document.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl UserTag {
    /// Bytes its strings hold on the heap (the allocator's own overhead aside): with
    /// `size_of::<UserTag>()`, what a tag kept in memory costs.
    pub fn heap_bytes(&self) -> usize {
        let product_id = match &self.product_info.product_id {
            ProductId::Number(_) => 0,
            ProductId::Text(text) => text.capacity(),
        };
        self.time.heap_bytes()
            + self.cookie.capacity()
            + self.country.capacity()
            + self.origin.capacity()
            + product_id
            + self.product_info.brand_id.capacity()
            + self.product_info.category_id.capacity()
    }

    /// Whether `other` is the same action: every field equal, the time as an instant
    /// (`...:00Z` and `...:00.000Z` are the same tag, written two ways).
    pub fn same_as(&self, other: &Self) -> bool {
        // Destructured whole, so a field added to the tag must be compared here too.
        let Self {
            time,
            cookie,
            country,
            device,
            action,
            origin,
            product_info,
        } = self;
        time.instant() == other.time.instant()
            && *cookie == other.cookie
            && *country == other.country
            && *device == other.device
            && *action == other.action
            && *origin == other.origin
            && *product_info == other.product_info
    }

    /// Parses and validates a tag from its JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, TagError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let Object(tag): Object<Self> =
            serde_path_to_error::deserialize(&mut deserializer).map_err(path_error_to_tag_error)?;
        deserializer.end().map_err(|error| TagError {
            field: "body".to_owned(),
            message: error.to_string(),
        })?;
        tag.validate()?;
        Ok(tag)
    }

    /// The tag as the contract's JSON value.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Checks what the JSON shape alone cannot: a non-empty cookie, a time the read
    /// models can hold, no field over [`MAX_FIELD_BYTES`]. Tags read back from the log
    /// are checked again the same way, whoever wrote them.
    pub fn validate(&self) -> Result<(), TagError> {
        let refuse = |field: &str, message: String| {
            Err(TagError {
                field: field.to_owned(),
                message,
            })
        };
        if self.cookie.is_empty() {
            return refuse("cookie", "must not be empty".to_owned());
        }
        if !self.time.instant().is_storable() {
            return refuse(
                "time",
                format!(
                    "outside the supported range {} to {}",
                    EventTime::MIN_STORABLE,
                    EventTime::MAX_STORABLE
                ),
            );
        }
        if let Some(text) = self.time.sent_text() {
            // A record from the log carries the text apart from the instant: both must agree.
            if EventTime::parse_instant(text).ok() != Some(self.time.instant()) {
                return refuse("time", "its text and its instant disagree".to_owned());
            }
        }
        let product_id = match &self.product_info.product_id {
            ProductId::Text(text) => text.as_str(),
            ProductId::Number(_) => "",
        };
        let texts = [
            ("time", self.time.sent_text().unwrap_or_default()),
            ("cookie", self.cookie.as_str()),
            ("country", &self.country),
            ("origin", &self.origin),
            ("product_info.product_id", product_id),
            ("product_info.brand_id", &self.product_info.brand_id),
            ("product_info.category_id", &self.product_info.category_id),
        ];
        for (field, text) in texts {
            if text.len() > MAX_FIELD_BYTES {
                return refuse(field, format!("longer than {MAX_FIELD_BYTES} bytes"));
            }
        }
        Ok(())
    }
}

/// A struct read from a JSON object only. serde's derived structs also take an array of
/// their fields in order (`["2026-03-01T12:00:00Z", "cookie", ...]`), which is no tag
/// to the contract.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(Object)
    }
}

fn object_only<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Object::deserialize(deserializer).map(|Object(value)| value)
}

fn path_error_to_tag_error(error: serde_path_to_error::Error<serde_json::Error>) -> TagError {
    let segments: Vec<String> = error.path().iter().map(ToString::to_string).collect();
    let inner = error.into_inner();
    let message = strip_position(&inner.to_string());
    // serde's path can go past the tag's own fields, into names the sender chose: an
    // unknown field is reported at a path ending in its own name (empty, say, or
    // `product_info.price` as one top-level key), and the untagged product id walks into
    // whatever value it was given. The field named is the deepest of the tag's own on
    // that path (or the body); the message names the rest.
    let known = known_prefix(&segments);
    let field = match backticked_field(&message) {
        // A missing field is reported at its parent's path: name the field itself.
        Some(name) if message.starts_with("missing field") => join_path(&known, name),
        _ if inner.is_eof() || known.is_empty() => "body".to_owned(),
        _ => known.join("."),
    };
    TagError { field, message }
}

/// The longest prefix of `segments` that is a path of the tag's own fields.
fn known_prefix(segments: &[String]) -> Vec<&str> {
    const TOP: [&str; 7] = [
        "time",
        "cookie",
        "country",
        "device",
        "action",
        "origin",
        "product_info",
    ];
    const PRODUCT: [&str; 4] = ["product_id", "brand_id", "category_id", "price"];
    let mut known = Vec::new();
    if let Some(first) = segments
        .first()
        .filter(|first| TOP.contains(&first.as_str()))
    {
        known.push(first.as_str());
        if first == "product_info" {
            if let Some(second) = segments
                .get(1)
                .filter(|second| PRODUCT.contains(&second.as_str()))
            {
                known.push(second.as_str());
            }
        }
    }
    known
}

fn backticked_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let length = message[start..].find('`')?;
    Some(&message[start..start + length])
}

fn join_path(parent: &[&str], name: &str) -> String {
    parent
        .iter()
        .copied()
        .chain(std::iter::once(name))
        .collect::<Vec<_>>()
        .join(".")
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "time": "2026-03-01T12:00:00.123Z",
            "cookie": "9WkYGxkiXBfpMIjBGURC",
            "country": "CL",
            "device": "PC",
            "action": "BUY",
            "origin": "CAMPAIGN_321",
            "product_info": {"product_id": 12486, "brand_id": "Ebros_Gift", "category_id": "Shoes___Accessories", "price": 1999}
        })
    }

    fn refusal(body: &serde_json::Value) -> TagError {
        UserTag::from_json(body.to_string().as_bytes()).expect_err("must be refused")
    }

    #[test]
    fn a_valid_tag_round_trips_to_the_same_json() {
        let body = sample();
        let tag = UserTag::from_json(body.to_string().as_bytes()).expect("valid tag");
        assert_eq!(tag.to_json_value(), body);
        let mut string_id = sample();
        string_id["product_info"]["product_id"] = json!("12486");
        let tag = UserTag::from_json(string_id.to_string().as_bytes()).expect("valid tag");
        assert_eq!(tag.product_info.product_id, ProductId::Text("12486".into()));
        assert_eq!(tag.to_json_value(), string_id);
    }

    /// Found by write-api's hostile-input test: an unknown field was named by its own
    /// key, so `{"": ..}` got a 400 naming the field `""`, and a top-level key
    /// `product_info.price` one naming a field that was fine; a product id given as an
    /// object was named down its keys (`product_info.product_id.a.a.a...`).
    #[test]
    fn an_unknown_field_is_refused_in_the_object_it_does_not_belong_in() {
        let deep_id = sample().to_string().replace(
            "\"product_id\":12486",
            &format!(
                "\"product_id\":{}1{}",
                "{\"a\":".repeat(200),
                "}".repeat(200)
            ),
        );
        let refused = UserTag::from_json(deep_id.as_bytes()).expect_err("must be refused");
        assert_eq!(refused.field, "product_info.product_id");
        let mut object_id = sample();
        object_id["product_info"]["product_id"] = json!({"x": [1, {"y": 2}]});
        assert_eq!(refusal(&object_id).field, "product_info.product_id");
        for (key, nested) in [
            ("", false),
            ("product_info.price", false),
            ("extra", false),
            ("", true),
            ("a.b", true),
        ] {
            let mut tag = sample();
            if nested {
                tag["product_info"][key] = json!(1);
            } else {
                tag[key] = json!(null);
            }
            let refused = refusal(&tag);
            assert_eq!(
                refused.field,
                if nested { "product_info" } else { "body" },
                "{key:?}"
            );
            assert!(
                refused
                    .message
                    .starts_with(&format!("unknown field `{key}`")),
                "{refused:?}"
            );
        }
    }

    /// Found by write-api's hostile-input test: serde's derived structs also read an
    /// array of the fields in order, so `["2026-..Z", "c", ...]` was recorded as a tag.
    #[test]
    fn a_tag_or_product_in_an_array_is_refused() {
        let positional = json!([
            "2026-03-01T12:00:00.123Z",
            "c",
            "CL",
            "PC",
            "BUY",
            "o",
            {"product_id": 1, "brand_id": "b", "category_id": "k", "price": 1}
        ]);
        assert_eq!(refusal(&positional).field, "body");
        let mut positional_product = sample();
        positional_product["product_info"] = json!([1, "b", "k", 1]);
        assert_eq!(refusal(&positional_product).field, "product_info");
        assert_eq!(refusal(&json!([sample()])).field, "body");
    }

    #[test]
    fn every_refusal_names_its_field() {
        let mut missing = sample();
        missing
            .as_object_mut()
            .map(|object| object.remove("cookie"));
        assert_eq!(refusal(&missing).field, "cookie");

        let mut missing_nested = sample();
        missing_nested["product_info"]
            .as_object_mut()
            .map(|object| object.remove("price"));
        assert_eq!(refusal(&missing_nested).field, "product_info.price");

        let mut unknown = sample();
        unknown["colour"] = json!("red");
        assert!(refusal(&unknown).message.contains("colour"));
        assert_eq!(refusal(&unknown).field, "body");

        let mut bad_enum = sample();
        bad_enum["device"] = json!("FRIDGE");
        assert_eq!(refusal(&bad_enum).field, "device");

        let mut null_enum = sample();
        null_enum["device"] = json!(null);
        assert_eq!(refusal(&null_enum).field, "device");

        let mut bad_time = sample();
        bad_time["time"] = json!("2026-03-01 12:00");
        assert_eq!(refusal(&bad_time).field, "time");

        let mut big_price = sample();
        big_price["product_info"]["price"] = json!(3_000_000_000_i64);
        assert_eq!(refusal(&big_price).field, "product_info.price");

        let mut float_id = sample();
        float_id["product_info"]["product_id"] = json!(1.5);
        assert_eq!(refusal(&float_id).field, "product_info.product_id");

        let mut empty_cookie = sample();
        empty_cookie["cookie"] = json!("");
        assert_eq!(refusal(&empty_cookie).field, "cookie");

        for time in [
            "1969-12-31T23:59:59.999Z",
            "2106-02-07T06:28:16Z",
            "0001-01-01T00:00:00Z",
        ] {
            let mut unstorable = sample();
            unstorable["time"] = json!(time);
            assert_eq!(refusal(&unstorable).field, "time", "{time}");
        }

        let mut long_brand = sample();
        long_brand["product_info"]["brand_id"] = json!("b".repeat(MAX_FIELD_BYTES + 1));
        assert_eq!(refusal(&long_brand).field, "product_info.brand_id");
        let mut longest_cookie = sample();
        longest_cookie["cookie"] = json!("c".repeat(MAX_FIELD_BYTES));
        assert!(UserTag::from_json(longest_cookie.to_string().as_bytes()).is_ok());

        let malformed = UserTag::from_json(b"{\"time\":").expect_err("malformed");
        assert_eq!(malformed.field, "body");
        let trailing =
            UserTag::from_json(format!("{} x", sample()).as_bytes()).expect_err("trailing");
        assert_eq!(trailing.field, "body");
    }
}
