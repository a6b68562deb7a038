//! Handlers of the token endpoint and token revocation (DECISIONS D1).

use axum::extract::State;
use axum::{Extension, Json};
use deskd_domain::auth::{hash_password, new_token, transport_password, verify_password};
use deskd_domain::error::Error;
use deskd_domain::model::now_ms;
use deskd_domain::store::TokenRecord;
use deskd_wire::envelope::{Empty, Reply};
use deskd_wire::token::{TokenData, TokenRequest};

use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::extract::{Content, OptionalContent};
use crate::http::throttle::ClientAddr;
use crate::AppState;

/// `POST /v1/auth/token`: account name and password (plaintext or AES) → a 30-minute token.
/// Failed tries are throttled per client address, then per account ([`crate::http::throttle`]).
pub async fn issue_token(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Content(body): Content<TokenRequest>,
) -> ApiResult<Json<Reply<TokenData>>> {
    let name = body.user_name.trim();
    let attempt = app.throttles.login(addr, &format!("api:{name}"))?;
    let keys = crate::keys::valid(app.store.as_ref()).await?;
    let password = transport_password(&body.password, &keys);
    let account = app.store.account_by_name(name).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = app
        .throttles
        .hash(move || match stored {
            Some(h) => verify_password(&password, &h),
            None => {
                // Same work for unknown names, so timing does not reveal which accounts exist.
                let _ = hash_password(&password);
                false
            }
        })
        .await?;
    let account = match account {
        Some(a) if matches && !a.disabled => {
            attempt.succeeded();
            a
        }
        _ => {
            let wrong = Error::Unauthenticated(
                "wrong user name or password, or the account is disabled".into(),
            );
            return Err(attempt.failed().unwrap_or(wrong).into());
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
