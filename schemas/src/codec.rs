//! Encoding a tag into a Confluent-framed Avro payload and decoding one back,
//! resolving any compatible writer schema into the current reader schema.

use crate::avro::{self, AvroError};
use crate::catalog::{CatalogError, SchemaCatalog};
use crate::tag::UserTag;
use crate::wire::{self, WireError};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not Confluent-framed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The schema id could not be resolved.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The Avro datum is invalid or incompatible.
    #[error(transparent)]
    Avro(#[from] AvroError),
}

impl CodecError {
    /// Whether decoding the same payload again later may succeed (the schema registry
    /// was unreachable): such a payload must be retried, never dead-lettered.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Catalog(error) if error.is_transient())
    }
}

/// Why a record of the tag topic is not a tag (or not yet: see [`Self::is_transient`]).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record has no payload.
    #[error("empty payload")]
    Empty,
    /// The payload does not decode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// It decodes into a tag the read models cannot hold.
    #[error(transparent)]
    Invalid(#[from] crate::tag::TagError),
}

impl RecordError {
    /// Whether reading the same record again later may succeed (the schema registry was
    /// unreachable): such a record must be retried, never set aside.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Codec(error) if error.is_transient())
    }
}

/// Writes tags with the current schema under a fixed schema id.
#[derive(Debug, Clone)]
pub struct TagEncoder {
    schema_id: u32,
}

impl TagEncoder {
    /// An encoder for the current schema, registered in `catalog` under `subject`.
    pub async fn new(catalog: &SchemaCatalog, subject: &str) -> Result<Self, CodecError> {
        let schema_id = catalog.current_schema_id(subject).await?;
        Ok(Self { schema_id })
    }

    /// The schema id written in every payload.
    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }

    /// The framed payload of a tag.
    pub fn encode(&self, tag: &UserTag) -> Result<Vec<u8>, CodecError> {
        let datum = GenericDatumWriter::builder(avro::current_schema())
            .build()
            .and_then(|writer| writer.write_value_to_vec(avro::to_value(tag)))
            .map_err(AvroError::Datum)?;
        Ok(wire::frame(self.schema_id, &datum))
    }
}

/// Reads framed payloads written with any known schema into [`UserTag`]s.
#[derive(Debug)]
pub struct TagDecoder {
    catalog: SchemaCatalog,
    reader: Schema,
    writers: RwLock<HashMap<u32, Arc<Schema>>>,
}

impl TagDecoder {
    /// A decoder resolving into the current schema.
    pub fn new(catalog: SchemaCatalog) -> Self {
        Self::with_reader_schema(catalog, avro::current_schema().clone())
    }

    /// A decoder resolving into `reader` (used to prove compatibility across versions).
    pub fn with_reader_schema(catalog: SchemaCatalog, reader: Schema) -> Self {
        Self {
            catalog,
            reader,
            writers: RwLock::new(HashMap::new()),
        }
    }

    /// Decodes a framed payload, fetching and caching its writer schema on first sight.
    pub async fn decode(&self, payload: &[u8]) -> Result<UserTag, CodecError> {
        let (schema_id, datum) = wire::unframe(payload)?;
        let writer = self.writer_schema(schema_id).await?;
        decode_datum(&writer, &self.reader, datum)
    }

    /// A record's payload as a valid tag, the one rule for every reader of the log:
    /// decoded from any known schema and checked as write-api checks a tag
    /// ([`UserTag::validate`]), since the log may hold records written by anyone.
    pub async fn decode_record(&self, payload: Option<&[u8]>) -> Result<UserTag, RecordError> {
        let payload = payload.ok_or(RecordError::Empty)?;
        let tag = self.decode(payload).await?;
        tag.validate()?;
        Ok(tag)
    }

    async fn writer_schema(&self, schema_id: u32) -> Result<Arc<Schema>, CodecError> {
        if let Some(schema) = self.cached(schema_id) {
            return Ok(schema);
        }
        let schema = Arc::new(self.catalog.schema_by_id(schema_id).await?);
        if let Ok(mut writers) = self.writers.write() {
            writers.insert(schema_id, Arc::clone(&schema));
        }
        Ok(schema)
    }

    fn cached(&self, schema_id: u32) -> Option<Arc<Schema>> {
        self.writers.read().ok()?.get(&schema_id).cloned()
    }
}

/// Decodes an Avro datum written with `writer` into a tag, resolving it into `reader`
/// (Avro schema resolution: fields the reader lacks are skipped, fields the writer
/// lacks take the reader's defaults).
pub fn decode_datum(
    writer: &Schema,
    reader: &Schema,
    mut datum: &[u8],
) -> Result<UserTag, CodecError> {
    let value = GenericDatumReader::builder(writer)
        .reader_schema(reader)
        .build()
        .and_then(|datum_reader| datum_reader.read_value(&mut datum))
        .map_err(AvroError::Datum)?;
    Ok(avro::from_value(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::UserTag;

    fn tag() -> UserTag {
        UserTag::from_json(
            br#"{"time":"2026-03-01T12:00:00.123Z","cookie":"c1","country":"CL","device":"MOBILE","action":"VIEW",
                "origin":"CAMPAIGN_1","product_info":{"product_id":"p-7","brand_id":"b","category_id":"c","price":-5}}"#,
        )
        .expect("valid tag")
    }

    #[tokio::test]
    async fn bundled_round_trip_gives_back_the_same_tag() {
        let encoder = TagEncoder::new(&SchemaCatalog::Bundled, "user-tags-value")
            .await
            .expect("encoder");
        let payload = encoder.encode(&tag()).expect("encodes");
        assert_eq!(payload[0], 0);
        assert_eq!(
            u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]),
            encoder.schema_id()
        );
        let decoder = TagDecoder::new(SchemaCatalog::Bundled);
        assert_eq!(decoder.decode(&payload).await.expect("decodes"), tag());
    }

    #[tokio::test]
    async fn unknown_ids_and_garbage_are_errors_not_panics() {
        let decoder = TagDecoder::new(SchemaCatalog::Bundled);
        assert!(matches!(
            decoder.decode(&[0, 0, 0, 0, 99, 1]).await,
            Err(CodecError::Catalog(_))
        ));
        assert!(matches!(
            decoder.decode(&[0, 0, 0, 0, 1, 0xff]).await,
            Err(CodecError::Avro(_))
        ));
        assert!(matches!(
            decoder.decode(b"{}").await,
            Err(CodecError::Wire(_))
        ));
    }
}
