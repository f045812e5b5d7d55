//! `POST /user_profiles/{cookie}?time_range=..[&limit=..]`: a shopper's newest views and
//! buys in a millisecond range. The query as read from a request and written into a
//! URL, and the answer `{"cookie", "views", "buys"}` as sent and as parsed.

use super::parameter::{required, single, InvalidParameter};
use super::time_range::TimeRange;
use crate::UserTag;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use url::Url;

/// The `limit` of a user profile when the query gives none.
pub const DEFAULT_PROFILE_LIMIT: u64 = 200;

/// A user-profile query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileQuery {
    /// The shopper (the path segment).
    pub cookie: String,
    /// Tags with event time in this range.
    pub time_range: TimeRange,
    /// `limit` as given; none for the default.
    pub limit: Option<u64>,
}

impl ProfileQuery {
    /// Reads the query of a request for `cookie`: `time_range` and the optional `limit`.
    pub fn parse(cookie: String, pairs: &[(String, String)]) -> Result<Self, InvalidParameter> {
        let time_range = TimeRange::parse(required(pairs, "time_range")?)?;
        let limit = single(pairs, "limit")?.map(parse_limit).transpose()?;
        Ok(Self {
            cookie,
            time_range,
            limit,
        })
    }

    /// At most this many tags per action.
    pub fn limit(&self) -> u64 {
        self.limit.unwrap_or(DEFAULT_PROFILE_LIMIT)
    }

    /// The request URL under `base` (built with `url`'s encoders, never by pasting).
    pub fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("user_profiles")
                .push(&self.cookie);
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("time_range", &self.time_range.to_millis_parameter());
            if let Some(limit) = self.limit {
                pairs.append_pair("limit", &limit.to_string());
            }
        }
        url
    }
}

fn parse_limit(text: &str) -> Result<u64, InvalidParameter> {
    let invalid = || InvalidParameter::new("limit", "expected a non-negative integer");
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// A profile answer: `{"cookie": ..., "views": [...], "buys": [...]}`, lists newest
/// first, the tags exactly as they were sent. The service serializes one borrowing its
/// tags; clients parse one (strictly: unknown fields refused, tags through the
/// contract's own model, so tag times compare as instants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileAnswer<'a> {
    /// The shopper asked about.
    pub cookie: Cow<'a, str>,
    /// VIEW tags in range, newest first.
    pub views: Cow<'a, [UserTag]>,
    /// BUY tags in range, newest first.
    pub buys: Cow<'a, [UserTag]>,
}

impl<'a> ProfileAnswer<'a> {
    /// The answer for `cookie` borrowing its lists.
    pub fn borrowed(cookie: &'a str, views: &'a [UserTag], buys: &'a [UserTag]) -> Self {
        Self {
            cookie: Cow::Borrowed(cookie),
            views: Cow::Borrowed(views),
            buys: Cow::Borrowed(buys),
        }
    }
}

impl ProfileAnswer<'_> {
    /// Whether `other` says the same: the same shopper and the same tags in the same
    /// order, tag times compared as instants ([`UserTag::same_as`]).
    pub fn same_as(&self, other: &ProfileAnswer<'_>) -> bool {
        let same_tags = |ours: &[UserTag], theirs: &[UserTag]| {
            ours.len() == theirs.len() && ours.iter().zip(theirs).all(|(a, b)| a.same_as(b))
        };
        self.cookie == other.cookie
            && same_tags(&self.views, &other.views)
            && same_tags(&self.buys, &other.buys)
    }
}

impl ProfileAnswer<'static> {
    /// The answer for `cookie` owning its lists.
    pub fn owned(cookie: String, views: Vec<UserTag>, buys: Vec<UserTag>) -> Self {
        Self {
            cookie: Cow::Owned(cookie),
            views: Cow::Owned(views),
            buys: Cow::Owned(buys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parameter::pairs;
    use super::*;
    use crate::EventTime;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:8000").expect("valid URL")
    }

    #[test]
    fn a_profile_query_defaults_its_limit() {
        let query = ProfileQuery::parse(
            "c".to_owned(),
            &pairs(&[(
                "time_range",
                "2026-03-01T12:00:00.000_2026-03-01T12:00:00.001",
            )]),
        )
        .expect("valid");
        assert_eq!(query.limit, None);
        assert_eq!(query.limit(), DEFAULT_PROFILE_LIMIT);
        assert_eq!(
            query.time_range.to().millis() - query.time_range.from().millis(),
            1
        );
    }

    #[test]
    fn limits_are_plain_non_negative_integers() {
        assert_eq!(parse_limit("0"), Ok(0));
        assert_eq!(parse_limit("250"), Ok(250));
        for bad in ["", "-1", "+1", "1.5", "ten", "99999999999999999999999"] {
            assert_eq!(
                parse_limit(bad).map_err(|error| error.parameter),
                Err("limit")
            );
        }
    }

    #[test]
    fn profile_urls_encode_the_cookie_and_the_range() {
        let query = ProfileQuery {
            cookie: "a b/c".to_owned(),
            time_range: TimeRange::new(
                EventTime::from_millis(1_772_323_200_000),
                EventTime::from_millis(1_772_323_200_250),
            )
            .expect("ordered"),
            limit: Some(5),
        };
        let url = query.url(&base());
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8000/user_profiles/a%20b%2Fc?time_range=2026-03-01T00%3A00%3A00.000_2026-03-01T00%3A00%3A00.250&limit=5"
        );
        let read: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(ProfileQuery::parse(query.cookie.clone(), &read), Ok(query));
    }

    #[test]
    fn answers_serialize_as_the_contract_shapes_them_and_parse_back() {
        let tag = crate::UserTag::from_json(
            br#"{"time":"2026-03-01T12:00:02Z","cookie":"c","country":"PL","device":"PC","action":"VIEW","origin":"o","product_info":{"product_id":12486,"brand_id":"b","category_id":"k","price":10}}"#,
        )
        .expect("valid tag");
        let views = [tag];
        let answer = ProfileAnswer::borrowed("c", &views, &[]);
        let json = serde_json::to_string(&answer).expect("serializable");
        assert!(json.starts_with(r#"{"cookie":"c","views":[{"time":"2026-03-01T12:00:02Z","#));
        assert!(json.ends_with(r#""buys":[]}"#));
        let parsed: ProfileAnswer<'static> = serde_json::from_str(&json).expect("parses back");
        assert_eq!(parsed, answer);
        assert!(serde_json::from_str::<ProfileAnswer<'static>>(
            r#"{"cookie":"c","views":[],"buys":[],"more":1}"#
        )
        .is_err());
    }

    #[test]
    fn answers_are_the_same_when_their_tags_are_the_same_instants() {
        let tag = |time: &str, price: u32| {
            crate::UserTag::from_json(format!(
                r#"{{"time":"{time}","cookie":"c","country":"PL","device":"PC","action":"VIEW","origin":"o","product_info":{{"product_id":1,"brand_id":"b","category_id":"k","price":{price}}}}}"#
            ).as_bytes())
            .expect("valid tag")
        };
        let ours = [
            tag("2026-03-01T12:00:02Z", 10),
            tag("2026-03-01T12:00:01Z", 10),
        ];
        let answer = ProfileAnswer::borrowed("c", &ours, &[]);
        let written_otherwise = [
            tag("2026-03-01T12:00:02.000Z", 10),
            tag("2026-03-01T12:00:01.000Z", 10),
        ];
        assert!(answer.same_as(&ProfileAnswer::borrowed("c", &written_otherwise, &[])));
        let a_millisecond_later = [
            tag("2026-03-01T12:00:02.001Z", 10),
            tag("2026-03-01T12:00:01Z", 10),
        ];
        assert!(!answer.same_as(&ProfileAnswer::borrowed("c", &a_millisecond_later, &[])));
        let another_price = [
            tag("2026-03-01T12:00:02Z", 10),
            tag("2026-03-01T12:00:01Z", 11),
        ];
        assert!(!answer.same_as(&ProfileAnswer::borrowed("c", &another_price, &[])));
        assert!(!answer.same_as(&ProfileAnswer::borrowed("c", &ours[..1], &[])));
        assert!(!answer.same_as(&ProfileAnswer::borrowed("c", &[], &ours)));
        assert!(!answer.same_as(&ProfileAnswer::borrowed("d", &ours, &[])));
    }
}
