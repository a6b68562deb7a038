//! The web console and desktop-user portal (issue 20): the files Vite builds into `web/dist`,
//! compiled into the binary, so `deskd serve` needs no Node and no outside address at run time.
//!
//! `GET /` is the single page (never cached: it names the current hashed bundles); everything
//! under `/assets/` has a content hash in its name and is cached for a year. Every answer
//! carries a Content-Security-Policy that allows this origin only (the console websocket
//! included), so a page cannot load or send anything elsewhere.
//!
//! Bodies are brotli- or gzip-encoded when the browser accepts it (tower-http's compression
//! layer negotiates `Accept-Encoding`, adds `Vary` and keeps the cache headers): the first
//! screen is about a third of its raw size on the wire.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The built front end (`web/dist`, committed; `cd web && npm ci && npm run build` rebuilds it).
#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

/// Where the single page is served.
pub const INDEX: &str = "/";
/// Hashed names: safe to cache until the hash changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Brotli 5 (gzip 5 for browsers without brotli): tower-http's default brotli 4 came out 2–3 %
/// larger than gzip on these bundles, 5 is about 6 % smaller for about the same time.
const QUALITY: i32 = 5;
/// The page itself names the bundles, so browsers revalidate it every time.
const REVALIDATE: &str = "no-cache";
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; \
style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'; form-action 'self'";

/// The routes of the web front end, merged beside the API's.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(INDEX, get(|| async { file("index.html", REVALIDATE) }))
        .route(
            "/assets/{*file}",
            get(|Path(f): Path<String>| async move { file(&format!("assets/{f}"), IMMUTABLE) }),
        )
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .quality(CompressionLevel::Precise(QUALITY)),
        )
}

/// One embedded file with its type and caching, or 404.
fn file(path: &str, cache: &'static str) -> Response {
    let Some(f) = Dist::get(path) else {
        return (StatusCode::NOT_FOUND, "no such file in the web console\n").into_response();
    };
    let mut h = HeaderMap::new();
    let mime = f.metadata.mimetype();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(CONTENT_TYPE, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    (h, f.data.into_owned()).into_response()
}

/// Every embedded file's path and size, for the measurements in ARCHITECTURE.md and tests.
pub fn files() -> Vec<(String, usize)> {
    Dist::iter()
        .filter_map(|p| Dist::get(&p).map(|f| (p.to_string(), f.data.len())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_hashed_bundles_are_embedded() {
        let files = files();
        assert!(files.iter().any(|(p, _)| p == "index.html"));
        let index = Dist::get("index.html").expect("index.html");
        let html = String::from_utf8_lossy(&index.data);
        for (p, _) in files.iter().filter(|(p, _)| p.starts_with("assets/")) {
            let name = p.rsplit('/').next().unwrap_or_default();
            assert!(name.contains('-'), "{p} carries no content hash");
        }
        assert!(html.contains("/assets/"), "index.html names no bundle");
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
