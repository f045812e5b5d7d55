//! The Confluent wire format: magic byte `0`, the schema id as a big-endian u32,
//! then the Avro binary datum.

/// Why a payload is not a Confluent-framed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer than the five header bytes.
    #[error("payload of {0} bytes is shorter than the 5-byte header")]
    TooShort(usize),
    /// The first byte is not the magic byte 0.
    #[error("unknown magic byte {0}")]
    BadMagic(u8),
}

const MAGIC: u8 = 0;
const HEADER_LEN: usize = 5;

/// Frames an Avro datum written with schema `schema_id`.
pub fn frame(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(HEADER_LEN + datum.len());
    payload.push(MAGIC);
    payload.extend_from_slice(&schema_id.to_be_bytes());
    payload.extend_from_slice(datum);
    payload
}

/// Splits a framed payload into its schema id and datum.
pub fn unframe(payload: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if payload.len() < HEADER_LEN {
        return Err(WireError::TooShort(payload.len()));
    }
    if payload[0] != MAGIC {
        return Err(WireError::BadMagic(payload[0]));
    }
    let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    Ok((id, &payload[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_headers_are_refused() {
        let payload = frame(258, b"datum");
        assert_eq!(&payload[..5], &[0, 0, 0, 1, 2]);
        assert_eq!(unframe(&payload), Ok((258, &b"datum"[..])));
        assert_eq!(unframe(&[0, 0]), Err(WireError::TooShort(2)));
        assert_eq!(unframe(&[1, 0, 0, 0, 1]), Err(WireError::BadMagic(1)));
    }
}
