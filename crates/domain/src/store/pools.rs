//! Storage pools (6.8, 6.10 and D10).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ClusterId, PoolId};
use crate::model::StoragePool;
use crate::query::{ListQuery, Page};

/// A storage pool with the bytes the inventory keeps on it (its OS files and the disks of the
/// desks built from them): the use of a simulated pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    pub pool: StoragePool,
    pub inventory_bytes: i64,
}

#[async_trait]
pub trait PoolStore: Send + Sync + 'static {
    async fn list_pools(&self, query: &ListQuery) -> Result<Page<PoolRow>>;
    /// The pools of these clusters, oldest first.
    async fn pools_of_clusters(&self, cluster_ids: &[ClusterId]) -> Result<Vec<PoolRow>>;
    async fn get_pool(&self, id: &PoolId) -> Result<Option<StoragePool>>;
    async fn create_pool(&self, p: &StoragePool) -> Result<()>;
    async fn update_pool(&self, p: &StoragePool) -> Result<bool>;
    /// `Conflict` while OS files are kept on it.
    async fn delete_pool(&self, id: &PoolId) -> Result<bool>;
}
