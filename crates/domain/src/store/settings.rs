//! Small named values (transport keys, node identity, feature switches) and what the database is.

use async_trait::async_trait;

use crate::error::Result;

#[async_trait]
pub trait SettingStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
}
