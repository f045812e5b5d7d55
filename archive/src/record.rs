//! One archived record of the tag topic, and what kind it is.
//!
//! Every record of a range is archived, not only the tags: a sender's retry (the rule of
//! `schemas::retries`, which the projector skips) and a record that is not a tag (which
//! the projector dead-letters) have their row too. So a file's rows are exactly its
//! offsets, and "nothing lost, nothing doubled" is checkable from the file alone;
//! readers that want the facts read the rows of kind [`RecordKind::Tag`], which are
//! exactly the rows the projector inserts.

use read_model::UserTagRow;

/// What a record of the tag topic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A tag: projected, counted.
    Tag,
    /// A sender's retry of a tag already in the log (same payload within the retry
    /// window): not counted again. Its fields are the tag's.
    SenderRetry,
    /// Not a tag (undecodable, or a tag the read models cannot hold): kept as its
    /// payload, never projected.
    NotATag,
}

impl RecordKind {
    /// The stored code (the `kind` column): 0, 1, 2.
    pub const fn code(self) -> i8 {
        match self {
            Self::Tag => 0,
            Self::SenderRetry => 1,
            Self::NotATag => 2,
        }
    }

    /// The kind a stored code stands for.
    pub const fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(Self::Tag),
            1 => Some(Self::SenderRetry),
            2 => Some(Self::NotATag),
            _ => None,
        }
    }
}

/// One record as archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedRecord {
    /// The broker's timestamp of the record, ms since the epoch (0 when it had none).
    pub record_time_ms: i64,
    /// What it is.
    pub kind: RecordKind,
    /// Its position (`kafka_partition`, `kafka_offset`) and, for a tag or a retry, the
    /// tag's columns exactly as the projector writes them into `user_tags`; for a record
    /// that is not a tag, empty columns.
    pub row: UserTagRow,
    /// The raw payload of a record that is not a tag (`None` for the others, which the
    /// row holds whole).
    pub payload: Option<Vec<u8>>,
}

impl ArchivedRecord {
    /// A record that is not a tag, at `partition`/`offset`.
    pub fn not_a_tag(partition: i32, offset: i64, record_time_ms: i64, payload: &[u8]) -> Self {
        Self {
            record_time_ms,
            kind: RecordKind::NotATag,
            row: UserTagRow {
                cookie: String::new(),
                action: 0,
                time_ms: 0,
                time_text: String::new(),
                country: String::new(),
                device: 0,
                origin: String::new(),
                product_id: String::new(),
                product_id_is_text: 0,
                brand_id: String::new(),
                category_id: String::new(),
                price: 0,
                kafka_partition: partition,
                kafka_offset: offset,
                batch_ingested_in: 0,
            },
            payload: Some(payload.to_vec()),
        }
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.row.kafka_partition
    }

    /// The offset.
    pub fn offset(&self) -> i64 {
        self.row.kafka_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in [
            RecordKind::Tag,
            RecordKind::SenderRetry,
            RecordKind::NotATag,
        ] {
            assert_eq!(RecordKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(RecordKind::from_code(3), None);
    }
}
