//! Hosts (6.7 and D10).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::HostId;
use crate::model::Host;
use crate::query::{ListQuery, Page};

/// A host with the desks placed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRow {
    pub host: Host,
    pub allocated_cpu_cores: i64,
    pub allocated_memory_gb: i64,
    pub desk_num: i64,
}

#[async_trait]
pub trait HostStore: Send + Sync + 'static {
    async fn list_hosts(&self) -> Result<Vec<Host>>;
    async fn list_host_rows(&self, query: &ListQuery) -> Result<Page<HostRow>>;
    async fn get_host(&self, id: &HostId) -> Result<Option<Host>>;
    /// `NotFound` for an unknown cluster.
    async fn create_host(&self, h: &Host) -> Result<()>;
    /// `Refused` when the new capacity is below what its desks were promised.
    async fn update_host(&self, h: &Host) -> Result<bool>;
    /// `Conflict` while desks are placed on it.
    async fn delete_host(&self, id: &HostId) -> Result<bool>;
}
