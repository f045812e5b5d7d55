//! Rows of `user_tags` (migrations `0001`), the profile store: one row per recorded
//! tag, with where it sits in the log.

use crate::codes::{action_code, action_from_code, device_code, device_from_code};
use clickhouse::Row;
use schemas::{EventTime, ProductId, ProductInfo, TagTime, UserTag};
use serde::{Deserialize, Serialize};

/// Where a tag sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
}

/// One row of `user_tags`. Enum columns travel as their codes (see [`crate::codes`]).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct UserTagRow {
    /// The shopper.
    pub cookie: String,
    /// The action's code.
    pub action: i8,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// The time's text as sent when not the canonical form of `time_ms`, else empty.
    pub time_text: String,
    /// Country.
    pub country: String,
    /// The device's code.
    pub device: i8,
    /// Campaign.
    pub origin: String,
    /// Product id as text.
    pub product_id: String,
    /// 1 when the product id was sent as a JSON string, 0 for a JSON integer.
    pub product_id_is_text: u8,
    /// Brand.
    pub brand_id: String,
    /// Category.
    pub category_id: String,
    /// Price.
    pub price: i32,
    /// Source partition.
    pub kafka_partition: i32,
    /// Source offset.
    pub kafka_offset: i64,
    /// The ten minutes of wall time the row's batch was first recorded in (epoch
    /// seconds; see [`crate::tags::ingestion_slot`]), which the aggregate views partition
    /// by; 0 when not set, and the views take the ten minutes of the insert.
    pub batch_ingested_in: u32,
}

/// Why a stored row is not a valid tag (a corrupted or foreign row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored row has invalid {column}")]
pub struct RowError {
    /// The offending column.
    pub column: &'static str,
}

impl UserTagRow {
    /// The row of a tag read at `position` in the log.
    pub fn from_tag(tag: &UserTag, position: LogPosition) -> Self {
        let (product_id, product_id_is_text) = match &tag.product_info.product_id {
            ProductId::Number(number) => (number.to_string(), 0),
            ProductId::Text(text) => (text.clone(), 1),
        };
        Self {
            cookie: tag.cookie.clone(),
            action: action_code(tag.action),
            time_ms: tag.time.millis(),
            time_text: tag.time.sent_text().unwrap_or_default().to_owned(),
            country: tag.country.clone(),
            device: device_code(tag.device),
            origin: tag.origin.clone(),
            product_id,
            product_id_is_text,
            brand_id: tag.product_info.brand_id.clone(),
            category_id: tag.product_info.category_id.clone(),
            price: tag.product_info.price,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
            batch_ingested_in: 0,
        }
    }

    /// The tag this row stores, exactly as it was sent.
    pub fn to_tag(&self) -> Result<UserTag, RowError> {
        self.profile_row().to_tag(&self.cookie)
    }

    /// What a profile read takes of this row.
    pub fn profile_row(&self) -> ProfileRow {
        ProfileRow {
            action: self.action,
            time_ms: self.time_ms,
            time_text: self.time_text.clone(),
            country: self.country.clone(),
            device: self.device,
            origin: self.origin.clone(),
            product_id: self.product_id.clone(),
            product_id_is_text: self.product_id_is_text,
            brand_id: self.brand_id.clone(),
            category_id: self.category_id.clone(),
            price: self.price,
            kafka_offset: self.kafka_offset,
        }
    }
}

/// What a profile read takes of a `user_tags` row: the tag's columns but its cookie
/// (the query's own value) and its partition. Every column read costs a point read on
/// ClickHouse 26 (preparation grows with the column count); `kafka_offset` stays to
/// pick the latest of two copies of one tag.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct ProfileRow {
    /// The action's code.
    pub action: i8,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// The time's text as sent when not the canonical form of `time_ms`, else empty.
    pub time_text: String,
    /// Country.
    pub country: String,
    /// The device's code.
    pub device: i8,
    /// Campaign.
    pub origin: String,
    /// Product id as text.
    pub product_id: String,
    /// 1 when the product id was sent as a JSON string, 0 for a JSON integer.
    pub product_id_is_text: u8,
    /// Brand.
    pub brand_id: String,
    /// Category.
    pub category_id: String,
    /// Price.
    pub price: i32,
    /// Source offset.
    pub kafka_offset: i64,
}

/// A [`ProfileRow`] with its cookie, for reads of several cookies at once.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct CookieProfileRow {
    /// The shopper.
    pub cookie: String,
    /// The action's code.
    pub action: i8,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// The time's text as sent when not the canonical form of `time_ms`, else empty.
    pub time_text: String,
    /// Country.
    pub country: String,
    /// The device's code.
    pub device: i8,
    /// Campaign.
    pub origin: String,
    /// Product id as text.
    pub product_id: String,
    /// 1 when the product id was sent as a JSON string, 0 for a JSON integer.
    pub product_id_is_text: u8,
    /// Brand.
    pub brand_id: String,
    /// Category.
    pub category_id: String,
    /// Price.
    pub price: i32,
    /// Source offset.
    pub kafka_offset: i64,
}

impl CookieProfileRow {
    /// The row without its cookie.
    pub fn into_profile_row(self) -> (String, ProfileRow) {
        (
            self.cookie,
            ProfileRow {
                action: self.action,
                time_ms: self.time_ms,
                time_text: self.time_text,
                country: self.country,
                device: self.device,
                origin: self.origin,
                product_id: self.product_id,
                product_id_is_text: self.product_id_is_text,
                brand_id: self.brand_id,
                category_id: self.category_id,
                price: self.price,
                kafka_offset: self.kafka_offset,
            },
        )
    }
}

impl ProfileRow {
    /// The tag this row stores for `cookie`, exactly as it was sent.
    pub fn to_tag(&self, cookie: &str) -> Result<UserTag, RowError> {
        let action = action_from_code(self.action).ok_or(RowError { column: "action" })?;
        let device = device_from_code(self.device).ok_or(RowError { column: "device" })?;
        let product_id = if self.product_id_is_text == 1 {
            ProductId::Text(self.product_id.clone())
        } else {
            ProductId::Number(self.product_id.parse().map_err(|_| RowError {
                column: "product_id",
            })?)
        };
        Ok(UserTag {
            time: TagTime::with_text(EventTime::from_millis(self.time_ms), &self.time_text),
            cookie: cookie.to_owned(),
            country: self.country.clone(),
            device,
            action,
            origin: self.origin.clone(),
            product_info: ProductInfo {
                product_id,
                brand_id: self.brand_id.clone(),
                category_id: self.category_id.clone(),
                price: self.price,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gives_back_the_tag_it_was_made_from() {
        for (product_id, time) in [
            ("12486", "2026-03-01T12:00:00.123Z"),
            ("\"sku-9\"", "2026-03-01T12:00:00.000Z"),
        ] {
            let tag = UserTag::from_json(
                format!(
                    r#"{{"time":"{time}","cookie":"c","country":"CL","device":"TV","action":"VIEW",
                    "origin":"o","product_info":{{"product_id":{product_id},"brand_id":"b","category_id":"k","price":7}}}}"#
                )
                .as_bytes(),
            )
            .expect("valid tag");
            let position = LogPosition {
                partition: 3,
                offset: 42,
            };
            let row = UserTagRow::from_tag(&tag, position);
            assert_eq!(row.to_tag(), Ok(tag));
        }
    }

    #[test]
    fn unknown_codes_are_refused() {
        let tag = UserTag::from_json(
            br#"{"time":"2026-03-01T12:00:00Z","cookie":"c","country":"CL","device":"TV","action":"VIEW",
                "origin":"o","product_info":{"product_id":1,"brand_id":"b","category_id":"k","price":7}}"#,
        )
        .expect("valid tag");
        let mut row = UserTagRow::from_tag(
            &tag,
            LogPosition {
                partition: 0,
                offset: 0,
            },
        );
        row.device = 9;
        assert_eq!(row.to_tag(), Err(RowError { column: "device" }));
    }
}
