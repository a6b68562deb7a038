//! Compute clusters (6.5, 6.9 and D10).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::ClusterId;
use crate::model::Cluster;
use crate::query::{ListQuery, Page};

/// A cluster's hosts and what the desks placed on them use (6.5).
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeRow {
    pub cluster: Cluster,
    pub host_num: i64,
    pub total_cpu_cores: i64,
    pub total_memory_gb: i64,
    pub desk_num: i64,
    pub allocated_cpu_cores: i64,
    pub allocated_memory_gb: i64,
}

#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    async fn cluster_exists(&self, id: &ClusterId) -> Result<bool>;
    async fn list_clusters(&self, query: &ListQuery) -> Result<Page<Cluster>>;
    async fn get_cluster(&self, id: &ClusterId) -> Result<Option<Cluster>>;
    async fn compute_summary(&self, query: &ListQuery) -> Result<Page<ComputeRow>>;
    async fn create_cluster(&self, c: &Cluster) -> Result<()>;
    async fn update_cluster(&self, c: &Cluster) -> Result<bool>;
    /// → DELETING unless desks, images on its networks or OS files in its pools need it
    /// (`Conflict` naming them); nothing new may join a DELETING cluster. False when it is gone.
    async fn begin_cluster_delete(&self, id: &ClusterId) -> Result<bool>;
    /// Removes a DELETING cluster with its (empty) hosts, networks and pools; false when there
    /// is none.
    async fn remove_cluster(&self, id: &ClusterId) -> Result<bool>;
}
