//! Authentication of API callers (DECISIONS D1): the Bearer middleware on every `/v1` route
//! but the token endpoint, the cache of checked tokens, and the scrapers' access to metrics.
//! Issuing and revoking tokens is the [`crate::accounts`] slice.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use deskd_domain::auth::token_hash;
use deskd_domain::error::Error;
use deskd_domain::model::now_ms;

use super::error::ApiError;
use crate::AppState;

/// The authenticated caller, put into request extensions by [`require_token`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub token_hash: String,
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// How long a checked token is trusted without asking the store again. A token revoked here is
/// dropped at once; a revocation on another replica (or an account disabled there) takes at
/// most this long to reach this one.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// Token hash → (account name, trusted until).
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>,
}

impl TokenCache {
    pub(crate) fn get(&self, hash: &str) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, until)| *until > std::time::Instant::now())
            .map(|(a, _)| a.clone())
    }

    /// Trusts `hash` for the TTL, never beyond the token's own expiry (`expires_in_ms` from now).
    pub(crate) fn put(&self, hash: &str, account: &str, expires_in_ms: i64) {
        let ttl =
            TOKEN_CACHE_TTL.min(std::time::Duration::from_millis(expires_in_ms.max(0) as u64));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= TOKEN_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(
            hash.to_string(),
            (account.to_string(), std::time::Instant::now() + ttl),
        );
    }

    pub(crate) fn forget(&self, hash: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }
}

/// Lets a request through only with a live token of an enabled account.
pub async fn require_token(
    State(app): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(token) = bearer(&req) else {
        return Err(Error::Unauthenticated(
            "missing Bearer token in the Authorization header".into(),
        )
        .into());
    };
    let hash = token_hash(token);
    let account = match app.tokens.get(&hash) {
        Some(account) => account,
        None => {
            let now = now_ms();
            let (account, expires_at) =
                app.store.token_account(&hash, now).await?.ok_or_else(|| {
                    Error::Unauthenticated("the token is unknown, expired or revoked".into())
                })?;
            app.tokens.put(&hash, &account.name, expires_at - now);
            account.name
        }
    };
    app.throttles.check_token(&hash, &account)?;
    req.extensions_mut().insert(Caller {
        account,
        token_hash: hash,
    });
    Ok(next.run(req).await)
}

/// `/metrics` and the Prometheus read API: open to peers in `metrics_open_to` and to the
/// `metrics_token`, otherwise [`require_token`]. Writes (`/api/v1/import/…`, `/api/v1/write`,
/// `/-/reload`) always need an API token.
pub async fn metrics_access(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if is_metrics_read(req.method(), req.uri().path()) {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if peer.is_some_and(|ip| app.cfg.metrics_open_to.iter().any(|n| n.contains(ip))) {
            return Ok(next.run(req).await);
        }
        if let (Some(want), Some(got)) = (&app.cfg.metrics_token, bearer(&req)) {
            if constant_time_eq(want.as_bytes(), got.as_bytes()) {
                return Ok(next.run(req).await);
            }
        }
    }
    require_token(State(app), req, next).await
}

fn is_metrics_read(method: &axum::http::Method, path: &str) -> bool {
    let read = path == "/metrics"
        || (path.starts_with("/api/v1/")
            && !path.starts_with("/api/v1/import/")
            && path != "/api/v1/write");
    read && (method == axum::http::Method::GET || method == axum::http::Method::POST)
}

/// Compares without stopping at the first difference (the length still shows).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_are_opened_to_scrapers() {
        let get = axum::http::Method::GET;
        assert!(is_metrics_read(&get, "/metrics"));
        assert!(is_metrics_read(&get, "/api/v1/query"));
        assert!(is_metrics_read(&axum::http::Method::POST, "/api/v1/query"));
        assert!(!is_metrics_read(
            &axum::http::Method::POST,
            "/api/v1/import/prometheus"
        ));
        assert!(!is_metrics_read(&axum::http::Method::POST, "/api/v1/write"));
        assert!(!is_metrics_read(&axum::http::Method::POST, "/-/reload"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
