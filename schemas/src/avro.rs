//! The bundled Avro schema versions of the user tag and the mapping between
//! [`UserTag`] and Avro values.
//!
//! Schema files live in `schemas/avro/user_tag.vN.avsc`; version N has the bundled
//! schema id N (used when no schema registry is configured). The newest version is
//! the one written and the reader schema every decoder resolves into.

use crate::event_time::EventTime;
use crate::tag::{Action, Device, ProductId, ProductInfo, UserTag};
use crate::tag_time::TagTime;
use apache_avro::types::Value;
use apache_avro::Schema;
use std::sync::LazyLock;

/// One bundled schema version.
#[derive(Debug, Clone, Copy)]
pub struct SchemaVersion {
    /// Version number, also its bundled schema id.
    pub version: u32,
    /// The schema's JSON text.
    pub text: &'static str,
}

/// Every bundled version, oldest first.
pub const VERSIONS: &[SchemaVersion] = &[
    SchemaVersion {
        version: 1,
        text: include_str!("../avro/user_tag.v1.avsc"),
    },
    SchemaVersion {
        version: 2,
        text: include_str!("../avro/user_tag.v2.avsc"),
    },
];

/// The version producers write and consumers read into.
pub fn current_version() -> SchemaVersion {
    VERSIONS[VERSIONS.len() - 1]
}

/// A schema that does not parse or a value that does not fit the tag model.
#[derive(Debug, thiserror::Error)]
pub enum AvroError {
    /// The schema text is not a valid Avro schema.
    #[error("invalid avro schema")]
    Schema(#[source] apache_avro::Error),
    /// The datum does not decode or resolve.
    #[error("avro datum does not decode")]
    Datum(#[source] apache_avro::Error),
    /// The decoded value does not have the shape of a user tag.
    #[error("avro value is not a user tag: {0}")]
    Shape(String),
}

/// Why a schema version cannot follow the one before it.
#[derive(Debug, thiserror::Error)]
#[error("version {newer} cannot read data written with version {older}: {reason}")]
pub struct IncompatibleVersion {
    /// The older version.
    pub older: u32,
    /// The newer version.
    pub newer: u32,
    /// apache-avro's explanation.
    pub reason: String,
}

/// Checks that each version can read data written with every version before it
/// (transitive backward compatibility: a consumer on the newest schema reads the whole
/// log, whatever version wrote each record). `versions` are `(version, schema text)`
/// pairs, oldest first.
pub fn check_backward(versions: &[(u32, &str)]) -> Result<(), IncompatibleVersion> {
    let pairs = versions
        .iter()
        .enumerate()
        .flat_map(|(index, newer)| versions[..index].iter().map(move |older| (*older, *newer)));
    for (older, newer) in pairs {
        let incompatible = |reason: String| IncompatibleVersion {
            older: older.0,
            newer: newer.0,
            reason,
        };
        let writer = parse_schema(older.1).map_err(|error| incompatible(error.to_string()))?;
        let reader = parse_schema(newer.1).map_err(|error| incompatible(error.to_string()))?;
        apache_avro::schema_compatibility::SchemaCompatibility::can_read(&writer, &reader)
            .map_err(|error| incompatible(error.to_string()))?;
    }
    Ok(())
}

/// Every bundled version as `(version, schema text)`, oldest first.
pub fn bundled_versions() -> Vec<(u32, &'static str)> {
    VERSIONS
        .iter()
        .map(|version| (version.version, version.text))
        .collect()
}

/// Parses a schema text.
pub fn parse_schema(text: &str) -> Result<Schema, AvroError> {
    Schema::parse_str(text).map_err(AvroError::Schema)
}

static CURRENT_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    // The bundled schema is a compile-time constant checked by the tests below.
    #[allow(clippy::expect_used)]
    parse_schema(current_version().text).expect("bundled schema parses")
});

/// The current (reader and writer) schema.
pub fn current_schema() -> &'static Schema {
    &CURRENT_SCHEMA
}

/// The Avro value of a tag, in the shape of the current schema.
pub fn to_value(tag: &UserTag) -> Value {
    let product_id = match &tag.product_info.product_id {
        ProductId::Number(number) => Value::Union(0, Box::new(Value::Long(*number))),
        ProductId::Text(text) => Value::Union(1, Box::new(Value::String(text.clone()))),
    };
    let (device_index, device_name) = match tag.device {
        Device::Pc => (0, "PC"),
        Device::Mobile => (1, "MOBILE"),
        Device::Tv => (2, "TV"),
    };
    let (action_index, action_name) = match tag.action {
        Action::View => (0, "VIEW"),
        Action::Buy => (1, "BUY"),
    };
    Value::Record(vec![
        ("time".into(), Value::TimestampMillis(tag.time.millis())),
        (
            "time_text".into(),
            match tag.time.sent_text() {
                Some(text) => Value::Union(1, Box::new(Value::String(text.to_owned()))),
                None => Value::Union(0, Box::new(Value::Null)),
            },
        ),
        ("cookie".into(), Value::String(tag.cookie.clone())),
        ("country".into(), Value::String(tag.country.clone())),
        (
            "device".into(),
            Value::Enum(device_index, device_name.into()),
        ),
        (
            "action".into(),
            Value::Enum(action_index, action_name.into()),
        ),
        ("origin".into(), Value::String(tag.origin.clone())),
        (
            "product_info".into(),
            Value::Record(vec![
                ("product_id".into(), product_id),
                (
                    "brand_id".into(),
                    Value::String(tag.product_info.brand_id.clone()),
                ),
                (
                    "category_id".into(),
                    Value::String(tag.product_info.category_id.clone()),
                ),
                ("price".into(), Value::Int(tag.product_info.price)),
            ]),
        ),
    ])
}

/// The tag held by an Avro value already resolved into the current schema.
/// Fields the model does not know (added by newer schemas) are ignored.
pub fn from_value(value: Value) -> Result<UserTag, AvroError> {
    let mut fields = record_fields(value, "user tag")?;
    let time = match take(&mut fields, "time")? {
        Value::TimestampMillis(millis) | Value::Long(millis) => EventTime::from_millis(millis),
        other => return Err(shape("time", &other)),
    };
    // Null in v1 records (resolved to its default), absent under an older reader.
    let time = match take(&mut fields, "time_text").unwrap_or(Value::Null) {
        Value::Union(_, inner) => match *inner {
            Value::String(text) => TagTime::with_text(time, &text),
            Value::Null => TagTime::from(time),
            other => return Err(shape("time_text", &other)),
        },
        Value::Null => TagTime::from(time),
        other => return Err(shape("time_text", &other)),
    };
    let device = match take(&mut fields, "device")? {
        Value::Enum(_, symbol) => {
            Device::parse(&symbol).ok_or_else(|| AvroError::Shape(format!("device {symbol}")))?
        }
        other => return Err(shape("device", &other)),
    };
    let action = match take(&mut fields, "action")? {
        Value::Enum(_, symbol) => {
            Action::parse(&symbol).ok_or_else(|| AvroError::Shape(format!("action {symbol}")))?
        }
        other => return Err(shape("action", &other)),
    };
    let mut product = record_fields(take(&mut fields, "product_info")?, "product_info")?;
    let product_id = match take(&mut product, "product_id")? {
        Value::Union(_, inner) => match *inner {
            Value::Long(number) => ProductId::Number(number),
            Value::String(text) => ProductId::Text(text),
            other => return Err(shape("product_id", &other)),
        },
        other => return Err(shape("product_id", &other)),
    };
    let price = match take(&mut product, "price")? {
        Value::Int(price) => price,
        other => return Err(shape("price", &other)),
    };
    Ok(UserTag {
        time,
        cookie: take_string(&mut fields, "cookie")?,
        country: take_string(&mut fields, "country")?,
        device,
        action,
        origin: take_string(&mut fields, "origin")?,
        product_info: ProductInfo {
            product_id,
            brand_id: take_string(&mut product, "brand_id")?,
            category_id: take_string(&mut product, "category_id")?,
            price,
        },
    })
}

fn record_fields(value: Value, what: &str) -> Result<Vec<(String, Value)>, AvroError> {
    match value {
        Value::Record(fields) => Ok(fields),
        other => Err(shape(what, &other)),
    }
}

fn take(fields: &mut [(String, Value)], name: &str) -> Result<Value, AvroError> {
    fields
        .iter_mut()
        .find(|(field, _)| field == name)
        .map(|(_, value)| std::mem::replace(value, Value::Null))
        .ok_or_else(|| AvroError::Shape(format!("missing field {name}")))
}

fn take_string(fields: &mut [(String, Value)], name: &str) -> Result<String, AvroError> {
    match take(fields, name)? {
        Value::String(text) => Ok(text),
        other => Err(shape(name, &other)),
    }
}

fn shape(field: &str, value: &Value) -> AvroError {
    AvroError::Shape(format!("{field} has unexpected value {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_versions_are_backward_compatible() {
        check_backward(&bundled_versions()).expect("each version reads the one before");
    }

    #[test]
    fn every_bundled_version_parses_and_versions_are_consecutive() {
        for (index, version) in VERSIONS.iter().enumerate() {
            assert_eq!(version.version as usize, index + 1);
            parse_schema(version.text).expect("bundled schema parses");
        }
    }
}
