//! API accounts and their tokens (D1).

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Account;

/// A stored token: only the hash of the secret is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub account_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    /// Fails with `AlreadyExists` when the name is taken.
    async fn create_account(&self, account: &Account) -> Result<()>;
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Disables or enables; disabling revokes every token. False when the account is unknown.
    async fn set_account_disabled(&self, name: &str, disabled: bool) -> Result<bool>;
    /// Replaces the password hash and revokes every token. False when the account is unknown.
    async fn set_account_password(&self, name: &str, password_hash: &str) -> Result<bool>;
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// The enabled account a live (unexpired, unrevoked) token belongs to, and when the token
    /// expires.
    async fn token_account(&self, token_hash: &str, now: i64) -> Result<Option<(Account, i64)>>;
    async fn revoke_token(&self, token_hash: &str) -> Result<()>;
}
