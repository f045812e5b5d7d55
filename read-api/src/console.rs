//! The analysts' web console at `/console`: a page built from `console/` (Vite and
//! TypeScript) into `console/dist`, which is committed and embedded in this binary
//! (rust-embed), so a fresh clone builds without Node.js and the console needs no file
//! and no network at run time. `make console` rebuilds `console/dist`.
//!
//! - `/console` and `/console/` answer the page, `/console/<path>` the file at `path`;
//!   nothing else (the page keeps its state in the query string, never in the path).
//! - Vite names every built file under `assets/` by a hash of its content, so those are
//!   cached for a year (`immutable`); the page itself is `no-cache`: revalidated every
//!   time with its ETag (the file's SHA-256), so a new build shows at once. No
//!   `public`: with API keys on, the answers are for one user's credentials.
//! - The page runs under a Content-Security-Policy that allows only its own files and
//!   same-origin requests: it handles the user's key, and nothing else needs to run.
//! - Behind the same API-key middleware as `/v1/`: with keys on, a browser gets the 401's
//!   Basic challenge, asks for the key once, and sends it with the page's same-origin
//!   requests to `/v1/` too.

use crate::analytics::auth::{require_key, ApiKeys};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::Embed;

/// The built console. In debug builds rust-embed reads the folder at run time (a
/// rebuilt page shows without recompiling); release builds carry the files.
#[derive(Embed)]
#[folder = "../console/dist/"]
struct Assets;

/// The file answered for `/console` and `/console/`.
const INDEX: &str = "index.html";
/// Where Vite puts content-hashed files.
const HASHED_PREFIX: &str = "assets/";
const CACHE_HASHED: &str = "max-age=31536000, immutable";
const CACHE_REVALIDATE: &str = "no-cache";
/// What the page may load and where it may connect: only this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes, behind `keys`.
pub(crate) fn router(keys: ApiKeys) -> Router {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*path}", get(file))
        .layer(axum::middleware::from_fn_with_state(keys, require_key))
}

async fn index(headers: HeaderMap) -> Response {
    serve(INDEX, &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The embedded file at `path` with its type, validator and caching; 304 when the
/// caller's copy is current.
fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = etag(&file.metadata.sha256_hash());
    let cache = if path.starts_with(HASHED_PREFIX) {
        CACHE_HASHED
    } else {
        CACHE_REVALIDATE
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if is_current(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    (StatusCode::OK, headers, file.data.into_owned()).into_response()
}

/// A strong ETag from the file's SHA-256 (the first 16 bytes are plenty to tell builds
/// apart).
fn etag(sha256: &[u8; 32]) -> String {
    let hex: String = sha256[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (weakly, as RFC 9110 says for GET) or is `*`.
fn is_current(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The type of a built file, by its extension (the few a Vite build writes).
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_extensions() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-4f2a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-4f2a.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn if_none_match_is_compared_weakly() {
        let etag = etag(&[0xab; 32]);
        let asked = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(value).expect("header value"),
            );
            is_current(&headers, &etag)
        };
        assert!(asked(&etag));
        assert!(asked(&format!("\"other\", W/{etag}")));
        assert!(asked("*"));
        assert!(!asked("\"other\""));
        assert!(!is_current(&HeaderMap::new(), &etag));
    }

    #[test]
    fn the_built_page_is_embedded() {
        let index = Assets::get(INDEX).expect("console/dist/index.html is built");
        let text = String::from_utf8_lossy(&index.data);
        assert!(text.contains("/console/assets/"), "assets under /console/");
    }
}
