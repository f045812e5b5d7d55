//! Row shapes of the ClickHouse tables created by `migrations/`, shared by the
//! projector (which writes them) and read-api (which reads them).

use clickhouse::Row;
use schemas::{Action, Device, EventTime, ProductId, ProductInfo, UserTag};
use serde::{Deserialize, Serialize};

/// Where a tag sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
}

/// One row of `user_tags`. Enum columns travel as their Int8 codes (see 0001).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct UserTagRow {
    /// The shopper.
    pub cookie: String,
    /// 1 VIEW, 2 BUY.
    pub action: i8,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// Country.
    pub country: String,
    /// 1 PC, 2 MOBILE, 3 TV.
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
    /// Source topic.
    pub kafka_topic: String,
    /// Source partition.
    pub kafka_partition: i32,
    /// Source offset.
    pub kafka_offset: i64,
}

/// The Enum8 code of an action in ClickHouse.
pub const fn action_code(action: Action) -> i8 {
    match action {
        Action::View => 1,
        Action::Buy => 2,
    }
}

const fn device_code(device: Device) -> i8 {
    match device {
        Device::Pc => 1,
        Device::Mobile => 2,
        Device::Tv => 3,
    }
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
    pub fn from_tag(tag: &UserTag, position: LogPosition<'_>) -> Self {
        let (product_id, product_id_is_text) = match &tag.product_info.product_id {
            ProductId::Number(number) => (number.to_string(), 0),
            ProductId::Text(text) => (text.clone(), 1),
        };
        Self {
            cookie: tag.cookie.clone(),
            action: action_code(tag.action),
            time_ms: tag.time.millis(),
            country: tag.country.clone(),
            device: device_code(tag.device),
            origin: tag.origin.clone(),
            product_id,
            product_id_is_text,
            brand_id: tag.product_info.brand_id.clone(),
            category_id: tag.product_info.category_id.clone(),
            price: tag.product_info.price,
            kafka_topic: position.topic.to_owned(),
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        }
    }

    /// The tag this row stores, exactly as it was sent.
    pub fn to_tag(&self) -> Result<UserTag, RowError> {
        let action = match self.action {
            1 => Action::View,
            2 => Action::Buy,
            _ => return Err(RowError { column: "action" }),
        };
        let device = match self.device {
            1 => Device::Pc,
            2 => Device::Mobile,
            3 => Device::Tv,
            _ => return Err(RowError { column: "device" }),
        };
        let product_id = if self.product_id_is_text == 1 {
            ProductId::Text(self.product_id.clone())
        } else {
            ProductId::Number(self.product_id.parse().map_err(|_| RowError {
                column: "product_id",
            })?)
        };
        Ok(UserTag {
            time: EventTime::from_millis(self.time_ms),
            cookie: self.cookie.clone(),
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
        for product_id in ["12486", "\"sku-9\""] {
            let tag = UserTag::from_json(
                format!(
                    r#"{{"time":"2026-03-01T12:00:00.123Z","cookie":"c","country":"CL","device":"TV","action":"VIEW",
                    "origin":"o","product_info":{{"product_id":{product_id},"brand_id":"b","category_id":"k","price":7}}}}"#
                )
                .as_bytes(),
            )
            .expect("valid tag");
            let position = LogPosition {
                topic: "t",
                partition: 3,
                offset: 42,
            };
            let row = UserTagRow::from_tag(&tag, position);
            assert_eq!(row.to_tag(), Ok(tag));
        }
    }
}
