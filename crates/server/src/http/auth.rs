//! Authentication of API callers (DECISIONS D1): the token endpoint, the Bearer middleware on
//! every other `/v1` route, and token revocation.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use deskd_domain::auth::{
    hash_password, new_token, token_hash, transport_password, verify_password,
};
use deskd_domain::error::Error;
use deskd_domain::model::now_ms;
use deskd_domain::store::TokenRecord;
use deskd_wire::envelope::{Empty, Reply};
use deskd_wire::token::{TokenData, TokenRequest};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Content, OptionalContent};
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
    fn get(&self, hash: &str) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, until)| *until > std::time::Instant::now())
            .map(|(a, _)| a.clone())
    }

    /// Trusts `hash` for the TTL, never beyond the token's own expiry (`expires_in_ms` from now).
    fn put(&self, hash: &str, account: &str, expires_in_ms: i64) {
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

    fn forget(&self, hash: &str) {
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

/// `POST /v1/auth/token`: account name and password (plaintext or AES) → a 30-minute token.
pub async fn issue_token(
    State(app): State<AppState>,
    Content(body): Content<TokenRequest>,
) -> ApiResult<Json<Reply<TokenData>>> {
    let keys = crate::keys::valid(app.store.as_ref()).await?;
    let password = transport_password(&body.password, &keys);
    let account = app.store.account_by_name(body.user_name.trim()).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(h) => verify_password(&password, &h),
        None => {
            // Same work for unknown names, so timing does not reveal which accounts exist.
            let _ = hash_password(&password);
            false
        }
    })
    .await
    .map_err(Error::internal)?;
    let account = match account {
        Some(a) if matches && !a.disabled => a,
        _ => {
            return Err(Error::Unauthenticated(
                "wrong user name or password, or the account is disabled".into(),
            )
            .into())
        }
    };
    let (token, hash) = new_token();
    let now = now_ms();
    let ttl_ms = app.cfg.token_ttl.as_millis() as i64;
    app.store
        .insert_token(&TokenRecord {
            token_hash: hash,
            account_id: account.id,
            created_at: now,
            expires_at: now + ttl_ms,
        })
        .await?;
    tracing::info!(account = %account.name, "issued token");
    Ok(Json(Reply::data(TokenData {
        token,
        token_type: "Bearer".into(),
        expires_in: ttl_ms / 1000,
        expire_time: now + ttl_ms,
    })))
}

/// `POST /v1/auth/token:revoke`: ends the caller's token.
pub async fn revoke_token(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    OptionalContent(_): OptionalContent<Empty>,
) -> ApiResult<Json<Reply<()>>> {
    app.store.revoke_token(&caller.token_hash).await?;
    app.tokens.forget(&caller.token_hash);
    tracing::info!(account = %caller.account, "revoked token");
    Ok(Json(Reply::empty()))
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
