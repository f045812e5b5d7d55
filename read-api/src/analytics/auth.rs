//! API keys for the analysts' API and the console (never for the contract's
//! endpoints). Off when no key is configured (the local stack); on in the compose file.
//!
//! A key is accepted as `Authorization: Bearer <key>`, as the password of
//! `Authorization: Basic` (what a browser sends after its login prompt; the user name is
//! ignored) or as `X-Api-Key: <key>`. Keys are compared in constant time. A missing or
//! wrong key gets 401 with a fixed body, the same whichever is the case, and a
//! `WWW-Authenticate: Basic` challenge so a browser asks for it.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use service_kit::metric_names::read_api as names;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The configured keys; none means the API is open.
#[derive(Clone, Default)]
pub(crate) struct ApiKeys(Arc<Vec<Vec<u8>>>);

impl ApiKeys {
    /// Keys from a comma-separated list (blank entries ignored).
    pub(crate) fn from_list(list: &str) -> Self {
        Self(Arc::new(
            list.split(',')
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(|key| key.as_bytes().to_vec())
                .collect(),
        ))
    }

    /// Whether any key is required.
    pub(crate) fn required(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether `presented` is one of the keys (every key is compared, in constant time).
    fn accepts(&self, presented: &[u8]) -> bool {
        self.0.iter().fold(false, |found, key| {
            found | bool::from(key.as_slice().ct_eq(presented))
        })
    }
}

/// The key a request presents, if any.
fn presented_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(key) = headers.get("x-api-key") {
        return Some(key.as_bytes().to_vec());
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = authorization.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.trim().as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()?;
        let split = decoded.iter().position(|byte| *byte == b':')?;
        return Some(decoded[split + 1..].to_vec());
    }
    None
}

/// Lets a request through when no key is required or it presents a good one.
pub(crate) async fn require_key(
    State(keys): State<ApiKeys>,
    request: Request,
    next: Next,
) -> Response {
    if !keys.required() || presented_key(request.headers()).is_some_and(|key| keys.accepts(&key)) {
        return next.run(request).await;
    }
    metrics::counter!(names::UNAUTHORIZED.name).increment(1);
    let mut answer = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error": "unauthorized"})),
    )
        .into_response();
    answer.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Allezon Analytics\", charset=\"UTF-8\""),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
        headers
    }

    #[test]
    fn every_way_of_presenting_a_key_is_read() {
        assert_eq!(
            presented_key(&headers("x-api-key", "k1")),
            Some(b"k1".to_vec())
        );
        assert_eq!(
            presented_key(&headers("authorization", "Bearer k2")),
            Some(b"k2".to_vec())
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:k3");
        assert_eq!(
            presented_key(&headers("authorization", &format!("Basic {basic}"))),
            Some(b"k3".to_vec())
        );
        assert_eq!(presented_key(&headers("authorization", "Digest x")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn only_configured_keys_are_accepted() {
        let keys = ApiKeys::from_list(" alpha, ,beta ");
        assert!(keys.required());
        assert!(keys.accepts(b"alpha") && keys.accepts(b"beta"));
        assert!(!keys.accepts(b"alph") && !keys.accepts(b"") && !keys.accepts(b"alphaa"));
        assert!(!ApiKeys::from_list("").required());
    }
}
