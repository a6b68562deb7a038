//! API accounts and their tokens (D1).

use async_trait::async_trait;
use deskd_domain::error::{Missing, Result};
use deskd_domain::model::Account;
use deskd_domain::store::{AuthStore, TokenRecord};
use sqlx::any::AnyRow;

use crate::args;
use crate::db::{begin, db_err, exec, insert, row, rows, taken, Arg, Col};
use crate::SqlStore;

const ACCOUNT_COLS: &str = "a.id, a.name, a.password_hash, a.disabled, a.created_at";

fn account_row(r: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: r.text("id")?,
        name: r.text("name")?,
        password_hash: r.text("password_hash")?,
        disabled: r.flag("disabled")?,
        created_at: r.int("created_at")?,
    })
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn create_account(&self, a: &Account) -> Result<()> {
        let values = vec![
            ("id", a.id.as_str().into()),
            ("name", a.name.as_str().into()),
            ("password_hash", a.password_hash.as_str().into()),
            ("disabled", a.disabled.into()),
            ("created_at", a.created_at.into()),
        ];
        insert(&self.pool, self.backend, "api_accounts", values)
            .await
            .map_err(taken(Missing::Account, &a.name))
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM api_accounts a WHERE a.name = ?");
        row(&self.read, self.backend, &sql, args![name])
            .await?
            .map(|r| account_row(&r))
            .transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let sql =
            format!("SELECT {ACCOUNT_COLS} FROM api_accounts a ORDER BY a.created_at, a.name");
        rows(&self.read, self.backend, &sql, vec![])
            .await?
            .iter()
            .map(account_row)
            .collect()
    }

    async fn set_account_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        self.update_account_and_revoke(
            name,
            "UPDATE api_accounts SET disabled = ? WHERE name = ?",
            args![disabled, name],
        )
        .await
    }

    async fn set_account_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        self.update_account_and_revoke(
            name,
            "UPDATE api_accounts SET password_hash = ? WHERE name = ?",
            args![password_hash, name],
        )
        .await
    }

    async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "INSERT INTO api_tokens (token_hash, account_id, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, 0)",
            args![&t.token_hash, &t.account_id, t.created_at, t.expires_at],
        )
        .await
        .map(drop)
    }

    async fn token_account(&self, token_hash: &str, now: i64) -> Result<Option<(Account, i64)>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLS}, t.expires_at AS t_expires_at FROM api_tokens t \
             JOIN api_accounts a ON a.id = t.account_id \
             WHERE t.token_hash = ? AND t.revoked = 0 AND t.expires_at > ? AND a.disabled = 0"
        );
        let found = row(&self.read, self.backend, &sql, args![token_hash, now]).await?;
        found
            .map(|r| Ok((account_row(&r)?, r.int("t_expires_at")?)))
            .transpose()
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "UPDATE api_tokens SET revoked = 1 WHERE token_hash = ?",
            args![token_hash],
        )
        .await
        .map(drop)
    }
}

impl SqlStore {
    /// Runs an account update and revokes the account's tokens in one transaction.
    async fn update_account_and_revoke(&self, name: &str, sql: &str, a: Vec<Arg>) -> Result<bool> {
        let mut tx = begin(&self.pool).await?;
        if exec(&mut *tx, self.backend, sql, a).await? == 0 {
            return Ok(false);
        }
        exec(
            &mut *tx,
            self.backend,
            "UPDATE api_tokens SET revoked = 1 WHERE account_id = (SELECT id FROM api_accounts WHERE name = ?)",
            args![name],
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
