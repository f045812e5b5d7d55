//! Typed extractors: a request is parsed into the contract's typed query
//! ([`schemas::contract`]) before any handler runs, and every way it can be malformed
//! becomes a 400 naming the parameter at fault.

use crate::contract::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use schemas::contract::{AggregatesQuery, InvalidParameter, ProfileQuery};

/// `POST /user_profiles/{cookie}?time_range=..&limit=..`, parsed.
#[derive(Debug)]
pub(crate) struct ProfileRequest(pub ProfileQuery);

impl<S: Send + Sync> FromRequestParts<S> for ProfileRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(cookie) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| InvalidParameter::new("cookie", "expected a UTF-8 path segment"))?;
        let pairs = query_pairs(parts, state).await?;
        Ok(Self(ProfileQuery::parse(cookie, &pairs)?))
    }
}

/// `POST /aggregates?...`, parsed.
#[derive(Debug)]
pub(crate) struct AggregatesRequest(pub AggregatesQuery);

impl<S: Send + Sync> FromRequestParts<S> for AggregatesRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let pairs = query_pairs(parts, state).await?;
        Ok(Self(AggregatesQuery::parse(&pairs)?))
    }
}

async fn query_pairs<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Vec<(String, String)>, InvalidParameter> {
    Query::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map(|Query(pairs)| pairs)
        .map_err(|_| InvalidParameter::new("query", "unreadable query string"))
}

/// The answer the caller expects, when the body carries one (debug mode): the body as
/// it came, unless empty or blank. It is parsed only when compared
/// ([`crate::contract::debug_mode`]), and it never makes a request fail.
#[derive(Debug)]
pub(crate) struct ExpectedAnswer(pub Option<Bytes>);

impl<S: Send + Sync> FromRequest<S> for ExpectedAnswer {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected = match Bytes::from_request(request, state).await {
            Ok(body) if !body.iter().all(u8::is_ascii_whitespace) => Some(body),
            _ => None,
        };
        Ok(Self(expected))
    }
}
