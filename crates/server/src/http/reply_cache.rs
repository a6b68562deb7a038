//! Rendered replies of list queries, reused while nothing they show has changed.
//!
//! Dashboards poll the same pages over and over; answering each poll again costs a database
//! round trip and a serialization of every item, while the answer only changes when a desk does.
//! An entry is keyed by the validated query and stamped with the store's desk generation
//! ([`deskd_domain::store::Store::desk_generation`]), which every desk write of this process
//! bumps: a page is never served after a local write. Writes by another replica sharing the
//! database show within [`REPLY_TTL`], the bound already accepted for cached totals.

use std::marker::PhantomData;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use deskd_domain::error::Error;
use deskd_store::fresh::FreshCache;
use serde::Serialize;

/// How long a reply may be reused when no local write invalidated it.
pub const REPLY_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Entries kept at most; the oldest goes first. Each `put` also drops the expired ones, so the
/// cache holds at most the replies of the last [`REPLY_TTL`] (a page is 20–30 KiB at limit 20).
const MAX_ENTRIES: usize = 1024;

/// Rendered replies by query, the same generation-stamped cache that keeps the store's totals.
pub struct ReplyCache(FreshCache<Bytes>);

impl Default for ReplyCache {
    fn default() -> Self {
        ReplyCache(FreshCache::new(REPLY_TTL, MAX_ENTRIES))
    }
}

impl ReplyCache {
    /// The body rendered for `key` at `generation`, if still fresh.
    pub fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        self.0.get(key, generation)
    }

    /// Keeps `body`, rendered from data read at `generation` (read before the query ran, so a
    /// write that raced the query makes the entry stale at once).
    pub fn put(&self, key: String, generation: u64, body: Bytes) {
        self.0.put(key, generation, body)
    }
}

/// A JSON reply rendered to bytes (so it can be kept and reused), typed by what it holds so
/// its route documents that.
pub struct Rendered<T>(Bytes, PhantomData<T>);

impl<T: Serialize> Rendered<T> {
    /// Renders `value`.
    pub fn render(value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("rendering a reply: {e}")))?;
        Ok(Rendered(Bytes::from(body), PhantomData))
    }
}

impl<T> Rendered<T> {
    /// A reply rendered earlier from a `T`.
    pub fn reuse(body: Bytes) -> Self {
        Rendered(body, PhantomData)
    }

    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

impl<T> IntoResponse for Rendered<T> {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_makes_an_entry_stale() {
        let cache = ReplyCache::default();
        cache.put("q".into(), 7, Bytes::from_static(b"page"));
        assert_eq!(cache.get("q", 7).as_deref(), Some(&b"page"[..]));
        assert_eq!(cache.get("q", 8), None, "a local write since");
        assert_eq!(cache.get("other", 7), None);
    }

    #[test]
    fn a_full_cache_drops_its_oldest() {
        let cache = ReplyCache::default();
        for i in 0..MAX_ENTRIES {
            cache.put(format!("q{i}"), 1, Bytes::new());
        }
        cache.put("last".into(), 1, Bytes::new());
        assert!(cache.get("last", 1).is_some());
        assert!(cache.get("q0", 1).is_none());
    }
}
