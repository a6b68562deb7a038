//! User groups (chapter 6.2).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::GroupId;
use crate::model::{GroupRow, UserGroup};

#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Every group with its direct user count, oldest first.
    async fn list_groups(&self) -> Result<Vec<GroupRow>>;
    async fn group_by_id(&self, id: &GroupId) -> Result<Option<UserGroup>>;
    /// Inserts one group; `AlreadyExists` when its path exists, `NotFound` when the parent is
    /// missing.
    async fn create_group(&self, group: &UserGroup) -> Result<()>;
}
