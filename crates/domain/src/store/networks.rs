//! Networks and their address pools (6.4 and D10).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::NetworkId;
use crate::model::Network;
use crate::query::{ListQuery, Page};

/// A network with the number of its pool's addresses given to desks.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub network: Network,
    pub ref_count: i64,
}

#[async_trait]
pub trait NetworkStore: Send + Sync + 'static {
    async fn list_networks(&self, query: &ListQuery) -> Result<Page<NetworkRow>>;
    async fn get_network(&self, id: &NetworkId) -> Result<Option<Network>>;
    /// `NotFound` for an unknown cluster; `AlreadyExists` when the name is taken.
    async fn create_network(&self, n: &Network) -> Result<()>;
    /// `Refused` when an address given to a desk would fall outside the new pool, in the same
    /// transaction as the write; false when the network is gone.
    async fn update_network(&self, n: &Network) -> Result<bool>;
    /// `Conflict` while desks or images use it; false when it is gone.
    async fn delete_network(&self, id: &NetworkId) -> Result<bool>;
}
