//! Settings: small named values.

use async_trait::async_trait;
use deskd_domain::error::Result;
use deskd_domain::model::now_ms;
use deskd_domain::store::SettingStore;

use crate::args;
use crate::db::{exec, row, Col};
use crate::SqlStore;

#[async_trait]
impl SettingStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM settings WHERE key = ?";
        let r = row(&self.read, self.backend, sql, args![key]).await?;
        r.map(|r| r.text("value")).transpose()
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        exec(
            &self.pool,
            self.backend,
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            args![key, value, now_ms()],
        )
        .await
        .map(drop)
    }
}
