//! The Parquet layout of an archive file, writing one and reading one back.
//!
//! Columns (one row per record, in offset order): `partition`, `offset`,
//! `record_time_ms`, `kind` (0 tag, 1 sender's retry, 2 not a tag), then the tag's
//! columns as `user_tags` holds them (`time_ms`, `time_text`, `cookie`, `action`,
//! `device`, `country`, `origin`, `product_id`, `product_id_is_text`, `brand_id`,
//! `category_id`, `price`; actions and devices by name, so the files do not depend on
//! the read models' codes), and `payload` (the bytes of a record that is not a tag,
//! null otherwise). Anyone can read them: ClickHouse's `file()` and `s3()`, DuckDB,
//! Spark, pandas.
//!
//! Encodings, chosen for bytes per tag (measured on a minute of one partition of
//! loadgen's stream, 16,041 tags, by the test `a_minute_of_tags_costs_at_most_14_5_bytes_a_tag`):
//! the increasing integers (`offset`, `record_time_ms`, `time_ms`) and `price` are
//! DELTA_BINARY_PACKED (an offset costs nothing, a time a few bits, a price its 17
//! significant bits instead of 32); the low-cardinality dimensions and the kind are
//! dictionary-encoded (a few hundred values each); `cookie` and `product_id`, nearly
//! all distinct within a file, are DELTA_BYTE_ARRAY without a dictionary (a shared
//! prefix is stored once; a dictionary would add an index to every row and save
//! nothing); every page is compressed with zstd at level 3. Against the first version
//! (dictionary for every string, price plain): 14.0 B a tag instead of 16.0 (cookie
//! 4.3 -> 3.1, product_id 3.3 -> 2.9, price 2.7 -> 2.3); zstd at 9 would save 0.1 B more
//! for twice the CPU, at 15 0.5 B for four times it. One row group per file (files are
//! small: a minute of one partition), so a reader opens one footer and its statistics
//! per file. Every reader named above reads these encodings (they are Parquet's
//! standard ones since format 2.0); ClickHouse's reading is tested in read-api.

use crate::record::{ArchivedRecord, RecordKind};
use arrow_array::builder::{BinaryBuilder, BooleanBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Int32Array, Int64Array, Int8Array, RecordBatch,
    StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use read_model::codes::{action_code, action_from_code, device_code, device_from_code};
use read_model::UserTagRow;
use schemas::{Action, Device};
use std::sync::Arc;

/// The zstd level: 3 is zstd's default, the knee of size against CPU for small pages.
const ZSTD_LEVEL: i32 = 3;

/// Why a file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Parquet refused.
    #[error("parquet")]
    Parquet(#[from] ParquetError),
    /// Arrow refused.
    #[error("arrow")]
    Arrow(#[from] ArrowError),
    /// A column is missing or has another type than this format writes.
    #[error("column {0} missing or of another type")]
    Column(&'static str),
    /// A value no writer of this format writes.
    #[error("column {column} holds an invalid value at row {row}")]
    Value {
        /// The column.
        column: &'static str,
        /// The row.
        row: usize,
    },
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("record_time_ms", DataType::Int64, false),
        Field::new("kind", DataType::Int8, false),
        Field::new("time_ms", DataType::Int64, false),
        Field::new("time_text", DataType::Utf8, false),
        Field::new("cookie", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("device", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("product_id_is_text", DataType::Boolean, false),
        Field::new("brand_id", DataType::Utf8, false),
        Field::new("category_id", DataType::Utf8, false),
        Field::new("price", DataType::Int32, false),
        Field::new("payload", DataType::Binary, true),
    ]))
}

fn properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(None);
    for column in ["offset", "record_time_ms", "time_ms", "price"] {
        let path = ColumnPath::from(column);
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    for column in ["cookie", "product_id"] {
        let path = ColumnPath::from(column);
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BYTE_ARRAY);
    }
    builder = builder.set_column_dictionary_enabled(ColumnPath::from("payload"), false);
    builder.build()
}

/// The Parquet file of `records` (one partition's, in offset order), with `metadata`
/// (key, value) pairs in its footer.
pub fn encode_file(
    records: &[ArchivedRecord],
    metadata: &[(&str, String)],
) -> Result<Bytes, FormatError> {
    let schema = schema();
    let strings = |value: fn(&ArchivedRecord) -> &str| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(records.len(), records.len() * 8);
        for record in records {
            builder.append_value(value(record));
        }
        Arc::new(builder.finish())
    };
    let mut is_text = BooleanBuilder::with_capacity(records.len());
    let mut payloads = BinaryBuilder::new();
    for record in records {
        is_text.append_value(record.row.product_id_is_text != 0);
        payloads.append_option(record.payload.as_deref());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(
            records.iter().map(|r| r.row.kafka_partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            records.iter().map(|r| r.row.kafka_offset),
        )),
        Arc::new(Int64Array::from_iter_values(
            records.iter().map(|r| r.record_time_ms),
        )),
        Arc::new(Int8Array::from_iter_values(
            records.iter().map(|r| r.kind.code()),
        )),
        Arc::new(Int64Array::from_iter_values(
            records.iter().map(|r| r.row.time_ms),
        )),
        strings(|r| &r.row.time_text),
        strings(|r| &r.row.cookie),
        strings(|r| action_from_code(r.row.action).map_or("", Action::as_str)),
        strings(|r| device_from_code(r.row.device).map_or("", Device::as_str)),
        strings(|r| &r.row.country),
        strings(|r| &r.row.origin),
        strings(|r| &r.row.product_id),
        Arc::new(is_text.finish()),
        strings(|r| &r.row.brand_id),
        strings(|r| &r.row.category_id),
        Arc::new(Int32Array::from_iter_values(
            records.iter().map(|r| r.row.price),
        )),
        Arc::new(payloads.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties()))?;
    for (key, value) in metadata {
        writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
            (*key).to_owned(),
            value.clone(),
        ));
    }
    writer.write(&batch)?;
    Ok(Bytes::from(writer.into_inner()?))
}

fn column<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a T, FormatError> {
    batch
        .column_by_name(name)
        .and_then(|array| array.as_any().downcast_ref::<T>())
        .ok_or(FormatError::Column(name))
}

/// Every record of a file, in its order.
pub fn decode_file(bytes: Bytes) -> Result<Vec<ArchivedRecord>, FormatError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?
        .with_batch_size(65_536)
        .build()?;
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch?;
        decode_batch(&batch, &mut records)?;
    }
    Ok(records)
}

fn decode_batch(batch: &RecordBatch, records: &mut Vec<ArchivedRecord>) -> Result<(), FormatError> {
    let partition = column::<Int32Array>(batch, "partition")?;
    let offset = column::<Int64Array>(batch, "offset")?;
    let record_time = column::<Int64Array>(batch, "record_time_ms")?;
    let kind = column::<Int8Array>(batch, "kind")?;
    let time_ms = column::<Int64Array>(batch, "time_ms")?;
    let time_text = column::<StringArray>(batch, "time_text")?;
    let cookie = column::<StringArray>(batch, "cookie")?;
    let action = column::<StringArray>(batch, "action")?;
    let device = column::<StringArray>(batch, "device")?;
    let country = column::<StringArray>(batch, "country")?;
    let origin = column::<StringArray>(batch, "origin")?;
    let product_id = column::<StringArray>(batch, "product_id")?;
    let is_text = column::<BooleanArray>(batch, "product_id_is_text")?;
    let brand = column::<StringArray>(batch, "brand_id")?;
    let category = column::<StringArray>(batch, "category_id")?;
    let price = column::<Int32Array>(batch, "price")?;
    let payload = column::<BinaryArray>(batch, "payload")?;
    records.reserve(batch.num_rows());
    for row in 0..batch.num_rows() {
        let invalid = |column: &'static str| FormatError::Value { column, row };
        let kind = RecordKind::from_code(kind.value(row)).ok_or_else(|| invalid("kind"))?;
        let (action, device) = if kind == RecordKind::NotATag {
            (0, 0)
        } else {
            (
                action_code(Action::parse(action.value(row)).ok_or_else(|| invalid("action"))?),
                device_code(Device::parse(device.value(row)).ok_or_else(|| invalid("device"))?),
            )
        };
        records.push(ArchivedRecord {
            record_time_ms: record_time.value(row),
            kind,
            row: UserTagRow {
                cookie: cookie.value(row).to_owned(),
                action,
                time_ms: time_ms.value(row),
                time_text: time_text.value(row).to_owned(),
                country: country.value(row).to_owned(),
                device,
                origin: origin.value(row).to_owned(),
                product_id: product_id.value(row).to_owned(),
                product_id_is_text: u8::from(is_text.value(row)),
                brand_id: brand.value(row).to_owned(),
                category_id: category.value(row).to_owned(),
                price: price.value(row),
                kafka_partition: partition.value(row),
                kafka_offset: offset.value(row),
                batch_ingested_in: 0,
            },
            payload: (!payload.is_null(row)).then(|| payload.value(row).to_vec()),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use read_model::LogPosition;
    use schemas::UserTag;

    /// Records of partition 3 from offset 10: tags, a retry and a record that is not one.
    pub(crate) fn sample() -> Vec<ArchivedRecord> {
        let tag = |index: i64, text_id: bool| {
            let product = if text_id {
                serde_json::json!("p-1")
            } else {
                serde_json::json!(index)
            };
            let body = serde_json::json!({
                "time": if index == 0 { "2026-03-01T12:00:00.000Z".to_owned() } else { schemas::EventTime::from_millis(1_772_366_400_000 + index).to_instant_string() },
                "cookie": format!("cookie{}", index % 3), "country": "PL", "device": "TV",
                "action": if index % 2 == 0 { "BUY" } else { "VIEW" }, "origin": "o",
                "product_info": {"product_id": product, "brand_id": "b", "category_id": "c", "price": -7}
            });
            UserTag::from_json(body.to_string().as_bytes()).expect("valid")
        };
        let mut records: Vec<ArchivedRecord> = (0..5)
            .map(|index| ArchivedRecord {
                record_time_ms: 1_000 + index,
                kind: RecordKind::Tag,
                row: UserTagRow::from_tag(
                    &tag(index, index == 1),
                    LogPosition {
                        partition: 3,
                        offset: 10 + index,
                    },
                ),
                payload: None,
            })
            .collect();
        records[3].kind = RecordKind::SenderRetry;
        records.push(ArchivedRecord::not_a_tag(3, 15, 1_005, b"\x00garbage"));
        records
    }

    /// A minute of one of four partitions at 1,000 tags/s: every fourth cookie of 60,000
    /// tags of loadgen's stream, with broker timestamps a few ms apart.
    fn a_minute_of_one_partition() -> Vec<ArchivedRecord> {
        use std::hash::{Hash, Hasher};
        let mut records = Vec::new();
        let stream = loadgen::stream::TagStream::new(7, loadgen::stream::Cardinalities::default());
        for tag in stream.take(60_000) {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            tag.cookie.hash(&mut hasher);
            if !hasher.finish().is_multiple_of(4) {
                continue;
            }
            let offset = records.len() as i64;
            let row = UserTagRow::from_tag(
                &tag,
                LogPosition {
                    partition: 0,
                    offset,
                },
            );
            records.push(ArchivedRecord {
                record_time_ms: row.time_ms + 24 * 3_600_000 + (offset * 7) % 5,
                kind: RecordKind::Tag,
                row,
                payload: None,
            });
        }
        records
    }

    #[test]
    fn a_minute_of_tags_costs_at_most_14_5_bytes_a_tag() {
        let records = a_minute_of_one_partition();
        let bytes = encode_file(&records, &[("topic", "t".to_owned())]).expect("encodes");
        let per_tag = bytes.len() as f64 / records.len() as f64;
        // 14.0 B with this format's encodings; the first version's took 16.0.
        assert!(
            per_tag <= 14.5,
            "{per_tag:.2} B a tag over {} tags",
            records.len()
        );
        assert_eq!(decode_file(bytes).expect("decodes"), records);
    }

    #[test]
    fn a_file_gives_back_every_record_exactly() {
        let records = sample();
        let bytes = encode_file(&records, &[("topic", "t".to_owned())]).expect("encodes");
        assert_eq!(decode_file(bytes).expect("decodes"), records);
        assert!(records[0].row.time_text.ends_with(".000Z"));
        assert_eq!(records[1].row.product_id_is_text, 1);
    }
}
