//! A tag's `time` as the sender wrote it: the instant, and the text itself when it is
//! not the canonical form, so that a profile gives back byte for byte what was sent
//! (`2026-03-01T12:00:00.000Z` stays so, although it is the instant
//! `2026-03-01T12:00:00Z`). Only the uncommon form travels and is stored: the log and
//! the profile store hold an empty text for the canonical one.

use crate::event_time::{EventTime, TimeError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// A tag's time: its instant, and its text when that differs from
/// [`EventTime::to_instant_string`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagTime {
    instant: EventTime,
    sent: Option<String>,
}

impl TagTime {
    /// Bytes its text as sent holds on the heap (none in the canonical form).
    pub fn heap_bytes(&self) -> usize {
        self.sent.as_ref().map_or(0, String::capacity)
    }

    /// Parses a tag's `time` (see [`EventTime::parse_instant`]), keeping its text when
    /// it is not the canonical form.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        Ok(Self::with_text(EventTime::parse_instant(text)?, text))
    }

    /// The time `instant` written as `text` (as stored: an empty text, or the canonical
    /// one, is the canonical form). The caller vouches that `text` denotes `instant`.
    pub fn with_text(instant: EventTime, text: &str) -> Self {
        let sent =
            (!text.is_empty() && text != instant.to_instant_string()).then(|| text.to_owned());
        Self { instant, sent }
    }

    /// The instant.
    pub const fn instant(&self) -> EventTime {
        self.instant
    }

    /// Milliseconds since the epoch.
    pub const fn millis(&self) -> i64 {
        self.instant.millis()
    }

    /// The text as sent when it is not the canonical form; `None` for the canonical one.
    pub fn sent_text(&self) -> Option<&str> {
        self.sent.as_deref()
    }

    /// The text a profile gives back: as sent.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.sent {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(self.instant.to_instant_string()),
        }
    }
}

impl From<EventTime> for TagTime {
    fn from(instant: EventTime) -> Self {
        Self {
            instant,
            sent: None,
        }
    }
}

impl Serialize for TagTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for TagTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valid_form_comes_back_as_sent() {
        for text in [
            "2026-03-01T12:00:00Z",
            "2026-03-01T12:00:00.000Z",
            "2026-03-01T12:00:00.100Z",
            "2026-03-01T12:00:00.1Z",
            "2026-03-01T12:00:00.123Z",
            "2026-03-01T12:00:00.123000Z",
        ] {
            let time = TagTime::parse(text).expect(text);
            assert_eq!(time.text(), text);
            let json = serde_json::to_string(&time).expect("serializes");
            assert_eq!(json, format!("\"{text}\""));
            let back: TagTime = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, time);
        }
    }

    #[test]
    fn only_an_uncommon_form_is_kept_as_text() {
        assert_eq!(
            TagTime::parse("2026-03-01T12:00:00Z")
                .expect("valid")
                .sent_text(),
            None
        );
        assert_eq!(
            TagTime::parse("2026-03-01T12:00:00.120Z")
                .expect("valid")
                .sent_text(),
            None
        );
        let zero = TagTime::parse("2026-03-01T12:00:00.000Z").expect("valid");
        assert_eq!(zero.sent_text(), Some("2026-03-01T12:00:00.000Z"));
        assert_eq!(
            zero.instant(),
            EventTime::parse_instant("2026-03-01T12:00:00Z").expect("valid")
        );
        assert_eq!(
            TagTime::with_text(zero.instant(), ""),
            TagTime::from(zero.instant())
        );
    }
}
